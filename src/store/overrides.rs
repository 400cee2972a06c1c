//! Routing overrides: an SRE forces a model enabled or disabled until an expiry. The
//! evaluator reads the active ones each round and ends expired ones in the round's
//! transaction ([`OpsWrite`]), together with the events the change of decision causes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ms_to_time;
use super::{ReadView, SqlxContext, Store, StoreError};
use crate::vocabulary::ActiveOverride;

/// An override to create.
#[derive(Debug, Clone)]
pub struct NewOverride {
    pub model_key: String,
    pub enabled: bool,
    pub reason: String,
    pub created_by: String,
    pub expires_at: DateTime<Utc>,
}

/// An override as listed (active or ended).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverrideRow {
    pub id: i64,
    pub model: String,
    pub enabled: bool,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub active: bool,
}

/// What an evaluation round changes besides states and events, written in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpsWrite {
    /// The override expired at the round's time.
    EndOverride { id: i64 },
    /// The maintenance window started (`maintenance.started` is among the round's events).
    WindowStarted { id: i64 },
    /// The maintenance window completed (`maintenance.completed` is among the round's events).
    WindowCompleted { id: i64 },
}

pub(crate) async fn apply_ops(
    tx: &mut super::Tx,
    ops: &[OpsWrite],
    at: i64,
) -> Result<(), StoreError> {
    for op in ops {
        let (sql, id, what) = match op {
            OpsWrite::EndOverride { id } => (
                "UPDATE overrides SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
                id,
                "ending an expired override",
            ),
            OpsWrite::WindowStarted { id } => (
                "UPDATE maintenances SET status = 'in_progress', started_announced = 1, started_at = $1, updated_at = $1 WHERE id = $2 AND status = 'scheduled'",
                id,
                "starting a maintenance window",
            ),
            OpsWrite::WindowCompleted { id } => (
                "UPDATE maintenances SET status = 'completed', completed_announced = 1, completed_at = $1, updated_at = $1 WHERE id = $2 AND status IN ('scheduled', 'in_progress')",
                id,
                "completing a maintenance window",
            ),
        };
        crate::on_db!(&mut **tx, |db| sqlx::query(sql)
            .bind(at)
            .bind(id)
            .execute(db)
            .await
            .map(crate::store::Done::from))
        .context(|| format!("{what} ({id})"))?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    model_key: String,
    enabled: bool,
    reason: String,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    ended_at: Option<i64>,
}

fn active(r: Row) -> ActiveOverride {
    ActiveOverride {
        id: r.id,
        model_key: r.model_key,
        enabled: r.enabled,
        reason: r.reason,
        created_by: r.created_by,
        created_at: ms_to_time(r.created_at),
        expires_at: ms_to_time(r.expires_at),
    }
}

/// Overrides not yet ended, in a read view's transaction.
async fn active_overrides(db: &mut super::TxOf) -> Result<Vec<ActiveOverride>, StoreError> {
    let sql = format!("SELECT {COLUMNS} WHERE ended_at IS NULL ORDER BY id");
    let rows: Vec<Row> = crate::on_db!(db, |db| sqlx::query_as(&sql).fetch_all(db).await)
        .context(|| "reading active overrides")?;
    Ok(rows.into_iter().map(active).collect())
}

impl ReadView {
    /// [`Store::active_overrides`], as of this view (the public snapshot reads them with the
    /// model states, so an override and the decision beside it are of one instant).
    pub async fn active_overrides(&mut self) -> Result<Vec<ActiveOverride>, StoreError> {
        active_overrides(&mut self.tx).await
    }
}

const COLUMNS: &str =
    "id, model_key, enabled, reason, created_by, created_at, expires_at, ended_at FROM overrides";

impl Store {
    /// Creates an override; an active override of the same model is ended by it.
    pub async fn create_override(
        &self,
        new: &NewOverride,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = now.timestamp_millis();
        let mut tx = self.begin_write("creating an override").await?;
        crate::on_db!(&mut *tx, |db| sqlx::query(
            "UPDATE overrides SET ended_at = $1 WHERE model_key = $2 AND ended_at IS NULL"
        )
        .bind(at)
        .bind(&new.model_key)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| format!("replacing the override of {}", new.model_key))?;
        let id: i64 = crate::on_db!(&mut *tx, |db| sqlx::query_scalar(
            "INSERT INTO overrides (model_key, enabled, reason, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.model_key)
        .bind(new.enabled)
        .bind(&new.reason)
        .bind(&new.created_by)
        .bind(at)
        .bind(new.expires_at.timestamp_millis())
        .fetch_one(db).await)
        .context(|| format!("creating an override of {}", new.model_key))?;
        tx.commit().await.context(|| "committing an override")?;
        Ok(id)
    }

    /// Overrides not yet ended (expired ones included: the evaluator ends those).
    pub async fn active_overrides(&self) -> Result<Vec<ActiveOverride>, StoreError> {
        self.read_view().await?.active_overrides().await
    }

    /// The newest overrides, active or not.
    pub async fn list_overrides(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<OverrideRow>, StoreError> {
        let rows: Vec<Row> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "SELECT {COLUMNS} ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(db)
        .await)
        .context(|| "listing overrides")?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let ended_at = r.ended_at.map(ms_to_time);
                let o = active(r);
                OverrideRow {
                    active: ended_at.is_none() && !o.expired(now),
                    id: o.id,
                    model: o.model_key,
                    enabled: o.enabled,
                    reason: o.reason,
                    created_by: o.created_by,
                    created_at: o.created_at,
                    expires_at: o.expires_at,
                    ended_at,
                }
            })
            .collect())
    }

    /// Ends an active override now; false when there is no such active override.
    pub async fn end_override(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = crate::on_db!(&self.pool, |db| sqlx::query(
            "UPDATE overrides SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL"
        )
        .bind(now.timestamp_millis())
        .bind(id)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| format!("ending override {id}"))?;
        Ok(done.rows_affected() > 0)
    }
}
