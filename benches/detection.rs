//! The detection scorecard: how fast and how right the evaluator is, in simulated time.
//!
//! Each scenario is a model's behaviour over a day (a healthy hour, then a fault, then
//! recovery; or 30 days of noise), run at a 10 s, 30 s and 60 s schedule. The loop is the
//! service's own logic without its IO: the cron schedule and [`next_probe`] decide when the
//! model is probed (scheduled, or an extra probe the evaluator asked for), the real
//! [`Detector`] judges each result with the default [`Policy`], [`ExtraBudget`] bounds the
//! extra probes and `Policy::extra_cadence` spaces them, exactly as the engine and the
//! scheduler do. No sleeps: time is a number.
//!
//! Every scenario runs with [`SEEDS`] seeds (the fault starts at a random phase of the
//! schedule; errors and latency are random); the table gives the median and the worst.
//!
//! Run it with `cargo bench --bench detection` (or `scripts/bench`). It prints Markdown and
//! asserts nothing: BENCHMARKS.md records the figures against the goals.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use modelwatch::config::CronSchedule;
use modelwatch::evaluate::budget::ExtraBudget;
use modelwatch::evaluate::{Detector, Policy};
use modelwatch::probe::Trigger;
use modelwatch::schedule::requests::next_probe;
use modelwatch::store::results::Sample;
use modelwatch::vocabulary::ModelState;
use modelwatch::vocabulary::Outcome;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SEEDS: u64 = 30;
/// The fault starts after a healthy hour (plus a random phase of the schedule).
const FAULT_AT: f64 = 3600.0;
/// Incident scenarios run a whole day, so extra probes are counted "over a day with one
/// incident".
const DAY: f64 = 86_400.0;
const MONTH_DAYS: f64 = 30.0;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// What a probe at `t` seconds (since the start) meets: the model's behaviour.
#[derive(Clone, Copy)]
enum Phase {
    /// Healthy: this failure rate, this first-token time (ms).
    Healthy { errors: f64, ttft: f64 },
    /// Failing this share of probes with `outcome`, first tokens `slow` times the usual,
    /// total time `total_slow` times the usual.
    Fault {
        errors: f64,
        outcome: Outcome,
        slow: f64,
        total_slow: f64,
    },
}

/// A scenario: the phases over time, and what the fault window is (for the figures).
struct Scenario {
    name: &'static str,
    /// `(from, phase)` in seconds since the fault start (negative: before), sorted.
    phases: Vec<(f64, Phase)>,
    /// The fault's length in seconds (0: no fault, a healthy scenario).
    fault_for: f64,
    /// The next `n` probes after the fault start fail, whatever their timing (a blip).
    burst: u32,
    /// Noisy: heavy jitter, 2% of probes 4× slow, a burst of three failures every 6 h.
    noisy: bool,
    /// How long to run, in seconds.
    length: f64,
    /// Whether any impaired state here is a false alarm.
    healthy: bool,
    /// Seconds from the start to the fault (plus a random phase of the schedule).
    fault_at: f64,
    /// The state the fault is by the policy's levels (`None`: not one rate, or no fault):
    /// being called worse than that while it lasts is over-calling it.
    level: Option<ModelState>,
}

const HEALTHY: Phase = Phase::Healthy {
    errors: 0.01,
    ttft: 600.0,
};

fn fault(errors: f64, outcome: Outcome) -> Phase {
    Phase::Fault {
        errors,
        outcome,
        slow: 1.0,
        total_slow: 1.0,
    }
}

fn slow(ttft: f64, total: f64) -> Phase {
    Phase::Fault {
        errors: 0.01,
        outcome: Outcome::Http5xx,
        slow: ttft,
        total_slow: total,
    }
}

/// A day with one fault: `phases` from the fault's start on, the fault lasting `fault_for`.
fn day(name: &'static str, phases: Vec<(f64, Phase)>, fault_for: f64) -> Scenario {
    let mut all = vec![(-FAULT_AT, HEALTHY)];
    all.extend(phases);
    Scenario {
        name,
        phases: all,
        fault_for,
        burst: 0,
        noisy: false,
        length: DAY,
        healthy: false,
        fault_at: FAULT_AT,
        level: None,
    }
}

