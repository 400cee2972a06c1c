//! The front page's small graphics as plain data: sparkline geometry for inline SVG and the
//! shared line helpers (coordinates, `points` strings), and the daily uptime bars (state,
//! tooltip and a summary in words; CSS lays them out). The templates emit
//! the elements, so no markup is built here and every text still passes through askama's
//! escaping. Latency charts with axes are in [`super::chart`].

use super::{ms_text, pct};
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

/// The sparkline's box height in SVG units; its width is one unit a value. The SVG is
/// stretched to its CSS size (`preserveAspectRatio="none"`, strokes do not scale), so a box
/// of whole units lets every coordinate be a short integer: a day's line is about half the
/// bytes it was with one-decimal coordinates in a 96×24 box, at the same 1% precision.
pub const SPARK_H: u32 = 100;
/// The fewest 15-minute medians drawn as a line: two make a line, fewer would be a dot.
pub const SPARK_MIN_POINTS: usize = 2;
/// Minutes a sparkline value stands for (see `snapshot::sparkline`).
const SLOT_MINUTES: usize = 15;

/// Scales values into a box one unit wide a value and `SPARK_H` high. The box starts at the
/// first value there is, so a model probed for an hour shows that hour across the row rather
/// than a dot at its right edge; the label says how long the line covers. The value scale
/// is fitted to the row's own values (with a unit of margin so the stroke is not clipped),
/// though never to less than a fifth of its highest value, so noise of a few milliseconds
/// does not look like a swing. With fewer than [`SPARK_MIN_POINTS`] values it draws nothing
/// and says so.
pub fn sparkline(values: &[Option<u32>]) -> Sparkline {
    let present: Vec<u32> = values.iter().flatten().copied().collect();
    let first = values.iter().position(Option::is_some).unwrap_or(0);
    let covered = values.len().saturating_sub(first) * SLOT_MINUTES;
    let over = if first == 0 || covered >= 24 * 60 {
        "the last 24 hours".to_string()
    } else if covered < 120 {
        format!("the last {covered} minutes")
    } else {
        format!("the last {} hours", covered / 60)
    };
    if present.len() < SPARK_MIN_POINTS {
        let (note, words) = if present.is_empty() {
            ("No data yet", "no data")
        } else {
            ("Not enough data yet", "not enough data yet")
        };
        return Sparkline {
            width: values.len().max(2) as u32 - 1,
            height: SPARK_H,
            lines: Vec::new(),
            label: format!("Time to first token over the last 24 hours: {words}"),
            note: Some(note),
        };
    }
    let hi = present.iter().copied().max().unwrap_or(0) as f64;
    let lo = present.iter().copied().min().unwrap_or(0) as f64;
    let lo = lo.min(hi - (hi / 5.0).max(1.0));
    let h = SPARK_H as f64;
    let floats: Vec<Option<f64>> = values[first..].iter().map(|v| v.map(f64::from)).collect();
    let width = floats.len().max(2) as u32 - 1;
    let lines = segments(&floats, |i, v| {
        (
            i as f64,
            (h - 1.0 - (v - lo) / (hi - lo) * (h - 2.0)).round(),
        )
    });
    let label = match (present.iter().min(), present.iter().max(), present.last()) {
        (Some(lo), Some(hi), Some(last)) => format!(
            "Time to first token over {over}: between {} and {}, latest {}",
            ms(*lo),
            ms(*hi),
            ms(*last)
        ),
        _ => "Time to first token over the last 24 hours: no data".to_string(),
    };
    Sparkline {
        width,
        height: SPARK_H,
        lines,
        label,
        note: None,
    }
}

/// One day's bar: only its colour, as a one-letter class (see [`bar_class`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub class: &'static str,
}

/// The 90 uptime bars of a model.
///
/// The strip is most of the front page's weight (90 bars a model), so each bar carries
/// only its colour; the figures behind every day's tooltip travel once per strip in
/// [`DayBars::data`], and `static/bars.js` turns them into each bar's `title` (the same
/// words as [`day_tooltip`]). Without the script the strip still shows its colours and says
/// in words, through its label, what they add up to; the model page lists the days.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBars {
    /// Oldest day first.
    pub bars: Vec<Bar>,
    pub label: String,
    /// The first (oldest) day, `YYYY-MM-DD`; the days are consecutive.
    pub from: String,
    /// One entry a day, oldest first, separated by spaces (see [`day_data`]).
    pub data: String,
}

/// The bar's CSS class: empty for operational (the commonest day, so the lightest), one
/// letter for every other state. `static/bars.js` maps them back to the state's label.
pub fn bar_class(s: ModelState) -> &'static str {
    match s {
        ModelState::Operational => "",
        ModelState::DegradedPerformance => "d",
        ModelState::PartialOutage => "p",
        ModelState::MajorOutage => "m",
        ModelState::UnderMaintenance => "u",
        ModelState::Unknown => "n",
    }
}

