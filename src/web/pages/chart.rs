//! Latency charts as plain data: p50 and p95 polylines, value and time axes with round
//! ticks, and hover columns with each stretch's exact figures ([`super::chart_tips`]). The
//! model page's template draws them (see `chart` in `public/macros.html`).
//!
//! The value axis always reaches past the highest plotted value (p95 included), so nothing
//! is clipped; the time axis covers the period, or only what exists of it (at least
//! [`MIN_SPAN_MINUTES`]) for a model probed for less than the period, so a new deployment's
//! data spans the chart instead of being squeezed against its right edge.

use chrono::{DateTime, Duration, Utc};

use super::chart_tips::{tips, Tip};
use super::ms_text;
use super::svg::{round1, segments};
use crate::web::snapshot::LatencyPoint;

/// The shortest time axis: a deployment probed for a minute gets a few minutes of axis
/// (ticks a minute apart), not one bucket stretched across the whole width.
pub const MIN_SPAN_MINUTES: i64 = 5;

/// A tick on an axis: position in SVG units and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub pos: f64,
    /// SVG `text-anchor`: labels at the plot's ends are anchored inwards so they are not
    /// clipped by the edge of the image.
    pub anchor: &'static str,
    pub label: String,
}

/// Steps for time axes, smallest first (also the hover columns' lengths, `chart_tips`).
pub(super) const TIME_STEPS: [i64; 15] = [
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    2 * 3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
];

/// Round times between `start` and `end` (at most six), each with its label: the smallest
/// step that needs no more than five intervals, aligned to whole steps since the epoch so
/// labels read 00:00, 06:00… rather than wherever "now" happens to fall.
pub fn time_ticks(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    let span = (end - start).num_seconds().max(1);
    let step = TIME_STEPS
        .into_iter()
        .find(|s| span / s <= 5)
        .unwrap_or(TIME_STEPS[TIME_STEPS.len() - 1]);
    let fmt = if step < 86400 { "%H:%M" } else { "%m-%d" };
    let first = start.timestamp().div_euclid(step) * step
        + if start.timestamp().rem_euclid(step) == 0 {
            0
        } else {
            step
        };
    (0..)
        .map(|k| first + k * step)
        .take_while(|t| *t <= end.timestamp())
        .filter_map(|t| DateTime::from_timestamp(t, 0))
        .map(|at| (at, at.format(fmt).to_string()))
        .collect()
}

/// Anchors a label at `pos` so it stays inside `[left, right]` (labels are ~30 units wide).
fn anchor(pos: f64, left: f64, right: f64) -> &'static str {
    if pos < left + 15.0 {
        "start"
    } else if pos > right - 15.0 {
        "end"
    } else {
        "middle"
    }
}

/// A latency chart with p50 and p95 lines.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub width: u32,
    pub height: u32,
    /// The plot area: left, right, top, bottom.
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub p50: Vec<String>,
    pub p95: Vec<String>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    /// Hover columns with the exact figures of their stretch of time, as `<title>`s.
    pub tips: Vec<Tip>,
    pub label: String,
    /// Set when the data covers less than the period and the axis starts where it begins.
    pub note: Option<String>,
    pub empty: bool,
}

// Small user units on purpose: on a phone the chart is drawn about 1:1, so its 10-unit
// tick labels stay legible; wider screens only scale it up.
const CHART_W: u32 = 320;
const CHART_H: u32 = 160;
const MARGIN_LEFT: f64 = 48.0;
const MARGIN_RIGHT: f64 = 8.0;
const MARGIN_TOP: f64 = 8.0;
const MARGIN_BOTTOM: f64 = 22.0;

/// The smallest 1, 2, 2.5 or 5 × 10ⁿ at least `v`: round axis maxima read easily.
pub fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * mag)
}

