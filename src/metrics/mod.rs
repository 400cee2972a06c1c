//! Operational metrics: what `/metrics` exposes, in the Prometheus text format.
//!
//! One [`Metrics`] is created at startup and handed (as an `Arc`) to whoever records into
//! it: the scheduler's model tasks (probe outcomes and timings, through a [`ProbeSeries`]
//! each task looks up once) and the dispatcher (delivery results). Everything that already
//! lives elsewhere — model states and decisions (the routing table), open incidents and the
//! outbox (the store), scheduler lag and skips ([`SchedulerStats`]) — is read when scraped,
//! so nothing is counted twice and nothing can drift.
//!
//! - [`registry`]: counters and histograms with labels; [`text`]: the exposition format;
//! - [`scrape`]: the figures read from the store and the routing table at scrape time;
//! - [`readiness`]: the checks behind `/readyz`.

pub mod readiness;
pub mod registry;
pub mod scheduler_stats;
pub mod scrape;
pub mod text;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::probe::{ProbeReport, Trigger};
use crate::vocabulary::Outcome;
use registry::{Counter, Family, Histogram};
pub use scheduler_stats::SchedulerStats;

/// Upper bounds (seconds) of the whole-probe duration histogram: sub-second answers up to
/// the longest provider timeouts.
const DURATION_BOUNDS: &[f64] = &[
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0,
];
/// Upper bounds (seconds) of the time-to-first-token histogram: finer where healthy models are.
const TTFT_BOUNDS: &[f64] = &[
    0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0,
];

/// What a delivery attempt came to, as `modelwatch_deliveries_total{result}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Delivered (or nothing to send for the subscription's format).
    Succeeded,
    /// Failed; another attempt is scheduled.
    Failed,
    /// Failed and the retry period is over: given up.
    Dead,
}

impl DeliveryResult {
    pub const ALL: [DeliveryResult; 3] = [
        DeliveryResult::Succeeded,
        DeliveryResult::Failed,
        DeliveryResult::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Succeeded => "succeeded",
            DeliveryResult::Failed => "failed",
            DeliveryResult::Dead => "dead",
        }
    }
}

/// Why observations are refused, as `/metrics` labels them.
pub const REFUSAL_REASONS: [&str; 7] = [
    "invalid",
    "unknown_model",
    "too_old",
    "rate_limited",
    "queue_full",
    "too_large",
    "unauthorized",
];

/// The service's metrics.
pub struct Metrics {
    clock: Clock,
    started_at: DateTime<Utc>,
    scheduler: Arc<SchedulerStats>,
    /// Probe observations take it shared; a scrape takes it exclusively while it copies the
    /// probe families, so one scrape never sees a probe counted in the outcome counter but
    /// not yet in the histograms (`_count` always equals the outcome total per model).
    /// Uncontended except during the copy, which touches memory only.
    gate: Arc<RwLock<()>>,
    probes: Family<Counter>,
    duration: Family<Histogram>,
    ttft: Family<Histogram>,
    /// Extra probes (not on the schedule) by model and reason: what adaptive probing costs.
    extra: Family<Counter>,
    deliveries: Family<Counter>,
    /// Observations of the application's traffic: accepted by model, refused by reason.
    observations: Family<Counter>,
    observations_refused: Family<Counter>,
}

/// One model's probe series, looked up once by its scheduler task; recording is lock-free
/// apart from the shared side of the scrape gate.
pub struct ProbeSeries {
    gate: Arc<RwLock<()>>,
    /// Indexed like [`Outcome::ALL`].
    outcomes: Vec<Arc<Counter>>,
    duration: Arc<Histogram>,
    ttft: Arc<Histogram>,
    /// Extra probes by reason, indexed like [`Trigger::ALL`] (the scheduled entry unused).
    extra: Vec<Arc<Counter>>,
}

impl ProbeSeries {
    /// Counts one probe sent for `trigger` (nothing for scheduled ones).
    pub fn sent(&self, trigger: Trigger) {
        if trigger == Trigger::Scheduled {
            return;
        }
        if let Some(i) = Trigger::ALL.iter().position(|t| *t == trigger) {
            self.extra[i].inc();
        }
    }

    /// Records one finished probe: its outcome, its duration, and its time to first token
    /// when a token arrived.
    pub fn observe(&self, report: &ProbeReport) {
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == report.outcome) {
            self.outcomes[i].inc();
        }
        self.duration.observe(f64::from(report.total_ms) / 1000.0);
        if let Some(ttft) = report.ttft_ms {
            self.ttft.observe(f64::from(ttft) / 1000.0);
        }
    }
}

