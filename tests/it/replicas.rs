//! Two `serve` replicas on one PostgreSQL database, as real processes: one leads, the other
//! serves what the leader decides (and refuses the traffic only the leader judges), and
//! takes over within seconds when the leader is killed with SIGKILL in the middle of an
//! incident and of a burst of webhook deliveries.
//!
//! Runs in the PostgreSQL pass of `scripts/test` (a bare `cargo test` has no server).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::{json, Value};

use crate::helpers::{
    free_port, fresh_database, open_store, spawn_server, test_postgres, TEST_KEY_ENV,
};

const BIN: &str = env!("CARGO_BIN_EXE_modelwatch");
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A replica process, killed (SIGKILL) when dropped.
struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(config: &std::path::Path, log: std::path::PathBuf) -> Replica {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env(TEST_KEY_ENV, KEY)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    // Owned at once, so a replica that never answers is still killed (on drop).
    let replica = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/healthz", replica.base)).send().await {
            if r.status().is_success() {
                return replica;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("replica on {} never answered", replica.base);
}

/// `Some(true)` when the replica says it leads, `Some(false)` for a standby, `None` when it
/// does not answer.
async fn leads(client: &reqwest::Client, base: &str) -> Option<bool> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("modelwatch_leader "))
        .map(|v| v.trim() == "1")
}

/// The routing row of `acme/big`, and the answer's status.
async fn big(client: &reqwest::Client, base: &str) -> (u16, Option<Value>) {
    match client.get(format!("{base}/api/v1/routing")).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let row = body["models"]
                .as_array()
                .and_then(|m| m.iter().find(|r| r["id"] == "acme/big").cloned());
            (status, row)
        }
        Err(_) => (0, None),
    }
}

