//! The publisher: rebuilds the public snapshot and re-renders the site when what the public
//! sees changes, and every half minute for fresh figures.
//!
//! **Invariant:** handlers only ever see a complete site. If the database cannot be read,
//! the previous snapshot is re-rendered with the current routing table and marked stale, so
//! the page keeps serving and says how old its figures are.
//!
//! **What wakes it.** The evaluator replaces the routing table after nearly every pass with
//! many models, because a model's reason line carries its latest figures; rebuilding the
//! whole site for each was most of the service's CPU with a thousand models. So a new table
//! wakes the publisher only when its public face moved (a state, enabled flag, fallback or
//! `since`, or a provider's state); the reason lines and figures are refreshed every
//! [`REFRESH_EVERY`]; incidents, overrides and maintenance windows wake it through
//! [`Publisher::trigger`] (the evaluator's and the admin's changes). `/api/v1/routing` is
//! served live from the table, so clients see every change at once regardless. Bursts
//! are coalesced: at most one rebuild per [`MIN_GAP`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use super::figure_cache::FigureCache;
use super::model_bodies::ModelBodies;
use super::site::{Renderer, Site, SiteHandle};
use super::snapshot::{self, PublicSnapshot};
use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::engine::vantages::regional_part;
use crate::evaluate::engine::RoutingTable;
use crate::store::Store;

/// How often figures are refreshed when nothing changes.
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// The shortest time between two rebuilds: changes within it are published together.
const MIN_GAP: Duration = Duration::from_secs(1);

pub struct Publisher {
    store: Store,
    config: Arc<Config>,
    routing: watch::Receiver<Arc<RoutingTable>>,
    clock: Clock,
    renderers: Vec<Renderer>,
    version: u64,
    last: Option<Arc<PublicSnapshot>>,
    /// The routing table the last site was built from.
    published_routing: Option<Arc<RoutingTable>>,
    figures: FigureCache,
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
            published_routing: None,
            figures: FigureCache::default(),
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

    /// How many site versions have been published.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Rebuilds the snapshot (or marks the last one stale) and swaps in a freshly rendered site.
    pub async fn publish(&mut self) {
        self.version += 1;
        let now = self.clock.now();
        let routing = self.routing.borrow_and_update().clone();
        let built = snapshot::build(
            &self.store,
            &self.config,
            &routing,
            self.version,
            now,
            &mut self.figures,
        )
        .await;
        let snapshot = match built {
            Ok(s) => Arc::new(s),
            Err(e) => {
                warn!(error = %e, "cannot read the database for the public snapshot; serving the last one, marked stale");
                let Some(previous) = self.last.as_deref() else {
                    return;
                };
                let mut previous = previous.clone();
                previous.stale_since.get_or_insert(previous.generated_at);
                previous.version = self.version;
                refresh_routing(&mut previous, &routing);
                Arc::new(previous)
            }
        };
        let renderers = self.renderers.clone();
        let rendered = Arc::clone(&snapshot);
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
        let site = Site {
            models: Some(Arc::new(ModelBodies::new(
                self.store.clone(),
                Arc::clone(&snapshot),
                super::model_renderers(),
                super::model_paths,
            ))),
            ..site
        };
        self.last = Some(snapshot);
        self.published_routing = Some(routing);
        // The previous site is dropped here (unless a request still holds it).
        drop(self.site.send_replace(Arc::new(site)));
        // A walk of the allocator's arenas: kept off the async workers like the rendering.
        let _ = tokio::task::spawn_blocking(super::heap::release_free_memory).await;
    }

    /// Whether the current routing table shows the public something the published site
    /// does not (see the module's documentation).
    fn routing_moved(&mut self) -> bool {
        let current = self.routing.borrow_and_update().clone();
        self.published_routing
            .as_deref()
            .is_none_or(|published| !same_public_face(published, &current))
    }