/// How many intervals divide an axis from 0 to a [`nice_ceil`] maximum into round steps:
/// 2.5 and 5 split in fives (0.5, 1), 1 and 2 in fours (0.25, 0.5).
pub fn tick_intervals(max: f64) -> u32 {
    let lead = max / 10f64.powf(max.log10().floor());
    if (lead - 2.5).abs() < 1e-9 || (lead - 5.0).abs() < 1e-9 {
        5
    } else {
        4
    }
}

/// An axis value in words, as [`crate::vocabulary::evidence::ms`] writes latencies (whole
/// milliseconds below a second, else seconds with one decimal), without its `u32` limit:
/// the axis of a huge value still reads true.
pub fn axis_label(v: f64) -> String {
    if v < 1000.0 {
        format!("{} ms", v.round())
    } else {
        format!("{:.1} s", v / 1000.0)
    }
}

/// Where a chart of the period `[start, end]` starts: at the first point when the data
/// begins well after `start` (a new deployment), with at least [`MIN_SPAN_MINUTES`] and five
/// buckets of axis (an hourly chart's single hour is not stretched across it). Data missing from only the first tenth of the period keeps the whole period: the oldest
/// hour rollup always starts a little after a week ago, and an axis that moved every minute
/// for a model probed for 23 hours would read worse than a short gap.
pub fn fitted_start(
    points: &[LatencyPoint],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: Duration,
) -> DateTime<Utc> {
    let first = points
        .iter()
        .map(|p| p.at)
        .filter(|at| *at >= start && *at <= end)
        .min();
    match first {
        Some(first) if first - start > (end - start) / 10 => first
            .min(end - Duration::minutes(MIN_SPAN_MINUTES).max(bucket * 5))
            .max(start),
        _ => start,
    }
}

/// A point's p50 and p95.
type Pair = (Option<u32>, Option<u32>);

/// Which latency of a [`LatencyPoint`] a chart shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Ttft,
    Total,
}

impl Metric {
    pub(super) fn pick(self, p: &LatencyPoint) -> Pair {
        match self {
            Metric::Ttft => (p.ttft_p50_ms, p.ttft_p95_ms),
            Metric::Total => (p.total_p50_ms, p.total_p95_ms),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Metric::Ttft => "Time to first token",
            Metric::Total => "Total latency",
        }
    }
}

