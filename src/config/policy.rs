//! Evaluator settings from the configuration: `[evaluator]`, then a provider's `evaluator`,
//! then a model's `evaluator`, each overriding the one before, over [`Policy::default`].

use std::time::Duration;

use toml::Spanned;

use super::raw::RawPolicy;
use crate::evaluate::{ModelState, Policy};

/// Applies `raw` over `base`, returning the policy and any problems (message only; the
/// caller locates them at the table's span).
pub fn merge(base: &Policy, raw: &RawPolicy) -> (Policy, Vec<String>) {
    let mut p = base.clone();
    let mut problems = Vec::new();
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = raw.$field {
                p.$field = v;
            }
        };
    }
    set!(window_probes);
    set!(evaluate_every_probes);
    set!(confirm_every_probes);
    set!(min_samples);
    set!(confidence_z);
    set!(degraded_error_rate);
    set!(partial_error_rate);
    set!(major_error_rate);
    set!(failure_threshold);
    set!(success_threshold);
    set!(latency_factor);
    set!(baseline_probes);
    set!(quiet_probes);
    let mut limit = |v: &Option<String>, name: &str| -> Option<Option<Duration>> {
        let text = v.as_ref()?;
        match humantime::parse_duration(text) {
            Ok(d) => Some(Some(d)),
            Err(_) => {
                problems.push(format!(
                    "`{name}` = `{text}` is not a duration; write e.g. \"5s\""
                ));
                None
            }
        }
    };
    if let Some(l) = limit(&raw.ttft_limit, "ttft_limit") {
        p.ttft_limit = l;
    }
    if let Some(l) = limit(&raw.total_limit, "total_limit") {
        p.total_limit = l;
    }
    if let Some(at) = &raw.disable_at {
        match at.parse::<ModelState>() {
            Ok(s) if s.severity().is_some_and(|v| v > 0) => p.disable_at = s,
            _ => problems.push(format!(
                "`disable_at` = `{at}` must be degraded_performance, partial_outage or major_outage"
            )),
        }
    }
    for (name, v) in [
        ("degraded_error_rate", p.degraded_error_rate),
        ("partial_error_rate", p.partial_error_rate),
        ("major_error_rate", p.major_error_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            problems.push(format!("`{name}` must be between 0.0 and 1.0, not {v}"));
        }
    }
    if !(p.degraded_error_rate <= p.partial_error_rate
        && p.partial_error_rate <= p.major_error_rate)
    {
        problems.push("error-rate thresholds must rise: degraded ≤ partial ≤ major".into());
    }
    if p.window_probes < p.min_samples.max(1) {
        problems.push(format!(
            "`window_probes` ({}) must be at least `min_samples` ({})",
            p.window_probes, p.min_samples
        ));
    }
    for (name, v) in [
        ("failure_threshold", p.failure_threshold),
        ("success_threshold", p.success_threshold),
        ("evaluate_every_probes", p.evaluate_every_probes),
    ] {
        if v == 0 {
            problems.push(format!("`{name}` must be at least 1"));
        }
    }
    if p.confidence_z <= 0.0 {
        problems.push("`confidence_z` must be positive (2.576 is 99%)".into());
    }
    (p, problems)
}

/// The span to report a policy problem at.
pub fn span_of(raw: &Spanned<RawPolicy>) -> usize {
    raw.span().start
}
