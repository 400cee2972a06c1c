//! Hysteresis: when a model's state actually moves, given the candidates of its evaluations.
//!
//! Like Gatus's failure and success thresholds: a worse state is entered only after
//! `failure_threshold` consecutive evaluations all worse than the current state (the model
//! then takes the latest candidate), and left only after `success_threshold` consecutive
//! evaluations all better (the model then takes the *worst* of those, so recovery is never
//! overstated). Evidence of misconfiguration or of our own network being down moves the model
//! to `unknown` at once: those are never a provider's outage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ModelState, Policy};

/// What the evaluator remembers about a model between evaluations (persisted, so a restart
/// resumes exactly where it left off and repeats no event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    pub state: ModelState,
    pub since: DateTime<Utc>,
    /// Candidates of the most recent evaluations, oldest first (bounded).
    pub recent: Vec<ModelState>,
}

impl Tracker {
    pub fn new(now: DateTime<Utc>) -> Self {
        Tracker {
            state: ModelState::Unknown,
            since: now,
            recent: Vec::new(),
        }
    }

    /// True while the latest evaluation disagrees with the state: a streak is building.
    pub fn streak_building(&self) -> bool {
        self.recent.last().is_some_and(|c| *c != self.state)
    }
}

/// Why the evaluator forces a state regardless of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    None,
    /// Every provider failed to connect at once: our network, not theirs.
    LocalNetworkDown,
    /// A maintenance window covers the model.
    Maintenance,
}

/// Folds one evaluation's candidate into the tracker. Returns the new tracker; its `state`
/// differs from `prev.state` exactly when the model's state changed.
pub fn step(
    prev: &Tracker,
    candidate: Option<ModelState>,
    forced: Override,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Tracker {
    let moved = |state: ModelState| Tracker {
        state,
        since: now,
        recent: Vec::new(),
    };
    match forced {
        Override::Maintenance if prev.state != ModelState::UnderMaintenance => {
            return moved(ModelState::UnderMaintenance)
        }
        Override::Maintenance => return prev.clone(),
        Override::LocalNetworkDown if prev.state != ModelState::Unknown => {
            return moved(ModelState::Unknown)
        }
        Override::LocalNetworkDown => return prev.clone(),
        Override::None => {}
    }
    let Some(candidate) = candidate else {
        return prev.clone();
    };
    // Out of maintenance, out of unknown, or into unknown (misconfiguration): no health state
    // to be hysteretic about, so the evidence is taken as it is.
    let (Some(current), Some(cand)) = (prev.state.severity(), candidate.severity()) else {
        if candidate == prev.state {
            return prev.clone();
        }
        return moved(candidate);
    };

    let keep = policy
        .failure_threshold
        .max(policy.success_threshold)
        .max(1) as usize;
    let mut next = prev.clone();
    next.recent.push(candidate);
    if next.recent.len() > keep {
        let excess = next.recent.len() - keep;
        next.recent.drain(..excess);
    }
    let last = |n: u32| -> Option<&[ModelState]> {
        let n = n.max(1) as usize;
        (next.recent.len() >= n).then(|| &next.recent[next.recent.len() - n..])
    };
    if cand > current {
        if let Some(streak) = last(policy.failure_threshold) {
            if streak
                .iter()
                .all(|s| s.severity().is_some_and(|v| v > current))
            {
                return moved(candidate);
            }
        }
    } else if cand < current {
        if let Some(streak) = last(policy.success_threshold) {
            if streak
                .iter()
                .all(|s| s.severity().is_some_and(|v| v < current))
            {
                let worst = streak
                    .iter()
                    .copied()
                    .max_by_key(|s| s.severity())
                    .unwrap_or(candidate);
                return moved(worst);
            }
        }
    }
    next
}
