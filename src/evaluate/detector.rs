//! One model's detector: every probe result moves its sequential tests, and its state is
//! read off them. O(1) time per result, a few hundred bytes per model, no IO.
//!
//! - **Errors.** Three [`Alarm`]s on "the probe failed", one per impaired state (degraded,
//!   partial outage, major outage), against the model's own healthy failure rate, or, to
//!   escalate from a level already held, against that level's threshold. A worse
//!   level held implies the milder ones; a level clears only when the leaving test shows the
//!   fault is over (worst first), so moving between impaired states never flips the routing
//!   decision back on while the model still fails.
//! - **Latency.** One [`Alarm`] on "the probe was slow": over `latency_factor` times the
//!   model's usual first token or total time (exponentially weighted medians that exist after
//!   five successful probes), or over an absolute limit. Slow is `degraded_performance`.
//! - **Not counted.** `rate_limited` (our own quota) moves nothing; misconfiguration
//!   (`auth`, `bad_request`, `not_found`) three times in a row makes the model `unknown`.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use super::policy::HEALTHY_SLOW_SHARE;
use super::sequential::{Alarm, EwMedian, Transition};
use super::Policy;
use crate::probe::Trigger;
use crate::stats::{percentile, wilson};
use crate::store::results::Sample;
use crate::vocabulary::evidence::{ms, Baseline, Evidence, ExtraProbes, TestFigure};
use crate::vocabulary::ModelState;
use crate::vocabulary::Outcome;

/// Misconfiguration outcomes in a row (nothing counted between them) that make a model unknown.
const MISCONFIGURED_RUN: u32 = 3;
/// A test this far (of its bound) towards raising an alarm puts the model in doubt: extra
/// probes are sent to settle it sooner. One failure of a healthy model gets the degraded
/// test there, and about six good probes after it take it back below: cheap for a model
/// that fails 1% of the time (6% more probes), and enough that a 30% fault, whose next
/// failure comes within six probes nine times in ten, keeps being probed until it is caught.
const DOUBT: f64 = 0.03;
/// The end of a non-disabling impairment is confirmed with extra probes only once this few
/// good probes would settle it.
const CONFIRM_END_WITHIN: u32 = 10;
/// How much one successful probe moves the latency medians (in log space); slow probes move
/// them a tenth of that, so a fault is not learnt as the new normal within minutes, while a
/// lasting change still is within hours.
const MEDIAN_STEP: f64 = 0.05;
/// The healthy failure rate is learnt with a memory of about this many counted probes.
const HEALTHY_MEMORY: f64 = 500.0;
/// A fault that comes back within this long of its end is a relapse: the model is then
/// restored only after good evidence lasting [`RELAPSE_HOLD`], doubled with each relapse
/// (up to [`MAX_HOLD`]), so a fault that comes and goes does not flip it on and off.
const RELAPSE_MEMORY: chrono::Duration = chrono::Duration::hours(1);
const RELAPSE_HOLD: chrono::Duration = chrono::Duration::minutes(1);
const MAX_HOLD: chrono::Duration = chrono::Duration::minutes(30);

/// One model's statistics, rebuilt at start from recent results (see the engine).
#[derive(Debug, Clone)]
pub struct Detector {
    /// The failure rate of this model when healthy (p0), learnt while nothing is amiss.
    healthy: f64,
    /// degraded, partial outage, major outage.
    errors: [Alarm; 3],
    slow: Alarm,
    ttft: EwMedian,
    total: EwMedian,
    /// Successful probes the medians have seen (capped; only "enough or not" matters).
    latency_seen: u32,
    /// Counted probes (ok and provider faults) since the detector started or was reset.
    counted: u32,
    misconfigured_run: u32,
    /// The last `window_probes` results, for the evidence people read (not for decisions).
    recent: VecDeque<Sample>,
    /// When the last error episode ended, and how many times in a row one came back soon.
    episode_ended: Option<DateTime<Utc>>,
    relapses: u32,
}

impl Detector {
    pub fn new(policy: &Policy) -> Self {
        Detector::keeping(policy, policy.window_probes as usize)
    }

