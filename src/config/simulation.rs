//! Settings of the built-in simulated provider: latency, jitter, error mix and fault windows.

use std::time::Duration;

use crate::vocabulary::Outcome;

/// How one simulated model behaves. Faults are relative to the service's start, so the demo
/// replays the article's incident a minute after `modelwatch serve` starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    /// Time to first token in normal operation.
    pub ttft: Duration,
    /// Time from the first token to the end of the stream.
    pub generation: Duration,
    /// Up to this much random extra latency on every probe.
    pub jitter: Duration,
    /// Fraction of probes that fail in normal operation (0.0 to 1.0).
    pub error_rate: f64,
    /// Which classes failures take, with integer weights.
    pub error_mix: Vec<(Outcome, u32)>,
    pub faults: Vec<FaultWindow>,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            ttft: Duration::from_millis(300),
            generation: Duration::from_millis(150),
            jitter: Duration::from_millis(100),
            error_rate: 0.0,
            error_mix: vec![(Outcome::Http5xx, 1)],
            faults: Vec::new(),
        }
    }
}

/// A period of elevated errors and latency, from `after` the start, for `duration`,
/// repeating every `every` when set.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub after: Duration,
    pub duration: Duration,
    pub every: Option<Duration>,
    pub error_rate: f64,
    pub error_mix: Vec<(Outcome, u32)>,
    /// Time to first token during the fault (replaces the normal one).
    pub ttft: Option<Duration>,
}

impl FaultWindow {
    /// True when `elapsed` (time since the service started) falls inside this window.
    pub fn active_at(&self, elapsed: Duration) -> bool {
        let Some(since) = elapsed.checked_sub(self.after) else {
            return false;
        };
        match self.every {
            Some(every) if !every.is_zero() => {
                let phase = Duration::from_nanos((since.as_nanos() % every.as_nanos()) as u64);
                phase < self.duration
            }
            _ => since < self.duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_windows_once_and_repeating() {
        let s = Duration::from_secs;
        let once = FaultWindow {
            after: s(60),
            duration: s(30),
            every: None,
            error_rate: 0.6,
            error_mix: vec![(Outcome::Overloaded, 1)],
            ttft: None,
        };
        assert!(!once.active_at(s(59)));
        assert!(once.active_at(s(60)));
        assert!(once.active_at(s(89)));
        assert!(!once.active_at(s(90)));
        assert!(!once.active_at(s(1000)));
        let repeating = FaultWindow {
            every: Some(s(100)),
            ..once
        };
        assert!(repeating.active_at(s(165)));
        assert!(!repeating.active_at(s(195)));
    }
}
