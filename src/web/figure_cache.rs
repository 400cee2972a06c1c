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
//! Held per model: one first-token median per closed 15-minute sparkline slot of the last 24
//! hours and the minute medians of the slots still open (8 bytes each), the minute rollups after
//! the last hour rollup, today's hour rollups and 90 day rollups, each rollup as the 68 bytes
//! the pages use (`Kept`) rather than a whole 136-byte [`Rollup`]: with a thousand models
//! that is tens of megabytes.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::snapshot::{
    lower_median, sparkline_first_slot, sparkline_slot, sparkline_slot_end, DayFigures,
    HISTORY_DAYS, SPARKLINE_POINTS,
};
use crate::store::rollups::weighted_median;
use crate::store::{Granularity, ReadView, Rollup, StoreError};
use crate::vocabulary::Outcome;

/// How many of a model's latest results may fail before "first token now" is left blank
/// (the page says what the latest successful probe measured, not a stale figure).
const LATEST_OK_WITHIN: u32 = 20;

/// What is kept of one model.
#[derive(Debug, Default)]
struct ModelFigures {
    /// (sparkline slot, its median first token in ms) of the slots every minute of which is
    /// rolled up, oldest first, 24 hours.
    slot_medians: VecDeque<(i64, u32)>,
    /// (minutes since the epoch, median first token in ms) of the minutes rolled up in
    /// slots not yet closed, oldest first.
    open_minutes: Vec<(u32, u32)>,
    /// Minute rollups from the hour rollup watermark on, oldest first.
    minutes: VecDeque<Kept>,
    /// Today's hour rollups, oldest first.
    hours: VecDeque<Kept>,
    /// Day rollups of the last [`HISTORY_DAYS`] days, oldest first.
    days: VecDeque<Kept>,
    last_probe_at: Option<DateTime<Utc>>,
    /// First token of the latest successful probe, and how many results came after it.
    latest_ok_ttft: Option<u32>,
    since_ok: u32,
}

impl ModelFigures {
    /// Replaces the minutes of every slot that ends by `rolled_up_to` (all its minutes are
    /// rolled up) with the slot's median.
    fn close_slots(&mut self, rolled_up_to: DateTime<Utc>) {
        let closed = |minute: u32| {
            let slot = sparkline_slot_of_minute(minute);
            (sparkline_slot_end(slot) <= rolled_up_to.timestamp()).then_some(slot)
        };
        let Some(last_closed) = self
            .open_minutes
            .iter()
            .rposition(|(t, _)| closed(*t).is_some())
        else {
            return;
        };
        let mut current: Option<(i64, Vec<u32>)> = None;
        for (minute, p50) in self.open_minutes.drain(..=last_closed) {
            let slot = sparkline_slot_of_minute(minute);
            match &mut current {
                Some((s, values)) if *s == slot => values.push(p50),
                _ => {
                    if let Some((s, values)) = current.take() {
                        self.slot_medians
                            .extend(lower_median(values).map(|v| (s, v)));
                    }
                    current = Some((slot, vec![p50]));
                }
            }
        }
        if let Some((s, values)) = current {
            self.slot_medians
                .extend(lower_median(values).map(|v| (s, v)));
        }
    }

    /// The 24-hour sparkline at `now`: closed slots' medians, and the open slots' from their
    /// minutes started before `now` (the same points `snapshot::sparkline` draws from every
    /// minute rollup).
    fn sparkline(&self, now: DateTime<Utc>) -> Vec<Option<u32>> {
        let first = sparkline_first_slot(now);
        let mut points = vec![None; SPARKLINE_POINTS];
        let index = |slot: i64| {
            usize::try_from(slot - first)
                .ok()
                .filter(|i| *i < SPARKLINE_POINTS)
        };
        for (slot, median) in &self.slot_medians {
            if let Some(i) = index(*slot) {
                points[i] = Some(*median);
            }
        }
        let mut open: Vec<Vec<u32>> = vec![Vec::new(); SPARKLINE_POINTS];
        for (minute, p50) in &self.open_minutes {
            if i64::from(*minute) * 60_000 >= now.timestamp_millis() {
                continue;
            }
            if let Some(i) = index(sparkline_slot_of_minute(*minute)) {
                open[i].push(*p50);
            }
        }
        for (i, values) in open.into_iter().enumerate() {
            if let Some(v) = lower_median(values) {
                points[i] = Some(v);
            }
        }
        points
    }
}

