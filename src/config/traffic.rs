//! `[traffic]`: how the application's own requests are taken as evidence (the ingest API
//! and the OTLP receiver), and how names in their spans map to configured models.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// `[traffic]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    pub stale_after: Option<String>,
    pub busy_per_minute: Option<u32>,
    pub min_requests: Option<u32>,
    pub false_alarm_requests: Option<f64>,
    pub public_figures: Option<bool>,
    pub max_batch: Option<usize>,
    pub rate_per_token: Option<u32>,
    pub queue_batches: Option<usize>,
    pub max_age: Option<String>,
    /// `"<gen_ai provider>/<gen_ai model>" = "<provider id>/<model id>"`.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// The demo's simulated application traffic to `simulated` providers.
    pub simulate: Option<RawSimulatedTraffic>,
}

/// `[traffic] simulate = { requests_per_second, sources }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimulatedTraffic {
    pub requests_per_second: u32,
    pub sources: Vec<String>,
}

/// Simulated application traffic (the demo): requests per second per source and model.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedTraffic {
    pub requests_per_second: u32,
    pub sources: Vec<String>,
}

/// The validated `[traffic]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficConfig {
    /// A source that has sent nothing for this long no longer speaks for the model: its
    /// alarms stay held until probes clear them (traffic routed away says nothing of
    /// recovery).
    pub stale_after: Duration,
    /// At or above this many requests in the last minute a model is *busy*: its traffic
    /// decides, and probes that disagree are shown, not announced.
    pub busy_per_minute: u32,
    /// Counted requests (ok plus provider faults) a source needs before its view counts.
    pub min_requests: u32,
    /// Healthy requests per false alarm of a source's tests (Lorden's bound): far more than
    /// probes' `false_alarm_probes`, because traffic brings far more observations.
    pub false_alarm_requests: f64,
    /// Whether the public pages show traffic figures (volumes may be confidential).
    pub public_figures: bool,
    /// Observations per request to `POST /api/v1/observations` (and spans per OTLP export).
    pub max_batch: usize,
    /// Observations per second per token (a token bucket holding one second's worth).
    pub rate_per_token: u32,
    /// Accepted batches waiting for the evaluator; beyond it requests get 503.
    pub queue_batches: usize,
    /// Observations older than this (by their `at`) are refused: they would judge the past.
    pub max_age: Duration,
    /// GenAI names (`provider/model` as instrumentation reports them) to configured keys.
    pub names: BTreeMap<String, String>,
    /// Simulated application traffic to the `simulated` providers' models (the demo).
    pub simulate: Option<SimulatedTraffic>,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            stale_after: Duration::from_secs(60),
            busy_per_minute: 60,
            min_requests: 20,
            false_alarm_requests: 1e11,
            public_figures: true,
            max_batch: 5000,
            rate_per_token: 50_000,
            queue_batches: 256,
            max_age: Duration::from_secs(3600),
            names: BTreeMap::new(),
            simulate: None,
        }
    }
}

/// Validates `raw` against the configured model keys. Problems are messages; the caller
/// places them at the table.
pub fn parse(raw: &RawTraffic, known: &dyn Fn(&str) -> bool) -> (TrafficConfig, Vec<String>) {
    let d = TrafficConfig::default();
    let mut problems = Vec::new();
    let mut duration = |text: &Option<String>, name: &str, default: Duration| match text {
        None => default,
        Some(t) => match humantime::parse_duration(t) {
            Ok(v) if !v.is_zero() => v,
            _ => {
                problems.push(format!(
                    "`traffic.{name}` = `{t}` is not a duration; write e.g. \"60s\""
                ));
                default
            }
        },
    };
    let stale_after = duration(&raw.stale_after, "stale_after", d.stale_after);
    let max_age = duration(&raw.max_age, "max_age", d.max_age);
    let mut positive = |v: Option<usize>, name: &str, default: usize, most: usize| match v {
        None => default,
        Some(n) if (1..=most).contains(&n) => n,
        Some(n) => {
            problems.push(format!(
                "`traffic.{name}` = {n} must be between 1 and {most}"
            ));
            default
        }
    };
    let max_batch = positive(raw.max_batch, "max_batch", d.max_batch, 100_000);
    let queue_batches = positive(raw.queue_batches, "queue_batches", d.queue_batches, 100_000);
    let rate_per_token = positive(
        raw.rate_per_token.map(|n| n as usize),
        "rate_per_token",
        d.rate_per_token as usize,
        10_000_000,
    ) as u32;
    let min_requests = positive(
        raw.min_requests.map(|n| n as usize),
        "min_requests",
        d.min_requests as usize,
        1_000_000,
    ) as u32;
    let false_alarm_requests = match raw.false_alarm_requests {
        None => d.false_alarm_requests,
        Some(v) if v.is_finite() && v >= 10.0 => v,
        Some(v) => {
            problems.push(format!(
                "`traffic.false_alarm_requests` = {v} must be a number of at least 10"
            ));
            d.false_alarm_requests
        }
    };
    for (from, to) in &raw.names {
        if !known(to) {
            problems.push(format!(
                "`traffic.names` maps `{from}` to `{to}`, which is not a configured model (write `provider-id/model-id`)"
            ));
        }
    }
    let simulate = raw.simulate.as_ref().and_then(|sim| {
        let sources_ok = (1..=8).contains(&sim.sources.len())
            && sim.sources.iter().all(|s| {
                !s.trim().is_empty()
                    && s.chars().count() <= crate::vocabulary::observation::MAX_LABEL
            });
        if !(1..=1000).contains(&sim.requests_per_second) || !sources_ok {
            problems.push(
                "`traffic.simulate` needs `requests_per_second` between 1 and 1000 and one to eight non-empty `sources`".into(),
            );
            return None;
        }
        Some(SimulatedTraffic {
            requests_per_second: sim.requests_per_second,
            sources: sim.sources.clone(),
        })
    });
    let config = TrafficConfig {
        stale_after,
        busy_per_minute: raw.busy_per_minute.unwrap_or(d.busy_per_minute),
        min_requests,
        false_alarm_requests,
        public_figures: raw.public_figures.unwrap_or(d.public_figures),
        max_batch,
        rate_per_token,
        queue_batches,
        max_age,
        names: raw.names.clone(),
        simulate,
    };
    (config, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_and_unknown_targets_are_named() {
        let raw: RawTraffic = toml::from_str(
            "stale_after = \"soon\"\nmax_batch = 0\n[names]\n\"openai/gpt-4o-2024\" = \"openai/nope\"\n",
        )
        .unwrap();
        let (config, problems) = parse(&raw, &|k| k == "openai/gpt-4o");
        assert_eq!(config.stale_after, TrafficConfig::default().stale_after);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("traffic.stale_after"));
        assert!(problems[1].contains("traffic.max_batch"));
        assert!(problems[2].contains("openai/nope"));
    }

    #[test]
    fn defaults_hold_when_nothing_is_written() {
        let (config, problems) = parse(&RawTraffic::default(), &|_| true);
        assert!(problems.is_empty());
        assert_eq!(config, TrafficConfig::default());
    }
}
