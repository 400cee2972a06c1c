//! Probes from more than one place: the agent endpoint on the real service (its token, its
//! idempotency, its refusals), the quorum in simulated time, and a real agent process that
//! buffers on disk while the upstream is away.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use modelwatch::evaluate::engine::Engine;
use modelwatch::probe::{ProbeReport, ProbeResult, Trigger};
use modelwatch::store::agents::{BatchFrom, BatchReceipt};
use modelwatch::store::Store;
use modelwatch::vocabulary::{ModelState, Outcome};
use serde_json::{json, Value};

use crate::helpers::{config_from, spawn_seeded_app, TestApp};

async fn token(store: &Store, scope: Scope, name: &str) -> String {
    let (_, token) = tokens::create(store, scope, name, &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    token.expose().to_string()
}

fn result(model: &str, at: DateTime<Utc>, outcome: Outcome) -> ProbeResult {
    let (provider, model) = model.split_once('/').unwrap();
    let ok = outcome == Outcome::Ok;
    ProbeResult {
        provider: provider.into(),
        model: model.into(),
        started_at: at,
        report: ProbeReport {
            outcome,
            http_status: Some(if ok { 200 } else { 529 }),
            headers_ms: Some(40),
            ttft_ms: ok.then_some(500),
            total_ms: 700,
            request_id: None,
            error: (!ok).then(|| "HTTP 529: Overloaded".to_string()),
        },
        trigger: Trigger::Scheduled,
    }
}

async fn push(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/agent/results", app.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn rows_from(store: &Store, agent: &str) -> i64 {
    modelwatch::on_db!(store.pool(), |db| sqlx::query_scalar(
        "SELECT COUNT(*) FROM probe_results WHERE vantage = $1"
    )
    .bind(agent)
    .fetch_one(db)
    .await)
    .unwrap()
}

#[tokio::test]
async fn a_batch_is_stored_once_from_its_own_agent_only() {
    let app = spawn_seeded_app().await;
    let a1 = token(&app.store, Scope::Agent, "a1").await;
    let now = Utc::now();
    let results: Vec<ProbeResult> = (0..3)
        .map(|i| {
            result(
                "openai/gpt-5",
                now - chrono::Duration::seconds(i),
                Outcome::Ok,
            )
        })
        .collect();
    let batch =
        json!({ "batch_id": "a1-1", "agent": "a1", "region": "eu-west", "results": results });

    let (status, body) = push(&app, &a1, &batch).await;
    assert_eq!(
        (status, &body["stored"], &body["duplicate"]),
        (200, &json!(3), &json!(false)),
        "{body}"
    );
    // The answer was lost and the agent sends it again: acknowledged, not stored twice.
    let (status, body) = push(&app, &a1, &batch).await;
    assert_eq!((status, &body["duplicate"]), (200, &json!(true)), "{body}");
    assert_eq!(rows_from(&app.store, "a1").await, 3);
    let agents = app.store.agents().await.unwrap();
    assert_eq!(
        (
            agents[0].name.as_str(),
            agents[0].region.as_str(),
            agents[0].batches,
            agents[0].results
        ),
        ("a1", "eu-west", 1, 3)
    );

    // Refusals say why, and store nothing.
    let ingest = token(&app.store, Scope::Ingest, "app").await;
    let admin = token(&app.store, Scope::Admin, "root").await;
    let (status, body) = push(&app, &ingest, &batch).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`agent` scope"),
        "{body}"
    );
    // An admin token is not an agent's either (the scopes stand apart).
    assert_eq!(push(&app, &admin, &batch).await.0, 403);
    // An agent token opens nothing of the admin API.
    let r = app
        .client
        .get(format!("{}/api/v1/admin/board", app.base))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let mut other = batch.clone();
    other["agent"] = json!("a2");
    other["batch_id"] = json!("a2-1");
    let (status, body) = push(&app, &a1, &other).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("named `a1`"),
        "{body}"
    );
    let mut unknown = batch.clone();
    unknown["batch_id"] = json!("a1-2");
    unknown["results"][1]["model"] = json!("gpt-404");
    let (status, body) = push(&app, &a1, &unknown).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("results[1]: `openai/gpt-404`"),
        "{body}"
    );
    let mut old = batch.clone();
    old["batch_id"] = json!("a1-3");
    old["results"][0]["started_at"] = json!((now - chrono::Duration::days(2)).to_rfc3339());
    assert_eq!(push(&app, &a1, &old).await.0, 422);
    let mut garbled = batch.clone();
    garbled["batch_id"] = json!("a1/../../x");
    assert_eq!(push(&app, &a1, &garbled).await.0, 400);
    let r = app
        .client
        .post(format!("{}/api/v1/agent/results", app.base))
        .bearer_auth(&a1)
        .body("{\"batch_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        rows_from(&app.store, "a1").await,
        3,
        "a refused batch stored something"
    );
    // The admin API lists it, reporting (read scope is enough).
    let read = token(&app.store, Scope::Read, "sre").await;
    let list: Value = app
        .client
        .get(format!("{}/api/v1/admin/agents", app.base))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a = &list["agents"][0];
    assert_eq!(
        (
            &a["name"],
            &a["region"],
            &a["reporting"],
            &a["batches"],
            &a["results"]
        ),
        (
            &json!("a1"),
            &json!("eu-west"),
            &json!(true),
            &json!(1),
            &json!(3)
        ),
        "{list}"
    );

    // No region is probed from until agents and central differ: a clear 404.
    let r = app.get("/api/v1/routing?region=mars").await;
    assert_eq!(r.status().as_u16(), 404);
    let r = app.get("/api/v1/routing?region=").await;
    assert_eq!(r.status().as_u16(), 400);
    app.stop().await;
}

