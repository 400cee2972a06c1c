//! The evaluator end to end in simulated time: probes of the simulated provider are written
//! to a real SQLite file second by second, and the engine runs on that clock. No sleeps.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelwatch::config::Config;
use modelwatch::evaluate::engine::Engine;
use modelwatch::store::Store;
use modelwatch::vocabulary::ModelState;

use crate::helpers::{config_from, simulate_second};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// A run of the engine over simulated probes, recording everything it announced.
struct Replay {
    config: Config,
    store: Store,
    engine: Engine,
    _dir: tempfile::TempDir,
    /// Per second: the routing decision of every model after that second's round.
    enabled_log: Vec<(u64, BTreeMap<String, bool>)>,
    /// Per second: each provider's rollup state.
    rollup_log: Vec<(u64, BTreeMap<String, ModelState>)>,
    /// Per second: the first stored reason of every model's decision.
    reason_log: Vec<(u64, BTreeMap<String, String>)>,
}

impl Replay {
    async fn new(toml: &str) -> Replay {
        let dir = tempfile::tempdir().unwrap();
        let config = config_from(toml, &[]);
        let store = crate::helpers::open_store(
            &crate::helpers::fresh_database(dir.path(), "replay.db").await,
        )
        .await;
        let engine = Engine::new(store.clone(), &config, t0()).await.unwrap();
        Replay {
            config,
            store,
            engine,
            _dir: dir,
            enabled_log: Vec::new(),
            rollup_log: Vec::new(),
            reason_log: Vec::new(),
        }
    }

    /// Probes every model whose schedule fires in each second of `[from, to)`, then runs
    /// the engine just after that second's probes.
    async fn run(&mut self, from: u64, to: u64) {
        for s in from..to {
            simulate_second(&self.config, &self.store, &mut self.engine, t0(), s as i64).await;
            let table = self.engine.subscribe().borrow().clone();
            self.enabled_log.push((
                s,
                table
                    .models
                    .iter()
                    .map(|r| (r.id.clone(), r.enabled))
                    .collect(),
            ));
            let rollups = table
                .providers
                .iter()
                .map(|p| (p.id.clone(), p.state))
                .collect();
            self.rollup_log.push((s, rollups));
            // The stored reasons, as the public pages and the model API show them.
            let stored = self.store.load_model_states().await.unwrap();
            self.reason_log.push((
                s,
                stored
                    .into_iter()
                    .map(|m| (m.model_key, m.reasons.first().cloned().unwrap_or_default()))
                    .collect(),
            ));
        }
    }

    /// Simulates a restart: a new engine resumes from the database.
    async fn restart(&mut self, at: u64) {
        self.engine = Engine::new(
            self.store.clone(),
            &self.config,
            t0() + Duration::seconds(at as i64),
        )
        .await
        .unwrap();
    }

    /// Every event as (type, model key, seconds since t0, public).
    async fn events(&self) -> Vec<(String, Option<String>, i64, bool)> {
        self.store
            .events_after(0, 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.kind,
                    e.model_key,
                    (e.occurred_at - t0().timestamp_millis()) / 1000,
                    e.public,
                )
            })
            .collect()
    }

    fn first_second(&self, model: &str, enabled: bool, after: u64) -> Option<u64> {
        self.enabled_log
            .iter()
            .find(|(s, m)| *s >= after && m.get(model) == Some(&enabled))
            .map(|(s, _)| *s)
    }
}

const FAULT_START: u64 = 607;
const FAULT_END: u64 = 907;

fn incident_config() -> String {
    let fault = format!(
        "simulate = {{ faults = [ {{ after = \"{FAULT_START}s\", duration = \"{}s\", error_rate = 0.6, error_mix = {{ overloaded = 1 }}, ttft = \"4s\" }} ] }}",
        FAULT_END - FAULT_START
    );
    format!(
        r#"
[[providers]]
id = "anthropic"
kind = "simulated"
schedule = "* * * * * *"
simulate = {{ ttft = "700ms", jitter = "300ms", error_rate = 0.01 }}
models = [
  {{ id = "opus-4-8", fallback = ["sonnet-4-5"], {fault} }},
  {{ id = "opus-4-7", fallback = ["sonnet-4-5"], {fault} }},
  {{ id = "sonnet-4-5" }},
]
[[providers]]
id = "openai"
kind = "simulated"
schedule = "* * * * * *"
simulate = {{ ttft = "500ms", jitter = "300ms", error_rate = 0.01 }}
models = [ {{ id = "gpt-5" }}, {{ id = "gpt-5-mini" }} ]
"#
    )
}