    /// A detector that keeps the last `window` samples for the evidence.
    fn keeping(policy: &Policy, window: usize) -> Self {
        Detector {
            healthy: policy.healthy_error_rate,
            errors: [Alarm::default(); 3],
            slow: Alarm::default(),
            ttft: EwMedian::default(),
            total: EwMedian::default(),
            latency_seen: 0,
            counted: 0,
            misconfigured_run: 0,
            recent: VecDeque::with_capacity(window),
            episode_ended: None,
            relapses: 0,
        }
    }

    /// A detector of one source of the application's traffic: the error tests only (requests
    /// differ in size, so their latency is shown but not judged) and no window of samples.
    pub fn for_traffic(policy: &Policy) -> Self {
        Detector::keeping(policy, 0)
    }

    /// Folds in one request of the application's traffic (or, while its source is silent, a
    /// probe standing in for it): only whether it failed at the provider counts.
    pub fn observe_request(&mut self, failed: bool, at: DateTime<Utc>, policy: &Policy) {
        self.misconfigured_run = 0;
        self.counted = self.counted.saturating_add(1);
        self.observe_errors(failed, at, policy);
    }

    /// Good observations in a row that would end the worst held error level now (`None`
    /// when none is held).
    pub fn good_needed(&self, policy: &Policy) -> Option<u32> {
        let i = self.errors.iter().rposition(|a| a.held)?;
        let a = &self.errors[i];
        Some(a.good_needed(self.healthy, policy.levels()[i].1, policy.bounds()))
    }

    /// Folds in one result. `count_faults` is false while our own network is suspected
    /// (every other provider failing to connect too): a `connect` failure then proves nothing
    /// about this model.
    pub fn observe(&mut self, sample: &Sample, policy: &Policy, count_faults: bool) {
        self.remember(sample, policy);
        let outcome = sample.outcome;
        if outcome.is_misconfiguration() {
            self.misconfigured_run = self.misconfigured_run.saturating_add(1);
        } else if outcome == Outcome::Ok || outcome.is_provider_fault() {
            let counts = outcome == Outcome::Ok || count_faults || outcome != Outcome::Connect;
            if counts {
                self.misconfigured_run = 0;
                self.counted = self.counted.saturating_add(1);
                self.observe_errors(outcome != Outcome::Ok, sample.at, policy);
                if outcome == Outcome::Ok {
                    self.observe_latency(sample, policy);
                }
            }
        }
    }

    fn remember(&mut self, sample: &Sample, policy: &Policy) {
        let keep = policy.window_probes.max(1) as usize;
        while self.recent.len() >= keep {
            self.recent.pop_front();
        }
        self.recent.push_back(sample.clone());
    }

    /// How long good evidence must last before an error episode ends: none, unless the fault
    /// keeps coming back.
    fn hold(&self) -> chrono::Duration {
        match self.relapses {
            0 => chrono::Duration::zero(),
            n => (RELAPSE_HOLD * 2i32.saturating_pow(n.min(16) - 1)).min(MAX_HOLD),
        }
    }

    fn observe_errors(&mut self, failed: bool, at: DateTime<Utc>, policy: &Policy) {
        let bounds = policy.bounds();
        let levels = policy.levels();
        if self.errors.iter().all(|a| !a.held) {
            // Learn the healthy rate from every probe while no alarm is held. Learning only
            // from probes that raise no doubt would skip most failures and learn too low a
            // rate, which made bursts of a noisy model look like outages in the scorecard; a
            // fault still building moves it little (a memory of 500 probes, capped at half
            // the degraded level), at most one more failure before a hard-down alarm.
            let floor = policy.healthy_error_rate;
            let cap = (policy.degraded_error_rate / 2.0).max(floor);
            let x = if failed { 1.0 } else { 0.0 };
            self.healthy = (self.healthy + (x - self.healthy) / HEALTHY_MEMORY).clamp(floor, cap);
        }
        let hold = self.hold();
        let in_episode = self.errors[0].held;
        let nulls = self.escalation_nulls(policy);
        for (i, (_, threshold)) in levels.into_iter().enumerate() {
            // A held level's leaving test compares the fault with the healthy rate; a level
            // not held yet is entered against the null of `escalation_nulls`.
            let p0 = if self.errors[i].held {
                self.healthy
            } else {
                nulls[i]
            };
            match self.errors[i].observe(failed, p0, threshold, bounds, at, hold) {
                Some(Transition::Raised) => {
                    // A worse level implies the milder ones, on the same evidence.
                    let (seen, bad) = (self.errors[i].fault_seen, self.errors[i].fault_bad);
                    for milder in &mut self.errors[..i] {
                        if !milder.held {
                            milder.raise(seen, bad);
                        }
                    }
                }
                Some(Transition::Cleared) => {
                    // The fault is below this level, so below every worse one too.
                    for worse in &mut self.errors[i + 1..] {
                        worse.clear();
                    }
                }
                None => {}
            }
        }
        match (in_episode, self.errors[0].held) {
            (false, true) => {
                let soon = self
                    .episode_ended
                    .is_some_and(|end| at - end <= RELAPSE_MEMORY);
                self.relapses = if soon { self.relapses + 1 } else { 0 };
            }
            (true, false) => self.episode_ended = Some(at),
            _ => {}
        }
    }

