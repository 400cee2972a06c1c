//! Rollups: per model and minute/hour/day bucket, counts per outcome class and latency
//! percentiles, computed exactly from raw results.
//!
//! **Percentiles** are nearest-rank ([`percentile`]): the smallest sample with at least p% of
//! samples at or below it, so every reported value is a latency that was really measured.
//! `ttft_*` use the TTFT of `ok` probes only (a failed probe's first token, if any, says
//! little); `total_*` use the total time of *every* probe, because a timeout or slow error is
//! exactly the wait a user experienced. A bucket without samples stores `NULL`.
//!
//! Computation lives in `rollup_job`; this file holds the types and the reads.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;

use super::results::timestamp;
use super::{ReadView, SqlxContext, Store, StoreError};
use crate::vocabulary::Outcome;

/// The length of a rollup bucket. Buckets are aligned to the unix epoch, so day buckets
/// start at midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    /// The name stored in the `granularity` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// The bucket length.
    pub fn length(self) -> TimeDelta {
        TimeDelta::milliseconds(self.millis())
    }

    pub(crate) fn millis(self) -> i64 {
        match self {
            Granularity::Minute => 60_000,
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }

    /// The start of the bucket containing `t`.
    pub fn bucket_start(self, t: DateTime<Utc>) -> DateTime<Utc> {
        timestamp(self.floor_ms(t.timestamp_millis())).unwrap_or(t)
    }

    /// The start of the bucket containing unix-millisecond time `ms` (also before 1970).
    pub(crate) fn floor_ms(self, ms: i64) -> i64 {
        ms - ms.rem_euclid(self.millis())
    }

    /// The `store_meta` key of this granularity's watermark.
    pub(crate) fn watermark_key(self) -> String {
        format!("rollup_watermark_{}", self.as_str())
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Granularity::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| format!("unknown granularity `{s}` (expected minute, hour or day)"))
    }
}

/// One stored rollup row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    pub model_key: String,
    pub granularity: Granularity,
    pub bucket_start: DateTime<Utc>,
    pub probes: u32,
    /// Probes per outcome class, indexed like [`Outcome::ALL`]; see [`Rollup::count`].
    pub by_outcome: [u32; 11],
    pub ttft_p50: Option<u32>,
    pub ttft_p95: Option<u32>,
    pub ttft_p99: Option<u32>,
    pub total_p50: Option<u32>,
    pub total_p95: Option<u32>,
    pub total_p99: Option<u32>,
}

impl Rollup {
    /// Probes of this bucket that ended in `outcome`.
    pub fn count(&self, outcome: Outcome) -> u32 {
        self.by_outcome[outcome_index(outcome)]
    }

    /// Probes of this bucket that failed by the provider's fault (what error rates count).
    pub fn provider_faults(&self) -> u32 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_provider_fault())
            .map(|o| self.count(*o))
            .sum()
    }
}

/// The position of `outcome` in [`Outcome::ALL`] (and in every per-class array).
pub(crate) fn outcome_index(outcome: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|o| *o == outcome)
        .expect("Outcome::ALL lists every outcome")
}

/// Nearest-rank percentile of ascending samples (the evaluator's, so figures agree).
pub use crate::stats::percentile_sorted as percentile;

/// `n_ok, n_timeout, ...` in [`Outcome::ALL`] order.
pub(super) fn count_columns() -> String {
    Outcome::ALL.map(|o| format!("n_{}", o.as_str())).join(", ")
}

pub(super) const PERCENTILE_COLUMNS: &str =
    "ttft_p50, ttft_p95, ttft_p99, total_p50, total_p95, total_p99";

impl Store {
    /// A model's rollups of `granularity` with buckets starting in `[from, to)`, oldest first.
    pub async fn rollups(
        &self,
        model_key: &str,
        granularity: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Rollup>, StoreError> {
        self.read_view()
            .await?
            .rollups(model_key, granularity, from, to)
            .await
    }

    /// The start of the first bucket of `granularity` not yet rolled up (`None` before the
    /// first rollup). Every bucket before it has its final rollup row.
    pub async fn rollup_watermark(
        &self,
        granularity: Granularity,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.watermark_ms(granularity).await?.and_then(timestamp))
    }

