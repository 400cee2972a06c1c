//! The evaluation policy: windows, thresholds and hysteresis counts, with defaults.
//!
//! Windows are counted in probes, so they scale with each model's schedule: with a 1-second
//! schedule the defaults decide within about half a minute, with a 30-second schedule within
//! about fifteen minutes. Every field can be set in `[evaluator]`, per provider and per model.

use std::time::Duration;

use super::ModelState;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Probes in the sliding window an evaluation looks at.
    pub window_probes: u32,
    /// The model is evaluated once every this many probe intervals (the evaluation interval).
    pub evaluate_every_probes: u32,
    /// While a streak is building (the last candidate differs from the state), the model is
    /// evaluated again after this many probe intervals instead, to confirm or drop it sooner.
    pub confirm_every_probes: u32,
    /// Fewer counted samples (ok plus provider faults) than this never decide anything.
    pub min_samples: u32,
    /// Normal quantile of the Wilson interval (2.576 is 99%): the error rate's *lower* bound
    /// is compared with the thresholds, so a few failures among few samples do not count.
    pub confidence_z: f64,
    pub degraded_error_rate: f64,
    pub partial_error_rate: f64,
    pub major_error_rate: f64,
    /// Consecutive evaluations worse than the current state needed to enter a worse state.
    pub failure_threshold: u32,
    /// Consecutive evaluations better than the current state needed to leave it.
    pub success_threshold: u32,
    /// A median time to first token (or total) this many times the model's own baseline is degraded.
    pub latency_factor: f64,
    /// Absolute limits on the median time to first token and total time.
    pub ttft_limit: Option<Duration>,
    pub total_limit: Option<Duration>,
    /// Probes before the window that form the model's latency baseline.
    pub baseline_probes: u32,
    /// The least severe state at which the model is disabled for routing.
    pub disable_at: ModelState,
    /// An incident in monitoring resolves after this many probe intervals without impairment.
    pub quiet_probes: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            window_probes: 30,
            evaluate_every_probes: 15,
            confirm_every_probes: 5,
            min_samples: 10,
            confidence_z: 2.576,
            degraded_error_rate: 0.10,
            partial_error_rate: 0.20,
            major_error_rate: 0.60,
            failure_threshold: 2,
            success_threshold: 2,
            latency_factor: 3.0,
            ttft_limit: None,
            total_limit: None,
            baseline_probes: 360,
            disable_at: ModelState::PartialOutage,
            quiet_probes: 60,
        }
    }
}

impl Policy {
    /// Whether a model in `state` is disabled for routing.
    pub fn disables(&self, state: ModelState) -> bool {
        match (state.severity(), self.disable_at.severity()) {
            (Some(s), Some(at)) => s >= at,
            _ => state == ModelState::UnderMaintenance,
        }
    }

    pub fn window(&self, interval: Duration) -> Duration {
        interval * self.window_probes
    }

    pub fn evaluation_interval(&self, interval: Duration) -> Duration {
        interval * self.evaluate_every_probes.max(1)
    }

    /// When to evaluate next: sooner while a streak is building, so hysteresis confirms (or
    /// drops) a change without waiting a whole evaluation interval per step.
    pub fn next_evaluation_after(&self, interval: Duration, streak_building: bool) -> Duration {
        if streak_building {
            interval
                * self
                    .confirm_every_probes
                    .clamp(1, self.evaluate_every_probes.max(1))
        } else {
            self.evaluation_interval(interval)
        }
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
}
