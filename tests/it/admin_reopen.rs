//! An SRE resolves an automatic incident by hand while the provider is still impaired: the
//! evaluator opens a new automatic incident on its next round (the resolved one stays
//! resolved), and that new one resolves by itself after recovery. Simulated time, no sleeps.

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelwatch::config::Config;
use modelwatch::evaluate::engine::Engine;
use modelwatch::evaluate::incidents::IncidentStatus;
use modelwatch::store::incident_ops::NewUpdate;
use modelwatch::store::incidents::Incident;
use modelwatch::store::Store;

use crate::helpers::{config_from, simulate_second};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn at(s: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(s)
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

struct Sim {
    config: Config,
    store: Store,
    engine: Engine,
    _dir: tempfile::TempDir,
}

impl Sim {
    async fn new() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let config = config_from(FAILING, &[]);
        let store = crate::helpers::open_store(
            &crate::helpers::fresh_database(dir.path(), "reopen.db").await,
        )
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

    /// Every incident, oldest first.
    async fn incidents(&self) -> Vec<Incident> {
        let mut all = self.store.incidents(100).await.unwrap();
        all.sort_by_key(|i| i.id);
        all
    }

    async fn count(&self, kind: &str) -> usize {
        self.store
            .events_after(0, 100_000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == kind)
            .count()
    }

    fn impaired(&self, key: &str) -> bool {
        let table = self.engine.subscribe().borrow().clone();
        let route = table.models.iter().find(|r| r.id == key).unwrap().clone();
        route.state.is_impaired()
    }
}

#[tokio::test]
async fn an_incident_resolved_by_hand_while_impaired_reopens_as_a_new_one() {
    let mut sim = Sim::new().await;
    sim.run(0, 700).await;
    assert!(sim.impaired("acme/big"), "the fault should impair acme/big");
    let before = sim.incidents().await;
    assert_eq!(before.len(), 1, "{before:?}");
    let first = before[0].clone();
    assert!(first.automatic && first.resolved_at.is_none(), "{first:?}");
    assert_eq!(sim.store.open_incidents().await.unwrap().len(), 1);

    // An SRE resolves it by hand while the model is still failing.
    sim.store
        .post_incident_update(
            first.id,
            &NewUpdate {
                status: IncidentStatus::Resolved,
                body: "Closed by hand: we think it is fixed.".into(),
                impact: None,
                affected: None,
                notify: true,
            },
            at(700),
        )
        .await
        .unwrap();
    assert!(sim.store.open_incidents().await.unwrap().is_empty());

    // The evaluator's next rounds: still impaired, so a new automatic incident opens.
    sim.run(700, 710).await;
    assert!(sim.impaired("acme/big"));
    let after = sim.incidents().await;
    assert_eq!(after.len(), 2, "{after:?}");
    let old = &after[0];
    let new = &after[1];
    assert_eq!(old.id, first.id);
    assert_eq!(
        old.status, "resolved",
        "the hand-resolved incident stays resolved"
    );
    assert_eq!(old.resolved_at.map(|t| (t - t0()).num_seconds()), Some(700));
    assert_ne!(new.id, first.id);
    assert!(new.automatic, "{new:?}");
    assert!(new.resolved_at.is_none(), "{new:?}");
    assert_eq!(new.provider_id, "acme");
    assert!(
        new.affected.iter().any(|m| m == "acme/big"),
        "{:?}",
        new.affected
    );
    let open = sim.store.open_incidents().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].1.id, new.id);
    assert_eq!(sim.count("incident.created").await, 2);
    // Only one new incident: more rounds while impaired update it, never open a third.
    sim.run(710, 880).await;
    assert_eq!(sim.incidents().await.len(), 2);

    // Recovery (the fault ends at 900s): the new incident resolves by itself.
    sim.run(880, 1500).await;
    assert!(!sim.impaired("acme/big"));
    let end = sim.incidents().await;
    assert_eq!(end.len(), 2, "{end:?}");
    assert_eq!(end[0].status, "resolved");
    assert_eq!(
        end[0].resolved_at.map(|t| (t - t0()).num_seconds()),
        Some(700),
        "the hand resolution is not rewritten"
    );
    assert_eq!(end[1].status, "resolved", "{:?}", end[1]);
    let resolved_at = end[1].resolved_at.expect("resolved automatically");
    assert!(resolved_at > at(900), "{resolved_at}");
    assert!(sim.store.open_incidents().await.unwrap().is_empty());
    assert_eq!(sim.count("incident.resolved").await, 2);
}