const THREE: &str = r#"
[[providers]]
id = "acme"
name = "Acme"
kind = "simulated"
schedule = "* * * * * *"
models = [ { id = "big", name = "Big" }, { id = "small", name = "Small" } ]
"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// One second: central probes every model healthy; each agent in `agents` probes `big`
/// with the outcome it sees and `small` healthy; then the engine runs.
async fn second(store: &Store, engine: &mut Engine, s: i64, agents: &[(&str, &str, Outcome)]) {
    let at = t0() + chrono::Duration::seconds(s);
    store
        .insert_results(&[
            result("acme/big", at, Outcome::Ok),
            result("acme/small", at, Outcome::Ok),
        ])
        .await
        .unwrap();
    for (agent, region, big) in agents {
        let from = BatchFrom {
            agent,
            region,
            version: None,
            batch_id: &format!("{agent}-{s}"),
        };
        let batch = [
            result("acme/big", at, *big),
            result("acme/small", at, Outcome::Ok),
        ];
        assert_eq!(
            store.accept_agent_batch(&from, &batch, at).await.unwrap(),
            BatchReceipt::Stored(2)
        );
    }
    engine
        .run_once(at + chrono::Duration::milliseconds(999))
        .await
        .unwrap();
}

fn big(engine: &Engine) -> (ModelState, bool, String) {
    let table = engine.subscribe().borrow().clone();
    let r = table
        .models
        .iter()
        .find(|r| r.id == "acme/big")
        .unwrap()
        .clone();
    (r.state, r.enabled, r.reason)
}

fn regional(engine: &Engine, region: &str) -> Option<(ModelState, bool)> {
    let table = engine.subscribe().borrow().clone();
    let t = table.regions.get(region)?;
    let r = t.models.iter().find(|r| r.id == "acme/big")?;
    Some((r.state, r.enabled))
}