    /// Publishes on every public change (at most once per [`MIN_GAP`]) and every
    /// [`REFRESH_EVERY`] until shutdown.
    pub fn spawn(mut self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let republish = Arc::clone(&self.republish);
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    changed = self.routing.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if !self.routing_moved() {
                            continue;
                        }
                    }
                    _ = republish.notified() => {}
                    _ = shutdown.changed() => return,
                }
                self.publish().await;
                tokio::select! {
                    _ = tokio::time::sleep(MIN_GAP) => {}
                    _ = shutdown.changed() => return,
                }
            }
        })
    }
}

/// True when two routing tables show the public the same thing: the same states, enabled
/// flags, fallbacks and `since` per model and the same provider states (reason lines aside,
/// but for the regions a model fails from below the quorum, which the front page marks).
pub fn same_public_face(a: &RoutingTable, b: &RoutingTable) -> bool {
    let models = a.models.len() == b.models.len()
        && a.models.iter().zip(&b.models).all(|(x, y)| {
            x.id == y.id
                && x.state == y.state
                && x.enabled == y.enabled
                && x.fallback == y.fallback
                && x.since == y.since
                // The front page marks a model failing in some regions only.
                && regional_part(&x.reason) == regional_part(&y.reason)
        });
    let providers = a.providers.len() == b.providers.len()
        && a.providers
            .iter()
            .zip(&b.providers)
            .all(|(x, y)| x.id == y.id && x.state == y.state);
    models && providers
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::engine::{ProviderRollup, Route};
    use crate::vocabulary::ModelState;

    fn table(reason: &str, state: ModelState) -> RoutingTable {
        RoutingTable {
            generated_at: chrono::Utc::now(),
            region: None,
            regions: Default::default(),
            models: vec![Route {
                id: "p/m".into(),
                state,
                enabled: true,
                fallback: None,
                since: chrono::DateTime::UNIX_EPOCH,
                reason: reason.into(),
            }],
            providers: vec![ProviderRollup {
                id: "p".into(),
                name: "P".into(),
                state,
            }],
        }
    }

    #[test]
    fn a_reason_line_alone_does_not_move_the_public_face() {
        let before = table("error rate 2% (1 of 50 probes)", ModelState::Operational);
        let figures = table("error rate 4% (2 of 50 probes)", ModelState::Operational);
        assert!(same_public_face(&before, &figures));
        let degraded = table("slow", ModelState::DegradedPerformance);
        assert!(!same_public_face(&before, &degraded));
        let mut disabled = before.clone();
        disabled.models[0].enabled = false;
        assert!(!same_public_face(&before, &disabled));
        let mut since = before.clone();
        since.models[0].since = chrono::Utc::now();
        assert!(!same_public_face(&before, &since));
        let mut fewer = before.clone();
        fewer.models.clear();
        assert!(!same_public_face(&before, &fewer));
    }

    /// The publisher's gate: after a publish, a new table whose reason lines alone moved
    /// does not call for a rebuild (the half-minute refresh shows it); one with a new state
    /// does, and the rebuilt site shows it.
    #[tokio::test]
    async fn only_a_public_change_calls_for_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        let config = Config::parse(
            "[[providers]]\nid = \"p\"\nkind = \"simulated\"\nmodels = [ { id = \"m\" } ]\n",
            std::path::Path::new("t.toml"),
            &|_| None,
        )
        .unwrap();
        let (tx, rx) = watch::channel(Arc::new(table("first", ModelState::Operational)));
        let mut publisher = Publisher::new(
            store,
            Arc::new(config),
            rx,
            Clock::system(),
            crate::web::renderers(),
        );
        assert!(publisher.routing_moved(), "nothing published yet");
        publisher.publish().await;
        assert!(!publisher.routing_moved());

        tx.send_replace(Arc::new(table("figures moved", ModelState::Operational)));
        assert!(!publisher.routing_moved(), "a reason line alone waits");

        tx.send_replace(Arc::new(table("impaired", ModelState::MajorOutage)));
        assert!(publisher.routing_moved(), "a state change is published");
        publisher.publish().await;
        assert!(!publisher.routing_moved());
        let site = publisher.handle().borrow().clone();
        let page = std::str::from_utf8(&site.bodies["/"].identity)
            .unwrap()
            .to_string();
        assert!(page.contains("Major outage"), "{page}");
    }
}
