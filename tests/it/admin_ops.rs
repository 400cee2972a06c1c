//! SRE operations: overrides and maintenance windows driven through the engine in simulated
//! time (explicit `now`, no sleeps), and their admin API through the real server.

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use modelwatch::config::Config;
use modelwatch::evaluate::engine::{Engine, Route};
use modelwatch::store::maintenances::NewMaintenance;
use modelwatch::store::overrides::NewOverride;
use modelwatch::store::Store;
use modelwatch::vocabulary::ModelState;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{config_from, simulate_second, spawn_seeded_app};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn at(s: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(s)
}

struct Sim {
    config: Config,
    store: Store,
    engine: Engine,
    _dir: tempfile::TempDir,
}

impl Sim {
    async fn new(toml: &str) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let config = config_from(toml, &[]);
        let store =
            crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "ops.db").await)
                .await;
        let engine = Engine::new(store.clone(), &config, t0()).await.unwrap();
        Sim {
            config,
            store,
            engine,
            _dir: dir,
        }
    }

    /// One probe per model per second of `[from, to)`, the engine run after each second.
    async fn run(&mut self, from: i64, to: i64) {
        for s in from..to {
            simulate_second(&self.config, &self.store, &mut self.engine, t0(), s).await;
        }
    }

    fn route(&self, id: &str) -> Route {
        let table = self.engine.subscribe().borrow().clone();
        table.models.iter().find(|r| r.id == id).unwrap().clone()
    }

    /// Every event as (type, model key).
    async fn events(&self) -> Vec<(String, Option<String>)> {
        self.store
            .events_after(0, 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.model_key))
            .collect()
    }

    async fn count(&self, kind: &str) -> usize {
        self.events()
            .await
            .iter()
            .filter(|(k, _)| k == kind)
            .count()
    }
}

const HEALTHY: &str = r#"
[[providers]]
id = "acme"
kind = "simulated"
schedule = "* * * * * *"
simulate = { ttft = "500ms", jitter = "100ms", error_rate = 0.0 }
models = [ { id = "big", fallback = ["small"] }, { id = "small" } ]
"#;

#[tokio::test]
async fn an_override_applies_to_routing_and_expires_by_itself_in_simulated_time() {
    let mut sim = Sim::new(HEALTHY).await;
    sim.run(0, 120).await;
    let before = sim.route("acme/big");
    assert_eq!(before.state, ModelState::Operational);
    assert!(before.enabled);

    let id = sim
        .store
        .create_override(
            &NewOverride {
                model_key: "acme/big".into(),
                enabled: false,
                reason: "provider announced a bad deploy".into(),
                created_by: "alice@x".into(),
                expires_at: at(300),
            },
            at(120),
        )
        .await
        .unwrap();
    sim.run(120, 200).await;
    let forced = sim.route("acme/big");
    assert!(!forced.enabled, "{forced:?}");
    // The state stays what the evidence says; decision and reason come from the override.
    assert_eq!(forced.state, ModelState::Operational);
    assert!(
        forced
            .reason
            .starts_with("manual override: provider announced a bad deploy (until "),
        "{}",
        forced.reason
    );
    // Who set it is for SREs: the public reason and the announced event never name them.
    let announced = sim.store.events_after(0, 100_000).await.unwrap();
    let disabled = announced
        .iter()
        .find(|e| e.kind == "model.disabled")
        .unwrap();
    assert!(
        disabled
            .payload_json
            .contains("provider announced a bad deploy")
            && !disabled.payload_json.contains("alice@x"),
        "{}",
        disabled.payload_json
    );
    assert_eq!(forced.fallback.as_deref(), Some("acme/small"));
    assert_eq!(sim.count("model.disabled").await, 1);
    let listed = sim.store.list_overrides(10, at(200)).await.unwrap();
    assert!(listed[0].active && listed[0].id == id);

    // Expiry at 300s of simulated time: the engine ends it itself and announces the flip.
    sim.run(200, 299).await;
    assert!(!sim.route("acme/big").enabled);
    sim.run(299, 320).await;
    let after = sim.route("acme/big");
    assert!(after.enabled, "{after:?}");
    assert!(!after.reason.contains("override"), "{}", after.reason);
    assert_eq!(after.fallback, None);
    assert_eq!(sim.count("model.restored").await, 1);
    let listed = sim.store.list_overrides(10, at(320)).await.unwrap();
    assert!(!listed[0].active);
    assert_eq!(
        listed[0].ended_at.map(|t| (t - t0()).num_seconds()),
        Some(300)
    );
    // Announced events go through the outbox.
    let (outbox,): (i64,) = modelwatch::on_db!(sim.store.pool(), |db| sqlx::query_as(
        "SELECT count(*) FROM outbox o JOIN events e ON e.id = o.event_id WHERE e.type IN ('model.disabled', 'model.restored')",
    )
    .fetch_one(db).await)
    .unwrap();
    assert_eq!(outbox, 2);
}

