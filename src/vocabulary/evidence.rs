//! What the evaluator shows people back: the [`Evidence`] stored with every decision and
//! served by the pages and the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The model's usual latency: exponentially weighted medians of its successful probes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub ttft_p50_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
    /// Successful probes the medians were learnt from (up to the warm-up count they need).
    pub samples: u32,
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
    /// The failure rate the model shows when healthy (the sequential tests' baseline).
    #[serde(default)]
    pub healthy_error_rate: f64,
    /// Each sequential test: where it stands now.
    #[serde(default)]
    pub tests: Vec<TestFigure>,
    /// Extra probes sent for this model in the last hour, by reason.
    #[serde(default)]
    pub extra_probes: ExtraProbes,
    /// The application's own traffic, the second stream of evidence (absent when no
    /// application reports any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficEvidence>,
    /// Each place the model is probed from, when agents probe it too (absent with this
    /// server's probes alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<VantageFigure>,
}

/// One vantage's view of a model: its own state and figures over its window of probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VantageFigure {
    /// `central` for this server's own probes, else the agent's name.
    pub name: String,
    pub region: String,
    pub state: crate::vocabulary::ModelState,
    /// Whether it counts: it reported the model recently enough.
    pub active: bool,
    /// When its latest probe of the model started.
    pub last_probe_at: Option<chrono::DateTime<chrono::Utc>>,
    pub samples: u32,
    pub failures: u32,
    pub error_rate: f64,
    pub ttft_p50_ms: Option<u32>,
}

/// The traffic stream behind a decision: every source's figures over the last minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficEvidence {
    /// Requests in the last minute, every source and class.
    pub requests: u32,
    /// Of those, provider faults (the ones that count against the model).
    pub failures: u32,
    /// Caller-side failures (auth, bad request, not found, rate limited): never counted.
    pub client_side: u32,
    pub error_rate: f64,
    pub ttft_p50_ms: Option<u32>,
    /// Whether traffic decides (busy) or probes do (quiet or routed away).
    pub busy: bool,
    /// The state the traffic stream supports, if it has enough evidence.
    pub state: Option<String>,
    pub sources: Vec<SourceFigure>,
}

/// One source's view of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceFigure {
    pub source: String,
    pub requests: u32,
    pub failures: u32,
    pub client_side: u32,
    pub ttft_p50_ms: Option<u32>,
    /// The state this source's own tests support (`unknown` before enough requests).
    pub state: String,
    /// Nothing heard from it for longer than `traffic.stale_after`.
    pub stale: bool,
    /// Its impairment is not announced: no other source sees it.
    pub alone: bool,
}

/// One sequential test as people see it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestFigure {
    /// What it watches for, e.g. `errors ≥ 20%` or `slow ≥ 30%`.
    pub test: String,
    /// Raised: the model is held in the state this test stands for.
    pub held: bool,
    /// How far the test in progress (entering, or leaving when held) is to its bound, 0–1.
    pub progress: f64,
    /// Probes, and bad ones, behind that figure.
    pub probes: u32,
    pub bad: u32,
}

/// Extra probes by reason (see `probe::Trigger`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraProbes {
    pub confirm: u32,
    pub recovery: u32,
}

/// Milliseconds in the unit people read: "850 ms", "4.1 s".
pub fn ms(v: u32) -> String {
    if v < 1000 {
        format!("{v} ms")
    } else {
        format!("{:.1} s", v as f64 / 1000.0)
    }
}
