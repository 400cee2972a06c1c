//! A standby's routing table: the leader's decisions as the database holds them.
//!
//! The leader writes each model's state, decision and first reason whenever they change
//! (`model_states`; the standby reads those columns, not the evidence), and overrides live
//! in their own table; a standby reads both every
//! [`MIRROR_EVERY`] and builds the table its clients poll with the same function the
//! evaluator uses ([`routing::table`]), so both replicas answer alike. What a standby does
//! not have: the per-region tables (agents' vantages are judged in the leader's memory), so
//! `?region=` on a standby answers 503 with `Retry-After` (see `web::routing`): the table
//! for everyone would route a region's clients to a model that fails from there.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::warn;

use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::engine::routing::{self, RoutingTable};
use crate::evaluate::overrides::split_expired;
use crate::store::{Store, StoreError};
use crate::vocabulary::ModelState;

/// How often a standby reads the leader's decisions.
pub const MIRROR_EVERY: Duration = Duration::from_secs(1);

/// The routing table as the database holds it at `now`.
pub async fn read_table(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<RoutingTable, StoreError> {
    let mut view = store.read_view().await?;
    let decisions: HashMap<String, _> = view
        .decisions()
        .await?
        .into_iter()
        .map(|d| (d.model_key.clone(), d))
        .collect();
    let (overrides, _) = split_expired(view.active_overrides().await?, now);
    drop(view);
    let rows: Vec<(String, &str, &str, Vec<String>)> = config
        .models()
        .zip(config.resolved_fallbacks())
        .map(|((p, m), fallbacks)| {
            (
                format!("{}/{}", p.id, m.id),
                p.id.as_str(),
                p.name.as_str(),
                fallbacks,
            )
        })
        .collect();
    let entries: Vec<routing::Entry<'_>> = rows
        .iter()
        .map(|(key, provider_id, provider_name, fallbacks)| {
            let saved = decisions.get(key);
            let o = overrides.get(key);
            let headline = saved.and_then(|d| d.headline.clone());
            routing::Entry {
                key,
                provider_id,
                provider_name,
                fallbacks,
                state: saved.map_or(ModelState::Unknown, |d| d.state),
                enabled: o.map_or(saved.is_none_or(|d| d.enabled), |o| o.enabled),
                since: saved.map_or(now, |d| d.since),
                reason: match (o, headline) {
                    (Some(o), _) => o.describe(),
                    (None, Some(h)) if !h.is_empty() => h,
                    (None, _) => "no evaluation yet".into(),
                },
            }
        })
        .collect();
    Ok(routing::table(&entries, now))
}

/// Keeps `table` following the database every [`MIRROR_EVERY`] until `stop` turns true;
/// a table is sent only when a model's row changed, so the site is not rebuilt for nothing.
/// A failed read keeps the last table (logged once per change of error).
pub fn spawn(
    store: Store,
    config: Arc<Config>,
    clock: Clock,
    table: watch::Sender<Arc<RoutingTable>>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_error: Option<String> = None;
        loop {
            match read_table(&store, &config, clock.now()).await {
                Ok(next) => {
                    last_error = None;
                    table.send_if_modified(|current| {
                        let moved = current.models != next.models;
                        if moved {
                            *current = Arc::new(next);
                        }
                        moved
                    });
                }
                Err(e) => {
                    let e = e.to_string();
                    if last_error.as_deref() != Some(e.as_str()) {
                        warn!(error = %e, "standby: reading the leader's decisions failed; serving the last table");
                    }
                    last_error = Some(e);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(MIRROR_EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}
