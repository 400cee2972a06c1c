//! Each model's own bodies (its page, its `/api/v1` detail and histories), rendered when one
//! of them is first asked for in a snapshot version, then served like every other body.
//!
//! With a thousand models, reading every model's charts and rendering every model's page
//! at each publish was most of the service's CPU and memory while almost none of those pages
//! was read before the next publish replaced it. Here a model's charts are read
//! ([`load_details`]) and its bodies rendered at most once per snapshot version, on the
//! first request: concurrent requests for the same model wait for that one rendering (a
//! status page is read hardest during an outage, and a burst on one model page costs one
//! read), later ones are a map lookup. What is held is bounded by the snapshot's models.
//!
//! If the database cannot be read, the model's bodies are rendered without their charts
//! from the snapshot marked stale, as the publisher does for the whole site.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;
use tracing::warn;

use super::site::{Body, Rendered};
use super::snapshot::{load_details, ModelView, PublicSnapshot};
use crate::store::Store;

/// Renders one model's own bodies from a snapshot and that model's detailed view.
pub type ModelRenderer = fn(&PublicSnapshot, &ModelView) -> Vec<Rendered>;

/// Lists the paths (without query) a model's own bodies are served at, so a request can be
/// matched to its model before anything is rendered. Must cover what the renderers produce
/// (a test in `web` checks the two agree).
pub type ModelPaths = fn(&ModelView) -> Vec<String>;

type Bodies = Arc<HashMap<String, Arc<Body>>>;

/// The per-model bodies of one snapshot version, rendered on demand.
pub struct ModelBodies {
    store: Store,
    snapshot: Arc<PublicSnapshot>,
    renderers: Vec<ModelRenderer>,
    /// Path (without query) to the model's position in `snapshot.models()`.
    paths: HashMap<String, usize>,
    rendered: Mutex<HashMap<usize, Arc<OnceCell<Bodies>>>>,
    /// The snapshot marked stale, made once if the database fails.
    stale: OnceLock<Arc<PublicSnapshot>>,
}

impl std::fmt::Debug for ModelBodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBodies")
            .field("version", &self.snapshot.version)
            .field("paths", &self.paths.len())
            .finish_non_exhaustive()
    }
}

impl ModelBodies {
    pub fn new(
        store: Store,
        snapshot: Arc<PublicSnapshot>,
        renderers: Vec<ModelRenderer>,
        paths_of: ModelPaths,
    ) -> ModelBodies {
        let paths = snapshot
            .models()
            .enumerate()
            .flat_map(|(i, m)| paths_of(m).into_iter().map(move |p| (p, i)))
            .collect();
        ModelBodies {
            store,
            snapshot,
            renderers,
            paths,
            rendered: Mutex::new(HashMap::new()),
            stale: OnceLock::new(),
        }
    }

    /// The body served at `path` (looked up first with its `period` query, as `keyed`),
    /// rendering the model's bodies if this is the first request for them; `None` when no
    /// model's body is served there.
    pub async fn body(&self, path: &str, keyed: Option<&str>) -> Option<Arc<Body>> {
        let index = *self.paths.get(path)?;
        let cell = {
            let mut rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(rendered.entry(index).or_default())
        };
        let bodies = cell.get_or_init(|| self.render(index)).await;
        keyed
            .and_then(|k| bodies.get(k))
            .or_else(|| bodies.get(path))
            .cloned()
    }

    /// How many models' bodies have been rendered in this version.
    pub fn rendered(&self) -> usize {
        let rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        rendered.values().filter(|c| c.initialized()).count()
    }

    async fn render(&self, index: usize) -> Bodies {
        let Some(model) = self.snapshot.models().nth(index) else {
            return Bodies::default();
        };
        let mut view = model.clone();
        let snapshot = match load_details(&self.store, &mut view, self.snapshot.generated_at).await
        {
            Ok(()) => Arc::clone(&self.snapshot),
            Err(e) => {
                warn!(model = %view.id, error = %e, "cannot read the model's charts; serving its page without them, marked stale");
                Arc::clone(self.stale.get_or_init(|| {
                    let mut stale = (*self.snapshot).clone();
                    stale.stale_since.get_or_insert(stale.generated_at);
                    Arc::new(stale)
                }))
            }
        };
        let bodies = self
            .renderers
            .iter()
            .flat_map(|render| render(&snapshot, &view))
            .map(|r| (r.path, Arc::new(Body::new(r.content_type, r.body))))
            .collect();
        Arc::new(bodies)
    }
}
