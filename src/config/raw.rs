//! The configuration file as written: serde types that mirror the TOML exactly.
//!
//! Every key is listed here and unknown keys are refused (`deny_unknown_fields`), so a typo
//! is an error with its line rather than a silently ignored setting. Values that later
//! validation may reject keep their position (`Spanned`) so the error can name the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub retention: RawRetention,
    pub evaluator: Option<Spanned<RawPolicy>>,
    pub notify: Option<Spanned<RawNotify>>,
    pub paging: Option<Spanned<RawPaging>>,
    /// Not `Spanned`: toml cannot span a table that holds a sub-table (`[traffic.names]`).
    #[serde(default)]
    pub traffic: super::traffic::RawTraffic,
    #[serde(default)]
    pub agents: super::agents::RawAgents,
    #[serde(default)]
    pub providers: Vec<RawProvider>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub database: Option<Spanned<String>>,
    /// Probe results are written in one transaction per batch of at most this many.
    pub write_batch: Option<Spanned<usize>>,
    /// The public address of the status page, for links in feeds, emails and webhooks.
    pub public_url: Option<Spanned<String>>,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` names the client.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    /// Time to receive a request's head; also the keep-alive idle timeout.
    pub header_timeout: Option<Spanned<String>>,
    /// Time to receive a request's body.
    pub body_timeout: Option<Spanned<String>>,
    /// Connections open at once.
    pub max_connections: Option<Spanned<usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub raw: Option<Spanned<String>>,
    pub minute: Option<Spanned<String>>,
    pub hour: Option<Spanned<String>>,
    pub day: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub kind: Spanned<String>,
    pub base_url: Option<Spanned<String>>,
    pub api_key_env: Option<Spanned<String>>,
    pub schedule: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<usize>>,
    /// Extra request headers; values may use `${ENV}`.
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// `openai` kind: `chat` (Chat Completions, default) or `responses` (Responses API).
    pub api: Option<Spanned<String>>,
    /// `openai` kind: Azure OpenAI `api-version`; switches to Azure's deployment URLs and `api-key` header.
    pub api_version: Option<Spanned<String>>,
    /// `openai` kind: the request field for the output budget (`max_tokens` or `max_completion_tokens`).
    pub token_limit_field: Option<Spanned<String>>,
    /// `bedrock` kind: AWS region (else `AWS_REGION` / `AWS_DEFAULT_REGION`).
    pub region: Option<Spanned<String>>,
    /// Defaults for every model of a `simulated` provider.
    pub simulate: Option<Spanned<RawSimulation>>,
    pub evaluator: Option<Spanned<RawPolicy>>,
    /// Where the provider publishes its own status (not `Spanned`: it holds a sub-table).
    pub official: Option<super::official::RawOfficial>,
    #[serde(default)]
    pub models: Vec<RawModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub id: Spanned<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub fallback: Vec<Spanned<String>>,
    pub schedule: Option<Spanned<String>>,
    pub prompt: Option<String>,
    pub max_tokens: Option<Spanned<u32>>,
    pub reasoning_effort: Option<String>,
    pub thinking_budget: Option<i64>,
    /// Azure deployment name (defaults to the model id).
    pub deployment: Option<String>,
    pub simulate: Option<Spanned<RawSimulation>>,
    pub evaluator: Option<Spanned<RawPolicy>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimulation {
    pub ttft: Option<String>,
    pub generation: Option<String>,
    pub jitter: Option<String>,
    pub error_rate: Option<f64>,
    pub error_mix: Option<BTreeMap<String, u32>>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub after: String,
    pub duration: String,
    pub every: Option<String>,
    pub error_rate: Option<f64>,
    pub error_mix: Option<BTreeMap<String, u32>>,
    pub ttft: Option<String>,
}

/// Evaluator settings; the same keys in `[evaluator]`, a provider's and a model's `evaluator`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub window_probes: Option<u32>,
    pub min_samples: Option<u32>,
    pub confidence_z: Option<f64>,
    pub healthy_error_rate: Option<f64>,
    pub degraded_error_rate: Option<f64>,
    pub partial_error_rate: Option<f64>,
    pub major_error_rate: Option<f64>,
    pub false_alarm_probes: Option<f64>,
    pub exit_odds: Option<f64>,
    pub latency_factor: Option<f64>,
    pub ttft_limit: Option<String>,
    pub total_limit: Option<String>,
    pub slow_share: Option<f64>,
    pub disable_at: Option<String>,
    pub confirm_interval: Option<String>,
    pub recovery_interval: Option<String>,
    pub extra_probes_per_hour: Option<u32>,
    pub quiet_probes: Option<u32>,
    /// Settings of the evaluator before it judged every probe: read only to say they are gone.
    pub evaluate_every_probes: Option<toml::Value>,
    pub confirm_every_probes: Option<toml::Value>,
    pub failure_threshold: Option<toml::Value>,
    pub success_threshold: Option<toml::Value>,
    pub baseline_probes: Option<toml::Value>,
}

/// `[notify]`: subscriptions and their delivery.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    #[serde(default)]
    pub allow_internal_targets: Vec<String>,
    pub secret_key_env: Option<String>,
    pub delivery_concurrency: Option<usize>,
    pub attempt_timeout: Option<String>,
    pub retry_for: Option<String>,
    pub disable_after: Option<String>,
    pub subscribe_per_hour: Option<u32>,
    pub email_from: Option<String>,
    pub email_transport: Option<String>,
    pub email_dir: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_tls: Option<String>,
    pub smtp_username_env: Option<String>,
    pub smtp_password_env: Option<String>,
}

/// `[paging]`: paging the on-call for automatic incidents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaging {
    pub enabled: Option<bool>,
    pub pagerduty_routing_key_env: Option<Spanned<String>>,
    pub pagerduty_url: Option<Spanned<String>>,
    #[serde(default)]
    pub webhooks: Vec<RawPagingWebhook>,
    pub repage_after: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPagingWebhook {
    pub url: Spanned<String>,
    pub format: Option<Spanned<String>>,
}
