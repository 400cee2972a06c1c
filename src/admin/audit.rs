//! The audit log: every change made by a person, an API token or the command line, with
//! who, when, what, on what, and from which address. Entries never hold secrets: callers
//! pass ids and names, never passwords, tokens or hashes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::ms_to_time;
use crate::store::{SqlxContext, Store, StoreError};

/// Who acted: a signed-in person, an API token, or the service itself (the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's email, the token's id (`tok_…`), or `cli`.
    pub name: String,
    pub kind: ActorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Token,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::System => "system",
        }
    }
}

impl Actor {
    pub fn user(email: &str) -> Actor {
        Actor {
            name: email.into(),
            kind: ActorKind::User,
        }
    }
    pub fn token(id: &str) -> Actor {
        Actor {
            name: id.into(),
            kind: ActorKind::Token,
        }
    }
    /// The command line, run by whoever can read the configuration and the database.
    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            kind: ActorKind::System,
        }
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub actor: &'a Actor,
    /// Dotted verb: `session.login`, `session.login_failed`, `token.create`, …
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: serde_json::Value,
    pub client_addr: Option<String>,
}

/// A stored entry, as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    #[sqlx(skip)]
    pub at: DateTime<Utc>,
    #[serde(skip)]
    #[sqlx(rename = "at")]
    pub at_ms: i64,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub target: Option<String>,
    #[serde(skip)]
    pub detail_json: String,
    #[sqlx(skip)]
    pub detail: serde_json::Value,
    pub client_addr: Option<String>,
}

/// Appends `change` to the audit log at `at`.
pub async fn record(
    store: &Store,
    change: Change<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::on_db!(store.pool(), |db| sqlx::query(
        "INSERT INTO audit_log (at, actor, actor_kind, action, target, detail_json, client_addr) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at.timestamp_millis())
    .bind(&change.actor.name)
    .bind(change.actor.kind.as_str())
    .bind(change.action)
    .bind(change.target)
    .bind(change.detail.to_string())
    .bind(&change.client_addr)
    .execute(db)
    .await
    .map(crate::store::Done::from))
    .context(|| format!("recording `{}` in the audit log", change.action))?;
    Ok(())
}

/// The newest entries first, at most `limit`, optionally only those older than entry `before`.
pub async fn list(
    store: &Store,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<Entry>, StoreError> {
    let rows: Vec<Entry> = crate::on_db!(store.pool(), |db| {
        sqlx::query_as(
        "SELECT id, at, actor, actor_kind, action, target, detail_json, client_addr FROM audit_log \
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(db).await
    })
    .context(|| "reading the audit log")?;
    Ok(rows
        .into_iter()
        .map(|mut e| {
            e.at = ms_to_time(e.at_ms);
            e.detail = serde_json::from_str(&e.detail_json).unwrap_or_default();
            e
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn entries_are_listed_newest_first_with_their_details() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).await.unwrap();
        let now = Utc::now();
        for (i, action) in ["user.add", "token.create"].into_iter().enumerate() {
            let change = Change {
                actor: &Actor::cli(),
                action,
                target: Some("x"),
                detail: json!({ "n": i }),
                client_addr: Some("192.0.2.1".into()),
            };
            record(&store, change, now).await.unwrap();
        }
        let entries = list(&store, 10, None).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].action, "token.create");
        assert_eq!(entries[0].detail, json!({ "n": 1 }));
        assert_eq!(entries[0].actor_kind, "system");
        assert_eq!(entries[0].at.timestamp_millis(), now.timestamp_millis());
        let older = list(&store, 10, Some(entries[0].id)).await.unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].action, "user.add");
    }
}
