//! Deliveries: outbox rows fanned out to matching subscriptions, then attempted until they
//! succeed or their retry period ends. Every step is its own committed transaction, so a
//! crash at any point loses nothing: an outbox row is marked done only in the transaction
//! that creates its deliveries, and a delivery is pending until an attempt succeeds.

use chrono::{DateTime, Utc};

use super::subscriptions::Subscription;
use super::{ms_to_time, SqlxContext, Store, StoreError};
use crate::vocabulary::Status;

/// A delivery whose next attempt is due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub id: i64,
    pub event_id: i64,
    pub subscription_id: String,
    /// The `webhook-id`: the same on every attempt.
    pub message_id: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub event_type: String,
    pub payload_json: String,
}

/// One row of a subscription's delivery log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeliveryLog {
    pub id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub message_id: String,
    pub status: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_duration_ms: Option<u32>,
    pub last_error: Option<String>,
}

/// What one attempt did, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub status_code: Option<u16>,
    pub duration_ms: u32,
    pub error: Option<String>,
}

/// An event waiting in the outbox, with what fan-out needs to choose its subscribers.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub outbox_id: i64,
    pub event_id: i64,
    pub kind: String,
    pub provider_id: Option<String>,
    pub model_key: Option<String>,
    pub public: bool,
    /// The stored [`crate::vocabulary::Event`].
    pub payload_json: String,
    pub occurred_at: DateTime<Utc>,
    /// A `model.state_changed` whose round also announced `model.degraded`, `disabled` or
    /// `restored` for the same model: the more specific event says the same to people.
    pub covered: bool,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    outbox_id: i64,
    event_id: i64,
    kind: String,
    provider_id: Option<String>,
    model_key: Option<String>,
    public: bool,
    payload_json: String,
    occurred_at: i64,
    covered: bool,
}

