//! Raw probe results: batched inserts and per-model reads.
//!
//! Inserts are multi-row `INSERT`s inside one transaction per call, so a batch of a few
//! hundred results costs one commit. Reads convert stored integers back into domain types
//! and report rows they cannot convert as [`StoreError::Corrupt`] instead of panicking.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{ReadView, SqlxContext, Store, StoreError};
use crate::probe::{ProbeResult, Trigger};
use crate::vocabulary::Outcome;

/// One stored probe as the evaluator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    pub ttft_ms: Option<u32>,
    pub total_ms: u32,
    /// Why the probe was sent: on schedule, or extra (to confirm doubt, or to see recovery).
    pub trigger: Trigger,
}

/// Rows per multi-row `INSERT`: 11 parameters each stays far below the 32766 parameters the
/// bundled SQLite allows (sqlx's `sqlite` feature links its own, recent SQLite).
const ROWS_PER_INSERT: usize = 500;

/// One raw result as read back from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResult {
    pub model_key: String,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub headers_ms: Option<u32>,
    pub ttft_ms: Option<u32>,
    pub total_ms: u32,
    pub request_id: Option<String>,
    pub error: Option<String>,
}

/// The row as SQLite types; converted by [`ResultRow::into_stored`].
#[derive(sqlx::FromRow)]
struct ResultRow {
    id: i64,
    model_key: String,
    started_at: i64,
    outcome: String,
    http_status: Option<i64>,
    headers_ms: Option<i64>,
    ttft_ms: Option<i64>,
    total_ms: i64,
    request_id: Option<String>,
    error: Option<String>,
}

const SELECT_COLUMNS: &str = "SELECT id, model_key, started_at, outcome, http_status, \
     headers_ms, ttft_ms, total_ms, request_id, error FROM probe_results";

impl ResultRow {
    fn into_stored(self) -> Result<StoredResult, StoreError> {
        let id = self.id;
        let corrupt = |problem: String| StoreError::Corrupt {
            table: "probe_results",
            row: format!("id {id}"),
            problem,
        };
        let ms = |name: &str, v: i64| {
            u32::try_from(v).map_err(|_| corrupt(format!("{name} {v} is out of range")))
        };
        let opt_ms = |name: &str, v: Option<i64>| v.map(|v| ms(name, v)).transpose();
        Ok(StoredResult {
            started_at: timestamp(self.started_at).ok_or_else(|| {
                corrupt(format!("started_at {} is out of range", self.started_at))
            })?,
            outcome: self.outcome.parse().map_err(|e| corrupt(format!("{e}")))?,
            http_status: self
                .http_status
                .map(|s| {
                    u16::try_from(s)
                        .map_err(|_| corrupt(format!("http_status {s} is out of range")))
                })
                .transpose()?,
            headers_ms: opt_ms("headers_ms", self.headers_ms)?,
            ttft_ms: opt_ms("ttft_ms", self.ttft_ms)?,
            total_ms: ms("total_ms", self.total_ms)?,
            model_key: self.model_key,
            request_id: self.request_id,
            error: self.error,
        })
    }
}

/// The columns the evaluator reads of a result.
#[derive(sqlx::FromRow)]
struct SampleRow {
    id: i64,
    model_key: String,
    started_at: i64,
    outcome: String,
    ttft_ms: Option<i64>,
    total_ms: i64,
    trigger: String,
    vantage: Option<String>,
    region: Option<String>,
}

/// Where a result was probed from: an agent's name and region (`None`: this server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vantage {
    pub agent: String,
    pub region: String,
}

/// A stored result as the evaluator reads it: whose, from where, and the sample.
#[derive(Debug, Clone)]
pub struct KeyedSample {
    pub model_key: String,
    pub vantage: Option<Vantage>,
    pub sample: Sample,
}

/// The columns [`SampleRow`] reads; `a` is the agent that sent the row, if any.
const SAMPLE_COLUMNS: &str = "p.id, p.model_key, p.started_at, p.outcome, p.ttft_ms, \
     p.total_ms, p.trigger, p.vantage, a.region \
     FROM probe_results p LEFT JOIN agents a ON a.name = p.vantage";

