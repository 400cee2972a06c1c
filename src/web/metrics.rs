//! Operational endpoints: `/metrics` (Prometheus text format) and `/readyz`.
//!
//! Both are live (never part of the rendered site) and cheap: `/metrics` copies in-memory
//! counters and runs two indexed queries; `/readyz` writes one row.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use super::AppState;
use crate::metrics::{readiness, scrape, text};

/// Every family, in the Prometheus text exposition format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let routing = state.routing.borrow().clone();
    let body = scrape::render(&state.metrics, &state.store, &routing).await;
    (
        [
            (header::CONTENT_TYPE, text::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// 200 `ready` when the database takes a write and the scheduler is probing; otherwise 503
/// with one line per failed check (`database: …`, `scheduler: …`), so a load balancer's log
/// says what is wrong.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let checks = readiness::check(
        &state.store,
        &state.config,
        m.scheduler(),
        m.started_at(),
        m.clock().now(),
    )
    .await;
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|c| c.problem.as_ref().map(|p| format!("{}: {p}\n", c.name)))
        .collect();
    let headers = [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    if failed.is_empty() {
        (StatusCode::OK, headers, "ready\n".to_string())
    } else {
        tracing::warn!(problems = %failed.concat().trim_end(), "not ready");
        (StatusCode::SERVICE_UNAVAILABLE, headers, failed.concat())
    }
}
