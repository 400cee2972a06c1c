//! The API token of a request to an endpoint of a scope that stands apart (`ingest` for the
//! application's traffic, `agent` for agents' probe results): 401 when it is missing,
//! unknown or revoked, 403 when it has another scope. One place, so both endpoints refuse
//! in the same words.

use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Utc};

use super::credentials::bearer_token;
use super::ApiError;
use crate::admin::tokens::{self, ApiToken};
use crate::admin::Scope;
use crate::store::Store;

/// The token sent as `Authorization: Bearer mw_…`, if it allows `scope`.
pub async fn require(
    store: &Store,
    headers: &HeaderMap,
    scope: Scope,
    now: DateTime<Utc>,
) -> Result<ApiToken, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or_else(|| {
            ApiError::status(
                StatusCode::UNAUTHORIZED,
                format!(
                    "send an API token with the `{scope}` scope as `Authorization: Bearer mw_…`"
                ),
            )
        })?;
    let found = tokens::authenticate(store, token, now)
        .await
        .map_err(|e| ApiError::internal("authenticating an API token", e))?
        .ok_or_else(|| {
            ApiError::status(
                StatusCode::UNAUTHORIZED,
                "the API token is unknown or revoked; send `Authorization: Bearer mw_…`",
            )
        })?;
    if !found.scope.allows(scope) {
        return Err(ApiError::status(
            StatusCode::FORBIDDEN,
            format!(
                "this needs a token with the `{scope}` scope; the token sent has `{}`",
                found.scope
            ),
        ));
    }
    Ok(found)
}
