//! Agents and the batches they push: stored once each, whatever the retries.
//!
//! [`Store::accept_agent_batch`] records the batch id, the agent and its results in one
//! transaction, so a batch is either wholly stored and acknowledged or not at all, and a
//! batch sent again (its answer was lost) is acknowledged without a second copy.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::results::insert_rows;
use super::{ms_to_time, ReadView, SqlxContext, Store, StoreError};
use crate::probe::ProbeResult;

/// How long batch ids are remembered for de-duplication.
pub const BATCH_MEMORY: chrono::Duration = chrono::Duration::days(7);

/// What became of a pushed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchReceipt {
    /// Stored now, with this many results.
    Stored(usize),
    /// Stored before (a retry): nothing written again.
    Duplicate,
}

/// One agent as the central service knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    pub name: String,
    pub region: String,
    pub version: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub batches: i64,
    pub results: i64,
}

/// Who pushed a batch, as its token and body say.
pub struct BatchFrom<'a> {
    pub agent: &'a str,
    pub region: &'a str,
    pub version: Option<&'a str>,
    pub batch_id: &'a str,
}

impl Store {
    /// Stores a batch of `results` from an agent, once: the batch id, the agent's row and
    /// the results in one transaction.
    pub async fn accept_agent_batch(
        &self,
        from: &BatchFrom<'_>,
        results: &[ProbeResult],
        now: DateTime<Utc>,
    ) -> Result<BatchReceipt, StoreError> {
        let what = || format!("storing batch {} from agent {}", from.batch_id, from.agent);
        let at = now.timestamp_millis();
        let mut tx = self.begin_write(&what()).await?;
        let fresh = crate::on_db!(&mut *tx, |db| sqlx::query(
            "INSERT INTO agent_batches (batch_id, agent, received_at, results) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (batch_id) DO NOTHING",
        )
        .bind(from.batch_id)
        .bind(from.agent)
        .bind(at)
        .bind(results.len() as i64)
        .execute(db).await.map(crate::store::Done::from))
        .context(what)?
        .rows_affected()
            == 1;
        let (batches, stored) = if fresh {
            (1, results.len() as i64)
        } else {
            (0, 0)
        };
        // Seen either way: a retried batch still says the agent is alive.
        crate::on_db!(&mut *tx, |db| sqlx::query(
            "INSERT INTO agents (name, region, version, first_seen_at, last_seen_at, batches, results) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (name) DO UPDATE SET region = excluded.region, version = excluded.version, \
             last_seen_at = CASE WHEN excluded.last_seen_at > agents.last_seen_at \
             THEN excluded.last_seen_at ELSE agents.last_seen_at END, \
             batches = agents.batches + excluded.batches, results = agents.results + excluded.results",
        )
        .bind(from.agent)
        .bind(from.region)
        .bind(from.version)
        .bind(at)
        .bind(at)
        .bind(batches)
        .bind(stored)
        .execute(db).await.map(crate::store::Done::from))
        .context(what)?;
        if fresh {
            insert_rows(&mut tx, results, Some(from.agent))
                .await
                .context(what)?;
        }
        tx.commit().await.context(what)?;
        Ok(if fresh {
            BatchReceipt::Stored(results.len())
        } else {
            BatchReceipt::Duplicate
        })
    }

    /// Forgets batch ids older than [`BATCH_MEMORY`]; returns how many.
    pub async fn forget_agent_batches(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query(
            "DELETE FROM agent_batches WHERE received_at < $1"
        )
        .bind((now - BATCH_MEMORY).timestamp_millis())
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| "forgetting old agent batch ids")
        .map(|r| r.rows_affected())
    }

    /// Every agent that ever reported, by name.
    pub async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let mut conn = self.begin_read("reading agents").await?;
        read_agents(&mut conn).await
    }
}

impl ReadView {
    /// Every agent that ever reported, by name.
    pub async fn agents(&mut self) -> Result<Vec<AgentRow>, StoreError> {
        read_agents(&mut self.tx).await
    }
}

type Row = (String, String, Option<String>, i64, i64, i64, i64);

async fn read_agents(conn: &mut super::Tx) -> Result<Vec<AgentRow>, StoreError> {
    let rows: Vec<Row> = crate::on_db!(conn, |db| sqlx::query_as(
        "SELECT name, region, version, first_seen_at, last_seen_at, batches, results \
         FROM agents ORDER BY name",
    )
    .fetch_all(db)
    .await)
    .context(|| "reading agents")?;
    Ok(rows
        .into_iter()
        .map(
            |(name, region, version, first, last, batches, results)| AgentRow {
                name,
                region,
                version,
                first_seen_at: ms_to_time(first),
                last_seen_at: ms_to_time(last),
                batches,
                results,
            },
        )
        .collect())
}