/// `acme/big` fails every probe between 600s and 900s; healthy before and after.
const FAILING: &str = r#"
[[providers]]
id = "acme"
kind = "simulated"
schedule = "* * * * * *"
simulate = { ttft = "500ms", jitter = "100ms", error_rate = 0.0 }
models = [
  { id = "big", fallback = ["small"], simulate = { faults = [ { after = "600s", duration = "300s", error_rate = 1.0, error_mix = { overloaded = 1 } } ] } },
  { id = "small" },
]
"#;

#[tokio::test]
async fn a_maintenance_window_silences_the_evaluator() {
    let mut sim = Sim::new(FAILING).await;
    sim.run(0, 300).await;
    sim.store
        .create_maintenance(
            &NewMaintenance {
                title: "Database upgrade".into(),
                body: "Expect errors.".into(),
                models: vec!["acme/big".into()],
                starts_at: at(590),
                ends_at: at(1000),
                created_by: "alice@x".into(),
            },
            at(300),
        )
        .await
        .unwrap();
    assert_eq!(sim.count("maintenance.scheduled").await, 1);
    sim.run(300, 589).await;
    assert_eq!(sim.route("acme/big").state, ModelState::Operational);
    assert_eq!(sim.count("maintenance.started").await, 0);

    sim.run(589, 999).await;
    let inside = sim.route("acme/big");
    assert_eq!(inside.state, ModelState::UnderMaintenance, "{inside:?}");
    assert!(
        inside.reason.contains("Database upgrade"),
        "{}",
        inside.reason
    );
    assert_eq!(sim.count("maintenance.started").await, 1);
    assert_eq!(sim.count("maintenance.completed").await, 0);
    assert_eq!(sim.count("incident.created").await, 0);
    // The decision flipped, so programs following `model.disabled` hear of it, with the
    // maintenance as its reason rather than the failures.
    assert!(!inside.enabled);
    assert_eq!(sim.count("model.disabled").await, 1);
    let events = sim.store.events_after(0, 100_000).await.unwrap();
    let disabled = events.iter().find(|e| e.kind == "model.disabled").unwrap();
    assert!(
        disabled.payload_json.contains("Database upgrade"),
        "{}",
        disabled.payload_json
    );
    assert!(sim.store.open_incidents().await.unwrap().is_empty());

    // After the window: back to evidence-based evaluation (healthy again since 900s).
    sim.run(999, 1100).await;
    assert_eq!(sim.count("maintenance.completed").await, 1);
    let after = sim.route("acme/big");
    assert_eq!(after.state, ModelState::Operational, "{after:?}");
    assert!(after.enabled);
    assert_eq!(sim.count("incident.created").await, 0);
    assert_eq!(sim.count("model.disabled").await, 1);
    assert_eq!(sim.count("model.restored").await, 1);
    assert!(sim.store.open_maintenances().await.unwrap().is_empty());
    let (outbox,): (i64,) = modelwatch::on_db!(sim.store.pool(), |db| sqlx::query_as(
        "SELECT count(*) FROM outbox o JOIN events e ON e.id = o.event_id WHERE e.type LIKE 'maintenance.%'",
    )
    .fetch_one(db).await)
    .unwrap();
    assert_eq!(outbox, 3);
}