/// The state a fault of `phase` is by the default policy's levels.
fn level_of(phase: Phase) -> Option<ModelState> {
    let Phase::Fault {
        errors,
        slow,
        total_slow,
        outcome,
    } = phase
    else {
        return None;
    };
    if !outcome.is_provider_fault() {
        return None;
    }
    let by_errors = Policy::default()
        .levels()
        .into_iter()
        .rev()
        .find(|(_, threshold)| errors >= *threshold)
        .map(|(state, _)| state);
    by_errors.or((slow > 1.0 || total_slow > 1.0).then_some(ModelState::DegradedPerformance))
}

/// A day with one 15-minute fault of `phase`.
fn incident(name: &'static str, phase: Phase) -> Scenario {
    Scenario {
        level: level_of(phase),
        ..day(name, vec![(0.0, phase), (900.0, HEALTHY)], 900.0)
    }
}

/// A day with one 4-hour fault of `phase`: long enough for a moderate fault's runs of
/// failures to tempt the evaluator into calling it worse than it is.
fn long_incident(name: &'static str, phase: Phase) -> Scenario {
    const HOURS_4: f64 = 4.0 * 3600.0;
    Scenario {
        level: level_of(phase),
        ..day(name, vec![(0.0, phase), (HOURS_4, HEALTHY)], HOURS_4)
    }
}

fn scenarios() -> Vec<Scenario> {
    let mut flapping = Vec::new();
    for k in 0..8 {
        let start = 120.0 * k as f64;
        flapping.push((start, fault(1.0, Outcome::Http5xx)));
        flapping.push((start + 60.0, HEALTHY));
    }
    let fresh = Scenario {
        fault_at: 300.0,
        ..incident(
            "10× first token, 5 min after a fresh start",
            slow(10.0, 1.0),
        )
    };
    vec![
        incident("hard down (every probe fails)", fault(1.0, Outcome::Http5xx)),
        incident("60% failures", fault(0.6, Outcome::Overloaded)),
        incident("30% failures", fault(0.3, Outcome::Overloaded)),
        incident("10% failures", fault(0.1, Outcome::Overloaded)),
        long_incident("15% failures, 4 h", fault(0.15, Outcome::Overloaded)),
        long_incident("30% failures, 4 h", fault(0.3, Outcome::Overloaded)),
        long_incident("45% failures, 4 h", fault(0.45, Outcome::Overloaded)),
        incident("5× first token", slow(5.0, 1.0)),
        incident("10× first token", slow(10.0, 1.0)),
        fresh,
        incident("5× total time (first token as usual)", slow(1.0, 5.0)),
        Scenario {
            burst: 3,
            healthy: true,
            ..day("burst of 3 failures, then healthy", Vec::new(), 0.0)
        },
        Scenario {
            healthy: true,
            ..incident("429 storm (our quota), 15 min", fault(1.0, Outcome::RateLimited))
        },
        Scenario {
            healthy: true,
            ..incident("auth misconfiguration, 15 min", fault(1.0, Outcome::Auth))
        },
        day("down 1 min in every 2, for 16 min", flapping, 960.0),
        // The 10% tail is below the disabling level: being enabled again in it is right, so
        // the fault counts as over when it starts.
        day(
            "slow recovery (100% → 60% → 30% → 10% → 0, 5 min each; restore counted from the end of the 30% phase)",
            vec![
                (0.0, fault(1.0, Outcome::Http5xx)),
                (300.0, fault(0.6, Outcome::Http5xx)),
                (600.0, fault(0.3, Outcome::Http5xx)),
                (900.0, fault(0.1, Outcome::Http5xx)),
                (1200.0, HEALTHY),
            ],
            900.0,
        ),
        Scenario {
            phases: vec![(
                -FAULT_AT,
                Phase::Healthy {
                    errors: 0.03,
                    ttft: 600.0,
                },
            )],
            noisy: true,
            length: MONTH_DAYS * DAY,
            healthy: true,
            ..day("noisy healthy, 30 days (3% errors, bursts, heavy jitter)", Vec::new(), 0.0)
        },
    ]
}