/// A latency as `static/bars.js` expects it: whole milliseconds below a second, else
/// seconds with one decimal (the figure [`ms`] shows, without its unit; the dot tells them
/// apart). Empty when there is none.
fn compact_ms(v: Option<u32>) -> String {
    match v {
        None => String::new(),
        Some(v) if v < 1000 => v.to_string(),
        Some(v) => format!("{:.1}", v as f64 / 1000.0),
    }
}

/// One day's tooltip figures for `static/bars.js`: empty for a day without data, else
/// `[~]downtime,p50,p95[,incident.incident…]`, where `~` marks a day still in progress and
/// the downtime is 10,000 minus [`pct`]'s digits without the dot (`5` is 99.95% uptime):
/// most days are nearly all up, so it is one or two digits where the uptime takes four.
pub fn day_data(d: &DayBar) -> String {
    if d.worst == ModelState::Unknown && d.probes == 0 {
        return String::new();
    }
    let uptime = d
        .uptime
        .and_then(|u| {
            let hundredths: u32 = format!("{:.2}", u * 100.0).replace('.', "").parse().ok()?;
            Some(10_000u32.saturating_sub(hundredths).to_string())
        })
        .unwrap_or_default();
    let mut out = format!(
        "{}{uptime},{},{}",
        if d.so_far { "~" } else { "" },
        compact_ms(d.ttft_p50_ms),
        compact_ms(d.ttft_p95_ms)
    );
    if !d.incidents.is_empty() {
        let ids: Vec<String> = d.incidents.iter().map(|i| i.to_string()).collect();
        out.push(',');
        out.push_str(&ids.join("."));
    }
    out
}

pub fn day_bars(days: &[DayBar], uptime: Option<f64>) -> DayBars {
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| Bar {
            class: bar_class(d.worst),
        })
        .collect();
    let data: Vec<String> = days.iter().map(day_data).collect();
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
    DayBars {
        bars,
        label,
        from: days
            .first()
            .map(|d| d.date.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        data: data.join(" "),
    }
}

/// The tooltip of one bar: date, state, uptime, incidents and latency, in words. The page
/// builds the same words in `static/bars.js` from [`day_data`]; this is their reference.
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
        None => "uptime: state not yet known".into(),
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
        // The lowest value sits at the bottom (minus the stroke margin), the highest at the top.
        assert_eq!(s.lines, vec!["0,99 1,50 2,1 3,50".to_string()]);
        assert_eq!((s.width, s.height), (4, 100));
        assert!(s.label.contains("between 0 ms and 1.0 s"), "{}", s.label);
        assert_eq!(s.note, None);
        // The scale fits the row's values, down to a fifth of its highest.
        let s = sparkline(&[Some(800), Some(1000), Some(900)]);
        assert_eq!(s.lines, vec!["0,99 1,1 2,50".to_string()]);
        let flat = sparkline(&[Some(700), Some(700)]);
        assert_eq!(flat.lines, vec!["0,1 1,1".to_string()]);
        let none = sparkline(&[None; 4]);
        assert!(none.label.ends_with("no data"));
        assert_eq!(none.note, Some("No data yet"));
        // One point cannot make a line: nothing drawn, and the label says why.
        let one = sparkline(&[None, None, None, Some(900)]);
        assert!(one.lines.is_empty());
        assert_eq!(one.note, Some("Not enough data yet"));
        assert!(one.label.ends_with("not enough data yet"), "{}", one.label);
        // Two points at the end of the day span the row, and the label says over how long.
        let two = sparkline(&[None, None, Some(700), Some(900)]);
        assert_eq!(two.lines, vec!["0,99 1,1".to_string()]);
        assert_eq!(two.width, 1);
        assert!(
            two.label
                .starts_with("Time to first token over the last 30 minutes: between 700 ms"),
            "{}",
            two.label
        );
        let huge = sparkline(&[Some(u32::MAX), Some(0), Some(u32::MAX)]);
        assert_eq!(huge.lines, vec!["0,1 1,99 2,1".to_string()]);
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
            b.bars.iter().map(|b| b.class).collect::<Vec<_>>(),
            ["n", "", "p"],
            "oldest first"
        );
        assert_eq!(b.from, "2025-03-01");
        assert_eq!(b.data, " 5,700,1.2 5,700,1.2,7");
        assert_eq!(day_tooltip(&days[0]), "2025-03-01 · no data");
        assert_eq!(
            day_tooltip(&days[2]),
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
        assert_eq!(day_data(&today), "~5,700,1.2");
        let down = DayBar {
            uptime: Some(0.0),
            ..day(ModelState::MajorOutage, 10, vec![])
        };
        assert_eq!(day_data(&down), "10000,700,1.2");
        let quiet = DayBar {
            uptime: None,
            ttft_p50_ms: None,
            ttft_p95_ms: Some(1000),
            incidents: vec![3, 12],
            ..day(ModelState::Unknown, 4, vec![])
        };
        assert_eq!(day_data(&quiet), ",,1.0,3.12");
        assert_eq!(
            day_tooltip(&today),
            "2025-03-01 · Operational · uptime so far 99.95% · no incidents · TTFT p50 ≈700 ms, p95 ≈1.2 s"
        );
    }
}
