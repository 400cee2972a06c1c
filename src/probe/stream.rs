//! The streaming driver shared by every HTTP prober.
//!
//! A protocol supplies a built request, a [`StreamDecoder`] for its stream format and a
//! classifier for error bodies; the driver sends, times (headers, first non-empty text,
//! total), enforces the provider's `timeout` over the *whole* probe and the byte bounds of
//! one response ([`MAX_RESPONSE_BYTES`]) and one event ([`MAX_EVENT_BYTES`]), and turns every
//! way a stream can go wrong into an [`Outcome`].

use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::error_body::{self, MAX_ERROR_BODY};
use super::redact::scrub;
use super::sse::{SseEvent, SseParser};
use super::{Outcome, ProbeReport, MAX_EVENT_BYTES, MAX_RESPONSE_BYTES};

/// What a decoder saw in the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// A text delta; only non-empty text counts as the first token.
    Text(String),
    /// The provider's explicit end of stream (`message_stop`, `[DONE]`, …).
    Done,
    /// An error reported inside the stream after HTTP 200.
    Fail(Outcome, String),
    /// A request id found in the stream body (Gemini's `responseId`, Anthropic's message id).
    RequestId(String),
}

/// Turns stream bytes into [`Signal`]s. Implementations must not panic on any input.
pub trait StreamDecoder: Send {
    fn feed(&mut self, chunk: &[u8]) -> Vec<Signal>;
    /// Called once the body has ended; a decoder that knows its stream is cleanly finished
    /// without an explicit marker (Gemini) returns `Done` here.
    fn finish(&mut self) -> Vec<Signal> {
        Vec::new()
    }
}

/// A decoder for SSE protocols: parses events and hands each to a mapping function.
pub struct SseDecoder<F> {
    parser: SseParser,
    map: F,
}

impl<F> SseDecoder<F>
where
    F: FnMut(&SseEvent) -> Vec<Signal> + Send,
{
    pub fn new(map: F) -> Self {
        SseDecoder {
            parser: SseParser::new(),
            map,
        }
    }
}

impl<F> StreamDecoder for SseDecoder<F>
where
    F: FnMut(&SseEvent) -> Vec<Signal> + Send,
{
    fn feed(&mut self, chunk: &[u8]) -> Vec<Signal> {
        let events = self.parser.feed(chunk);
        let mut signals: Vec<Signal> = events.iter().flat_map(|e| (self.map)(e)).collect();
        signals.extend(sse_overflow(&self.parser));
        signals
    }

    fn finish(&mut self) -> Vec<Signal> {
        // A final event without its blank line still counts (some servers omit it).
        self.feed(b"\n\n")
    }
}

/// The failure of an SSE stream whose parser met an event past the limit, if it did. Every
/// SSE decoder appends it after the signals of the events completed before.
pub fn sse_overflow(parser: &SseParser) -> Option<Signal> {
    parser.too_large().then(event_too_large)
}

/// The failure of a stream with one event larger than [`MAX_EVENT_BYTES`].
pub fn event_too_large() -> Signal {
    Signal::Fail(
        Outcome::Malformed,
        format!(
            "one event exceeded the per-event limit of {} (no end of event)",
            mib(MAX_EVENT_BYTES)
        ),
    )
}

/// A byte limit for error text (`1 MiB`); the limits are whole MiB.
fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

/// How a protocol reads an error response (status plus body) into an outcome and message.
pub type ErrorClassifier = fn(u16, &str) -> (Outcome, String);

/// Everything the driver needs for one probe.
pub struct HttpProbe<'a> {
    pub client: &'a reqwest::Client,
    pub request: reqwest::Request,
    pub timeout: Duration,
    /// Response headers that may carry the provider's request id, in order of preference.
    pub request_id_headers: &'a [&'a str],
    pub classify_error: ErrorClassifier,
    /// Secrets to scrub from any stored error text.
    pub secrets: &'a [&'a str],
}

/// Running measurements, shared between the timed body and the timeout path so a stall after
/// the first token keeps the timings it already had.
#[derive(Default)]
struct Progress {
    http_status: Option<u16>,
    headers_ms: Option<u32>,
    ttft_ms: Option<u32>,
    request_id: Option<String>,
}