impl SampleRow {
    fn into_sample(self) -> Option<KeyedSample> {
        let parsed = (|| {
            Some(Sample {
                at: timestamp(self.started_at)?,
                outcome: self.outcome.parse().ok()?,
                ttft_ms: self.ttft_ms.and_then(|v| u32::try_from(v).ok()),
                total_ms: u32::try_from(self.total_ms).ok()?,
                trigger: Trigger::parse(&self.trigger),
            })
        })();
        match parsed {
            Some(sample) => Some(KeyedSample {
                model_key: self.model_key,
                vantage: self.vantage.map(|agent| Vantage {
                    // An agent's row is written before its first result (same transaction).
                    region: self.region.unwrap_or_default(),
                    agent,
                }),
                sample,
            }),
            None => {
                tracing::warn!(
                    row = self.id,
                    model = %self.model_key,
                    "a stored probe result cannot be read (time, outcome or duration out of range); the evaluator passes over it"
                );
                None
            }
        }
    }
}

/// A stored unix-millisecond time as a `DateTime`, if representable.
pub(crate) fn timestamp(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

impl Store {
    /// Writes `results` in one transaction: all of them or none.
    pub async fn insert_results(&self, results: &[ProbeResult]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let what = || format!("inserting {} probe results", results.len());
        let mut tx = self.begin_write(&what()).await?;
        insert_rows(&mut tx, results, None).await.context(what)?;
        tx.commit().await.context(what)
    }

    /// Results of `model_key` that started at or after `since`, oldest first.
    pub async fn results_since(
        &self,
        model_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredResult>, StoreError> {
        self.read_view()
            .await?
            .results_between(model_key, since, DateTime::<Utc>::MAX_UTC)
            .await
    }

    /// A model's newest `limit` results, newest first.
    pub async fn latest_results(
        &self,
        model_key: &str,
        limit: u32,
    ) -> Result<Vec<StoredResult>, StoreError> {
        self.read_view()
            .await?
            .latest_results(model_key, limit)
            .await
    }

    /// Results stored after row `after_id`, in the order they were written, at most `limit`:
    /// what the evaluator has not judged yet. Rows it cannot read are logged and passed over
    /// (returned ids still move past them), so one bad row never stalls evaluation.
    pub async fn samples_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<(Vec<KeyedSample>, i64), StoreError> {
        let rows: Vec<SampleRow> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "SELECT {SAMPLE_COLUMNS} WHERE p.id > $1 ORDER BY p.id LIMIT $2"
        ))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(db)
        .await)
        .context(|| format!("reading results after row {after_id}"))?;
        let last = rows.last().map_or(after_id, |r| r.id);
        Ok((
            rows.into_iter()
                .filter_map(SampleRow::into_sample)
                .collect(),
            last,
        ))
    }

    /// Every model's results that started at or after `since`, oldest first, and the id of
    /// the newest row stored: the evaluator rebuilds its statistics from them at start and
    /// then follows on from that id.
    pub async fn samples_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<(Vec<KeyedSample>, i64), StoreError> {
        // The newest id first, and rows up to it only: a result written meanwhile is left
        // for the first `samples_after`, not skipped.
        let last: i64 = crate::on_db!(&self.pool, |db| sqlx::query_scalar::<_, Option<i64>>(
            "SELECT max(id) FROM probe_results"
        )
        .fetch_one(db)
        .await)
        .context(|| "reading the newest result id")?
        .unwrap_or(0);
        let rows: Vec<SampleRow> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "SELECT {SAMPLE_COLUMNS} WHERE p.started_at >= $1 AND p.id <= $2 \
             ORDER BY p.started_at, p.id"
        ))
        .bind(since.timestamp_millis())
        .bind(last)
        .fetch_all(db)
        .await)
        .context(|| format!("reading every model's results since {since}"))?;
        Ok((
            rows.into_iter()
                .filter_map(SampleRow::into_sample)
                .collect(),
            last,
        ))
    }

    /// How many raw results are stored, all models together.
    pub async fn count_results(&self) -> Result<i64, StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query_scalar(
            "SELECT COUNT(*) FROM probe_results"
        )
        .fetch_one(db)
        .await)
        .context(|| "counting probe results")
    }
}

