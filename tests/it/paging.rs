//! Paging the on-call: PagerDuty Events v2 and chat webhooks, against local receivers, with
//! explicit times; and the `[paging]` configuration's errors.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use modelwatch::config::{
    Config, NotifyConfig, PagerDutyChannel, PagingConfig, PagingWebhook, Secret,
};
use modelwatch::evaluate::incidents::{IncidentAction, IncidentStatus};
use modelwatch::notify::paging::{Action, Pager};
use modelwatch::store::incident_ops::NewIncident;
use modelwatch::store::round::Round;
use modelwatch::store::Store;
use modelwatch::vocabulary::Format;

use super::helpers::spawn_server;

type Bodies = Arc<Mutex<Vec<Value>>>;

/// A receiver recording every JSON body it is sent, answering `202` as PagerDuty does.
async fn receiver() -> (SocketAddr, Bodies) {
    let bodies: Bodies = Arc::default();
    let seen = Arc::clone(&bodies);
    let router = Router::new().fallback(move |body: Bytes| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            (axum::http::StatusCode::ACCEPTED, "{\"status\":\"success\"}")
        }
    });
    (spawn_server(router).await, bodies)
}

fn take(bodies: &Bodies) -> Vec<Value> {
    std::mem::take(&mut *bodies.lock().unwrap())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(m)
}

struct Setup {
    store: Store,
    pager: Pager,
    pd: Bodies,
    slack: Bodies,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "paging.db").await)
            .await;
    let (pd_addr, pd) = receiver().await;
    let (slack_addr, slack) = receiver().await;
    let paging = PagingConfig {
        enabled: true,
        pagerduty: Some(PagerDutyChannel {
            routing_key: Secret::new("R0UTINGKEY"),
            url: format!("http://{pd_addr}/v2/enqueue"),
        }),
        webhooks: vec![PagingWebhook {
            url: format!("http://{slack_addr}/services/T/B/X"),
            format: Format::Slack,
        }],
        repage_after: Duration::from_secs(15 * 60),
    };
    let notify = NotifyConfig {
        allow_internal_targets: vec!["127.0.0.0/8".parse().unwrap()],
        ..NotifyConfig::default()
    };
    let pager = Pager::new(
        store.clone(),
        &paging,
        &notify,
        "https://status.example.com",
    );
    Setup {
        store,
        pager,
        pd,
        slack,
        _dir: dir,
    }
}

/// Opens an automatic incident as the evaluator does; returns its id.
async fn open_automatic(store: &Store, at: DateTime<Utc>) -> i64 {
    let affected: BTreeSet<String> = ["anthropic/claude-opus-4-8".to_string()].into();
    store
        .commit_round(&Round {
            at,
            incidents: vec![(
                "anthropic".into(),
                IncidentAction::Open {
                    title: "Anthropic: elevated errors".into(),
                    impact: "major",
                    affected,
                    body: "Claude Opus 4.8 is failing 59% of requests.".into(),
                },
            )],
            ..Round::default()
        })
        .await
        .unwrap();
    let open = store.open_incidents().await.unwrap();
    open.last().unwrap().1.id
}

