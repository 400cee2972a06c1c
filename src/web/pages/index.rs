//! The front page `/`: overall banner, active incidents, providers with one row per model,
//! maintenance and the subscribe entry point.

use askama::Template;

use super::incident::{render_failed, IncidentView};
use super::svg::{self, DayBars, Sparkline};
use super::{
    model_href, model_link, ms_text, pct, state_view, time, Layout, ModelLink, StateView, TimeView,
};
use crate::evaluate::overrides::WindowStatus;
use crate::store::maintenances::Maintenance;
use crate::vocabulary::ModelState;
use crate::web::snapshot::{ModelView, PublicSnapshot, HISTORY_DAYS};

/// One model's row.
#[derive(Debug, Clone)]
pub struct ModelRow {
    pub name: String,
    pub href: String,
    pub state: StateView,
    pub enabled: bool,
    /// Set when the model is disabled and a fallback is enabled.
    pub fallback: Option<ModelLink>,
    pub ttft_now: String,
    pub spark: Sparkline,
    pub bars: DayBars,
    /// "99.95% uptime", or a sentence when there is nothing to count yet.
    pub uptime: String,
}

impl ModelRow {
    fn new(snapshot: &PublicSnapshot, m: &ModelView) -> ModelRow {
        ModelRow {
            name: m.name.clone(),
            href: model_href(&m.provider_id, &m.model_id),
            state: state_view(m.state),
            enabled: m.enabled,
            fallback: fallback_link(snapshot, m),
            ttft_now: ms_text(m.ttft_now_ms),
            spark: svg::sparkline(&m.sparkline),
            bars: svg::day_bars(&m.days, m.uptime_90d),
            uptime: match m.uptime_90d {
                Some(u) => format!("{} uptime", pct(u)),
                None => "No uptime data yet".into(),
            },
        }
    }
}

/// The model to use instead of a disabled one, named as configured when it is known.
pub fn fallback_link(snapshot: &PublicSnapshot, m: &ModelView) -> Option<ModelLink> {
    if m.enabled {
        return None;
    }
    let id = m.fallback.as_deref()?;
    let mut link = model_link(snapshot, id);
    if let Some(name) = &m.fallback_name {
        link.name = name.clone();
    }
    Some(link)
}

#[derive(Debug, Clone)]
pub struct ProviderGroup {
    pub id: String,
    pub name: String,
    pub state: StateView,
    pub models: Vec<ModelRow>,
}

/// A scheduled or in-progress maintenance window, anchored at `#maintenance-{id}`.
#[derive(Debug, Clone)]
pub struct MaintenanceRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub models: Vec<ModelLink>,
    pub starts: TimeView,
    pub ends: TimeView,
    /// `scheduled` or `in-progress`, for the CSS class.
    pub class: &'static str,
    /// The status in words.
    pub status: &'static str,
}

impl MaintenanceRow {
    pub fn new(snapshot: &PublicSnapshot, m: &Maintenance) -> MaintenanceRow {
        let w = &m.window;
        let (class, status) = match w.status {
            WindowStatus::InProgress => ("in-progress", "In progress"),
            WindowStatus::Completed => ("completed", "Completed"),
            WindowStatus::Cancelled => ("cancelled", "Cancelled"),
            WindowStatus::Scheduled => ("scheduled", "Scheduled"),
        };
        MaintenanceRow {
            id: w.id,
            title: w.title.clone(),
            body: w.body.clone(),
            models: w.models.iter().map(|id| model_link(snapshot, id)).collect(),
            starts: time(w.starts_at),
            ends: time(w.ends_at),
            class,
            status,
        }
    }
}

#[derive(Template)]
#[template(path = "public/index.html")]
pub struct IndexPage {
    pub layout: Layout,
    pub banner: StateView,
    pub banner_text: &'static str,
    pub active: Vec<IncidentView>,
    pub providers: Vec<ProviderGroup>,
    /// Scheduled and in-progress maintenance, earliest start first.
    pub maintenances: Vec<MaintenanceRow>,
    pub days: i64,
}

/// The banner's words for the overall state.
pub fn banner_text(overall: ModelState) -> &'static str {
    match overall {
        ModelState::Operational => "All systems operational",
        ModelState::DegradedPerformance => "Some models degraded",
        ModelState::PartialOutage => "Partial outage",
        ModelState::MajorOutage => "Major outage",
        ModelState::UnderMaintenance => "Under maintenance",
        ModelState::Unknown => "Status not yet known",
    }
}

/// The banner's state: the models' overall state, made as bad as the Statuspage indicator
/// (which also counts unresolved incidents, even while they are being monitored), so the
/// page never says "all operational" while `/api/v2/status.json` reports an outage.
pub fn banner_state(overall: ModelState, indicator: &str) -> ModelState {
    let from_indicator = match indicator {
        "minor" => ModelState::DegradedPerformance,
        "major" => ModelState::PartialOutage,
        "critical" => ModelState::MajorOutage,
        _ => return overall,
    };
    match overall.severity() {
        Some(own) if from_indicator.severity().is_some_and(|i| i <= own) => overall,
        _ => from_indicator,
    }
}

pub fn render(snapshot: &PublicSnapshot) -> String {
    let overall = banner_state(
        snapshot.overall(),
        crate::web::statuspage::snapshot_indicator(snapshot),
    );
    let page = IndexPage {
        layout: Layout::new(
            snapshot,
            "Status",
            format!(
                "Live health of every AI model {} watches: {}",
                snapshot.page_name,
                banner_text(overall)
            ),
            "status",
        ),
        banner: state_view(overall),
        banner_text: banner_text(overall),
        active: snapshot
            .unresolved_incidents()
            .map(|i| IncidentView::new(snapshot, i))
            .collect(),
        providers: snapshot
            .providers
            .iter()
            .map(|p| ProviderGroup {
                id: p.id.clone(),
                name: p.name.clone(),
                state: state_view(p.state),
                models: p
                    .models
                    .iter()
                    .map(|m| ModelRow::new(snapshot, m))
                    .collect(),
            })
            .collect(),
        maintenances: snapshot
            .open_maintenances()
            .into_iter()
            .map(|m| MaintenanceRow::new(snapshot, m))
            .collect(),
        days: HISTORY_DAYS,
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}
