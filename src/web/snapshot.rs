//! The public snapshot: everything the public surfaces show, read from the store in one go.
//!
//! A publisher builds a [`PublicSnapshot`] when the public face of the routing table changes
//! (and every half minute for fresh figures), renders the shared bodies once
//! ([`super::site`]), and swaps the result in. If the database cannot be read, the previous
//! snapshot is kept, refreshed from the in-memory routing table, and marked stale.
//!
//! Only a model's own page and API bodies need its charts; those figures are read by
//! [`load_details`] when one of them is first asked for in a snapshot version
//! (`super::model_bodies`), so a rebuild reads and holds what every page shows and not a
//! thousand models' charts nobody is looking at.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::evaluate::engine::{Route, RoutingTable};
use crate::evaluate::overrides::WindowStatus;
use crate::store::evaluations::{StateChange, StoredModelState};
use crate::store::incidents::Incident;
use crate::store::maintenances::Maintenance;
use crate::store::minute_rollups_of;
use crate::store::rollups::hours_so_far;
use crate::store::{Granularity, ReadView, Rollup, Store, StoreError};
use crate::vocabulary::Outcome;
use crate::vocabulary::{ActiveOverride, Evidence, ModelState};

use super::figure_cache::{FigureCache, Figures};
use super::uptime;
use crate::official::views::OfficialSnapshot;
use crate::official::OfficialView;

/// Days of history shown as uptime bars.
pub const HISTORY_DAYS: i64 = 90;
/// Points of the 24-hour sparkline (one per 15 minutes).
pub const SPARKLINE_POINTS: usize = 96;

/// One point of a latency chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyPoint {
    pub at: DateTime<Utc>,
    pub probes: u32,
    pub failures: u32,
    pub ttft_p50_ms: Option<u32>,
    pub ttft_p95_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
    pub total_p95_ms: Option<u32>,
}

/// A day's probe counts and first-token latency, as the daily bars use them (from the day's
/// rollup, or today's hours and minutes so far).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayFigures {
    pub start: DateTime<Utc>,
    pub probes: u32,
    /// Probes that failed by the provider's fault.
    pub failures: u32,
    pub ttft_p50_ms: Option<u32>,
    pub ttft_p95_ms: Option<u32>,
}

/// One day's uptime bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayBar {
    pub date: NaiveDate,
    /// The worst state the model was in that day (`unknown` without any evidence).
    pub worst: ModelState,
    /// Weighted share of the day's known time the model was up (see `super::uptime`), `None`
    /// when its state was unknown all day.
    pub uptime: Option<f64>,
    pub probes: u32,
    pub failures: u32,
    pub ttft_p50_ms: Option<u32>,
    pub ttft_p95_ms: Option<u32>,
    /// Today: figures so far, latency estimated from hourly and minute rollups.
    pub so_far: bool,
    /// Incidents of the model's provider that affected the model and overlapped that day.
    pub incidents: Vec<i64>,
}

/// A model as the public sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelView {
    /// `provider/model`.
    pub id: String,
    pub provider_id: String,
    pub model_id: String,
    pub name: String,
    pub state: ModelState,
    pub enabled: bool,
    pub fallback: Option<String>,
    pub fallback_name: Option<String>,
    pub since: DateTime<Utc>,
    /// The line beside the state: an override's words while one is in force, else the first
    /// of `reasons` (see `headline`), so its figures are those of `evidence`.
    pub reason: String,
    /// The stored decision's reasons; written in one row with `evidence`.
    pub reasons: Vec<String>,
    pub evidence: Option<Evidence>,
    /// Time to first token of the latest successful probe.
    pub ttft_now_ms: Option<u32>,
    pub last_probe_at: Option<DateTime<Utc>>,
    /// Median time to first token per 15 minutes over the last 24 hours, oldest first.
    pub sparkline: Vec<Option<u32>>,
    /// The last [`HISTORY_DAYS`] days, oldest first.
    pub days: Vec<DayBar>,
    pub uptime_90d: Option<f64>,
    /// Per minute over 24 h, per hour over 7 d and 30 d. Empty in the published snapshot;
    /// filled by [`load_details`] for the model's own bodies (as is `outcomes_24h`).
    pub chart_24h: Vec<LatencyPoint>,
    pub chart_7d: Vec<LatencyPoint>,
    pub chart_30d: Vec<LatencyPoint>,
    /// Probes per outcome class over the last 24 hours.
    pub outcomes_24h: BTreeMap<String, u32>,
    /// State changes of the last 30 days, newest first.
    pub history: Vec<StateChange>,
    /// What the provider's own page says of the model, when it has one configured.
    pub official: Option<OfficialView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderView {
    pub id: String,
    pub name: String,
    pub state: ModelState,
    pub models: Vec<ModelView>,
}

