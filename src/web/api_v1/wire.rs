//! The wire types of `/api/v1`: what clients parse, separate from the internal views.
//!
//! Each type is built from a snapshot view by a plain function, so renaming an internal
//! field is a compile error here rather than a silent change of the API. Field names are
//! snake_case and stable; [`super::openapi`] documents every one of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::evaluations::StateChange;
use crate::store::incidents::{Incident, IncidentUpdate};
use crate::vocabulary::{Evidence, ModelState};
use crate::web::snapshot::{LatencyPoint, ModelView};

/// The evaluator's figures for one window: what a decision was based on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub probes: u32,
    pub samples: u32,
    pub failures: u32,
    /// `None` when the window was too thin for the evaluator to compute a rate.
    pub error_rate: Option<f64>,
    pub error_rate_lower: Option<f64>,
    pub error_rate_upper: Option<f64>,
    pub ttft_p50_ms: Option<u32>,
    pub ttft_p95_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
    pub total_p95_ms: Option<u32>,
    pub baseline: BaselineFigures,
    /// The model's failure rate when healthy, the sequential tests' baseline.
    pub healthy_error_rate: f64,
    /// Each sequential test: what it watches for, held or not, how far along.
    pub tests: Vec<crate::vocabulary::TestFigure>,
    /// Extra probes of the hour before, by reason.
    pub extra_probes: crate::vocabulary::ExtraProbes,
    /// The application's own traffic of the last minute, when it reports any and the
    /// operator publishes its figures (`traffic.public_figures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<crate::vocabulary::TrafficEvidence>,
    /// Each place the model is probed from, when agents probe it too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<crate::vocabulary::VantageFigure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineFigures {
    pub ttft_p50_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
    pub samples: u32,
}

impl Figures {
    pub fn from_evidence(e: &Evidence) -> Figures {
        // The evaluator leaves the rate and its bounds at zero when the window is too thin
        // to judge. Wilson's upper bound is positive for any sample, so a zero upper bound
        // means "not computed": say so with null rather than claim a 0% error rate.
        let computed = e.samples > 0 && e.error_rate_upper > 0.0;
        let rate = |v: f64| (computed && v.is_finite()).then_some(v);
        Figures {
            probes: e.probes,
            samples: e.samples,
            failures: e.failures,
            error_rate: rate(e.error_rate),
            error_rate_lower: rate(e.error_rate_lower),
            error_rate_upper: rate(e.error_rate_upper),
            ttft_p50_ms: e.ttft_p50_ms,
            ttft_p95_ms: e.ttft_p95_ms,
            total_p50_ms: e.total_p50_ms,
            total_p95_ms: e.total_p95_ms,
            baseline: BaselineFigures {
                ttft_p50_ms: e.baseline.ttft_p50_ms,
                total_p50_ms: e.baseline.total_p50_ms,
                samples: e.baseline.samples,
            },
            healthy_error_rate: e.healthy_error_rate,
            tests: e.tests.clone(),
            extra_probes: e.extra_probes,
            traffic: e.traffic.clone(),
            vantages: e.vantages.clone(),
        }
    }
}

/// A model in `/api/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// `provider/model`.
    pub id: String,
    pub provider: String,
    pub model: String,
    pub name: String,
    pub state: ModelState,
    pub enabled: bool,
    pub fallback: Option<String>,
    pub fallback_name: Option<String>,
    pub since: DateTime<Utc>,
    pub reason: String,
    pub reasons: Vec<String>,
    pub ttft_now_ms: Option<u32>,
    pub uptime_90d: Option<f64>,
    pub last_probe_at: Option<DateTime<Utc>>,
    /// The figures of the latest evaluation; `None` before the first one.
    pub recent: Option<Figures>,
}

impl ModelSummary {
    pub fn from_view(m: &ModelView) -> ModelSummary {
        ModelSummary {
            id: m.id.clone(),
            provider: m.provider_id.clone(),
            model: m.model_id.clone(),
            name: m.name.clone(),
            state: m.state,
            enabled: m.enabled,
            fallback: m.fallback.clone(),
            fallback_name: m.fallback_name.clone(),
            since: m.since,
            reason: m.reason.clone(),
            reasons: m.reasons.clone(),
            ttft_now_ms: m.ttft_now_ms,
            uptime_90d: m.uptime_90d.filter(|u| u.is_finite()),
            last_probe_at: m.last_probe_at,
            recent: m.evidence.as_ref().map(Figures::from_evidence),
        }
    }
}

/// One state change in a model's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateChangeView {
    pub at: DateTime<Utc>,
    pub from: ModelState,
    pub to: ModelState,
    pub enabled: bool,
    pub reasons: Vec<String>,
    pub evidence: Figures,
}

