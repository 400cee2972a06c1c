//! Maintenance windows: scheduled by an SRE (announced at once as `maintenance.scheduled`),
//! started and completed by the evaluator in its round's transaction ([`super::overrides::OpsWrite`]).

use chrono::{DateTime, Utc};

use super::events::{insert_event, NewEvent};
use super::ms_to_time;
use super::{ReadView, SqlxContext, Store, StoreError};
use crate::vocabulary::event::MaintenanceChange;
use crate::vocabulary::{EventBody, Window, WindowStatus};

/// A window to schedule.
#[derive(Debug, Clone)]
pub struct NewMaintenance {
    pub title: String,
    pub body: String,
    pub models: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
}

/// A stored window with its bookkeeping.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Maintenance {
    #[serde(flatten)]
    pub window: Window,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A `maintenance.*` event of window `w` (attributed to its first model's provider);
/// `variant` is the event type, e.g. `EventBody::MaintenanceStarted`.
pub fn event(variant: fn(MaintenanceChange) -> EventBody, w: &Window) -> NewEvent {
    let provider_id = w
        .models
        .first()
        .and_then(|m| m.split('/').next())
        .unwrap_or("")
        .to_string();
    NewEvent {
        provider_id,
        model_key: None,
        public: true,
        body: variant(MaintenanceChange::of(w)),
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    title: String,
    body: String,
    models_json: String,
    starts_at: i64,
    ends_at: i64,
    status: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    completed_at: Option<i64>,
}

const COLUMNS: &str = "id, title, body, models_json, starts_at, ends_at, status, created_by, created_at, updated_at, started_at, completed_at FROM maintenances";

fn from_row(r: Row) -> Result<Maintenance, StoreError> {
    let corrupt = |problem: String| StoreError::Corrupt {
        table: "maintenances",
        row: r.id.to_string(),
        problem,
    };
    let models: Vec<String> =
        serde_json::from_str(&r.models_json).map_err(|e| corrupt(format!("models_json: {e}")))?;
    let status =
        WindowStatus::parse(&r.status).ok_or_else(|| corrupt(format!("status `{}`", r.status)))?;
    Ok(Maintenance {
        window: Window {
            id: r.id,
            title: r.title,
            body: r.body,
            models,
            starts_at: ms_to_time(r.starts_at),
            ends_at: ms_to_time(r.ends_at),
            status,
        },
        created_by: r.created_by,
        created_at: ms_to_time(r.created_at),
        updated_at: ms_to_time(r.updated_at),
        started_at: r.started_at.map(ms_to_time),
        completed_at: r.completed_at.map(ms_to_time),
    })
}

impl Store {
    /// Schedules a window and announces it (`maintenance.scheduled` with its outbox row) in
    /// the same transaction.
    pub async fn create_maintenance(
        &self,
        new: &NewMaintenance,
        now: DateTime<Utc>,
    ) -> Result<Window, StoreError> {
        let at = now.timestamp_millis();
        let models_json = serde_json::to_string(&new.models).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin_write("scheduling maintenance").await?;
        let id: i64 = crate::on_db!(&mut *tx, |db| sqlx::query_scalar(
            "INSERT INTO maintenances (title, body, models_json, starts_at, ends_at, created_by, created_at, updated_at, scheduled_announced) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1) RETURNING id",
        )
        .bind(&new.title)
        .bind(&new.body)
        .bind(&models_json)
        .bind(new.starts_at.timestamp_millis())
        .bind(new.ends_at.timestamp_millis())
        .bind(&new.created_by)
        .bind(at)
        .bind(at)
        .fetch_one(db).await)
        .context(|| "scheduling maintenance")?;
        let window = Window {
            id,
            title: new.title.clone(),
            body: new.body.clone(),
            models: new.models.clone(),
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            status: WindowStatus::Scheduled,
        };
        insert_event(
            &mut tx,
            &event(EventBody::MaintenanceScheduled, &window),
            None,
            at,
        )
        .await?;
        tx.commit()
            .await
            .context(|| "committing scheduled maintenance")?;
        Ok(window)
    }

    /// Windows still to start or in progress, earliest first.
    pub async fn open_maintenances(&self) -> Result<Vec<Window>, StoreError> {
        let rows: Vec<Row> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "SELECT {COLUMNS} WHERE status IN ('scheduled', 'in_progress') ORDER BY starts_at, id"
        ))
        .fetch_all(db)
        .await)
        .context(|| "reading open maintenance windows")?;
        rows.into_iter()
            .map(|r| from_row(r).map(|m| m.window))
            .collect()
    }

    /// The newest `limit` maintenance windows, latest start first.
    pub async fn list_maintenances(&self, limit: i64) -> Result<Vec<Maintenance>, StoreError> {
        self.read_view().await?.list_maintenances(limit).await
    }

    /// Cancels a window: one not yet started is cancelled outright (never announced as
    /// started) and subscribers, told when it was scheduled, are told it is off
    /// (`maintenance.cancelled` in the same transaction); one in progress ends now (the
    /// evaluator completes and announces it). Returns false when no open window has that id.
    pub async fn cancel_maintenance(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = now.timestamp_millis();
        let mut tx = self.begin_write("cancelling maintenance").await?;
        let row: Option<Row> = crate::on_db!(&mut *tx, |db| sqlx::query_as(&format!(
            "SELECT {COLUMNS} WHERE id = $1 AND status IN ('scheduled', 'in_progress')"
        ))
        .bind(id)
        .fetch_optional(db)
        .await)
        .context(|| format!("reading maintenance {id}"))?;
        let Some(row) = row else {
            return Ok(false);
        };
        let mut window = from_row(row)?.window;
        let done = crate::on_db!(&mut *tx, |db| sqlx::query(
            "UPDATE maintenances SET \
               status = CASE WHEN status = 'scheduled' AND starts_at > $1 THEN 'cancelled' ELSE status END, \
               ends_at = CASE WHEN status = 'scheduled' AND starts_at > $1 THEN ends_at WHEN ends_at < $1 THEN ends_at ELSE $1 END, \
               updated_at = $1 \
             WHERE id = $2 AND status IN ('scheduled', 'in_progress')",
        )
        .bind(at)
        .bind(id)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| format!("cancelling maintenance {id}"))?;
        if window.status == WindowStatus::Scheduled && window.starts_at > now {
            window.status = WindowStatus::Cancelled;
            insert_event(
                &mut tx,
                &event(EventBody::MaintenanceCancelled, &window),
                None,
                at,
            )
            .await?;
        }
        tx.commit()
            .await
            .context(|| "committing a cancelled maintenance")?;
        Ok(done.rows_affected() > 0)
    }
}

impl ReadView {
    /// The newest windows (cancelled ones included), newest start first.
    pub async fn list_maintenances(&mut self, limit: i64) -> Result<Vec<Maintenance>, StoreError> {
        let rows: Vec<Row> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(&format!(
            "SELECT {COLUMNS} ORDER BY starts_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(db)
        .await)
        .context(|| "listing maintenance windows")?;
        rows.into_iter().map(from_row).collect()
    }
}