/// Lays out one chart of the period `[start, end]` (shortened to what exists, see
/// [`fitted_start`]); points outside it are left out. Points further apart than two buckets
/// are not joined: the gap is missing data, not a straight trend.
pub fn line_chart(
    points: &[LatencyPoint],
    metric: Metric,
    period: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: Duration,
) -> LineChart {
    let (left, right) = (MARGIN_LEFT, CHART_W as f64 - MARGIN_RIGHT);
    let (top, bottom) = (MARGIN_TOP, CHART_H as f64 - MARGIN_BOTTOM);
    let period_start = start;
    let start = fitted_start(points, start, end, bucket);
    let points: Vec<&LatencyPoint> = points
        .iter()
        .filter(|p| p.at >= start && p.at <= end)
        .collect();
    let span = (end - start).num_seconds().max(1) as f64;
    let values: Vec<Pair> = points.iter().map(|p| metric.pick(p)).collect();
    let max_raw = values
        .iter()
        .flat_map(|(a, b)| [*a, *b])
        .flatten()
        .max()
        .unwrap_or(0);
    // At least 100 ms, so an empty or flat chart still has distinct tick labels.
    let y_max = nice_ceil(max_raw.max(100) as f64);
    let x_of = |at: DateTime<Utc>| {
        let t = ((at - start).num_seconds() as f64 / span).clamp(0.0, 1.0);
        left + t * (right - left)
    };
    let y_of = |v: f64| bottom - (v / y_max).min(1.0) * (bottom - top);
    // Insert a break wherever consecutive points are more than two buckets apart.
    let series = |which: fn(&Pair) -> Option<u32>| {
        let mut xs = Vec::new();
        let mut vals = Vec::new();
        for (i, p) in points.iter().enumerate() {
            if i > 0 && p.at - points[i - 1].at > bucket * 2 {
                xs.push(0.0);
                vals.push(None);
            }
            xs.push(x_of(p.at));
            vals.push(which(&values[i]).map(f64::from));
        }
        segments(&vals, |i, v| (xs[i], y_of(v)))
    };
    let p50 = series(|v| v.0);
    let p95 = series(|v| v.1);
    let steps = tick_intervals(y_max);
    let y_ticks = (0..=steps)
        .map(|k| {
            let v = y_max * k as f64 / steps as f64;
            Tick {
                pos: round1(y_of(v)),
                anchor: "end",
                label: axis_label(v),
            }
        })
        .collect();
    let mut x_ticks: Vec<Tick> = time_ticks(start, end)
        .into_iter()
        .map(|(at, label)| {
            let pos = round1(x_of(at));
            Tick {
                pos,
                anchor: anchor(pos, left, right),
                label,
            }
        })
        .collect();
    // A shortened axis says where it starts, in place of the round ticks it would overlap.
    let shortened = start > period_start;
    let first = points.first().map_or(start, |p| p.at);
    let note = shortened.then(|| {
        let minutes = (end - start).num_minutes();
        let held = if minutes < 120 {
            format!("{minutes} minutes")
        } else {
            format!("{} hours", minutes / 60)
        };
        format!(
            "No figures before {} UTC: the axis covers only the last {held}",
            first.format("%m-%d %H:%M")
        )
    });
    if shortened {
        x_ticks.retain(|t| t.pos > left + 75.0);
        x_ticks.insert(
            0,
            Tick {
                pos: left,
                anchor: "start",
                label: format!("from {}", start.format("%H:%M")),
            },
        );
    }
    let tips = tips(&points, metric, start, end, bucket, &x_of);
    let p50_max = values.iter().filter_map(|v| v.0).max();
    let p95_max = values.iter().filter_map(|v| v.1).max();
    let empty = p50_max.is_none() && p95_max.is_none();
    let since = if shortened {
        format!(" (data from {} UTC)", first.format("%H:%M"))
    } else {
        String::new()
    };
    let label = if empty {
        format!("{}, {period}: no data", metric.title())
    } else {
        let latest = values.iter().rev().find(|v| v.0.is_some() || v.1.is_some());
        format!(
            "{}, {period}{since}: p50 up to {}, p95 up to {}; latest p50 {}, p95 {}; axis up to {}",
            metric.title(),
            ms_text(p50_max),
            ms_text(p95_max),
            ms_text(latest.and_then(|v| v.0)),
            ms_text(latest.and_then(|v| v.1)),
            axis_label(y_max)
        )
    };
    LineChart {
        width: CHART_W,
        height: CHART_H,
        left,
        right,
        top,
        bottom,
        p50,
        p95,
        y_ticks,
        x_ticks,
        tips,
        label,
        note,
        empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_ticks_fall_on_round_times() {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 11, 59, 0).unwrap();
        let labels =
            |end| -> Vec<String> { time_ticks(start, end).into_iter().map(|t| t.1).collect() };
        assert_eq!(
            labels(start + Duration::hours(24)),
            ["12:00", "18:00", "00:00", "06:00"]
        );
        // Seven days: every second day (aligned to the epoch), dated.
        assert_eq!(
            labels(start + Duration::days(7)),
            ["01-02", "01-04", "01-06", "01-08"]
        );
        // Thirty days: weekly, on the Thursdays the epoch started with.
        assert_eq!(
            labels(start + Duration::days(30)),
            ["01-02", "01-09", "01-16", "01-23", "01-30"]
        );
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(730.0), 1000.0);
        assert_eq!(nice_ceil(2100.0), 2500.0);
        assert_eq!(nice_ceil(4000.0), 5000.0);
        assert_eq!(nice_ceil(200.0), 200.0);
        let steps: Vec<u32> = [1000.0, 2000.0, 2500.0, 5000.0].map(tick_intervals).into();
        assert_eq!(steps, [4, 4, 5, 5]);
    }

    fn point(at: DateTime<Utc>, p50: u32, p95: u32) -> LatencyPoint {
        LatencyPoint {
            at,
            probes: 60,
            failures: 0,
            ttft_p50_ms: Some(p50),
            ttft_p95_ms: Some(p95),
            total_p50_ms: None,
            total_p95_ms: None,
        }
    }

    #[test]
    fn chart_maps_time_and_value_and_breaks_at_gaps() {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let end = start + Duration::hours(4);
        let pts = [
            point(start, 500, 1000),
            point(start + Duration::hours(1), 1000, 2000),
            // Two hours without a bucket: the line must break here.
            point(start + Duration::hours(4), 500, 1000),
        ];
        let c = line_chart(&pts, Metric::Ttft, "test", start, end, Duration::hours(1));
        // y: 2000 → axis max 2000; plot 8..138 high, 48..312 wide.
        assert_eq!(c.p95.len(), 2);
        assert_eq!(c.p95[0], "48,73 114,8");
        assert_eq!(c.p50[1], "311.5,105.5 312.5,105.5");
        assert_eq!(c.y_ticks.first().map(|t| t.pos), Some(138.0));
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("2.0 s"));
        let x: Vec<_> = c
            .x_ticks
            .iter()
            .map(|t| (t.pos, t.anchor, t.label.as_str()))
            .collect();
        assert_eq!(x[0], (48.0, "start", "00:00"));
        assert_eq!(x[2], (180.0, "middle", "02:00"));
        assert_eq!(x[4], (312.0, "end", "04:00"));
        assert!(
            !c.empty && c.label.contains("p95 up to 2.0 s"),
            "{}",
            c.label
        );
        let none = line_chart(&pts, Metric::Total, "test", start, end, Duration::hours(1));
        assert!(none.empty && none.p50.is_empty());
    }

    /// The highest value the axis labels, in milliseconds.
    fn axis_top(c: &LineChart) -> f64 {
        let top = &c.y_ticks.last().expect("ticks").label;
        match top.strip_suffix(" s") {
            Some(s) => s.parse::<f64>().unwrap() * 1000.0,
            None => top.trim_end_matches(" ms").parse().unwrap(),
        }
    }

    /// The leftmost and rightmost x of all polylines.
    fn extent(lines: &[String]) -> (f64, f64) {
        let xs: Vec<f64> = lines
            .iter()
            .flat_map(|l| l.split(' '))
            .filter_map(|p| p.split(',').next()?.parse().ok())
            .collect();
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    #[test]
    fn the_axis_reaches_past_the_highest_value() {
        let end = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let start = end - Duration::hours(24);
        // The demo's incident: a 4.2 s first token among sub-second ones.
        let pts: Vec<LatencyPoint> = (0..120)
            .map(|m| {
                let p95 = if m == 60 { 4200 } else { 900 };
                point(end - Duration::minutes(120 - m), 600, p95)
            })
            .collect();
        let c = line_chart(&pts, Metric::Ttft, "test", start, end, Duration::minutes(1));
        assert!(axis_top(&c) >= 4200.0, "{:?}", c.y_ticks);
        assert_eq!(c.y_ticks.last().unwrap().label, "5.0 s");
        // Nothing is drawn above the plot: the highest point is inside it.
        let ys: Vec<f64> = c
            .p95
            .iter()
            .flat_map(|l| l.split(' '))
            .filter_map(|p| p.split(',').nth(1)?.parse().ok())
            .collect();
        assert!(ys.iter().all(|y| *y >= c.top && *y <= c.bottom), "{ys:?}");
        assert!(c.label.contains("p95 up to 4.2 s"), "{}", c.label);
        assert!(c.label.contains("axis up to 5.0 s"), "{}", c.label);
        // Every tooltip's figure is within the axis too.
        assert!(c.tips.iter().any(|t| t.title.contains("p95 up to 4.2 s")));
    }

    #[test]
    fn a_new_deployment_spans_the_chart_instead_of_its_right_edge() {
        let end = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 30).unwrap();
        let first = Utc.with_ymd_and_hms(2025, 1, 1, 11, 55, 0).unwrap();
        // The demo five minutes after start: five minute rollups, in a 24-hour chart.
        let pts: Vec<LatencyPoint> = (0..5)
            .map(|m| point(first + Duration::minutes(m), 600, 900))
            .collect();
        let c = line_chart(
            &pts,
            Metric::Ttft,
            "last 24 hours",
            end - Duration::hours(24),
            end,
            Duration::minutes(1),
        );
        let (lo, hi) = extent(&c.p50);
        assert_eq!(lo, c.left, "the line starts at the axis");
        assert!(hi - lo > (c.right - c.left) / 2.0, "{:?}", c.p50);
        assert_eq!(c.x_ticks[0].label, "from 11:55");
        assert!(
            c.note.as_deref().unwrap_or_default().contains("11:55 UTC"),
            "{:?}",
            c.note
        );
        assert!(c.label.contains("(data from 11:55 UTC)"), "{}", c.label);
        // One minute of data gets the minimum span, with the point at its time.
        let c = line_chart(
            &pts[4..],
            Metric::Ttft,
            "x",
            end - Duration::hours(24),
            end,
            Duration::minutes(1),
        );
        assert_eq!(c.x_ticks[0].label, "from 11:55");
        // An hourly chart keeps five hours of axis for a deployment's first hour.
        let hour = [point(first - Duration::minutes(55), 600, 900)];
        let week = end - Duration::days(7);
        let c = line_chart(&hour, Metric::Ttft, "x", week, end, Duration::hours(1));
        assert_eq!(c.x_ticks[0].label, "from 07:00");
        assert!(
            c.note.as_deref().unwrap_or_default().contains("11:00 UTC"),
            "{:?}",
            c.note
        );
        // A full period is not shortened and says nothing of it.
        let old = [point(end - Duration::hours(23), 600, 900), pts[4].clone()];
        let c = line_chart(
            &old,
            Metric::Ttft,
            "x",
            end - Duration::hours(24),
            end,
            Duration::minutes(1),
        );
        assert_eq!(c.note, None);
        // Its first point, alone, is a tick half a unit either side of an hour in.
        assert_eq!(extent(&c.p50).0, 48.0 + 264.0 / 24.0 - 0.5);
    }

    #[test]
    fn gaps_are_gaps_in_a_minute_chart() {
        let end = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let pts: Vec<LatencyPoint> = [50, 49, 48, 20, 19]
            .into_iter()
            .map(|m| point(end - Duration::minutes(m), 600, 900))
            .collect();
        let c = line_chart(
            &pts,
            Metric::Ttft,
            "x",
            end - Duration::hours(1),
            end,
            Duration::minutes(1),
        );
        assert_eq!(c.p50.len(), 2, "{:?}", c.p50);
        assert_eq!(
            c.tips.len(),
            3,
            "one column per stretch with data: {:?}",
            c.tips
        );
    }

    #[test]
    fn nothing_panics_on_odd_data() {
        let end = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let start = end - Duration::days(30);
        let huge = point(end - Duration::minutes(1), u32::MAX, u32::MAX);
        let late = point(end + Duration::hours(1), 1, 1);
        for pts in [
            vec![],
            vec![huge.clone()],
            vec![huge.clone(), late],
            vec![huge.clone(), huge],
        ] {
            for bucket in [Duration::minutes(1), Duration::hours(1)] {
                let c = line_chart(&pts, Metric::Ttft, "x", start, end, bucket);
                if !c.empty {
                    assert!(axis_top(&c) >= f64::from(u32::MAX), "{:?}", c.y_ticks);
                }
                assert!(c.tips.len() <= 31);
            }
        }
        let c = line_chart(&[], Metric::Ttft, "x", end, end, Duration::minutes(1));
        assert!(c.empty && c.note.is_none());
    }
}