impl From<OutboxRow> for OutboxEvent {
    fn from(r: OutboxRow) -> OutboxEvent {
        OutboxEvent {
            outbox_id: r.outbox_id,
            event_id: r.event_id,
            kind: r.kind,
            provider_id: r.provider_id,
            model_key: r.model_key,
            public: r.public,
            payload_json: r.payload_json,
            occurred_at: ms_to_time(r.occurred_at),
            covered: r.covered,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    event_id: i64,
    subscription_id: String,
    message_id: String,
    attempts: i64,
    created_at: i64,
    event_type: String,
    payload_json: String,
}

/// What happens to the delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterAttempt {
    Succeeded,
    RetryAt(DateTime<Utc>),
    /// The retry period is over.
    Dead,
}

impl Store {
    /// Fans out up to `limit` pending outbox rows: `recipients` (the notify layer's rule,
    /// `notify::fan_out::recipients`) chooses, among the active subscriptions, who
    /// gets each event; a pending delivery is queued for each. Returns how many outbox rows
    /// were handled.
    pub async fn fan_out<F>(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        mut recipients: F,
    ) -> Result<usize, StoreError>
    where
        F: for<'a> FnMut(&OutboxEvent, &'a [Subscription]) -> Vec<&'a Subscription>,
    {
        let mut tx = self.begin_write("fanning out events").await?;
        // Read in the same transaction as the outbox: a subscription committed before an
        // event is then always seen with it. Read before the transaction, a subscription
        // created in between would miss that event forever (its outbox row is done).
        let subscriptions =
            super::subscriptions::subscriptions_with_status(&mut tx, Status::Active).await?;
        let rows: Vec<OutboxRow> = crate::on_db!(&mut *tx, |db| sqlx::query_as(
            "SELECT o.id AS outbox_id, e.id AS event_id, e.type AS kind, e.provider_id, e.model_key, e.public, e.payload_json, e.occurred_at, \
               e.type = 'model.state_changed' AND EXISTS (SELECT 1 FROM events s WHERE s.model_key = e.model_key \
                 AND s.occurred_at = e.occurred_at AND s.type IN ('model.degraded', 'model.disabled', 'model.restored')) AS covered \
             FROM outbox o JOIN events e ON e.id = o.event_id \
             WHERE o.done_at IS NULL ORDER BY o.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(db).await)
        .context(|| "reading the outbox")?;
        let handled = rows.len();
        for row in rows {
            let event = OutboxEvent::from(row);
            for sub in recipients(&event, &subscriptions) {
                crate::on_db!(&mut *tx, |db| sqlx::query(
                    "INSERT INTO deliveries (event_id, subscription_id, message_id, status, next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(event.event_id)
                .bind(&sub.id)
                .bind(format!("msg_{}_{}", event.event_id, sub.id))
                .bind(now.timestamp_millis())
                .bind(now.timestamp_millis())
                .execute(db).await.map(crate::store::Done::from))
                .context(|| format!("queueing event {} for {}", event.event_id, sub.id))?;
            }
            crate::on_db!(&mut *tx, |db| sqlx::query(
                "UPDATE outbox SET done_at = $1 WHERE id = $2"
            )
            .bind(now.timestamp_millis())
            .bind(event.outbox_id)
            .execute(db)
            .await
            .map(crate::store::Done::from))
            .context(|| format!("marking outbox row {} done", event.outbox_id))?;
        }
        tx.commit().await.context(|| "committing the fan-out")?;
        Ok(handled)
    }

    /// Pending deliveries due at `now`, of active subscriptions, oldest first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let rows: Vec<DueRow> = crate::on_db!(&self.pool, |db| sqlx::query_as(
            "SELECT d.id, d.event_id, d.subscription_id, d.message_id, d.attempts, d.created_at, e.type AS event_type, e.payload_json \
             FROM deliveries d JOIN events e ON e.id = d.event_id JOIN subscriptions s ON s.id = d.subscription_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND s.status = 'active' ORDER BY d.next_attempt_at, d.id LIMIT $2",
        )
        .bind(now.timestamp_millis())
        .bind(limit)
        .fetch_all(db).await)
        .context(|| "reading due deliveries")?;
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: r.id,
                event_id: r.event_id,
                subscription_id: r.subscription_id,
                message_id: r.message_id,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                created_at: ms_to_time(r.created_at),
                event_type: r.event_type,
                payload_json: r.payload_json,
            })
            .collect())
    }

    /// Logs an attempt and moves the delivery on, in one transaction. With `endpoint` (a
    /// webhook's subscription id) the endpoint's failing streak is updated in the same
    /// transaction, and its start returned, so the log and the health never disagree.
    pub async fn record_attempt(
        &self,
        delivery_id: i64,
        attempt: &AttemptRecord,
        after: AfterAttempt,
        endpoint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut tx = self.begin_write("recording a delivery attempt").await?;
        crate::on_db!(&mut *tx, |db| sqlx::query("INSERT INTO delivery_attempts (delivery_id, at, status_code, duration_ms, error) VALUES ($1, $2, $3, $4, $5)")
            .bind(delivery_id)
            .bind(now.timestamp_millis())
            .bind(attempt.status_code.map(i64::from))
            .bind(i64::from(attempt.duration_ms))
            .bind(&attempt.error)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("logging an attempt of delivery {delivery_id}"))?;
        let (status, next, delivered) = match after {
            AfterAttempt::Succeeded => ("succeeded", now, Some(now.timestamp_millis())),
            AfterAttempt::RetryAt(at) => ("pending", at, None),
            AfterAttempt::Dead => ("dead", now, None),
        };
        crate::on_db!(&mut *tx, |db| sqlx::query("UPDATE deliveries SET attempts = attempts + 1, status = $1, next_attempt_at = $2, delivered_at = $3 WHERE id = $4")
            .bind(status)
            .bind(next.timestamp_millis())
            .bind(delivered)
            .bind(delivery_id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("updating delivery {delivery_id}"))?;
        let failing_since = match endpoint {
            Some(id) => {
                let ok = matches!(after, AfterAttempt::Succeeded);
                super::subscriptions::note_endpoint_result(&mut tx, id, ok, now).await?
            }
            None => None,
        };
        tx.commit()
            .await
            .context(|| "committing a delivery attempt")?;
        Ok(failing_since)
    }

    /// The newest `limit` deliveries of a subscription with their last attempt.
    pub async fn delivery_log(
        &self,
        subscription_id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryLog>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct LogRow {
            id: i64,
            event_id: i64,
            event_type: String,
            message_id: String,
            status: String,
            attempts: i64,
            created_at: i64,
            delivered_at: Option<i64>,
            status_code: Option<i64>,
            duration_ms: Option<i64>,
            error: Option<String>,
        }
        let rows: Vec<LogRow> = crate::on_db!(&self.pool, |db| sqlx::query_as(
            "SELECT d.id, d.event_id, e.type AS event_type, d.message_id, d.status, d.attempts, d.created_at, d.delivered_at, a.status_code, a.duration_ms, a.error \
             FROM deliveries d JOIN events e ON e.id = d.event_id \
             LEFT JOIN delivery_attempts a ON a.id = (SELECT max(id) FROM delivery_attempts WHERE delivery_id = d.id) \
             WHERE d.subscription_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(subscription_id)
        .bind(limit)
        .fetch_all(db).await)
        .context(|| format!("reading the delivery log of {subscription_id}"))?;
        Ok(rows
            .into_iter()
            .map(|r| DeliveryLog {
                id: r.id,
                event_id: r.event_id,
                event_type: r.event_type,
                message_id: r.message_id,
                status: r.status,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                created_at: ms_to_time(r.created_at),
                delivered_at: r.delivered_at.map(ms_to_time),
                last_status_code: r.status_code.and_then(|c| u16::try_from(c).ok()),
                last_duration_ms: r.duration_ms.and_then(|d| u32::try_from(d).ok()),
                last_error: r.error,
            })
            .collect())
    }

    /// Queues a delivery of `subscription_id` again now (same message id). False if unknown.
    pub async fn redeliver(
        &self,
        subscription_id: &str,
        delivery_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = crate::on_db!(&self.pool, |db| sqlx::query("UPDATE deliveries SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND subscription_id = $3")
            .bind(now.timestamp_millis())
            .bind(delivery_id)
            .bind(subscription_id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("redelivering {delivery_id}"))?;
        Ok(done.rows_affected() == 1)
    }
}
