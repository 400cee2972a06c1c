//! The front page's small graphics as plain data: sparkline geometry for inline SVG and the
//! shared line helpers (coordinates, `points` strings), and the daily uptime bars (state,
//! tooltip and a summary in words; CSS lays them out). The templates emit
//! the elements, so no markup is built here and every text still passes through askama's
//! escaping. Latency charts with axes are in [`super::chart`].

use super::{ms_text, pct, state_view, StateView};
use crate::vocabulary::evidence::ms;
use crate::vocabulary::ModelState;
use crate::web::snapshot::DayBar;

/// Rounds to one decimal: enough for SVG user units, and keeps the markup short.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Joins runs of present values into polyline `points` strings; a missing value breaks the
/// line, because drawing across a gap would invent figures we never measured.
/// `xy` maps an index and value to coordinates.
pub fn segments(values: &[Option<f64>], xy: impl Fn(usize, f64) -> (f64, f64)) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64)>, out: &mut Vec<String>| {
        // A lone point would draw nothing as a polyline: give it a short horizontal tick.
        if run.len() == 1 {
            let (x, y) = run[0];
            run.clear();
            run.extend([(x - 0.5, y), (x + 0.5, y)]);
        }
        if !run.is_empty() {
            let pts: Vec<String> = run
                .iter()
                .map(|(x, y)| format!("{},{}", round1(*x), round1(*y)))
                .collect();
            out.push(pts.join(" "));
        }
        run.clear();
    };
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => run.push(xy(i, *v)),
            None => flush(&mut run, &mut out),
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The 24-hour sparkline of a model row.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparkline {
    pub width: u32,
    pub height: u32,
    pub lines: Vec<String>,
    pub label: String,
    /// Shown instead of the line while there are too few points to draw one.
    pub note: Option<&'static str>,
}

pub const SPARK_W: u32 = 96;
pub const SPARK_H: u32 = 24;
/// The fewest 15-minute medians drawn as a line: an hour's worth. Fewer, across a day's
/// width, would be a dot at the right edge that reads as a glitch rather than a trend.
pub const SPARK_MIN_POINTS: usize = 4;

/// Scales values into a `SPARK_W`×`SPARK_H` box: zero at the bottom, the day's maximum at
/// the top (with a pixel of margin so the stroke is not clipped). With fewer than
/// [`SPARK_MIN_POINTS`] values it draws nothing and says so.
pub fn sparkline(values: &[Option<u32>]) -> Sparkline {
    let present: Vec<u32> = values.iter().flatten().copied().collect();
    if present.len() < SPARK_MIN_POINTS {
        let (note, words) = if present.is_empty() {
            ("No data yet", "no data")
        } else {
            ("Not enough data yet", "not enough data yet")
        };
        return Sparkline {
            width: SPARK_W,
            height: SPARK_H,
            lines: Vec::new(),
            label: format!("Time to first token over the last 24 hours: {words}"),
            note: Some(note),
        };
    }
    let max = present.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(2) as f64;
    let (w, h) = (SPARK_W as f64, SPARK_H as f64);
    let floats: Vec<Option<f64>> = values.iter().map(|v| v.map(f64::from)).collect();
    let lines = segments(&floats, |i, v| {
        (i as f64 * w / (n - 1.0), h - 1.0 - v / max * (h - 2.0))
    });
    let label = match (present.iter().min(), present.iter().max(), present.last()) {
        (Some(lo), Some(hi), Some(last)) => format!(
            "Time to first token over the last 24 hours: between {} and {}, latest {}",
            ms(*lo),
            ms(*hi),
            ms(*last)
        ),
        _ => "Time to first token over the last 24 hours: no data".to_string(),
    };
    Sparkline {
        width: SPARK_W,
        height: SPARK_H,
        lines,
        label,
        note: None,
    }
}

/// One day's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub state: StateView,
    pub tooltip: String,
}

/// The 90 uptime bars of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBars {
    /// Oldest day first.
    pub bars: Vec<Bar>,
    pub label: String,
}

pub fn day_bars(days: &[DayBar], uptime: Option<f64>) -> DayBars {
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| Bar {
            state: state_view(d.worst),
            tooltip: day_tooltip(d),
        })
        .collect();
    // The summary counts days per state so the strip says in words what its colours say.
    let mut counts: Vec<(ModelState, usize)> = Vec::new();
    for d in days {
        match counts.iter_mut().find(|(s, _)| *s == d.worst) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.worst, 1)),
        }
    }
    counts.sort_by_key(|(s, _)| (s.severity().map_or(9, |v| 3 - v), s.as_str()));
    let parts: Vec<String> = counts
        .iter()
        .map(|(s, n)| {
            let what = if *s == ModelState::Unknown {
                "without data".to_string()
            } else {
                s.label().to_lowercase()
            };
            format!("{n} {} {what}", if *n == 1 { "day" } else { "days" })
        })
        .collect();
    let label = format!(
        "Uptime over the last {} days: {}; {}",
        days.len(),
        uptime.map(pct).unwrap_or_else(|| "no data".into()),
        if parts.is_empty() {
            "no days".to_string()
        } else {
            parts.join(", ")
        }
    );
    DayBars { bars, label }
}

