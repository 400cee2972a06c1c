//! Every SSE prober against hostile or careless servers: an event that never ends, a
//! response that never ends, and error bodies that are compressed or binary. Each probe
//! must end quickly in a stored outcome, with bounded memory and readable error text.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::Router;
use serde_json::json;

use modelwatch::probe::anthropic::AnthropicProber;
use modelwatch::probe::gemini::GeminiProber;
use modelwatch::probe::openai::OpenAiProber;
use modelwatch::probe::{http_client, ProbeReport, Prober};
use modelwatch::vocabulary::Outcome;

use crate::helpers::{config_from, first_target, spawn_server};

/// The provider timeout of these probes; a hostile stream must end well before it.
const TIMEOUT_MS: u32 = 3_000;

/// Probes the first model of a `kind` provider whose base URL is the fake server.
async fn probe(kind: &str, addr: SocketAddr) -> ProbeReport {
    let base_url = match kind {
        "openai" => format!("http://{addr}/v1"),
        _ => format!("http://{addr}"),
    };
    let toml = format!(
        r#"
        [[providers]]
        id = "p"
        kind = "{kind}"
        base_url = "{base_url}"
        api_key_env = "HOSTILE_TEST_KEY"
        timeout = "{TIMEOUT_MS}ms"
        models = [{{ id = "m" }}]
        "#
    );
    let config = config_from(&toml, &[("HOSTILE_TEST_KEY", "hostile-test-key-1")]);
    let target = first_target(&config);
    match kind {
        "openai" => OpenAiProber::new(http_client()).probe(&target).await,
        "anthropic" => AnthropicProber::new(http_client()).probe(&target).await,
        "gemini" => GeminiProber::new(http_client()).probe(&target).await,
        other => panic!("no prober for {other}"),
    }
}

/// A server answering every request with HTTP 200 and `block` repeated forever, one block
/// per millisecond (about 64 MB/s for 64 KiB blocks: fast, yet bounded if a limit fails).
async fn endless(block: String) -> SocketAddr {
    let block = Bytes::from(block);
    let router = Router::new().fallback(move || {
        let block = block.clone();
        async move {
            let body = futures::stream::unfold(block, |block| async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Some((Ok::<_, std::io::Error>(block.clone()), block))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(body))
                .unwrap()
        }
    });
    spawn_server(router).await
}

/// A server answering every request with `status`, `headers` and the raw `body`.
async fn error_server(status: u16, headers: &'static [(&str, &str)], body: Vec<u8>) -> SocketAddr {
    let router = Router::new().fallback(move || {
        let body = body.clone();
        async move {
            let mut response = Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(*name, *value);
            }
            response.body(Body::from(body)).unwrap()
        }
    });
    spawn_server(router).await
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn endless_data_lines_without_a_blank_line_are_malformed() {
    // About 1 KiB per line, 64 lines per block, and never the blank line that ends an event.
    let line = format!("data: {}\n", json!({"pad": "x".repeat(1000)}));
    let addr = endless(line.repeat(64)).await;
    for kind in ["openai", "anthropic", "gemini"] {
        let report = probe(kind, addr).await;
        assert_eq!(report.outcome, Outcome::Malformed, "{kind}: {report:?}");
        let error = report.error.as_deref().unwrap_or_default();
        assert!(error.contains("per-event limit"), "{kind}: {error}");
        assert!(report.total_ms < TIMEOUT_MS / 2, "{kind}: {report:?}");
    }
}

#[tokio::test]
async fn endless_stream_of_complete_events_is_malformed_past_the_response_limit() {
    // Well-formed chat chunks of about 1 KiB with text, but never `[DONE]`.
    let data = json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "a".repeat(900)}}]});
    let addr = endless(format!("data: {data}\n\n").repeat(64)).await;
    let report = probe("openai", addr).await;
    assert_eq!(report.outcome, Outcome::Malformed, "{report:?}");
    let error = report.error.as_deref().unwrap_or_default();
    assert!(error.contains("per-response limit"), "{error}");
    assert!(report.ttft_ms.is_some(), "text arrived before the limit");
    assert!(report.total_ms < TIMEOUT_MS / 2, "{report:?}");
}

#[tokio::test]
async fn gzip_error_body_is_decoded() {
    let body = r#"{"error":{"message":"Service unavailable","type":"server_error","code":null}}"#;
    let headers = &[
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let addr = error_server(503, headers, gzip(body.as_bytes())).await;
    let report = probe("openai", addr).await;
    assert_eq!(report.outcome, Outcome::Http5xx, "{report:?}");
    assert_eq!(
        report.error.as_deref(),
        Some("HTTP 503: server_error: Service unavailable")
    );

    // The decoded body is what is classified: Gemini's overload survives compression.
    let body = r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#;
    let addr = error_server(503, headers, gzip(body.as_bytes())).await;
    let report = probe("gemini", addr).await;
    assert_eq!(report.outcome, Outcome::Overloaded, "{report:?}");
}

#[tokio::test]
async fn undecodable_error_bodies_are_placeholders_never_garbage() {
    // zstd's magic number, then bytes that are not UTF-8.
    let binary = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xff, 0xfe, 0x80, 0x81, 0x82];
    let zstd: &[(&str, &str)] = &[("content-encoding", "zstd")];
    let gzip: &[(&str, &str)] = &[("content-encoding", "gzip")];
    let cases = [
        (zstd, "HTTP 500: (zstd-encoded body, 10 bytes)"),
        (
            gzip,
            "HTTP 500: (gzip-encoded body that does not decode, 10 bytes)",
        ),
        (&[], "HTTP 500: (binary body, 10 bytes)"),
    ];
    for (headers, want) in cases {
        let addr = error_server(500, headers, binary.to_vec()).await;
        let report = probe("anthropic", addr).await;
        assert_eq!(report.outcome, Outcome::Http5xx, "{report:?}");
        assert_eq!(report.error.as_deref(), Some(want), "{headers:?}");
    }
}
