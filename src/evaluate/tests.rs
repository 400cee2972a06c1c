//! Table-driven tests of the pure core: result sequences in, states, reasons and extra-probe
//! wishes out.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::probe::Trigger;
use crate::store::results::Sample;
use crate::vocabulary::{evidence, ModelState, Outcome};

fn t(i: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::seconds(i)
}

/// Samples from a compact pattern: `.` ok (ttft 800 ms), `S` ok but slow (ttft 4 s),
/// `o` overloaded, `5` http_5xx, `T` timeout, `c` connect, `r` rate_limited, `a` auth,
/// `n` not_found.
fn samples(pattern: &str) -> Vec<Sample> {
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
                'c' => (Outcome::Connect, None),
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
                trigger: Trigger::Scheduled,
            }
        })
        .collect()
}

/// Runs `pattern` through a fresh detector; returns it and every state it moved to, with the
/// 1-based position of the result that moved it.
fn run(pattern: &str, policy: &Policy) -> (Detector, Vec<(usize, ModelState)>) {
    let mut d = Detector::new(policy);
    let mut moves = Vec::new();
    let mut state = ModelState::Unknown;
    for (i, s) in samples(pattern).iter().enumerate() {
        d.observe(s, policy, true);
        let now = d.state(policy);
        if now != state {
            moves.push((i + 1, now));
            state = now;
        }
    }
    (d, moves)
}

/// One row: a pattern, the moves expected, and words the final first reason must contain.
fn check(pattern: &str, want: &[(usize, ModelState)], words: &str) {
    let policy = Policy::default();
    let (d, moves) = run(pattern, &policy);
    let reasons = d.reasons(&policy);
    assert_eq!(moves, want, "pattern {pattern}: reasons {reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains(words)),
        "pattern {pattern}: no reason contains {words:?}: {reasons:?}"
    );
}

fn healthy(n: usize) -> String {
    ".".repeat(n)
}

#[test]
fn states_from_result_sequences() {
    use crate::vocabulary::ModelState::*;
    let h = healthy(10);
    check(&h, &[(3, Operational)], "healthy: error rate 0% (0 of 10");
    // Hard down: the sixth failure in a row is beyond chance for a healthy model (the
    // first ones of the run count towards its learnt rate: usual 3% by then).
    check(
        &format!("{h}555555"),
        &[(3, Operational), (16, MajorOutage)],
        "major outage: 6 of 6 probes failed since it began (usual 3%)",
    );
    // A burst of three failures, or four, moves nothing.
    check(
        &format!("{h}555{}", healthy(20)),
        &[(3, Operational)],
        "healthy",
    );
    check(
        &format!("{h}5555{}", healthy(20)),
        &[(3, Operational)],
        "healthy",
    );
    // Back after a long hard-down run: four good probes in a row end it.
    let down = "5".repeat(40);
    // The window of thirty still holds the fault's failures: the reason says the good run
    // decided, not "healthy: error rate 87%".
    check(
        &format!("{h}{down}...."),
        &[(3, Operational), (16, MajorOutage), (54, Operational)],
        "recovered: the last 4 probes succeeded; error rate 87% (26 of 30 recent probes; usual 3%) counts the fault that ended",
    );
    // Once the window has moved past the fault, healthy again.
    check(
        &format!("{h}{down}{}", healthy(30)),
        &[(3, Operational), (16, MajorOutage), (54, Operational)],
        "healthy: error rate 0% (0 of 30 recent probes",
    );
    // Three are not enough, and the reason says what is still needed.
    check(
        &format!("{h}{down}..."),
        &[(3, Operational), (16, MajorOutage)],
        "recovering: still major outage until 1 more good probes in a row",
    );
    // A mix of failure classes counts alike.
    check(
        &format!("{h}o5Tc55"),
        &[(3, Operational), (16, MajorOutage)],
        "6 of 6 probes failed",
    );
    // Five times slower first tokens: degraded after eight, with the figures in words.
    check(
        &format!("{h}{}", "S".repeat(8)),
        &[(3, Operational), (18, DegradedPerformance)],
        // The usual moves a tenth of a step per slow probe, a hundredth once held:
        // 800 ms → 833 ms after eight.
        "time to first token median 4.0 s is 4.8× its usual 833 ms",
    );
}