    /// The rate each error level's entering test takes as "nothing worse is going on": the
    /// healthy rate, or, while a milder level is held, that level's threshold.
    ///
    /// Why: against the healthy rate (2%) five failures in a row are a hard-down signature,
    /// but a model already failing 30% produces such runs every few hundred probes, so a
    /// partial outage was called a major one within the hour, and a 15% fault (degraded,
    /// enabled) was disabled as a partial outage. Escalating is judged against the milder
    /// level instead, with the same bound: a fault that stays at that level escalates at
    /// most once per `false_alarm_probes` probes. A hard-down model is unaffected: from
    /// healthy the worst level crosses first (after five failures) and implies the others.
    /// Computed before the observation, so levels raised by it change nothing until the next.
    fn escalation_nulls(&self, policy: &Policy) -> [f64; 3] {
        let levels = policy.levels();
        let mut nulls = [self.healthy; 3];
        for (i, null) in nulls.iter_mut().enumerate() {
            if let Some(milder) = self.errors[..i].iter().rposition(|a| a.held) {
                *null = self.healthy.max(levels[milder].1);
            }
        }
        nulls
    }

    fn observe_latency(&mut self, sample: &Sample, policy: &Policy) {
        let over = |value: Option<u32>, usual: Option<u32>, limit: Option<std::time::Duration>| {
            let Some(value) = value else { return false };
            let relative = usual.is_some_and(|u| value as f64 >= policy.latency_factor * u as f64);
            let absolute = limit.is_some_and(|l| value as u128 > l.as_millis());
            relative || absolute
        };
        let slow = over(sample.ttft_ms, self.ttft.value(), policy.ttft_limit)
            || over(
                Some(sample.total_ms),
                self.total.value(),
                policy.total_limit,
            );
        // A slow probe moves the usual a tenth of a step, and a hundredth while the model is
        // held slow: a fault is not learnt as the new normal within minutes, while a lasting
        // change still is, within hours.
        let step = match (slow, self.slow.held) {
            (false, _) => MEDIAN_STEP,
            (true, false) => MEDIAN_STEP / 10.0,
            (true, true) => MEDIAN_STEP / 100.0,
        };
        if let Some(ttft) = sample.ttft_ms {
            self.ttft.observe(ttft, step);
        }
        self.total.observe(sample.total_ms, step);
        self.latency_seen = self.latency_seen.saturating_add(1).min(1000);
        self.slow.observe(
            slow,
            HEALTHY_SLOW_SHARE,
            policy.slow_share,
            policy.bounds(),
            sample.at,
            chrono::Duration::zero(),
        );
    }

    /// Forgets the evidence of impairment (maintenance: the model was down on purpose), and
    /// starts counting evidence again; what is learnt of the model's usual behaviour stays.
    pub fn reset(&mut self) {
        self.relapses = 0;
        self.episode_ended = None;
        self.errors = [Alarm::default(); 3];
        self.slow = Alarm::default();
        self.counted = 0;
        self.misconfigured_run = 0;
    }

