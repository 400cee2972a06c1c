//! The traffic scorecard: how fast and how right the application's own requests make the
//! evaluator, in simulated time (no IO, no sleeps: time is a number).
//!
//! The loop is the service's own logic: requests arrive at a fixed rate per source, each
//! failing at the scenario's rate (seeded), and are folded into the real [`TrafficView`]
//! with the default policy and `[traffic]` settings; the verdict is read once a second and
//! combined with the probes' state ([`traffic::combine`]), as the engine does. Closed minutes
//! are taken once a minute, as the engine stores them. Probes are healthy throughout
//! (operational), so every impairment below comes from traffic.
//!
//! Run it with `cargo bench --bench traffic_detection`. It prints Markdown and asserts
//! nothing: BENCHMARKS.md (section i) records the figures.

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelwatch::config::TrafficConfig;
use modelwatch::evaluate::traffic::{self, TrafficView};
use modelwatch::evaluate::Policy;
use modelwatch::probe::Trigger;
use modelwatch::store::results::Sample;
use modelwatch::vocabulary::{ModelState, Observation, Outcome};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SEEDS: u64 = 30;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

struct Sim {
    view: TrafficView,
    policy: Policy,
    model: Policy,
    config: TrafficConfig,
    rng: SmallRng,
    now: DateTime<Utc>,
    rows: Vec<traffic::MinuteRow>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let model = Policy::default();
        let config = TrafficConfig::default();
        Sim {
            view: TrafficView::default(),
            policy: traffic::traffic_policy(&model, &config),
            model,
            config,
            rng: SmallRng::seed_from_u64(seed),
            now: t0(),
            rows: Vec::new(),
        }
    }

    /// One second: `rate` requests from `source`, failing with probability `failing`.
    fn second(&mut self, source: &str, rate: u32, failing: f64) {
        for i in 0..rate {
            let at = self.now + Duration::microseconds(i64::from(i) * 1_000_000 / i64::from(rate));
            let outcome = if self.rng.gen_bool(failing) {
                Outcome::Http5xx
            } else {
                Outcome::Ok
            };
            let o = Observation {
                model_key: "p/m".into(),
                source: source.into(),
                outcome,
                ttft_ms: Some(300),
                total_ms: Some(900),
                at,
            };
            self.view.observe(&o, &self.policy, at);
        }
    }

    fn tick(&mut self) {
        self.now += Duration::seconds(1);
        if self.now.timestamp() % 60 == 6 {
            self.rows.clear();
            self.view
                .take_minutes("p/m", &self.policy, self.now, &mut self.rows);
        }
    }

    fn state(&self) -> ModelState {
        let v = self.view.verdict(&self.policy, &self.config, self.now);
        traffic::combine(
            ModelState::Operational,
            &v,
            self.view.probes_needed(&self.policy),
        )
        .state
    }

    fn disabled(&self) -> bool {
        self.model.disables(self.state())
    }
}

/// Seconds from the fault's start until disabled (or degraded), per seed; `None`: never in
/// `limit` seconds. Two sources share `rate` requests a second; both see the fault.
fn time_to(rate: u32, failing: f64, limit: u32, want: fn(&Sim) -> bool, seed: u64) -> Option<f64> {
    let mut sim = Sim::new(seed);
    for _ in 0..300 {
        sim.second("eu", rate / 2, 0.01);
        sim.second("us", rate - rate / 2, 0.01);
        sim.tick();
    }
    for s in 1..=limit {
        sim.second("eu", rate / 2, failing);
        sim.second("us", rate - rate / 2, failing);
        sim.tick();
        if want(&sim) {
            return Some(f64::from(s));
        }
    }
    None
}

/// Good recovery probes (every 15 s) until a model disabled by traffic that was then routed
/// away is enabled again.
fn probes_to_restore(rate: u32, failing: f64, seed: u64) -> Option<f64> {
    let mut sim = Sim::new(seed);
    for _ in 0..300 {
        sim.second("app", rate, 0.01);
        sim.tick();
    }
    let mut s = 0;
    while !sim.disabled() {
        sim.second("app", rate, failing);
        sim.tick();
        s += 1;
        if s > 600 {
            return None;
        }
    }
    for _ in 0..120 {
        sim.tick();
    }
    for n in 1..=500 {
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
        if !sim.disabled() {
            return Some(f64::from(n));
        }
    }
    None
}