/// Everything the public surfaces render, at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSnapshot {
    /// Increases with every rebuild; part of every ETag.
    pub version: u64,
    pub generated_at: DateTime<Utc>,
    /// The page's name and public base URL (for links in feeds and the Statuspage API).
    pub page_name: String,
    pub base_url: String,
    pub providers: Vec<ProviderView>,
    /// Incidents of the last [`HISTORY_DAYS`] days and every unresolved one, newest first.
    pub incidents: Vec<Incident>,
    /// Maintenance windows scheduled or in progress, and those completed in the last
    /// [`HISTORY_DAYS`] days (cancelled ones never show), latest start first. Statuses are
    /// as of [`Self::generated_at`] (see [`public_status`]).
    pub maintenances: Vec<Maintenance>,
    /// Providers' own pages, and who knew first.
    pub official: OfficialSnapshot,
    /// Set when the database could not be read: the data is as of this time.
    pub stale_since: Option<DateTime<Utc>>,
}

impl PublicSnapshot {
    pub fn models(&self) -> impl Iterator<Item = &ModelView> {
        self.providers.iter().flat_map(|p| p.models.iter())
    }

    pub fn model(&self, id: &str) -> Option<&ModelView> {
        self.models().find(|m| m.id == id)
    }

    pub fn unresolved_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| i.resolved_at.is_none())
    }

    /// Windows still to start or in progress, earliest start first.
    pub fn open_maintenances(&self) -> Vec<&Maintenance> {
        let mut open: Vec<&Maintenance> = self
            .maintenances
            .iter()
            .filter(|m| {
                matches!(
                    m.window.status,
                    WindowStatus::Scheduled | WindowStatus::InProgress
                )
            })
            .collect();
        open.sort_by_key(|m| (m.window.starts_at, m.window.id));
        open
    }

    /// The overall state: the worst health state of any model (unknown models aside).
    pub fn overall(&self) -> ModelState {
        let worst = self.models().filter_map(|m| m.state.severity()).max();
        match worst {
            None => ModelState::Unknown,
            Some(0) => ModelState::Operational,
            Some(1) => ModelState::DegradedPerformance,
            Some(2) => ModelState::PartialOutage,
            Some(_) => ModelState::MajorOutage,
        }
    }
}

