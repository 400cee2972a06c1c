//! `/metrics` and `/readyz` through the real service on the seeded database: every family
//! with HELP and TYPE, per-model series, histograms consistent with the outcome counters,
//! every line valid exposition syntax (our parser below, and `promtool check metrics` when
//! installed, as `scripts/test` does); readiness failing once the database is closed.

use std::time::Duration;

use crate::helpers::{spawn_seeded_app, TestApp};
use exposition::{parse, Sample};

mod exposition;

const SEEDED_MODELS: [(&str, &str); 3] = [
    ("anthropic", "claude-opus-4-8"),
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-5"),
];

const FAMILIES: [(&str, &str); 15] = [
    ("modelwatch_probes_total", "counter"),
    ("modelwatch_probe_duration_seconds", "histogram"),
    ("modelwatch_probe_time_to_first_token_seconds", "histogram"),
    ("modelwatch_deliveries_total", "counter"),
    ("modelwatch_scheduler_lag_seconds", "gauge"),
    ("modelwatch_scheduler_skipped_runs_total", "counter"),
    ("modelwatch_scheduler_probes_started_total", "counter"),
    ("modelwatch_scheduler_tasks", "gauge"),
    ("modelwatch_process_start_time_seconds", "gauge"),
    ("modelwatch_model_state", "gauge"),
    ("modelwatch_model_enabled", "gauge"),
    ("modelwatch_metrics_store_read_ok", "gauge"),
    ("modelwatch_incidents_open", "gauge"),
    ("modelwatch_outbox_pending", "gauge"),
    ("modelwatch_outbox_oldest_pending_age_seconds", "gauge"),
];

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> = samples
        .iter()
        .filter(|s| s.name == name && s.has(labels))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

fn probes_of(samples: &[Sample], provider: &str, model: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == "modelwatch_probes_total")
        .filter(|s| s.has(&[("provider", provider), ("model", model)]))
        .map(|s| s.value)
        .sum()
}

/// Scrapes until every seeded model has `n` finished probes (schedules are every second).
async fn scrape_after_probes(app: &TestApp, n: f64) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.get("/metrics").await;
        assert_eq!(r.status(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let text = r.text().await.unwrap();
        let (_, samples) = parse(&text);
        if SEEDED_MODELS
            .iter()
            .all(|(p, m)| probes_of(&samples, p, m) >= n)
        {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} probes per model in time:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn metrics_expose_every_family_with_consistent_per_model_series() {
    let app = spawn_seeded_app().await;
    let text = scrape_after_probes(&app, 3.0).await;
    let (types, samples) = parse(&text);

    for (name, kind) in FAMILIES {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
    }

    for (provider, model) in SEEDED_MODELS {
        let labels = [("provider", provider), ("model", model)];
        let total = probes_of(&samples, provider, model);
        for outcome in modelwatch::vocabulary::Outcome::ALL {
            let mut with = labels.to_vec();
            with.push(("outcome", outcome.as_str()));
            value(&samples, "modelwatch_probes_total", &with);
        }
        for (family, all_probes) in [
            ("modelwatch_probe_duration_seconds", true),
            ("modelwatch_probe_time_to_first_token_seconds", false),
        ] {
            let buckets: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.name == format!("{family}_bucket") && s.has(&labels))
                .collect();
            assert!(buckets.len() > 2, "{family} {labels:?}");
            let les: Vec<f64> = buckets
                .iter()
                .map(|s| s.labels["le"].parse().unwrap())
                .collect();
            assert!(les.windows(2).all(|w| w[0] < w[1]), "{family}: {les:?}");
            assert_eq!(buckets.last().unwrap().labels["le"], "+Inf");
            let counts: Vec<f64> = buckets.iter().map(|s| s.value).collect();
            assert!(
                counts.windows(2).all(|w| w[0] <= w[1]),
                "cumulative: {counts:?}"
            );
            let count = value(&samples, &format!("{family}_count"), &labels);
            assert_eq!(*counts.last().unwrap(), count, "{family} +Inf = _count");
            let sum = value(&samples, &format!("{family}_sum"), &labels);
            assert!(
                sum >= 0.0 && (count == 0.0) == (sum == 0.0),
                "{family} sum {sum}"
            );
            if all_probes {
                assert_eq!(
                    count, total,
                    "{family}_count = probes of {provider}/{model}"
                );
            } else {
                assert!(
                    count <= total && count > 0.0,
                    "{family}: {count} of {total}"
                );
            }
        }
        let states: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == "modelwatch_model_state" && s.has(&labels))
            .collect();
        assert_eq!(states.len(), 6, "{labels:?}");
        assert_eq!(states.iter().map(|s| s.value).sum::<f64>(), 1.0);
        let enabled = value(&samples, "modelwatch_model_enabled", &labels);
        assert!(enabled == 0.0 || enabled == 1.0);
    }

    for result in ["succeeded", "failed", "dead"] {
        value(
            &samples,
            "modelwatch_deliveries_total",
            &[("result", result)],
        );
    }
    assert_eq!(
        value(&samples, "modelwatch_metrics_store_read_ok", &[]),
        1.0
    );
    assert_eq!(value(&samples, "modelwatch_scheduler_tasks", &[]), 3.0);
    assert!(value(&samples, "modelwatch_scheduler_probes_started_total", &[]) >= 9.0);
    let open: i64 = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_scalar(
        "SELECT count(*) FROM incidents WHERE resolved_at IS NULL"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    // The seeded half hour's incident is in a settled state by now; nothing opens meanwhile.
    assert_eq!(
        value(&samples, "modelwatch_incidents_open", &[]),
        open as f64
    );
    assert!(value(&samples, "modelwatch_outbox_pending", &[]) >= 0.0);
    assert!(
        value(
            &samples,
            "modelwatch_outbox_oldest_pending_age_seconds",
            &[]
        ) >= 0.0
    );
    let start = value(&samples, "modelwatch_process_start_time_seconds", &[]);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        start <= now && start > now - 600.0,
        "start {start}, now {now}"
    );

    promtool_check(&text);
    app.stop().await;
}

/// `promtool check metrics` (syntax and naming lint) when promtool is installed;
/// `scripts/test` installs it.
fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("promtool is not installed: checked with the test's own parser only");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn readyz_is_ready_until_the_database_is_closed() {
    let app = spawn_seeded_app().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready\n");
    let written: i64 = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_scalar(
        "SELECT checked_at FROM health WHERE id = 1"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    assert!(written > 0, "the readiness check writes its row");

    // Closing the service's pool makes every write fail, as a lost database would.
    app.store.sqlite_pool().close().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.starts_with("database: "), "{body}");
    assert!(
        !body.contains("scheduler:"),
        "the scheduler still runs: {body}"
    );
    // `/healthz` stays up: the process is alive, only not ready.
    assert_eq!(app.get("/healthz").await.status(), 200);
    // The service is not stopped cleanly: with its database closed it cannot write the
    // results in hand; the runtime ends with the test.
}