impl Metrics {
    /// Metrics for a service started now (by `clock`), reading scheduler figures from `scheduler`.
    pub fn new(scheduler: Arc<SchedulerStats>, clock: Clock) -> Metrics {
        let m = Metrics {
            clock,
            started_at: clock.now(),
            scheduler,
            gate: Arc::new(RwLock::new(())),
            probes: Family::counter(
                "modelwatch_probes_total",
                "Finished probes by outcome class.",
                &["provider", "model", "outcome"],
            ),
            duration: Family::histogram(
                "modelwatch_probe_duration_seconds",
                "Duration of whole probes, whatever their outcome.",
                &["provider", "model"],
                DURATION_BOUNDS,
            ),
            ttft: Family::histogram(
                "modelwatch_probe_time_to_first_token_seconds",
                "Time to the first non-empty text delta, for probes that received one.",
                &["provider", "model"],
                TTFT_BOUNDS,
            ),
            extra: Family::counter(
                "modelwatch_extra_probes_total",
                "Probes sent beyond the schedule, by reason: confirm (evidence in doubt) or recovery (model disabled).",
                &["provider", "model", "reason"],
            ),
            deliveries: Family::counter(
                "modelwatch_deliveries_total",
                "Delivery attempts by result: succeeded, failed (will retry), dead (given up).",
                &["result"],
            ),
            observations: Family::counter(
                "modelwatch_observations_accepted_total",
                "Observations of the application's own traffic accepted, by model, by what reported them (api: the observations API, otlp: OTLP spans) and by outcome class.",
                &["model", "via", "outcome"],
            ),
            observations_refused: Family::counter(
                "modelwatch_observations_refused_total",
                "Observations refused, by reason: invalid (a bad row), unknown_model, too_old, rate_limited, queue_full, too_large, unauthorized.",
                &["reason"],
            ),
        };
        for reason in REFUSAL_REASONS {
            m.observations_refused.with(&[reason]);
        }
        // Every result is exposed from the start, so `rate()` sees the first increment.
        for r in DeliveryResult::ALL {
            m.deliveries.with(&[r.as_str()]);
        }
        m
    }

    /// The series of one model; creates (at zero) every outcome class and both histograms,
    /// so a configured model is visible before its first probe ends.
    pub fn probe_series(&self, provider: &str, model: &str) -> ProbeSeries {
        ProbeSeries {
            gate: Arc::clone(&self.gate),
            outcomes: Outcome::ALL
                .iter()
                .map(|o| self.probes.with(&[provider, model, o.as_str()]))
                .collect(),
            duration: self.duration.with(&[provider, model]),
            ttft: self.ttft.with(&[provider, model]),
            extra: Trigger::ALL
                .iter()
                .map(|t| {
                    if *t == Trigger::Scheduled {
                        Arc::new(Counter::default())
                    } else {
                        self.extra.with(&[provider, model, t.as_str()])
                    }
                })
                .collect(),
        }
    }

    /// Counts `n` observations of `model` ending in `outcome`, accepted through `via`
    /// (`api` or `otlp`).
    pub fn observations_accepted(&self, model: &str, via: &str, outcome: &str, n: u64) {
        self.observations.with(&[model, via, outcome]).add(n);
    }

    /// Counts `n` observations refused for `reason` (one of [`REFUSAL_REASONS`]).
    pub fn observations_refused(&self, reason: &str, n: u64) {
        self.observations_refused.with(&[reason]).add(n);
    }

    /// Counts one delivery attempt.
    pub fn delivery(&self, result: DeliveryResult) {
        self.deliveries.with(&[result.as_str()]).inc();
    }

    pub fn scheduler(&self) -> &SchedulerStats {
        &self.scheduler
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Renders the families recorded in memory (probes, deliveries, scheduler, process).
    /// [`scrape::render`] adds the figures read from the store and the routing table.
    pub fn render_recorded(&self, e: &mut text::Encoder) {
        {
            let _exclusive = self.gate.write().unwrap_or_else(|e| e.into_inner());
            self.probes.render(e);
            self.duration.render(e);
            self.ttft.render(e);
        }
        self.extra.render(e);
        self.deliveries.render(e);
        self.observations.render(e);
        self.observations_refused.render(e);
        scrape::render_scheduler(e, &self.scheduler);
        e.single(
            "modelwatch_process_start_time_seconds",
            "Start time of the process since the unix epoch, in seconds.",
            text::Kind::Gauge,
            self.started_at.timestamp_millis() as f64 / 1000.0,
        );
    }
}