#[tokio::test]
async fn a_failure_seen_from_one_region_is_regional_and_from_a_quorum_is_for_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_from(THREE, &[]);
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "q.db").await).await;
    let mut engine = Engine::new(store.clone(), &config, t0()).await.unwrap();
    let healthy = [
        ("a1", "eu-west", Outcome::Ok),
        ("a2", "us-east", Outcome::Ok),
    ];
    for s in 0..20 {
        second(&store, &mut engine, s, &healthy).await;
    }
    assert_eq!(big(&engine).0, ModelState::Operational);

    // eu-west alone sees it down for a minute: one of three vantages, a majority is two.
    let eu_down = [
        ("a1", "eu-west", Outcome::Overloaded),
        ("a2", "us-east", Outcome::Ok),
    ];
    for s in 20..80 {
        second(&store, &mut engine, s, &eu_down).await;
    }
    let (state, enabled, reason) = big(&engine);
    assert_eq!(
        (state, enabled),
        (ModelState::Operational, true),
        "{reason}"
    );
    assert!(
        reason.starts_with(
            "impaired from eu-west only: a1 sees major outage; 1 of 3 vantages, 2 needed"
        ),
        "{reason}"
    );
    assert_eq!(
        regional(&engine, "eu-west"),
        Some((ModelState::MajorOutage, false))
    );
    assert_eq!(
        regional(&engine, "us-east"),
        Some((ModelState::Operational, true))
    );
    let stored = store.load_model_states().await.unwrap();
    let evidence = &stored
        .iter()
        .find(|s| s.model_key == "acme/big")
        .unwrap()
        .evidence;
    let figures: BTreeMap<&str, (ModelState, u32)> = evidence
        .vantages
        .iter()
        .map(|v| (v.name.as_str(), (v.state, v.failures)))
        .collect();
    // The figures stored with the decision that made it regional (refreshed each minute).
    assert_eq!(
        figures["central"],
        (ModelState::Operational, 0),
        "{figures:?}"
    );
    assert_eq!(figures["a2"], (ModelState::Operational, 0), "{figures:?}");
    assert_eq!(figures["a1"].0, ModelState::MajorOutage, "{figures:?}");
    assert!(figures["a1"].1 >= 6, "{figures:?}");
    // `small` is fine everywhere and was never touched.
    let table = engine.subscribe().borrow().clone();
    assert!(
        table
            .models
            .iter()
            .find(|r| r.id == "acme/small")
            .unwrap()
            .enabled
    );

    // us-east sees it too: two of three, for everyone, within two probes of it.
    let both_down = [
        ("a1", "eu-west", Outcome::Overloaded),
        ("a2", "us-east", Outcome::Overloaded),
    ];
    let mut disabled_at = None;
    for s in 80..100 {
        second(&store, &mut engine, s, &both_down).await;
        if disabled_at.is_none() && !big(&engine).1 {
            disabled_at = Some(s);
        }
    }
    let (state, _, reason) = big(&engine);
    assert_eq!(state, ModelState::MajorOutage, "{reason}");
    assert!(
        reason.starts_with(
            "quorum: major outage seen from 2 of 3 vantages (a1 (eu-west), a2 (us-east)), 2 needed"
        ),
        "{reason}"
    );
    // As fast as one vantage alone: the second vantage's own run of failures decides.
    let delay = disabled_at.unwrap() - 80;
    assert!(
        delay <= 7,
        "disabled {delay} s after the second region saw it"
    );

    // us-east's agent stops reporting: after the stale window it no longer counts, and
    // with two counted a majority is two again: eu-west alone is regional.
    for s in 100..260 {
        second(
            &store,
            &mut engine,
            s,
            &[("a1", "eu-west", Outcome::Overloaded)],
        )
        .await;
    }
    let (state, enabled, reason) = big(&engine);
    assert_eq!(
        (state, enabled),
        (ModelState::Operational, true),
        "{reason}"
    );
    let table = engine.subscribe().borrow().clone();
    let stored = store.load_model_states().await.unwrap();
    let reasons = &stored
        .iter()
        .find(|s| s.model_key == "acme/big")
        .unwrap()
        .reasons;
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("a2 (us-east): silent for")),
        "{reasons:?} {:?}",
        table.models
    );
}

