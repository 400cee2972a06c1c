//! Latency charts as plain data: p50 and p95 polylines, value and time axes with round
//! ticks. The model page's template draws them (see `chart` in `public/macros.html`).

use chrono::{DateTime, Duration, Utc};

use super::ms_text;
use super::svg::{round1, segments};
use crate::vocabulary::evidence::ms;
use crate::web::snapshot::LatencyPoint;

/// A tick on an axis: position in SVG units and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub pos: f64,
    /// SVG `text-anchor`: labels at the plot's ends are anchored inwards so they are not
    /// clipped by the edge of the image.
    pub anchor: &'static str,
    pub label: String,
}

/// Steps for time axes, smallest first.
const TIME_STEPS: [i64; 11] = [
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

/// A point drawn with its exact figures as a tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    /// "14:05 · p50 700 ms · p95 1.2 s · 30 probes, 2 failed".
    pub title: String,
}

/// Charts with at most this many points mark every point; longer ones mark the highest p95
/// and the latest point, so the page stays light while its key values are exact.
const MARK_EVERY_POINT_UP_TO: usize = 60;

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
    /// Points with their exact values (see [`MARK_EVERY_POINT_UP_TO`]).
    pub marks: Vec<Mark>,
    pub label: String,
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

/// A point's p50 and p95.
type Pair = (Option<u32>, Option<u32>);

/// Which latency of a [`LatencyPoint`] a chart shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Ttft,
    Total,
}

