//! Deliveries: outbox rows fanned out to matching subscriptions, then attempted until they
//! succeed or their retry period ends. Every step is its own committed transaction, so a
//! crash at any point loses nothing: an outbox row is marked done only in the transaction
//! that creates its deliveries, and a delivery is pending until an attempt succeeds.

use chrono::{DateTime, Utc};

use super::evaluations::ms_to_time;

use super::{SqlxContext, Store, StoreError};
use crate::notify::subscription::{Kind, Status};

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

/// (outbox id, event id, type, provider, model, public, payload, occurred at, whether a
/// more specific model event of the same round says the same).
type OutboxRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    bool,
    String,
    i64,
    bool,
);
/// (delivery id, event id, subscription, message id, attempts, created, event type, payload).
type DueRow = (i64, i64, String, String, i64, i64, String, String);

/// What happens to the delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterAttempt {
    Succeeded,
    RetryAt(DateTime<Utc>),
    /// The retry period is over.
    Dead,
}

impl Store {
    /// Fans out up to `limit` pending outbox rows to `subscriptions` (the active ones).
    /// Returns how many outbox rows were handled.
    pub async fn fan_out(&self, now: DateTime<Utc>, limit: i64) -> Result<usize, StoreError> {
        let mut tx = self.begin_write("fanning out events").await?;
        // Read in the same transaction as the outbox: a subscription committed before an
        // event is then always seen with it. Read before the transaction, a subscription
        // created in between would miss that event forever (its outbox row is done).
        let subscriptions =
            super::subscriptions::subscriptions_with_status(&mut tx, Status::Active).await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT o.id, e.id, e.type, e.provider_id, e.model_key, e.public, e.payload_json, e.occurred_at, \
               e.type = 'model.state_changed' AND EXISTS (SELECT 1 FROM events s WHERE s.model_key = e.model_key \
                 AND s.occurred_at = e.occurred_at AND s.type IN ('model.degraded', 'model.disabled', 'model.restored')) \
             FROM outbox o JOIN events e ON e.id = o.event_id \
             WHERE o.done_at IS NULL ORDER BY o.id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .context(|| "reading the outbox")?;
        for (outbox_id, event_id, kind, provider, model, public, payload, occurred_at, covered) in
            &rows
        {
            if *public {
                let affected: Vec<String> = serde_json::from_str::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v["incident"]["affected_models"].as_array().cloned())
                    .map(|a| {
                        a.iter()
                            .filter_map(|m| m.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                // A subscriber hears about what happens after it started listening (an
                // email address once confirmed), never the past, however late this runs.
                let matching = subscriptions.iter().filter(|s| {
                    s.listening_since().timestamp_millis() <= *occurred_at
                        && s.filter
                            .matches(kind, provider.as_deref(), model.as_deref(), &affected)
                });
                for sub in matching {
                    // One change, one message for people: a state change that comes with
                    // `model.disabled` (or restored, or degraded) in the same round is left
                    // to that event, unless they asked for state changes by name. Programs
                    // (native webhooks) get both, as documented.
                    if *covered && sub.format.for_people() && sub.filter.events.is_empty() {
                        continue;
                    }
                    if sub.kind == Kind::Webhook
                        && !crate::notify::formats::carries(sub.format, kind)
                    {
                        continue;
                    }
                    sqlx::query(
                        "INSERT OR IGNORE INTO deliveries (event_id, subscription_id, message_id, status, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                    )
                    .bind(event_id)
                    .bind(&sub.id)
                    .bind(format!("msg_{event_id}_{}", sub.id))
                    .bind(now.timestamp_millis())
                    .bind(now.timestamp_millis())
                    .execute(&mut *tx)
                    .await
                    .context(|| format!("queueing event {event_id} for {}", sub.id))?;
                }
            }
            sqlx::query("UPDATE outbox SET done_at = ? WHERE id = ?")
                .bind(now.timestamp_millis())
                .bind(outbox_id)
                .execute(&mut *tx)
                .await
                .context(|| format!("marking outbox row {outbox_id} done"))?;
        }
        tx.commit().await.context(|| "committing the fan-out")?;
        Ok(rows.len())
    }

    /// Pending deliveries due at `now`, of active subscriptions, oldest first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let rows: Vec<DueRow> = sqlx::query_as(
            "SELECT d.id, d.event_id, d.subscription_id, d.message_id, d.attempts, d.created_at, e.type, e.payload_json \
             FROM deliveries d JOIN events e ON e.id = d.event_id JOIN subscriptions s ON s.id = d.subscription_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND s.status = 'active' ORDER BY d.next_attempt_at, d.id LIMIT ?",
        )
        .bind(now.timestamp_millis())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context(|| "reading due deliveries")?;
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: r.0,
                event_id: r.1,
                subscription_id: r.2,
                message_id: r.3,
                attempts: r.4 as u32,
                created_at: ms_to_time(r.5),
                event_type: r.6,
                payload_json: r.7,
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
        sqlx::query("INSERT INTO delivery_attempts (delivery_id, at, status_code, duration_ms, error) VALUES (?, ?, ?, ?, ?)")
            .bind(delivery_id)
            .bind(now.timestamp_millis())
            .bind(attempt.status_code)
            .bind(attempt.duration_ms)
            .bind(&attempt.error)
            .execute(&mut *tx)
            .await
            .context(|| format!("logging an attempt of delivery {delivery_id}"))?;
        let (status, next, delivered) = match after {
            AfterAttempt::Succeeded => ("succeeded", now, Some(now.timestamp_millis())),
            AfterAttempt::RetryAt(at) => ("pending", at, None),
            AfterAttempt::Dead => ("dead", now, None),
        };
        sqlx::query("UPDATE deliveries SET attempts = attempts + 1, status = ?, next_attempt_at = ?, delivered_at = ? WHERE id = ?")
            .bind(status)
            .bind(next.timestamp_millis())
            .bind(delivered)
            .bind(delivery_id)
            .execute(&mut *tx)
            .await
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
        type LogRow = (
            i64,
            i64,
            String,
            String,
            String,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let rows: Vec<LogRow> = sqlx::query_as(
            "SELECT d.id, d.event_id, e.type, d.message_id, d.status, d.attempts, d.created_at, d.delivered_at, a.status_code, a.duration_ms, a.error \
             FROM deliveries d JOIN events e ON e.id = d.event_id \
             LEFT JOIN delivery_attempts a ON a.id = (SELECT max(id) FROM delivery_attempts WHERE delivery_id = d.id) \
             WHERE d.subscription_id = ? ORDER BY d.id DESC LIMIT ?",
        )
        .bind(subscription_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context(|| format!("reading the delivery log of {subscription_id}"))?;
        Ok(rows
            .into_iter()
            .map(|r| DeliveryLog {
                id: r.0,
                event_id: r.1,
                event_type: r.2,
                message_id: r.3,
                status: r.4,
                attempts: r.5 as u32,
                created_at: ms_to_time(r.6),
                delivered_at: r.7.map(ms_to_time),
                last_status_code: r.8.map(|c| c as u16),
                last_duration_ms: r.9.map(|d| d as u32),
                last_error: r.10,
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
        let done = sqlx::query("UPDATE deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ? AND subscription_id = ?")
            .bind(now.timestamp_millis())
            .bind(delivery_id)
            .bind(subscription_id)
            .execute(&self.pool)
            .await
            .context(|| format!("redelivering {delivery_id}"))?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;
    use crate::notify::subscription::{Filter, Format, Status};
    use crate::store::evaluations::{NewEvent, Round};
    use crate::store::subscriptions::NewSubscription;

    fn subscription(id: &str, kind: Kind, status: Status, at: DateTime<Utc>) -> NewSubscription {
        NewSubscription {
            id: id.into(),
            kind,
            format: Format::Native,
            url: (kind == Kind::Webhook).then(|| "https://example.com/hook".into()),
            email: (kind == Kind::Email).then(|| "me@example.com".into()),
            filter: Filter::default(),
            status,
            secret_enc: None,
            manage_token_hash: format!("manage-{id}"),
            confirm_token_hash: Some(format!("confirm-{id}")),
            client_addr: None,
            created_at: at,
        }
    }

    async fn event_at(store: &Store, at: DateTime<Utc>) {
        let round = Round {
            at: Some(at),
            events: vec![NewEvent {
                kind: "model.disabled",
                provider_id: "acme".into(),
                model_key: Some("acme/m-1".into()),
                public: true,
                payload: json!({"model": "acme/m-1"}),
            }],
            ..Round::default()
        };
        store.commit_round(&round).await.unwrap();
    }

    async fn queued_for(store: &Store, id: &str) -> usize {
        store.delivery_log(id, 100).await.unwrap().len()
    }

    /// Nothing that happened before an address was confirmed is ever sent to it, even when
    /// the outbox is worked through only after the click.
    #[tokio::test]
    async fn an_email_hears_only_what_happened_after_its_confirmation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.db")).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(10);
        store
            .insert_subscription(&subscription("sub_hook", Kind::Webhook, Status::Active, t0))
            .await
            .unwrap();
        store
            .insert_subscription(&subscription("sub_mail", Kind::Email, Status::Pending, t0))
            .await
            .unwrap();
        event_at(&store, t0 + Duration::minutes(1)).await;
        store
            .confirm_subscription("confirm-sub_mail", t0 + Duration::minutes(2))
            .await
            .unwrap()
            .unwrap();
        event_at(&store, t0 + Duration::minutes(3)).await;

        let active = store
            .subscriptions_with_status(Status::Active)
            .await
            .unwrap();
        assert_eq!(active.len(), 2);
        let fanned = store.fan_out(Utc::now(), 100).await.unwrap();
        assert_eq!(fanned, 2, "both outbox rows worked through");
        assert_eq!(
            queued_for(&store, "sub_hook").await,
            2,
            "the webhook hears both"
        );
        assert_eq!(
            queued_for(&store, "sub_mail").await,
            1,
            "the address hears only the event after its confirmation"
        );
    }

    /// People get one message per change; programs get every event.
    #[tokio::test]
    async fn a_state_change_with_a_disable_is_one_message_for_people() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.db")).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(10);
        let mut native = subscription("sub_native", Kind::Webhook, Status::Active, t0);
        native.format = Format::Native;
        let mut slack = subscription("sub_slack", Kind::Webhook, Status::Active, t0);
        slack.format = Format::Slack;
        let mut mail = subscription("sub_mail", Kind::Email, Status::Active, t0);
        mail.format = Format::Email;
        let mut asked = subscription("sub_asked", Kind::Webhook, Status::Active, t0);
        asked.format = Format::Discord;
        asked.filter.events = vec!["model.state_changed".into()];
        for s in [&native, &slack, &mail, &asked] {
            store.insert_subscription(s).await.unwrap();
        }
        let event = |kind| NewEvent {
            kind,
            provider_id: "acme".into(),
            model_key: Some("acme/m-1".into()),
            public: true,
            payload: json!({"model": "acme/m-1"}),
        };
        // One round: the state change and the disable it caused; a later round: a state
        // change alone (partial to major outage, still disabled).
        for (at, kinds) in [
            (1, vec!["model.state_changed", "model.disabled"]),
            (2, vec!["model.state_changed"]),
        ] {
            let round = Round {
                at: Some(t0 + Duration::minutes(at)),
                events: kinds.into_iter().map(event).collect(),
                ..Round::default()
            };
            store.commit_round(&round).await.unwrap();
        }
        store.fan_out(Utc::now(), 100).await.unwrap();
        assert_eq!(
            queued_for(&store, "sub_native").await,
            3,
            "programs: every event"
        );
        assert_eq!(
            queued_for(&store, "sub_slack").await,
            2,
            "disable + lone change"
        );
        assert_eq!(
            queued_for(&store, "sub_mail").await,
            2,
            "disable + lone change"
        );
        assert_eq!(
            queued_for(&store, "sub_asked").await,
            2,
            "both state changes"
        );
    }
}