impl ReadView {
    /// The highest probe result id (0 without results).
    pub async fn last_result_id(&mut self) -> Result<i64, StoreError> {
        let id: Option<i64> = crate::on_db!(&mut *self.tx, |db| sqlx::query_scalar(
            "SELECT MAX(id) FROM probe_results"
        )
        .fetch_one(db)
        .await)
        .context(|| "reading the last probe result id")?;
        Ok(id.unwrap_or(0))
    }

    /// Every result stored after row `after`, in row order (the writer's commit order), as
    /// `(id, model_key, started_at, outcome, ttft_ms)`; rows that cannot be read are passed
    /// over, as the evaluator does.
    pub async fn results_after(
        &mut self,
        after: i64,
    ) -> Result<Vec<(i64, String, DateTime<Utc>, Outcome, Option<u32>)>, StoreError> {
        let rows: Vec<(i64, String, i64, String, Option<i64>)> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(
            "SELECT id, model_key, started_at, outcome, ttft_ms FROM probe_results WHERE id > $1 ORDER BY id",
        )
        .bind(after)
        .fetch_all(db).await)
        .context(|| "reading the results stored since the last read")?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, model, at, outcome, ttft)| {
                Some((
                    id,
                    model,
                    timestamp(at)?,
                    outcome.parse().ok()?,
                    ttft.and_then(|v| u32::try_from(v).ok()),
                ))
            })
            .collect())
    }

    /// Results of `model_key` that started in `[from, to)`, oldest first, in this view.
    pub async fn results_between(
        &mut self,
        model_key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let sql = format!(
            "{SELECT_COLUMNS} WHERE model_key = $1 AND started_at >= $2 AND started_at < $3 \
             ORDER BY started_at ASC, id ASC"
        );
        let rows: Vec<ResultRow> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(&sql)
            .bind(model_key)
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .fetch_all(db)
            .await)
        .context(|| format!("reading the recent results of {model_key}"))?;
        rows.into_iter().map(ResultRow::into_stored).collect()
    }

    /// The `limit` most recent results of `model_key`, newest first.
    pub async fn latest_results(
        &mut self,
        model_key: &str,
        limit: u32,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let sql = format!(
            "{SELECT_COLUMNS} WHERE model_key = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<ResultRow> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(&sql)
            .bind(model_key)
            .bind(i64::from(limit))
            .fetch_all(db)
            .await)
        .context(|| format!("reading the latest {limit} results of {model_key}"))?;
        rows.into_iter().map(ResultRow::into_stored).collect()
    }
}

/// Inserts `results` probed from `vantage` (an agent's name; `None`: this server) within
/// the caller's transaction.
pub(crate) async fn insert_rows(
    tx: &mut super::Tx,
    results: &[ProbeResult],
    vantage: Option<&str>,
) -> Result<(), sqlx::Error> {
    let keys: Vec<String> = results.iter().map(ProbeResult::model_key).collect();
    for (chunk, keys) in results
        .chunks(ROWS_PER_INSERT)
        .zip(keys.chunks(ROWS_PER_INSERT))
    {
        crate::on_db!(&mut *tx, |db| {
            let mut insert = QueryBuilder::new(
                "INSERT INTO probe_results (model_key, started_at, outcome, http_status, \
             headers_ms, ttft_ms, total_ms, request_id, error, trigger, vantage) ",
            );
            insert.push_values(chunk.iter().zip(keys), |mut row, (r, key)| {
                let rep = &r.report;
                row.push_bind(key.as_str())
                    .push_bind(r.started_at.timestamp_millis())
                    .push_bind(rep.outcome.as_str())
                    .push_bind(rep.http_status.map(i64::from))
                    .push_bind(rep.headers_ms.map(i64::from))
                    .push_bind(rep.ttft_ms.map(i64::from))
                    .push_bind(i64::from(rep.total_ms))
                    .push_bind(rep.request_id.as_deref())
                    .push_bind(rep.error.as_deref())
                    .push_bind(r.trigger.as_str())
                    .push_bind(vantage);
            });
            insert.build().execute(db).await.map(super::Done::from)
        })?;
    }
    Ok(())
}
