//! Our own read API, `/api/v1`: JSON bodies rendered once per snapshot.
//!
//! The wire types here are deliberately separate from the internal views
//! ([`super::snapshot`]): field names are snake_case and stable, so an internal rename can
//! never silently break a client. [`openapi`] describes every route (including the live
//! `/api/v1/routing`); the integration tests check the real bodies against that document.
//!
//! Routes rendered here (each body wrapped with `generated_at` and `stale_since`):
//! - `/api/v1/models`, `/api/v1/models/{provider}/{model}`,
//!   `/api/v1/models/{provider}/{model}/history` (`?period=24h|7d|30d`, default 24h);
//! - `/api/v1/incidents`, `/api/v1/incidents/{id}`;
//! - `/api/v1/providers`;
//! - `/api/v1/openapi.json`.
//!
//! Unknown paths and bad `period` values are answered by [`super::site::serve`].

pub mod openapi;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::site::Rendered;
use super::snapshot::{LatencyPoint, ModelView, PublicSnapshot};
use crate::evaluate::{Evidence, ModelState};
use crate::store::evaluations::StateChange;
use crate::store::incidents::{Incident, IncidentUpdate};

/// The periods a history can be asked for; the first is the default.
pub const PERIODS: [&str; 3] = ["24h", "7d", "30d"];

/// Every body wraps its payload with when it was built and whether it is stale.
#[derive(Serialize)]
struct Envelope<T: Serialize> {
    generated_at: DateTime<Utc>,
    /// Set when the database could not be read: the data is as of this time.
    stale_since: Option<DateTime<Utc>>,
    #[serde(flatten)]
    payload: T,
}

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
    fn from_change(c: &StateChange) -> StateChangeView {
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
struct ModelDetail {
    #[serde(flatten)]
    summary: ModelSummary,
    outcomes_24h: BTreeMap<String, u32>,
    history: Vec<StateChangeView>,
}

/// One point of a model's latency/error chart.
#[derive(Serialize)]
struct HistoryPoint {
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

/// A provider's rollup with the ids of its models.
#[derive(Serialize)]
struct ProviderSummary {
    id: String,
    name: String,
    state: ModelState,
    models: Vec<String>,
}

/// Incidents newest first, whatever order the snapshot holds them in.
pub fn incidents_newest_first(snapshot: &PublicSnapshot) -> Vec<&Incident> {
    let mut incidents: Vec<&Incident> = snapshot.incidents.iter().collect();
    incidents.sort_by(|a, b| (b.created_at, b.id).cmp(&(a.created_at, a.id)));
    incidents
}

/// The path of one model's body; ids are validated to `[a-z0-9._-]`, so no escaping.
pub fn model_path(m: &ModelView) -> String {
    format!("/api/v1/models/{}/{}", m.provider_id, m.model_id)
}

/// Renders every `/api/v1` body of one snapshot.
pub fn render(snapshot: &PublicSnapshot) -> Vec<Rendered> {
    let wrap = |payload| Envelope {
        generated_at: snapshot.generated_at,
        stale_since: snapshot.stale_since,
        payload,
    };
    let mut out = Vec::new();

    let models: Vec<ModelSummary> = snapshot.models().map(ModelSummary::from_view).collect();
    out.push(Rendered::json(
        "/api/v1/models",
        &wrap(serde_json::json!({ "models": models })),
    ));
    for m in snapshot.models() {
        let path = model_path(m);
        let detail = ModelDetail {
            summary: ModelSummary::from_view(m),
            outcomes_24h: m.outcomes_24h.clone(),
            history: m.history.iter().map(StateChangeView::from_change).collect(),
        };
        out.push(Rendered::json(
            path.clone(),
            &wrap(serde_json::json!({ "model": detail })),
        ));
        let history = format!("{path}/history");
        for period in PERIODS {
            let (resolution, chart) = match period {
                "24h" => ("minute", &m.chart_24h),
                "7d" => ("hour", &m.chart_7d),
                _ => ("hour", &m.chart_30d),
            };
            let points: Vec<HistoryPoint> = chart.iter().map(HistoryPoint::from).collect();
            let body = wrap(serde_json::json!({
                "id": m.id,
                "period": period,
                "resolution": resolution,
                "points": points,
            }));
            out.push(Rendered::json(format!("{history}?period={period}"), &body));
            // The default period is also served at the bare path.
            if period == PERIODS[0] {
                out.push(Rendered::json(history.clone(), &body));
            }
        }
    }

    let incidents: Vec<IncidentView> = incidents_newest_first(snapshot)
        .into_iter()
        .map(|i| IncidentView::from_incident(i, &snapshot.base_url))
        .collect();
    for i in &incidents {
        out.push(Rendered::json(
            format!("/api/v1/incidents/{}", i.id),
            &wrap(serde_json::json!({ "incident": i })),
        ));
    }
    out.push(Rendered::json(
        "/api/v1/incidents",
        &wrap(serde_json::json!({ "incidents": incidents })),
    ));

    let providers: Vec<ProviderSummary> = snapshot
        .providers
        .iter()
        .map(|p| ProviderSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            state: p.state,
            models: p.models.iter().map(|m| m.id.clone()).collect(),
        })
        .collect();
    out.push(Rendered::json(
        "/api/v1/providers",
        &wrap(serde_json::json!({ "providers": providers })),
    ));

    out.push(Rendered::json(
        "/api/v1/openapi.json",
        &openapi::document(&snapshot.base_url),
    ));
    out
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
