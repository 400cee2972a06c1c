//! Our own read API, `/api/v1`: JSON bodies rendered once per snapshot.
//!
//! The wire types ([`wire`]) are deliberately separate from the internal views
//! ([`super::snapshot`]): field names are snake_case and stable, so an internal rename can
//! never silently break a client. [`openapi`] describes every route (including the live
//! `/api/v1/routing`); the integration tests check the real bodies against that document.
//! Bodies are structs, not `json!` values, so fields keep their declared order.
//!
//! Routes rendered here (each body wrapped with `generated_at` and `stale_since`):
//! - `/api/v1/models`, `/api/v1/models/{provider}/{model}`,
//!   `/api/v1/models/{provider}/{model}/history` (`?period=24h|7d|30d`, default 24h);
//! - `/api/v1/incidents`, `/api/v1/incidents/{id}`;
//! - `/api/v1/providers`;
//! - `/api/v1/maintenances` (scheduled, in progress, completed in the last 90 days);
//! - `/api/v1/official` (providers' own pages, and who knew first);
//! - `/api/v1/openapi.json`.
//!
//! Unknown paths and bad `period` values are answered by [`super::site::serve`]; every
//! other refusal under `/api/v1` gets the same JSON shape through [`super::http::rejections`].

pub mod openapi;
mod openapi_agents;
mod openapi_events;
mod openapi_ingest;
mod openapi_official;
#[cfg(test)]
mod openapi_tests;
mod openapi_write;
pub mod wire;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::site::Rendered;
use super::snapshot::{ModelView, PublicSnapshot};
use crate::store::incidents::Incident;
use crate::vocabulary::ModelState;
pub use wire::{Figures, IncidentView, ModelSummary, StateChangeView, UpdateView};
use wire::{HistoryPoint, ModelDetail};

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

/// A provider's rollup with the ids of its models.
#[derive(Serialize)]
struct ProviderSummary {
    id: String,
    name: String,
    state: ModelState,
    models: Vec<String>,
}

/// The payloads, as structs rather than `json!` values so fields keep their declared order.
#[derive(Serialize)]
struct ModelsBody<'a> {
    models: &'a [ModelSummary],
}

#[derive(Serialize)]
struct ModelBody {
    model: ModelDetail,
}

#[derive(Serialize)]
struct HistoryBody<'a> {
    id: &'a str,
    period: &'static str,
    resolution: &'static str,
    points: Vec<HistoryPoint>,
}

#[derive(Serialize)]
struct IncidentsBody<'a> {
    incidents: &'a [IncidentView],
}

#[derive(Serialize)]
struct IncidentBody<'a> {
    incident: &'a IncidentView,
}

/// A maintenance window as the API shows it.
#[derive(Serialize)]
struct MaintenanceView {
    id: i64,
    title: String,
    body: String,
    /// scheduled, in_progress or completed (as of `generated_at`).
    status: &'static str,
    models: Vec<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    url: String,
}

#[derive(Serialize)]
struct MaintenancesBody {
    maintenances: Vec<MaintenanceView>,
}

/// Providers' own pages and the lead figures (`/api/v1/official`).
#[derive(Serialize)]
struct OfficialBody<'a> {
    providers: &'a [crate::official::views::ProviderOfficial],
    /// Our incidents of providers with a page, newest first, with their acknowledgement.
    ours: Vec<&'a crate::official::lead::OurIncidentLead>,
    /// Published incidents of the last 90 days, newest first, with whether we saw them.
    theirs: &'a [crate::official::lead::TheirIncident],
}

#[derive(Serialize)]
struct ProvidersBody {
    providers: Vec<ProviderSummary>,
}

/// Incidents newest first, whatever order the snapshot holds them in.
pub fn incidents_newest_first(snapshot: &PublicSnapshot) -> Vec<&Incident> {
    let mut incidents: Vec<&Incident> = snapshot.incidents.iter().collect();
    incidents.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
    incidents
}

/// The path of one model's body; ids are validated to `[a-z0-9._-]`, so no escaping.
pub fn model_path(m: &ModelView) -> String {
    format!("/api/v1/models/{}/{}", m.provider_id, m.model_id)
}

