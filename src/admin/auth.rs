//! People: users, sign-in with lock-out, sessions and their CSRF tokens.
//!
//! A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a
//! copy of the database cannot be used to sign in. It ends after [`IDLE`] without use,
//! [`ABSOLUTE`] after sign-in, or when revoked. Its CSRF token is an HMAC of the stored
//! hash under the service key: nothing more to store, and unforgeable without the key.
//!
//! Failed sign-ins are stored, so the limits survive a restart. Within [`Lockout::window`]:
//! - past [`Lockout::per_pair`] failures for one address *from one client*, that client may
//!   not sign in as that address (even with the right password) until the window passes;
//! - past [`Lockout::per_client`] failures from one client, it may not sign in at all;
//! - past [`Lockout::slow_after`] failures for one address from anywhere, each attempt for
//!   it must wait a delay that doubles per failure up to [`Lockout::slow_max`]: guessing
//!   from many addresses is held to about one try a minute, while the owner, from their own
//!   client, is slowed but never locked out by someone who only knows their email;
//! - a signed-in admin can clear an address's failures ([`Auth::unlock`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::audit::{self, Actor, Change};
use super::{normalise_email, password, AdminError};
use crate::config::Secret;
use crate::notify::secrets::{hash_token, new_id, new_token, SecretBox};
use crate::store::ms_to_time;
use crate::store::{millis, SqlxContext, Store, StoreError};

/// A session unused this long has ended.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE: Duration = Duration::from_secs(7 * 24 * 3600);
/// `last_seen_at` is written at most this often per session, not on every request.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// When repeated failures lock or slow sign-in.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    /// Failures for one email from one client that lock that pair.
    pub per_pair: u32,
    /// Failures from one client (any email) that lock the client.
    pub per_client: u32,
    /// Failures for one email (any client) after which its attempts are slowed.
    pub slow_after: u32,
    /// The longest wait between attempts for a slowed email.
    pub slow_max: Duration,
    pub window: Duration,
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            per_pair: 5,
            // Higher: several people may share one address (an office, a VPN).
            per_client: 20,
            slow_after: 5,
            slow_max: Duration::from_secs(60),
            window: Duration::from_secs(15 * 60),
        }
    }
}

impl Lockout {
    /// How long after the last failure an email with `failures` in the window may try again.
    pub fn slow_delay(&self, failures: u32) -> Duration {
        match failures.checked_sub(self.slow_after) {
            None => Duration::ZERO,
            Some(extra) => Duration::from_secs(1u64 << extra.min(16)).min(self.slow_max),
        }
    }
}

/// A live session, as the request extractors see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Public id (`ses_…`), for listing and revoking.
    pub id: String,
    /// SHA-256 of the cookie's token: the key in the database and of the CSRF token.
    pub id_hash: String,
    pub user_id: i64,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub client_addr: Option<String>,
}

