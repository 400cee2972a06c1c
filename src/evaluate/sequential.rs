//! Sequential statistics: a stream of yes/no observations judged after every one of them.
//!
//! Every signal the evaluator watches is a Bernoulli stream: a probe failed or not, a first
//! token came slow or not. For each level of badness an [`Alarm`] runs two tests on it:
//! - **entering** is Page's CUSUM of log-likelihood ratios between the model's own healthy
//!   rate `p0` and an alternative `p1` chosen by [`alternative_for`] so that the statistic
//!   drifts upwards exactly when the true rate is above the level's threshold. It raises the
//!   alarm when it crosses `enter_bound`; under the healthy rate that happens on average at
//!   most once per `e^enter_bound` observations (Lorden's bound on the in-control run length).
//! - **leaving** is the same kind of test run the other way, against the rate the model was
//!   actually failing at (the fault's own failure rate so far, never below the level's
//!   threshold): a model that was hard down is believed recovered after a few good probes,
//!   one that was failing 30% only after many, so a moderate fault never flips back early.
//!
//! Pure arithmetic, no clock and no IO; table-driven tests below.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::stats::wilson;

/// Rates are kept away from 0 and 1 so that every log-likelihood ratio is finite.
const RATE_FLOOR: f64 = 1e-4;
const ALTERNATIVE_CEILING: f64 = 0.9999;
/// The highest failure rate the leaving test assumes of a fault: a model that failed every
/// probe is believed recovered after a few good ones, not after the first.
const RATE_CEILING: f64 = 0.99;
/// The normal quantile of the one-sided 95% interval on a fault's own failure rate.
const FAULT_RATE_Z: f64 = 1.645;
/// How far (relative) the healthy rate may move before an alarm solves its alternative again.
const ALTERNATIVE_TOLERANCE: f64 = 0.01;
/// The weight of the newest observation in an alarm's recent rate.
const RECENT_WEIGHT: f64 = 0.1;

/// The log-likelihood ratio of one observation for "rate is `p1`" against "rate is `p0`":
/// `(if bad, if good)`. Positive for a bad observation when `p1 > p0`.
pub fn llr(p0: f64, p1: f64) -> (f64, f64) {
    let p0 = p0.clamp(RATE_FLOOR, ALTERNATIVE_CEILING);
    let p1 = p1.clamp(RATE_FLOOR, ALTERNATIVE_CEILING);
    ((p1 / p0).ln(), ((1.0 - p1) / (1.0 - p0)).ln())
}

/// The rate at which a test of `p0` against `p1` has no drift: above it the CUSUM rises.
pub fn break_even(p0: f64, p1: f64) -> f64 {
    let (bad, good) = llr(p0, p1);
    -good / (bad - good)
}

/// The alternative `p1 > p0` whose CUSUM against `p0` breaks even at `threshold`, so the
/// test rises exactly when the true rate exceeds the threshold. `threshold` must lie above
/// `p0`; it is clamped to just above it otherwise.
pub fn alternative_for(p0: f64, threshold: f64) -> f64 {
    let p0 = p0.clamp(RATE_FLOOR, 0.5);
    let threshold = threshold.clamp(p0 * 1.01, 0.95);
    // break_even rises monotonically in p1 on (p0, 1): bisection.
    let (mut lo, mut hi) = (threshold, ALTERNATIVE_CEILING);
    if break_even(p0, hi) < threshold {
        return hi;
    }
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if break_even(p0, mid) < threshold {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// What one observation did to an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Raised,
    Cleared,
}

/// The bounds both tests must cross, in nats (natural log units of likelihood ratio).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// `ln` of the healthy observations per false alarm (Lorden: at least `e^enter`).
    pub enter: f64,
    /// `ln` of the odds against leaving while the fault goes on.
    pub exit: f64,
}

