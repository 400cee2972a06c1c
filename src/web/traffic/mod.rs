//! The application's own traffic, received: `POST /api/v1/observations` (JSON or NDJSON
//! rows) and `POST /v1/traces` (OTLP/HTTP GenAI spans). Both need an API token with the
//! `ingest` scope, which can do nothing else.
//!
//! The path of a batch, and what each step may answer:
//! 1. the token (401 unknown, 403 another scope);
//! 2. the body: at most `traffic.max_batch` rows (413), readable (400); gzip is inflated
//!    within the same limit;
//! 3. every row checked on its own ([`rows`], [`otlp`]): bad rows are refused by index and
//!    reason, the good ones kept;
//! 4. the token's rate (`traffic.rate_per_token` observations a second, a token bucket):
//!    429 with `Retry-After`, the whole batch refused;
//! 5. the evaluator's queue (`traffic.queue_batches` batches): 503 with `Retry-After` when
//!    full, the whole batch refused.
//!
//! A batch is handed over whole or not at all, so a refusal at 4 or 5 leaves nothing half
//! written, and the queue bounds the memory a flood can take: probing and page serving go
//! on at their own pace.

pub mod names;
pub mod otlp;
pub mod rows;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::mpsc;

use crate::admin::Scope;
use crate::config::TrafficConfig;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::vocabulary::Observation;
use crate::web::http::{retry_later, scoped_token, ApiError, RetryLater};
use names::ModelNames;

/// Bytes a row may take on average before a body counts as too large: generous for the
/// documented fields, small enough that a batch cannot hold much else.
const BYTES_PER_ROW: usize = 1024;
/// Bytes allowed per OTLP span (attributes, events and ids take more than our rows).
const BYTES_PER_SPAN: usize = 4096;

/// What the ingest handlers share.
pub struct Intake {
    store: Store,
    clock: crate::clock::Clock,
    metrics: Arc<Metrics>,
    names: ModelNames,
    config: TrafficConfig,
    queue: mpsc::Sender<Vec<Observation>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// A token's allowance: up to one second's worth of observations, refilled continuously.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Intake {
    /// The intake and the receiving end of its queue (for the evaluator).
    pub fn new(
        store: Store,
        clock: crate::clock::Clock,
        metrics: Arc<Metrics>,
        config: &crate::config::Config,
    ) -> (Arc<Intake>, mpsc::Receiver<Vec<Observation>>) {
        let (queue, receiver) = mpsc::channel(config.traffic.queue_batches);
        let intake = Intake {
            store,
            clock,
            metrics,
            names: ModelNames::new(config),
            config: config.traffic.clone(),
            queue,
            buckets: Mutex::new(HashMap::new()),
        };
        (Arc::new(intake), receiver)
    }

    /// The evaluator's queue, for producers inside the service (the demo's simulated
    /// traffic): they bypass the per-token rate, never the queue's bound.
    pub fn queue(&self) -> mpsc::Sender<Vec<Observation>> {
        self.queue.clone()
    }

    /// Takes `n` observations from token `id`'s allowance, or says how many seconds until
    /// it holds them.
    fn spend(&self, id: &str, n: usize) -> Result<(), u64> {
        let rate = f64::from(self.config.rate_per_token.max(1));
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let b = buckets.entry(id.to_string()).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
        b.at = now;
        let n = n as f64;
        if n > b.tokens {
            // A batch larger than a second's allowance waits for a full bucket.
            let wait = ((n.min(rate) - b.tokens) / rate).ceil().max(1.0);
            return Err(wait as u64);
        }
        b.tokens -= n;
        Ok(())
    }

    fn refund(&self, id: &str, n: usize) {
        if let Ok(mut buckets) = self.buckets.lock() {
            if let Some(b) = buckets.get_mut(id) {
                b.tokens += n as f64;
            }
        }
    }

    /// The `ingest` token of a request: its id and name. Refusals are counted.
    async fn caller(&self, headers: &HeaderMap) -> Result<(String, String), ApiError> {
        match scoped_token::require(&self.store, headers, Scope::Ingest, self.clock.now()).await {
            Ok(found) => Ok((found.id, found.name)),
            Err(e) => {
                if e.status != StatusCode::INTERNAL_SERVER_ERROR {
                    self.metrics.observations_refused("unauthorized", 1);
                }
                Err(e)
            }
        }
    }

