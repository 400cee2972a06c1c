//! `modelwatch agent`: the configured probers run somewhere else, and their results go to
//! the central service (`POST /api/v1/agent/results`) instead of a database.
//!
//! Three tasks: the scheduler (the same one `serve` runs), a batcher that gathers results
//! for up to [`BATCH_EVERY`] and writes each batch to the disk [`spool`], and a sender that
//! posts the spool's batches oldest first, removing each once acknowledged. A batch the
//! upstream cannot take now (network, 5xx, 429) is retried with backoff doubling to
//! [`MAX_BACKOFF`] (or as `Retry-After` says); one it refuses for good (4xx) is set aside
//! and logged. Batch ids are stable across retries, and the upstream stores each once.

pub mod spool;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio::sync::{mpsc, watch, Notify};
use tracing::{error, info, warn};

use crate::clock::Clock;
use crate::config::agents::valid_name;
use crate::config::Config;
use crate::probe::{http_client, prober_for, ProbeResult};
use crate::schedule;
use spool::Spool;

/// The environment variable holding the agent's token (scope `agent`).
pub const TOKEN_ENV: &str = "MODELWATCH_AGENT_TOKEN";
/// Results gather this long before they are written as one batch.
pub const BATCH_EVERY: Duration = Duration::from_secs(1);
/// The longest wait between attempts while the upstream is away.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// One request's deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom an agent reports.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The central service's base URL (`http(s)://host:port`).
    pub upstream: String,
    pub name: String,
    pub region: String,
    pub token: String,
    pub spool: PathBuf,
}

impl AgentSettings {
    /// Checks the settings, saying what is wrong.
    pub fn check(&self) -> anyhow::Result<()> {
        let url = reqwest::Url::parse(&self.upstream)
            .with_context(|| format!("--upstream `{}` is not a URL", self.upstream))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "--upstream `{}` must be an http:// or https:// URL",
            self.upstream
        );
        for (what, v) in [("--name", &self.name), ("--region", &self.region)] {
            anyhow::ensure!(
                valid_name(v),
                "{what} `{v}` must be 1 to 63 of a-z, 0-9, '.', '_', '-'"
            );
        }
        anyhow::ensure!(
            self.token.starts_with("mw_"),
            "{TOKEN_ENV} must hold an API token with the `agent` scope (mw_…), named as this agent"
        );
        Ok(())
    }

    fn endpoint(&self) -> String {
        format!(
            "{}/api/v1/agent/results",
            self.upstream.trim_end_matches('/')
        )
    }
}

/// Runs the agent until `shutdown` becomes true: probes, batches, sends. On the way out the
/// last results are written to the spool and one more send is tried; what is left is sent
/// by the next start.
pub async fn run(
    config: Config,
    settings: AgentSettings,
    clock: Clock,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    settings.check()?;
    let spool = Spool::open(&settings.spool)
        .with_context(|| format!("opening the spool {}", settings.spool.display()))?;
    let client = http_client();
    let planned = schedule::plan(&config, &clock, |p| prober_for(p.kind, &client, clock));
    info!(models = planned.len(), upstream = %settings.upstream, agent = %settings.name, region = %settings.region, spool = %settings.spool.display(), "modelwatch agent running");
    let (tx, rx) = mpsc::channel(config.agents.max_batch * 2);
    let scheduler = schedule::spawn(planned, clock, tx, shutdown.clone());
    let written = Arc::new(Notify::new());
    let spool = Arc::new(std::sync::Mutex::new(spool));
    let batcher = tokio::spawn(batch(
        rx,
        Arc::clone(&spool),
        settings.clone(),
        config.agents.max_batch,
        clock,
        Arc::clone(&written),
    ));
    let sender = tokio::spawn(send(
        Arc::clone(&spool),
        settings.clone(),
        Arc::clone(&written),
        shutdown.clone(),
    ));
    scheduler.join().await;
    batcher.await.context("the batcher ended abnormally")?;
    sender.await.context("the sender ended abnormally")?;
    info!("agent stopped");
    Ok(())
}