impl Metric {
    fn pick(self, p: &LatencyPoint) -> Pair {
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

/// The start of a chart's time axis: the period's start or, when the data begins later (a new
/// deployment, a model added today), one bucket before the first point, so the data spans
/// the chart instead of a sliver at its right edge. At least ten buckets are shown.
pub fn fitted_start(
    points: &[LatencyPoint],
    period_start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: Duration,
) -> DateTime<Utc> {
    match points.iter().map(|p| p.at).min() {
        None => period_start,
        Some(first) => (first - bucket).min(end - bucket * 10).max(period_start),
    }
}

/// Lays out one chart over `[start, end]`. Points further apart than two buckets are not
/// joined: the gap is missing data, not a straight trend.
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
                label: ms(v.round() as u32),
            }
        })
        .collect();
    let x_ticks = time_ticks(start, end)
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
    let mark_at = |i: usize| {
        let p = &points[i];
        let (p50, p95) = values[i];
        let y = p95.or(p50)?;
        let fmt = if bucket >= Duration::hours(1) {
            "%m-%d %H:%M"
        } else {
            "%H:%M"
        };
        Some(Mark {
            x: round1(x_of(p.at)),
            y: round1(y_of(f64::from(y))),
            title: format!(
                "{} · p50 {} · p95 {} · {} probes, {} failed",
                p.at.format(fmt),
                ms_text(p50),
                ms_text(p95),
                p.probes,
                p.failures
            ),
        })
    };
    let marked: Vec<usize> = if points.len() <= MARK_EVERY_POINT_UP_TO {
        (0..points.len()).collect()
    } else {
        let highest = (0..points.len()).max_by_key(|i| values[*i].1.or(values[*i].0));
        let mut m: Vec<usize> = highest.into_iter().chain([points.len() - 1]).collect();
        m.dedup();
        m
    };
    let marks = marked.into_iter().filter_map(mark_at).collect();
    let p50_max = values.iter().filter_map(|v| v.0).max();
    let p95_max = values.iter().filter_map(|v| v.1).max();
    let empty = p50_max.is_none() && p95_max.is_none();
    let label = if empty {
        format!("{}, {period}: no data", metric.title())
    } else {
        format!(
            "{}, {period}: p50 up to {}, p95 up to {}",
            metric.title(),
            ms_text(p50_max),
            ms_text(p95_max)
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
        marks,
        label,
        empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The x coordinates of every vertex of a chart's p50 lines.
    fn xs(chart: &LineChart) -> Vec<f64> {
        chart
            .p50
            .iter()
            .flat_map(|l| {
                l.split(' ')
                    .map(|xy| xy.split(',').next().unwrap().parse().unwrap())
            })
            .collect()
    }

    /// Five minutes of data on the 24-hour chart span most of its width, not a sliver at
    /// its right edge; the axis still starts at the period's start once a day exists.
    #[test]
    fn the_time_axis_fits_the_data_that_exists() {
        let end = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let minute = Duration::minutes(1);
        let points: Vec<LatencyPoint> =
            (1..=5).map(|m| point(end - minute * m, 700, 800)).collect();
        let mut sorted = points.clone();
        sorted.reverse();
        let start = fitted_start(&sorted, end - Duration::hours(24), end, minute);
        assert_eq!(start, end - Duration::minutes(10));
        let chart = line_chart(&sorted, Metric::Ttft, "last 24 hours", start, end, minute);
        let xs = xs(&chart);
        let (min, max) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        assert!(
            max - min > (chart.right - chart.left) / 3.0,
            "{xs:?} in {}..{}",
            chart.left,
            chart.right
        );
        // Before: the whole day, so five minutes were 0.3% of the width.
        let day = line_chart(
            &sorted,
            Metric::Ttft,
            "last 24 hours",
            end - Duration::hours(24),
            end,
            minute,
        );
        let xs = super::tests::xs(&day);
        let spread = xs.iter().cloned().fold(f64::MIN, f64::max)
            - xs.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread < 2.0, "{spread}");
        let long: Vec<LatencyPoint> = (0..30)
            .map(|h| point(end - Duration::hours(30 - h), 700, 800))
            .collect();
        assert_eq!(
            fitted_start(&long, end - Duration::hours(24), end, minute),
            end - Duration::hours(24)
        );
        assert_eq!(
            fitted_start(&[], end - Duration::hours(24), end, minute),
            end - Duration::hours(24)
        );
    }

    /// Short charts give every point's exact figures as a tooltip; long ones the highest
    /// and the latest.
    #[test]
    fn points_carry_their_exact_values() {
        let end = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let minute = Duration::minutes(1);
        let few = vec![
            point(end - minute * 3, 900, 1000),
            point(end - minute * 2, 4200, 4300),
        ];
        let chart = line_chart(&few, Metric::Ttft, "x", end - minute * 10, end, minute);
        let titles: Vec<&str> = chart.marks.iter().map(|m| m.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "11:57 · p50 900 ms · p95 1.0 s · 60 probes, 0 failed",
                "11:58 · p50 4.2 s · p95 4.3 s · 60 probes, 0 failed"
            ]
        );
        let day: Vec<LatencyPoint> = (0..600)
            .map(|m| {
                point(
                    end - minute * (600 - m),
                    500 + (m % 7) as u32,
                    if m == 123 { 9000 } else { 800 },
                )
            })
            .collect();
        let chart = line_chart(
            &day,
            Metric::Ttft,
            "x",
            end - Duration::hours(24),
            end,
            minute,
        );
        assert_eq!(chart.marks.len(), 2, "{:?}", chart.marks);
        assert!(
            chart.marks[0].title.contains("p95 9.0 s"),
            "{:?}",
            chart.marks[0]
        );
        assert!(
            chart.marks[1].title.starts_with("11:59 "),
            "{:?}",
            chart.marks[1]
        );
    }

    /// The value axis tops above the highest value plotted, p95 included.
    #[test]
    fn the_value_axis_tops_above_the_highest_value() {
        let end = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let minute = Duration::minutes(1);
        let points = vec![
            point(end - minute * 3, 900, 1000),
            point(end - minute * 2, 4200, 4300),
        ];
        let chart = line_chart(&points, Metric::Ttft, "x", end - minute * 10, end, minute);
        let top = chart.y_ticks.last().unwrap();
        assert_eq!(top.label, "5.0 s", "{:?}", chart.y_ticks);
        assert!(chart.label.contains("p95 up to 4.3 s"), "{}", chart.label);
    }

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
}