/// Reads everything the public surfaces show. `routing` is the evaluator's current table.
///
/// Every figure is read in one read transaction, so a page never mixes two commits (a
/// model's state from before a round with its history from after it).
pub async fn build(
    store: &Store,
    config: &Config,
    routing: &RoutingTable,
    version: u64,
    now: DateTime<Utc>,
    figures: &mut FigureCache,
) -> Result<PublicSnapshot, StoreError> {
    let mut store = store.read_view().await?;
    let ids: Vec<String> = config
        .models()
        .map(|(p, m)| format!("{}/{}", p.id, m.id))
        .collect();
    figures
        .refresh(&mut store, ids.iter().map(String::as_str), now)
        .await?;
    let states: BTreeMap<String, _> = store
        .load_model_states()
        .await?
        .into_iter()
        .map(|s| (s.model_key.clone(), s))
        .collect();
    let overrides: BTreeMap<String, ActiveOverride> = store
        .active_overrides()
        .await?
        .into_iter()
        .filter(|o| !o.expired(now))
        .map(|o| (o.model_key.clone(), o))
        .collect();
    let incidents: Vec<Incident> = store
        .incidents(500)
        .await?
        .into_iter()
        .filter(|i| i.resolved_at.is_none() || i.created_at >= now - Duration::days(HISTORY_DAYS))
        .collect();
    let maintenances = store
        .list_maintenances(500)
        .await?
        .into_iter()
        .filter_map(|m| public_status(m, now))
        .filter(|m| {
            m.window.status != WindowStatus::Completed
                || m.completed_at.unwrap_or(m.window.ends_at) >= now - Duration::days(HISTORY_DAYS)
        })
        .collect();
    let official_records = store.official(now - Duration::days(HISTORY_DAYS)).await?;
    let official = OfficialSnapshot::build(config, &official_records, &incidents, now);
    let names: BTreeMap<String, String> = config
        .models()
        .map(|(p, m)| (format!("{}/{}", p.id, m.id), m.name.clone()))
        .collect();
    let mut providers = Vec::new();
    for p in &config.providers {
        let mut models = Vec::new();
        for m in &p.models {
            let id = format!("{}/{}", p.id, m.id);
            let route = routing.models.iter().find(|r| r.id == id);
            let stored = states.get(&id);
            let mut view = ModelView {
                id: id.clone(),
                provider_id: p.id.clone(),
                model_id: m.id.clone(),
                name: m.name.clone(),
                state: route.map(|r| r.state).unwrap_or(ModelState::Unknown),
                enabled: route.map(|r| r.enabled).unwrap_or(true),
                fallback: route.and_then(|r| r.fallback.clone()),
                fallback_name: route
                    .and_then(|r| r.fallback.as_ref())
                    .and_then(|f| names.get(f).cloned()),
                since: route.map(|r| r.since).unwrap_or(now),
                reason: headline(route, stored, overrides.get(&id)),
                reasons: stored.map(|s| s.reasons.clone()).unwrap_or_default(),
                evidence: stored.map(|s| {
                    let mut e = s.evidence.clone();
                    if !config.traffic.public_figures {
                        // Traffic volumes may be confidential: the public surfaces (built
                        // from this snapshot) show the decision, not the counts.
                        e.traffic = None;
                    }
                    e
                }),
                ttft_now_ms: None,
                last_probe_at: None,
                sparkline: Vec::new(),
                days: Vec::new(),
                uptime_90d: None,
                chart_24h: Vec::new(),
                chart_7d: Vec::new(),
                chart_30d: Vec::new(),
                outcomes_24h: BTreeMap::new(),
                history: Vec::new(),
                official: official.models.get(&id).cloned(),
            };
            let recent = figures.figures(&id, now);
            fill_figures(&mut store, &mut view, recent, &incidents, now).await?;
            models.push(view);
        }
        let route_state = routing
            .providers
            .iter()
            .find(|r| r.id == p.id)
            .map(|r| r.state)
            .unwrap_or(ModelState::Unknown);
        providers.push(ProviderView {
            id: p.id.clone(),
            name: p.name.clone(),
            state: route_state,
            models,
        });
    }
    Ok(PublicSnapshot {
        version,
        generated_at: now,
        page_name: "modelwatch".into(),
        base_url: config.server.public_url.clone(),
        providers,
        incidents,
        maintenances,
        official,
        stale_since: None,
    })
}

/// The line shown beside a model's state. An override in force speaks for itself (its words
/// carry no figures). Otherwise it is the first stored reason, written in one row with the
/// evidence the pages show below it: the routing table's copy of that line is read at
/// another instant than the store, and a round ahead or behind it would put one decision's
/// figures beside another's ("1 of 29" above "0 of 30").
fn headline(
    route: Option<&Route>,
    stored: Option<&StoredModelState>,
    active: Option<&ActiveOverride>,
) -> String {
    match (active, stored.and_then(|s| s.reasons.first())) {
        (Some(o), _) => o.describe(),
        (None, Some(first)) => first.clone(),
        // Nothing decided yet: the routing table says so in its own words.
        (None, None) => route.map(|r| r.reason.clone()).unwrap_or_default(),
    }
}

/// A window as the public sees it at `now`, or `None` when it was cancelled. The evaluator
/// moves windows along in its rounds; between its round and the window's start or end the
/// stored status lags, so the status is taken from the clock as well, never behind it.
pub fn public_status(mut m: Maintenance, now: DateTime<Utc>) -> Option<Maintenance> {
    let w = &mut m.window;
    match w.status {
        WindowStatus::Cancelled => return None,
        WindowStatus::Scheduled | WindowStatus::InProgress if w.ends_at <= now => {
            w.status = WindowStatus::Completed;
            m.started_at.get_or_insert(w.starts_at);
            m.completed_at.get_or_insert(w.ends_at);
        }
        WindowStatus::Scheduled if w.starts_at <= now => {
            w.status = WindowStatus::InProgress;
            m.started_at.get_or_insert(w.starts_at);
        }
        _ => {}
    }
    Some(m)
}