#[test]
fn a_thirty_percent_fault_is_caught_and_held_until_it_is_over() {
    use crate::vocabulary::ModelState::*;
    let policy = Policy::default();
    let fault = "x..x.x...x".replace('x', "5").repeat(10);
    let (_, moves) = run(&format!("{}{fault}{}", healthy(10), healthy(60)), &policy);
    // Degraded, then partial outage (disabled) within a few dozen probes of the fault...
    assert_eq!(moves[0], (3, Operational), "{moves:?}");
    let partial = moves
        .iter()
        .find(|m| m.1 == PartialOutage)
        .unwrap_or_else(|| panic!("{moves:?}"));
    assert!(partial.0 <= 10 + 40, "{moves:?}");
    // ...never enabled again while the fault goes on (no move to a milder state within it),
    let during: Vec<_> = moves
        .iter()
        .filter(|m| m.0 > partial.0 && m.0 <= 110)
        .collect();
    assert!(during.is_empty(), "moved during the fault: {moves:?}");
    // ...and operational once enough good probes have followed it.
    assert_eq!(moves.last().map(|m| m.1), Some(Operational), "{moves:?}");
}

/// The worst state `moves` reached.
fn worst(moves: &[(usize, ModelState)]) -> Option<ModelState> {
    moves
        .iter()
        .map(|m| m.1)
        .max_by_key(|s| s.severity().unwrap_or(0))
}

/// The state `moves` had reached by the result at position `at`.
fn state_at(moves: &[(usize, ModelState)], at: usize) -> Option<ModelState> {
    moves.iter().take_while(|m| m.0 <= at).last().map(|m| m.1)
}

#[test]
fn runs_of_failures_in_a_thirty_percent_fault_do_not_make_it_a_major_outage() {
    use crate::vocabulary::ModelState::*;
    let policy = Policy::default();
    // 30% without runs until the model is held in partial outage, then 30% in runs of five
    // (5 of 17), which against the healthy rate look like a hard-down model every time.
    let onset = "x..x.x...x".replace('x', "5").repeat(5);
    let runs = format!("55555{}", healthy(12)).repeat(40);
    let (_, moves) = run(&format!("{}{onset}{runs}", healthy(10)), &policy);
    let partial = moves
        .iter()
        .find(|m| m.1 == PartialOutage)
        .unwrap_or_else(|| panic!("{moves:?}"));
    assert!(partial.0 <= 60, "{moves:?}");
    assert!(
        !moves.iter().any(|m| m.1 == MajorOutage),
        "a 30% fault was called a major outage: {moves:?}"
    );
    // Held in partial outage (disabled) throughout: no move back while it lasts.
    assert_eq!(moves.last(), Some(partial), "{moves:?}");
}

#[test]
fn runs_of_failures_in_a_fifteen_percent_fault_keep_it_degraded_and_enabled() {
    use crate::vocabulary::ModelState::*;
    let policy = Policy::default();
    // 17% spread out until the model is held degraded, then 15% in clumps of nine failures
    // in ten probes (9 of 60), each of which is beyond chance for a healthy model.
    let onset = format!("5{}", healthy(5)).repeat(30);
    let clumps = format!("55555.5555{}", healthy(50)).repeat(20);
    let (_, moves) = run(&format!("{}{onset}{clumps}", healthy(10)), &policy);
    assert!(
        moves.iter().any(|m| m.1 == DegradedPerformance),
        "{moves:?}"
    );
    let worst = worst(&moves);
    assert_eq!(worst, Some(DegradedPerformance), "{moves:?}");
    assert!(!policy.disables(worst.unwrap()));
}

#[test]
fn a_degraded_model_that_goes_hard_down_escalates_within_ten_failures() {
    use crate::vocabulary::ModelState::*;
    let policy = Policy::default();
    let degraded = format!("555{}", healthy(17)).repeat(20);
    let before = 10 + degraded.len();
    let (_, moves) = run(
        &format!("{}{degraded}{}", healthy(10), "5".repeat(30)),
        &policy,
    );
    // Degraded (not worse) when the last failure run begins...
    assert_eq!(
        state_at(&moves, before),
        Some(DegradedPerformance),
        "{moves:?}"
    );
    // ...and a major outage, disabled, within ten failures of it.
    let major = moves
        .iter()
        .find(|m| m.1 == MajorOutage)
        .unwrap_or_else(|| panic!("{moves:?}"));
    assert!(major.0 > before && major.0 <= before + 10, "{moves:?}");
}