async fn resolve_automatic(store: &Store, id: i64, at: DateTime<Utc>) {
    store
        .commit_round(&Round {
            at,
            incidents: vec![(
                "anthropic".into(),
                IncidentAction::Resolve {
                    id,
                    from: modelwatch::evaluate::incidents::IncidentStatus::Investigating,
                    body: "Recovered.".into(),
                },
            )],
            ..Round::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_automatic_incident_is_paged_repaged_acknowledged_and_resolved_once_each() {
    let s = setup().await;
    let id = open_automatic(&s.store, t0()).await;

    // First pass: one trigger per channel.
    let report = s.pager.run_once(minutes(0)).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.sent.len(), 2, "{report:?}");
    let pd = take(&s.pd);
    assert_eq!(pd.len(), 1, "{pd:?}");
    let trigger = &pd[0];
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], "R0UTINGKEY");
    assert_eq!(trigger["dedup_key"], format!("modelwatch/incident/{id}"));
    assert_eq!(trigger["payload"]["summary"], "Anthropic: elevated errors");
    assert_eq!(trigger["payload"]["severity"], "error");
    assert_eq!(trigger["payload"]["source"], "modelwatch");
    assert_eq!(
        trigger["payload"]["custom_details"]["affected_models"],
        serde_json::json!(["anthropic/claude-opus-4-8"])
    );
    assert_eq!(
        trigger["payload"]["custom_details"]["latest_update"]["body"],
        "Claude Opus 4.8 is failing 59% of requests."
    );
    let slack = take(&s.slack);
    assert_eq!(slack.len(), 1, "{slack:?}");
    let text = slack[0]["text"].as_str().unwrap();
    assert!(text.contains("Anthropic: elevated errors"), "{text}");

    // A minute later: nothing is due.
    let report = s.pager.run_once(minutes(1)).await.unwrap();
    assert_eq!(report.sent, vec![]);
    assert!(take(&s.pd).is_empty() && take(&s.slack).is_empty());

    // `repage_after` after the page, still unacknowledged: paged again on every channel.
    let report = s.pager.run_once(minutes(15)).await.unwrap();
    assert_eq!(report.sent.len(), 2, "{report:?}");
    assert!(report.sent.iter().all(|(_, _, a)| *a == Action::Repage));
    let pd = take(&s.pd);
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["dedup_key"], format!("modelwatch/incident/{id}"));
    let slack = take(&s.slack);
    assert_eq!(slack.len(), 1);
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .contains("Still unacknowledged"),
        "{}",
        slack[0]
    );
    let count: i64 = modelwatch::on_db!(s.store.pool(), |db| sqlx::query_scalar(
        "SELECT count FROM pages WHERE incident_id = $1 AND channel = 'pagerduty'",
    )
    .bind(id)
    .fetch_one(db)
    .await)
    .unwrap();
    assert_eq!(count, 2);
    assert!(s.pager.run_once(minutes(20)).await.unwrap().sent.is_empty());

    // Acknowledged here: PagerDuty is told once, and re-paging stops.
    s.store
        .acknowledge_incident(id, "sre@example.com", minutes(21))
        .await
        .unwrap();
    s.pager.run_once(minutes(22)).await.unwrap();
    let pd = take(&s.pd);
    assert_eq!(pd.len(), 1, "{pd:?}");
    assert_eq!(
        pd[0],
        serde_json::json!({"routing_key": "R0UTINGKEY", "event_action": "acknowledge", "dedup_key": format!("modelwatch/incident/{id}")})
    );
    assert!(take(&s.slack).is_empty(), "chat has no acknowledgement");
    s.pager.run_once(minutes(60)).await.unwrap();
    assert!(take(&s.pd).is_empty() && take(&s.slack).is_empty());

    // Resolved: `resolve` once, and a resolved message to chat, once.
    resolve_automatic(&s.store, id, minutes(61)).await;
    s.pager.run_once(minutes(62)).await.unwrap();
    let pd = take(&s.pd);
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["event_action"], "resolve");
    assert_eq!(pd[0]["dedup_key"], format!("modelwatch/incident/{id}"));
    let slack = take(&s.slack);
    assert_eq!(slack.len(), 1);
    assert!(slack[0]["text"].as_str().unwrap().contains("resolved"));
    s.pager.run_once(minutes(63)).await.unwrap();
    s.pager.run_once(minutes(120)).await.unwrap();
    assert!(take(&s.pd).is_empty() && take(&s.slack).is_empty());
}

#[tokio::test]
async fn incidents_opened_by_hand_are_not_paged() {
    let s = setup().await;
    s.store
        .open_incident_by_hand(
            &NewIncident {
                provider_id: "anthropic".into(),
                title: "Opened by an SRE".into(),
                impact: "major".into(),
                affected: BTreeSet::new(),
                status: IncidentStatus::Investigating,
                body: "Looking into it.".into(),
                notify: false,
            },
            t0(),
        )
        .await
        .unwrap();
    let report = s.pager.run_once(minutes(0)).await.unwrap();
    assert!(
        report.sent.is_empty() && report.failed.is_empty(),
        "{report:?}"
    );
    s.pager.run_once(minutes(30)).await.unwrap();
    assert!(take(&s.pd).is_empty() && take(&s.slack).is_empty());
}