#[tokio::test]
async fn an_agent_buffers_while_the_upstream_is_away_and_sends_everything_once_back() {
    // A port nothing listens on yet: the agent starts first, as after a network cut.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db");
    let spool = dir.path().join("spool");
    let providers = r#"
[[providers]]
id = "acme"
name = "Acme"
kind = "simulated"
schedule = "* * * * * *"
simulate = { ttft = "20ms", jitter = "5ms" }
models = [ { id = "big", name = "Big" } ]
"#;
    let store = Store::open(&db).await.unwrap();
    let agent_token = token(&store, Scope::Agent, "a1").await;
    drop(store);
    let agent_config = config_from(providers, &[]);
    let settings = modelwatch::agent::AgentSettings {
        upstream: format!("http://127.0.0.1:{port}"),
        name: "a1".into(),
        region: "eu-west".into(),
        token: agent_token,
        spool: spool.clone(),
    };
    let (stop_agent, agent_stop) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(modelwatch::agent::run(
        agent_config,
        settings,
        modelwatch::clock::Clock::system(),
        agent_stop,
    ));
    let files = |p: &std::path::Path, ext: &str| {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == ext))
                    .count()
            })
            .unwrap_or(0)
    };
    // Wait (up to 20 s) for batches to pile up on disk while nothing answers.
    for _ in 0..200 {
        if files(&spool, "json") >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let buffered = files(&spool, "json");
    assert!(buffered >= 3, "{buffered} batches buffered");

    // The upstream comes (back): the real service on that port.
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\n[agents]\nregion = \"us-east\"\n{providers}",
        db.display()
    );
    let app = modelwatch::startup::Application::build(
        config_from(&toml, &[]),
        modelwatch::clock::Clock::system(),
    )
    .await
    .unwrap();
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    // The buffer drains (the sender backs off at most a few seconds by then).
    for _ in 0..300 {
        if files(&spool, "json") == 0 && rows_from(&store, "a1").await >= buffered as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(files(&spool, "json"), 0, "the spool did not drain");
    let _ = stop_agent.send(true);
    agent.await.unwrap().unwrap();
    // Every batch stored once: results = rows, nothing set aside.
    let agents = store.agents().await.unwrap();
    assert_eq!(agents[0].results, rows_from(&store, "a1").await);
    assert_eq!(files(&spool, "rejected"), 0);
    let batches: i64 = modelwatch::on_db!(store.pool(), |db| sqlx::query_scalar(
        "SELECT COUNT(*) FROM agent_batches"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    assert_eq!(batches, agents[0].batches);
    assert!(agents[0].batches >= buffered as i64);
    // The routing table now answers per region: the agent's and this server's.
    let client = reqwest::Client::new();
    for region in ["eu-west", "us-east"] {
        let mut ok = false;
        for _ in 0..50 {
            let r = client
                .get(format!(
                    "http://127.0.0.1:{port}/api/v1/routing?region={region}"
                ))
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["region"], region);
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "no routing table for {region}");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn batch_ids_are_remembered_a_week_then_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "b.db").await).await;
    let at = t0();
    let from = BatchFrom {
        agent: "a1",
        region: "eu-west",
        version: None,
        batch_id: "a1-1",
    };
    let batch = [result("acme/big", at, Outcome::Ok)];
    assert_eq!(
        store.accept_agent_batch(&from, &batch, at).await.unwrap(),
        BatchReceipt::Stored(1)
    );
    // Six days on, a retry is still recognised; past seven the id is forgotten.
    assert_eq!(
        store
            .forget_agent_batches(at + chrono::Duration::days(6))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.accept_agent_batch(&from, &batch, at).await.unwrap(),
        BatchReceipt::Duplicate
    );
    assert_eq!(
        store
            .forget_agent_batches(at + chrono::Duration::days(8))
            .await
            .unwrap(),
        1
    );
    assert_eq!(rows_from(&store, "a1").await, 1);
}

/// A simulated provider whose `big` model is hard down from `fault_after` (none: healthy).
fn acme(fault_after: Option<&str>) -> String {
    let faults = fault_after.map_or(String::new(), |after| {
        format!(
            ", simulate = {{ faults = [ {{ after = \"{after}\", duration = \"1h\", error_rate = 1.0, error_mix = {{ overloaded = 1 }} }} ] }}"
        )
    });
    format!(
        r#"
[[providers]]
id = "acme"
name = "Acme"
kind = "simulated"
schedule = "* * * * * *"
simulate = {{ ttft = "20ms", jitter = "5ms" }}
models = [ {{ id = "big", name = "Big"{faults} }}, {{ id = "small", name = "Small" }} ]
"#
    )
}

