//! Retention: deleting raw results and rollups older than their configured periods.
//!
//! **Raw results are never deleted before they are rolled up.** The raw cutoff is the
//! earlier of `now - retention.raw` and the lowest rollup watermark (in practice the day
//! watermark, which trails the others): a result not yet counted in its minute, hour and day
//! rollups stays, however old, so day rollups always sum to every probe ever stored. Before
//! the first rollup no raw result is deleted.
//!
//! Deletes run in batches of [`DELETE_BATCH`] rows, each its own short transaction, so the
//! probe writer never waits long for the write lock.

use chrono::{DateTime, Utc};

use super::rollups::Granularity;
use super::{millis, SqlxContext, Store, StoreError};
use crate::config::RetentionConfig;

/// Rows deleted per statement.
pub const DELETE_BATCH: i64 = 10_000;

/// How many rows one retention pass deleted, per table and granularity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub raw: u64,
    pub minute: u64,
    pub hour: u64,
    pub day: u64,
    /// Traffic minutes (kept as long as minute rollups).
    pub traffic: u64,
}

impl RetentionReport {
    pub fn total(&self) -> u64 {
        self.raw + self.minute + self.hour + self.day + self.traffic
    }
}

impl Store {
    /// Deletes raw results older than `retention.raw` (only those already rolled up) and
    /// rollups whose bucket started before `now` minus their granularity's period.
    pub async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: &RetentionConfig,
    ) -> Result<RetentionReport, StoreError> {
        let now_ms = now.timestamp_millis();
        let cutoff = |period| now_ms.saturating_sub(millis(period));

        // The lowest watermark; `None` while any granularity was never rolled up.
        let mut rolled_up_until = Some(i64::MAX);
        for g in Granularity::ALL {
            rolled_up_until = match (rolled_up_until, self.watermark_ms(g).await?) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            };
        }
        let raw = match rolled_up_until {
            Some(until) => {
                let before = cutoff(retention.raw).min(until);
                self.delete_batched(
                    "raw probe results",
                    "DELETE FROM probe_results WHERE id IN \
                     (SELECT id FROM probe_results WHERE started_at < $1 LIMIT $2)",
                    None,
                    before,
                )
                .await?
            }
            None => 0,
        };

        let mut report = RetentionReport {
            raw,
            ..RetentionReport::default()
        };
        for (g, period) in [
            (Granularity::Minute, retention.minute),
            (Granularity::Hour, retention.hour),
            (Granularity::Day, retention.day),
        ] {
            let deleted = self
                .delete_batched(
                    &format!("{g} rollups"),
                    // WITHOUT ROWID: rows are addressed by their primary key.
                    "DELETE FROM rollups WHERE (model_key, granularity, bucket_start) IN \
                     (SELECT model_key, granularity, bucket_start FROM rollups \
                      WHERE granularity = $1 AND bucket_start < $2 LIMIT $3)",
                    Some(g.as_str()),
                    cutoff(period),
                )
                .await?;
            match g {
                Granularity::Minute => report.minute = deleted,
                Granularity::Hour => report.hour = deleted,
                Granularity::Day => report.day = deleted,
            }
        }
        report.traffic = self
            .delete_traffic_before(
                now - chrono::Duration::from_std(retention.minute).unwrap_or_default(),
            )
            .await?;
        Ok(report)
    }

    /// Runs `sql` (bound with `granularity` if given, then the cutoff and the batch size)
    /// until a batch deletes fewer than [`DELETE_BATCH`] rows; returns the total deleted.
    async fn delete_batched(
        &self,
        what: &str,
        sql: &str,
        granularity: Option<&str>,
        before: i64,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = crate::on_db!(&self.pool, |db| {
                let mut query = sqlx::query(sql);
                if let Some(granularity) = granularity {
                    query = query.bind(granularity);
                }
                query
                    .bind(before)
                    .bind(DELETE_BATCH)
                    .execute(db)
                    .await
                    .map(super::Done::from)
            })
            .context(|| format!("deleting old {what}"))?
            .rows_affected();
            total += deleted;
            if deleted < DELETE_BATCH as u64 {
                return Ok(total);
            }
            // Each batch committed on its own; let other tasks (the writer) run in between.
            tokio::task::yield_now().await;
        }
    }
}
