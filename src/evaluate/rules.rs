//! The rules: one window of a model's probes in, a candidate state with reasons and evidence out.
//!
//! Pure functions, no IO. The candidate is what this single window says; hysteresis
//! ([`super::hysteresis`]) decides whether the model's state actually moves.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stats::{percentile, wilson};
use super::{ModelState, Policy};
use crate::probe::Outcome;

/// One probe as the evaluator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    pub ttft_ms: Option<u32>,
    pub total_ms: u32,
}

/// The model's usual latency, from the probes before the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub ttft_p50_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
    pub samples: u32,
}

/// Fewest successful probes a baseline or a window median is computed from.
const MIN_LATENCY_SAMPLES: usize = 5;

impl Baseline {
    /// The medians of the successful probes in `history` (needs a handful to say anything).
    pub fn from_samples(history: &[Sample]) -> Baseline {
        let ok: Vec<&Sample> = history
            .iter()
            .filter(|s| s.outcome == Outcome::Ok)
            .collect();
        if ok.len() < MIN_LATENCY_SAMPLES * 4 {
            return Baseline {
                samples: ok.len() as u32,
                ..Baseline::default()
            };
        }
        let mut ttft: Vec<u32> = ok.iter().filter_map(|s| s.ttft_ms).collect();
        let mut total: Vec<u32> = ok.iter().map(|s| s.total_ms).collect();
        Baseline {
            ttft_p50_ms: percentile(&mut ttft, 50),
            total_p50_ms: percentile(&mut total, 50),
            samples: ok.len() as u32,
        }
    }
}

/// The figures behind a decision, stored with it and shown to people.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Probes in the window, of every class.
    pub probes: u32,
    /// Probes that count for the error rate: ok plus provider faults.
    pub samples: u32,
    pub failures: u32,
    pub error_rate: f64,
    pub error_rate_lower: f64,
    pub error_rate_upper: f64,
    pub ttft_p50_ms: Option<u32>,
    pub ttft_p95_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
    pub total_p95_ms: Option<u32>,
    pub baseline: Baseline,
    /// Probes per outcome class in the window.
    pub outcomes: BTreeMap<String, u32>,
    /// Our key was throttled (429) in the window: shown to SREs as "probe throttled".
    pub throttled: u32,
    /// Probes that failed on our own configuration (auth, bad_request, not_found).
    pub misconfigured: u32,
}

/// What one window says.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// `None` when the window is too thin to say anything (the state then stays as it is).
    pub candidate: Option<ModelState>,
    pub reasons: Vec<String>,
    pub evidence: Evidence,
}

