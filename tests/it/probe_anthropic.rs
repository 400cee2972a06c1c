//! The Anthropic prober against a local fake Messages API that speaks the real SSE protocol:
//! every outcome class it can produce, timings, request ids and key scrubbing.
//!
//! The fake-server helpers here are shared with `probe_openai`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};

use modelwatch::probe::anthropic::AnthropicProber;
use modelwatch::probe::{http_client, ProbeReport, Prober};
use modelwatch::vocabulary::Outcome;

use crate::helpers::{config_from, first_target, spawn_server};

pub(crate) const KEY: &str = "sk-test-secret-123456";

/// One step of a fake response body.
pub(crate) enum Part {
    Send(String),
    Wait(u64),
    /// Abort the body: the connection closes mid-stream.
    Cut,
}

/// One SSE event, optionally named.
pub(crate) fn sse(name: Option<&str>, data: &str) -> Part {
    match name {
        Some(name) => Part::Send(format!("event: {name}\ndata: {data}\n\n")),
        None => Part::Send(format!("data: {data}\n\n")),
    }
}

/// A response whose body is sent part by part, with waits and cuts in between.
pub(crate) fn streamed(status: u16, headers: &[(&str, &str)], parts: Vec<Part>) -> Response {
    let body = futures::stream::iter(parts).filter_map(|part| async move {
        match part {
            Part::Send(text) => Some(Ok(Bytes::from(text))),
            Part::Wait(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                None
            }
            Part::Cut => Some(Err(std::io::Error::other("cut by the fake server"))),
        }
    });
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Body::from_stream(body)).unwrap()
}

/// What the fake server received.
pub(crate) struct Received {
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Value,
}

pub(crate) type Seen = Arc<Mutex<Option<Received>>>;

/// A fake provider answering every request with `respond()`; returns its address and what it saw.
pub(crate) async fn fake_server(
    respond: impl Fn() -> Response + Send + Sync + 'static,
) -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let (store, respond) = (Arc::clone(&seen), Arc::new(respond));
    let handler = move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let received = Received {
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        *store.lock().unwrap() = Some(received);
        let response = respond();
        async move { response }
    };
    (spawn_server(Router::new().fallback(handler)).await, seen)
}

async fn probe(addr: SocketAddr, timeout: &str) -> ProbeReport {
    let toml = format!(
        r#"
        [[providers]]
        id = "anthropic"
        kind = "anthropic"
        base_url = "http://{addr}"
        api_key_env = "ANTHROPIC_TEST_KEY"
        timeout = "{timeout}"
        models = [{{ id = "claude-test", max_tokens = 16 }}]
        "#
    );
    let config = config_from(&toml, &[("ANTHROPIC_TEST_KEY", KEY)]);
    AnthropicProber::new(http_client())
        .probe(&first_target(&config))
        .await
}

const SSE: (&str, &str) = ("content-type", "text/event-stream");

fn message_start() -> Part {
    sse(
        Some("message_start"),
        r#"{"type":"message_start","message":{"id":"msg_01","role":"assistant","content":[]}}"#,
    )
}

fn text(t: &str) -> Part {
    let data = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}});
    sse(Some("content_block_delta"), &data.to_string())
}

