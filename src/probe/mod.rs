//! Probers: one small, real, streamed request per model, classified and timed.
//!
//! One file per protocol behind the [`Prober`] trait. HTTP protocols share the streaming
//! driver in [`stream`]: they only build the request and decode their own stream format.
//!
//! **Architecture invariant:** a failed probe is data, not an error. `Prober::probe` never
//! returns `Err` and never panics on anything the network sends; every path ends in a
//! [`ProbeReport`] with an [`Outcome`].
//!
//! **Architecture invariant:** a probe's memory is bounded whatever the server sends: one
//! event at most [`MAX_EVENT_BYTES`], one response at most [`MAX_RESPONSE_BYTES`], an error
//! body at most 64 KiB. Past a bound the probe ends `malformed`, naming the bound.

pub mod anthropic;
pub mod bedrock;
pub mod error_body;
pub mod gemini;
pub mod openai;
pub mod overload;
pub mod redact;
pub mod simulated;
pub mod simulated_traffic;
pub mod sse;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::{ModelConfig, ProviderConfig, ProviderKind};
use crate::vocabulary::Outcome;

/// Most bytes one stream event may hold (an SSE event's lines up to its blank line, or one
/// AWS event-stream frame). A probe's largest real events (a Responses API
/// `response.completed`, Gemini's last chunk with its usage) are a few KiB; 1 MiB leaves
/// room for any of them and stops a server that never ends its event from growing memory.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Most bytes of one streamed response body. A probe asks for a few tokens (16 by default)
/// and a streamed token costs a few hundred bytes of framing and JSON, so a real answer is a
/// few KiB and even a 20,000-token answer stays below 8 MiB. A stream past this is not a
/// probe's answer; stopping it ends the probe before the timeout and spends no more bandwidth.
pub const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// What one probe measured. Timings are from the moment the request was sent. Read back
/// when an agent pushes it (`POST /api/v1/agent/results`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProbeReport {
    pub outcome: Outcome,
    /// HTTP status of the response, when one arrived.
    pub http_status: Option<u16>,
    /// Time until response headers arrived.
    pub headers_ms: Option<u32>,
    /// Time until the first *non-empty text* delta (not the first event).
    pub ttft_ms: Option<u32>,
    /// Time until the probe ended, whatever the outcome.
    pub total_ms: u32,
    /// The provider's request id (from headers or the stream), for support tickets.
    pub request_id: Option<String>,
    /// Error text, scrubbed of secrets and truncated; `None` when the outcome is `ok`.
    pub error: Option<String>,
}

impl ProbeReport {
    /// A report for a probe that failed before any response (used by probers that cannot even
    /// build their request, e.g. missing credentials).
    pub fn failed(outcome: Outcome, error: impl Into<String>) -> Self {
        ProbeReport {
            outcome,
            http_status: None,
            headers_ms: None,
            ttft_ms: None,
            total_ms: 0,
            request_id: None,
            error: Some(error.into()),
        }
    }
}

/// One stored probe: the report plus which model it was, when it started and why it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProbeResult {
    pub provider: String,
    pub model: String,
    pub started_at: DateTime<Utc>,
    #[serde(flatten)]
    pub report: ProbeReport,
    pub trigger: Trigger,
}

/// Why a probe was sent. Extra probes cost money, so each is counted by its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The model's cron schedule fired.
    #[default]
    Scheduled,
    /// The evaluator was in doubt (a failure, a slow answer, a recovery under way) and asked
    /// for more evidence sooner than the schedule would give it.
    Confirm,
    /// The model is disabled; it is probed more often than its schedule to see it recover.
    Recovery,
}

impl Trigger {
    pub const ALL: [Trigger; 3] = [Trigger::Scheduled, Trigger::Confirm, Trigger::Recovery];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Confirm => "confirm",
            Trigger::Recovery => "recovery",
        }
    }

    /// The stored name back; an unknown name (a newer version's) reads as scheduled.
    pub fn parse(s: &str) -> Trigger {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .unwrap_or_default()
    }
}

impl ProbeResult {
    /// The stable `provider/model` id.
    pub fn model_key(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// What a prober needs to know about the model it probes.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub provider: Arc<ProviderConfig>,
    pub model: Arc<ModelConfig>,
}

impl ProbeTarget {
    /// The stable `provider/model` id.
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider.id, self.model.id)
    }

    /// Secrets that must never appear in stored error text for this target.
    pub fn secrets(&self) -> Vec<&str> {
        self.provider.secrets()
    }
}

/// One protocol's way of probing a model.
#[async_trait]
pub trait Prober: Send + Sync {
    /// Sends one probe and classifies it. Bounded by the provider's `timeout`.
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport;
}

/// Builds the prober for a provider kind. One HTTP client is shared by all HTTP probers so
/// connections are pooled across probes of the same provider. The simulated provider counts
/// its fault windows from `clock`'s present moment.
pub fn prober_for(kind: ProviderKind, client: &reqwest::Client, clock: Clock) -> Arc<dyn Prober> {
    match kind {
        ProviderKind::Anthropic => Arc::new(anthropic::AnthropicProber::new(client.clone())),
        ProviderKind::OpenAi => Arc::new(openai::OpenAiProber::new(client.clone())),
        ProviderKind::Gemini => Arc::new(gemini::GeminiProber::new(client.clone())),
        ProviderKind::Bedrock => Arc::new(bedrock::BedrockProber::new(client.clone())),
        ProviderKind::Simulated => Arc::new(simulated::SimulatedProber::new(clock, clock.now())),
    }
}

/// The HTTP client probers share: no redirects (a probe endpoint that redirects is
/// misconfigured), no proxy from the environment surprises, a bounded connect time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("modelwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the probe HTTP client configuration is static and valid")
}