#[tokio::test]
async fn a_failed_page_is_retried_at_the_next_pass() {
    let s = setup().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let paging = PagingConfig {
        enabled: true,
        pagerduty: Some(PagerDutyChannel {
            routing_key: Secret::new("K"),
            url: format!("http://{dead}/v2/enqueue"),
        }),
        webhooks: Vec::new(),
        repage_after: Duration::from_secs(900),
    };
    let notify = NotifyConfig {
        allow_internal_targets: vec!["127.0.0.0/8".parse().unwrap()],
        attempt_timeout: Duration::from_secs(2),
        ..NotifyConfig::default()
    };
    let failing = Pager::new(s.store.clone(), &paging, &notify, "");
    open_automatic(&s.store, t0()).await;
    let report = failing.run_once(minutes(0)).await.unwrap();
    assert_eq!(report.sent, vec![]);
    assert_eq!(report.failed.len(), 1);
    // Nothing was recorded, so the page is still due and tried again at the next pass.
    assert_eq!(failing.run_once(minutes(0)).await.unwrap().failed.len(), 1);
    let pages: i64 = modelwatch::on_db!(s.store.pool(), |db| sqlx::query_scalar(
        "SELECT COUNT(*) FROM pages"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    assert_eq!(pages, 0);
}

#[tokio::test]
async fn without_the_ssrf_allowance_a_loopback_channel_is_refused() {
    let s = setup().await;
    let (addr, bodies) = receiver().await;
    let paging = PagingConfig {
        enabled: true,
        pagerduty: None,
        webhooks: vec![PagingWebhook {
            url: format!("http://{addr}/hook"),
            format: Format::Native,
        }],
        repage_after: Duration::from_secs(900),
    };
    let pager = Pager::new(s.store.clone(), &paging, &NotifyConfig::default(), "");
    open_automatic(&s.store, t0()).await;
    let report = pager.run_once(minutes(0)).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(take(&bodies).is_empty());
}

// ---- configuration ----

const PROVIDERS: &str = r#"
[[providers]]
id = "sim"
name = "Sim"
kind = "simulated"
models = [{ id = "m", name = "M" }]
"#;

fn parse(paging: &str, env: &[(&str, &str)]) -> Result<Config, String> {
    let text = format!("{paging}\n{PROVIDERS}");
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::parse(&text, Path::new("conf/test.toml"), &move |name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .map_err(|e| e.to_string())
}

#[test]
fn paging_config_parses_with_defaults() {
    let c = parse(
        r#"
[paging]
pagerduty_routing_key_env = "PD_KEY"
webhooks = [{ url = "https://hooks.slack.com/services/T/B/X", format = "slack" }]
repage_after = "20m"
"#,
        &[("PD_KEY", "abc123routing")],
    )
    .unwrap();
    let p = &c.paging;
    assert!(p.enabled);
    let pd = p.pagerduty.as_ref().unwrap();
    assert_eq!(pd.routing_key.expose(), "abc123routing");
    assert_eq!(pd.url, "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(p.webhooks[0].format, Format::Slack);
    assert_eq!(p.repage_after, Duration::from_secs(1200));
    assert!(
        !format!("{c:?}").contains("abc123routing"),
        "the key stays secret"
    );

    let none = parse("", &[]).unwrap();
    assert!(!none.paging.enabled && !none.paging.has_channels());
    assert_eq!(none.paging.repage_after, Duration::from_secs(900));
    let off = parse(
        "[paging]\nenabled = false\nwebhooks = [{ url = \"https://example.com/h\" }]\n",
        &[],
    )
    .unwrap();
    assert!(!off.paging.enabled);
    assert_eq!(off.paging.webhooks[0].format, Format::Native);
}

#[test]
fn paging_config_errors_name_the_file_and_line() {
    let e = parse(
        "[paging]\nrepage_after = \"15m\"\npagerduty_routing_key_env = \"PD_KEY\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("conf/test.toml:3:") && e.contains("PD_KEY") && e.contains("not set"),
        "{e}"
    );
    let e = parse("[paging]\npager_duty_key = \"x\"\n", &[]).unwrap_err();
    assert!(
        e.contains("conf/test.toml:2:") && e.contains("pager_duty_key"),
        "{e}"
    );
    let e = parse(
        "[paging]\nwebhooks = [\n  { url = \"https://example.com/h\", format = \"pagerduty\" },\n]\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("conf/test.toml:3:") && e.contains("format"),
        "{e}"
    );
    let e = parse(
        "[paging]\nwebhooks = [{ url = \"ftp://x\" }]\nrepage_after = \"soon\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("conf/test.toml:2:") && e.contains("http(s)"),
        "{e}"
    );
    assert!(
        e.contains("conf/test.toml:3:") && e.contains("repage_after"),
        "{e}"
    );
}
