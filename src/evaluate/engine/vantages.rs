//! One model seen from several vantages: this server's own probes (`central`) and each
//! agent's. Every vantage keeps its own [`Detector`]; [`quorum::judge`] turns their states
//! into the one decision for everyone, and [`quorum::regional`] into each region's.
//!
//! With no agent reporting a model, nothing here changes its decision: the central
//! detector's state and reasons are used as they are.

use chrono::{DateTime, Utc};

use super::Watched;
use crate::config::agents::CENTRAL;
use crate::config::AgentsConfig;
use crate::evaluate::quorum::{self, VantageView};
use crate::evaluate::Detector;
use crate::vocabulary::{ExtraProbes, ModelState, VantageFigure};

/// How the headline of a model impaired below the quorum starts ("impaired from eu-west
/// only: …"); the publisher watches it, since the front page marks such models.
pub const REGIONAL_HEADLINE: &str = "impaired from ";

/// The regions part of a regional headline (`eu-west only`), if `reason` is one.
pub fn regional_part(reason: &str) -> Option<&str> {
    reason
        .strip_prefix(REGIONAL_HEADLINE)
        .and_then(|rest| rest.split(':').next())
}

/// An agent's view of one model.
#[derive(Debug, Clone)]
pub(super) struct Remote {
    pub region: String,
    pub detector: Detector,
    /// When its latest probe of the model started.
    pub last_at: DateTime<Utc>,
    /// Whether its latest result failed to connect (for telling its network from theirs).
    pub last_connect: bool,
}

/// The probes' say on a model: its state for everyone and the reasons, first the one
/// pages lead with.
pub(super) struct ProbeView {
    pub state: ModelState,
    pub reasons: Vec<String>,
}

impl Watched {
    /// How long a vantage may stay silent on this model and still count: the setting, or
    /// three of the model's intervals, whichever is longer.
    fn stale_window(&self, agents: &AgentsConfig) -> chrono::Duration {
        chrono::Duration::from_std(agents.stale_after.max(self.interval * 3))
            .unwrap_or(chrono::Duration::MAX)
    }

    /// Whether this server is one of the model's vantages: it probes, or it did within the
    /// memory of the detector (before `probe_locally` was turned off).
    fn probed_here(&self, agents: &AgentsConfig) -> bool {
        agents.probe_locally || self.last_probe_at.is_some()
    }

