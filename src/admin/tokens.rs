//! API tokens for automation: `mw_` and 32 random bytes, shown once, stored as SHA-256
//! (long random tokens need no slow hash), each with a [`Scope`] and a name. Sent as
//! `Authorization: Bearer TOKEN`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::audit::{self, Actor, Change};
use super::{AdminError, Scope};
use crate::config::Secret;
use crate::notify::secrets::{hash_token, new_id, new_token};
use crate::store::ms_to_time;
use crate::store::{SqlxContext, Store, StoreError};

/// Every API token starts with this, so leaked ones are easy to recognise (and to scan for).
pub const PREFIX: &str = "mw_";
/// Names are labels for people; bounded so the list stays readable.
pub const MAX_NAME: usize = 100;

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub scope: Scope,
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Creates a token and audits it; returns its id and the token itself, to show once.
pub async fn create(
    store: &Store,
    scope: Scope,
    name: &str,
    actor: &Actor,
    client_addr: Option<String>,
    now: DateTime<Utc>,
) -> Result<(String, Secret), AdminError> {
    // The length counts what was sent, as the OpenAPI document's `maxLength` does.
    let sent = name.chars().count();
    let name = name.trim();
    if sent > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "the name must be at most {MAX_NAME} characters, without control characters"
        )));
    }
    let id = new_id("tok_");
    let token = new_token(PREFIX);
    crate::on_db!(store.pool(), |db| sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, scope, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(hash_token(token.expose()))
    .bind(scope.as_str())
    .bind(name)
    .bind(&actor.name)
    .bind(now.timestamp_millis())
    .execute(db).await.map(crate::store::Done::from))
    .context(|| format!("creating API token {id}"))?;
    let change = Change {
        actor,
        action: "token.create",
        target: Some(&id),
        detail: serde_json::json!({ "scope": scope, "name": name }),
        client_addr,
    };
    audit::record(store, change, now).await?;
    Ok((id, token))
}

/// The live token a bearer presents, if any; records when it was last used.
pub async fn authenticate(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiToken>, StoreError> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    let hash = hash_token(token);
    let found = select(store, Some(&hash)).await?.pop();
    if found.is_some() {
        crate::on_db!(store.pool(), |db| sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2"
        )
        .bind(now.timestamp_millis())
        .bind(&hash)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| "recording an API token's use")?;
    }
    Ok(found)
}

/// Every token, newest first (revoked ones included, marked).
pub async fn list(store: &Store) -> Result<Vec<ApiToken>, StoreError> {
    select(store, None).await
}

/// Revokes token `id` and audits it (`token.revoke`); false, with nothing audited, if there
/// is no such unrevoked token.
pub async fn revoke(
    store: &Store,
    id: &str,
    actor: &Actor,
    client_addr: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = crate::on_db!(store.pool(), |db| sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(now.timestamp_millis())
    .bind(id)
    .execute(db)
    .await
    .map(crate::store::Done::from))
    .context(|| format!("revoking API token {id}"))?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let change = Change {
        actor,
        action: "token.revoke",
        target: Some(id),
        detail: serde_json::json!({}),
        client_addr,
    };
    audit::record(store, change, now).await?;
    Ok(true)
}

/// The live token with `token_hash`, or every token (revoked ones too).
async fn select(store: &Store, token_hash: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        i64,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = crate::on_db!(store.pool(), |db| {
        sqlx::query_as(
        "SELECT id, scope, name, created_by, created_at, last_used_at, revoked_at FROM api_tokens \
         WHERE $1 IS NULL OR (token_hash = $1 AND revoked_at IS NULL) ORDER BY created_at DESC, id",
    )
    .bind(token_hash)
    .fetch_all(db).await
    })
    .context(|| "reading API tokens")?;
    rows.into_iter()
        .map(|(id, scope, name, created_by, created, used, revoked)| {
            Ok(ApiToken {
                scope: Scope::parse(&scope).ok_or_else(|| StoreError::Corrupt {
                    table: "api_tokens",
                    row: id.clone(),
                    problem: format!("scope {scope}"),
                })?,
                id,
                name,
                created_by,
                created_at: ms_to_time(created),
                last_used_at: used.map(ms_to_time),
                revoked_at: revoked.map(ms_to_time),
            })
        })
        .collect()
}