    /// Holds exactly the levels of `state` (the stored state wins over statistics rebuilt at
    /// start, so a restart never announces anything by itself).
    pub fn align(&mut self, state: ModelState, policy: &Policy) {
        if self.state(policy) == state {
            return;
        }
        let severity = state.severity().unwrap_or(0) as usize;
        for (i, alarm) in self.errors.iter_mut().enumerate() {
            let want = i < severity;
            if want && !alarm.held {
                alarm.raise(0, 0);
            } else if !want && alarm.held {
                alarm.clear();
            }
        }
        if severity == 1 && !self.errors[0].held {
            self.slow.raise(0, 0);
        }
        if state.severity().is_some() {
            self.counted = self.counted.max(policy.min_samples);
            self.misconfigured_run = 0;
        }
        if severity != 1 {
            self.slow.clear();
        }
    }

    /// The state the evidence supports now.
    pub fn state(&self, policy: &Policy) -> ModelState {
        if self.misconfigured_run >= MISCONFIGURED_RUN {
            return ModelState::Unknown;
        }
        if let Some(i) = self.errors.iter().rposition(|a| a.held) {
            return policy.levels()[i].0;
        }
        if self.slow.held {
            return ModelState::DegradedPerformance;
        }
        if self.counted < policy.min_samples.max(1) {
            return ModelState::Unknown;
        }
        ModelState::Operational
    }

    /// The extra probe this model's evidence asks for, if any: recovery while the evidence
    /// disables it, confirmation while a test is under way.
    ///
    /// Confirmations go where a decision is near: a test building up, or the end of an
    /// impairment being confirmed.
    pub fn wants(&self, policy: &Policy) -> Option<Trigger> {
        let bounds = policy.bounds();
        let levels = policy.levels();
        let ending = self.errors.iter().enumerate().any(|(i, a)| {
            a.held
                && a.fall > 0.0
                && (policy.disables(levels[i].0)
                    || a.good_needed(self.healthy, levels[i].1, bounds) <= CONFIRM_END_WITHIN)
        }) || (self.slow.held
            && self.slow.fall > 0.0
            && self
                .slow
                .good_needed(HEALTHY_SLOW_SHARE, policy.slow_share, bounds)
                <= CONFIRM_END_WITHIN);
        if ending {
            return Some(Trigger::Confirm);
        }
        if policy.disables(self.state(policy)) {
            return Some(Trigger::Recovery);
        }
        let building = self
            .errors
            .iter()
            .chain(std::iter::once(&self.slow))
            .any(|a| !a.held && a.progress(bounds) >= DOUBT);
        building.then_some(Trigger::Confirm)
    }

