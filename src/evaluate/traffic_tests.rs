//! The traffic scenarios of issue 14, in simulated time: requests arrive at a fixed rate
//! with failures drawn from a seeded generator, and the verdict is read after each second.

use chrono::TimeZone;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::probe::Trigger;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

struct Sim {
    view: TrafficView,
    policy: Policy,
    config: TrafficConfig,
    model: Policy,
    rng: SmallRng,
    now: DateTime<Utc>,
}

impl Sim {
    fn new() -> Sim {
        let model = Policy::default();
        let config = TrafficConfig::default();
        Sim {
            view: TrafficView::default(),
            policy: traffic_policy(&model, &config),
            config,
            model,
            rng: SmallRng::seed_from_u64(14),
            now: start(),
        }
    }

    /// One second of `rate` requests from `source`, each failing (a provider fault) with
    /// probability `failing`; then the verdict.
    fn second(&mut self, source: &str, rate: u32, failing: f64) {
        for i in 0..rate {
            let at = self.now + Duration::milliseconds(i64::from(i) * 1000 / i64::from(rate));
            let failed = self.rng.gen_bool(failing);
            let o = Observation {
                model_key: "p/m".into(),
                source: source.into(),
                outcome: if failed {
                    Outcome::Http5xx
                } else {
                    Outcome::Ok
                },
                ttft_ms: Some(300),
                total_ms: Some(900),
                at,
            };
            self.view.observe(&o, &self.policy, at);
        }
    }

    fn tick(&mut self) {
        self.now += Duration::seconds(1);
    }

    fn verdict(&self) -> TrafficVerdict {
        self.view.verdict(&self.policy, &self.config, self.now)
    }

    fn state(&self, probe: ModelState) -> ModelState {
        let v = self.verdict();
        combine(probe, &v, self.view.probes_needed(&self.policy)).state
    }
}

#[test]
fn a_model_failing_30_percent_under_50_requests_a_second_is_disabled_within_seconds() {
    let mut sim = Sim::new();
    for _ in 0..120 {
        sim.second("app", 50, 0.02);
        sim.tick();
    }
    assert_eq!(sim.state(ModelState::Operational), ModelState::Operational);
    let mut disabled_after = None;
    for s in 1..=120 {
        sim.second("app", 50, 0.30);
        sim.tick();
        if sim.model.disables(sim.state(ModelState::Operational)) {
            disabled_after = Some(s);
            break;
        }
    }
    let seconds = disabled_after.expect("never disabled in two minutes");
    // Probes every 30 s would need minutes for a 30% fault; traffic takes seconds.
    assert!(seconds <= 20, "disabled only after {seconds} s");
    let v = sim.verdict();
    assert!(v.busy);
    assert_eq!(v.state, Some(ModelState::PartialOutage));
}

#[test]
fn a_hard_down_model_is_disabled_within_a_second_of_traffic() {
    let mut sim = Sim::new();
    for _ in 0..60 {
        sim.second("app", 50, 0.0);
        sim.tick();
    }
    sim.second("app", 50, 1.0);
    sim.tick();
    assert_eq!(sim.state(ModelState::Operational), ModelState::MajorOutage);
}

#[test]
fn a_day_of_healthy_noise_raises_nothing() {
    let mut sim = Sim::new();
    // 2% of 50 requests a second fail at random, for a day: 4.3 million requests.
    for _ in 0..86_400 {
        sim.second("app", 50, 0.02);
        sim.tick();
        assert!(
            !sim.verdict().state.is_some_and(ModelState::is_impaired),
            "false alarm at {}",
            sim.now
        );
    }
}

#[test]
fn traffic_routed_away_holds_the_model_until_probes_restore_it() {
    let mut sim = Sim::new();
    for _ in 0..60 {
        sim.second("app", 50, 0.01);
        sim.tick();
    }
    while !sim.model.disables(sim.state(ModelState::Operational)) {
        sim.second("app", 50, 0.30);
        sim.tick();
    }
    // Routed away: the application sends nothing more. Silence says nothing of recovery.
    for _ in 0..600 {
        sim.tick();
    }
    let v = sim.verdict();
    assert!(v.routed_away && !v.busy, "{v:?}");
    let held = sim.state(ModelState::Operational);
    assert!(sim.model.disables(held), "{held}");
    let c = combine(
        ModelState::Operational,
        &v,
        sim.view.probes_needed(&sim.policy),
    );
    assert!(c.leads);
    assert!(
        c.reasons[0].starts_with("routed away: traffic stopped"),
        "{:?}",
        c.reasons
    );
    // Probes that see worse than the traffic held lead instead.
    assert!(!combine(ModelState::MajorOutage, &v, None).leads);

    // The provider recovers; probes every 15 s (recovery cadence) stand in for the traffic.
    let mut restored_after = None;
    let mut cleared_after = None;
    for n in 1..=200 {
        sim.now += Duration::seconds(15);
        let probe = Sample {
            at: sim.now,
            outcome: Outcome::Ok,
            ttft_ms: Some(300),
            total_ms: 900,
            trigger: Trigger::Recovery,
        };
        sim.view
            .observe_probe(&probe, true, &sim.policy, &sim.config, sim.now);
        if restored_after.is_none() && !sim.model.disables(sim.state(ModelState::Operational)) {
            restored_after = Some(n);
        }
        if sim.verdict().state.is_none() {
            cleared_after = Some(n);
            break;
        }
    }
    let n = restored_after.expect("never restored by probes");
    // A 30% fault needs a couple of dozen good probes in a row to be believed over.
    assert!((5..=60).contains(&n), "restored after {n} probes");
    // The milder level held (degraded) clears too, once probes show it is over, and then
    // the silent source no longer speaks for the model at all.
    let cleared = cleared_after.expect("silent source still held after 200 good probes");
    assert!(cleared >= n, "{cleared} < {n}");
}