async fn token(store: &Store, scope: Scope) -> String {
    let (_, secret) = tokens::create(store, scope, "ops-test", &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    secret.expose().to_string()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, url).bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `/api/v1/routing` until `model`'s route satisfies `pred` (the engine ticks each second).
///
/// The engine is a background task on the real clock; on a loaded machine a tick can come
/// late, so the deadline is generous while the polling stays quick.
async fn wait_route(
    app: &crate::helpers::TestApp,
    model: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let body = app.get_json("/api/v1/routing").await;
        if let Some(r) = body["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == model)
        {
            if pred(r) {
                return r.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "route of {model} never matched: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn overrides_and_maintenances_through_the_admin_api() {
    let app = spawn_seeded_app().await;
    let operate = token(&app.store, Scope::Operate).await;
    let read = token(&app.store, Scope::Read).await;
    let c = &app.client;
    let url = |p: &str| format!("{}{p}", app.base);
    use reqwest::Method;

    let ov = json!({"model": "openai/gpt-5", "enabled": false, "reason": "bad deploy", "expires_in": "30m"});
    let (s, _) = call(
        c,
        Method::POST,
        url("/api/v1/admin/overrides"),
        &read,
        Some(ov.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = call(
        c,
        Method::POST,
        url("/api/v1/admin/overrides"),
        &operate,
        Some(json!({"model": "nope/x", "enabled": false, "reason": "r", "expires_in": "5m"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, created) = call(
        c,
        Method::POST,
        url("/api/v1/admin/overrides"),
        &operate,
        Some(ov),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();

    let route = wait_route(&app, "openai/gpt-5", |r| r["enabled"] == false).await;
    assert!(
        route["reason"].as_str().unwrap().contains("bad deploy"),
        "{route}"
    );
    let (s, list) = call(c, Method::GET, url("/api/v1/admin/overrides"), &read, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["overrides"][0]["id"], id);
    assert_eq!(list["overrides"][0]["active"], true);

    let (s, _) = call(
        c,
        Method::DELETE,
        url(&format!("/api/v1/admin/overrides/{id}")),
        &read,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        c,
        Method::DELETE,
        url(&format!("/api/v1/admin/overrides/{id}")),
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        c,
        Method::DELETE,
        url(&format!("/api/v1/admin/overrides/{id}")),
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    wait_route(&app, "openai/gpt-5", |r| r["enabled"] == true).await;

    // Maintenance: scheduled an hour ahead, listed, shown upcoming, cancelled.
    let start = Utc::now() + Duration::hours(1);
    let m = json!({"title": "Network work", "body": "Short blips.", "models": ["openai/gpt-5"],
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339()});
    let (s, _) = call(
        c,
        Method::POST,
        url("/api/v1/admin/maintenances"),
        &read,
        Some(m.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A window ending in 9999, or starting next year, is a typo: refused with the bound.
    for (bad, field, words) in [
        (
            json!({"ends_at": "9999-12-31T00:00:00Z"}),
            "ends_at",
            "at most 168 hours",
        ),
        (
            json!({"starts_at": (start + Duration::days(365)).to_rfc3339(),
                   "ends_at": (start + Duration::days(365) + Duration::hours(1)).to_rfc3339()}),
            "starts_at",
            "at most 90 days ahead",
        ),
    ] {
        let mut body = m.clone();
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, err) = call(
            c,
            Method::POST,
            url("/api/v1/admin/maintenances"),
            &operate,
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(words),
            "{err}"
        );
    }
    let (s, window) = call(
        c,
        Method::POST,
        url("/api/v1/admin/maintenances"),
        &operate,
        Some(m),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{window}");
    assert_eq!(window["status"], "scheduled");
    let mid = window["id"].as_i64().unwrap();
    let (s, list) = call(
        c,
        Method::GET,
        url("/api/v1/admin/maintenances"),
        &read,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["maintenances"][0]["title"], "Network work");
    let events = app.store.events_after(0, 1_000_000).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "maintenance.scheduled"));

    let (s, _) = call(
        c,
        Method::DELETE,
        url(&format!("/api/v1/admin/maintenances/{mid}")),
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = call(
        c,
        Method::GET,
        url("/api/v1/admin/maintenances"),
        &read,
        None,
    )
    .await;
    assert_eq!(list["maintenances"][0]["status"], "cancelled");
    // Subscribers told it was scheduled are told it is off, with its outbox row.
    let events = app.store.events_after(0, 1_000_000).await.unwrap();
    let cancelled = events
        .iter()
        .find(|e| e.kind == "maintenance.cancelled")
        .expect("maintenance.cancelled announced");
    assert!(cancelled.public && cancelled.payload_json.contains("Network work"));
    let (queued,): (i64,) = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_as(
        "SELECT count(*) FROM outbox WHERE event_id = $1"
    )
    .bind(cancelled.id)
    .fetch_one(db)
    .await)
    .unwrap();
    assert_eq!(queued, 1);

    // Every change is in the audit log.
    let admin = token(&app.store, Scope::Admin).await;
    let (_, audit) = call(c, Method::GET, url("/api/v1/admin/audit"), &admin, None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "override.create",
        "override.end",
        "maintenance.create",
        "maintenance.cancel",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    app.stop().await;
}
