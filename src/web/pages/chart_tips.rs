//! A latency chart's exact figures: the plot is cut into at most [`MAX_TIPS`] columns of
//! round length, and each column that holds data carries a `<title>` (the browser's
//! tooltip) with its time, p50 and p95, probes and failures.
//!
//! One tooltip per point would be 1,440 titles on a day's chart of minute rollups, most of a
//! megabyte on a page with eight charts; columns keep the page small and each column's
//! figures stay exact: a lone point's own values, or the range of the points' p50 and the
//! highest p95 (the value the axis must reach), with the probes and failures summed.

use chrono::{DateTime, Duration, Utc};

use super::chart::{Metric, TIME_STEPS};
use super::svg::round1;
use crate::vocabulary::evidence::ms;
use crate::web::snapshot::LatencyPoint;

/// The most hover columns a chart has: wide enough to point at on a phone (about ten pixels
/// each at 360 px), few enough to keep the model page light.
pub const MAX_TIPS: i64 = 30;

/// The longest column: a day. Column lengths are the time axis's round steps up to it
/// ([`TIME_STEPS`]), so tooltips read "14:00–15:00" like the ticks.
const LONGEST: i64 = 86400;

/// One hover column: its left edge and width in SVG units, and its tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct Tip {
    pub x: f64,
    pub width: f64,
    pub title: String,
}

/// The hover columns of the points (oldest first, all within `[start, end]`) of a chart
/// whose time axis `x_of` maps `[start, end]` onto the plot.
pub fn tips(
    points: &[&LatencyPoint],
    metric: Metric,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: Duration,
    x_of: &dyn Fn(DateTime<Utc>) -> f64,
) -> Vec<Tip> {
    let span = (end - start).num_seconds().max(1);
    let width = TIME_STEPS
        .into_iter()
        .take_while(|w| *w <= LONGEST)
        .find(|w| *w >= bucket.num_seconds() && span / w <= MAX_TIPS)
        .unwrap_or(LONGEST.max(span / MAX_TIPS + 1));
    // Columns are aligned to whole widths since the epoch, like the axis ticks.
    let column = |at: DateTime<Utc>| at.timestamp().div_euclid(width);
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let c = column(points[i].at);
        let n = points[i..]
            .iter()
            .take_while(|p| column(p.at) == c)
            .count()
            .max(1);
        let group = &points[i..i + n];
        i += n;
        let from = DateTime::from_timestamp(c * width, 0)
            .unwrap_or(start)
            .max(start);
        let to = DateTime::from_timestamp((c + 1) * width, 0)
            .unwrap_or(end)
            .min(end);
        let (x0, x1) = (x_of(from), x_of(to));
        out.push(Tip {
            x: round1(x0),
            width: round1((x1 - x0).max(1.0)),
            title: title(group, metric, from, to, span),
        });
    }
    out
}

/// The words of one column: a lone point's time and figures, or a stretch's.
fn title(
    group: &[&LatencyPoint],
    metric: Metric,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    span: i64,
) -> String {
    let fmt = if span > 86400 { "%m-%d %H:%M" } else { "%H:%M" };
    let when = match group {
        [one] => one.at.format(fmt).to_string(),
        _ => format!("{}–{}", from.format(fmt), to.format("%H:%M")),
    };
    let p50: Vec<u32> = group.iter().filter_map(|p| metric.pick(p).0).collect();
    let p95 = group.iter().filter_map(|p| metric.pick(p).1).max();
    let p50 = match (p50.iter().min(), p50.iter().max()) {
        (Some(lo), Some(hi)) if lo != hi => format!("{}–{}", ms(*lo), ms(*hi)),
        (Some(v), _) => ms(*v),
        _ => "—".into(),
    };
    let p95 = match p95 {
        Some(v) if group.len() > 1 => format!("up to {}", ms(v)),
        Some(v) => ms(v),
        None => "—".into(),
    };
    let probes: u64 = group.iter().map(|p| u64::from(p.probes)).sum();
    let failures: u64 = group.iter().map(|p| u64::from(p.failures)).sum();
    format!(
        "{when} UTC · p50 {p50}, p95 {p95} · {probes} {}, {failures} {}",
        if probes == 1 { "probe" } else { "probes" },
        if failures == 1 { "failure" } else { "failures" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn point(at: DateTime<Utc>, p50: u32, p95: u32, failures: u32) -> LatencyPoint {
        LatencyPoint {
            at,
            probes: 6,
            failures,
            ttft_p50_ms: Some(p50),
            ttft_p95_ms: Some(p95),
            total_p50_ms: None,
            total_p95_ms: None,
        }
    }

    #[test]
    fn columns_give_exact_figures_and_stay_few() {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let end = start + Duration::hours(24);
        // A day of minutes: 1,440 points in at most 30 columns (hours here).
        let day: Vec<LatencyPoint> = (0..1440)
            .map(|m| point(start + Duration::minutes(m), 500 + m as u32 % 60, 900, 0))
            .collect();
        let refs: Vec<&LatencyPoint> = day.iter().collect();
        let x_of = |at: DateTime<Utc>| (at - start).num_seconds() as f64 / 86400.0 * 240.0;
        let t = tips(&refs, Metric::Ttft, start, end, Duration::minutes(1), &x_of);
        assert_eq!(t.len(), 24);
        assert_eq!((t[1].x, t[1].width), (10.0, 10.0));
        assert_eq!(
            t[0].title,
            "00:00–01:00 UTC · p50 500 ms–559 ms, p95 up to 900 ms · 360 probes, 0 failures"
        );
        // A lone point has its own time and values; the highest p95 is never hidden.
        let few = [
            point(start, 700, 4200, 1),
            point(start + Duration::minutes(5), 800, 1000, 0),
        ];
        let refs: Vec<&LatencyPoint> = few.iter().collect();
        let end = start + Duration::minutes(10);
        let x_of = |at: DateTime<Utc>| (at - start).num_seconds() as f64;
        let t = tips(&refs, Metric::Ttft, start, end, Duration::minutes(1), &x_of);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].title,
            "00:00 UTC · p50 700 ms, p95 4.2 s · 6 probes, 1 failure"
        );
        assert!(tips(&[], Metric::Total, start, end, Duration::hours(1), &x_of).is_empty());
        let t = tips(&refs, Metric::Total, start, end, Duration::hours(1), &x_of);
        assert!(t[0].title.contains("p50 —, p95 —"), "{}", t[0].title);
    }
}
