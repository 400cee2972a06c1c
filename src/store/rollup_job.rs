//! Computing rollups of completed buckets from raw results, driven by watermarks.
//!
//! Each granularity has a watermark: the start of its first bucket not yet rolled up.
//! A run rolls up, per granularity, the buckets in `[watermark, floor(now))` (the first run
//! starts at the bucket of the oldest raw result). Buckets ending after `now` are left for a
//! later run, so each row is written once with its final values — but writes are
//! an upsert that replaces every column, so recomputing a bucket is harmless.
//!
//! **Bounded work:** raw results are streamed one hour of time at a time, and each hour is
//! read *once* for all three granularities (a day of 100 models probed every 30 s is
//! 288k rows; reading it three times would triple the cost). Minute and hour buckets are
//! written as soon as the hour is read; day buckets keep only their latency samples until
//! the day ends. Each hour's rows and watermarks are committed in one transaction, so an
//! interrupted run resumes where it stopped and never double-counts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::QueryBuilder;

use super::rollups::{
    count_columns, outcome_index, percentile, Granularity, Rollup, PERCENTILE_COLUMNS,
};
use super::{SqlxContext, Store, StoreError};
use crate::vocabulary::Outcome;

/// What one granularity still has to roll up in this run.
struct Plan {
    granularity: Granularity,
    /// Watermark: buckets before it are written.
    done: i64,
    /// End of the last completed bucket: floor(now).
    to: i64,
    /// Buckets being filled, by start (so completed ones split off) then model.
    open: BTreeMap<i64, HashMap<String, Accumulator>>,
}

impl Plan {
    fn wants(&self, started_at: i64) -> bool {
        self.done <= started_at && started_at < self.to
    }
}

type RawRow = (i64, String, i64, String, Option<i64>, i64);

impl Store {
    /// Rolls up every bucket that ended at or before `now` and is not rolled up yet.
    /// Returns how many rollup rows were written.
    ///
    /// Results are stored when a probe *ends*, stamped with its *start*: callers should pass
    /// a `now` that lags real time by more than the longest probe (see
    /// [`super::writer::ROLLUP_SETTLE`]) so late results land before their bucket is closed.
    pub async fn compute_rollups(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let now_ms = now.timestamp_millis();
        let oldest: Option<i64> = crate::on_db!(&self.pool, |db| sqlx::query_scalar(
            "SELECT MIN(started_at) FROM probe_results"
        )
        .fetch_one(db)
        .await)
        .context(|| "finding the oldest probe result")?;
        let mut plans = Vec::new();
        for g in Granularity::ALL {
            let from = match (self.watermark_ms(g).await?, oldest) {
                (Some(w), _) => w,
                (None, Some(o)) => g.floor_ms(o),
                (None, None) => continue,
            };
            let to = g.floor_ms(now_ms);
            if from < to {
                plans.push(Plan {
                    granularity: g,
                    done: from,
                    to,
                    open: BTreeMap::new(),
                });
            }
        }
        let (Some(start), Some(end)) = (
            plans.iter().map(|p| p.done).min(),
            plans.iter().map(|p| p.to).max(),
        ) else {
            return Ok(0);
        };

        let hour = Granularity::Hour;
        let mut written = 0;
        let mut chunk_start = start;
        while chunk_start < end {
            let chunk_end = (hour.floor_ms(chunk_start) + hour.millis()).min(end);
            let seen = self.accumulate(chunk_start, chunk_end, &mut plans).await?;
            written += self.flush(&mut plans, chunk_end).await?;
            chunk_start = chunk_end;
            if seen == 0 && plans.iter().all(|p| p.open.is_empty()) {
                // Nothing pending: skip a gap in the data (e.g. days without probes) in one step.
                chunk_start = match self.next_result_at(chunk_end).await? {
                    Some(next) => hour.floor_ms(next).clamp(chunk_end, end),
                    None => end,
                };
            }
        }
        // Advances watermarks over a trailing stretch without data.
        written += self.flush(&mut plans, end).await?;
        Ok(written)
    }

    /// Feeds raw results started in `[from, to)` to every plan that wants them; returns how
    /// many rows were read.
    async fn accumulate(
        &self,
        from: i64,
        to: i64,
        plans: &mut [Plan],
    ) -> Result<usize, StoreError> {
        let context = || format!("reading probe results from {from} to {to} for rollups");
        let sql =
            "SELECT id, model_key, started_at, outcome, ttft_ms, total_ms FROM probe_results \
             WHERE started_at >= $1 AND started_at < $2";
        let mut seen = 0;
        crate::on_db!(&self.pool, |db| {
            let mut rows = sqlx::query_as::<_, RawRow>(sql)
                .bind(from)
                .bind(to)
                .fetch(db);
            while let Some(row) = rows.try_next().await.context(context)? {
                seen += 1;
                add_row(plans, row)?;
            }
        });
        Ok(seen)
    }
}