impl StateChangeView {
    pub fn from_change(c: &StateChange) -> StateChangeView {
        StateChangeView {
            at: c.at,
            from: c.from,
            to: c.to,
            enabled: c.enabled,
            reasons: c.reasons.clone(),
            evidence: Figures::from_evidence(&c.evidence),
        }
    }
}

/// `/api/v1/models/{provider}/{model}`: the summary plus the last day's outcomes and the
/// state changes of the last 30 days, newest first.
#[derive(Serialize)]
pub struct ModelDetail {
    #[serde(flatten)]
    pub summary: ModelSummary,
    pub outcomes_24h: BTreeMap<String, u32>,
    pub history: Vec<StateChangeView>,
    /// What the provider's own page says of the model; null without a configured page.
    pub official: Option<OfficialStatus>,
}

/// The provider's page beside our state.
#[derive(Serialize)]
pub struct OfficialStatus {
    /// False until the page is first read, and while it cannot be read.
    pub available: bool,
    /// Why it cannot be read.
    pub reason: Option<String>,
    /// The published component that covers the model.
    pub component: Option<String>,
    pub state: Option<ModelState>,
    pub since: Option<DateTime<Utc>>,
    /// Our state is impaired while the page, readable, shows the component operational
    /// with no incident naming it.
    pub reports_no_problem: bool,
    /// Open published incidents and maintenances naming the component.
    pub incidents: Vec<crate::official::OfficialIncidentRef>,
    pub checked_at: Option<DateTime<Utc>>,
}

impl OfficialStatus {
    pub fn of(m: &ModelView) -> Option<OfficialStatus> {
        Some(OfficialStatus::from_view(m.official.as_ref()?, m.state))
    }

    /// The page's view beside `ours`, our state of the model.
    pub fn from_view(o: &crate::official::OfficialView, ours: ModelState) -> OfficialStatus {
        OfficialStatus {
            available: o.available,
            reason: o.reason.clone(),
            component: o.component.clone(),
            state: o.state,
            since: o.since,
            reports_no_problem: o.disagrees_with(ours),
            incidents: o.incidents.clone(),
            checked_at: o.checked_at,
        }
    }
}

/// One point of a model's latency/error chart.
#[derive(Serialize)]
pub struct HistoryPoint {
    at: DateTime<Utc>,
    probes: u32,
    failures: u32,
    ttft_p50_ms: Option<u32>,
    ttft_p95_ms: Option<u32>,
    total_p50_ms: Option<u32>,
    total_p95_ms: Option<u32>,
}

impl From<&LatencyPoint> for HistoryPoint {
    fn from(p: &LatencyPoint) -> HistoryPoint {
        HistoryPoint {
            at: p.at,
            probes: p.probes,
            failures: p.failures,
            ttft_p50_ms: p.ttft_p50_ms,
            ttft_p95_ms: p.ttft_p95_ms,
            total_p50_ms: p.total_p50_ms,
            total_p95_ms: p.total_p95_ms,
        }
    }
}

/// An incident with its updates, newest update first (as status pages show them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentView {
    pub id: i64,
    pub provider: String,
    pub title: String,
    pub status: String,
    pub impact: String,
    pub affected: Vec<String>,
    pub automatic: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The incident's public page.
    pub url: String,
    pub updates: Vec<UpdateView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub status: String,
    pub impact: String,
    pub body: String,
    pub affected: Vec<String>,
}

impl IncidentView {
    pub fn from_incident(i: &Incident, base_url: &str) -> IncidentView {
        let update = |u: &IncidentUpdate| UpdateView {
            id: u.id,
            at: u.at,
            status: u.status.clone(),
            impact: u.impact.clone(),
            body: u.body.clone(),
            affected: u.affected.clone(),
        };
        IncidentView {
            id: i.id,
            provider: i.provider_id.clone(),
            title: i.title.clone(),
            status: i.status.clone(),
            impact: i.impact.clone(),
            affected: i.affected.clone(),
            automatic: i.automatic,
            created_at: i.created_at,
            updated_at: i.updated_at,
            resolved_at: i.resolved_at,
            url: format!("{}/incidents/{}", base_url.trim_end_matches('/'), i.id),
            updates: i.updates.iter().rev().map(update).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thin_windows_have_no_error_rate() {
        let thin = Evidence {
            probes: 3,
            samples: 3,
            ..Evidence::default()
        };
        let f = Figures::from_evidence(&thin);
        assert_eq!((f.error_rate, f.error_rate_upper), (None, None));
        let judged = Evidence {
            samples: 20,
            failures: 12,
            error_rate: 0.6,
            error_rate_lower: 0.33,
            error_rate_upper: 0.82,
            ..Evidence::default()
        };
        let f = Figures::from_evidence(&judged);
        assert_eq!(f.error_rate, Some(0.6));
        assert_eq!(f.error_rate_lower, Some(0.33));
        assert_eq!(f.error_rate_upper, Some(0.82));
    }
}
