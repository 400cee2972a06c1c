//! Subscriptions: created by the public API, confirmed, filtered, rotated, disabled.

use chrono::{DateTime, Utc};

use super::ms_to_time;
use super::{SqlxContext, Store, StoreError};
use crate::vocabulary::{Filter, Format, Kind, Status};

/// A stored subscription. Secrets stay encrypted here; tokens exist only as hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub kind: Kind,
    pub format: Format,
    pub url: Option<String>,
    pub email: Option<String>,
    pub filter: Filter,
    pub status: Status,
    pub secret_enc: Option<String>,
    pub previous_secret_enc: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
}

impl Subscription {
    /// From when events are for this subscriber: an email address's confirmation (nothing
    /// is sent for what happened before the click), a webhook's creation.
    pub fn listening_since(&self) -> DateTime<Utc> {
        match self.kind {
            Kind::Email => self.confirmed_at.unwrap_or(DateTime::<Utc>::MAX_UTC),
            Kind::Webhook => self.created_at,
        }
    }
}

/// What the API stores for a new subscription.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub id: String,
    pub kind: Kind,
    pub format: Format,
    pub url: Option<String>,
    pub email: Option<String>,
    pub filter: Filter,
    pub status: Status,
    pub secret_enc: Option<String>,
    pub manage_token_hash: String,
    pub confirm_token_hash: Option<String>,
    pub client_addr: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kind: String,
    format: String,
    url: Option<String>,
    email: Option<String>,
    models_json: String,
    providers_json: String,
    events_json: String,
    status: String,
    secret_enc: Option<String>,
    previous_secret_enc: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    confirmed_at: Option<i64>,
    disabled_at: Option<i64>,
    disabled_reason: Option<String>,
    failing_since: Option<i64>,
}

const COLUMNS: &str = "SELECT id, kind, format, url, email, models_json, providers_json, events_json, status, secret_enc, \
     previous_secret_enc, previous_secret_until, created_at, confirmed_at, disabled_at, disabled_reason, failing_since FROM subscriptions";