    /// Rate, then queue: the batch is handed to the evaluator whole, or refused whole.
    fn hand_over(&self, token_id: &str, rows: Vec<Observation>) -> Result<(), RetryLater> {
        let n = rows.len();
        if n == 0 {
            return Ok(());
        }
        if self
            .metrics
            .scheduler()
            .standby
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // Only the leader's evaluator judges traffic (see `replica`).
            return Err(retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                1,
                "this replica is a standby and the leader judges traffic: nothing of this batch was kept, send it to the leader (the reference proxy configuration retries the next replica)",
            ));
        }
        if let Err(wait) = self.spend(token_id, n) {
            self.metrics.observations_refused("rate_limited", n as u64);
            return Err(retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                wait,
                format!(
                    "this token may send {} observations a second; nothing of this batch was kept",
                    self.config.rate_per_token
                ),
            ));
        }
        match self.queue.try_send(rows) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.refund(token_id, n);
                self.metrics.observations_refused("queue_full", n as u64);
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the evaluator is behind",
                    mpsc::error::TrySendError::Closed(_) => "the service is stopping",
                };
                Err(retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    1,
                    format!("{why}; nothing of this batch was kept, send it again"),
                ))
            }
        }
    }

    /// Hands `rows` over (see [`Intake::hand_over`]) and counts them accepted by model and
    /// outcome.
    fn accept(&self, token_id: &str, rows: Vec<Observation>, via: &str) -> Result<(), RetryLater> {
        let mut tally: HashMap<(&str, &'static str), u64> = HashMap::new();
        for o in &rows {
            *tally
                .entry((o.model_key.as_str(), o.outcome.as_str()))
                .or_default() += 1;
        }
        // One owned key per model and outcome, not per row: the rows move on next.
        let tally: Vec<((String, &'static str), u64)> = tally
            .into_iter()
            .map(|((model, outcome), n)| ((model.to_string(), outcome), n))
            .collect();
        self.hand_over(token_id, rows)?;
        for ((model, outcome), n) in tally {
            self.metrics.observations_accepted(&model, via, outcome, n);
        }
        Ok(())
    }
}

/// The routes, with body limits sized from `traffic.max_batch`.
pub fn routes(intake: Arc<Intake>) -> (Router, Router) {
    let rows_limit = intake.config.max_batch * BYTES_PER_ROW;
    let spans_limit = intake.config.max_batch * BYTES_PER_SPAN;
    let api = Router::new()
        .route("/api/v1/observations", post(observations))
        .layer(DefaultBodyLimit::max(rows_limit))
        .with_state(Arc::clone(&intake));
    let otlp = Router::new()
        .route("/v1/traces", post(traces))
        .layer(DefaultBodyLimit::max(spans_limit))
        .with_state(intake);
    (api, otlp)
}

/// The body, inflated when `Content-Encoding: gzip`, within `limit` bytes either way.
fn inflate(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") => {
            let mut out = Vec::new();
            let read = flate2::read::GzDecoder::new(body.as_ref())
                .take(limit as u64 + 1)
                .read_to_end(&mut out);
            match read {
                Ok(n) if n > limit => Err(ApiError::status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the inflated body is over {limit} bytes"),
                )),
                Ok(_) => Ok(Bytes::from(out)),
                Err(e) => Err(ApiError::status(
                    StatusCode::BAD_REQUEST,
                    format!("the gzip body does not inflate: {e}"),
                )),
            }
        }
        Some(other) => Err(ApiError::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding `{other}` is not supported; send gzip or nothing"),
        )),
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `POST /api/v1/observations`.
async fn observations(
    State(intake): State<Arc<Intake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (token_id, token_name) = intake.caller(&headers).await?;
    let limit = intake.config.max_batch * BYTES_PER_ROW;
    let body = inflate(&headers, body, limit)?;
    let ndjson = match content_type(&headers).as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/ndjson" => true,
        "application/json" | "" => false,
        other => {
            return Err(ApiError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                "Content-Type `{other}`: send application/json (an array) or application/x-ndjson"
            ),
            ))
        }
    };
    let rows = rows::split(&body, ndjson, intake.config.max_batch).map_err(|e| match e {
        rows::BodyError::Unreadable(m) => ApiError::status(StatusCode::BAD_REQUEST, m),
        rows::BodyError::TooMany { rows, most } => {
            intake
                .metrics
                .observations_refused("too_large", rows as u64);
            ApiError::status(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a batch holds at most {most} observations; this one has {rows}: split it"),
            )
        }
    })?;
    let cx = rows::Context {
        names: &intake.names,
        default_source: &token_name,
        now: intake.clock.now(),
        max_age: chrono::Duration::from_std(intake.config.max_age)
            .unwrap_or(chrono::Duration::hours(1)),
    };
    let parsed = rows::check(rows, &cx);
    for r in &parsed.refused {
        intake.metrics.observations_refused(r.kind, 1);
    }
    let accepted = parsed.rows.len();
    if let Err(refused) = intake.accept(&token_id, parsed.rows, "api") {
        return Ok(refused.into_response());
    }
    let status = if accepted == 0 && !parsed.refused.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "accepted": accepted,
            "refused": parsed.refused,
            "partial": accepted > 0 && !parsed.refused.is_empty(),
        })),
    )
        .into_response())
}