fn ms_since(start: Instant) -> u32 {
    start.elapsed().as_millis().min(u32::MAX as u128) as u32
}

/// Sends the request and follows the stream to its end, its error, or the timeout.
pub async fn run(probe: HttpProbe<'_>, decoder: &mut dyn StreamDecoder) -> ProbeReport {
    let start = Instant::now();
    let mut progress = Progress::default();
    let timeout = probe.timeout;
    let secrets = probe.secrets;
    let outcome = tokio::time::timeout(timeout, drive(probe, decoder, start, &mut progress)).await;
    let (outcome, error) = match outcome {
        Ok((outcome, error)) => (outcome, error),
        Err(_) => {
            let phase = if progress.ttft_ms.is_some() {
                "stream stalled after the first token"
            } else if progress.headers_ms.is_some() {
                "no text before the deadline"
            } else {
                "no response headers before the deadline"
            };
            (
                Outcome::Timeout,
                Some(format!(
                    "{phase}: timed out after {}",
                    humantime::format_duration(timeout)
                )),
            )
        }
    };
    ProbeReport {
        outcome,
        http_status: progress.http_status,
        headers_ms: progress.headers_ms,
        ttft_ms: progress.ttft_ms,
        total_ms: ms_since(start),
        request_id: progress.request_id,
        error: error.map(|e| scrub(&e, secrets)),
    }
}

async fn drive(
    probe: HttpProbe<'_>,
    decoder: &mut dyn StreamDecoder,
    start: Instant,
    progress: &mut Progress,
) -> (Outcome, Option<String>) {
    let response = match probe.client.execute(probe.request).await {
        Ok(r) => r,
        Err(e) => return (classify_send_error(&e), Some(error_chain(&e))),
    };
    progress.headers_ms = Some(ms_since(start));
    let status = response.status().as_u16();
    progress.http_status = Some(status);
    progress.request_id = probe
        .request_id_headers
        .iter()
        .find_map(|h| response.headers().get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect());

    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(|s| format!(" (retry-after {s})"))
            .unwrap_or_default();
        let encoding = response
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (raw, complete) = read_bounded(response).await;
        let body = error_body::text(&raw, complete, encoding.as_deref());
        let (outcome, message) = (probe.classify_error)(status, &body);
        return (
            outcome,
            Some(format!("HTTP {status}: {message}{retry_after}")),
        );
    }

    let mut body = response.bytes_stream();
    let mut saw_text = false;
    let mut received = 0usize;
    loop {
        let chunk = match body.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                let what = if saw_text {
                    "stream broken after the first token"
                } else {
                    "stream broken"
                };
                return (
                    Outcome::Malformed,
                    Some(format!("{what}: {}", error_chain(&e))),
                );
            }
            None => break,
        };
        // Events are bounded by the decoders; this bounds a stream of complete events that
        // never ends (the timeout would end it too, but only after far more bandwidth).
        received = received.saturating_add(chunk.len());
        if received > MAX_RESPONSE_BYTES {
            let limit = mib(MAX_RESPONSE_BYTES);
            let message = format!("response exceeded the per-response limit of {limit}");
            return (Outcome::Malformed, Some(message));
        }
        for signal in decoder.feed(&chunk) {
            if let Some(end) = apply(signal, start, progress, &mut saw_text) {
                return end;
            }
        }
    }
    for signal in decoder.finish() {
        if let Some(end) = apply(signal, start, progress, &mut saw_text) {
            return end;
        }
    }
    let what = if saw_text {
        "stream truncated: ended without its end marker"
    } else {
        "stream ended without any event"
    };
    (Outcome::Malformed, Some(what.to_string()))
}

/// Applies one signal; returns the probe's end when the signal decides it.
fn apply(
    signal: Signal,
    start: Instant,
    progress: &mut Progress,
    saw_text: &mut bool,
) -> Option<(Outcome, Option<String>)> {
    match signal {
        Signal::Text(text) => {
            if !text.is_empty() && progress.ttft_ms.is_none() {
                progress.ttft_ms = Some(ms_since(start));
                *saw_text = true;
            }
            None
        }
        Signal::RequestId(id) => {
            progress.request_id.get_or_insert(id);
            None
        }
        Signal::Fail(outcome, message) => {
            Some((outcome, Some(format!("error in stream: {message}"))))
        }
        Signal::Done if *saw_text => Some((Outcome::Ok, None)),
        Signal::Done => Some((
            Outcome::Empty,
            Some("stream finished without any text".to_string()),
        )),
    }
}