/// The sparkline slot of a minute counted from the epoch.
fn sparkline_slot_of_minute(minute: u32) -> i64 {
    sparkline_slot(DateTime::from_timestamp(i64::from(minute) * 60, 0).unwrap_or_default())
}

/// What a page shows of a model's recent figures, from [`FigureCache::figures`].
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub last_probe_at: Option<DateTime<Utc>>,
    pub ttft_now_ms: Option<u32>,
    pub sparkline: Vec<Option<u32>>,
    /// The days of the last [`HISTORY_DAYS`] days that have a rollup, today's estimated from
    /// its hours and minutes while its own rollup is not written.
    pub days: Vec<DayFigures>,
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

/// A rollup as kept: what the daily bars and today so far use (probes, provider faults, first
/// token median and 95th percentile), 28 bytes where a [`Rollup`] takes 136. The model is
/// the map's key and the granularity the deque's, so neither is copied.
#[derive(Debug, Clone, Copy)]
struct Kept {
    /// Minutes since the epoch.
    start: u32,
    probes: u32,
    failures: u32,
    ttft_p50: Option<u32>,
    ttft_p95: Option<u32>,
}

impl Kept {
    fn of(r: &Rollup) -> Kept {
        Kept {
            start: epoch_minute(r.bucket_start),
            probes: r.probes,
            failures: r.provider_faults(),
            ttft_p50: r.ttft_p50,
            ttft_p95: r.ttft_p95,
        }
    }

    fn starts_before(&self, t: DateTime<Utc>) -> bool {
        i64::from(self.start) * 60_000 < t.timestamp_millis()
    }

    fn start_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(i64::from(self.start) * 60, 0).unwrap_or_default()
    }

    fn day(&self) -> DayFigures {
        DayFigures {
            start: self.start_time(),
            probes: self.probes,
            failures: self.failures,
            ttft_p50_ms: self.ttft_p50,
            ttft_p95_ms: self.ttft_p95,
        }
    }
}