    pub(crate) async fn watermark_ms(
        &self,
        granularity: Granularity,
    ) -> Result<Option<i64>, StoreError> {
        let value: Option<Option<i64>> = crate::on_db!(&self.pool, |db| sqlx::query_scalar(
            "SELECT value FROM store_meta WHERE key = $1"
        )
        .bind(granularity.watermark_key())
        .fetch_optional(db)
        .await)
        .context(|| format!("reading the {granularity} rollup watermark"))?;
        Ok(value.flatten())
    }
}

/// Reads a rollup from a row of either database.
fn rollup_from_row<R>(row: &R, granularity: Granularity) -> Result<Rollup, StoreError>
where
    R: Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database>,
    i64: sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database>,
    String: sqlx::Type<R::Database>,
{
    let model_key: String = row
        .try_get("model_key")
        .context(|| "decoding a rollup row")?;
    let start: i64 = row
        .try_get("bucket_start")
        .context(|| "decoding a rollup row")?;
    let row_name = format!("{model_key} {granularity} {start}");
    let corrupt = |problem: String| StoreError::Corrupt {
        table: "rollups",
        row: row_name.clone(),
        problem,
    };
    let get_u32 = |column: &str| -> Result<Option<u32>, StoreError> {
        let v: Option<i64> = row
            .try_get(column)
            .context(|| format!("decoding rollup column {column}"))?;
        v.map(|v| u32::try_from(v).map_err(|_| corrupt(format!("{column} {v} is out of range"))))
            .transpose()
    };
    let required =
        |column: &str| get_u32(column)?.ok_or_else(|| corrupt(format!("{column} is NULL")));
    let mut by_outcome = [0; 11];
    for (slot, outcome) in by_outcome.iter_mut().zip(Outcome::ALL) {
        *slot = required(&format!("n_{}", outcome.as_str()))?;
    }
    Ok(Rollup {
        bucket_start: timestamp(start)
            .ok_or_else(|| corrupt(format!("bucket_start {start} is out of range")))?,
        probes: required("probes")?,
        by_outcome,
        ttft_p50: get_u32("ttft_p50")?,
        ttft_p95: get_u32("ttft_p95")?,
        ttft_p99: get_u32("ttft_p99")?,
        total_p50: get_u32("total_p50")?,
        total_p95: get_u32("total_p95")?,
        total_p99: get_u32("total_p99")?,
        model_key,
        granularity,
    })
}

/// Today so far as one day rollup, from today's completed hour rollups and the minute
/// rollups after the last of them, for a status page that shows today before its day rollup
/// exists (that is written when the day ends).
///
/// Counts are exact up to the last completed minute. Percentiles cannot be merged exactly
/// from buckets, so each is the probe-weighted median of the buckets' own percentiles: an
/// estimate, to be shown as one.
pub fn day_so_far(hours: &[Rollup], minutes: &[Rollup], now: DateTime<Utc>) -> Option<Rollup> {
    let day_start = Granularity::Day.bucket_start(now);
    let today_hours = hours.iter().filter(|h| h.bucket_start >= day_start);
    let covered_until = today_hours
        .clone()
        .map(|h| h.bucket_start + Granularity::Hour.length())
        .max()
        .unwrap_or(day_start);
    let parts: Vec<&Rollup> = today_hours
        .chain(minutes.iter().filter(|m| m.bucket_start >= covered_until))
        .collect();
    merged(&parts, Granularity::Day, day_start)
}