/// Feeds one raw result to every plan that wants it.
fn add_row(plans: &mut [Plan], row: RawRow) -> Result<(), StoreError> {
    let (id, model_key, started_at, outcome, ttft_ms, total_ms) = row;
    let corrupt = |problem: String| StoreError::Corrupt {
        table: "probe_results",
        row: format!("id {id}"),
        problem,
    };
    let outcome: Outcome = outcome.parse().map_err(|e| corrupt(format!("{e}")))?;
    // Negative or huge latencies cannot come from a probe; clamp rather than fail the
    // whole rollup (the raw row stays for inspection).
    let ttft_ms = ttft_ms.map(|t| u32::try_from(t.max(0)).unwrap_or(u32::MAX));
    let total_ms = u32::try_from(total_ms.max(0)).unwrap_or(u32::MAX);
    for plan in plans.iter_mut().filter(|p| p.wants(started_at)) {
        let bucket = plan.granularity.floor_ms(started_at);
        let models = plan.open.entry(bucket).or_default();
        // Look up by `&str` first: allocating a key for every row is measurable.
        let samples = match models.get_mut(model_key.as_str()) {
            Some(samples) => samples,
            None => models.entry(model_key.clone()).or_default(),
        };
        samples.add(outcome, ttft_ms, total_ms);
    }
    Ok(())
}

impl Store {
    /// Writes every bucket that is complete once raw results before `upto` are read, and
    /// advances the watermarks, in one transaction. Returns the rows written.
    async fn flush(&self, plans: &mut [Plan], upto: i64) -> Result<usize, StoreError> {
        let mut rows = Vec::new();
        let mut marks = Vec::new();
        for plan in plans.iter_mut() {
            let done = plan.granularity.floor_ms(upto.min(plan.to));
            if done <= plan.done {
                continue;
            }
            let still_open = plan.open.split_off(&done);
            let complete = std::mem::replace(&mut plan.open, still_open);
            for (bucket_start_ms, models) in complete {
                rows.extend(models.into_iter().map(|(model_key, samples)| Completed {
                    model_key,
                    granularity: plan.granularity,
                    bucket_start_ms,
                    samples,
                }));
            }
            plan.done = done;
            marks.push((plan.granularity, done));
        }
        if marks.is_empty() {
            return Ok(0);
        }
        // Primary-key order: neighbouring rows land on the same B-tree pages.
        rows.sort_unstable_by(|a, b| {
            (&a.model_key, a.bucket_start_ms).cmp(&(&b.model_key, b.bucket_start_ms))
        });
        let count = rows.len();
        let mut tx = self.begin_write("rollups").await?;
        write_rollups(&mut tx, rows).await?;
        for (granularity, done) in marks {
            set_watermark(&mut tx, granularity, done).await?;
        }
        tx.commit().await.context(|| "committing rollups")?;
        Ok(count)
    }

    /// The start time of the first raw result at or after `at`.
    async fn next_result_at(&self, at: i64) -> Result<Option<i64>, StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query_scalar(
            "SELECT MIN(started_at) FROM probe_results WHERE started_at >= $1"
        )
        .bind(at)
        .fetch_one(db)
        .await)
        .context(|| "finding the next probe result to roll up")
    }
}

/// The samples of one (model, bucket) while it is being filled.
#[derive(Debug, Default)]
struct Accumulator {
    counts: [u32; 11],
    ttft: Vec<u32>,
    total: Vec<u32>,
}

impl Accumulator {
    fn add(&mut self, outcome: Outcome, ttft_ms: Option<u32>, total_ms: u32) {
        self.counts[outcome_index(outcome)] += 1;
        if let (Outcome::Ok, Some(t)) = (outcome, ttft_ms) {
            self.ttft.push(t);
        }
        self.total.push(total_ms);
    }

    /// The row values: probes, counts per class, TTFT and total p50/p95/p99.
    fn finish(mut self) -> (u32, [u32; 11], Percentiles, Percentiles) {
        self.ttft.sort_unstable();
        self.total.sort_unstable();
        let pcts = |sorted: &[u32]| [50, 95, 99].map(|p| percentile(sorted, p));
        let (ttft, total) = (pcts(&self.ttft), pcts(&self.total));
        (self.counts.iter().sum(), self.counts, ttft, total)
    }
}

