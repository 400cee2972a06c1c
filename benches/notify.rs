//! Benchmarks of notification delivery, printed as a Markdown report:
//!
//! - time from an announced state change (the round's commit) to the webhook arriving at a
//!   local receiver, p50 and p99, measured twice side by side: alone, and with a second
//!   subscriber whose receiver hangs (it should change nothing);
//! - deliveries per second to local receivers (one endpoint, and eight).
//!
//! Run with `cargo bench --bench notify` (also part of `scripts/bench`). Loopback only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use modelwatch::clock::Clock;
use modelwatch::config::NotifyConfig;
use modelwatch::notify::dispatcher::Dispatcher;
use modelwatch::notify::email::Mailer;
use modelwatch::notify::secrets::{hash_token, new_id, SecretBox};
use modelwatch::notify::signing::new_secret;
use modelwatch::store::events::NewEvent;
use modelwatch::store::round::Round;
use modelwatch::store::subscriptions::NewSubscription;
use modelwatch::store::Store;
use modelwatch::vocabulary::event::{Decision, ModelChange};
use modelwatch::vocabulary::{EventBody, ModelState};
use modelwatch::vocabulary::{Filter, Format, Kind, Status};
use tokio::sync::{watch, Notify};

/// Arrival times by webhook-id.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receiver(hang: bool) -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let got = Arc::clone(&arrivals);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap| {
            let got = Arc::clone(&got);
            async move {
                if hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                got.lock().unwrap().insert(id, Instant::now());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), arrivals)
}

struct Setup {
    store: Store,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn setup(urls: &[String]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).await.unwrap();
    let secrets = SecretBox::from_key(&[9u8; 32]).unwrap();
    let config = NotifyConfig {
        allow_internal_targets: vec!["127.0.0.0/8".parse().unwrap()],
        attempt_timeout: Duration::from_secs(2),
        ..NotifyConfig::default()
    };
    for url in urls {
        let id = new_id("sub_");
        store
            .insert_subscription(&NewSubscription {
                id: id.clone(),
                kind: Kind::Webhook,
                format: Format::Native,
                url: Some(url.clone()),
                email: None,
                filter: Filter::default(),
                status: Status::Active,
                secret_enc: Some(secrets.seal(&new_secret())),
                manage_token_hash: hash_token(&id),
                confirm_token_hash: None,
                client_addr: None,
                created_at: Utc::now() - chrono::Duration::seconds(1),
            })
            .await
            .unwrap();
    }
    let mailer = Mailer::from_config(&config).unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        &config,
        secrets,
        mailer,
        "http://127.0.0.1",
        Clock::system(),
    );
    let wake = Arc::new(Notify::new());
    let (stop, stop_rx) = watch::channel(false);
    dispatcher.spawn(Arc::clone(&wake), stop_rx);
    Setup {
        store,
        wake,
        stop,
        _dir: dir,
    }
}

fn event(i: usize) -> NewEvent {
    NewEvent {
        provider_id: "p".into(),
        model_key: Some("p/m".into()),
        public: true,
        body: EventBody::ModelDisabled(ModelChange {
            model: "p/m".into(),
            model_name: "M".into(),
            provider: "p".into(),
            from: ModelState::Operational,
            to: ModelState::PartialOutage,
            decision: Decision::Disabled,
            enabled: false,
            fallback: None,
            reasons: vec![format!("event {i}")],
            manual_override: None,
            incident: None,
        }),
    }
}

/// Commits `n` events one at a time (as the evaluator would), waking the dispatcher, and
/// returns the latency of each to the healthy receiver.
async fn latencies(with_hanging: bool, n: usize) -> Vec<Duration> {
    let (healthy, arrivals) = receiver(false).await;
    let mut urls = vec![healthy];
    if with_hanging {
        urls.push(receiver(true).await.0);
    }
    let s = setup(&urls).await;
    let mut sent = Vec::new();
    for i in 0..n {
        let at = Instant::now();
        s.store
            .commit_round(&Round {
                at: Utc::now(),
                events: vec![event(i)],
                ..Round::default()
            })
            .await
            .unwrap();
        s.wake.notify_one();
        sent.push(at);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(s.store.sqlite_pool())
        .await
        .unwrap();
    let got = arrivals.lock().unwrap().clone();
    let mut out: Vec<Duration> = ids
        .iter()
        .zip(&sent)
        .filter_map(|(id, at)| {
            got.iter()
                .find(|(k, _)| k.starts_with(&format!("msg_{id}_")))
                .map(|(_, t)| t.duration_since(*at))
        })
        .collect();
    let _ = s.stop.send(true);
    out.sort();
    out
}

/// Deliveries per second: `n` events in one round to `receivers` endpoints.
async fn throughput(receivers: usize, n: usize) -> (f64, usize) {
    let mut urls = Vec::new();
    let mut all = Vec::new();
    for _ in 0..receivers {
        let (u, a) = receiver(false).await;
        urls.push(u);
        all.push(a);
    }
    let s = setup(&urls).await;
    let start = Instant::now();
    s.store
        .commit_round(&Round {
            at: Utc::now(),
            events: (0..n).map(event).collect(),
            ..Round::default()
        })
        .await
        .unwrap();
    s.wake.notify_one();
    let want = n * receivers;
    let deadline = Instant::now() + Duration::from_secs(120);
    let count = || all.iter().map(|a| a.lock().unwrap().len()).sum::<usize>();
    while count() < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = count();
    let _ = s.stop.send(true);
    (got as f64 / start.elapsed().as_secs_f64(), got)
}

fn pct(v: &[Duration], q: f64) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let i = ((q / 100.0) * v.len() as f64).ceil() as usize;
    format!(
        "{:.1} ms",
        v[i.clamp(1, v.len()) - 1].as_secs_f64() * 1000.0
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("## Notification delivery (loopback)\n");
        let n = 200;
        let alone = latencies(false, n).await;
        let with_hang = latencies(true, n).await;
        println!("| run | delivered | p50 | p99 |");
        println!("| --- | ---: | ---: | ---: |");
        println!(
            "| state change → webhook received, one healthy subscriber | {}/{n} | {} | {} |",
            alone.len(),
            pct(&alone, 50.0),
            pct(&alone, 99.0)
        );
        println!(
            "| same, plus a subscriber whose receiver hangs | {}/{n} | {} | {} |",
            with_hang.len(),
            pct(&with_hang, 50.0),
            pct(&with_hang, 99.0)
        );
        println!();
        println!("| deliveries per second | events | receivers | delivered | per second |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for receivers in [1, 8] {
            let events = 1000;
            let (rate, got) = throughput(receivers, events).await;
            println!("| burst in one round | {events} | {receivers} | {got} | {rate:.0} |");
        }
    });
}
