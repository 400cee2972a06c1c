//! The application's traffic, as stored: one row per model, source and minute
//! (`traffic_minutes`), written by the evaluator once a minute is over, read by the pages
//! and the admin board as totals per model and per source.
//!
//! Observations themselves are not stored: they were judged as they arrived. A minute row is
//! about 80 bytes whatever the volume, so a million observations cost what their minutes
//! cost (see BENCHMARKS.md); rows are kept as long as probe minute rollups
//! (`retention.minute`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::rollups::weighted_median;
use super::{ReadView, SqlxContext, Store, StoreError};
use crate::evaluate::traffic::MinuteRow;

/// Rows per multi-row upsert (10 parameters each).
const ROWS_PER_INSERT: usize = 500;

/// One source's (or every source's) totals over a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficTotals {
    pub requests: u64,
    pub failures: u64,
    pub client_errors: u64,
    pub throttled: u64,
    /// Median first token of successes (the weighted median of minute medians).
    pub ttft_p50_ms: Option<u32>,
}

impl TrafficTotals {
    /// Provider faults among the requests that count (successes and provider faults).
    pub fn error_rate(&self) -> f64 {
        let counted = self
            .requests
            .saturating_sub(self.client_errors + self.throttled);
        if counted == 0 {
            0.0
        } else {
            self.failures as f64 / counted as f64
        }
    }
}

/// A model's traffic over a period: all sources, and each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficSummary {
    pub total: TrafficTotals,
    pub sources: BTreeMap<String, TrafficTotals>,
}

impl Store {
    /// Adds minutes to the stored ones (a minute written twice, by requests that came late,
    /// adds up; its medians are those of the larger part).
    pub async fn add_traffic_minutes(&self, rows: &[MinuteRow]) -> Result<(), StoreError> {
        let mut tx = self.begin_write("storing traffic minutes").await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let values = super::placeholders(chunk.len(), 10);
            let sql = format!(
                "INSERT INTO traffic_minutes AS t (model_key, source, minute, requests, failures, \
                 client_errors, throttled, ttft_count, ttft_p50_ms, total_p50_ms) VALUES {values} \
                 ON CONFLICT (model_key, minute, source) DO UPDATE SET \
                 requests = t.requests + excluded.requests, \
                 failures = t.failures + excluded.failures, \
                 client_errors = t.client_errors + excluded.client_errors, \
                 throttled = t.throttled + excluded.throttled, \
                 ttft_p50_ms = CASE WHEN excluded.ttft_count > t.ttft_count THEN excluded.ttft_p50_ms ELSE t.ttft_p50_ms END, \
                 total_p50_ms = CASE WHEN excluded.requests > t.requests THEN excluded.total_p50_ms ELSE t.total_p50_ms END, \
                 ttft_count = t.ttft_count + excluded.ttft_count"
            );
            crate::on_db!(&mut *tx, |db| {
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q
                        .bind(&r.model_key)
                        .bind(&r.source)
                        .bind(r.minute * 1000)
                        .bind(i64::from(r.requests))
                        .bind(i64::from(r.failures))
                        .bind(i64::from(r.client_errors))
                        .bind(i64::from(r.throttled))
                        .bind(i64::from(r.ttft_count))
                        .bind(r.ttft_p50_ms.map(i64::from))
                        .bind(r.total_p50_ms.map(i64::from));
                }
                q.execute(db).await.map(super::Done::from)
            })
            .context(|| "storing traffic minutes")?;
        }
        tx.commit().await.context(|| "committing traffic minutes")?;
        Ok(())
    }

    /// Deletes traffic minutes that started before `before`; returns how many.
    pub async fn delete_traffic_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = crate::on_db!(&self.pool, |db| sqlx::query(
            "DELETE FROM traffic_minutes WHERE minute < $1"
        )
        .bind(before.timestamp_millis())
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| "deleting old traffic minutes")?
        .rows_affected();
        Ok(deleted)
    }

    /// [`ReadView::traffic_since`] in a view of its own.
    pub async fn traffic_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, TrafficSummary>, StoreError> {
        self.read_view().await?.traffic_since(since).await
    }
}