/// One level's pair of tests on one stream. Small and `Copy`: thousands of models keep
/// several each in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// The entering CUSUM, `0 ..` (only while not held).
    pub rise: f64,
    /// Raised and not yet cleared.
    pub held: bool,
    /// The leaving test, `0 ..` (only while held).
    pub fall: f64,
    /// The rate the leaving test compares against, fixed when `fall` left zero.
    pub fault_rate: f64,
    /// Observations and bad ones since the statistic in progress last stood at zero: the
    /// evidence behind the current figure, for the reasons people read.
    pub run: u32,
    pub run_bad: u32,
    /// While held: observations and bad ones of the fault so far (the raising run, then
    /// every run of the leaving test that fell back to zero). Their ratio is the fault's rate.
    pub fault_seen: u32,
    pub fault_bad: u32,
    /// When the leaving test last left zero: the good run it is judging began then.
    pub good_since: Option<DateTime<Utc>>,
    /// The stream's recent bad rate (exponentially weighted, a memory of about ten).
    pub recent: f64,
    /// `(p0, threshold, alternative)` of the last [`alternative_for`] solved for this alarm:
    /// the healthy rate moves by tiny steps, so the bisection is redone only when it has
    /// moved enough to matter.
    #[serde(skip)]
    alternative: (f64, f64, f64),
}

impl Alarm {
    /// Folds in one observation made at `at`. `p0` is the stream's healthy rate, `threshold`
    /// the level's. A held alarm clears only once its leaving test has passed *and* the good
    /// run behind it has lasted `hold` (zero, unless the fault keeps coming back).
    pub fn observe(
        &mut self,
        bad: bool,
        p0: f64,
        threshold: f64,
        bounds: Bounds,
        at: DateTime<Utc>,
        hold: chrono::Duration,
    ) -> Option<Transition> {
        let recent_before = self.recent;
        self.recent += RECENT_WEIGHT * (if bad { 1.0 } else { 0.0 } - self.recent);
        if self.held {
            if self.fall <= 0.0 {
                self.fault_rate = self.fault_rate_against(threshold, recent_before);
                self.good_since = Some(at);
            }
            let (if_bad, if_good) = llr(self.fault_rate, p0);
            // Capped at the bound: a good run kept waiting for its hold is not worth more.
            self.fall = (self.fall + if bad { if_bad } else { if_good }).clamp(0.0, bounds.exit);
            self.run += 1;
            self.run_bad += bad as u32;
            if self.fall <= 0.0 {
                // The leaving test fell back: its run is more of the fault.
                self.fault_seen = self.fault_seen.saturating_add(self.run);
                self.fault_bad = self.fault_bad.saturating_add(self.run_bad);
                self.run = 0;
                self.run_bad = 0;
            }
            let lasted = self.good_since.is_none_or(|since| at - since >= hold);
            if self.fall >= bounds.exit && lasted {
                self.clear();
                return Some(Transition::Cleared);
            }
            None
        } else {
            let (cached_p0, cached_threshold, cached) = self.alternative;
            let p1 = if (cached_p0 - p0).abs() < ALTERNATIVE_TOLERANCE * p0
                && cached_threshold == threshold
            {
                cached
            } else {
                let p1 = alternative_for(p0, threshold);
                self.alternative = (p0, threshold, p1);
                p1
            };
            let (if_bad, if_good) = llr(p0, p1);
            if self.rise <= 0.0 {
                self.run = 0;
                self.run_bad = 0;
            }
            self.rise = (self.rise + if bad { if_bad } else { if_good }).max(0.0);
            self.run += 1;
            self.run_bad += bad as u32;
            if self.rise >= bounds.enter {
                let (seen, bad, recent) = (self.run, self.run_bad, self.recent);
                self.raise(seen, bad);
                self.recent = recent;
                return Some(Transition::Raised);
            }
            None
        }
    }

    /// Holds the alarm on the evidence of `seen` observations, `bad` of them bad (also used
    /// to hold a milder level when a worse one is raised, on the worse one's evidence).
    pub fn raise(&mut self, seen: u32, bad: u32) {
        *self = Alarm {
            held: true,
            fault_seen: seen,
            fault_bad: bad,
            ..Alarm::default()
        };
    }

    pub fn clear(&mut self) {
        *self = Alarm::default();
    }

    /// The rate the leaving test assumes the fault goes on at, never below the level's
    /// threshold: the lower of the fault's own rate so far and its recent rate. The fault's
    /// own is the lower end of its 95% one-sided interval, so a rate seen on few probes (five
    /// failures of five) is not taken at face value; the recent rate catches a fault that is
    /// easing (from 100% to 30%), which a good run must not be mistaken as the end of.
    fn fault_rate_against(&self, threshold: f64, recent: f64) -> f64 {
        let (lower, _) = wilson(self.fault_bad, self.fault_seen, FAULT_RATE_Z);
        lower.min(recent).max(threshold).min(RATE_CEILING)
    }