/// The hours after the last hour rollup, one estimated hour rollup each from the minute
/// rollups, oldest first: the current hour (whose rollup is written when it ends) and any
/// completed hour the rollup job has not reached yet, so hourly charts reach the present
/// like the minute chart does. Counts are exact; percentiles are estimates as in
/// [`day_so_far`].
pub fn hours_so_far(hours: &[Rollup], minutes: &[Rollup]) -> Vec<Rollup> {
    let covered_until = hours
        .iter()
        .map(|h| h.bucket_start + Granularity::Hour.length())
        .max();
    let mut by_hour: Vec<(DateTime<Utc>, Vec<&Rollup>)> = Vec::new();
    for m in minutes
        .iter()
        .filter(|m| covered_until.is_none_or(|c| m.bucket_start >= c))
    {
        let hour = Granularity::Hour.bucket_start(m.bucket_start);
        match by_hour.last_mut() {
            Some((h, parts)) if *h == hour => parts.push(m),
            _ => by_hour.push((hour, vec![m])),
        }
    }
    by_hour
        .into_iter()
        .filter_map(|(hour, parts)| merged(&parts, Granularity::Hour, hour))
        .collect()
}

/// The weighted median of `(value, weight)` samples: how a percentile of merged buckets is
/// estimated from the buckets' own (each weighted by its probes). `None` without samples.
pub fn weighted_median(mut samples: Vec<(u32, u32)>) -> Option<u32> {
    samples.sort_unstable();
    let total: u64 = samples.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut seen = 0u64;
    samples.into_iter().find_map(|(v, w)| {
        seen += u64::from(w);
        (seen * 2 >= total).then_some(v)
    })
}

/// One rollup of `granularity` starting at `start` from finer ones: counts summed, each
/// percentile the probe-weighted median of the parts' own. `None` without parts.
fn merged(parts: &[&Rollup], granularity: Granularity, start: DateTime<Utc>) -> Option<Rollup> {
    let first = parts.first()?;
    let mut out = Rollup {
        model_key: first.model_key.clone(),
        granularity,
        bucket_start: start,
        probes: 0,
        by_outcome: [0; 11],
        ttft_p50: None,
        ttft_p95: None,
        ttft_p99: None,
        total_p50: None,
        total_p95: None,
        total_p99: None,
    };
    for p in parts {
        out.probes += p.probes;
        for (sum, n) in out.by_outcome.iter_mut().zip(p.by_outcome) {
            *sum += n;
        }
    }
    let weighted = |value: fn(&Rollup) -> Option<u32>| {
        weighted_median(
            parts
                .iter()
                .filter_map(|p| value(p).map(|v| (v, p.probes.max(1))))
                .collect(),
        )
    };
    out.ttft_p50 = weighted(|r| r.ttft_p50);
    out.ttft_p95 = weighted(|r| r.ttft_p95);
    out.ttft_p99 = weighted(|r| r.ttft_p99);
    out.total_p50 = weighted(|r| r.total_p50);
    out.total_p95 = weighted(|r| r.total_p95);
    out.total_p99 = weighted(|r| r.total_p99);
    Some(out)
}