/// Today so far from today's hour rollups and the minutes after the last of them: the rule of
/// `store::rollups::day_so_far` (which a test holds this to) on what the cache keeps. Counts
/// are exact; each percentile is the probe-weighted median of the buckets' own.
fn today_so_far(hours: &[Kept], minutes: &[Kept], now: DateTime<Utc>) -> Option<DayFigures> {
    let today = Granularity::Day.bucket_start(now);
    let today_hours = hours.iter().filter(|h| !h.starts_before(today));
    let covered_until = today_hours
        .clone()
        .map(|h| h.start_time() + Granularity::Hour.length())
        .max()
        .unwrap_or(today);
    let parts: Vec<&Kept> = today_hours
        .chain(
            minutes
                .iter()
                .filter(|m| !m.starts_before(covered_until) && m.starts_before(now)),
        )
        .collect();
    if parts.is_empty() {
        return None;
    }
    let weighted = |value: fn(&Kept) -> Option<u32>| {
        weighted_median(
            parts
                .iter()
                .filter_map(|p| value(p).map(|v| (v, p.probes.max(1))))
                .collect(),
        )
    };
    Some(DayFigures {
        start: today,
        probes: parts.iter().map(|p| p.probes).sum(),
        failures: parts.iter().map(|p| p.failures).sum(),
        ttft_p50_ms: weighted(|k| k.ttft_p50),
        ttft_p95_ms: weighted(|k| k.ttft_p95),
    })
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
                        entry.open_minutes.push((epoch_minute(at), p50));
                    }
                })
                .await?;
            }
            let models = &mut self.models;
            view.each_fleet_rollup(Granularity::Minute, medians_to, to, |r| {
                if let Some(entry) = entry_of(models, &r.model_key) {
                    if let Some(p50) = r.ttft_p50 {
                        entry.open_minutes.push((epoch_minute(r.bucket_start), p50));
                    }
                    entry.minutes.push_back(Kept::of(&r));
                }
            })
            .await?;
            self.read_until[0] = Some(to);
            for m in self.models.values_mut() {
                m.close_slots(to);
            }
        }
        let hours_from = self.read_until[1].map_or(today, |u| u.max(today));
        if let Some(to) = hour_wm.filter(|to| *to > hours_from) {
            let models = &mut self.models;
            view.each_fleet_rollup(Granularity::Hour, hours_from, to, |r| {
                if let Some(entry) = entry_of(models, &r.model_key) {
                    entry.hours.push_back(Kept::of(&r));
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
                    entry.days.push_back(Kept::of(&r));
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
        let first_slot = sparkline_first_slot(now);
        let covered = hour_wm
            .unwrap_or(today)
            .max(now - Duration::hours(WHOLE_MINUTES_HOURS));
        for m in self.models.values_mut() {
            while m.slot_medians.front().is_some_and(|(s, _)| *s < first_slot) {
                m.slot_medians.pop_front();
            }
            while m.minutes.front().is_some_and(|r| r.starts_before(covered)) {
                m.minutes.pop_front();
            }
            while m.hours.front().is_some_and(|r| r.starts_before(today)) {
                m.hours.pop_front();
            }
            while m
                .days
                .front()
                .is_some_and(|r| r.starts_before(days_horizon))
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
                sparkline: vec![None; SPARKLINE_POINTS],
                days: Vec::new(),
            };
        };
        let sparkline = m.sparkline(now);
        let today = Granularity::Day.bucket_start(now);
        let mut days: Vec<DayFigures> = m
            .days
            .iter()
            .filter(|d| d.starts_before(now))
            .map(Kept::day)
            .collect();
        if !days.iter().any(|d| d.start == today) {
            let hours: Vec<Kept> = m.hours.iter().copied().collect();
            let minutes: Vec<Kept> = m.minutes.iter().copied().collect();
            days.extend(today_so_far(&hours, &minutes, now));
        }
        Figures {
            last_probe_at: m.last_probe_at,
            ttft_now_ms: m.latest_ok_ttft.filter(|_| m.since_ok < LATEST_OK_WITHIN),
            sparkline,
            days,
        }
    }

    /// First-token medians held (closed slots' and open minutes'), all models together.
    pub fn medians(&self) -> usize {
        self.models
            .values()
            .map(|m| m.slot_medians.len() + m.open_minutes.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollups::day_so_far;

    fn rollup(g: Granularity, start: DateTime<Utc>, i: u32) -> Rollup {
        let mut by_outcome = [0; 11];
        by_outcome[0] = 20 + i % 7; // ok
        by_outcome[3] = i % 3; // a provider fault
        by_outcome[7] = i % 2; // rate limited: not a provider fault
        Rollup {
            model_key: String::new(),
            granularity: g,
            bucket_start: start,
            probes: by_outcome.iter().sum(),
            by_outcome,
            ttft_p50: (i % 5 != 0).then_some(400 + 37 * (i % 11)),
            ttft_p95: (i % 5 != 0).then_some(900 + 53 * (i % 13)),
            ttft_p99: None,
            total_p50: None,
            total_p95: None,
            total_p99: None,
        }
    }

    /// What the cache keeps gives the figures `day_so_far` computes from whole rollups.
    #[test]
    fn today_so_far_from_kept_buckets_is_day_so_far() {
        let now: DateTime<Utc> = "2026-12-04T05:17:40Z".parse().unwrap();
        let today = Granularity::Day.bucket_start(now);
        let hours: Vec<Rollup> = (0..4)
            .map(|h| rollup(Granularity::Hour, today + Duration::hours(h), h as u32))
            .collect();
        // Minutes of the last two hours: some inside the hour rollups, some after them.
        let minutes: Vec<Rollup> = (0..77)
            .map(|m| {
                let at = now - Duration::minutes(77 - m) - Duration::seconds(40);
                rollup(Granularity::Minute, at, m as u32)
            })
            .collect();
        let whole = day_so_far(&hours, &minutes, now).unwrap();
        let kept_hours: Vec<Kept> = hours.iter().map(Kept::of).collect();
        let kept_minutes: Vec<Kept> = minutes.iter().map(Kept::of).collect();
        let kept = today_so_far(&kept_hours, &kept_minutes, now).unwrap();
        assert_eq!(
            (kept.start, kept.probes, kept.failures),
            (whole.bucket_start, whole.probes, whole.provider_faults())
        );
        assert_eq!(
            (kept.ttft_p50_ms, kept.ttft_p95_ms),
            (whole.ttft_p50, whole.ttft_p95)
        );
        assert!(kept.failures > 0 && kept.failures < kept.probes);
        assert_eq!(today_so_far(&[], &[], now), None);
    }
}
