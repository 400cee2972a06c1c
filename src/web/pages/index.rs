//! The front page `/`: overall banner, active incidents, providers with one row per model,
//! maintenance and the subscribe entry point.
//!
//! A provider with more than [`COLLAPSE_OVER`] models is collapsed to a line of counts that
//! links to its page (`/providers/{id}`, [`super::provider`]); its impaired models are still
//! listed first, the first [`EXPANDED_MAX`] of them as full rows and the rest by name and
//! state, so the page names every model in trouble and stays light with a thousand models.

use askama::Template;

use super::incident::{render_failed, IncidentView};
use super::svg::{self, DayBars, Sparkline};
use super::{
    model_href, model_link, ms_text, path_segment, pct, state_view, time, Layout, ModelLink,
    StateView, TimeView,
};
use crate::evaluate::overrides::WindowStatus;
use crate::store::maintenances::Maintenance;
use crate::vocabulary::ModelState;
use crate::web::snapshot::{ModelView, ProviderView, PublicSnapshot, HISTORY_DAYS};

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
    /// Impaired by our evidence while the provider's page shows no problem.
    pub official_disagrees: bool,
    /// Regions whose vantages see the model impaired while it is not for everyone (below
    /// the quorum), from the same decision as its state.
    pub impaired_in: Vec<String>,
}

impl ModelRow {
    pub fn new(snapshot: &PublicSnapshot, m: &ModelView) -> ModelRow {
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
            official_disagrees: m
                .official
                .as_ref()
                .is_some_and(|o| o.disagrees_with(m.state)),
            impaired_in: impaired_regions(m),
        }
    }
}

/// The regions where counted vantages see `m` worse than its state for everyone.
fn impaired_regions(m: &ModelView) -> Vec<String> {
    let Some(e) = &m.evidence else {
        return Vec::new();
    };
    let mine = m.state.severity().unwrap_or(0);
    let mut regions: Vec<String> = e
        .vantages
        .iter()
        .filter(|v| v.active && v.state.severity().is_some_and(|s| s > mine))
        .map(|v| v.region.clone())
        .collect();
    regions.sort();
    regions.dedup();
    regions
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

/// Providers with more models than this are collapsed on the front page.
pub const COLLAPSE_OVER: usize = 12;
/// At most this many impaired models of a collapsed provider get a full row; the others are
/// named with their state on one line each.
pub const EXPANDED_MAX: usize = 10;

#[derive(Debug, Clone)]
pub struct ProviderGroup {
    pub id: String,
    pub name: String,
    pub state: StateView,
    /// The provider's page, listing all its models.
    pub href: String,
    /// Full rows: every model, or a collapsed provider's first impaired ones.
    pub models: Vec<ModelRow>,
    /// Set when the provider is collapsed.
    pub collapsed: Option<Collapsed>,
}

/// What a collapsed provider shows instead of all its rows.
#[derive(Debug, Clone)]
pub struct Collapsed {
    pub total: usize,
    /// "97 operational, 2 degraded performance, 1 unknown", worst first.
    pub counts: String,
    /// Impaired models beyond [`EXPANDED_MAX`], by name and state.
    pub more_impaired: Vec<(ModelLink, StateView)>,
}

/// A model needing the reader's attention: in any known state but operational, or disabled.
pub fn impaired(m: &ModelView) -> bool {
    !m.enabled || !matches!(m.state, ModelState::Operational | ModelState::Unknown)
}

/// "97 operational, 2 degraded performance, 1 unknown": models per state, worst first.
pub fn state_counts<'a>(models: impl Iterator<Item = &'a ModelView>) -> String {
    let mut counts: Vec<(ModelState, usize)> = Vec::new();
    for m in models {
        match counts.iter_mut().find(|(s, _)| *s == m.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((m.state, 1)),
        }
    }
    counts.sort_by_key(|(s, _)| (s.severity().map_or(9, |v| 3 - v), s.as_str()));
    let parts: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.label().to_lowercase()))
        .collect();
    parts.join(", ")
}

pub fn provider_href(id: &str) -> String {
    format!("/providers/{}", path_segment(id))
}

impl ProviderGroup {
    fn new(snapshot: &PublicSnapshot, p: &ProviderView) -> ProviderGroup {
        let (models, collapsed) = if p.models.len() <= COLLAPSE_OVER {
            let rows = p
                .models
                .iter()
                .map(|m| ModelRow::new(snapshot, m))
                .collect();
            (rows, None)
        } else {
            let mut bad: Vec<&ModelView> = p.models.iter().filter(|m| impaired(m)).collect();
            // Worst first; configuration order among equals (the sort is stable).
            bad.sort_by_key(|m| std::cmp::Reverse(m.state.severity().unwrap_or(0)));
            let rest = bad.split_off(bad.len().min(EXPANDED_MAX));
            let rows = bad.iter().map(|m| ModelRow::new(snapshot, m)).collect();
            let collapsed = Collapsed {
                total: p.models.len(),
                counts: state_counts(p.models.iter()),
                more_impaired: rest
                    .iter()
                    .map(|m| (model_link(snapshot, &m.id), state_view(m.state)))
                    .collect(),
            };
            (rows, Some(collapsed))
        };
        ProviderGroup {
            id: p.id.clone(),
            name: p.name.clone(),
            state: state_view(p.state),
            href: provider_href(&p.id),
            models,
            collapsed,
        }
    }
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
            .map(|p| ProviderGroup::new(snapshot, p))
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