/// Gathers results into batches and writes each to the spool; ends when the scheduler is
/// gone and everything received is written.
async fn batch(
    mut rx: mpsc::Receiver<ProbeResult>,
    spool: Arc<std::sync::Mutex<Spool>>,
    settings: AgentSettings,
    max_batch: usize,
    clock: Clock,
    written: Arc<Notify>,
) {
    let mut pending: Vec<ProbeResult> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else { break };
        pending.push(first);
        let deadline = tokio::time::Instant::now() + BATCH_EVERY;
        while pending.len() < max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => pending.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        write_batch(&spool, &settings, &mut pending, clock);
        written.notify_one();
    }
    if !pending.is_empty() {
        write_batch(&spool, &settings, &mut pending, clock);
        written.notify_one();
    }
}

fn write_batch(
    spool: &std::sync::Mutex<Spool>,
    settings: &AgentSettings,
    pending: &mut Vec<ProbeResult>,
    clock: Clock,
) {
    let Ok(mut spool) = spool.lock() else { return };
    let name = spool.next_name(clock.now().timestamp_millis());
    let body = json!({
        "batch_id": format!("{}-{name}", settings.name),
        "agent": settings.name,
        "region": settings.region,
        "version": env!("CARGO_PKG_VERSION"),
        "results": pending,
    });
    let n = pending.len();
    pending.clear();
    match serde_json::to_vec(&body) {
        Ok(bytes) => {
            if let Err(e) = spool.put(&name, &bytes) {
                error!(error = %e, results = n, "writing a batch to the spool failed: its results are lost");
            }
        }
        Err(e) => error!(error = %e, results = n, "encoding a batch failed: its results are lost"),
    }
}

/// What became of one attempt.
enum Sent {
    Acknowledged,
    /// Refused for good: set aside.
    Refused,
    /// Try again after this long.
    Later(Duration),
}

/// Posts the spool's batches, oldest first, until shutdown (then one last pass).
async fn send(
    spool: Arc<std::sync::Mutex<Spool>>,
    settings: AgentSettings,
    written: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "building the HTTP client failed: nothing will be sent");
            return;
        }
    };
    let mut backoff = BATCH_EVERY;
    let mut away = false;
    loop {
        let stopping = *shutdown.borrow();
        let files = spool.lock().map(|s| s.pending()).unwrap_or_default();
        let mut wait = None;
        for file in files {
            let outcome = send_one(&client, &settings, &file).await;
            let Ok(mut spool) = spool.lock() else { return };
            match outcome {
                Sent::Acknowledged => {
                    spool.done(&file);
                    if away {
                        info!("the upstream answers again: sending what was buffered");
                        away = false;
                    }
                    backoff = BATCH_EVERY;
                }
                Sent::Refused => spool.reject(&file),
                Sent::Later(after) => {
                    wait = Some(after.max(backoff));
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    away = true;
                    break;
                }
            }
        }
        if stopping {
            return;
        }
        match wait {
            Some(w) => {
                tokio::select! {
                    _ = tokio::time::sleep(w) => {}
                    _ = shutdown.changed() => {}
                }
            }
            None => {
                tokio::select! {
                    _ = written.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

async fn send_one(
    client: &reqwest::Client,
    settings: &AgentSettings,
    file: &std::path::Path,
) -> Sent {
    let body = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            error!(file = %file.display(), error = %e, "reading a buffered batch failed; setting it aside");
            return Sent::Refused;
        }
    };
    let response = client
        .post(settings.endpoint())
        .bearer_auth(&settings.token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Sent::Acknowledged,
        Ok(r) => {
            let status = r.status();
            let retry_after = r
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = r.text().await.unwrap_or_default();
            if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                warn!(%status, body = %text.chars().take(300).collect::<String>(), "the upstream cannot take the batch now; retrying");
                Sent::Later(retry_after.unwrap_or(BATCH_EVERY).min(MAX_BACKOFF))
            } else if status.as_u16() == 401 || status.as_u16() == 403 {
                // The token is wrong: every batch would be refused alike. Keep them and say
                // so; they are sent once the token is fixed and the agent restarted.
                error!(%status, body = %text.chars().take(300).collect::<String>(), "the upstream refuses this agent's token; batches stay buffered");
                Sent::Later(MAX_BACKOFF)
            } else {
                error!(%status, file = %file.display(), body = %text.chars().take(300).collect::<String>(), "the upstream refused a batch; set aside as .rejected");
                Sent::Refused
            }
        }
        Err(e) => {
            warn!(error = %e, "the upstream is unreachable; batches stay buffered on disk");
            Sent::Later(BATCH_EVERY)
        }
    }
}