#[tokio::test]
async fn a_standby_takes_over_when_the_leader_is_killed_during_an_incident() {
    if test_postgres().is_none() {
        eprintln!("MODELWATCH_TEST_POSTGRES is not set: replicas need a PostgreSQL server");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database(dir.path(), "unused.db").await;

    // A webhook receiver that answers after two seconds, so deliveries are in flight when
    // the leader dies. A delivery counts as received once answered.
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let log = Arc::clone(&received);
    let arrivals = Arc::clone(&arrived);
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let log = Arc::clone(&log);
            arrivals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let kind = event["type"].as_str().unwrap_or_default().to_string();
                log.lock().unwrap().push((id, kind));
                "ok"
            }
        }),
    );
    let hook = format!("http://{}/hook", spawn_server(receiver).await);

    // `big` is hard down from 8 s to 38 s after each replica's start (the simulated
    // provider counts from its own process's start).
    let config = dir.path().join("modelwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndatabase = \"{database}\"\n\
             [notify]\nsecret_key_env = \"{TEST_KEY_ENV}\"\nallow_internal_targets = [\"127.0.0.0/8\"]\n\
             [[providers]]\nid = \"acme\"\nkind = \"simulated\"\nschedule = \"* * * * * *\"\n\
             simulate = {{ ttft = \"50ms\", jitter = \"10ms\" }}\n\
             models = [ {{ id = \"big\", fallback = [\"small\"], simulate = {{ faults = [ {{ after = \"8s\", duration = \"30s\", error_rate = 1.0 }} ] }} }}, {{ id = \"small\" }} ]\n"
        ),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let mut first = start(&config, dir.path().join("first.log")).await;
    let second = start(&config, dir.path().join("second.log")).await;
    assert_eq!(
        leads(&client, &first.base).await,
        Some(true),
        "the first replica leads"
    );
    assert_eq!(
        leads(&client, &second.base).await,
        Some(false),
        "the second waits"
    );

    // Subscriptions are written through the standby: every replica writes to one database.
    for _ in 0..3 {
        let r = client
            .post(format!("{}/api/v1/subscriptions", second.base))
            .json(&json!({"kind": "webhook", "url": hook, "models": ["acme/big"], "events": ["model.disabled", "model.restored"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    // Only the leader judges traffic: a standby refuses a batch whole, to be sent again.
    let ingest = Command::new(BIN)
        .args([
            "token", "create", "--scope", "ingest", "--name", "app", "--config",
        ])
        .arg(&config)
        .env(TEST_KEY_ENV, KEY)
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{ingest:?}");
    let ingest = String::from_utf8(ingest.stdout).unwrap().trim().to_string();
    let batch = json!([{"model": "acme/small", "outcome": "ok", "ttft_ms": 300, "total_ms": 900, "source": "app"}]);
    let refused = client
        .post(format!("{}/api/v1/observations", second.base))
        .bearer_auth(&ingest)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(refused.text().await.unwrap().contains("standby"));
    // A region's table is the leader's too: a standby refuses it rather than answering
    // with the table for everyone.
    let regional = client
        .get(format!("{}/api/v1/routing?region=eu-west", second.base))
        .send()
        .await
        .unwrap();
    assert_eq!(regional.status(), 503);
    assert_eq!(regional.headers()["retry-after"], "1");
    let text = regional.text().await.unwrap();
    assert!(
        text.contains("standby") && text.contains("region"),
        "{text}"
    );
    let everyone = client
        .get(format!("{}/api/v1/routing", second.base))
        .send()
        .await
        .unwrap();
    assert_eq!(everyone.status(), 200);
    let accepted = client
        .post(format!("{}/api/v1/observations", first.base))
        .bearer_auth(&ingest)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200, "{}", accepted.text().await.unwrap());

    // The incident: the leader disables `big` and starts delivering the disable; it is
    // killed as soon as the first delivery reaches the (slow) receiver.
    for _ in 0..2000 {
        if arrived.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let in_flight =
        arrived.load(std::sync::atomic::Ordering::SeqCst) - received.lock().unwrap().len();
    assert!(in_flight > 0, "the kill must come during a delivery");
    first.child.kill().unwrap();
    let _ = first.child.wait();
    let killed = Instant::now();

    // The standby keeps answering and takes over.
    let mut failed_answers = 0;
    let mut answers = 0;
    let mut took_over = None;
    while killed.elapsed() < Duration::from_secs(30) {
        let (status, row) = big(&client, &second.base).await;
        answers += 1;
        if status != 200 || row.is_none() {
            failed_answers += 1;
        }
        if leads(&client, &second.base).await == Some(true) {
            took_over = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = took_over.expect("the standby never took over");
    assert_eq!(
        failed_answers, 0,
        "the routing table must be served throughout"
    );
    assert!(
        took_over < Duration::from_secs(5),
        "took over after {took_over:?}"
    );
    // The standby served the leader's decision through the gap, and as the new leader keeps
    // it, then restores `big` once its fault ends.
    let (_, row) = big(&client, &second.base).await;
    assert_eq!(
        row.unwrap()["enabled"],
        false,
        "the decision survives the takeover"
    );
    let mut restored = false;
    for _ in 0..900 {
        if big(&client, &second.base)
            .await
            .1
            .is_some_and(|r| r["enabled"] == true)
        {
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(restored, "the new leader never restored big");

    // Every delivery arrives at least once; each event was announced once.
    let store = open_store(&database).await;
    let events: Vec<(i64, String)> = modelwatch::on_db!(store.pool(), |db| sqlx::query_as(
        "SELECT id, type FROM events WHERE model_key = 'acme/big' \
         AND type IN ('model.disabled', 'model.restored') ORDER BY id"
    )
    .fetch_all(db)
    .await)
    .unwrap();
    let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["model.disabled", "model.restored"],
        "one disable and one restore, none announced twice"
    );
    let mut pending = 0;
    for _ in 0..300 {
        pending = modelwatch::on_db!(store.pool(), |db| sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM deliveries WHERE status <> 'succeeded'"
        )
        .fetch_one(db)
        .await)
        .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "every delivery succeeds");
    let expected: Vec<String> = modelwatch::on_db!(store.pool(), |db| sqlx::query_scalar(
        "SELECT message_id FROM deliveries ORDER BY message_id"
    )
    .fetch_all(db)
    .await)
    .unwrap();
    assert!(
        expected.len() >= 6,
        "2 events x 3 subscriptions: {expected:?}"
    );
    let got = received.lock().unwrap().clone();
    let mut ids: Vec<String> = got.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    let received_total = ids.len();
    ids.dedup();
    assert_eq!(ids, expected, "every message arrived (at least once)");
    eprintln!(
        "failover: the standby led {:.1} s after the leader was killed; {answers} routing answers meanwhile, all 200; \
         {in_flight} deliveries were in flight at the kill; {} messages arrived {} times in all ({} repeated)",
        took_over.as_secs_f64(),
        expected.len(),
        received_total,
        received_total - expected.len()
    );
    drop(second);
}

/// The standby's table ([`modelwatch::replica::mirror::read_table`]) is the leader's: read
/// from what the evaluator stored, it gives every model the state, decision, fallback and
/// reason the leader serves, an override included. Runs on SQLite, and on PostgreSQL in
/// that pass.
#[tokio::test]
async fn a_standbys_table_read_from_the_database_is_the_leaders() {
    use crate::helpers::{config_from, spawn_seeded_app, SEEDED_PROVIDERS};
    let app = spawn_seeded_app().await;
    let config = config_from(SEEDED_PROVIDERS, &[]);
    let rows = |table: &Value| -> Vec<Value> {
        table["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                json!([
                    m["id"],
                    m["state"],
                    m["enabled"],
                    m["fallback"],
                    m["reason"],
                    m["since"]
                ])
            })
            .collect()
    };
    let standby = async || {
        let table =
            modelwatch::replica::mirror::read_table(&app.store, &config, chrono::Utc::now())
                .await
                .unwrap();
        serde_json::to_value(&table).unwrap()
    };
    let leader = app.get_json("/api/v1/routing").await;
    assert_eq!(rows(&standby().await), rows(&leader));
    assert_eq!(rows(&leader).len(), 3);

    // An override the leader applies reads the same on a standby.
    app.store
        .create_override(
            &modelwatch::store::overrides::NewOverride {
                model_key: "openai/gpt-5".into(),
                enabled: false,
                reason: "provider asked us to stop".into(),
                created_by: "test".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let mut leader = Value::Null;
    for _ in 0..50 {
        leader = app.get_json("/api/v1/routing").await;
        if leader.to_string().contains("provider asked us to stop") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        leader.to_string().contains("provider asked us to stop"),
        "{leader}"
    );
    assert_eq!(rows(&standby().await), rows(&leader));
    app.stop().await;
}

/// A leader that can no longer prove it holds the lock (here its session is ended from
/// outside, as a server restart or a broken connection would) stops leading at once and
/// exits with an error, for its supervisor to restart it as a standby.
#[tokio::test]
async fn a_leader_that_loses_its_lock_stops_and_exits_with_an_error() {
    if test_postgres().is_none() {
        eprintln!("MODELWATCH_TEST_POSTGRES is not set: replicas need a PostgreSQL server");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database(dir.path(), "unused.db").await;
    let config = dir.path().join("modelwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndatabase = \"{database}\"\n[notify]\nsecret_key_env = \"{TEST_KEY_ENV}\"\n\
             [[providers]]\nid = \"acme\"\nkind = \"simulated\"\nschedule = \"* * * * * *\"\n\
             models = [ {{ id = \"big\" }} ]\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("leader.log");
    let mut leader = start(&config, log.clone()).await;
    let client = reqwest::Client::new();
    assert_eq!(leads(&client, &leader.base).await, Some(true));
    let store = open_store(&database).await;
    let ended: Vec<bool> = modelwatch::on_db!(store.pool(), |db| {
        // pg_locks spans the whole server: only this test's database, or the session of a
        // leader of another test running beside it would be ended too.
        sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    .fetch_all(db)
    .await
    })
    .unwrap();
    assert_eq!(ended, [true], "one session held the lock");
    let lost = Instant::now();
    let status = loop {
        if let Some(status) = leader.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            lost.elapsed() < Duration::from_secs(15),
            "the leader kept running without its lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("lost the leader lock"), "{text}");
    eprintln!(
        "the leader exited {:.2} s after its lock session ended",
        lost.elapsed().as_secs_f64()
    );
}