    /// The reasons behind the state, most important first, in words people read.
    pub fn reasons(&self, policy: &Policy) -> Vec<String> {
        let bounds = policy.bounds();
        let levels = policy.levels();
        let state = self.state(policy);
        let window = self.window_counts();
        let mut reasons = Vec::new();
        let top = self.errors.iter().rposition(|a| a.held);
        if let Some(i) = top {
            let a = &self.errors[i];
            let label = levels[i].0.label().to_lowercase();
            if a.fall > 0.0 {
                let needed = a.good_needed(self.healthy, levels[i].1, bounds);
                let hold = self.hold();
                reasons.push(if needed == 0 && hold > chrono::Duration::zero() {
                    format!(
                        "recovering: still {label} until good probes have lasted {} (the fault came back {} times)",
                        humantime::format_duration(hold.to_std().unwrap_or_default()),
                        self.relapses
                    )
                } else {
                    format!("recovering: still {label} until {needed} more good probes in a row")
                });
            }
            reasons.push(format!(
                "{label}: {} of {} probes failed since it began (usual {}); errors at or above {} beyond chance",
                a.fault_bad + a.run_bad,
                a.fault_seen + a.run,
                pct(self.healthy),
                pct(levels[i].1),
            ));
        }
        if self.slow.held {
            if top.is_none() && self.slow.fall > 0.0 {
                reasons.push(format!(
                    "recovering: still degraded performance until {} more probes at the usual speed",
                    self.slow
                        .good_needed(HEALTHY_SLOW_SHARE, policy.slow_share, bounds)
                ));
            }
            reasons.push(self.slow_words(policy));
        }
        // The next level worse than the state whose evidence is building (level `i` stands
        // for severity `i + 1`).
        let next = top
            .map_or(0, |i| i + 1)
            .max(state.severity().unwrap_or(0) as usize);
        if let Some((i, a)) = self
            .errors
            .iter()
            .enumerate()
            .skip(next)
            .filter(|(_, a)| a.progress(bounds) >= DOUBT)
            .max_by(|x, y| x.1.progress(bounds).total_cmp(&y.1.progress(bounds)))
        {
            let words = format!(
                "evidence for {} at {:.0}% of its bound ({} of {} probes failed)",
                levels[i].0.label().to_lowercase(),
                a.progress(bounds) * 100.0,
                a.run_bad,
                a.run
            );
            if state.is_impaired() {
                reasons.insert(
                    0,
                    format!("worsening: still {}; {words}", state.label().to_lowercase()),
                );
            } else {
                reasons.push(format!("confirming: {words}"));
            }
        }
        match state {
            // Just after a fault the recent window still holds its failures: "healthy: error
            // rate 87%" would contradict itself, so say what the state rests on (the good run)
            // and that the window's rate is the fault that ended.
            ModelState::Operational if window.failures > 0 && self.window_holds_ended_episode() => {
                reasons.insert(
                    0,
                    format!(
                        "recovered: the last {} probes succeeded; error rate {} ({} of {} recent probes; usual {}) counts the fault that ended",
                        self.trailing_ok(),
                        pct(window.rate()),
                        window.failures,
                        window.samples,
                        pct(self.healthy)
                    ),
                )
            }
            ModelState::Operational => reasons.insert(
                0,
                format!(
                    "healthy: error rate {} ({} of {} recent probes; usual {})",
                    pct(window.rate()),
                    window.failures,
                    window.samples,
                    pct(self.healthy)
                ),
            ),
            ModelState::Unknown if self.misconfigured_run >= MISCONFIGURED_RUN => reasons.insert(
                0,
                format!("probe misconfigured: {}", window.misconfiguration()),
            ),
            ModelState::Unknown => reasons.insert(
                0,
                format!(
                    "not enough evidence: {} counted probes, {} needed",
                    self.counted,
                    policy.min_samples.max(1)
                ),
            ),
            _ => {}
        }
        if window.throttled > 0 {
            reasons.push(format!(
                "probe throttled: {} of {} probes got 429 (not counted)",
                window.throttled, window.probes
            ));
        }
        if window.misconfigured > 0 && self.misconfigured_run < MISCONFIGURED_RUN {
            reasons.push(format!(
                "probe misconfigured in part: {}",
                window.misconfiguration()
            ));
        }
        reasons
    }

    fn slow_words(&self, policy: &Policy) -> String {
        let mut ttft: Vec<u32> = self.last_ok(6).filter_map(|s| s.ttft_ms).collect();
        let mut total: Vec<u32> = self.last_ok(6).map(|s| s.total_ms).collect();
        let checks = [
            (
                "time to first token",
                percentile(&mut ttft, 50),
                self.ttft.value(),
                policy.ttft_limit,
            ),
            (
                "total time",
                percentile(&mut total, 50),
                self.total.value(),
                policy.total_limit,
            ),
        ];
        let mut words = Vec::new();
        for (what, now, usual, limit) in checks {
            let Some(now) = now else { continue };
            if let Some(usual) = usual.filter(|u| *u > 0) {
                let factor = now as f64 / usual as f64;
                if factor >= policy.latency_factor {
                    words.push(format!(
                        "{what} median {} is {factor:.1}× its usual {}",
                        ms(now),
                        ms(usual)
                    ));
                }
            }
            if let Some(limit) = limit.filter(|l| now as u128 > l.as_millis()) {
                words.push(format!(
                    "{what} median {} is over the limit {}",
                    ms(now),
                    ms(limit.as_millis() as u32)
                ));
            }
        }
        if words.is_empty() {
            format!(
                "slow: more than {} of recent probes over {}× the usual latency",
                pct(policy.slow_share),
                policy.latency_factor
            )
        } else {
            format!("slow: {}", words.join("; "))
        }
    }

    /// How many of the newest counted probes succeeded in a row (throttled and misconfigured
    /// probes neither count nor break the run).
    fn trailing_ok(&self) -> usize {
        self.recent
            .iter()
            .rev()
            .filter(|s| s.outcome == Outcome::Ok || s.outcome.is_provider_fault())
            .take_while(|s| s.outcome == Outcome::Ok)
            .count()
    }

