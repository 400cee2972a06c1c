//! The fleet's per-minute first-token medians of the last 24 hours, kept between publishes.
//!
//! Every front-page row draws a 24-hour sparkline from minute rollups. Reading 1,440 minutes
//! per model at every publish is most of a rebuild's database work with a thousand models,
//! while rollup rows are written once with their final values (`store::rollup_job`): so the
//! publisher keeps what it has read and each rebuild reads only the minutes rolled up since,
//! for the whole fleet in one query. 8 bytes a minute: about 11 MB for 1,000 models' day.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::snapshot::sparkline_of;
use crate::store::{Granularity, ReadView, StoreError};

/// Minute medians per model, oldest first, and how far they have been read.
#[derive(Debug, Default)]
pub struct Sparklines {
    /// Every minute bucket before this one has been read (the minute rollup watermark seen
    /// at the last refresh).
    read_until: Option<DateTime<Utc>>,
    /// Per model: (minutes since the epoch, median first token in ms).
    by_model: HashMap<String, VecDeque<(u32, u32)>>,
}

fn epoch_minute(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp().div_euclid(60)).unwrap_or(0)
}

impl Sparklines {
    /// Reads the minutes rolled up since the last refresh and forgets those older than 24
    /// hours. Rows and watermark come from `view`'s one transaction, so no minute is read
    /// twice or skipped.
    pub async fn refresh(
        &mut self,
        view: &mut ReadView,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let horizon = now - Duration::hours(24);
        let from = self.read_until.map_or(horizon, |u| u.max(horizon));
        if let Some(to) = view.rollup_watermark(Granularity::Minute).await? {
            if to > from {
                for (model, at, p50) in view.minute_ttft_medians(from, to).await? {
                    self.by_model
                        .entry(model)
                        .or_default()
                        .push_back((epoch_minute(at), p50));
                }
                self.read_until = Some(to);
            }
        }
        // The first minute bucket starting at or after the horizon.
        let oldest =
            u32::try_from((horizon.timestamp_millis() + 59_999).div_euclid(60_000)).unwrap_or(0);
        for points in self.by_model.values_mut() {
            while points.front().is_some_and(|(m, _)| *m < oldest) {
                points.pop_front();
            }
        }
        self.by_model.retain(|_, points| !points.is_empty());
        Ok(())
    }

    /// The model's sparkline at `now`, as [`sparkline_of`] draws it from the minutes of the
    /// last 24 hours.
    pub fn of(&self, model: &str, now: DateTime<Utc>) -> Vec<Option<u32>> {
        let horizon = now - Duration::hours(24);
        let points = self.by_model.get(model).into_iter().flatten();
        sparkline_of(
            points
                .filter_map(|(minute, p50)| {
                    let at = DateTime::from_timestamp(i64::from(*minute) * 60, 0)?;
                    Some((at, *p50))
                })
                .filter(|(at, _)| *at >= horizon),
            now,
        )
    }

    /// Minutes held, all models together (for tests and the benchmark's accounting).
    pub fn len(&self) -> usize {
        self.by_model.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
