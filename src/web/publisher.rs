//! The publisher: rebuilds the public snapshot and re-renders the site when the routing
//! table changes, and every half minute for fresh figures.
//!
//! **Invariant:** handlers only ever see a complete site. If the database cannot be read,
//! the previous snapshot is re-rendered with the current routing table and marked stale, so
//! the page keeps serving and says how old its figures are.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use super::site::{Renderer, Site, SiteHandle};
use super::snapshot::{self, PublicSnapshot};
use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::engine::RoutingTable;
use crate::store::Store;

/// How often figures are refreshed when nothing changes.
const REFRESH_EVERY: Duration = Duration::from_secs(30);

pub struct Publisher {
    store: Store,
    config: Arc<Config>,
    routing: watch::Receiver<Arc<RoutingTable>>,
    clock: Clock,
    renderers: Vec<Renderer>,
    version: u64,
    last: Option<PublicSnapshot>,
    site: watch::Sender<Arc<Site>>,
    /// Woken by changes the routing table does not show (an SRE's incident update).
    republish: Arc<tokio::sync::Notify>,
}

impl Publisher {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        routing: watch::Receiver<Arc<RoutingTable>>,
        clock: Clock,
        renderers: Vec<Renderer>,
    ) -> Publisher {
        let (site, _) = watch::channel(Arc::new(Site::default()));
        Publisher {
            store,
            config,
            routing,
            clock,
            renderers,
            version: 0,
            last: None,
            site,
            republish: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// A trigger that makes the running publisher rebuild the site at once.
    pub fn trigger(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.republish)
    }

    pub fn handle(&self) -> SiteHandle {
        self.site.subscribe()
    }

    /// When the published data is stale (the database could not be read), the time it is
    /// from; `None` while fresh.
    pub fn last_stale_since(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.last.as_ref().and_then(|s| s.stale_since)
    }

    /// Rebuilds the snapshot (or marks the last one stale) and swaps in a freshly rendered site.
    pub async fn publish(&mut self) {
        self.version += 1;
        let now = self.clock.now();
        let routing = self.routing.borrow_and_update().clone();
        let snapshot = match snapshot::build(&self.store, &self.config, &routing, self.version, now)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot read the database for the public snapshot; serving the last one, marked stale");
                let Some(mut previous) = self.last.clone() else {
                    return;
                };
                previous.stale_since.get_or_insert(previous.generated_at);
                previous.version = self.version;
                refresh_routing(&mut previous, &routing);
                previous
            }
        };
        let renderers = self.renderers.clone();
        let rendered = snapshot.clone();
        let previous = self.site.borrow().clone();
        // Rendering is CPU work; keep it off the async workers.
        let site = match tokio::task::spawn_blocking(move || {
            Site::render(&rendered, &renderers, Some(&previous))
        })
        .await
        {
            Ok(site) => site,
            Err(e) => {
                warn!(error = %e, "rendering the site failed; keeping the previous one");
                return;
            }
        };
        self.last = Some(snapshot);
        self.site.send_replace(Arc::new(site));
    }

    /// Publishes on every routing change and every [`REFRESH_EVERY`] until shutdown.
    pub fn spawn(mut self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let republish = Arc::clone(&self.republish);
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    changed = self.routing.changed() => if changed.is_err() { return },
                    _ = republish.notified() => {}
                    _ = shutdown.changed() => return,
                }
                self.publish().await;
            }
        })
    }
}

/// Applies the in-memory routing table to a snapshot whose figures could not be refreshed.
fn refresh_routing(snapshot: &mut PublicSnapshot, routing: &RoutingTable) {
    for provider in &mut snapshot.providers {
        if let Some(r) = routing.providers.iter().find(|r| r.id == provider.id) {
            provider.state = r.state;
        }
        for model in &mut provider.models {
            if let Some(r) = routing.models.iter().find(|r| r.id == model.id) {
                model.state = r.state;
                model.enabled = r.enabled;
                model.fallback = r.fallback.clone();
                model.since = r.since;
                model.reason = r.reason.clone();
            }
        }
    }
}
