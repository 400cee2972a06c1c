//! The HTTP surface. One route table in [`router`]; handlers read shared [`AppState`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::config::Config;
use crate::evaluate::engine::RoutingTable;
use crate::store::Store;

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration the service runs on.
    pub config: Arc<Config>,
    /// The database, for handlers that read history.
    pub store: Store,
    /// The routing table, replaced by the evaluator after every committed change.
    pub routing: watch::Receiver<Arc<RoutingTable>>,
}

/// The route table.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/routing", get(routing))
        .with_state(state)
}

/// Liveness: the process is up and answering.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The routing table: per model its state, whether it is enabled, and what to use instead.
async fn routing(State(state): State<AppState>) -> impl IntoResponse {
    let table = state.routing.borrow().clone();
    let body = serde_json::to_vec(&*table).unwrap_or_else(|_| b"{}".to_vec());
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
