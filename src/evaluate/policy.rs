//! The evaluation policy: levels, bounds, latency rules and the extra-probe budget, with
//! defaults. Every field can be set in `[evaluator]`, per provider and per model.
//!
//! Nothing here is counted in evaluation rounds any more: the evaluator judges every probe
//! result as it arrives (see [`super::detector`]), so decisions scale with the evidence, not
//! with a window length times the schedule.

use std::time::Duration;

use super::sequential::Bounds;
use crate::vocabulary::ModelState;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Recent probes the stored evidence summarises (outcome counts, percentiles). Decisions
    /// do not depend on it.
    pub window_probes: u32,
    /// Counted probes (ok plus provider faults) before a new model leaves `unknown`.
    pub min_samples: u32,
    /// Normal quantile of the Wilson interval shown with the recent error rate (display only).
    pub confidence_z: f64,
    /// The failure rate assumed of a healthy model before its own is known, and the least
    /// ever assumed: a healthier model is still judged as if it failed this often, so a burst
    /// of three failures never disables a model.
    pub healthy_error_rate: f64,
    /// Error-rate levels of the three impaired states.
    pub degraded_error_rate: f64,
    pub partial_error_rate: f64,
    pub major_error_rate: f64,
    /// Healthy probes per false alarm the entering tests allow (at least; Lorden's bound).
    pub false_alarm_probes: f64,
    /// Odds against leaving a state while the fault goes on at the rate it showed.
    pub exit_odds: f64,
    /// A first token (or total time) this many times the model's usual is *slow*.
    pub latency_factor: f64,
    /// Absolute limits: a probe over them is slow whatever the model's usual.
    pub ttft_limit: Option<Duration>,
    pub total_limit: Option<Duration>,
    /// The model is `degraded_performance` when more than this share of its probes is slow.
    pub slow_share: f64,
    /// The least severe state at which the model is disabled for routing.
    pub disable_at: ModelState,
    /// Extra probes while in doubt come this soon (at most; a tenth of the schedule's
    /// interval when that is sooner).
    pub confirm_interval: Duration,
    /// A disabled model is probed for recovery this often (at most; a quarter of the
    /// schedule's interval when that is sooner), while more than half of its extra-probe
    /// budget is left: the rest is kept for the confirmations that restore it.
    pub recovery_interval: Duration,
    /// The most extra probes (confirm and recovery together) per model and hour; by default
    /// half the model's scheduled probes an hour, and at least 120.
    pub extra_probes_per_hour: Option<u32>,
    /// An incident in monitoring resolves after this many probe intervals without impairment.
    pub quiet_probes: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            window_probes: 30,
            min_samples: 3,
            confidence_z: 2.576,
            healthy_error_rate: 0.02,
            degraded_error_rate: 0.10,
            partial_error_rate: 0.20,
            major_error_rate: 0.60,
            false_alarm_probes: 1e8,
            exit_odds: 1e4,
            latency_factor: 3.0,
            ttft_limit: None,
            total_limit: None,
            slow_share: 0.3,
            disable_at: ModelState::PartialOutage,
            confirm_interval: Duration::from_secs(5),
            recovery_interval: Duration::from_secs(15),
            extra_probes_per_hour: None,
            quiet_probes: 60,
        }
    }
}

/// The share of a healthy model's probes assumed slow (over `latency_factor` times its
/// usual): jitter and the odd long answer. The slow test rises only above `slow_share`.
pub const HEALTHY_SLOW_SHARE: f64 = 0.05;

impl Policy {
    /// The extra-probe budget per hour of a model on a schedule of `interval`.
    pub fn extra_budget(&self, interval: Duration) -> u32 {
        self.extra_probes_per_hour.unwrap_or_else(|| {
            let scheduled = 3600.0 / interval.as_secs_f64().max(1.0);
            ((scheduled / 2.0).floor() as u32).max(120)
        })
    }

    /// Whether a model in `state` is disabled for routing.
    pub fn disables(&self, state: ModelState) -> bool {
        match (state.severity(), self.disable_at.severity()) {
            (Some(s), Some(at)) => s >= at,
            _ => state == ModelState::UnderMaintenance,
        }
    }

    /// The bounds of the sequential tests, in nats.
    pub fn bounds(&self) -> Bounds {
        Bounds {
            enter: self.false_alarm_probes.max(1.0).ln(),
            exit: self.exit_odds.max(1.0).ln(),
        }
    }

    /// The error-rate level of each impaired state, mildest first.
    pub fn levels(&self) -> [(ModelState, f64); 3] {
        [
            (ModelState::DegradedPerformance, self.degraded_error_rate),
            (ModelState::PartialOutage, self.partial_error_rate),
            (ModelState::MajorOutage, self.major_error_rate),
        ]
    }

    /// How soon extra probes come for a model on a schedule of `interval`: `(confirm,
    /// recovery)`, each `None` where it would not come meaningfully sooner than the schedule
    /// (a fast schedule is evidence enough). Confirmations come a tenth of the interval apart
    /// (at least 1 s, at most `confirm_interval`): the five failures that disable a hard-down
    /// model then fit in well under two intervals, and the thirty-odd probes that tell a
    /// 30% fault from noise in a few; recovery probes a quarter apart (at most
    /// `recovery_interval`).
    pub fn extra_cadence(&self, interval: Duration) -> (Option<Duration>, Option<Duration>) {
        let pick = |part: Duration, cap: Duration| {
            let every = part.min(cap).max(Duration::from_secs(1));
            (every * 2 < interval).then_some(every)
        };
        (
            pick(interval / 10, self.confirm_interval),
            pick(interval / 4, self.recovery_interval),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_from_partial_outage_by_default() {
        let p = Policy::default();
        assert!(!p.disables(ModelState::Operational));
        assert!(!p.disables(ModelState::DegradedPerformance));
        assert!(p.disables(ModelState::PartialOutage));
        assert!(p.disables(ModelState::MajorOutage));
        assert!(
            !p.disables(ModelState::Unknown),
            "lack of evidence never disables a model"
        );
        assert!(p.disables(ModelState::UnderMaintenance));
    }

    #[test]
    fn the_budget_is_half_the_schedule_unless_set() {
        let s = Duration::from_secs;
        let p = Policy::default();
        assert_eq!(
            [s(10), s(30), s(60), s(3600)].map(|i| p.extra_budget(i)),
            [180, 120, 120, 120]
        );
        let set = Policy {
            extra_probes_per_hour: Some(100),
            ..Policy::default()
        };
        assert_eq!(set.extra_budget(s(10)), 100);
    }

    #[test]
    fn extra_probes_come_sooner_than_the_schedule_or_not_at_all() {
        let p = Policy::default();
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let rows = [
            (s(1), (None, None)),
            (s(2), (None, None)),
            (s(4), (Some(s(1)), Some(s(1)))),
            (s(10), (Some(s(1)), Some(ms(2500)))),
            (s(30), (Some(s(3)), Some(ms(7500)))),
            (s(60), (Some(s(5)), Some(s(15)))),
            (s(3600), (Some(s(5)), Some(s(15)))),
        ];
        for (interval, want) in rows {
            assert_eq!(p.extra_cadence(interval), want, "{interval:?}");
        }
    }
}