    /// Every vantage of this model with its detector: central first, then agents by name.
    fn vantages<'a>(
        &'a self,
        agents: &'a AgentsConfig,
        now: DateTime<Utc>,
    ) -> Vec<(VantageView, &'a Detector, Option<DateTime<Utc>>)> {
        let window = self.stale_window(agents);
        let fresh = |at: Option<DateTime<Utc>>| at.is_some_and(|t| now - t <= window);
        let mut out = Vec::with_capacity(self.remote.len() + 1);
        if self.probed_here(agents) {
            out.push((
                VantageView {
                    name: CENTRAL.into(),
                    region: agents.region.clone(),
                    state: self.detector.state(&self.policy),
                    active: fresh(self.last_probe_at),
                },
                &self.detector,
                self.last_probe_at,
            ));
        }
        for (name, r) in &self.remote {
            out.push((
                VantageView {
                    name: name.clone(),
                    region: r.region.clone(),
                    state: r.detector.state(&self.policy),
                    active: fresh(Some(r.last_at)),
                },
                &r.detector,
                Some(r.last_at),
            ));
        }
        out
    }

    /// The state and reasons the probes support, over every vantage.
    pub(super) fn probe_view(&self, agents: &AgentsConfig, now: DateTime<Utc>) -> ProbeView {
        if self.remote.is_empty() {
            return ProbeView {
                state: self.detector.state(&self.policy),
                reasons: self.detector.reasons(&self.policy),
            };
        }
        let vantages = self.vantages(agents, now);
        let views: Vec<VantageView> = vantages.iter().map(|(v, _, _)| v.clone()).collect();
        let verdict = quorum::judge(&views, agents.quorum);
        let detector_of = |name: &str| {
            vantages
                .iter()
                .find(|(v, _, _)| v.name == name)
                .map(|(_, d, _)| *d)
        };
        let first_reason = |v: &VantageView| {
            detector_of(&v.name)
                .and_then(|d| d.reasons(&self.policy).into_iter().next())
                .unwrap_or_default()
        };
        let label = |v: &VantageView| format!("{} ({})", v.name, v.region);
        let counted: Vec<&VantageView> = views
            .iter()
            .filter(|v| v.active && v.state.severity().is_some())
            .collect();
        let mut reasons = Vec::new();
        if verdict.state.is_impaired() {
            reasons.push(format!(
                "quorum: {} seen from {} of {} vantages ({}), {} needed",
                verdict.state.label().to_lowercase(),
                verdict.agreeing.len(),
                verdict.counted,
                verdict
                    .agreeing
                    .iter()
                    .map(label)
                    .collect::<Vec<_>>()
                    .join(", "),
                verdict.needed
            ));
            for v in &verdict.agreeing {
                reasons.push(format!("{}: {}", label(v), first_reason(v)));
            }
        } else {
            // Not impaired for everyone: a healthy vantage counts (central first, as listed)
            // and speaks; with none counting, an active one says why it has no state yet.
            let own = vantages
                .iter()
                .find(|(v, _, _)| v.active && v.state.severity() == Some(0))
                .or_else(|| vantages.iter().find(|(v, _, _)| v.active))
                .map(|(_, d, _)| d.reasons(&self.policy))
                .unwrap_or_default();
            if !verdict.regional.is_empty() {
                let mut regions: Vec<&str> =
                    verdict.regional.iter().map(|v| v.region.as_str()).collect();
                regions.dedup();
                reasons.push(format!(
                    "{REGIONAL_HEADLINE}{} only: {}; {} of {} vantages, {} needed for everyone",
                    regions.join(", "),
                    verdict
                        .regional
                        .iter()
                        .map(|v| format!("{} sees {}", v.name, v.state.label().to_lowercase()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    verdict.regional.len(),
                    verdict.counted,
                    verdict.needed
                ));
            }
            if verdict.state == ModelState::Unknown && own.is_empty() {
                reasons.push(format!(
                    "not enough evidence: no vantage has reported the model in the last {}",
                    humantime::format_duration(
                        self.stale_window(agents).to_std().unwrap_or_default()
                    )
                ));
            }
            reasons.extend(own);
            if verdict.counted > 0 {
                reasons.push(format!(
                    "seen from {} vantages: {}",
                    verdict.counted,
                    counted
                        .iter()
                        .map(|v| format!("{} {}", label(v), v.state.label().to_lowercase()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if verdict.lowered {
            reasons.push(format!(
                "quorum lowered to {}: only {} vantages report the model",
                verdict.needed, verdict.counted
            ));
        }
        for (v, _, at) in vantages.iter().filter(|(v, _, _)| !v.active) {
            let silent = at.map_or_else(
                || "never reported".to_string(),
                |t| {
                    format!(
                        "silent for {}",
                        humantime::format_duration(std::time::Duration::from_secs(
                            (now - t).num_seconds().max(0) as u64
                        ))
                    )
                },
            );
            reasons.push(format!("{}: {silent}, not counted", label(v)));
        }
        ProbeView {
            state: verdict.state,
            reasons,
        }
    }

    /// The state `region` sees (a majority of its vantages), `None` when none counts there.
    pub(super) fn regional_state(
        &self,
        region: &str,
        agents: &AgentsConfig,
        now: DateTime<Utc>,
    ) -> Option<ModelState> {
        if self.remote.is_empty() {
            return None;
        }
        let views: Vec<VantageView> = self
            .vantages(agents, now)
            .into_iter()
            .map(|(v, _, _)| v)
            .collect();
        quorum::regional(&views, region)
    }

    /// Whether a vantage of this model stopped counting in `(since, now]` (it went silent):
    /// the decision is looked at again then, with no new result to prompt it.
    pub(super) fn vantage_went_silent(
        &self,
        agents: &AgentsConfig,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        if self.remote.is_empty() {
            return false;
        }
        let window = self.stale_window(agents);
        self.remote
            .values()
            .map(|r| r.last_at)
            .chain(self.last_probe_at)
            .any(|at| {
                let end = at + window;
                end > since && end <= now
            })
    }

    /// The regions this model is probed from.
    pub(super) fn regions<'a>(&'a self, agents: &'a AgentsConfig) -> impl Iterator<Item = &'a str> {
        std::iter::once(agents.region.as_str())
            .filter(|_| !self.remote.is_empty() && self.probed_here(agents))
            .chain(self.remote.values().map(|r| r.region.as_str()))
    }

    /// Each vantage's figures for the stored evidence (empty with this server alone).
    pub(super) fn vantage_figures(
        &self,
        agents: &AgentsConfig,
        now: DateTime<Utc>,
    ) -> Vec<VantageFigure> {
        if self.remote.is_empty() {
            return Vec::new();
        }
        self.vantages(agents, now)
            .into_iter()
            .map(|(v, d, at)| {
                let e = d.evidence(&self.policy, ExtraProbes::default());
                VantageFigure {
                    name: v.name,
                    region: v.region,
                    state: v.state,
                    active: v.active,
                    last_probe_at: at,
                    samples: e.samples,
                    failures: e.failures,
                    error_rate: e.error_rate,
                    ttft_p50_ms: e.ttft_p50_ms,
                }
            })
            .collect()
    }
}
