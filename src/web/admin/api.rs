//! The admin JSON API under `/api/v1/admin`: the same operations as the pages, for
//! automation with an API token (or a signed-in browser sending `X-CSRF-Token`). Each
//! handler states the scope it needs; every change is audited with the caller and address.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::{AdminState, ApiCaller};
use super::{admin_error, internal, parse_scope};
use crate::admin::audit;
use crate::admin::{tokens, Scope};
use crate::web::http::rejections::{json_body, ApiPath, ApiQuery};
use crate::web::http::ApiError;

/// The API's routes, merged into the admin router.
pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/admin/whoami", get(whoami))
        .route("/api/v1/admin/audit", get(audit_log))
        .route("/api/v1/admin/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/admin/tokens/{id}", delete(revoke_token))
        .route("/api/v1/admin/sessions", get(list_sessions))
        .route("/api/v1/admin/sessions/{id}", delete(revoke_session))
        .route("/api/v1/admin/users/{email}/unlock", post(unlock_user))
        .route("/api/v1/admin/agents", get(list_agents))
}

/// `GET /api/v1/admin/agents`: every agent that ever reported, and whether it still does
/// (`reporting`: a batch within `agents.stale_after`).
async fn list_agents(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let now = state.now();
    let stale = chrono::Duration::from_std(state.app.config.agents.stale_after)
        .unwrap_or(chrono::Duration::MAX);
    let agents = state.app.store.agents().await.map_err(internal)?;
    let list: Vec<_> = agents
        .iter()
        .map(|a| {
            json!({
                "name": a.name, "region": a.region, "version": a.version,
                "first_seen_at": a.first_seen_at, "last_seen_at": a.last_seen_at,
                "reporting": now - a.last_seen_at <= stale,
                "silent_seconds": (now - a.last_seen_at).num_seconds().max(0),
                "batches": a.batches, "results": a.results,
            })
        })
        .collect();
    Ok(Json(json!({ "agents": list })))
}

/// `POST /api/v1/admin/users/{email}/unlock`: clears the address's failed sign-ins, so its
/// owner (kept out by someone guessing) can sign in at once.
async fn unlock_user(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(email): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let cleared = state
        .auth
        .unlock(&email, &caller.actor, caller.client.clone(), state.now())
        .await
        .map_err(super::admin_error)?;
    Ok(Json(
        json!({ "email": email.trim().to_lowercase(), "cleared_failures": cleared }),
    ))
}

/// `GET /api/v1/admin/whoami`.
async fn whoami(caller: ApiCaller) -> Json<serde_json::Value> {
    Json(json!({
        "actor": caller.actor.name, "actor_kind": caller.actor.kind.as_str(),
        "scope": caller.scope, "client_addr": caller.client,
    }))
}

#[derive(Deserialize)]
struct AuditQuery {
    /// Parsed wide so that any integer reaches the range check below (and its message).
    limit: Option<i64>,
    before: Option<i64>,
}

/// The most audit entries one request returns.
const MAX_AUDIT_LIMIT: i64 = 1000;

/// `GET /api/v1/admin/audit?limit=&before=`: newest first; `limit` is 1 to 1000 (default
/// 100) and `before` a positive id, as the OpenAPI document says (anything else is a 400).
async fn audit_log(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let limit = q.limit.unwrap_or(100);
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=MAX_AUDIT_LIMIT).contains(&i64::from(*l)))
        .ok_or_else(|| {
            ApiError::status(
                StatusCode::BAD_REQUEST,
                format!("query parameter `limit` = `{limit}`: give 1 to {MAX_AUDIT_LIMIT}"),
            )
        })?;
    if let Some(before) = q.before.filter(|b| *b < 1) {
        return Err(ApiError::status(
            StatusCode::BAD_REQUEST,
            format!("query parameter `before` = `{before}`: give an entry id (1 or more)"),
        ));
    }
    let entries = audit::list(state.auth.store(), limit, q.before)
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "entries": entries })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    scope: String,
    #[serde(default)]
    name: String,
}

/// `POST /api/v1/admin/tokens`: 201 with the token, shown once.
async fn create_token(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let req = json_body(body)?;
    let scope = parse_scope(&req.scope)?;
    let store = state.auth.store();
    let (id, token) = tokens::create(
        store,
        scope,
        &req.name,
        &caller.actor,
        caller.client.clone(),
        state.now(),
    )
    .await
    .map_err(admin_error)?;
    let body =
        json!({ "id": id, "token": token.expose(), "scope": scope, "name": req.name.trim() });
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// `GET /api/v1/admin/tokens`: every token, without secrets.
async fn list_tokens(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let list = tokens::list(state.auth.store()).await.map_err(internal)?;
    Ok(Json(json!({ "tokens": list })))
}

/// `DELETE /api/v1/admin/tokens/{id}`.
async fn revoke_token(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Admin)?;
    let revoked = tokens::revoke(
        state.auth.store(),
        &id,
        &caller.actor,
        caller.client.clone(),
        state.now(),
    )
    .await
    .map_err(internal)?;
    if !revoked {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no live token `{id}`"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/admin/sessions`: live sessions (never their tokens or hashes).
async fn list_sessions(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let sessions = state
        .auth
        .live_sessions(state.now())
        .await
        .map_err(internal)?;
    let list: Vec<_> = sessions
        .iter()
        .map(|s| json!({
            "id": s.id, "email": s.email, "created_at": s.created_at, "last_seen_at": s.last_seen_at,
            "expires_at": s.expires_at, "client_addr": s.client_addr,
        }))
        .collect();
    Ok(Json(json!({ "sessions": list })))
}

/// `DELETE /api/v1/admin/sessions/{id}`: signs that session out.
async fn revoke_session(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Admin)?;
    let ended = state
        .auth
        .end_session(
            &id,
            "session.revoke",
            &caller.actor,
            caller.client.clone(),
            state.now(),
        )
        .await
        .map_err(internal)?;
    if !ended {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no live session `{id}`"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