/// The race of issue 11: the evaluator plans from the open incidents it read, an SRE resolves
/// (or moves) the incident, then the evaluator commits. The incident stays as the SRE left
/// it, no `incident.updated` or `incident.resolved` is sent for it, and the rest of the round
/// (its state rows) is still committed.
#[tokio::test]
async fn an_incident_changed_by_hand_after_it_was_read_is_left_as_the_sre_left_it() {
    use modelwatch::evaluate::incidents::{self, IncidentAction, ModelView};
    use modelwatch::store::evaluations::StoredModelState;
    use modelwatch::store::round::Round;
    use modelwatch::vocabulary::{Evidence, ModelState, Tracker};

    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "race.db").await)
            .await;
    let opened = Round {
        at: at(0),
        incidents: vec![(
            "acme".into(),
            IncidentAction::Open {
                title: "acme: big impaired".into(),
                impact: "major",
                affected: ["acme/big".to_string()].into(),
                body: "We are seeing problems with big.".into(),
            },
        )],
        ..Round::default()
    };
    store.commit_round(&opened).await.unwrap();

    for sre_status in [IncidentStatus::Resolved, IncidentStatus::Identified] {
        let open = store.open_incidents().await.unwrap();
        let (_, read) = open.last().expect("an open incident").clone();
        // The evaluator plans an update from what it read: the model got worse.
        let worse = [ModelView {
            key: "acme/big".into(),
            name: "big".into(),
            state: ModelState::MajorOutage,
        }];
        let action = incidents::plan("acme", &worse, Some(&read), at(10), Duration::minutes(5))
            .expect("an update for the worse state");
        assert!(
            matches!(action, IncidentAction::Update { .. }),
            "{action:?}"
        );
        // Meanwhile, the SRE moves it.
        store
            .post_incident_update(
                read.id,
                &NewUpdate {
                    status: sre_status,
                    body: format!("Set to {} by hand.", sre_status.as_str()),
                    impact: None,
                    affected: None,
                    notify: true,
                },
                at(11),
            )
            .await
            .unwrap();
        let events_before = store.events_after(0, 1000).await.unwrap().len();
        store
            .commit_round(&Round {
                at: at(12),
                incidents: vec![("acme".into(), action)],
                states: vec![StoredModelState {
                    model_key: "acme/big".into(),
                    tracker: Tracker {
                        state: ModelState::MajorOutage,
                        since: at(12),
                    },
                    enabled: false,
                    reasons: vec!["major outage".into()],
                    evidence: Evidence::default(),
                    evaluated_at: at(12),
                }],
                ..Round::default()
            })
            .await
            .unwrap();
        let incident = store
            .incidents(10)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.id == read.id)
            .unwrap();
        assert_eq!(incident.status, sre_status.as_str(), "{incident:?}");
        let last = incident.updates.last().unwrap();
        assert_eq!(
            last.body,
            format!("Set to {} by hand.", sre_status.as_str())
        );
        assert_eq!(
            store.events_after(0, 1000).await.unwrap().len(),
            events_before,
            "nothing announced for the incident"
        );
        let states = store.load_model_states().await.unwrap();
        assert_eq!(
            states[0].tracker.state,
            ModelState::MajorOutage,
            "the round still committed"
        );
        if sre_status == IncidentStatus::Resolved {
            // Open a fresh one for the next row of the table.
            store.commit_round(&opened).await.unwrap();
        }
    }
}