impl Row {
    fn into_subscription(self) -> Result<Subscription, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            table: "subscriptions",
            row: self.id.clone(),
            problem,
        };
        let list = |text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|e| corrupt(e.to_string()))
        };
        Ok(Subscription {
            kind: match self.kind.as_str() {
                "webhook" => Kind::Webhook,
                "email" => Kind::Email,
                other => return Err(corrupt(format!("kind {other}"))),
            },
            format: Format::parse(&self.format)
                .ok_or_else(|| corrupt(format!("format {}", self.format)))?,
            status: Status::parse(&self.status)
                .ok_or_else(|| corrupt(format!("status {}", self.status)))?,
            filter: Filter {
                models: list(&self.models_json)?,
                providers: list(&self.providers_json)?,
                events: list(&self.events_json)?,
            },
            previous_secret_until: self.previous_secret_until.map(ms_to_time),
            created_at: ms_to_time(self.created_at),
            confirmed_at: self.confirmed_at.map(ms_to_time),
            disabled_at: self.disabled_at.map(ms_to_time),
            failing_since: self.failing_since.map(ms_to_time),
            id: self.id,
            url: self.url,
            email: self.email,
            secret_enc: self.secret_enc,
            previous_secret_enc: self.previous_secret_enc,
            disabled_reason: self.disabled_reason,
        })
    }
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl Store {
    pub async fn insert_subscription(&self, s: &NewSubscription) -> Result<(), StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query(
            "INSERT INTO subscriptions (id, kind, format, url, email, models_json, providers_json, events_json, status, secret_enc, \
             manage_token_hash, confirm_token_hash, created_at, confirmed_at, client_addr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&s.id)
        .bind(match s.kind {
            Kind::Webhook => "webhook",
            Kind::Email => "email",
        })
        .bind(s.format.as_str())
        .bind(&s.url)
        .bind(&s.email)
        .bind(json(&s.filter.models))
        .bind(json(&s.filter.providers))
        .bind(json(&s.filter.events))
        .bind(s.status.as_str())
        .bind(&s.secret_enc)
        .bind(&s.manage_token_hash)
        .bind(&s.confirm_token_hash)
        .bind(s.created_at.timestamp_millis())
        .bind((s.status == Status::Active).then(|| s.created_at.timestamp_millis()))
        .bind(&s.client_addr)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| format!("creating subscription {}", s.id))?;
        Ok(())
    }

    async fn one(&self, clause: &str, value: &str) -> Result<Option<Subscription>, StoreError> {
        let row: Option<Row> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "{COLUMNS} WHERE {clause} = $1"
        ))
        .bind(value)
        .fetch_optional(db)
        .await)
        .context(|| "reading a subscription")?;
        row.map(Row::into_subscription).transpose()
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        self.one("id", id).await
    }

    pub async fn subscription_by_manage_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        self.one("manage_token_hash", token_hash).await
    }

    /// Confirms the pending email subscription whose confirmation token hashes to `token_hash`.
    pub async fn confirm_subscription(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        let Some(sub) = self.one("confirm_token_hash", token_hash).await? else {
            return Ok(None);
        };
        crate::on_db!(&self.pool, |db| sqlx::query("UPDATE subscriptions SET status = 'active', confirmed_at = $1, confirm_token_hash = NULL WHERE id = $2 AND status = 'pending'")
            .bind(now.timestamp_millis())
            .bind(&sub.id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("confirming subscription {}", sub.id))?;
        self.subscription(&sub.id).await
    }

    pub async fn set_subscription_status(
        &self,
        id: &str,
        status: Status,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let disabled = matches!(status, Status::Disabled | Status::Unsubscribed)
            .then(|| now.timestamp_millis());
        crate::on_db!(&self.pool, |db| sqlx::query("UPDATE subscriptions SET status = $1, disabled_at = $2, disabled_reason = $3, failing_since = CASE WHEN $4 = 'active' THEN NULL ELSE failing_since END WHERE id = $5")
            .bind(status.as_str())
            .bind(disabled)
            .bind(reason)
            .bind(status.as_str())
            .bind(id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("setting the status of subscription {id}"))?;
        Ok(())
    }

    pub async fn update_filter(&self, id: &str, filter: &Filter) -> Result<(), StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query("UPDATE subscriptions SET models_json = $1, providers_json = $2, events_json = $3 WHERE id = $4")
            .bind(json(&filter.models))
            .bind(json(&filter.providers))
            .bind(json(&filter.events))
            .bind(id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("updating the filter of subscription {id}"))?;
        Ok(())
    }

    /// Replaces the signing secret; the previous one stays valid until `previous_until`.
    pub async fn rotate_secret(
        &self,
        id: &str,
        new_enc: &str,
        previous_enc: Option<&str>,
        previous_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query("UPDATE subscriptions SET secret_enc = $1, previous_secret_enc = $2, previous_secret_until = $3 WHERE id = $4")
            .bind(new_enc)
            .bind(previous_enc)
            .bind(previous_until.timestamp_millis())
            .bind(id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("rotating the secret of subscription {id}"))?;
        Ok(())
    }

    /// Every subscription with `status`, oldest first.
    pub async fn subscriptions_with_status(
        &self,
        status: Status,
    ) -> Result<Vec<Subscription>, StoreError> {
        let mut conn = self.begin_read("reading subscriptions").await?;
        subscriptions_with_status(&mut conn, status).await
    }

    /// The newest `limit` subscriptions of any status, newest first (for the admin pages).
    pub async fn list_subscriptions(&self, limit: i64) -> Result<Vec<Subscription>, StoreError> {
        let rows: Vec<Row> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "{COLUMNS} ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(db)
        .await)
        .context(|| "listing subscriptions")?;
        rows.into_iter().map(Row::into_subscription).collect()
    }

    /// Records the outcome of a delivery to the subscription's endpoint: a success ends a
    /// failing streak; a failure starts one (if none). Returns when the streak began.
    pub async fn note_endpoint_result(
        &self,
        id: &str,
        ok: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut tx = self.begin_write("noting an endpoint's result").await?;
        let noted = note_endpoint_result(&mut tx, id, ok, now).await?;
        tx.commit()
            .await
            .context(|| "committing an endpoint's result")?;
        Ok(noted)
    }
}

/// [`Store::note_endpoint_result`] on a given connection, so a delivery attempt and the
/// endpoint's health are written in one transaction.
pub(super) async fn note_endpoint_result(
    conn: &mut super::Tx,
    id: &str,
    ok: bool,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let since: Option<Option<i64>> = if ok {
        crate::on_db!(&mut *conn, |db| sqlx::query_scalar(
            "UPDATE subscriptions SET failing_since = NULL WHERE id = $1 RETURNING failing_since",
        )
        .bind(id)
        .fetch_optional(db).await)
    } else {
        crate::on_db!(&mut *conn, |db| sqlx::query_scalar("UPDATE subscriptions SET failing_since = coalesce(failing_since, $1) WHERE id = $2 RETURNING failing_since")
            .bind(now.timestamp_millis())
            .bind(id)
            .fetch_optional(db).await)
    }
    .context(|| format!("recording a delivery result of subscription {id}"))?;
    Ok(since.flatten().map(ms_to_time))
}

/// [`Store::subscriptions_with_status`] on a given connection, so the fan-out reads the
/// subscriptions in the same transaction as the outbox.
pub(super) async fn subscriptions_with_status(
    conn: &mut super::Tx,
    status: Status,
) -> Result<Vec<Subscription>, StoreError> {
    let rows: Vec<Row> = crate::on_db!(&mut *conn, |db| sqlx::query_as(&format!(
        "{COLUMNS} WHERE status = $1 ORDER BY created_at, id"
    ))
    .bind(status.as_str())
    .fetch_all(db)
    .await)
    .context(|| "listing subscriptions")?;
    rows.into_iter().map(Row::into_subscription).collect()
}