impl ReadView {
    /// Rollups of `model_key` at `granularity` whose bucket starts in `[from, to)`, oldest first.
    /// Buckets without any probe have no row.
    pub async fn rollups(
        &mut self,
        model_key: &str,
        granularity: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Rollup>, StoreError> {
        let sql = format!(
            "SELECT model_key, bucket_start, probes, {}, {PERCENTILE_COLUMNS} FROM rollups \
             WHERE model_key = $1 AND granularity = $2 AND bucket_start >= $3 AND bucket_start < $4 \
             ORDER BY bucket_start",
            count_columns()
        );
        crate::on_db!(&mut *self.tx, |db| sqlx::query(&sql)
            .bind(model_key)
            .bind(granularity.as_str())
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .fetch_all(db)
            .await
            .context(|| format!("reading {granularity} rollups of {model_key}"))?
            .iter()
            .map(|row| rollup_from_row(row, granularity))
            .collect())
    }

    /// Every model's minute rollups with a first-token median whose bucket starts in
    /// `[from, to)`, oldest first, each passed to `each(model_key, bucket_start, ttft_p50)`
    /// as it is read (a day of a large fleet is millions of rows: none is held here).
    pub async fn each_minute_ttft_median(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(&str, DateTime<Utc>, u32),
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        crate::on_db!(&mut *self.tx, |db| {
            let mut rows = sqlx::query_as::<_, (String, i64, i64)>(
                "SELECT model_key, bucket_start, ttft_p50 FROM rollups \
                 WHERE granularity = 'minute' AND bucket_start >= $1 AND bucket_start < $2 \
                 AND ttft_p50 IS NOT NULL ORDER BY bucket_start",
            )
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .fetch(db);
            while let Some((model, start, p50)) = rows
                .try_next()
                .await
                .context(|| "reading the fleet's minute medians")?
            {
                if let (Some(at), Ok(p50)) = (timestamp(start), u32::try_from(p50)) {
                    each(&model, at, p50);
                }
            }
        });
        Ok(())
    }

    /// Every model's rollups of `granularity` whose bucket starts in `[from, to)`, oldest
    /// first, each passed to `each` as it is read: one indexed scan for the whole fleet,
    /// holding one row at a time.
    pub async fn each_fleet_rollup(
        &mut self,
        granularity: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(Rollup),
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        let sql = format!(
            "SELECT model_key, bucket_start, probes, {}, {PERCENTILE_COLUMNS} FROM rollups \
             WHERE granularity = $1 AND bucket_start >= $2 AND bucket_start < $3 \
             ORDER BY bucket_start",
            count_columns()
        );
        crate::on_db!(&mut *self.tx, |db| {
            let mut rows = sqlx::query(&sql)
                .bind(granularity.as_str())
                .bind(from.timestamp_millis())
                .bind(to.timestamp_millis())
                .fetch(db);
            while let Some(row) = rows
                .try_next()
                .await
                .context(|| format!("reading the fleet's {granularity} rollups"))?
            {
                each(rollup_from_row(&row, granularity)?);
            }
        });
        Ok(())
    }

    /// The start of the first minute/hour/day bucket not yet rolled up, read in this view's
    /// transaction (so it agrees with the rollups read beside it); `None` before the first.
    pub async fn rollup_watermark(
        &mut self,
        granularity: Granularity,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let value: Option<Option<i64>> = crate::on_db!(&mut *self.tx, |db| sqlx::query_scalar(
            "SELECT value FROM store_meta WHERE key = $1"
        )
        .bind(granularity.watermark_key())
        .fetch_optional(db)
        .await)
        .context(|| format!("reading the {granularity} rollup watermark"))?;
        Ok(value.flatten().and_then(timestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(g: Granularity, start: &str, ok: u32, timeouts: u32, p50: u32, p95: u32) -> Rollup {
        let mut by_outcome = [0; 11];
        by_outcome[outcome_index(Outcome::Ok)] = ok;
        by_outcome[outcome_index(Outcome::Timeout)] = timeouts;
        Rollup {
            model_key: "acme/m-1".into(),
            granularity: g,
            bucket_start: start.parse().unwrap(),
            probes: ok + timeouts,
            by_outcome,
            ttft_p50: Some(p50),
            ttft_p95: Some(p95),
            ttft_p99: Some(p95),
            total_p50: Some(p50 * 2),
            total_p95: Some(p95 * 2),
            total_p99: Some(p95 * 2),
        }
    }

    #[test]
    fn today_so_far_adds_todays_hours_and_the_minutes_after_them() {
        let now: DateTime<Utc> = "2026-11-25T02:10:30Z".parse().unwrap();
        let hours = [
            // Yesterday's last hour is not today.
            bucket(
                Granularity::Hour,
                "2026-11-24T23:00:00Z",
                500,
                500,
                9000,
                9000,
            ),
            bucket(Granularity::Hour, "2026-11-25T00:00:00Z", 100, 0, 400, 900),
            bucket(Granularity::Hour, "2026-11-25T01:00:00Z", 98, 2, 600, 1500),
        ];
        let minutes = [
            // Already inside the 01:00 hour rollup: not counted twice.
            bucket(
                Granularity::Minute,
                "2026-11-25T01:59:00Z",
                50,
                50,
                9000,
                9000,
            ),
            bucket(Granularity::Minute, "2026-11-25T02:00:00Z", 2, 0, 500, 700),
            bucket(Granularity::Minute, "2026-11-25T02:09:00Z", 1, 1, 800, 2000),
        ];
        let day = day_so_far(&hours, &minutes, now).unwrap();
        assert_eq!(day.granularity, Granularity::Day);
        assert_eq!(
            day.bucket_start,
            "2026-11-25T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(day.probes, 204);
        assert_eq!(day.count(Outcome::Ok), 201);
        assert_eq!(day.count(Outcome::Timeout), 3);
        // Weighted by probes: 100 at 400, 100 at 600, 2 at 500, 2 at 800 -> median 400..600.
        assert_eq!(day.ttft_p50, Some(500));
        assert_eq!(day.ttft_p95, Some(900));
        assert_eq!(day.total_p50, Some(1000));
        assert!(
            day_so_far(&hours[..1], &[], now).is_none(),
            "nothing today yet"
        );
    }

    #[test]
    fn hours_so_far_are_the_minutes_after_the_last_hour_rollup() {
        let hours = [bucket(
            Granularity::Hour,
            "2026-11-25T00:00:00Z",
            60,
            0,
            400,
            900,
        )];
        let minutes = [
            // Inside the 00:00 hour rollup: not counted again.
            bucket(
                Granularity::Minute,
                "2026-11-25T00:59:00Z",
                1,
                0,
                9000,
                9000,
            ),
            // 01:00 ended but is not rolled up yet; 02:00 is the current hour.
            bucket(Granularity::Minute, "2026-11-25T01:00:00Z", 3, 1, 500, 700),
            bucket(Granularity::Minute, "2026-11-25T01:30:00Z", 1, 0, 600, 600),
            bucket(Granularity::Minute, "2026-11-25T02:09:00Z", 2, 0, 800, 2000),
        ];
        let so_far = hours_so_far(&hours, &minutes);
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let got: Vec<_> = so_far
            .iter()
            .map(|h| (h.granularity, h.bucket_start, h.probes, h.ttft_p50))
            .collect();
        assert_eq!(
            got,
            [
                (Granularity::Hour, at("2026-11-25T01:00:00Z"), 5, Some(500)),
                (Granularity::Hour, at("2026-11-25T02:00:00Z"), 2, Some(800)),
            ]
        );
        assert_eq!(so_far[0].count(Outcome::Timeout), 1);
        // Without any hour rollup (a fresh database) every minute counts.
        assert_eq!(hours_so_far(&[], &minutes).len(), 3);
        assert!(hours_so_far(&hours, &[]).is_empty());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&v, 99), Some(99));
        assert_eq!(percentile(&v, 100), Some(100));
        assert_eq!(percentile(&v, 0), Some(1));
        // Few samples: p50 of 4 is the 2nd, p95 and p99 the largest.
        let few = [10, 20, 30, 40];
        assert_eq!(percentile(&few, 50), Some(20));
        assert_eq!(percentile(&few, 95), Some(40));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
        // 3 samples: ceil(0.5 * 3) = 2nd.
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn buckets_align_to_utc_boundaries() {
        let t: DateTime<Utc> = "2024-03-05T13:47:29.123Z".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            Granularity::Minute.bucket_start(t),
            at("2024-03-05T13:47:00Z")
        );
        assert_eq!(
            Granularity::Hour.bucket_start(t),
            at("2024-03-05T13:00:00Z")
        );
        assert_eq!(Granularity::Day.bucket_start(t), at("2024-03-05T00:00:00Z"));
        // A time on a boundary starts its own bucket.
        assert_eq!(
            Granularity::Hour.bucket_start(at("2024-03-05T13:00:00Z")),
            at("2024-03-05T13:00:00Z")
        );
        // Before 1970 the floor still goes down, not toward zero.
        assert_eq!(Granularity::Minute.floor_ms(-1), -60_000);
        assert_eq!(Granularity::Day.length(), TimeDelta::days(1));
        assert!("week".parse::<Granularity>().is_err());
        assert_eq!("hour".parse::<Granularity>().unwrap(), Granularity::Hour);
    }
}