/// Judges one window of a model's probes against its policy and baseline.
pub fn assess(window: &[Sample], baseline: Baseline, policy: &Policy) -> Assessment {
    let mut evidence = Evidence {
        probes: window.len() as u32,
        baseline,
        ..Evidence::default()
    };
    for s in window {
        *evidence
            .outcomes
            .entry(s.outcome.as_str().to_string())
            .or_default() += 1;
        match s.outcome {
            Outcome::Ok => evidence.samples += 1,
            o if o.is_provider_fault() => {
                evidence.samples += 1;
                evidence.failures += 1;
            }
            Outcome::RateLimited => evidence.throttled += 1,
            _ => evidence.misconfigured += 1,
        }
    }
    let mut reasons = Vec::new();
    if evidence.throttled > 0 {
        reasons.push(format!(
            "probe throttled: {} of {} probes got 429 (not counted)",
            evidence.throttled, evidence.probes
        ));
    }
    if evidence.samples < policy.min_samples {
        if evidence.misconfigured > 0 && evidence.misconfigured >= evidence.samples {
            reasons.insert(
                0,
                format!(
                    "probe misconfigured: {}",
                    misconfiguration_summary(&evidence)
                ),
            );
            return Assessment {
                candidate: Some(ModelState::Unknown),
                reasons,
                evidence,
            };
        }
        reasons.insert(
            0,
            format!(
                "not enough evidence: {} counted probes, {} needed",
                evidence.samples, policy.min_samples
            ),
        );
        return Assessment {
            candidate: None,
            reasons,
            evidence,
        };
    }
    if evidence.misconfigured > 0 {
        reasons.push(format!(
            "probe misconfigured in part: {}",
            misconfiguration_summary(&evidence)
        ));
    }

    let (lower, upper) = wilson(evidence.failures, evidence.samples, policy.confidence_z);
    evidence.error_rate = evidence.failures as f64 / evidence.samples as f64;
    evidence.error_rate_lower = lower;
    evidence.error_rate_upper = upper;
    let levels = [
        (
            policy.major_error_rate,
            ModelState::MajorOutage,
            "major-outage",
        ),
        (
            policy.partial_error_rate,
            ModelState::PartialOutage,
            "partial-outage",
        ),
        (
            policy.degraded_error_rate,
            ModelState::DegradedPerformance,
            "degraded",
        ),
    ];
    let by_errors = levels.iter().find(|(threshold, _, _)| lower >= *threshold);
    let error_words = format!(
        "error rate {:.0}% ({} of {} probes; {:.0}–{:.0}% at {})",
        evidence.error_rate * 100.0,
        evidence.failures,
        evidence.samples,
        lower * 100.0,
        upper * 100.0,
        confidence_words(policy.confidence_z)
    );
    let mut candidate = match by_errors {
        Some((threshold, state, name)) => {
            reasons.insert(
                0,
                format!(
                    "{error_words}, at least the {name} threshold {:.0}%",
                    threshold * 100.0
                ),
            );
            *state
        }
        None => ModelState::Operational,
    };

    let ok: Vec<&Sample> = window.iter().filter(|s| s.outcome == Outcome::Ok).collect();
    let mut ttft: Vec<u32> = ok.iter().filter_map(|s| s.ttft_ms).collect();
    let mut total: Vec<u32> = ok.iter().map(|s| s.total_ms).collect();
    evidence.ttft_p50_ms = percentile(&mut ttft, 50);
    evidence.ttft_p95_ms = percentile(&mut ttft, 95);
    evidence.total_p50_ms = percentile(&mut total, 50);
    evidence.total_p95_ms = percentile(&mut total, 95);
    if ok.len() >= MIN_LATENCY_SAMPLES {
        let checks = [
            (
                "time to first token",
                evidence.ttft_p50_ms,
                baseline.ttft_p50_ms,
                policy.ttft_limit,
            ),
            (
                "total time",
                evidence.total_p50_ms,
                baseline.total_p50_ms,
                policy.total_limit,
            ),
        ];
        for (what, now, usual, limit) in checks {
            let Some(now) = now else { continue };
            if let Some(usual) = usual.filter(|u| *u > 0) {
                let factor = now as f64 / usual as f64;
                if factor >= policy.latency_factor {
                    reasons.push(format!(
                        "{what} median {} is {factor:.1}× its usual {}",
                        ms(now),
                        ms(usual)
                    ));
                    candidate = worse(candidate, ModelState::DegradedPerformance);
                }
            }
            if let Some(limit) = limit.filter(|l| now as u128 > l.as_millis()) {
                reasons.push(format!(
                    "{what} median {} is over the limit {}",
                    ms(now),
                    ms(limit.as_millis() as u32)
                ));
                candidate = worse(candidate, ModelState::DegradedPerformance);
            }
        }
    }
    if candidate == ModelState::Operational {
        reasons.insert(0, format!("healthy: {error_words}"));
    }
    Assessment {
        candidate: Some(candidate),
        reasons,
        evidence,
    }
}

fn worse(a: ModelState, b: ModelState) -> ModelState {
    if b.severity() > a.severity() {
        b
    } else {
        a
    }
}

fn misconfiguration_summary(e: &Evidence) -> String {
    let classes: Vec<String> = ["auth", "bad_request", "not_found"]
        .iter()
        .filter_map(|c| e.outcomes.get(*c).map(|n| format!("{n} {c}")))
        .collect();
    format!(
        "{} of {} probes ({}); check the key, model id and endpoint",
        e.misconfigured,
        e.probes,
        classes.join(", ")
    )
}

fn confidence_words(z: f64) -> String {
    match z {
        z if (z - 2.576).abs() < 0.01 => "99% confidence".into(),
        z if (z - 1.96).abs() < 0.01 => "95% confidence".into(),
        z => format!("z={z}"),
    }
}

/// Milliseconds in the unit people read: "850 ms", "4.1 s".
pub fn ms(v: u32) -> String {
    if v < 1000 {
        format!("{v} ms")
    } else {
        format!("{:.1} s", v as f64 / 1000.0)
    }
}
