//! The figures every public page shows, kept between publishes and read incrementally.
//!
//! Each front-page row needs a model's latest probe, its 24-hour sparkline (minute
//! rollups), today so far (today's hour rollups and the minutes after them) and 90 daily
//! bars (day rollups). Reading all of that per model at every publish was a quarter of a
//! million rows with a thousand models, most of a rebuild's cost. Rollup rows are written
//! once with their final values (`store::rollup_job`) and results are appended in row-id
//! order, so the publisher keeps what it has read and each rebuild reads, for the whole
//! fleet in a few queries, only the rows written since: the buckets between the watermarks
//! it saw last and the current ones, and the results after the last row id it saw. Rows and
//! watermarks come from one read transaction, so nothing is read twice or skipped.
//!
//! Held per model: the minute medians of 24 hours (8 bytes each), the minute rollups after
//! the last hour rollup, today's hour rollups and 90 day rollups.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::snapshot::{sparkline_of, HISTORY_DAYS};
use crate::store::rollups::day_so_far;
use crate::store::{Granularity, ReadView, Rollup, StoreError};
use crate::vocabulary::Outcome;

/// How many of a model's latest results may fail before "first token now" is left blank
/// (the page says what the latest successful probe measured, not a stale figure).
const LATEST_OK_WITHIN: u32 = 20;

/// What is kept of one model.
#[derive(Debug, Default)]
struct ModelFigures {
    /// (minutes since the epoch, median first token in ms), oldest first, 24 hours.
    medians: VecDeque<(u32, u32)>,
    /// Minute rollups from the hour rollup watermark on, oldest first.
    minutes: VecDeque<Rollup>,
    /// Today's hour rollups, oldest first.
    hours: VecDeque<Rollup>,
    /// Day rollups of the last [`HISTORY_DAYS`] days, oldest first.
    days: VecDeque<Rollup>,
    last_probe_at: Option<DateTime<Utc>>,
    /// First token of the latest successful probe, and how many results came after it.
    latest_ok_ttft: Option<u32>,
    since_ok: u32,
}

/// What a page shows of a model's recent figures, from [`FigureCache::figures`].
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub last_probe_at: Option<DateTime<Utc>>,
    pub ttft_now_ms: Option<u32>,
    pub sparkline: Vec<Option<u32>>,
    /// The day rollups of the last [`HISTORY_DAYS`] days, today's estimated from its hours
    /// and minutes while its own rollup is not written.
    pub days: Vec<Rollup>,
}

/// The fleet's figures and how far each kind has been read.
#[derive(Debug, Default)]
pub struct FigureCache {
    /// Watermarks seen at the last refresh, per granularity (minute, hour, day).
    read_until: [Option<DateTime<Utc>>; 3],
    /// The last probe result row read; `None` before the first refresh.
    results_after: Option<i64>,
    models: HashMap<String, ModelFigures>,
}

/// The most whole minute rollups kept per model, in hours (see [`FigureCache::refresh`]).
const WHOLE_MINUTES_HOURS: i64 = 2;

/// The model's entry, allocating its key only the first time it is seen (a first refresh
/// reads millions of rows; `entry` would copy the key for each).
fn entry_of<'a>(
    models: &'a mut HashMap<String, ModelFigures>,
    key: &str,
) -> Option<&'a mut ModelFigures> {
    if !models.contains_key(key) {
        models.insert(key.to_string(), ModelFigures::default());
    }
    models.get_mut(key)
}

fn epoch_minute(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp().div_euclid(60)).unwrap_or(0)
}

/// The first minute bucket starting at or after `t`.
fn first_minute_from(t: DateTime<Utc>) -> u32 {
    u32::try_from((t.timestamp_millis() + 59_999).div_euclid(60_000)).unwrap_or(0)
}

/// A rollup as kept: the model is the map's key, so its copy of the name is dropped.
fn kept(mut r: Rollup) -> Rollup {
    r.model_key = String::new();
    r
}

impl FigureCache {
    /// Reads what was written since the last refresh and forgets what `now` has left
    /// behind. `models` are the configured model ids (a first refresh reads their latest
    /// results one by one; later ones read only new rows).
    pub async fn refresh<'a>(
        &mut self,
        view: &mut ReadView,
        models: impl Iterator<Item = &'a str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let today = Granularity::Day.bucket_start(now);
        let minute_wm = view.rollup_watermark(Granularity::Minute).await?;
        let hour_wm = view.rollup_watermark(Granularity::Hour).await?;
        let day_wm = view.rollup_watermark(Granularity::Day).await?;