type MinuteTuple = (String, String, i64, i64, i64, i64, i64, Option<i64>);
/// Minute medians with their weights, by model and (for a source's own) source.
type MedianParts = BTreeMap<(String, Option<String>), Vec<(u32, u32)>>;

impl ReadView {
    /// Every model's traffic since `since`, by model, with each source's share.
    pub async fn traffic_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, TrafficSummary>, StoreError> {
        let rows: Vec<MinuteTuple> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(
            "SELECT model_key, source, requests, failures, client_errors, throttled, \
             ttft_count, ttft_p50_ms FROM traffic_minutes WHERE minute >= $1",
        )
        .bind(since.timestamp_millis())
        .fetch_all(db)
        .await)
        .context(|| "reading traffic minutes")?;
        let mut out: BTreeMap<String, TrafficSummary> = BTreeMap::new();
        let mut medians: MedianParts = BTreeMap::new();
        for (model, source, requests, failures, client, throttled, ttft_n, ttft) in rows {
            let add = |t: &mut TrafficTotals| {
                t.requests += requests.max(0) as u64;
                t.failures += failures.max(0) as u64;
                t.client_errors += client.max(0) as u64;
                t.throttled += throttled.max(0) as u64;
            };
            let summary = out.entry(model.clone()).or_default();
            add(&mut summary.total);
            add(summary.sources.entry(source.clone()).or_default());
            if let Some(ttft) = ttft.and_then(|v| u32::try_from(v).ok()) {
                let weight = u32::try_from(ttft_n.max(1)).unwrap_or(u32::MAX);
                medians
                    .entry((model.clone(), None))
                    .or_default()
                    .push((ttft, weight));
                medians
                    .entry((model, Some(source)))
                    .or_default()
                    .push((ttft, weight));
            }
        }
        for ((model, source), samples) in medians {
            if let Some(summary) = out.get_mut(&model) {
                let totals = match source {
                    None => &mut summary.total,
                    Some(s) => summary.sources.entry(s).or_default(),
                };
                totals.ttft_p50_ms = weighted_median(samples);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(source: &str, minute: i64, requests: u32, failures: u32, ttft: u32) -> MinuteRow {
        MinuteRow {
            model_key: "p/m".into(),
            source: source.into(),
            minute,
            requests,
            failures,
            client_errors: 1,
            throttled: 0,
            ttft_count: requests - failures - 1,
            ttft_p50_ms: Some(ttft),
            total_p50_ms: Some(ttft * 3),
        }
    }

    #[tokio::test]
    async fn minutes_add_up_per_model_and_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let t0 = Utc
            .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
            .unwrap()
            .timestamp();
        store
            .add_traffic_minutes(&[row("a", t0, 100, 10, 300), row("b", t0, 50, 0, 500)])
            .await
            .unwrap();
        // Late requests of the same minute add up.
        store
            .add_traffic_minutes(&[row("a", t0, 10, 1, 900)])
            .await
            .unwrap();
        let since = Utc.timestamp_opt(t0, 0).unwrap();
        let all = store.traffic_since(since).await.unwrap();
        let s = &all["p/m"];
        assert_eq!(s.total.requests, 160);
        assert_eq!(s.total.failures, 11);
        assert_eq!(s.sources["a"].requests, 110);
        assert_eq!(
            s.sources["a"].ttft_p50_ms,
            Some(300),
            "the larger part's median"
        );
        assert_eq!(s.total.ttft_p50_ms, Some(300));
        let rate = s.total.error_rate();
        assert!((rate - 11.0 / 157.0).abs() < 1e-9, "{rate}");
        let later = store
            .traffic_since(since + chrono::Duration::minutes(1))
            .await
            .unwrap();
        assert!(later.is_empty());
        assert_eq!(
            store
                .delete_traffic_before(since + chrono::Duration::minutes(1))
                .await
                .unwrap(),
            2
        );
    }
}
