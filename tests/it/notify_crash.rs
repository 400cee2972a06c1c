//! At-least-once delivery across a crash: a burst of events, the real binary killed with
//! SIGKILL mid-delivery and restarted; every event reaches every matching subscriber, and
//! duplicates only ever repeat a `webhook-id` with the same body.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use modelwatch::store::round::Round;
use modelwatch::store::Store;
use serde_json::{json, Value};

use crate::helpers::spawn_server;

const BIN: &str = env!("CARGO_BIN_EXE_modelwatch");

fn start(config: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the service answers; generous, as a process starting (and recovering its
/// database) on a loaded machine can be slow.
async fn wait_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the service did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigkill_mid_delivery_loses_nothing() {
    // A slow receiver, so deliveries are in flight when the process is killed.
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let store_got = Arc::clone(&got);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let got = Arc::clone(&store_got);
            async move {
                tokio::time::sleep(Duration::from_millis(40)).await;
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                got.lock().unwrap().push((id, body));
                "ok"
            }
        }),
    );
    let hook = format!("http://{}/hook", spawn_server(app).await);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let config = dir.path().join("crash.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &config,
        format!(
            "[server]\ndatabase = \"{}\"\n[notify]\nallow_internal_targets = [\"127.0.0.0/8\"]\n\
             [[providers]]\nid = \"p\"\nkind = \"simulated\"\nschedule = \"0 0 0 1 1 *\"\nmodels = [ {{ id = \"a\" }}, {{ id = \"b\" }} ]\n",
            db.display()
        ),
    )
    .unwrap();

    let mut first = start(&config, port);
    wait_up(port).await;
    let client = reqwest::Client::new();
    let mut subscribers = Vec::new();
    for body in [
        json!({"kind": "webhook", "url": hook}),
        json!({"kind": "webhook", "url": hook, "models": ["p/a"]}),
    ] {
        let r = client
            .post(format!("http://127.0.0.1:{port}/api/v1/subscriptions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        subscribers.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    // The burst: 40 public events, half about each model.
    let store = Store::open(&db).await.unwrap();
    let events: Vec<modelwatch::store::events::NewEvent> = (0..40)
        .map(|i| {
            let model = if i % 2 == 0 { "p/a" } else { "p/b" };
            crate::helpers::model_event(
                "model.state_changed",
                model,
                model,
                "partial_outage",
                None,
                &[&format!("change {i}")],
            )
        })
        .collect();
    store
        .commit_round(&Round {
            at: chrono::Utc::now(),
            events,
            ..Round::default()
        })
        .await
        .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM events WHERE public = 1 ORDER BY id")
        .fetch_all(store.sqlite_pool())
        .await
        .unwrap();

    // Kill it once some, but not all, deliveries arrived.
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.lock().unwrap().len() < 8 {
        assert!(Instant::now() < deadline, "no deliveries before the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before_restart = got.lock().unwrap().len();
    assert!(
        before_restart < 60,
        "the kill came after everything was delivered ({before_restart})"
    );

    let mut second = start(&config, port);
    wait_up(port).await;
    let expected: BTreeSet<String> = ids
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            let mut for_event = vec![format!("msg_{e}_{}", subscribers[0])];
            if i % 2 == 0 {
                for_event.push(format!("msg_{e}_{}", subscribers[1]));
            }
            for_event
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: BTreeSet<String> = got
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        if expected.is_subset(&seen) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "missing after restart: {:?}",
            expected.difference(&seen).take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();

    let all = got.lock().unwrap().clone();
    let mut bodies: BTreeMap<String, String> = BTreeMap::new();
    for (id, body) in &all {
        assert!(expected.contains(id), "unexpected delivery {id}");
        let previous = bodies.entry(id.clone()).or_insert_with(|| body.clone());
        assert_eq!(
            previous, body,
            "a duplicate of {id} must carry the same body"
        );
    }
    assert_eq!(
        bodies.len(),
        expected.len(),
        "every event reached every matching subscriber exactly by id"
    );
    eprintln!(
        "{} deliveries for {} (event, subscriber) pairs; {} arrived before the kill",
        all.len(),
        expected.len(),
        before_restart
    );
}