#[test]
fn throttling_and_misconfiguration_are_not_outages() {
    use crate::vocabulary::ModelState::*;
    // Every probe rate limited: no evidence either way, and SREs are told why.
    check(&"r".repeat(30), &[], "probe throttled: 30 of 30");
    check(&"r".repeat(30), &[], "not enough evidence");
    // Rate limits mixed into healthy probes are left out.
    check(
        &"r.".repeat(15),
        &[(6, Operational)],
        "probe throttled: 15 of 30",
    );
    // 401 on every probe: unknown ("probe misconfigured"), never an outage.
    check(
        &"a".repeat(5),
        &[],
        "probe misconfigured: 5 of 5 probes (5 auth)",
    );
    // Misconfiguration after healthy evidence: unknown, not an outage.
    check(
        &format!("{}aan", healthy(10)),
        &[(3, Operational), (13, Unknown)],
        "probe misconfigured: 3 of 13 probes (2 auth, 1 not_found)",
    );
}

#[test]
fn extra_probes_are_wanted_while_in_doubt_or_disabled() {
    let policy = Policy::default();
    let rows: Vec<(String, Option<Trigger>)> = vec![
        (healthy(10), None),
        // One failure: confirm it (or not) sooner than the schedule would.
        (format!("{}5", healthy(10)), Some(Trigger::Confirm)),
        // ...and the good probes after it settle the doubt.
        (
            format!("{}5{}", healthy(10), healthy(6)),
            Some(Trigger::Confirm),
        ),
        (format!("{}5{}", healthy(10), healthy(9)), None),
        // Disabled: probe for recovery.
        (format!("{}555555", healthy(10)), Some(Trigger::Recovery)),
        // Slow: confirm.
        (format!("{}S", healthy(10)), Some(Trigger::Confirm)),
    ];
    for (pattern, want) in rows {
        let (d, _) = run(&pattern, &policy);
        assert_eq!(d.wants(&policy), want, "{pattern}");
    }
}

#[test]
fn connect_failures_while_our_network_is_suspect_count_for_nothing() {
    let policy = Policy::default();
    let mut d = Detector::new(&policy);
    for s in samples(&format!("{}cccccccc", healthy(10))) {
        d.observe(&s, &policy, false);
    }
    assert_eq!(d.state(&policy), ModelState::Operational);
}

#[test]
fn a_stored_state_is_restored_over_rebuilt_statistics() {
    use crate::vocabulary::ModelState::*;
    let policy = Policy::default();
    let (mut d, _) = run(&healthy(10), &policy);
    d.align(PartialOutage, &policy);
    assert_eq!(d.state(&policy), PartialOutage);
    // A restored outage whose evidence is gone is left as if the fault had been at the
    // level's threshold: a long run of good probes.
    for s in samples(&healthy(120)) {
        d.observe(&s, &policy, true);
    }
    assert_eq!(d.state(&policy), Operational);
    d.align(DegradedPerformance, &policy);
    assert_eq!(d.state(&policy), DegradedPerformance);
    d.align(Operational, &policy);
    assert_eq!(d.state(&policy), Operational);
}

#[test]
fn evidence_shows_the_recent_window_and_every_test() {
    let policy = Policy::default();
    let (d, _) = run(&format!("{}55", healthy(28)), &policy);
    let e = d.evidence(
        &policy,
        evidence::ExtraProbes {
            confirm: 2,
            recovery: 0,
        },
    );
    assert_eq!((e.probes, e.samples, e.failures), (30, 30, 2));
    assert_eq!(e.outcomes.get("http_5xx"), Some(&2));
    assert_eq!(e.ttft_p50_ms, Some(800));
    assert_eq!(e.baseline.ttft_p50_ms, Some(800));
    // Both failures were learnt as healthy noise (no alarm held): 2% → 2.4% (a memory of
    // 500 probes).
    assert!(
        (e.healthy_error_rate - 0.024).abs() < 0.0005,
        "{}",
        e.healthy_error_rate
    );
    let tests: Vec<&str> = e.tests.iter().map(|t| t.test.as_str()).collect();
    assert_eq!(
        tests,
        [
            "errors ≥ 10%",
            "errors ≥ 20%",
            "errors ≥ 60%",
            "slow ≥ 30% (over 3× usual)"
        ]
    );
    assert!(
        e.tests[2].progress > 0.4 && !e.tests[2].held,
        "{:?}",
        e.tests[2]
    );
    assert_eq!(e.extra_probes.confirm, 2);
}