/// Why an export was refused: an error of ours or the caller's, or "later".
enum TraceRefusal {
    Api(ApiError),
    Later(RetryLater),
}

impl From<ApiError> for TraceRefusal {
    fn from(e: ApiError) -> Self {
        TraceRefusal::Api(e)
    }
}

/// `POST /v1/traces` (OTLP/HTTP). Refusals carry a `google.rpc.Status` in the request's
/// encoding, as the OTLP specification requires (429 and 503 with `Retry-After`).
async fn traces(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Bytes) -> Response {
    let encoding = match content_type(&headers).as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(otlp::Encoding::Protobuf),
        "application/json" => Some(otlp::Encoding::Json),
        _ => None,
    };
    let refusal = match export(&intake, &headers, body, encoding).await {
        Ok(answer) => return answer,
        Err(refusal) => refusal,
    };
    let answer_as = encoding.unwrap_or(otlp::Encoding::Protobuf);
    let (status, message, retry_after) = match refusal {
        TraceRefusal::Api(e) => (e.status, e.message, None),
        TraceRefusal::Later(r) => (r.status, r.message, Some(r.seconds)),
    };
    let (content, bytes) = otlp::failure(status.as_u16(), &message, answer_as);
    let mut response = (status, [(header::CONTENT_TYPE, content)], bytes).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn export(
    intake: &Intake,
    headers: &HeaderMap,
    body: Bytes,
    encoding: Option<otlp::Encoding>,
) -> Result<Response, TraceRefusal> {
    let (token_id, _) = intake.caller(headers).await?;
    let Some(encoding) = encoding else {
        return Err(ApiError::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type `{}`: OTLP/HTTP sends application/x-protobuf or application/json",
                content_type(headers)
            ),
        )
        .into());
    };
    let body = inflate(headers, body, intake.config.max_batch * BYTES_PER_SPAN)?;
    let request =
        otlp::decode(&body, encoding).map_err(|m| ApiError::status(StatusCode::BAD_REQUEST, m))?;
    let now = intake.clock.now();
    let max_age =
        chrono::Duration::from_std(intake.config.max_age).unwrap_or(chrono::Duration::hours(1));
    let mut converted = otlp::convert(&request, &intake.names, now, max_age);
    if converted.rows.len() > intake.config.max_batch {
        intake
            .metrics
            .observations_refused("too_large", converted.rows.len() as u64);
        return Err(ApiError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "an export holds at most {} GenAI spans; this one has {}: lower the exporter's batch size",
                intake.config.max_batch,
                converted.rows.len()
            ),
        )
        .into());
    }
    intake
        .metrics
        .observations_refused("unknown_model", converted.rejected as u64);
    intake
        .metrics
        .observations_refused("too_old", converted.too_old as u64);
    let rows = std::mem::take(&mut converted.rows);
    intake
        .accept(&token_id, rows, "otlp")
        .map_err(TraceRefusal::Later)?;
    let content = match encoding {
        otlp::Encoding::Protobuf => "application/x-protobuf",
        otlp::Encoding::Json => "application/json",
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content)],
        otlp::answer(&converted, encoding),
    )
        .into_response())
}