#[test]
fn one_sources_errors_alone_do_not_disable_the_model() {
    let mut sim = Sim::new();
    for _ in 0..120 {
        sim.second("eu-app", 50, 1.0);
        sim.second("us-app", 50, 0.01);
        sim.tick();
    }
    let v = sim.verdict();
    assert_eq!(v.state, Some(ModelState::Operational));
    assert_eq!(
        v.alone,
        vec![("eu-app".to_string(), ModelState::MajorOutage)]
    );
    let c = combine(ModelState::Operational, &v, None);
    let (state, reasons) = (c.state, c.reasons);
    assert_eq!(state, ModelState::Operational);
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("seen only from source eu-app")),
        "{reasons:?}"
    );
    // When the second source sees it too, it is announced.
    for _ in 0..30 {
        sim.second("eu-app", 50, 1.0);
        sim.second("us-app", 50, 1.0);
        sim.tick();
    }
    assert_eq!(sim.verdict().state, Some(ModelState::MajorOutage));
}

#[test]
fn caller_side_failures_never_count_against_the_model() {
    let mut sim = Sim::new();
    for s in 0..300 {
        for i in 0..50 {
            let outcome = match i % 4 {
                0 => Outcome::RateLimited,
                1 => Outcome::Auth,
                2 => Outcome::BadRequest,
                _ => Outcome::Ok,
            };
            let at = sim.now + Duration::milliseconds(i * 20);
            let o = Observation {
                model_key: "p/m".into(),
                source: "app".into(),
                outcome,
                ttft_ms: None,
                total_ms: None,
                at,
            };
            sim.view.observe(&o, &sim.policy, at);
        }
        sim.tick();
        assert!(
            !sim.verdict().state.is_some_and(ModelState::is_impaired),
            "impaired at {s} s"
        );
    }
    let v = sim.verdict();
    assert_eq!(v.state, Some(ModelState::Operational));
    assert!(v.client_side > v.failures);
}

#[test]
fn busy_traffic_decides_over_probes_and_quiet_traffic_does_not() {
    let mut sim = Sim::new();
    for _ in 0..60 {
        sim.second("app", 50, 0.0);
        sim.tick();
    }
    // Probes fail (our probe's path, say) while thousands of real requests succeed.
    let c = combine(ModelState::MajorOutage, &sim.verdict(), None);
    let (state, reasons) = (c.state, c.reasons);
    assert_eq!(state, ModelState::Operational);
    assert!(
        reasons[1].starts_with("probes see major outage"),
        "{reasons:?}"
    );
    // A minute later the traffic has stopped (not impaired: simply quiet): probes decide.
    for _ in 0..61 {
        sim.tick();
    }
    let state = combine(ModelState::MajorOutage, &sim.verdict(), None).state;
    assert_eq!(state, ModelState::MajorOutage);
}

#[test]
fn closed_minutes_are_taken_once_with_their_medians() {
    let mut sim = Sim::new();
    for _ in 0..70 {
        sim.second("app", 10, 0.0);
        sim.tick();
    }
    let mut rows = Vec::new();
    sim.view
        .take_minutes("p/m", &sim.policy, sim.now, &mut rows);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].requests, 600);
    assert_eq!(rows[0].ttft_p50_ms, Some(300));
    assert_eq!(rows[0].total_p50_ms, Some(900));
    let mut again = Vec::new();
    sim.view
        .take_minutes("p/m", &sim.policy, sim.now, &mut again);
    assert!(again.is_empty());
}

#[test]
fn sources_beyond_the_cap_are_counted_together() {
    let mut sim = Sim::new();
    for i in 0..(MAX_SOURCES + 10) {
        sim.second(&format!("s{i}"), 1, 0.0);
    }
    let e = sim
        .view
        .evidence(&sim.verdict(), &sim.policy, &sim.config, sim.now)
        .unwrap();
    assert_eq!(e.sources.len(), MAX_SOURCES + 1);
    assert!(e
        .sources
        .iter()
        .any(|s| s.source == OTHER_SOURCES && s.requests == 10));
}