    /// Whether the window of recent probes reaches back into an error episode that ended.
    fn window_holds_ended_episode(&self) -> bool {
        match (self.episode_ended, self.recent.front()) {
            (Some(ended), Some(oldest)) => oldest.at <= ended,
            _ => false,
        }
    }

    fn last_ok(&self, n: usize) -> impl Iterator<Item = &Sample> {
        self.recent
            .iter()
            .rev()
            .filter(|s| s.outcome == Outcome::Ok)
            .take(n)
    }

    fn window_counts(&self) -> WindowCounts {
        let mut c = WindowCounts::default();
        for s in &self.recent {
            c.probes += 1;
            *c.outcomes.entry(s.outcome.as_str()).or_default() += 1;
            match s.outcome {
                Outcome::Ok => c.samples += 1,
                o if o.is_provider_fault() => {
                    c.samples += 1;
                    c.failures += 1;
                }
                Outcome::RateLimited => c.throttled += 1,
                _ => c.misconfigured += 1,
            }
        }
        c
    }

    /// The figures behind the state, as stored with the decision.
    pub fn evidence(&self, policy: &Policy, extra: ExtraProbes) -> Evidence {
        let bounds = policy.bounds();
        let c = self.window_counts();
        let (lower, upper) = wilson(c.failures, c.samples, policy.confidence_z);
        let ok: Vec<&Sample> = self
            .recent
            .iter()
            .filter(|s| s.outcome == Outcome::Ok)
            .collect();
        let mut ttft: Vec<u32> = ok.iter().filter_map(|s| s.ttft_ms).collect();
        let mut total: Vec<u32> = ok.iter().map(|s| s.total_ms).collect();
        let figure = |test: String, a: &Alarm| TestFigure {
            test,
            held: a.held,
            progress: (a.progress(bounds) * 1000.0).round() / 1000.0,
            probes: a.run + if a.held { a.fault_seen } else { 0 },
            bad: a.run_bad + if a.held { a.fault_bad } else { 0 },
        };
        let mut tests: Vec<TestFigure> = self
            .errors
            .iter()
            .zip(policy.levels())
            .map(|(a, (_, threshold))| figure(format!("errors ≥ {}", pct(threshold)), a))
            .collect();
        tests.push(figure(
            format!(
                "slow ≥ {} (over {}× usual)",
                pct(policy.slow_share),
                policy.latency_factor
            ),
            &self.slow,
        ));
        Evidence {
            probes: c.probes,
            samples: c.samples,
            failures: c.failures,
            error_rate: c.rate(),
            error_rate_lower: lower,
            error_rate_upper: upper,
            ttft_p50_ms: percentile(&mut ttft, 50),
            ttft_p95_ms: percentile(&mut ttft, 95),
            total_p50_ms: percentile(&mut total, 50),
            total_p95_ms: percentile(&mut total, 95),
            baseline: Baseline {
                ttft_p50_ms: self.ttft.value(),
                total_p50_ms: self.total.value(),
                samples: self.latency_seen,
            },
            outcomes: c
                .outcomes
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            throttled: c.throttled,
            misconfigured: c.misconfigured,
            healthy_error_rate: (self.healthy * 10_000.0).round() / 10_000.0,
            tests,
            extra_probes: extra,
            traffic: None,
            vantages: Vec::new(),
        }
    }
}

/// Counts over the recent results.
#[derive(Default)]
struct WindowCounts {
    probes: u32,
    samples: u32,
    failures: u32,
    throttled: u32,
    misconfigured: u32,
    outcomes: BTreeMap<&'static str, u32>,
}

impl WindowCounts {
    fn rate(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.failures as f64 / self.samples as f64
        }
    }

    fn misconfiguration(&self) -> String {
        let classes: Vec<String> = ["auth", "bad_request", "not_found"]
            .iter()
            .filter_map(|c| self.outcomes.get(*c).map(|n| format!("{n} {c}")))
            .collect();
        format!(
            "{} of {} probes ({}); check the key, model id and endpoint",
            self.misconfigured,
            self.probes,
            classes.join(", ")
        )
    }
}

/// A rate as people read it: "2%", "0.5%".
fn pct(rate: f64) -> String {
    let p = rate * 100.0;
    if p != 0.0 && p < 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}