    /// How far the test in progress is towards its bound, 0 to 1.
    pub fn progress(&self, bounds: Bounds) -> f64 {
        if self.held {
            (self.fall / bounds.exit).clamp(0.0, 1.0)
        } else {
            (self.rise / bounds.enter).clamp(0.0, 1.0)
        }
    }

    /// Good observations in a row that would clear this held alarm from where it stands.
    pub fn good_needed(&self, p0: f64, threshold: f64, bounds: Bounds) -> u32 {
        let against = if self.fall > 0.0 {
            self.fault_rate
        } else {
            self.fault_rate_against(threshold, self.recent)
        };
        let (_, if_good) = llr(against, p0);
        if if_good <= 0.0 {
            return u32::MAX;
        }
        ((bounds.exit - self.fall).max(0.0) / if_good).ceil() as u32
    }
}

/// Observations before an [`EwMedian`] gives a value (their plain median starts it).
pub const MEDIAN_WARMUP: usize = 5;

/// An exponentially weighted median of positive values (latencies), tracked in log space by
/// stochastic approximation: each value moves the estimate a fixed step towards itself. It
/// exists after [`MEDIAN_WARMUP`] values and costs O(1) memory and time per value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EwMedian {
    /// `ln` of the median in milliseconds, once warm.
    log: Option<f64>,
    warmup: [u32; MEDIAN_WARMUP],
    seen: u8,
}

impl EwMedian {
    /// Folds in one value; `step` is the fraction (in log space) the estimate moves, e.g.
    /// 0.05 moves it 5% towards a higher or lower value.
    pub fn observe(&mut self, value_ms: u32, step: f64) {
        let x = (value_ms.max(1) as f64).ln();
        match self.log {
            Some(ref mut m) => {
                if x > *m {
                    *m += step.min(x - *m);
                } else if x < *m {
                    *m -= step.min(*m - x);
                }
            }
            None => {
                self.warmup[self.seen as usize] = value_ms.max(1);
                self.seen += 1;
                if self.seen as usize == MEDIAN_WARMUP {
                    let mut first = self.warmup;
                    first.sort_unstable();
                    self.log = Some((first[MEDIAN_WARMUP / 2] as f64).ln());
                }
            }
        }
    }

    /// The median in milliseconds, once warm.
    pub fn value(&self) -> Option<u32> {
        self.log.map(|l| l.exp().round() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        enter: 13.8,
        exit: 9.2,
    };
    const NO_HOLD: chrono::Duration = chrono::Duration::zero();

    /// The time of the `i`-th observation, one a second.
    fn at(i: usize) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(i as i64)
    }

    /// Runs `pattern` (`x` bad, `.` good) through a fresh alarm at `p0` and `threshold`;
    /// returns the 1-based positions where it was raised (`+`) and cleared (`-`).
    fn run(pattern: &str, p0: f64, threshold: f64) -> Vec<(usize, Transition)> {
        let mut alarm = Alarm::default();
        let mut out = Vec::new();
        for (i, c) in pattern.chars().enumerate() {
            if let Some(t) = alarm.observe(c == 'x', p0, threshold, BOUNDS, at(i), NO_HOLD) {
                out.push((i + 1, t));
            }
        }
        out
    }

    #[test]
    fn alternatives_break_even_at_their_threshold() {
        for (p0, threshold) in [(0.02, 0.1), (0.02, 0.2), (0.02, 0.6), (0.05, 0.3)] {
            let p1 = alternative_for(p0, threshold);
            assert!(p1 > threshold, "{p0} {threshold}: {p1}");
            assert!(
                (break_even(p0, p1) - threshold).abs() < 1e-6,
                "{p0} {threshold}: break-even {}",
                break_even(p0, p1)
            );
        }
    }