#[tokio::test]
async fn incident_replay_disables_only_the_affected_models_and_restores_them() {
    let mut replay = Replay::new(&incident_config()).await;
    replay.run(0, 750).await;
    // A restart in the middle of the incident must neither repeat nor lose events.
    replay.restart(750).await;
    replay.run(750, 1200).await;

    let evaluation_interval = 15; // default: every 15 probe intervals of 1 s
    let events = replay.events().await;
    for model in ["anthropic/opus-4-8", "anthropic/opus-4-7"] {
        let of = |kind: &str| {
            events
                .iter()
                .filter(|e| e.0 == kind && e.1.as_deref() == Some(model))
                .map(|e| e.2)
                .collect::<Vec<_>>()
        };
        let disabled = of("model.disabled");
        let restored = of("model.restored");
        assert_eq!(
            disabled.len(),
            1,
            "{model}: one disable event, got {disabled:?}"
        );
        assert_eq!(
            restored.len(),
            1,
            "{model}: one restore event, got {restored:?}"
        );
        let detection = disabled[0] - FAULT_START as i64;
        let recovery = restored[0] - FAULT_END as i64;
        eprintln!("{model}: disabled {detection} s after the fault began, restored {recovery} s after it ended");
        assert!(
            (0..=2 * evaluation_interval).contains(&detection),
            "{model} disabled {detection} s after the fault"
        );
        assert!(
            (0..=3 * evaluation_interval).contains(&recovery),
            "{model} restored {recovery} s after recovery"
        );
        // While disabled, the routing table points at the healthy fallback.
        let table_at = replay
            .enabled_log
            .iter()
            .find(|(s, _)| *s == disabled[0] as u64 + 1)
            .unwrap();
        assert_eq!(table_at.1.get(model), Some(&false));
        // The provider's rollup shows the partial outage; its healthy model stays enabled.
        let rollup_at = &replay.rollup_log[disabled[0] as usize + 1].1;
        assert_eq!(rollup_at.get("anthropic"), Some(&ModelState::PartialOutage));
        assert_eq!(rollup_at.get("openai"), Some(&ModelState::Operational));
        assert_eq!(table_at.1.get("anthropic/sonnet-4-5"), Some(&true));
        // Between the fault's end and the restore, hysteresis holds the outage against
        // healthy evidence, and the public reason says so rather than "healthy".
        let held: Vec<&String> = replay
            .reason_log
            .iter()
            .filter(|(s, _)| *s > FAULT_END && (*s as i64) < restored[0])
            .filter_map(|(_, reasons)| reasons.get(model))
            .collect();
        assert!(
            held.iter().any(|r| r.starts_with("recovering: still")),
            "{model}: {held:?}"
        );
        assert!(
            !held.iter().any(|r| r.starts_with("healthy")),
            "{model}: {held:?}"
        );
    }
    for model in ["anthropic/sonnet-4-5", "openai/gpt-5", "openai/gpt-5-mini"] {
        assert_eq!(
            replay.first_second(model, false, 0),
            None,
            "{model} must stay enabled throughout"
        );
        assert!(
            !events
                .iter()
                .any(|e| e.1.as_deref() == Some(model) && e.0 != "model.state_changed"),
            "{model}: no announcement"
        );
    }

    let incidents = replay.store.incidents(10).await.unwrap();
    assert_eq!(incidents.len(), 1, "one incident: {incidents:?}");
    let incident = &incidents[0];
    assert_eq!(incident.provider_id, "anthropic");
    assert_eq!(incident.status, "resolved");
    assert!(
        incident
            .affected
            .iter()
            .all(|m| m.starts_with("anthropic/opus")),
        "{:?}",
        incident.affected
    );
    let statuses: Vec<&str> = incident.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses.first(), Some(&"investigating"));
    assert!(statuses.contains(&"monitoring"), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"resolved"));
    let created = events.iter().filter(|e| e.0 == "incident.created").count();
    let resolved = events.iter().filter(|e| e.0 == "incident.resolved").count();
    assert_eq!((created, resolved), (1, 1));
    assert!(events.iter().any(|e| e.0 == "incident.updated"));

    // Every event has its outbox row, and every row belongs to an event.
    let outbox: i64 = modelwatch::on_db!(replay.store.pool(), |db| sqlx::query_scalar(
        "SELECT count(*) FROM outbox o JOIN events e ON e.id = o.event_id"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    assert_eq!(outbox as usize, events.len());
}

#[tokio::test]
async fn a_noisy_but_healthy_day_changes_nothing() {
    let toml = r#"
[[providers]]
id = "noisy"
kind = "simulated"
schedule = "*/10 * * * * *"
simulate = { ttft = "600ms", jitter = "2s", generation = "300ms", error_rate = 0.02, error_mix = { http_5xx = 1, overloaded = 1, timeout = 1 } }
models = [ { id = "a" }, { id = "b" } ]
"#;
    let mut replay = Replay::new(toml).await;
    replay.run(0, 86_400).await;
    let events = replay.events().await;
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.0 == "model.state_changed")
        .collect();
    // The only change allowed is each model's first evidence: unknown → operational.
    assert_eq!(changes.len(), 2, "{changes:?}");
    for model in ["noisy/a", "noisy/b"] {
        let changes = replay.store.state_changes(model, t0()).await.unwrap();
        assert_eq!(changes.len(), 1, "{model}: {changes:?}");
        assert_eq!(
            (changes[0].from, changes[0].to),
            (ModelState::Unknown, ModelState::Operational)
        );
    }
    assert!(replay.store.incidents(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn misconfiguration_is_never_an_outage() {
    let toml = r#"
[[providers]]
id = "wrongkey"
kind = "simulated"
schedule = "* * * * * *"
simulate = { error_rate = 1.0, error_mix = { auth = 1 } }
models = [ { id = "m" } ]
"#;
    let mut replay = Replay::new(toml).await;
    replay.run(0, 600).await;
    let events = replay.events().await;
    assert!(events.iter().all(|e| !e.3), "no public event: {events:?}");
    assert!(!events.iter().any(|e| e.0 == "model.disabled"));
    assert!(replay.store.incidents(10).await.unwrap().is_empty());
    let states = replay.store.load_model_states().await.unwrap();
    assert_eq!(states[0].tracker.state, ModelState::Unknown);
    assert!(states[0].enabled, "lack of evidence never disables a model");
    assert!(
        states[0].reasons[0].starts_with("probe misconfigured"),
        "{:?}",
        states[0].reasons
    );
}

#[tokio::test]
async fn our_own_network_down_is_not_announced() {
    let down = r#"faults = [ { after = "400s", duration = "300s", error_rate = 1.0, error_mix = { connect = 1 } } ]"#;
    let toml = format!(
        r#"
[[providers]]
id = "p1"
kind = "simulated"
schedule = "* * * * * *"
simulate = {{ {down} }}
models = [ {{ id = "a" }}, {{ id = "b" }} ]
[[providers]]
id = "p2"
kind = "simulated"
schedule = "* * * * * *"
simulate = {{ {down} }}
models = [ {{ id = "c" }} ]
"#
    );
    let mut replay = Replay::new(&toml).await;
    replay.run(0, 650).await;
    let states = replay.store.load_model_states().await.unwrap();
    assert!(
        states
            .iter()
            .all(|s| s.tracker.state == ModelState::Unknown),
        "{states:?}"
    );
    assert!(states.iter().all(|s| s.enabled));
    let events = replay.events().await;
    assert!(
        events.iter().filter(|e| e.2 >= 400).all(|e| !e.3),
        "nothing public while our network is down: {events:?}"
    );
    assert!(replay.store.incidents(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn confirmation_probes_disable_a_hard_down_model_within_two_intervals() {
    // A 30 s schedule; the model is hard down from 1200 s to 1500 s.
    let toml = r#"
[[providers]]
id = "p"
kind = "simulated"
schedule = "*/30 * * * * *"
simulate = { ttft = "600ms", jitter = "200ms", error_rate = 0.0 }
models = [
  { id = "down", fallback = ["up"], simulate = { faults = [ { after = "1200s", duration = "300s", error_rate = 1.0, error_mix = { http_5xx = 1 } } ] } },
  { id = "up" },
]
"#;
    let mut replay = Replay::new(toml).await;
    replay.run(0, 2400).await;
    let events = replay.events().await;
    let of = |kind: &str| -> Vec<i64> {
        events
            .iter()
            .filter(|e| e.0 == kind && e.1.as_deref() == Some("p/down"))
            .map(|e| e.2)
            .collect()
    };
    let (disabled, restored) = (of("model.disabled"), of("model.restored"));
    assert_eq!((disabled.len(), restored.len()), (1, 1), "{events:?}");
    // The first failing probe is the scheduled one at 1200 s; confirmations every 5 s
    // (a quarter of the interval, at most 5 s) follow it.
    let detection = disabled[0] - 1200;
    assert!(
        (0..=30).contains(&detection),
        "disabled {detection} s after the fault: more than one interval"
    );
    let recovery = restored[0] - 1500;
    assert!(
        (0..=60).contains(&recovery),
        "restored {recovery} s after the fault ended: more than two intervals"
    );
    // The extra probes are stored with their reason, and only around the fault.
    let triggers: Vec<(i64, String)> = modelwatch::on_db!(replay.store.pool(), |db| sqlx::query_as(
        "SELECT (started_at - $1) / 1000, trigger FROM probe_results WHERE model_key = 'p/down' AND trigger != 'scheduled' ORDER BY id",
    )
    .bind(t0().timestamp_millis())
    .fetch_all(db).await)
    .unwrap();
    assert!(triggers.iter().any(|t| t.1 == "confirm"), "{triggers:?}");
    assert!(triggers.iter().any(|t| t.1 == "recovery"), "{triggers:?}");
    assert!(
        triggers.iter().all(|t| (1200..=1500 + 120).contains(&t.0)),
        "extra probes outside the fault: {triggers:?}"
    );
    let scheduled = 2400 / 30;
    assert!(
        triggers.len() <= scheduled / 2,
        "{} extra probes for {scheduled} scheduled",
        triggers.len()
    );
    // The healthy model was never probed beyond its schedule.
    let extra_up: i64 = modelwatch::on_db!(replay.store.pool(), |db| {
        sqlx::query_scalar(
        "SELECT count(*) FROM probe_results WHERE model_key = 'p/up' AND trigger != 'scheduled'",
    )
    .fetch_one(db).await
    })
    .unwrap();
    assert_eq!(extra_up, 0);
    // The evidence stored with the disable counts the confirmations that led to it.
    let changes = replay.store.state_changes("p/down", t0()).await.unwrap();
    let disable = changes
        .iter()
        .find(|c| !c.enabled)
        .expect("a disabling change");
    assert!(
        disable.evidence.extra_probes.confirm >= 1,
        "{:?}",
        disable.evidence
    );
}

#[tokio::test]
async fn the_demo_never_sends_traffic_back_to_a_failing_model() {
    // The built-in demo: two Opus models fail 60% (slow first tokens too) from 60 s to 300 s.
    let mut replay = Replay::new(modelwatch::config::demo::DEMO_TOML).await;
    replay.run(0, 600).await;
    for model in ["anthropic/claude-opus-4-8", "anthropic/claude-opus-4-7"] {
        // The routing decision over time: off once during the fault, on again only after it.
        let flips: Vec<(u64, bool)> = replay
            .enabled_log
            .windows(2)
            .filter(|w| w[0].1.get(model) != w[1].1.get(model))
            .map(|w| (w[1].0, w[1].1[model]))
            .collect();
        assert_eq!(flips.len(), 2, "{model}: {flips:?}");
        assert!(
            !flips[0].1 && (60..=90).contains(&flips[0].0),
            "{model}: {flips:?}"
        );
        assert!(flips[1].1 && flips[1].0 >= 300, "{model}: {flips:?}");
    }
}