fn envelope<T: Serialize>(snapshot: &PublicSnapshot, payload: T) -> Envelope<T> {
    Envelope {
        generated_at: snapshot.generated_at,
        stale_since: snapshot.stale_since,
        payload,
    }
}

/// Renders a model's own `/api/v1` bodies (its detail and its history for each period);
/// `m` carries the figures of [`snapshot::load_details`](super::snapshot::load_details).
pub fn render_model(snapshot: &PublicSnapshot, m: &ModelView) -> Vec<Rendered> {
    let mut out = Vec::new();
    let path = model_path(m);
    let detail = ModelDetail {
        summary: ModelSummary::from_view(m),
        outcomes_24h: m.outcomes_24h.clone(),
        history: m.history.iter().map(StateChangeView::from_change).collect(),
        official: wire::OfficialStatus::of(m),
    };
    out.push(Rendered::json(
        path.clone(),
        &envelope(snapshot, ModelBody { model: detail }),
    ));
    let history = format!("{path}/history");
    for period in PERIODS {
        let (resolution, chart) = match period {
            "24h" => ("minute", &m.chart_24h),
            "7d" => ("hour", &m.chart_7d),
            _ => ("hour", &m.chart_30d),
        };
        let body = envelope(
            snapshot,
            HistoryBody {
                id: &m.id,
                period,
                resolution,
                points: chart.iter().map(HistoryPoint::from).collect(),
            },
        );
        out.push(Rendered::json(format!("{history}?period={period}"), &body));
        // The default period is also served at the bare path.
        if period == PERIODS[0] {
            out.push(Rendered::json(history.clone(), &body));
        }
    }
    out
}

/// Renders every `/api/v1` body of one snapshot shared by all models (each model's own are
/// rendered by [`render_model`] when asked for).
pub fn render(snapshot: &PublicSnapshot) -> Vec<Rendered> {
    let mut out = Vec::new();

    let models: Vec<ModelSummary> = snapshot.models().map(ModelSummary::from_view).collect();
    out.push(Rendered::json(
        "/api/v1/models",
        &envelope(snapshot, ModelsBody { models: &models }),
    ));
    let incidents: Vec<IncidentView> = incidents_newest_first(snapshot)
        .into_iter()
        .map(|i| IncidentView::from_incident(i, &snapshot.base_url))
        .collect();
    for i in &incidents {
        out.push(Rendered::json(
            format!("/api/v1/incidents/{}", i.id),
            &envelope(snapshot, IncidentBody { incident: i }),
        ));
    }
    out.push(Rendered::json(
        "/api/v1/incidents",
        &envelope(
            snapshot,
            IncidentsBody {
                incidents: &incidents,
            },
        ),
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
        &envelope(snapshot, ProvidersBody { providers }),
    ));

    let mut windows: Vec<&crate::store::maintenances::Maintenance> =
        snapshot.maintenances.iter().collect();
    windows.sort_by_key(|m| std::cmp::Reverse((m.window.starts_at, m.window.id)));
    let maintenances = windows
        .into_iter()
        .map(|m| MaintenanceView {
            id: m.window.id,
            title: m.window.title.clone(),
            body: m.window.body.clone(),
            status: m.window.status.as_str(),
            models: m.window.models.clone(),
            starts_at: m.window.starts_at,
            ends_at: m.window.ends_at,
            started_at: m.started_at,
            completed_at: m.completed_at,
            url: format!("{}/#maintenance-{}", snapshot.base_url, m.window.id),
        })
        .collect();
    out.push(Rendered::json(
        "/api/v1/maintenances",
        &envelope(snapshot, MaintenancesBody { maintenances }),
    ));

    out.push(Rendered::json(
        "/api/v1/official",
        &envelope(
            snapshot,
            OfficialBody {
                providers: &snapshot.official.providers,
                ours: snapshot.official.ours.values().rev().collect(),
                theirs: &snapshot.official.theirs,
            },
        ),
    ));

    out.push(Rendered::json(
        "/api/v1/openapi.json",
        &openapi::document(&snapshot.base_url, &openapi::Deployment::of(snapshot)),
    ));
    out
}