/// Why a sign-in was refused. Deliberately vague to the client about which part was wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong email or password")]
    Invalid,
    #[error("too many failed sign-ins; try again in {} minutes", .retry_after.as_secs().div_ceil(60))]
    Locked { retry_after: Duration },
    /// Many recent failures for this address from anywhere: wait before the next attempt.
    #[error("too many failed sign-ins for this address; try again in {} seconds", .retry_after.as_secs().max(1))]
    Slowed { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Users, sessions and CSRF over the store, keyed by the service's [`SecretBox`].
#[derive(Debug, Clone)]
pub struct Auth {
    store: Store,
    secrets: SecretBox,
    pub lockout: Lockout,
}

/// Adds a user with an argon2id hash of `password` (checked by [`password::check_new`])
/// and records it in the audit log.
pub async fn add_user(
    store: &Store,
    email: &str,
    password_text: &str,
    actor: &Actor,
    client_addr: Option<String>,
    now: DateTime<Utc>,
) -> Result<i64, AdminError> {
    let email = normalise_email(email)?;
    password::check_new(password_text)?;
    let hash = password::hash(password_text)?;
    let inserted: Option<i64> = crate::on_db!(store.pool(), |db| sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(&email)
    .bind(&hash)
    .bind(now.timestamp_millis())
    .fetch_optional(db)
    .await)
    .context(|| format!("adding user {email}"))?;
    let Some(id) = inserted else {
        return Err(AdminError::UserExists(email));
    };
    let change = Change {
        actor,
        action: "user.add",
        target: Some(&email),
        detail: serde_json::json!({ "user_id": id }),
        client_addr,
    };
    audit::record(store, change, now).await?;
    Ok(id)
}

impl Auth {
    pub fn new(store: Store, secrets: SecretBox) -> Auth {
        Auth {
            store,
            secrets,
            lockout: Lockout::default(),
        }
    }

    /// Checks the credentials and, if they are right and nothing is locked, opens a session.
    /// Returns the session and the token for the cookie. Every outcome is audited.
    pub async fn login(
        &self,
        email: &str,
        password_text: &str,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Session, Secret), LoginError> {
        let email = email
            .trim()
            .to_lowercase()
            .chars()
            .take(254)
            .collect::<String>();
        let actor = Actor::user(&email);
        let audit_failure = |reason: &'static str| Change {
            actor: &actor,
            action: "session.login_failed",
            target: None,
            detail: serde_json::json!({ "reason": reason }),
            client_addr: client.map(str::to_string),
        };
        let email_key = format!("email:{email}");
        let pair_key = format!("pair:{email}|{}", client.unwrap_or("-"));
        let client_key = client.map(|c| format!("addr:{c}"));
        let since = now.timestamp_millis() - millis(self.lockout.window);
        let mut locked = self.failures(&pair_key, since).await?.0 >= self.lockout.per_pair;
        if let Some(key) = &client_key {
            locked |= self.failures(key, since).await?.0 >= self.lockout.per_client;
        }
        if locked {
            audit::record(&self.store, audit_failure("locked out"), now).await?;
            return Err(LoginError::Locked {
                retry_after: self.lockout.window,
            });
        }
        let (email_failures, last_failure) = self.failures(&email_key, since).await?;
        let delay = self.lockout.slow_delay(email_failures);
        if let Some(last) = last_failure {
            let wait_until = last + millis(delay);
            if now.timestamp_millis() < wait_until {
                audit::record(&self.store, audit_failure("slowed down"), now).await?;
                let left = u64::try_from(wait_until - now.timestamp_millis()).unwrap_or(0);
                return Err(LoginError::Slowed {
                    retry_after: Duration::from_millis(left),
                });
            }
        }
        let user: Option<(i64, String, Option<i64>)> =
            crate::on_db!(self.store.pool(), |db| sqlx::query_as(
                "SELECT id, password_hash, disabled_at FROM users WHERE email = $1"
            )
            .bind(&email)
            .fetch_optional(db)
            .await)
            .context(|| "reading a user to sign in")?;
        let user_id = match user {
            Some((id, hash, None)) if password::verify(password_text, &hash) => id,
            found => {
                if found.is_none() {
                    password::verify_dummy(password_text);
                }
                self.record_failure(&[&email_key, &pair_key], client_key.as_deref(), now, since)
                    .await?;
                audit::record(&self.store, audit_failure("wrong email or password"), now).await?;
                return Err(LoginError::Invalid);
            }
        };
        // A success clears the pair's count, so a person who mistyped starts afresh. The
        // address's own count stays: someone else may still be guessing it.
        crate::on_db!(self.store.pool(), |db| sqlx::query(
            "DELETE FROM login_failures WHERE key = $1"
        )
        .bind(&pair_key)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| "clearing failed sign-ins")?;
        let token = new_token("mws_");
        let session = Session {
            id: new_id("ses_"),
            id_hash: hash_token(token.expose()),
            user_id,
            email: email.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(ABSOLUTE).unwrap_or_default(),
            last_seen_at: now,
            client_addr: client.map(str::to_string),
        };
        crate::on_db!(self.store.pool(), |db| sqlx::query(
            "INSERT INTO sessions (id_hash, id, user_id, created_at, expires_at, last_seen_at, client_addr) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&session.id_hash)
        .bind(&session.id)
        .bind(user_id)
        .bind(now.timestamp_millis())
        .bind(session.expires_at.timestamp_millis())
        .bind(now.timestamp_millis())
        .bind(&session.client_addr)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| "opening a session")?;
        let change = Change {
            actor: &actor,
            action: "session.login",
            target: Some(&session.id),
            detail: serde_json::json!({}),
            client_addr: client.map(str::to_string),
        };
        audit::record(&self.store, change, now).await?;
        Ok((session, token))
    }

    /// Failures under `key` since `since`, and the time of the last (unix ms).
    async fn failures(&self, key: &str, since: i64) -> Result<(u32, Option<i64>), StoreError> {
        let (n, last): (i64, Option<i64>) = crate::on_db!(self.store.pool(), |db| sqlx::query_as(
            "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = $1 AND at > $2"
        )
        .bind(key)
        .bind(since)
        .fetch_one(db)
        .await)
        .context(|| "counting failed sign-ins")?;
        Ok((u32::try_from(n).unwrap_or(u32::MAX), last))
    }

    /// Clears every failed sign-in recorded for `email` (from any client), so its owner can
    /// sign in at once; audited. Returns how many failures were cleared.
    pub async fn unlock(
        &self,
        email: &str,
        actor: &Actor,
        client_addr: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<u64, AdminError> {
        let email = normalise_email(email)?;
        let cleared = crate::on_db!(self.store.pool(), |db| {
            sqlx::query(
            "DELETE FROM login_failures WHERE key = $1 OR substr(key, 1, CAST($2 AS INTEGER)) = $3"
        )
        .bind(format!("email:{email}"))
        .bind(i64::try_from(format!("pair:{email}|").len()).unwrap_or(i64::MAX))
        .bind(format!("pair:{email}|"))
        .execute(db)
        .await
        .map(crate::store::Done::from)
        })
        .context(|| format!("clearing failed sign-ins of {email}"))?
        .rows_affected();
        let change = Change {
            actor,
            action: "user.unlock",
            target: Some(&email),
            detail: serde_json::json!({ "cleared": cleared }),
            client_addr,
        };
        audit::record(&self.store, change, now).await?;
        Ok(cleared)
    }

    async fn record_failure(
        &self,
        keys: &[&str],
        client_key: Option<&str>,
        now: DateTime<Utc>,
        since: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin_write("recording a failed sign-in").await?;
        // Pruning here keeps the table bounded by the window without a maintenance job.
        crate::on_db!(&mut *tx, |db| sqlx::query(
            "DELETE FROM login_failures WHERE at <= $1"
        )
        .bind(since)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| "pruning failed sign-ins")?;
        for key in keys.iter().copied().chain(client_key) {
            crate::on_db!(&mut *tx, |db| sqlx::query(
                "INSERT INTO login_failures (key, at) VALUES ($1, $2)"
            )
            .bind(key)
            .bind(now.timestamp_millis())
            .execute(db)
            .await
            .map(crate::store::Done::from))
            .context(|| "recording a failed sign-in")?;
        }
        tx.commit().await.context(|| "recording a failed sign-in")
    }

    /// The live session for a cookie token: not revoked, not idle past [`IDLE`], not past
    /// its absolute end, and its user not disabled. Refreshes `last_seen_at`.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let id_hash = hash_token(token);
        let found = self.sessions_where(Some(&id_hash), now).await?.pop();
        if let Some(s) = &found {
            if now - s.last_seen_at > chrono::Duration::from_std(TOUCH_EVERY).unwrap_or_default() {
                crate::on_db!(self.store.pool(), |db| sqlx::query(
                    "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2"
                )
                .bind(now.timestamp_millis())
                .bind(&s.id_hash)
                .execute(db)
                .await
                .map(crate::store::Done::from))
                .context(|| "refreshing a session")?;
            }
        }
        Ok(found)
    }

    /// Every live session, newest first.
    pub async fn live_sessions(&self, now: DateTime<Utc>) -> Result<Vec<Session>, StoreError> {
        self.sessions_where(None, now).await
    }

    /// Live sessions: the one with `id_hash`, or all of them.
    async fn sessions_where(
        &self,
        id_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        type Row = (String, String, i64, String, i64, i64, i64, Option<String>);
        let rows: Vec<Row> = crate::on_db!(self.store.pool(), |db| sqlx::query_as(
            "SELECT s.id, s.id_hash, s.user_id, u.email, s.created_at, s.expires_at, s.last_seen_at, s.client_addr \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE ($1 IS NULL OR s.id_hash = $1) AND s.revoked_at IS NULL AND u.disabled_at IS NULL \
             AND s.expires_at > $2 AND s.last_seen_at > $3 ORDER BY s.created_at DESC",
        )
        .bind(id_hash)
        .bind(now.timestamp_millis())
        .bind(now.timestamp_millis() - millis(IDLE))
        .fetch_all(db).await)
        .context(|| "reading sessions")?;
        Ok(rows
            .into_iter()
            .map(
                |(id, id_hash, user_id, email, created, expires, seen, client_addr)| Session {
                    id,
                    id_hash,
                    user_id,
                    email,
                    created_at: ms_to_time(created),
                    expires_at: ms_to_time(expires),
                    last_seen_at: ms_to_time(seen),
                    client_addr,
                },
            )
            .collect())
    }

    /// Revokes the session with public id `id`; false if there is no such live session.
    pub async fn revoke_session(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = crate::on_db!(self.store.pool(), |db| sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        )
        .bind(now.timestamp_millis())
        .bind(id)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| format!("revoking session {id}"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends session `id` on behalf of `actor` and audits it as `action`: `session.logout`
    /// when people sign themselves out, `session.revoke` when an administrator ends a
    /// session. False, with nothing audited, if there is no such live session.
    pub async fn end_session(
        &self,
        id: &str,
        action: &'static str,
        actor: &Actor,
        client_addr: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !self.revoke_session(id, now).await? {
            return Ok(false);
        }
        let change = Change {
            actor,
            action,
            target: Some(id),
            detail: serde_json::json!({}),
            client_addr,
        };
        audit::record(&self.store, change, now).await?;
        Ok(true)
    }

    /// The CSRF token of a session, for its forms and `X-CSRF-Token` headers.
    pub fn csrf_token(&self, session: &Session) -> String {
        self.secrets.link_token("csrf", &session.id_hash)
    }

    /// Checks a CSRF token in constant time.
    pub fn check_csrf(&self, session: &Session, token: &str) -> bool {
        self.secrets
            .check_link_token("csrf", &session.id_hash, token)
    }

    /// The store, for handlers that audit.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The service key, for tokens bound to something other than a session.
    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }
}