/// The minute rollups the rollup job will write for `results` (one model's, any order), as
/// the pages need them before it has: the minutes after the watermark, so a chart and the
/// outcome counts reach the probe the decision beside them was made from. The same
/// accumulation and percentiles as the job's, oldest minute first.
pub fn minute_rollups_of(model_key: &str, results: &[super::StoredResult]) -> Vec<Rollup> {
    let mut minutes: BTreeMap<DateTime<Utc>, Accumulator> = BTreeMap::new();
    for r in results {
        minutes
            .entry(Granularity::Minute.bucket_start(r.started_at))
            .or_default()
            .add(r.outcome, r.ttft_ms, r.total_ms);
    }
    minutes
        .into_iter()
        .map(|(start, samples)| {
            let (probes, by_outcome, ttft, total) = samples.finish();
            Rollup {
                model_key: model_key.to_string(),
                granularity: Granularity::Minute,
                bucket_start: start,
                probes,
                by_outcome,
                ttft_p50: ttft[0],
                ttft_p95: ttft[1],
                ttft_p99: ttft[2],
                total_p50: total[0],
                total_p95: total[1],
                total_p99: total[2],
            }
        })
        .collect()
}

/// p50, p95 and p99 of one latency; `None` without samples.
type Percentiles = [Option<u32>; 3];

/// A completed bucket ready to be written.
struct Completed {
    model_key: String,
    granularity: Granularity,
    bucket_start_ms: i64,
    samples: Accumulator,
}

/// Rows per multi-row `INSERT`: fewer, larger statements cut per-statement overhead. 21
/// parameters each stays far below the 32766 parameters the bundled SQLite allows.
const ROWS_PER_INSERT: usize = 400;

/// Writes (or rewrites: rollups are recomputed exactly, so replacing is idempotent) `rows`.
async fn write_rollups(conn: &mut super::Tx, rows: Vec<Completed>) -> Result<(), StoreError> {
    let head = format!(
        "INSERT INTO rollups \
         (model_key, granularity, bucket_start, probes, {}, {PERCENTILE_COLUMNS}) ",
        count_columns()
    );
    // Every column but the key is replaced (rollups are recomputed exactly).
    let replace = format!(
        " ON CONFLICT (model_key, granularity, bucket_start) DO UPDATE SET {}",
        format!("probes, {}, {PERCENTILE_COLUMNS}", count_columns())
            .split(", ")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Completed> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        crate::on_db!(&mut *conn, |db| {
            let mut insert = QueryBuilder::new(&head);
            insert.push_values(chunk, |mut b, c| {
                let (probes, counts, ttft, total) = c.samples.finish();
                b.push_bind(c.model_key)
                    .push_bind(c.granularity.as_str())
                    .push_bind(c.bucket_start_ms);
                b.push_bind(i64::from(probes));
                for n in counts {
                    b.push_bind(i64::from(n));
                }
                for p in ttft.into_iter().chain(total) {
                    b.push_bind(p.map(i64::from));
                }
            });
            insert.push(&replace);
            insert.build().execute(db).await.map(super::Done::from)
        })
        .context(|| "writing rollups")?;
    }
    Ok(())
}

/// Advances the watermark of `granularity` (inside the caller's transaction). It never moves
/// back, so an overlapping slower run cannot undo another run's progress.
async fn set_watermark(
    conn: &mut super::Tx,
    granularity: Granularity,
    ms: i64,
) -> Result<(), StoreError> {
    crate::on_db!(conn, |db| sqlx::query(
        "INSERT INTO store_meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = CASE WHEN excluded.value > store_meta.value \
         THEN excluded.value ELSE store_meta.value END",
    )
    .bind(granularity.watermark_key())
    .bind(ms)
    .execute(db)
    .await
    .map(crate::store::Done::from))
    .context(|| format!("advancing the {granularity} rollup watermark"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_counts_and_samples() {
        let mut acc = Accumulator::default();
        acc.add(Outcome::Ok, Some(100), 300);
        acc.add(Outcome::Ok, Some(200), 400);
        acc.add(Outcome::Timeout, Some(50), 30_000);
        acc.add(Outcome::Ok, None, 10);
        let (probes, counts, ttft, total) = acc.finish();
        assert_eq!(probes, 4);
        assert_eq!(counts[outcome_index(Outcome::Ok)], 3);
        assert_eq!(counts[outcome_index(Outcome::Timeout)], 1);
        // TTFT of ok probes only: [100, 200]; total of all: [10, 300, 400, 30000].
        assert_eq!(ttft, [Some(100), Some(200), Some(200)]);
        assert_eq!(total, [Some(300), Some(30_000), Some(30_000)]);
    }
}