/// Polls `check` every 100 ms for up to `secs` seconds; the time it first held.
async fn until(secs: u64, mut check: impl AsyncFnMut() -> bool) -> Option<std::time::Instant> {
    for _ in 0..secs * 10 {
        if check().await {
            return Some(std::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test]
async fn the_whole_service_with_two_agents_tells_a_regional_fault_from_one_for_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndatabase = \"{}\"\n[agents]\nregion = \"us-central\"\n{}",
        dir.path().join("central.db").display(),
        acme(None)
    );
    let app = modelwatch::startup::Application::build(
        config_from(&toml, &[]),
        modelwatch::clock::Clock::system(),
    )
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    // eu-west sees `big` down from 3 s after its start; us-east from 20 s after its start.
    let (stop_agents, agents_stop) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let mut agents = Vec::new();
    for (name, region, fault) in [("fra-1", "eu-west", "3s"), ("iad-1", "us-east", "20s")] {
        let settings = modelwatch::agent::AgentSettings {
            upstream: base.clone(),
            name: name.into(),
            region: region.into(),
            token: token(&store, Scope::Agent, name).await,
            spool: dir.path().join(name),
        };
        agents.push(tokio::spawn(modelwatch::agent::run(
            config_from(&acme(Some(fault)), &[]),
            settings,
            modelwatch::clock::Clock::system(),
            agents_stop.clone(),
        )));
    }
    let client = reqwest::Client::new();
    let route = |region: Option<&'static str>| {
        let client = client.clone();
        let url = match region {
            Some(r) => format!("{base}/api/v1/routing?region={r}"),
            None => format!("{base}/api/v1/routing"),
        };
        async move {
            let r = client.get(url).send().await.unwrap();
            if !r.status().is_success() {
                return None;
            }
            let body: Value = r.json().await.unwrap();
            body["models"]
                .as_array()
                .and_then(|m| m.iter().find(|r| r["id"] == "acme/big").cloned())
        }
    };

    // Regional: disabled in eu-west only, enabled for everyone and in us-east.
    let regional = until(20, async || {
        route(Some("eu-west"))
            .await
            .is_some_and(|r| r["enabled"] == false)
    })
    .await
    .expect("eu-west never disabled acme/big");
    let everyone = route(None).await.unwrap();
    assert_eq!(everyone["enabled"], true, "{everyone}");
    assert!(
        everyone["reason"]
            .as_str()
            .unwrap()
            .starts_with("impaired from eu-west only"),
        "{everyone}"
    );
    assert_eq!(route(Some("us-east")).await.unwrap()["enabled"], true);
    assert_eq!(route(Some("us-central")).await.unwrap()["enabled"], true);
    let small = client
        .get(format!("{base}/api/v1/routing"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(small["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["id"] != "acme/small" || m["enabled"] == true));
    let regional_after = regional.duration_since(started).as_secs_f64() - 3.0;
    // The front page marks it (the published snapshot follows within a second or two).
    let front = until(10, async || {
        let page = text(&client, format!("{base}/")).await;
        page.contains("Failing from eu-west only.")
    })
    .await;
    assert!(
        front.is_some(),
        "the front page never said the fault was regional"
    );

    // us-east sees it too: two of three vantages, disabled for everyone.
    let global = until(40, async || {
        route(None).await.is_some_and(|r| r["enabled"] == false)
    })
    .await
    .expect("two regions failing never disabled acme/big for everyone");
    let global_after = global.duration_since(started).as_secs_f64() - 20.0;
    let everyone = route(None).await.unwrap();
    assert!(
        everyone["reason"]
            .as_str()
            .unwrap()
            .starts_with("quorum: major outage seen from 2 of 3 vantages"),
        "{everyone}"
    );
    // The model's page data (the published snapshot, rebuilt within a second or two of the
    // change) says the same, with each vantage's own figures.
    let detail_url = format!("{base}/api/v1/models/acme/big");
    let mut detail = Value::Null;
    until(10, async || {
        detail = client
            .get(&detail_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        detail["model"]["state"] == "major_outage"
    })
    .await
    .unwrap_or_else(|| panic!("the model's detail never showed the outage: {detail}"));
    let vantages = detail["model"]["recent"]["vantages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = vantages.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, ["central", "fra-1", "iad-1"], "{detail}");
    // The model page shows them beside the reasons.
    let page = text(&client, format!("{base}/models/acme/big")).await;
    let seen = &page[page.find("<h3>Seen from</h3>").expect("no Seen from table")..];
    for words in [
        "<th scope=\"row\">fra-1</th><td>eu-west</td>",
        "<th scope=\"row\">iad-1</th><td>us-east</td>",
        "<th scope=\"row\">central</th><td>us-central</td>",
    ] {
        assert!(seen.contains(words), "{words} not in {seen}");
    }
    eprintln!(
        "whole service: eu-west disabled acme/big {regional_after:.1} s after its agent's fault began; \
         everyone {global_after:.1} s after the second region's"
    );
    // Each is within a few probe intervals of its fault (one probe a second, batches each
    // second, the evaluator on arrival).
    assert!(
        regional_after < 12.0 && global_after < 12.0,
        "{regional_after} {global_after}"
    );

    let _ = stop_agents.send(true);
    for a in agents {
        a.await.unwrap().unwrap();
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

const TWO_PROVIDERS: &str = r#"
[[providers]]
id = "acme"
name = "Acme"
kind = "simulated"
schedule = "* * * * * *"
models = [ { id = "big", name = "Big" }, { id = "small", name = "Small" } ]
[[providers]]
id = "zeta"
name = "Zeta"
kind = "simulated"
schedule = "* * * * * *"
models = [ { id = "one", name = "One" } ]
"#;

#[tokio::test]
async fn an_agent_whose_network_is_cut_is_not_a_regional_outage_of_everything() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_from(TWO_PROVIDERS, &[]);
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "cut.db").await)
            .await;
    let mut engine = Engine::new(store.clone(), &config, t0()).await.unwrap();
    let keys = CUT_KEYS;
    // fra-1's results fail to connect to every provider for a minute (its own network),
    // then, its network back, only acme/big's do.
    cut_run(&store, &mut engine, 0, 20, &|_| Outcome::Ok).await;
    cut_run(&store, &mut engine, 20, 80, &|_| Outcome::Connect).await;
    let table = engine.subscribe().borrow().clone();
    let eu = table
        .regions
        .get("eu-west")
        .expect("no eu-west table")
        .clone();
    for k in keys {
        let r = eu.models.iter().find(|r| r.id == k).unwrap();
        assert!(
            r.enabled,
            "{k} disabled in eu-west while fra-1 could reach no provider: {r:?}"
        );
        let r = table.models.iter().find(|r| r.id == k).unwrap();
        assert!(!r.reason.starts_with("impaired from"), "{k}: {}", r.reason);
    }
    // Its network back, one model really failing from there: that counts.
    cut_run(&store, &mut engine, 80, 90, &|_| Outcome::Ok).await;
    cut_run(&store, &mut engine, 90, 150, &|k| {
        if k == "acme/big" {
            Outcome::Connect
        } else {
            Outcome::Ok
        }
    })
    .await;
    let table = engine.subscribe().borrow().clone();
    let big = table.regions["eu-west"]
        .models
        .iter()
        .find(|r| r.id == "acme/big")
        .unwrap()
        .clone();
    assert!(
        !big.enabled,
        "acme/big failing from eu-west alone stayed enabled there: {big:?}"
    );
}

const CUT_KEYS: [&str; 3] = ["acme/big", "acme/small", "zeta/one"];

/// Seconds `[from, to)`: central probes every model healthy, fra-1 (eu-west) sees `fra(key)`.
async fn cut_run(
    store: &Store,
    engine: &mut Engine,
    from: i64,
    to: i64,
    fra: &dyn Fn(&str) -> Outcome,
) {
    for s in from..to {
        let at = t0() + chrono::Duration::seconds(s);
        let central: Vec<ProbeResult> = CUT_KEYS
            .iter()
            .map(|k| result(k, at, Outcome::Ok))
            .collect();
        store.insert_results(&central).await.unwrap();
        let batch_id = format!("fra-1-{s}");
        let from = BatchFrom {
            agent: "fra-1",
            region: "eu-west",
            version: None,
            batch_id: &batch_id,
        };
        let batch: Vec<ProbeResult> = CUT_KEYS.iter().map(|k| result(k, at, fra(k))).collect();
        store.accept_agent_batch(&from, &batch, at).await.unwrap();
        engine
            .run_once(at + chrono::Duration::milliseconds(999))
            .await
            .unwrap();
    }
}

async fn text(client: &reqwest::Client, url: String) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}
