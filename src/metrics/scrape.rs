//! Figures read when `/metrics` is scraped rather than recorded as they happen.
//!
//! Model states and decisions come from the evaluator's routing table (already in memory);
//! open incidents and the outbox come from the store in two cheap queries (a count over
//! unresolved incidents, a count and minimum over the outbox's pending partial index);
//! scheduler lag and skips come from [`SchedulerStats`]; whether each official status page
//! was readable comes from `official_sources`. Reading them here instead of
//! mirroring them into gauges means they cannot drift from the truth.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::text::{Encoder, Kind};
use super::Metrics;
use super::SchedulerStats;
use crate::evaluate::engine::RoutingTable;
use crate::store::Store;
use crate::vocabulary::ModelState;

/// A scrape never waits longer than this for the database (it may be busy writing).
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the store says at scrape time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFigures {
    pub incidents_open: i64,
    pub outbox_pending: i64,
    /// `created_at` (unix ms) of the oldest pending outbox row.
    pub outbox_oldest_ms: Option<i64>,
}

/// Reads [`StoreFigures`]; two indexed queries.
pub async fn store_figures(store: &Store) -> Result<StoreFigures, sqlx::Error> {
    let incidents_open: i64 = crate::on_db!(store.pool(), |db| sqlx::query_scalar(
        "SELECT count(*) FROM incidents WHERE resolved_at IS NULL"
    )
    .fetch_one(db)
    .await)?;
    let (outbox_pending, outbox_oldest_ms): (i64, Option<i64>) = crate::on_db!(
        store.pool(),
        |db| sqlx::query_as("SELECT count(*), min(created_at) FROM outbox WHERE done_at IS NULL")
            .fetch_one(db)
            .await
    )?;
    Ok(StoreFigures {
        incidents_open,
        outbox_pending,
        outbox_oldest_ms,
    })
}

/// The whole exposition: recorded families, then the figures read now.
pub async fn render(metrics: &Metrics, store: &Store, routing: &RoutingTable) -> String {
    let mut e = Encoder::new();
    metrics.render_recorded(&mut e);
    render_routing(&mut e, routing);
    let figures = match tokio::time::timeout(STORE_TIMEOUT, store_figures(store)).await {
        Ok(Ok(f)) => Some(f),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "metrics: reading incidents and outbox failed");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: reading incidents and outbox timed out");
            None
        }
    };
    render_store(&mut e, figures, metrics.clock().now());
    render_official(&mut e, store).await;
    e.finish()
}

/// `modelwatch_official_available{provider}`: whether each provider's own status page
/// could be read at its last poll (absent before the first poll).
async fn render_official(e: &mut Encoder, store: &Store) {
    let read = async {
        crate::on_db!(store.pool(), |db| sqlx::query_as::<_, (String, bool)>(
            "SELECT provider_id, available FROM official_sources ORDER BY provider_id",
        )
        .fetch_all(db)
        .await)
    };
    let rows = match tokio::time::timeout(STORE_TIMEOUT, read).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "metrics: reading official sources failed");
            Vec::new()
        }
        Err(_) => Vec::new(),
    };
    e.family(
        "modelwatch_official_available",
        "1 if the provider's own status page could be read at its last poll, else 0.",
        Kind::Gauge,
    );
    for (provider, available) in rows {
        let value = if available { 1.0 } else { 0.0 };
        e.sample(
            "modelwatch_official_available",
            &[("provider", provider.as_str())],
            value,
        );
    }
}

/// `modelwatch_model_state` (1 for the current state, 0 for the others) and
/// `modelwatch_model_enabled`, per model of the routing table.
fn render_routing(e: &mut Encoder, routing: &RoutingTable) {
    // Route ids are `provider/model`; provider ids cannot contain '/', model ids may.
    let split = |id: &str| -> (String, String) {
        match id.split_once('/') {
            Some((p, m)) => (p.to_string(), m.to_string()),
            None => (String::new(), id.to_string()),
        }
    };
    e.family(
        "modelwatch_model_state",
        "The evaluated state of each model: 1 for its current state, 0 for the others.",
        Kind::Gauge,
    );
    for route in &routing.models {
        let (provider, model) = split(&route.id);
        for state in ModelState::ALL {
            let labels = [
                ("provider", provider.as_str()),
                ("model", model.as_str()),
                ("state", state.as_str()),
            ];
            let on = if state == route.state { 1.0 } else { 0.0 };
            e.sample("modelwatch_model_state", &labels, on);
        }
    }
    e.family(
        "modelwatch_model_enabled",
        "The routing decision of each model: 1 enabled, 0 disabled (use its fallback).",
        Kind::Gauge,
    );
    for route in &routing.models {
        let (provider, model) = split(&route.id);
        let labels = [("provider", provider.as_str()), ("model", model.as_str())];
        let enabled = if route.enabled { 1.0 } else { 0.0 };
        e.sample("modelwatch_model_enabled", &labels, enabled);
    }
}

/// Store figures; when the store could not be read their families have no samples and
/// `modelwatch_metrics_store_read_ok` is 0.
fn render_store(e: &mut Encoder, figures: Option<StoreFigures>, now: DateTime<Utc>) {
    e.single(
        "modelwatch_metrics_store_read_ok",
        "1 if this scrape could read incidents and the outbox from the database, else 0.",
        Kind::Gauge,
        if figures.is_some() { 1.0 } else { 0.0 },
    );
    let families = [
        ("modelwatch_incidents_open", "Incidents not yet resolved."),
        (
            "modelwatch_outbox_pending",
            "Events written by the evaluator and not yet fanned out to subscribers.",
        ),
        (
            "modelwatch_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox row, in seconds (0 when none is pending).",
        ),
    ];
    let values = figures.map(|f| {
        let age = f
            .outbox_oldest_ms
            .map(|ms| ((now.timestamp_millis() - ms).max(0)) as f64 / 1000.0)
            .unwrap_or(0.0);
        [f.incidents_open as f64, f.outbox_pending as f64, age]
    });
    for (i, (name, help)) in families.into_iter().enumerate() {
        e.family(name, help, Kind::Gauge);
        if let Some(values) = values {
            e.sample(name, &[], values[i]);
        }
    }
}

/// Scheduler figures, from the counters the scheduler keeps anyway.
pub fn render_scheduler(e: &mut Encoder, stats: &SchedulerStats) {
    e.single(
        "modelwatch_scheduler_lag_seconds",
        "How late the most recent probe started after its planned time, in seconds.",
        Kind::Gauge,
        stats.last_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
    );
    e.single(
        "modelwatch_scheduler_skipped_runs_total",
        "Fire times skipped because the previous probe of the same model was still running.",
        Kind::Counter,
        stats.runs_skipped.load(Ordering::Relaxed) as f64,
    );
    e.single(
        "modelwatch_scheduler_probes_started_total",
        "Probes the scheduler started.",
        Kind::Counter,
        stats.probes_started.load(Ordering::Relaxed) as f64,
    );
    e.single(
        "modelwatch_scheduler_tasks",
        "Per-model scheduler tasks currently running.",
        Kind::Gauge,
        stats.tasks_alive.load(Ordering::Relaxed) as f64,
    );
    e.single(
        "modelwatch_leader",
        "1 if this replica leads (runs the scheduler, evaluator and dispatcher), 0 on a standby.",
        Kind::Gauge,
        if stats.standby.load(Ordering::Relaxed) {
            0.0
        } else {
            1.0
        },
    );
}
