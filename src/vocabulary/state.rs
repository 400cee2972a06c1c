//! Model states (Statuspage's words plus `unknown`), their order of severity, and a
//! model's committed state with the moment it began.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The state of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// No evidence yet, only misconfiguration outcomes, or our own network is down.
    Unknown,
    Operational,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
    UnderMaintenance,
}

impl ModelState {
    pub const ALL: [ModelState; 6] = [
        ModelState::Unknown,
        ModelState::Operational,
        ModelState::DegradedPerformance,
        ModelState::PartialOutage,
        ModelState::MajorOutage,
        ModelState::UnderMaintenance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Unknown => "unknown",
            ModelState::Operational => "operational",
            ModelState::DegradedPerformance => "degraded_performance",
            ModelState::PartialOutage => "partial_outage",
            ModelState::MajorOutage => "major_outage",
            ModelState::UnderMaintenance => "under_maintenance",
        }
    }

    /// Order of badness among the health states: operational 0 … major outage 3.
    /// `unknown` and `under_maintenance` are not on this scale.
    pub fn severity(self) -> Option<u8> {
        match self {
            ModelState::Operational => Some(0),
            ModelState::DegradedPerformance => Some(1),
            ModelState::PartialOutage => Some(2),
            ModelState::MajorOutage => Some(3),
            ModelState::Unknown | ModelState::UnderMaintenance => None,
        }
    }

    /// True for the states in which a provider's incident counts the model as affected.
    pub fn is_impaired(self) -> bool {
        self.severity().is_some_and(|s| s > 0)
    }

    /// Human words for pages and logs.
    pub fn label(self) -> &'static str {
        match self {
            ModelState::Unknown => "Unknown",
            ModelState::Operational => "Operational",
            ModelState::DegradedPerformance => "Degraded performance",
            ModelState::PartialOutage => "Partial outage",
            ModelState::MajorOutage => "Major outage",
            ModelState::UnderMaintenance => "Under maintenance",
        }
    }
}

/// A model's committed state and since when it holds (persisted with the decision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    pub state: ModelState,
    pub since: chrono::DateTime<chrono::Utc>,
}

impl fmt::Display for ModelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelState::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown state `{s}` (expected operational, degraded_performance, partial_outage, major_outage, under_maintenance or unknown)"))
    }
}