/// Seconds, over `days`, in which healthy noise (2% failures at random) was announced as
/// impaired, and the number of such episodes.
fn false_alarms(rate: u32, days: u32, seed: u64) -> (u32, u32) {
    let mut sim = Sim::new(seed);
    let (mut seconds, mut episodes, mut was) = (0, 0, false);
    for _ in 0..days * 86_400 {
        sim.second("eu", rate / 2, 0.02);
        sim.second("us", rate - rate / 2, 0.02);
        sim.tick();
        let impaired = sim.state().is_impaired();
        seconds += u32::from(impaired);
        episodes += u32::from(impaired && !was);
        was = impaired;
    }
    (seconds, episodes)
}

/// Seconds one source failing alone (100%) was announced, in `limit` seconds.
fn lone_source_announced(rate: u32, limit: u32, seed: u64) -> u32 {
    let mut sim = Sim::new(seed);
    let mut announced = 0;
    for s in 0..limit + 300 {
        let failing = if s >= 300 { 1.0 } else { 0.01 };
        sim.second("eu", rate / 2, failing);
        sim.second("us", rate - rate / 2, 0.01);
        sim.tick();
        announced += u32::from(s >= 300 && sim.state().is_impaired());
    }
    announced
}

fn median_worst(v: &[Option<f64>], unit: &str) -> String {
    let mut got: Vec<f64> = v.iter().flatten().copied().collect();
    if got.is_empty() {
        return "never".into();
    }
    got.sort_by(|a, b| a.total_cmp(b));
    let missing = v.len() - got.len();
    let text = format!("{} / {}{unit}", got[got.len() / 2], got[got.len() - 1]);
    if missing > 0 {
        format!("{text} (never in {missing} of {})", v.len())
    } else {
        text
    }
}

fn main() {
    println!("# Traffic scorecard");
    println!();
    println!("Default policy and `[traffic]` settings, {SEEDS} seeds per row, **median / worst**. Two sources share the rate; after five healthy minutes (1% failures) both see the fault. Seconds from the fault's start; probes are healthy throughout.");
    println!();
    println!("| requests/s | fault | degraded s | disabled s |");
    println!("| ---: | --- | --- | --- |");
    let degraded: fn(&Sim) -> bool = |s| s.state().is_impaired();
    let disabled: fn(&Sim) -> bool = |s| s.disabled();
    for rate in [5u32, 50, 500] {
        for (name, failing) in [
            ("hard down", 1.0),
            ("60% failures", 0.6),
            ("30% failures", 0.3),
            ("10% failures", 0.1),
        ] {
            let d: Vec<Option<f64>> = (0..SEEDS)
                .map(|seed| time_to(rate, failing, 600, degraded, seed))
                .collect();
            let x: Vec<Option<f64>> = (0..SEEDS)
                .map(|seed| time_to(rate, failing, 600, disabled, seed))
                .collect();
            println!(
                "| {rate} | {name} | {} | {} |",
                median_worst(&d, ""),
                median_worst(&x, "")
            );
        }
    }
    println!();
    println!("Routed away: the model is disabled by traffic, the application stops sending, the provider recovers; good recovery probes (one each 15 s) until it is enabled again:");
    println!();
    println!("| requests/s before | fault | probes to restore | seconds |");
    println!("| ---: | --- | --- | --- |");
    for (rate, name, failing) in [(50u32, "hard down", 1.0), (50, "30% failures", 0.3)] {
        let n: Vec<Option<f64>> = (0..SEEDS)
            .map(|seed| probes_to_restore(rate, failing, seed))
            .collect();
        let secs: Vec<Option<f64>> = n.iter().map(|p| p.map(|p| p * 15.0)).collect();
        println!(
            "| {rate} | {name} | {} | {} |",
            median_worst(&n, ""),
            median_worst(&secs, "")
        );
    }
    println!();
    let lone: Vec<u32> = (0..SEEDS)
        .map(|seed| lone_source_announced(50, 600, seed))
        .collect();
    println!("One source of two failing 100% for 10 minutes at 50 requests/s, the other healthy: announced impaired for {} seconds in all {SEEDS} runs (it is shown as \"seen only from source eu\").", lone.iter().sum::<u32>());
    println!();
    // A month at 200 requests a second (518 million requests) also raised nothing, but takes
    // twelve minutes: run it by changing RATE here.
    const RATE: u32 = 50;
    let days = 30;
    let (seconds, episodes) = false_alarms(RATE, days, 7);
    println!("Healthy noise, 2% failures at random, {RATE} requests/s for {days} days ({} million requests): {episodes} false alarms, {seconds} seconds announced impaired.", u64::from(RATE) * u64::from(days) * 86_400 / 1_000_000);
}
