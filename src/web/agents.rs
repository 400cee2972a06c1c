//! `POST /api/v1/agent/results`: probe results pushed by agents (`modelwatch agent`).
//!
//! The path of a batch, and what each step may answer:
//! 1. the token: 401 unknown, 403 another scope, 403 when the body names another agent
//!    than the token (an agent reports only as itself);
//! 2. the body: at most `agents.max_batch` results (413), readable JSON (400), a batch id,
//!    agent and region that are names (400);
//! 3. every result: a configured model, a start within the last `agents.max_age`… (422 with
//!    the index and why; the whole batch is refused, so a corrected retry stores it once);
//! 4. stored in one transaction with its batch id ([`Store::accept_agent_batch`]): a batch
//!    sent again answers 200 with `"duplicate": true` and writes nothing.
//!
//! The evaluator is woken as for this server's own results.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::Scope;
use crate::clock::Clock;
use crate::config::agents::valid_name;
use crate::config::Config;
use crate::probe::ProbeResult;
use crate::store::agents::{BatchFrom, BatchReceipt};
use crate::store::Store;
use crate::web::http::{scoped_token, ApiError};

/// Bytes a result may take on average before a body counts as too large (an error text is
/// at most a few hundred bytes).
const BYTES_PER_RESULT: usize = 2048;
/// How old a result may be: an agent buffers on disk while the upstream is away, and its
/// results are judged when they arrive, so a day covers any cut worth replaying.
const MAX_AGE: chrono::Duration = chrono::Duration::hours(24);
/// How far in the future a result may start (clock skew between machines).
const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(2);
/// Longest error text and request id kept per result.
const MAX_ERROR: usize = 2000;
const MAX_REQUEST_ID: usize = 256;

/// What the handler shares.
pub struct AgentIntake {
    store: Store,
    clock: Clock,
    models: HashSet<String>,
    max_batch: usize,
    /// Wakes the evaluator once a batch is stored.
    stored: Arc<tokio::sync::Notify>,
}

/// A batch as an agent sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Unique per batch and stable across retries.
    pub batch_id: String,
    pub agent: String,
    pub region: String,
    #[serde(default)]
    pub version: Option<String>,
    pub results: Vec<ProbeResult>,
}

/// The route, with its body limit sized from `agents.max_batch`.
pub fn routes(
    config: &Config,
    store: Store,
    clock: Clock,
    stored: Arc<tokio::sync::Notify>,
) -> Router {
    let intake = AgentIntake {
        store,
        clock,
        models: config
            .models()
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect(),
        max_batch: config.agents.max_batch,
        stored,
    };
    Router::new()
        .route("/api/v1/agent/results", post(results))
        .layer(DefaultBodyLimit::max(
            config.agents.max_batch * BYTES_PER_RESULT + 4096,
        ))
        .with_state(Arc::new(intake))
}

async fn results(
    State(intake): State<Arc<AgentIntake>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    // Its name is the only agent it may report as.
    let token_name =
        scoped_token::require(&intake.store, &headers, Scope::Agent, intake.clock.now())
            .await?
            .name;
    let body = body.map_err(crate::web::http::rejections::body_error)?;
    let batch: Batch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::status(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid batch at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    check_batch(&intake, &batch, &token_name)?;
    let from = BatchFrom {
        agent: &batch.agent,
        region: &batch.region,
        version: batch.version.as_deref(),
        batch_id: &batch.batch_id,
    };
    let receipt = intake
        .store
        .accept_agent_batch(&from, &batch.results, intake.clock.now())
        .await
        .map_err(|e| ApiError::internal("storing an agent's batch", e))?;
    Ok(Json(match receipt {
        BatchReceipt::Stored(n) => {
            intake.stored.notify_one();
            json!({ "batch_id": batch.batch_id, "stored": n, "duplicate": false })
        }
        BatchReceipt::Duplicate => {
            json!({ "batch_id": batch.batch_id, "stored": 0, "duplicate": true })
        }
    }))
}

/// Refuses a batch that is not whole and sound, saying what and where.
fn check_batch(intake: &AgentIntake, batch: &Batch, token_name: &str) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::status(StatusCode::BAD_REQUEST, m);
    if batch.batch_id.is_empty()
        || batch.batch_id.len() > 128
        || !batch
            .batch_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
    {
        return Err(bad(
            "`batch_id` must be 1 to 128 of A-Z, a-z, 0-9, '.', '_', ':', '-'".into(),
        ));
    }
    for (field, value) in [("agent", &batch.agent), ("region", &batch.region)] {
        if !valid_name(value) {
            return Err(bad(format!(
                "`{field}` = {value:?} must be 1 to 63 of a-z, 0-9, '.', '_', '-'"
            )));
        }
    }
    if batch.agent != token_name {
        return Err(ApiError::status(
            StatusCode::FORBIDDEN,
            format!(
                "this token is named `{token_name}`: an agent reports only under its token's name, not as `{}`",
                batch.agent
            ),
        ));
    }
    if batch.version.as_ref().is_some_and(|v| v.len() > 64) {
        return Err(bad("`version` is at most 64 characters".into()));
    }
    if batch.results.len() > intake.max_batch {
        return Err(ApiError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a batch holds at most {} results; this one has {}: split it",
                intake.max_batch,
                batch.results.len()
            ),
        ));
    }
    let now = intake.clock.now();
    for (i, r) in batch.results.iter().enumerate() {
        let refuse = |why: String| {
            ApiError::status(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("results[{i}]: {why}; nothing of this batch was stored"),
            )
        };
        let key = r.model_key();
        if !intake.models.contains(&key) {
            return Err(refuse(format!(
                "`{key}` is not a configured model (agents and this server must share the models)"
            )));
        }
        if r.started_at < now - MAX_AGE || r.started_at > now + MAX_SKEW {
            return Err(refuse(format!(
                "started_at {} is more than a day old or more than 2 minutes ahead of this server's clock ({})",
                r.started_at.to_rfc3339(),
                now.to_rfc3339()
            )));
        }
        if r.report.error.as_ref().is_some_and(|e| e.len() > MAX_ERROR)
            || r.report
                .request_id
                .as_ref()
                .is_some_and(|e| e.len() > MAX_REQUEST_ID)
        {
            return Err(refuse(format!(
                "`error` is at most {MAX_ERROR} bytes and `request_id` at most {MAX_REQUEST_ID}"
            )));
        }
    }
    Ok(())
}