/// The figures every surface shows: latest probe, today and the 90 daily bars, uptime, state
/// history. The charts and outcome counts only the model's own page and API show are read
/// by [`load_details`], when one of those is asked for.
async fn fill_figures(
    store: &mut ReadView,
    view: &mut ModelView,
    recent: Figures,
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    view.last_probe_at = recent.last_probe_at;
    view.ttft_now_ms = recent.ttft_now_ms;
    view.sparkline = recent.sparkline;
    let days = recent.days;
    let window_start = now - Duration::days(HISTORY_DAYS);
    let changes = store.state_changes(&view.id, window_start).await?;
    // Uptime is time in each state (see `super::uptime`), so today's bar, the 90-day figure
    // and the state beside them come from one history.
    let before = store.state_before(&view.id, window_start).await?;
    let spans = uptime::spans(before, &changes, view.state, window_start, now);
    view.days = day_bars(&days, &spans, incidents, &view.id, now);
    view.uptime_90d = uptime::uptime(&spans, window_start, now);
    let month_ago = now - Duration::days(30);
    view.history = changes
        .into_iter()
        .rev()
        .filter(|c| c.at >= month_ago)
        .collect();
    Ok(())
}

/// Fills what only the model's own page and API show, as of `now` (the snapshot's instant):
/// the 24-hour, 7-day and 30-day charts and the last 24 hours' outcome counts. Read when one
/// of those bodies is first asked for (see `web::model_bodies`), not at every publish: with
/// many models they are most of what a rebuild would read and hold.
pub async fn load_details(
    store: &Store,
    view: &mut ModelView,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut store = store.read_view().await?;
    let mut minutes = store
        .rollups(
            &view.id,
            Granularity::Minute,
            now - Duration::hours(24),
            now,
        )
        .await?;
    // The minutes not rolled up yet are built from the raw results as the rollup job will
    // build them, so the charts and outcome counts include the probes the decision beside
    // them was made from (a fault's first failures and slow first tokens are in the current
    // minute; the demo's chart once stopped at 2 s while the first token took 4.2 s).
    let rolled_up_to = store
        .rollup_watermark(Granularity::Minute)
        .await?
        .unwrap_or(now - Duration::hours(24))
        .max(now - Duration::hours(24));
    let recent = store
        .results_between(&view.id, rolled_up_to, now + Duration::seconds(1))
        .await?;
    minutes.retain(|m| m.bucket_start < rolled_up_to);
    minutes.extend(minute_rollups_of(&view.id, &recent));
    let hours = store
        .rollups(&view.id, Granularity::Hour, now - Duration::days(30), now)
        .await?;
    view.chart_24h = minutes.iter().map(point).collect();
    // An hour's rollup is written when the hour ends: the hourly charts take the hours since
    // the last one from the minutes, so they reach the present as the 24-hour chart does
    // (and a new deployment's first hours show in them).
    let so_far = hours_so_far(&hours, &minutes);
    view.chart_30d = hours.iter().chain(&so_far).map(point).collect();
    view.chart_7d = hours
        .iter()
        .chain(&so_far)
        .filter(|h| h.bucket_start >= now - Duration::days(7))
        .map(point)
        .collect();
    view.outcomes_24h.clear();
    for r in &minutes {
        for o in Outcome::ALL {
            let n = r.count(o);
            if n > 0 {
                *view.outcomes_24h.entry(o.as_str().to_string()).or_default() += n;
            }
        }
    }
    Ok(())
}

fn failures(r: &Rollup) -> u32 {
    r.provider_faults()
}

fn point(r: &Rollup) -> LatencyPoint {
    LatencyPoint {
        at: r.bucket_start,
        probes: r.probes,
        failures: failures(r),
        ttft_p50_ms: r.ttft_p50,
        ttft_p95_ms: r.ttft_p95,
        total_p50_ms: r.total_p50,
        total_p95_ms: r.total_p95,
    }
}

/// The median of each 15-minute slot's minute medians over the last 24 hours.
pub fn sparkline(minutes: &[Rollup], now: DateTime<Utc>) -> Vec<Option<u32>> {
    sparkline_of(
        minutes
            .iter()
            .filter_map(|r| Some((r.bucket_start, r.ttft_p50?))),
        now,
    )
}

/// Seconds in one sparkline point.
const SPARKLINE_SLOT_SECONDS: i64 = 15 * 60;

/// The 15-minute slot (counted from the epoch) that `at` falls in. Points are aligned to the
/// clock (:00, :15, :30, :45), so a slot that has passed keeps its median for good and the
/// figure cache holds one number for it instead of its fifteen minutes.
pub fn sparkline_slot(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(SPARKLINE_SLOT_SECONDS)
}

