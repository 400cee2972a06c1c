//! Table-driven tests of the pure core: result sequences in, states and reasons out.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::probe::Outcome;

fn t(i: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::seconds(i)
}

/// A window from a compact pattern: `.` ok (ttft 800 ms), `S` ok but slow (ttft 4 s),
/// `o` overloaded, `5` http_5xx, `T` timeout, `r` rate_limited, `a` auth, `n` not_found.
fn window(pattern: &str) -> Vec<Sample> {
    pattern
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let (outcome, ttft) = match c {
                '.' => (Outcome::Ok, Some(800)),
                'S' => (Outcome::Ok, Some(4000)),
                'o' => (Outcome::Overloaded, None),
                '5' => (Outcome::Http5xx, None),
                'T' => (Outcome::Timeout, None),
                'r' => (Outcome::RateLimited, None),
                'a' => (Outcome::Auth, None),
                'n' => (Outcome::NotFound, None),
                other => panic!("unknown pattern char {other}"),
            };
            Sample {
                at: t(i as i64),
                outcome,
                ttft_ms: ttft,
                total_ms: ttft.unwrap_or(100) + 200,
            }
        })
        .collect()
}

fn usual() -> Baseline {
    Baseline::from_samples(&window(&".".repeat(40)))
}

/// One row: a window pattern, the candidate expected and words a reason must contain.
fn check(pattern: &str, baseline: Baseline, want: Option<ModelState>, words: &str) {
    let a = assess(&window(pattern), baseline, &Policy::default());
    assert_eq!(
        a.candidate, want,
        "pattern {pattern}: reasons {:?}",
        a.reasons
    );
    assert!(
        a.reasons.iter().any(|r| r.contains(words)),
        "pattern {pattern}: no reason contains {words:?}: {:?}",
        a.reasons
    );
}

#[test]
fn candidates_from_windows() {
    use ModelState::*;
    let healthy = ".".repeat(30);
    let two_percent = format!("{}5{}", ".".repeat(14), ".".repeat(15));
    let sixty = "o.o5.oo.o.".repeat(3);
    let all_down = "5".repeat(30);
    let a_few = "..5.o";
    let slow = "S".repeat(30);
    let rows: Vec<(&str, Baseline, Option<ModelState>, &str)> = vec![
        (
            &healthy,
            usual(),
            Some(Operational),
            "healthy: error rate 0%",
        ),
        (&two_percent, usual(), Some(Operational), "healthy"),
        (
            &sixty,
            usual(),
            Some(PartialOutage),
            "partial-outage threshold",
        ),
        (
            &all_down,
            usual(),
            Some(MajorOutage),
            "major-outage threshold",
        ),
        (a_few, usual(), None, "not enough evidence"),
        (
            &slow,
            usual(),
            Some(DegradedPerformance),
            "time to first token median 4.0 s is 5.0× its usual 800 ms",
        ),
        (&slow, Baseline::default(), Some(Operational), "healthy"),
    ];
    for (pattern, baseline, want, words) in rows {
        check(pattern, baseline, want, words);
    }
}

#[test]
fn throttling_and_misconfiguration_are_not_outages() {
    // Every probe rate limited: no evidence either way, and SREs are told why.
    check(&"r".repeat(30), usual(), None, "probe throttled");
    // Rate limits mixed into a healthy window are left out of the rate.
    check(
        &"r.".repeat(15),
        usual(),
        Some(ModelState::Operational),
        "probe throttled: 15 of 30",
    );
    // 401 on every probe: unknown ("probe misconfigured"), never an outage.
    check(
        &"a".repeat(30),
        usual(),
        Some(ModelState::Unknown),
        "probe misconfigured: 30 of 30 probes (30 auth)",
    );
    check(
        &"n".repeat(30),
        usual(),
        Some(ModelState::Unknown),
        "not_found",
    );
}

/// Runs candidates through hysteresis, returning the state after each evaluation.
fn walk(candidates: &[Option<ModelState>]) -> Vec<ModelState> {
    let policy = Policy::default();
    let mut tracker = Tracker {
        state: ModelState::Operational,
        since: t(0),
        recent: vec![],
    };
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            tracker = step(&tracker, *c, Override::None, &policy, t(i as i64 + 1));
            tracker.state
        })
        .collect()
}

#[test]
fn hysteresis_needs_repeated_evidence_both_ways() {
    use ModelState::*;
    let (op, dg, po) = (
        Some(Operational),
        Some(DegradedPerformance),
        Some(PartialOutage),
    );
    let rows: Vec<(Vec<Option<ModelState>>, Vec<ModelState>)> = vec![
        // One bad evaluation never moves the state.
        (vec![po, op, po, op], vec![Operational; 4]),
        // Two consecutive worse evaluations enter the latest candidate.
        (
            vec![dg, po, po],
            vec![Operational, PartialOutage, PartialOutage],
        ),
        // Leaving needs two better evaluations, and takes the worse of them.
        (
            vec![po, po, dg, op, op],
            vec![
                Operational,
                PartialOutage,
                PartialOutage,
                DegradedPerformance,
                DegradedPerformance,
            ],
        ),
        // Thin windows (no candidate) change nothing and do not break a streak.
        (
            vec![po, None, po],
            vec![Operational, Operational, PartialOutage],
        ),
    ];
    for (candidates, want) in rows {
        assert_eq!(walk(&candidates), want, "candidates {candidates:?}");
    }
}

#[test]
fn forced_states_apply_at_once_and_lift_with_evidence() {
    let policy = Policy::default();
    let start = Tracker {
        state: ModelState::PartialOutage,
        since: t(0),
        recent: vec![],
    };
    let down = step(
        &start,
        Some(ModelState::MajorOutage),
        Override::LocalNetworkDown,
        &policy,
        t(1),
    );
    assert_eq!(down.state, ModelState::Unknown);
    let back = step(
        &down,
        Some(ModelState::Operational),
        Override::None,
        &policy,
        t(2),
    );
    assert_eq!(
        back.state,
        ModelState::Operational,
        "first evidence after unknown is taken as it is"
    );
    let maint = step(
        &back,
        Some(ModelState::MajorOutage),
        Override::Maintenance,
        &policy,
        t(3),
    );
    assert_eq!(maint.state, ModelState::UnderMaintenance);
}
