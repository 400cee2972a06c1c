//! `/api/v1/admin/maintenances`: schedule a maintenance window (announced at once to
//! subscribers), list windows, cancel one. The evaluator starts and completes windows on
//! time and keeps their models `under_maintenance` meanwhile. Every change is audited.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::auth::{AdminState, ApiCaller};
use super::{audit, internal, known_model};
use crate::admin::Scope;
use crate::store::maintenances::NewMaintenance;
use crate::web::http::rejections::{json_body, ApiPath};
use crate::web::http::ApiError;

/// The longest title and details accepted (the OpenAPI document states both).
pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 10_000;
/// How far ahead a window may be planned: further out, plans change and the announcement is
/// noise (and a typo like year 9999 is caught).
pub const MAX_AHEAD_DAYS: i64 = 90;
/// How long one window may last: the models are out of the evaluator's hands meanwhile.
pub const MAX_LENGTH_HOURS: i64 = 7 * 24;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/api/v1/admin/maintenances",
            get(list_maintenances).post(create_maintenance),
        )
        .route(
            "/api/v1/admin/maintenances/{id}",
            delete(cancel_maintenance),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMaintenanceBody {
    title: String,
    #[serde(default)]
    body: String,
    models: Vec<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// `POST /api/v1/admin/maintenances` (operate): 201 with the window.
async fn create_maintenance(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    body: Result<Json<NewMaintenanceBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    let req = json_body(body)?;
    let body = create_checked(
        &state,
        &caller,
        &req.title,
        &req.body,
        req.models,
        req.starts_at,
        req.ends_at,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Checks and creates a window, audits it (`maintenance.create`) and republishes the public
/// site: shared by the JSON API and the admin page, so both apply the same limits.
pub(super) async fn create_checked(
    state: &AdminState,
    caller: &ApiCaller,
    title: &str,
    body: &str,
    mut models: Vec<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<serde_json::Value, ApiError> {
    let now = state.now();
    // Lengths count what was sent, as the OpenAPI document's `maxLength` does.
    let sent = title.chars().count();
    let title = title.trim();
    if title.is_empty() || sent > MAX_TITLE || title.chars().any(char::is_control) {
        return Err(ApiError::field(
            "title",
            format!("a title of 1 to {MAX_TITLE} characters, on one line, is required"),
        ));
    }
    if body.chars().count() > MAX_BODY {
        return Err(ApiError::field(
            "body",
            format!("at most {MAX_BODY} characters"),
        ));
    }
    if models.is_empty() {
        return Err(ApiError::field(
            "models",
            "choose the affected models (provider/model)",
        ));
    }
    models.sort();
    models.dedup();
    if let Some(unknown) = models.iter().find(|m| !known_model(state, m)) {
        return Err(ApiError::field(
            "models",
            format!("`{unknown}` is not a configured model"),
        ));
    }
    if ends_at <= starts_at || ends_at <= now {
        return Err(ApiError::field(
            "ends_at",
            "the window must end after it starts, in the future",
        ));
    }
    if starts_at > now + chrono::Duration::days(MAX_AHEAD_DAYS) {
        return Err(ApiError::field(
            "starts_at",
            format!("a window starts at most {MAX_AHEAD_DAYS} days ahead"),
        ));
    }
    if ends_at - starts_at > chrono::Duration::hours(MAX_LENGTH_HOURS) {
        return Err(ApiError::field(
            "ends_at",
            format!(
                "a window lasts at most {MAX_LENGTH_HOURS} hours ({} days); plan longer work as several windows",
                MAX_LENGTH_HOURS / 24
            ),
        ));
    }
    let new = NewMaintenance {
        title: title.to_string(),
        body: body.trim().to_string(),
        models,
        starts_at,
        ends_at,
        created_by: caller.actor.name.clone(),
    };
    let window = state
        .app
        .store
        .create_maintenance(&new, now)
        .await
        .map_err(internal)?;
    let body = json!(window);
    audit(
        state,
        caller,
        "maintenance.create",
        &window.id.to_string(),
        body.clone(),
    )
    .await?;
    // The public page, feeds and Statuspage API list windows: show it now.
    state.app.republish.notify_one();
    Ok(body)
}

/// Cancels a window not yet started, or ends one in progress now; audits `maintenance.cancel`
/// and republishes. Shared by the JSON API and the admin page.
pub(super) async fn cancel_checked(
    state: &AdminState,
    caller: &ApiCaller,
    id: i64,
) -> Result<(), ApiError> {
    if !state
        .app
        .store
        .cancel_maintenance(id, state.now())
        .await
        .map_err(internal)?
    {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no scheduled or in-progress maintenance {id}"),
        ));
    }
    audit(
        state,
        caller,
        "maintenance.cancel",
        &id.to_string(),
        json!({}),
    )
    .await?;
    state.app.republish.notify_one();
    Ok(())
}

/// `GET /api/v1/admin/maintenances` (read): newest first.
async fn list_maintenances(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let list = state
        .app
        .store
        .list_maintenances(200)
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "maintenances": list })))
}

/// `DELETE /api/v1/admin/maintenances/{id}` (operate): cancels a window not yet started,
/// or ends one in progress now.
async fn cancel_maintenance(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Operate)?;
    cancel_checked(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