fn message_stop() -> Part {
    sse(Some("message_stop"), r#"{"type":"message_stop"}"#)
}

/// A complete answer, the first text delayed by `delay_ms`.
fn answer(delay_ms: u64) -> Vec<Part> {
    vec![
        message_start(),
        sse(
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        sse(Some("ping"), r#"{"type":"ping"}"#),
        Part::Wait(delay_ms),
        text("ok"),
        sse(
            Some("content_block_stop"),
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        sse(
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}"#,
        ),
        message_stop(),
    ]
}

async fn error_status(
    status: u16,
    body: &'static str,
    extra: &'static [(&'static str, &'static str)],
) -> ProbeReport {
    let (addr, _) = fake_server(move || {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend_from_slice(extra);
        streamed(status, &headers, vec![Part::Send(body.to_string())])
    })
    .await;
    probe(addr, "2s").await
}

#[tokio::test]
async fn ok_stream_measures_ttft_after_headers_and_sends_the_real_request() {
    let (addr, seen) =
        fake_server(|| streamed(200, &[SSE, ("request-id", "req_fake_1")], answer(150))).await;
    let report = probe(addr, "2s").await;

    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.http_status, Some(200));
    let headers = report.headers_ms.expect("headers time");
    let ttft = report.ttft_ms.expect("ttft");
    assert!(ttft >= 150, "the first text was delayed 150ms, ttft {ttft}");
    assert!(
        ttft > headers,
        "ttft {ttft} must come after headers {headers}"
    );
    assert!(report.total_ms >= ttft);
    // The header id wins over the message id from the stream.
    assert_eq!(report.request_id.as_deref(), Some("req_fake_1"));

    let received = seen
        .lock()
        .unwrap()
        .take()
        .expect("the server saw the request");
    assert_eq!(received.path, "/v1/messages");
    assert_eq!(received.headers["x-api-key"], KEY);
    assert_eq!(received.headers["anthropic-version"], "2023-06-01");
    assert_eq!(received.headers["content-type"], "application/json");
    assert_eq!(received.body["stream"], true);
    assert_eq!(received.body["max_tokens"], 16);
    assert_eq!(received.body["model"], "claude-test");
    assert_eq!(received.body["messages"][0]["role"], "user");
}

#[tokio::test]
async fn message_id_is_the_request_id_without_a_header() {
    let (addr, _) = fake_server(|| streamed(200, &[SSE], answer(0))).await;
    let report = probe(addr, "2s").await;
    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert_eq!(report.request_id.as_deref(), Some("msg_01"));
}

#[tokio::test]
async fn http_500_is_http_5xx() {
    let body = r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#;
    let report = error_status(500, body, &[]).await;
    assert_eq!(report.outcome, Outcome::Http5xx, "{report:?}");
    assert_eq!(report.http_status, Some(500));
    assert_eq!(
        report.error.as_deref(),
        Some("HTTP 500: api_error: Internal server error")
    );
}

#[tokio::test]
async fn http_529_overloaded_is_overloaded() {
    let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let report = error_status(529, body, &[]).await;
    assert_eq!(report.outcome, Outcome::Overloaded, "{report:?}");
    assert_eq!(
        report.error.as_deref(),
        Some("HTTP 529: overloaded_error: Overloaded")
    );
}

#[tokio::test]
async fn http_429_is_rate_limited_with_retry_after() {
    let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}"#;
    let report = error_status(429, body, &[("retry-after", "7")]).await;
    assert_eq!(report.outcome, Outcome::RateLimited, "{report:?}");
    assert!(
        report.error.as_deref().unwrap().contains("retry-after 7"),
        "{report:?}"
    );
}

#[tokio::test]
async fn http_401_is_auth() {
    let body =
        r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
    let report = error_status(401, body, &[]).await;
    assert_eq!(report.outcome, Outcome::Auth, "{report:?}");
}

#[tokio::test]
async fn http_404_is_not_found() {
    let body =
        r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-test"}}"#;
    let report = error_status(404, body, &[]).await;
    assert_eq!(report.outcome, Outcome::NotFound, "{report:?}");
}

#[tokio::test]
async fn in_stream_error_after_200_is_overloaded() {
    let (addr, _) = fake_server(|| {
        let error =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        streamed(
            200,
            &[SSE],
            vec![message_start(), sse(Some("error"), error)],
        )
    })
    .await;
    let report = probe(addr, "2s").await;
    assert_eq!(report.outcome, Outcome::Overloaded, "{report:?}");
    assert_eq!(report.http_status, Some(200));
    assert_eq!(
        report.error.as_deref(),
        Some("error in stream: overloaded_error: Overloaded")
    );
}

#[tokio::test]
async fn stream_cut_in_the_middle_is_malformed() {
    // The wait lets the first delta reach the client before the connection is aborted.
    let (addr, _) = fake_server(|| {
        streamed(
            200,
            &[SSE],
            vec![message_start(), text("o"), Part::Wait(50), Part::Cut],
        )
    })
    .await;
    let report = probe(addr, "2s").await;
    assert_eq!(report.outcome, Outcome::Malformed, "{report:?}");
    assert!(
        report.ttft_ms.is_some(),
        "the first token arrived before the cut"
    );
    assert!(
        report.error.as_deref().unwrap().contains("stream broken"),
        "{report:?}"
    );
}

#[tokio::test]
async fn stall_after_the_first_token_times_out_keeping_ttft() {
    let (addr, _) = fake_server(|| {
        streamed(
            200,
            &[SSE],
            vec![
                message_start(),
                text("o"),
                Part::Wait(5_000),
                message_stop(),
            ],
        )
    })
    .await;
    let report = probe(addr, "1s").await;
    assert_eq!(report.outcome, Outcome::Timeout, "{report:?}");
    assert!(report.ttft_ms.is_some_and(|t| t < 1_000), "{report:?}");
    assert!((1_000..2_000).contains(&report.total_ms), "{report:?}");
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("stalled after the first token"),
        "{report:?}"
    );
}

#[tokio::test]
async fn first_token_beyond_the_timeout_is_timeout_without_ttft() {
    let (addr, _) = fake_server(|| streamed(200, &[SSE], answer(3_000))).await;
    let report = probe(addr, "1s").await;
    assert_eq!(report.outcome, Outcome::Timeout, "{report:?}");
    assert_eq!(report.ttft_ms, None);
    assert!(
        report.headers_ms.is_some(),
        "headers arrived before the deadline"
    );
    assert!((1_000..2_000).contains(&report.total_ms), "{report:?}");
}

#[tokio::test]
async fn invalid_json_in_a_data_line_is_malformed() {
    let parts = || {
        vec![
            message_start(),
            sse(Some("content_block_delta"), "{not json"),
            message_stop(),
        ]
    };
    let (addr, _) = fake_server(move || streamed(200, &[SSE], parts())).await;
    let report = probe(addr, "2s").await;
    assert_eq!(report.outcome, Outcome::Malformed, "{report:?}");
    assert!(
        report.error.as_deref().unwrap().contains("invalid JSON"),
        "{report:?}"
    );
}

#[tokio::test]
async fn message_stop_without_text_is_empty() {
    let (addr, _) =
        fake_server(|| streamed(200, &[SSE], vec![message_start(), text(""), message_stop()]))
            .await;
    let report = probe(addr, "2s").await;
    assert_eq!(report.outcome, Outcome::Empty, "{report:?}");
    assert_eq!(report.ttft_ms, None, "an empty delta is not a first token");
}

#[tokio::test]
async fn api_key_echoed_by_the_server_is_never_stored() {
    let body = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-test-secret-123456"}}"#;
    let report = error_status(401, body, &[]).await;
    assert_eq!(report.outcome, Outcome::Auth, "{report:?}");
    let error = report.error.clone().unwrap();
    assert!(error.contains("[redacted]"), "{error}");
    let stored = serde_json::to_string(&report).unwrap();
    assert!(
        !stored.contains(KEY) && !stored.contains("secret-123456"),
        "{stored}"
    );
}