/// The tooltip of one bar: date, state, uptime, incidents and latency, in words.
pub fn day_tooltip(d: &DayBar) -> String {
    let mut parts = vec![d.date.format("%Y-%m-%d").to_string()];
    if d.worst == ModelState::Unknown && d.probes == 0 {
        parts.push("no data".into());
        return parts.join(" · ");
    }
    parts.push(d.worst.label().to_string());
    let so_far = if d.so_far { " so far" } else { "" };
    parts.push(match d.uptime {
        Some(u) => format!("uptime{so_far} {}", pct(u)),
        None => "uptime: no counted probes".into(),
    });
    parts.push(match d.incidents.len() {
        0 => "no incidents".into(),
        n => {
            let ids: Vec<String> = d.incidents.iter().map(|i| format!("#{i}")).collect();
            let noun = if n == 1 { "incident" } else { "incidents" };
            format!("{n} {noun} ({})", ids.join(", "))
        }
    });
    // Today's percentiles are estimated from hourly and minute rollups (see `day_so_far`).
    let figure = |v: Option<u32>| match v {
        Some(_) if d.so_far => format!("≈{}", ms_text(v)),
        _ => ms_text(v),
    };
    parts.push(format!(
        "TTFT p50 {}, p95 {}",
        figure(d.ttft_p50_ms),
        figure(d.ttft_p95_ms)
    ));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_lines_and_lone_points_get_a_tick() {
        let v = [Some(1.0), Some(2.0), None, Some(3.0), None, None];
        let lines = segments(&v, |i, v| (i as f64, v * 10.0));
        assert_eq!(lines, vec!["0,10 1,20".to_string(), "2.5,30 3.5,30".into()]);
        assert!(segments(&[None, None], |i, v| (i as f64, v)).is_empty());
    }

    #[test]
    fn sparkline_scales_into_its_box() {
        let s = sparkline(&[Some(0), Some(500), Some(1000), Some(500), None]);
        // Zero sits at the bottom (minus the stroke margin), the maximum at the top.
        assert_eq!(s.lines, vec!["0,23 24,12 48,1 72,12".to_string()]);
        assert!(s.label.contains("between 0 ms and 1.0 s"), "{}", s.label);
        assert_eq!(s.note, None);
        let none = sparkline(&[None; 4]);
        assert!(none.label.ends_with("no data"));
        assert_eq!(none.note, Some("No data yet"));
        // Too few points for a line: nothing drawn, and the label says why.
        let few = sparkline(&[None, None, Some(700), Some(900)]);
        assert!(few.lines.is_empty());
        assert_eq!(few.note, Some("Not enough data yet"));
        assert!(few.label.ends_with("not enough data yet"), "{}", few.label);
    }

    #[test]
    fn day_bars_have_states_tooltips_and_a_summary() {
        let date = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        let day = |worst, probes, incidents: Vec<i64>| DayBar {
            date,
            worst,
            uptime: (probes > 0).then_some(0.9995),
            probes,
            failures: 1,
            ttft_p50_ms: Some(700),
            ttft_p95_ms: Some(1200),
            so_far: false,
            incidents,
        };
        let days = [
            day(ModelState::Unknown, 0, vec![]),
            day(ModelState::Operational, 100, vec![]),
            day(ModelState::PartialOutage, 100, vec![7]),
        ];
        let b = day_bars(&days, Some(0.99));
        assert_eq!(
            b.bars.iter().map(|b| b.state.class).collect::<Vec<_>>(),
            ["unknown", "operational", "partial_outage"],
            "oldest first"
        );
        assert_eq!(b.bars[0].tooltip, "2025-03-01 · no data");
        assert_eq!(
            b.bars[2].tooltip,
            "2025-03-01 · Partial outage · uptime 99.95% · 1 incident (#7) · TTFT p50 700 ms, p95 1.2 s"
        );
        assert_eq!(
            b.label,
            "Uptime over the last 3 days: 99.00%; 1 day partial outage, 1 day operational, 1 day without data"
        );
        let today = DayBar {
            so_far: true,
            ..day(ModelState::Operational, 10, vec![])
        };
        assert_eq!(
            day_tooltip(&today),
            "2025-03-01 · Operational · uptime so far 99.95% · no incidents · TTFT p50 ≈700 ms, p95 ≈1.2 s"
        );
    }
}