/// The first second after `slot`.
pub fn sparkline_slot_end(slot: i64) -> i64 {
    (slot + 1) * SPARKLINE_SLOT_SECONDS
}

/// The slot of the sparkline's first (oldest) point at `now`; the last is `now`'s own slot.
pub fn sparkline_first_slot(now: DateTime<Utc>) -> i64 {
    sparkline_slot(now) - (SPARKLINE_POINTS as i64 - 1)
}

/// The lower median of some values (the one a sparkline point shows), `None` for none.
pub fn lower_median(mut values: Vec<u32>) -> Option<u32> {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// [`sparkline`] from `(bucket start, median first token)` pairs of minutes started before
/// `now`.
pub fn sparkline_of(
    minutes: impl Iterator<Item = (DateTime<Utc>, u32)>,
    now: DateTime<Utc>,
) -> Vec<Option<u32>> {
    let first = sparkline_first_slot(now);
    let mut slots: Vec<Vec<u32>> = vec![Vec::new(); SPARKLINE_POINTS];
    for (at, v) in minutes.filter(|(at, _)| *at < now) {
        let index = usize::try_from(sparkline_slot(at) - first).ok();
        if let Some(s) = index.and_then(|i| slots.get_mut(i)) {
            s.push(v);
        }
    }
    slots.into_iter().map(lower_median).collect()
}

/// One bar per day: the worst state that day and the day's uptime (from the state history,
/// as [`uptime`] defines it), its probes and latency (from day rollups), and the incidents
/// that touched the model.
pub fn day_bars(
    days: &[DayFigures],
    spans: &[uptime::Span],
    incidents: &[Incident],
    model: &str,
    now: DateTime<Utc>,
) -> Vec<DayBar> {
    let today = now.date_naive();
    let mut bars = Vec::with_capacity(HISTORY_DAYS as usize);
    for back in (0..HISTORY_DAYS).rev() {
        let date = today - Duration::days(back);
        let start = date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(now);
        let end = start + Duration::days(1);
        let rollup = days.iter().find(|d| d.start == start);
        let (probes, fails) = rollup.map(|r| (r.probes, r.failures)).unwrap_or((0, 0));
        bars.push(DayBar {
            date,
            worst: uptime::worst(spans, start, end.min(now)),
            uptime: uptime::uptime(spans, start, end.min(now)),
            probes,
            failures: fails,
            ttft_p50_ms: rollup.and_then(|r| r.ttft_p50_ms),
            ttft_p95_ms: rollup.and_then(|r| r.ttft_p95_ms),
            so_far: back == 0,
            incidents: incidents
                .iter()
                .filter(|i| {
                    i.affected.iter().any(|a| a == model)
                        || i.updates
                            .iter()
                            .any(|u| u.affected.iter().any(|a| a == model))
                })
                .filter(|i| i.created_at < end && i.resolved_at.is_none_or(|r| r >= start))
                .map(|i| i.id)
                .collect(),
        });
    }
    bars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::overrides::Window;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, h, 0, 0).unwrap()
    }

    fn window(status: WindowStatus) -> Maintenance {
        Maintenance {
            window: Window {
                id: 1,
                title: "db".into(),
                body: String::new(),
                models: vec!["p/a".into()],
                starts_at: at(10),
                ends_at: at(12),
                status,
            },
            created_by: "cli".into(),
            created_at: at(1),
            updated_at: at(1),
            started_at: None,
            completed_at: None,
        }
    }

    #[test]
    fn public_status_follows_the_clock_and_hides_cancelled_windows() {
        let status = |w: WindowStatus, h: u32| public_status(window(w), at(h)).map(|m| m.window);
        assert_eq!(
            status(WindowStatus::Scheduled, 9).unwrap().status,
            WindowStatus::Scheduled
        );
        assert_eq!(
            status(WindowStatus::Scheduled, 11).unwrap().status,
            WindowStatus::InProgress
        );
        assert_eq!(
            status(WindowStatus::InProgress, 12).unwrap().status,
            WindowStatus::Completed
        );
        assert_eq!(
            status(WindowStatus::Completed, 9).unwrap().status,
            WindowStatus::Completed
        );
        assert!(status(WindowStatus::Cancelled, 9).is_none());
        let started = public_status(window(WindowStatus::Scheduled), at(11)).unwrap();
        assert_eq!(started.started_at, Some(at(10)));
        assert_eq!(started.completed_at, None);
    }
}
