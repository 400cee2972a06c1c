//! Announced events and their outbox rows. An event is written with its outbox row in the
//! transaction of what caused it (a round, an SRE's change), so nothing committed is ever
//! left unannounced: the transactional outbox.

use chrono::{DateTime, Utc};

use super::{ms_to_time, SqlxContext, Store, StoreError};
use crate::vocabulary::{Event, EventBody};

/// An event to announce. `public` is false for what only SREs see.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub provider_id: String,
    pub model_key: Option<String>,
    pub public: bool,
    pub body: EventBody,
}

impl NewEvent {
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}

/// A stored event, as read back.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub occurred_at: i64,
    pub provider_id: Option<String>,
    pub model_key: Option<String>,
    pub incident_id: Option<i64>,
    pub public: bool,
    /// The [`Event`] as JSON.
    pub payload_json: String,
}

impl EventRow {
    /// The typed event; an error names what in the stored body could not be read.
    pub fn event(&self) -> Result<Event, serde_json::Error> {
        Event::parse(&self.payload_json)
    }

    pub fn occurred(&self) -> DateTime<Utc> {
        ms_to_time(self.occurred_at)
    }
}

impl Store {
    /// Events in id order, optionally only those after `after_id`.
    pub async fn events_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query_as(
            "SELECT id, type, occurred_at, provider_id, model_key, incident_id, public, payload_json FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(db).await)
        .context(|| "reading events")
    }

    /// Outbox rows not yet delivered.
    pub async fn outbox_pending(&self) -> Result<i64, StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE done_at IS NULL"
        )
        .fetch_one(db)
        .await)
        .context(|| "counting pending outbox rows")
    }
}

/// Writes event `e` (stamped `at`, today's version) and its outbox row in `tx`.
pub(crate) async fn insert_event(
    tx: &mut super::Tx,
    e: &NewEvent,
    incident_id: Option<i64>,
    at: i64,
) -> Result<(), StoreError> {
    let event = Event::new(ms_to_time(at), e.public, e.body.clone());
    let kind = event.kind();
    let id: i64 = crate::on_db!(&mut **tx, |db| sqlx::query_scalar(
        "INSERT INTO events (type, occurred_at, provider_id, model_key, incident_id, public, payload_json) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(kind)
    .bind(at)
    .bind(&e.provider_id)
    .bind(&e.model_key)
    .bind(incident_id)
    .bind(e.public)
    .bind(event.to_json())
    .fetch_one(db).await)
    .context(|| format!("recording event {kind}"))?;
    crate::on_db!(&mut **tx, |db| sqlx::query(
        "INSERT INTO outbox (event_id, created_at) VALUES ($1, $2)"
    )
    .bind(id)
    .bind(at)
    .execute(db)
    .await
    .map(crate::store::Done::from))
    .context(|| format!("queueing event {kind} for delivery"))?;
    Ok(())
}