    #[test]
    fn entering_and_leaving_by_table() {
        use Transition::*;
        let down = "x".repeat(40);
        /// A pattern, the healthy rate, the level, and the transitions expected.
        type Row = (String, f64, f64, Vec<(usize, Transition)>);
        let rows: Vec<Row> = vec![
            // Hard down at the 60% level: four failures in a row raise it...
            (down.clone(), 0.02, 0.6, vec![(4, Raised)]),
            // ...three do not, and the good probes after them wipe the evidence out.
            (format!("xxx{}", ".".repeat(40)), 0.02, 0.6, vec![]),
            // After a long hard-down run, four good probes clear it again.
            (
                format!("{down}...."),
                0.02,
                0.6,
                vec![(4, Raised), (44, Cleared)],
            ),
            // A failure among the good ones sets the leaving test back (not to zero: a
            // healthy model fails now and then too).
            (
                format!("{down}..x......"),
                0.02,
                0.6,
                vec![(4, Raised), (46, Cleared)],
            ),
            (
                format!("{down}..xx......."),
                0.02,
                0.6,
                vec![(4, Raised), (50, Cleared)],
            ),
            // Three failures start it again from zero, against the fault's rate so far.
            (
                format!("{down}..xxx........."),
                0.02,
                0.6,
                vec![(4, Raised), (50, Cleared)],
            ),
            // A short outage is less sure of its own rate (its recent rate is still rising),
            // so it takes more good probes to clear: nine.
            (
                format!("{}...........", "x".repeat(10)),
                0.02,
                0.6,
                vec![(4, Raised), (19, Cleared)],
            ),
            // 2% failures, spread out: nothing at any level.
            (format!("{}x", ".".repeat(49)).repeat(20), 0.02, 0.1, vec![]),
        ];
        for (pattern, p0, threshold, want) in rows {
            assert_eq!(
                run(&pattern, p0, threshold),
                want,
                "{pattern} at {threshold}"
            );
        }
    }

    #[test]
    fn a_moderate_fault_needs_a_long_good_run_to_clear() {
        // (The healthy rate here is 2%; the bounds those of the table above.)
        // 30% failures raise the 20% level within a few dozen probes...
        let fault = "x..x.x...x".repeat(10);
        let events = run(&format!("{fault}{}", ".".repeat(60)), 0.02, 0.2);
        let raised = events
            .iter()
            .find(|e| e.1 == Transition::Raised)
            .map(|e| e.0);
        assert!(raised.is_some_and(|r| r <= 40), "{events:?}");
        // ...and, once raised, the fault itself never clears it: only the good run after it.
        let cleared: Vec<usize> = events
            .iter()
            .filter(|e| e.1 == Transition::Cleared)
            .map(|e| e.0)
            .collect();
        assert_eq!(cleared.len(), 1, "{events:?}");
        assert!(cleared[0] > 100 + 10, "cleared too soon: {events:?}");
    }

    #[test]
    fn good_needed_counts_down_the_leaving_test() {
        let mut a = Alarm::default();
        for i in 0..5 {
            a.observe(true, 0.02, 0.6, BOUNDS, at(i), NO_HOLD);
        }
        assert!(a.held);
        // Five failures of five could be a 60% fault: eleven good probes to be sure it is over.
        assert_eq!(a.good_needed(0.02, 0.6, BOUNDS), 11);
        a.observe(false, 0.02, 0.6, BOUNDS, at(5), NO_HOLD);
        assert_eq!(a.good_needed(0.02, 0.6, BOUNDS), 10);
    }

    #[test]
    fn a_hold_keeps_the_alarm_until_the_good_run_has_lasted() {
        let mut a = Alarm::default();
        for i in 0..40 {
            a.observe(true, 0.02, 0.6, BOUNDS, at(i), NO_HOLD);
        }
        let hold = chrono::Duration::seconds(10);
        // Four good probes pass the test, but only ten seconds of them clear the alarm.
        let cleared: Vec<usize> = (40..60)
            .filter(|&i| a.observe(false, 0.02, 0.6, BOUNDS, at(i), hold).is_some())
            .collect();
        assert_eq!(cleared, vec![50]);
    }

    #[test]
    fn median_warms_up_then_follows_slowly() {
        let mut m = EwMedian::default();
        for v in [900, 700, 800, 5000, 750] {
            assert_eq!(m.value(), None);
            m.observe(v, 0.05);
        }
        assert_eq!(m.value(), Some(800), "plain median of the first five");
        // One outlier moves it by one step only.
        m.observe(60_000, 0.05);
        let after = m.value().unwrap();
        assert!((830..=845).contains(&after), "{after}");
        // A lasting change is followed.
        for _ in 0..200 {
            m.observe(2000, 0.05);
        }
        assert_eq!(m.value(), Some(2000));
    }
}