/// What one run measured.
#[derive(Default, Clone)]
struct Run {
    /// Seconds from the fault start to the first impaired state, and to disabled.
    degraded_s: Option<f64>,
    disabled_s: Option<f64>,
    /// Scheduled probes (base intervals) from the fault start to those.
    degraded_intervals: Option<f64>,
    disabled_intervals: Option<f64>,
    /// Seconds from the first failed probe of the fault to disabled.
    disabled_after_first_failure_s: Option<f64>,
    /// Seconds from the fault's end to enabled again (and to operational).
    restored_s: Option<f64>,
    operational_s: Option<f64>,
    /// State changes from the fault start on.
    flips: u32,
    /// Moves to a milder state, or back to enabled, while the fault was still on.
    flip_backs: u32,
    /// Impaired episodes in a scenario where nothing is wrong.
    false_alarms: u32,
    /// Called worse than the fault is (see [`Scenario::level`]) while it lasted.
    over_called: bool,
    scheduled: u64,
    extra: u64,
}

fn simulate(s: &Scenario, interval_s: u64, seed: u64) -> Run {
    let policy = Policy::default();
    let expression = if interval_s == 60 {
        "0 * * * * *".to_string()
    } else {
        format!("*/{interval_s} * * * * *")
    };
    let cron = CronSchedule::parse(&expression).unwrap_or_else(|e| panic!("cron: {e}"));
    let interval = Duration::from_secs(interval_s);
    let mut rng = SmallRng::seed_from_u64(seed * 7919 + interval_s);
    // The fault starts at a random phase of the schedule.
    let fault_start = s.fault_at + rng.gen_range(0.0..interval_s as f64);
    let start = t0();
    let at = |secs: f64| start + chrono::Duration::milliseconds((secs * 1000.0) as i64);
    let secs = |t: DateTime<Utc>| (t - start).num_milliseconds() as f64 / 1000.0;
    let mut detector = Detector::new(&policy);
    let per_hour = policy.extra_budget(interval);
    let mut budget = ExtraBudget::new(per_hour, start);
    let mut requested: Option<(DateTime<Utc>, Trigger)> = None;
    let mut run = Run::default();
    let mut state = ModelState::Unknown;
    let mut enabled = true;
    let mut now = start;
    let mut burst_left = 0;
    let mut burst_started = false;
    let mut first_failure: Option<f64> = None;
    let mut next_burst = 6.0 * 3600.0;
    let fault_end = fault_start + s.fault_for;
    let (confirm_every, recovery_every) = policy.extra_cadence(interval);
    loop {
        let fire = cron.next_after(now).expect("a cron schedule fires again");
        let (probe_at, trigger) = next_probe(fire, requested);
        // A request whose time has passed goes out at once, as the scheduler's does.
        let probe_at = probe_at.max(now);
        requested = None;
        let t = secs(probe_at);
        if t >= s.length {
            break;
        }
        // The model's behaviour at `t`.
        let rel = t - fault_start;
        let phase = s
            .phases
            .iter()
            .rev()
            .find(|(from, _)| rel >= *from)
            .map_or(HEALTHY, |p| p.1);
        let jitter = if s.noisy {
            rng.gen_range(0.0..1500.0)
        } else {
            rng.gen_range(0.0..300.0)
        };
        let spike = if s.noisy && rng.gen_bool(0.02) {
            4.0
        } else {
            1.0
        };
        let (mut outcome, mut ttft, mut total) = match phase {
            Phase::Healthy { errors, ttft } => {
                let failed = rng.gen_bool(errors);
                let ttft = (ttft + jitter) * spike;
                (
                    if failed {
                        Outcome::Http5xx
                    } else {
                        Outcome::Ok
                    },
                    ttft,
                    ttft + 250.0,
                )
            }
            Phase::Fault {
                errors,
                outcome,
                slow,
                total_slow,
            } => {
                let failed = rng.gen_bool(errors.min(1.0));
                let ttft = (600.0 + jitter) * slow;
                (
                    if failed { outcome } else { Outcome::Ok },
                    ttft,
                    (ttft + 250.0) * total_slow,
                )
            }
        };
        // A blip: the next few probes fail, however soon they come (at the fault start for
        // the burst scenario, every six hours in the noisy one).
        if s.burst > 0 && rel >= 0.0 && !burst_started {
            burst_started = true;
            burst_left = s.burst;
        }
        if s.noisy && t >= next_burst {
            burst_left = 3;
            next_burst += 6.0 * 3600.0;
        }
        if burst_left > 0 {
            burst_left -= 1;
            outcome = Outcome::Overloaded;
        }
        if outcome != Outcome::Ok {
            ttft = 0.0;
            total = total.min(2000.0);
        }
        if outcome.is_provider_fault() && rel >= 0.0 && t < fault_end && first_failure.is_none() {
            first_failure = Some(t);
        }
        // The probe runs, then its result is judged when it ends.
        let ended = t + total / 1000.0;
        let sample = Sample {
            at: probe_at,
            outcome,
            ttft_ms: (outcome == Outcome::Ok).then_some(ttft as u32),
            total_ms: total as u32,
            trigger,
        };
        match trigger {
            Trigger::Scheduled => run.scheduled += 1,
            _ => run.extra += 1,
        }
        budget.spend(per_hour, trigger, at(ended));
        detector.observe(&sample, &policy, true);
        if std::env::var("SCORECARD_PROBES").is_ok_and(|v| s.name.starts_with(&v))
            && seed == 0
            && rel > -60.0
            && rel < 900.0
        {
            eprintln!(
                "{interval_s}s {rel:+.0} {trigger:?} {outcome} wants={:?} {:?}",
                detector.wants(&policy),
                detector
                    .evidence(&policy, Default::default())
                    .tests
                    .iter()
                    .map(|t| (t.held, t.progress))
                    .collect::<Vec<_>>()
            );
        }
        let new_state = detector.state(&policy);
        if new_state != state {
            if std::env::var("SCORECARD_TRACE").is_ok_and(|v| s.name.starts_with(&v)) && seed == 0 {
                eprintln!(
                    "{interval_s}s t={:.0} ({:+.0} from fault): {state} -> {new_state} {:?}",
                    ended,
                    ended - fault_start,
                    detector.reasons(&policy)
                );
            }
            let was_impaired = state.is_impaired();
            let new_enabled = if new_state == ModelState::Unknown {
                enabled
            } else {
                !policy.disables(new_state)
            };
            let during = ended >= fault_start && ended < fault_end;
            let severity = |s: ModelState| s.severity().unwrap_or(0);
            if during
                && s.level
                    .is_some_and(|level| severity(new_state) > severity(level))
            {
                run.over_called = true;
            }
            if state != ModelState::Unknown && ended >= fault_start {
                run.flips += 1;
            }
            // Back to a state that is not impaired, or enabled again, while the fault goes on.
            let back = state.is_impaired() && !new_state.is_impaired();
            if during && (back || (!enabled && new_enabled)) && run.degraded_s.is_some() {
                run.flip_backs += 1;
            }
            if new_state.is_impaired() && !was_impaired {
                if s.healthy || ended < fault_start {
                    run.false_alarms += 1;
                    if std::env::var_os("SCORECARD_DEBUG").is_some() {
                        eprintln!(
                            "false alarm: {} at {interval_s} s, t={ended:.0}: {new_state}: {:?}",
                            s.name,
                            detector.reasons(&policy)
                        );
                    }
                } else if run.degraded_s.is_none() {
                    run.degraded_s = Some(ended - fault_start);
                    run.degraded_intervals = Some((ended - fault_start) / interval_s as f64);
                }
            }
            if !new_enabled
                && enabled
                && !s.healthy
                && ended >= fault_start
                && run.disabled_s.is_none()
            {
                run.disabled_s = Some(ended - fault_start);
                run.disabled_intervals = Some((ended - fault_start) / interval_s as f64);
                run.disabled_after_first_failure_s = first_failure.map(|f| ended - f);
            }
            if new_enabled
                && !enabled
                && !s.healthy
                && ended >= fault_end
                && run.restored_s.is_none()
            {
                run.restored_s = Some(ended - fault_end);
            }
            if new_state == ModelState::Operational
                && !s.healthy
                && ended >= fault_end
                && run.degraded_s.is_some()
                && run.operational_s.is_none()
            {
                run.operational_s = Some(ended - fault_end);
            }
            state = new_state;
            enabled = new_enabled;
        }
        // The evaluator's wish for an extra probe, within the budget, as the engine asks.
        let end_at = at(ended);
        if let Some(want) = detector.wants(&policy) {
            let every = match want {
                Trigger::Recovery => recovery_every,
                _ => confirm_every,
            };
            if let Some(every) = every {
                if budget.available(per_hour, want, end_at) {
                    // Spaced from the start of the probe just judged, as the engine asks.
                    let next = probe_at + chrono::Duration::from_std(every).unwrap_or_default();
                    requested = Some((next, want));
                }
            }
        }
        // The scheduler plans the next probe after this one ended.
        now = end_at.max(probe_at);
    }
    run
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

fn worst(v: &[f64]) -> Option<f64> {
    v.iter().copied().max_by(|a, b| a.total_cmp(b))
}

/// "median / worst" of one figure over the seeds, or "never (k of n)" when some runs never
/// reached it.
fn figure(runs: &[Run], get: impl Fn(&Run) -> Option<f64>, unit: &str) -> String {
    let got: Vec<f64> = runs.iter().filter_map(&get).collect();
    let missing = runs.len() - got.len();
    let text = match (median(got.clone()), worst(&got)) {
        (Some(m), Some(w)) => format!("{m:.0} / {w:.0}{unit}"),
        _ => "never".into(),
    };
    if missing > 0 && !got.is_empty() {
        format!("{text} (never in {missing} of {})", runs.len())
    } else {
        text
    }
}

fn main() {
    println!("# Detection scorecard");
    println!();
    println!(
        "Default policy, {SEEDS} seeds per row, figures as **median / worst**. Times in seconds from the fault's start (degraded, disabled) or end (restored, operational); \"intervals\" are base probe intervals (scheduled probes) since the fault's start; \"after 1st failure\" is from the first failed probe of the fault to disabled. Extra probes are over the whole run (a day with one incident, or 30 days) as a share of the scheduled ones."
    );
    println!();
    for interval in [10u64, 30, 60] {
        println!("## Schedule every {interval} s");
        println!();
        println!("| scenario | degraded s | degraded intervals | disabled s | disabled intervals | after 1st failure s | restored s | operational s | flips | flip-backs in fault | false alarms / month | called worse than it is | extra / scheduled |");
        println!(
            "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
        );
        for s in scenarios() {
            let runs: Vec<Run> = (0..SEEDS)
                .map(|seed| simulate(&s, interval, seed))
                .collect();
            let months = runs.len() as f64 * s.length / (MONTH_DAYS * DAY);
            let false_alarms: u32 = runs.iter().map(|r| r.false_alarms).sum();
            let flips = runs.iter().map(|r| r.flips).max().unwrap_or(0);
            let flip_backs = runs.iter().map(|r| r.flip_backs).max().unwrap_or(0);
            let scheduled: u64 = runs.iter().map(|r| r.scheduled).sum();
            let extra: u64 = runs.iter().map(|r| r.extra).sum();
            let worst_ratio = runs
                .iter()
                .map(|r| r.extra as f64 / r.scheduled.max(1) as f64)
                .fold(0.0, f64::max);
            let over_called = match s.level {
                Some(_) => format!(
                    "{} of {}",
                    runs.iter().filter(|r| r.over_called).count(),
                    runs.len()
                ),
                None => "–".into(),
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {:.2} (worst {:.2}) |",
                s.name,
                figure(&runs, |r| r.degraded_s, ""),
                figure(&runs, |r| r.degraded_intervals, ""),
                figure(&runs, |r| r.disabled_s, ""),
                figure(&runs, |r| r.disabled_intervals, ""),
                figure(&runs, |r| r.disabled_after_first_failure_s, ""),
                figure(&runs, |r| r.restored_s, ""),
                figure(&runs, |r| r.operational_s, ""),
                flips,
                flip_backs,
                false_alarms as f64 / months,
                over_called,
                extra as f64 / scheduled.max(1) as f64,
                worst_ratio,
            );
        }
        println!();
    }
}
