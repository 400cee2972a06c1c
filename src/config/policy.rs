//! Evaluator settings from the configuration: `[evaluator]`, then a provider's `evaluator`,
//! then a model's `evaluator`, each overriding the one before, over [`Policy::default`].

use std::time::Duration;

use toml::Spanned;

use super::raw::RawPolicy;
use crate::evaluate::Policy;
use crate::vocabulary::ModelState;

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
    set!(min_samples);
    set!(confidence_z);
    set!(healthy_error_rate);
    set!(degraded_error_rate);
    set!(partial_error_rate);
    set!(major_error_rate);
    set!(false_alarm_probes);
    set!(exit_odds);
    set!(latency_factor);
    set!(slow_share);
    if let Some(v) = raw.extra_probes_per_hour {
        p.extra_probes_per_hour = Some(v);
    }
    set!(quiet_probes);
    for (name, given) in [
        ("evaluate_every_probes", &raw.evaluate_every_probes),
        ("confirm_every_probes", &raw.confirm_every_probes),
        ("failure_threshold", &raw.failure_threshold),
        ("success_threshold", &raw.success_threshold),
        ("baseline_probes", &raw.baseline_probes),
    ] {
        if given.is_some() {
            problems.push(format!(
                "`{name}` is no longer used: the evaluator judges every probe with sequential tests \
                 (see `false_alarm_probes`, `exit_odds` and `confirm_interval`); remove it"
            ));
        }
    }
    let mut duration = |v: &Option<String>, name: &str| -> Option<Duration> {
        let text = v.as_ref()?;
        match humantime::parse_duration(text) {
            Ok(d) => Some(d),
            Err(_) => {
                problems.push(format!(
                    "`{name}` = `{text}` is not a duration; write e.g. \"5s\""
                ));
                None
            }
        }
    };
    if let Some(l) = duration(&raw.ttft_limit, "ttft_limit") {
        p.ttft_limit = Some(l);
    }
    if let Some(l) = duration(&raw.total_limit, "total_limit") {
        p.total_limit = Some(l);
    }
    if let Some(d) = duration(&raw.confirm_interval, "confirm_interval") {
        p.confirm_interval = d;
    }
    if let Some(d) = duration(&raw.recovery_interval, "recovery_interval") {
        p.recovery_interval = d;
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
        ("slow_share", p.slow_share),
    ] {
        if !(v > 0.0 && v < 1.0) {
            problems.push(format!(
                "`{name}` must be between 0.0 and 1.0 (exclusive), not {v}"
            ));
        }
    }
    if !(p.degraded_error_rate <= p.partial_error_rate
        && p.partial_error_rate <= p.major_error_rate)
    {
        problems.push("error-rate thresholds must rise: degraded ≤ partial ≤ major".into());
    }
    if !(p.healthy_error_rate > 0.0 && p.healthy_error_rate < p.degraded_error_rate) {
        problems.push(format!(
            "`healthy_error_rate` ({}) must be above 0 and below `degraded_error_rate` ({})",
            p.healthy_error_rate, p.degraded_error_rate
        ));
    }
    if p.slow_share <= crate::evaluate::policy::HEALTHY_SLOW_SHARE {
        problems.push(format!(
            "`slow_share` must be above {} (the share of slow probes assumed of a healthy model)",
            crate::evaluate::policy::HEALTHY_SLOW_SHARE
        ));
    }
    for (name, v) in [
        ("false_alarm_probes", p.false_alarm_probes),
        ("exit_odds", p.exit_odds),
    ] {
        if !(v >= 10.0 && v.is_finite()) {
            problems.push(format!(
                "`{name}` must be at least 10 (it is a count of probes or odds), not {v}"
            ));
        }
    }
    if p.latency_factor <= 1.0 {
        problems.push(format!(
            "`latency_factor` must be above 1.0 (it multiplies the usual latency), not {}",
            p.latency_factor
        ));
    }
    if p.window_probes == 0 {
        problems.push("`window_probes` must be at least 1".into());
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