        // Minute medians of the last 24 hours, and whole minute rollups from the hour
        // watermark on (today so far takes the minutes after the last hour rollup).
        let horizon = now - Duration::hours(24);
        let from = self.read_until[0].map_or(horizon, |u| u.max(horizon));
        if let Some(to) = minute_wm.filter(|to| *to > from) {
            // Whole minutes are needed from the last hour rollup on; at most the last
            // [`WHOLE_MINUTES_HOURS`] hours of them, so a stalled or missing hour rollup
            // (a fresh database's first hour) never makes this a day of whole rows.
            let whole_from = hour_wm
                .unwrap_or(today)
                .max(now - Duration::hours(WHOLE_MINUTES_HOURS))
                .max(from);
            let medians_to = if self.read_until[0].is_none() {
                whole_from
            } else {
                from
            };
            // A first refresh reads a day of medians without their other columns.
            if medians_to > from {
                let models = &mut self.models;
                view.each_minute_ttft_median(from, medians_to, |model, at, p50| {
                    if let Some(entry) = entry_of(models, model) {
                        entry.medians.push_back((epoch_minute(at), p50));
                    }
                })
                .await?;
            }
            let models = &mut self.models;
            view.each_fleet_rollup(Granularity::Minute, medians_to, to, |r| {
                if let Some(entry) = entry_of(models, &r.model_key) {
                    if let Some(p50) = r.ttft_p50 {
                        entry.medians.push_back((epoch_minute(r.bucket_start), p50));
                    }
                    entry.minutes.push_back(kept(r));
                }
            })
            .await?;
            self.read_until[0] = Some(to);
        }
        let hours_from = self.read_until[1].map_or(today, |u| u.max(today));
        if let Some(to) = hour_wm.filter(|to| *to > hours_from) {
            let models = &mut self.models;
            view.each_fleet_rollup(Granularity::Hour, hours_from, to, |r| {
                if let Some(entry) = entry_of(models, &r.model_key) {
                    entry.hours.push_back(kept(r));
                }
            })
            .await?;
            self.read_until[1] = Some(to);
        }
        let days_horizon = now - Duration::days(HISTORY_DAYS);
        let days_from = self.read_until[2].map_or(days_horizon, |u| u.max(days_horizon));
        if let Some(to) = day_wm.filter(|to| *to > days_from) {
            let models = &mut self.models;
            view.each_fleet_rollup(Granularity::Day, days_from, to, |r| {
                if let Some(entry) = entry_of(models, &r.model_key) {
                    entry.days.push_back(kept(r));
                }
            })
            .await?;
            self.read_until[2] = Some(to);
        }

        match self.results_after {
            None => {
                let last = view.last_result_id().await?;
                for model in models {
                    let latest = view.latest_results(model, LATEST_OK_WITHIN).await?;
                    let entry = self.models.entry(model.to_string()).or_default();
                    entry.last_probe_at = latest.first().map(|r| r.started_at);
                    let ok = latest.iter().position(|r| r.outcome == Outcome::Ok);
                    entry.latest_ok_ttft = ok.and_then(|i| latest[i].ttft_ms);
                    entry.since_ok = ok.map_or(LATEST_OK_WITHIN, |i| i as u32);
                }
                self.results_after = Some(last);
            }
            Some(after) => {
                let results = view.results_after(after).await?;
                if let Some((last, ..)) = results.last() {
                    self.results_after = Some(*last);
                }
                for (_, model, at, outcome, ttft) in results {
                    let entry = self.models.entry(model).or_default();
                    entry.last_probe_at = Some(entry.last_probe_at.map_or(at, |t| t.max(at)));
                    if outcome == Outcome::Ok {
                        entry.latest_ok_ttft = ttft;
                        entry.since_ok = 0;
                    } else {
                        entry.since_ok = entry.since_ok.saturating_add(1);
                    }
                }
            }
        }

        // Forget what has passed out of every window.
        let oldest_median = first_minute_from(horizon);
        let covered = hour_wm
            .unwrap_or(today)
            .max(now - Duration::hours(WHOLE_MINUTES_HOURS));
        for m in self.models.values_mut() {
            while m.medians.front().is_some_and(|(t, _)| *t < oldest_median) {
                m.medians.pop_front();
            }
            while m.minutes.front().is_some_and(|r| r.bucket_start < covered) {
                m.minutes.pop_front();
            }
            while m.hours.front().is_some_and(|r| r.bucket_start < today) {
                m.hours.pop_front();
            }
            while m
                .days
                .front()
                .is_some_and(|r| r.bucket_start < days_horizon)
            {
                m.days.pop_front();
            }
        }
        Ok(())
    }

    /// A model's figures at `now`.
    pub fn figures(&self, model: &str, now: DateTime<Utc>) -> Figures {
        let Some(m) = self.models.get(model) else {
            return Figures {
                last_probe_at: None,
                ttft_now_ms: None,
                sparkline: sparkline_of(std::iter::empty(), now),
                days: Vec::new(),
            };
        };
        let horizon = now - Duration::hours(24);
        let sparkline = sparkline_of(
            m.medians
                .iter()
                .filter_map(|(minute, p50)| {
                    let at = DateTime::from_timestamp(i64::from(*minute) * 60, 0)?;
                    Some((at, *p50))
                })
                .filter(|(at, _)| *at >= horizon && *at < now),
            now,
        );
        let today = Granularity::Day.bucket_start(now);
        let mut days: Vec<Rollup> = m
            .days
            .iter()
            .filter(|d| d.bucket_start < now)
            .cloned()
            .collect();
        if !days.iter().any(|d| d.bucket_start == today) {
            let hours: Vec<Rollup> = m.hours.iter().cloned().collect();
            let minutes: Vec<Rollup> = m
                .minutes
                .iter()
                .filter(|r| r.bucket_start >= today && r.bucket_start < now)
                .cloned()
                .collect();
            days.extend(day_so_far(&hours, &minutes, now));
        }
        Figures {
            last_probe_at: m.last_probe_at,
            ttft_now_ms: m.latest_ok_ttft.filter(|_| m.since_ok < LATEST_OK_WITHIN),
            sparkline,
            days,
        }
    }

    /// Minute medians held, all models together.
    pub fn medians(&self) -> usize {
        self.models.values().map(|m| m.medians.len()).sum()
    }
}