/// The first [`MAX_ERROR_BODY`] bytes of an error body, and whether they are all of it.
async fn read_bounded(response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        // A body broken off is incomplete too: its last character or block may be cut.
        let Ok(chunk) = chunk else {
            return (body, false);
        };
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            body.truncate(MAX_ERROR_BODY);
            return (body, false);
        }
    }
    (body, true)
}

fn classify_send_error(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else {
        // Connection refused, DNS, TLS, reset before headers, or a malformed response head:
        // in every case no usable HTTP response arrived.
        Outcome::Connect
    }
}

/// The error and its causes on one line (reqwest's top-level message alone is vague).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The message of a JSON error body shaped like `{"error": {"message": "..."}}` (Anthropic,
/// OpenAI, Gemini all use this shape) or `{"object": "error", "message": "..."}` (vLLM,
/// Mistral), or the body itself.
pub fn json_error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let err = top_level_error(&v).or_else(|| v.get("error"))?;
            err.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .or_else(|| err.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| body.trim().to_string())
}

/// The body itself when it is an error object with its fields at the top level, the shape
/// vLLM and Mistral send: `{"object": "error", "message", "type", "code"}`.
pub fn top_level_error(body: &serde_json::Value) -> Option<&serde_json::Value> {
    (body.get("object").and_then(|o| o.as_str()) == Some("error")).then_some(body)
}

/// The headers an HTTP prober sends: its credential header (marked sensitive, so it never
/// shows in `Debug` output), its fixed `defaults`, then the provider's configured headers
/// last, so they replace defaults (also sensitive: they may carry a gateway's token). A key
/// that cannot be a header value is `auth`; a bad configured header is `bad_request`: both
/// are our configuration, never the provider's fault.
pub fn request_headers(
    credential: Option<(&'static str, String)>,
    defaults: &[(&'static str, &'static str)],
    configured: &[(String, String)],
) -> Result<http::HeaderMap, (Outcome, String)> {
    let sensitive = |value: &str| {
        let mut value = http::HeaderValue::from_str(value).ok()?;
        value.set_sensitive(true);
        Some(value)
    };
    let mut headers = http::HeaderMap::new();
    if let Some((name, value)) = credential {
        let value = sensitive(&value).ok_or((
            Outcome::Auth,
            "the API key is not a valid HTTP header value".to_string(),
        ))?;
        headers.insert(name, value);
    }
    for (name, value) in defaults {
        headers.insert(*name, http::HeaderValue::from_static(value));
    }
    for (name, value) in configured {
        let valid = http::HeaderName::try_from(name.as_str())
            .ok()
            .zip(sensitive(value));
        let (name, value) = valid.ok_or((
            Outcome::BadRequest,
            format!("header `{name}` is not valid HTTP"),
        ))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_message_reads_common_shapes() {
        assert_eq!(
            json_error_message(r#"{"error":{"type":"x","message":"boom"}}"#),
            "boom"
        );
        assert_eq!(json_error_message(r#"{"error":"plain"}"#), "plain");
        let vllm = r#"{"object":"error","message":"Service overloaded","type":"x","code":503}"#;
        assert_eq!(json_error_message(vllm), "Service overloaded");
        assert_eq!(
            json_error_message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }

    #[test]
    fn done_without_text_is_empty_and_with_text_is_ok() {
        let start = Instant::now();
        let mut p = Progress::default();
        let mut saw = false;
        assert_eq!(
            apply(Signal::Done, start, &mut p, &mut saw).unwrap().0,
            Outcome::Empty
        );
        assert!(apply(Signal::Text(String::new()), start, &mut p, &mut saw).is_none());
        assert!(p.ttft_ms.is_none(), "an empty delta is not a first token");
        assert!(apply(Signal::Text("Hi".into()), start, &mut p, &mut saw).is_none());
        assert!(p.ttft_ms.is_some());
        assert_eq!(
            apply(Signal::Done, start, &mut p, &mut saw).unwrap().0,
            Outcome::Ok
        );
    }
}
