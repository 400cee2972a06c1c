//! `/api/v1/admin/overrides`: force a model enabled or disabled with a reason until an
//! expiry. The evaluator applies the override on its next round (within a second) and ends
//! it by itself at `expires_at`. Every change is audited.

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
use crate::store::overrides::NewOverride;
use crate::web::http::rejections::{json_body, ApiPath};
use crate::web::http::ApiError;

/// Longest override: a forgotten one must not pin a model for ever.
pub(super) const MAX_OVERRIDE: chrono::Duration = chrono::Duration::days(7);
/// The longest reason accepted (the OpenAPI document states it).
pub const MAX_REASON: usize = 500;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/api/v1/admin/overrides",
            get(list_overrides).post(create_override),
        )
        .route("/api/v1/admin/overrides/{id}", delete(end_override))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOverrideBody {
    model: String,
    enabled: bool,
    reason: String,
    /// A duration such as "30m" or "2h".
    expires_in: Option<String>,
    /// An RFC 3339 time.
    expires_at: Option<DateTime<Utc>>,
}

/// `now + d`; a duration too long to add (`"4928040996701995s"`) is simply too far away, and
/// refused by the 7-day limit, instead of overflowing.
pub(super) fn expiry_after(now: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now + MAX_OVERRIDE + MAX_OVERRIDE)
}

/// Checks and creates an override, then audits it (`override.create`): shared by the JSON
/// API and the admin page, so both apply the same limits. `expiry_field` names the input
/// the expiry came from, for the error.
#[allow(clippy::too_many_arguments)]
pub(super) async fn create_checked(
    state: &AdminState,
    caller: &ApiCaller,
    model: &str,
    enabled: bool,
    reason: &str,
    expires_at: DateTime<Utc>,
    expiry_field: &'static str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, ApiError> {
    if !known_model(state, model) {
        return Err(ApiError::field(
            "model",
            format!("`{model}` is not a configured model (provider/model)"),
        ));
    }
    // The length counts what was sent, as the OpenAPI document's `maxLength` does.
    let sent = reason.chars().count();
    let reason = reason.trim();
    if reason.is_empty() || sent > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::field(
            "reason",
            format!("a reason of 1 to {MAX_REASON} characters, on one line, is required"),
        ));
    }
    if expires_at <= now || expires_at - now > MAX_OVERRIDE {
        return Err(ApiError::field(
            expiry_field,
            "the expiry must be in the future and at most 7 days away",
        ));
    }
    let new = NewOverride {
        model_key: model.to_string(),
        enabled,
        reason: reason.to_string(),
        created_by: caller.actor.name.clone(),
        expires_at,
    };
    let id = state
        .app
        .store
        .create_override(&new, now)
        .await
        .map_err(internal)?;
    let body = json!({
        "id": id, "model": new.model_key, "enabled": new.enabled, "reason": new.reason,
        "created_by": new.created_by, "created_at": now, "expires_at": expires_at, "active": true,
    });
    audit(
        state,
        caller,
        "override.create",
        &id.to_string(),
        body.clone(),
    )
    .await?;
    Ok(body)
}

/// `POST /api/v1/admin/overrides` (operate): 201 with the override.
async fn create_override(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    body: Result<Json<NewOverrideBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    let req = json_body(body)?;
    let now = state.now();
    let expires_at = match (&req.expires_in, req.expires_at) {
        (Some(text), None) => {
            let d = humantime::parse_duration(text).map_err(|e| {
                ApiError::field(
                    "expires_in",
                    format!("`{text}`: {e} (e.g. \"30m\", \"2h\")"),
                )
            })?;
            expiry_after(now, d)
        }
        (None, Some(at)) => at,
        _ => {
            return Err(ApiError::field(
                "expires_in",
                "give exactly one of `expires_in` (e.g. \"30m\") or `expires_at` (RFC 3339)",
            ))
        }
    };
    let body = create_checked(
        &state,
        &caller,
        &req.model,
        req.enabled,
        &req.reason,
        expires_at,
        "expires_at",
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v1/admin/overrides` (read): the newest overrides, active or not.
async fn list_overrides(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let list = state
        .app
        .store
        .list_overrides(200, state.now())
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "overrides": list })))
}

/// Ends active override `id` now and audits it (`override.end`): shared by the JSON API
/// and the admin page.
pub(super) async fn end_checked(
    state: &AdminState,
    caller: &ApiCaller,
    id: i64,
) -> Result<(), ApiError> {
    if !state
        .app
        .store
        .end_override(id, state.now())
        .await
        .map_err(internal)?
    {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no active override {id}"),
        ));
    }
    audit(state, caller, "override.end", &id.to_string(), json!({})).await
}

/// `DELETE /api/v1/admin/overrides/{id}` (operate): ends an active override now.
async fn end_override(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Operate)?;
    end_checked(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
