//! Uptime as Statuspage defines it: the share of time a model was up, from its state history
//! rather than from probe counts, so the figure agrees with the state shown beside it.
//!
//! Time in `major_outage` counts fully as downtime, time in `partial_outage` counts at
//! [`PARTIAL_OUTAGE_WEIGHT`], and `degraded_performance`, `under_maintenance` and
//! `operational` count as up (Statuspage's "uptime showcase" rules, which incident.io and
//! Instatus follow too). Time in `unknown` (before the first evidence) is left out of both
//! sides: a model added yesterday has the uptime of the day it has been watched.

use chrono::{DateTime, Utc};

use crate::store::evaluations::StateChange;
use crate::vocabulary::ModelState;

/// How much a minute in partial outage weighs against a minute in major outage.
pub const PARTIAL_OUTAGE_WEIGHT: f64 = 0.3;

/// The rule in words, for the pages that show an uptime.
pub const RULE: &str = "Uptime counts time in each state: a major outage counts fully, \
a partial outage at 30%, degraded performance and maintenance not at all.";

/// One stretch of time in one state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub state: ModelState,
}

/// A model's states over `[window_start, now)`, from the state it entered by its last change
/// before the window (`before`), the state changes at or after `window_start` (oldest
/// first) and the state it is in now.
///
/// Without a change before the window, the state before the first change is that change's
/// `from` (`unknown`, for a model first seen inside the window); without any change at all,
/// the current state held throughout.
pub fn spans(
    before: Option<ModelState>,
    changes: &[StateChange],
    current: ModelState,
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Span> {
    let mut out = Vec::with_capacity(changes.len() + 1);
    let mut at = window_start;
    let mut state = before.unwrap_or_else(|| changes.first().map_or(current, |c| c.from));
    for c in changes
        .iter()
        .filter(|c| c.at >= window_start && c.at <= now)
    {
        if c.at > at {
            out.push(Span {
                from: at,
                to: c.at,
                state,
            });
        }
        at = at.max(c.at);
        state = c.to;
    }
    if now > at {
        out.push(Span {
            from: at,
            to: now,
            state,
        });
    }
    out
}

/// The weighted share of `[from, to)` the model was up, or `None` when its state was unknown
/// the whole time.
pub fn uptime(spans: &[Span], from: DateTime<Utc>, to: DateTime<Utc>) -> Option<f64> {
    let (mut known_ms, mut down_ms) = (0i64, 0f64);
    for s in spans {
        let start = s.from.max(from);
        let end = s.to.min(to);
        if end <= start || s.state == ModelState::Unknown {
            continue;
        }
        let ms = (end - start).num_milliseconds();
        known_ms += ms;
        down_ms += ms as f64 * downtime_weight(s.state);
    }
    (known_ms > 0).then(|| 1.0 - down_ms / known_ms as f64)
}

/// The worst state held at any time in `[from, to)`, `unknown` when none is known.
pub fn worst(spans: &[Span], from: DateTime<Utc>, to: DateTime<Utc>) -> ModelState {
    spans
        .iter()
        .filter(|s| s.from < to && s.to > from)
        .map(|s| s.state)
        .filter(|s| s.severity().is_some() || *s == ModelState::UnderMaintenance)
        // Maintenance ranks above operational (it is what the day is remembered for) and
        // below every impairment.
        .max_by_key(|s| match s.severity() {
            Some(0) => 0,
            None => 1,
            Some(v) => v + 1,
        })
        .unwrap_or(ModelState::Unknown)
}

fn downtime_weight(s: ModelState) -> f64 {
    match s {
        ModelState::MajorOutage => 1.0,
        ModelState::PartialOutage => PARTIAL_OUTAGE_WEIGHT,
        ModelState::Operational
        | ModelState::DegradedPerformance
        | ModelState::UnderMaintenance
        | ModelState::Unknown => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::Evidence;
    use chrono::{Duration, TimeZone};

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn change(minute: i64, from: ModelState, to: ModelState) -> StateChange {
        StateChange {
            model_key: "p/m".into(),
            at: t(minute),
            from,
            to,
            enabled: true,
            reasons: Vec::new(),
            evidence: Evidence::default(),
        }
    }

    use ModelState::*;

    #[test]
    fn a_model_never_impaired_is_fully_up_however_few_minutes_it_was_watched() {
        let changes = [change(50, Unknown, Operational)];
        let s = spans(None, &changes, Operational, t(0), t(60));
        assert_eq!(uptime(&s, t(0), t(60)), Some(1.0));
        assert_eq!(uptime(&s, t(0), t(50)), None, "unknown time is not counted");
        assert_eq!(worst(&s, t(0), t(60)), Operational);
    }

    #[test]
    fn partial_outage_weighs_thirty_percent_and_major_outage_fully() {
        // 100 minutes: 60 operational, 20 partial, 10 major, 10 degraded.
        let changes = [
            change(60, Operational, PartialOutage),
            change(80, PartialOutage, MajorOutage),
            change(90, MajorOutage, DegradedPerformance),
        ];
        let s = spans(None, &changes, DegradedPerformance, t(0), t(100));
        let u = uptime(&s, t(0), t(100)).unwrap();
        let expected = 1.0 - (10.0 + 0.3 * 20.0) / 100.0;
        assert!((u - expected).abs() < 1e-9, "{u} != {expected}");
        assert_eq!(worst(&s, t(0), t(100)), MajorOutage);
        assert_eq!(worst(&s, t(0), t(60)), Operational);
    }

    #[test]
    fn the_state_before_the_window_is_the_first_changes_from() {
        let changes = [change(30, MajorOutage, Operational)];
        let s = spans(None, &changes, Operational, t(0), t(60));
        assert_eq!(uptime(&s, t(0), t(60)), Some(0.5));
    }

    #[test]
    fn the_last_change_before_the_window_says_how_it_began() {
        // A restart without a stored state announced `unknown -> operational` inside the
        // window; the model had been operational since before it.
        let changes = [change(30, Unknown, Operational)];
        let s = spans(Some(Operational), &changes, Operational, t(0), t(60));
        assert_eq!(uptime(&s, t(0), t(60)), Some(1.0));
        assert_eq!(uptime(&s, t(0), t(30)), Some(1.0));
        let s = spans(Some(MajorOutage), &[], MajorOutage, t(0), t(60));
        assert_eq!(uptime(&s, t(0), t(60)), Some(0.0));
    }

    #[test]
    fn without_changes_the_current_state_held_throughout() {
        let s = spans(None, &[], PartialOutage, t(0), t(10));
        let u = uptime(&s, t(0), t(10)).unwrap();
        assert!((u - 0.7).abs() < 1e-9);
        assert_eq!(
            uptime(&spans(None, &[], Unknown, t(0), t(10)), t(0), t(10)),
            None
        );
    }

    #[test]
    fn maintenance_is_not_downtime_but_is_remembered_over_operational() {
        let changes = [
            change(10, Operational, UnderMaintenance),
            change(20, UnderMaintenance, Operational),
        ];
        let s = spans(None, &changes, Operational, t(0), t(30));
        assert_eq!(uptime(&s, t(0), t(30)), Some(1.0));
        assert_eq!(worst(&s, t(0), t(30)), UnderMaintenance);
    }
}
