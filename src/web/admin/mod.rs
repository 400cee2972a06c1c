//! The admin surface over HTTP: pages and forms under `/admin`, and the same operations as
//! JSON under `/api/v1/admin`. This file holds the route table and the few helpers every
//! admin handler shares; the operations themselves (users, sessions, tokens, audit) are in
//! [`crate::admin`], tested without HTTP, and every change is written to the audit log.
//!
//! - [`auth`]: who is calling: the extractors `AdminUser` and `ApiCaller`, and `AdminState`;
//! - `page`: the admin layout, refusals shown as pages, page extractors, the CSRF check;
//! - `session_pages` (sign in and out), `board` (the operations board, page and JSON),
//!   `token_pages` (create a token from the board);
//! - `api`: whoami, tokens, sessions and the audit log as JSON;
//! - `incidents`, `overrides` and `override_pages`, `maintenance` and `maintenance_pages`,
//!   `subscriptions`: the operations of each domain, as JSON and as pages.
//!
//! Pages and forms refuse with a page (the admin layout, the status code and the message
//! the JSON API would give); the JSON API keeps its JSON errors ([`ApiError`]).
//!
//! **Architecture invariant:** nothing here imports the public subscription handlers
//! (`web::subscriptions`), nor they anything here; both use `web::http`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::admin::audit::{self, Change};
use crate::admin::{AdminError, Scope};
use crate::web::http::ApiError;
use crate::web::AppState;
use auth::{AdminState, ApiCaller};

mod api;
pub mod auth;
mod board;
mod incidents;
pub(crate) mod maintenance;
mod maintenance_pages;
mod override_pages;
pub(crate) mod overrides;
mod page;
mod session_pages;
pub(crate) mod subscriptions;
mod token_pages;

/// The admin routes, sharing one [`AdminState`].
pub struct Routes {
    /// `/admin`: pages and forms, refusing with pages.
    pub pages: Router,
    /// `/api/v1/admin`: JSON, mounted with the rest of `/api/v1`.
    pub api: Router,
}

/// Builds the admin routes around one [`AdminState`], to merge into the main router.
pub fn routes(app: AppState) -> Routes {
    let state = AdminState::new(app);
    let pages = Router::new()
        .route("/admin", get(board::board))
        .route(
            "/admin/login",
            get(session_pages::login_page).post(session_pages::login),
        )
        .route("/admin/logout", post(session_pages::logout))
        .route("/admin/tokens", post(token_pages::token_form))
        .merge(override_pages::routes())
        .merge(maintenance_pages::routes())
        .merge(incidents::page_routes())
        .merge(subscriptions::page_routes())
        .layer(axum::middleware::from_fn(page::error_pages))
        .with_state(Arc::clone(&state));
    let api = Router::new()
        .route("/api/v1/admin/board", get(board::board_json))
        .merge(api::routes())
        .merge(overrides::routes())
        .merge(maintenance::routes())
        .merge(incidents::api_routes())
        .merge(subscriptions::api_routes())
        .with_state(state);
    Routes { pages, api }
}

/// A failure of ours in an admin request: logged with its cause, answered without it.
fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal("admin request failed", e)
}

/// An error of the admin operations: what the caller sent is refused (422), the rest is ours.
fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Invalid(m) => ApiError::status(StatusCode::UNPROCESSABLE_ENTITY, m),
        other => internal(other),
    }
}

/// A scope by name, for the token forms and API.
fn parse_scope(text: &str) -> Result<Scope, ApiError> {
    Scope::parse(text).ok_or_else(|| {
        ApiError::field(
            "scope",
            format!("`{text}` is not a scope; use read, operate, admin or ingest"),
        )
    })
}

/// Whether `model` (`provider/model`) is a configured model.
fn known_model(state: &AdminState, model: &str) -> bool {
    state
        .app
        .config
        .models()
        .any(|(p, m)| format!("{}/{}", p.id, m.id) == model)
}

/// Records in the audit log that `caller` did `action` to `target`, at the service's now.
async fn audit(
    state: &AdminState,
    caller: &ApiCaller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let change = Change {
        actor: &caller.actor,
        action,
        target: Some(target),
        detail,
        client_addr: caller.client.clone(),
    };
    audit::record(state.auth.store(), change, state.now())
        .await
        .map_err(internal)
}
