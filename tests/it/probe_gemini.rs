//! Gemini prober against a local fake of `streamGenerateContent?alt=sse`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures::StreamExt;
use modelwatch::probe::gemini::GeminiProber;
use modelwatch::probe::{ProbeReport, Prober};
use modelwatch::vocabulary::Outcome;

use crate::helpers::{config_from, first_target, spawn_server};

const KEY: &str = "gemini-test-key-123456";

/// One step of a scripted response body.
#[derive(Clone)]
enum Step {
    Data(&'static str),
    Sleep(Duration),
    Cut,
}

/// What the fake server saw of the request.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Option<(Uri, HeaderMap, serde_json::Value)>>>);

fn body_of(steps: Vec<Step>) -> Body {
    let stream = futures::stream::iter(steps)
        .then(|step| async move {
            match step {
                Step::Data(json) => Some(Ok(Bytes::from(format!("data: {json}\r\n\r\n")))),
                Step::Sleep(d) => {
                    tokio::time::sleep(d).await;
                    None
                }
                Step::Cut => Some(Err(std::io::Error::other("cut by the test"))),
            }
        })
        .filter_map(|item| async move { item });
    Body::from_stream(stream)
}

/// Serves one scripted reply (status, then body steps) to every request and records the last.
async fn serve(status: u16, steps: Vec<Step>) -> (ProbeReport, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let router = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (record, steps) = (record.clone(), steps.clone());
        async move {
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            *record.0.lock().unwrap() = Some((uri, headers, json));
            let content_type = if status == 200 {
                "text/event-stream"
            } else {
                "application/json"
            };
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", content_type)
                .body(body_of(steps))
                .unwrap()
        }
    });
    let addr = spawn_server(router).await;
    let toml = format!(
        r#"
[[providers]]
id = "g"
kind = "gemini"
base_url = "http://{addr}"
api_key_env = "GEMINI_KEY"
schedule = "*/30 * * * * *"
timeout = "1s"
models = [ {{ id = "gemini-2.5-flash", max_tokens = 24 }} ]
"#
    );
    let config = config_from(&toml, &[("GEMINI_KEY", KEY)]);
    let report = GeminiProber::new(modelwatch::probe::http_client())
        .probe(&first_target(&config))
        .await;
    (report, seen)
}

async fn error_reply(status: u16, body: &'static str) -> ProbeReport {
    // Error bodies are plain JSON; `body_of` would wrap them in SSE framing.
    let router = axum::Router::new().fallback(move || async move {
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    });
    let addr = spawn_server(router).await;
    let toml = format!(
        "[[providers]]\nid = \"g\"\nkind = \"gemini\"\nbase_url = \"http://{addr}\"\napi_key_env = \"GEMINI_KEY\"\ntimeout = \"1s\"\nmodels = [ {{ id = \"gemini-2.5-flash\" }} ]\n"
    );
    let config = config_from(&toml, &[("GEMINI_KEY", KEY)]);
    GeminiProber::new(modelwatch::probe::http_client())
        .probe(&first_target(&config))
        .await
}

const THOUGHT: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Considering the reply","thought":true}]}}],"responseId":"resp-42"}"#;
const TEXT: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]}}],"responseId":"resp-42"}"#;
const FINAL: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":8},"responseId":"resp-42"}"#;

#[tokio::test]
async fn ok_stream_sends_key_in_header_and_times_first_real_text() {
    let delay = Duration::from_millis(300);
    let (report, seen) = serve(
        200,
        vec![
            Step::Data(THOUGHT),
            Step::Sleep(delay),
            Step::Data(TEXT),
            Step::Data(FINAL),
        ],
    )
    .await;
    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert_eq!(report.http_status, Some(200));
    assert_eq!(report.error, None);
    assert_eq!(report.request_id.as_deref(), Some("resp-42"));
    let ttft = report.ttft_ms.expect("ttft measured");
    assert!(
        ttft >= 300,
        "the thought part must not count as first token: ttft {ttft} ms"
    );
    assert!(report.headers_ms.unwrap() < ttft, "{report:?}");
    assert!(report.total_ms >= ttft);

    let (uri, headers, body) = seen
        .0
        .lock()
        .unwrap()
        .clone()
        .expect("request reached the server");
    assert_eq!(
        uri.path(),
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(
        uri.query(),
        Some("alt=sse"),
        "the key must not be in the query"
    );
    assert_eq!(headers["x-goog-api-key"], KEY);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body["contents"][0]["parts"][0]["text"],
        modelwatch::config::DEFAULT_PROMPT
    );
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 24);
    assert_eq!(
        body["generationConfig"]["thinkingConfig"]["thinkingBudget"],
        0
    );
}

#[tokio::test]
async fn status_503_overloaded_is_overloaded() {
    let report = error_reply(
        503,
        r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
    )
    .await;
    assert_eq!(report.outcome, Outcome::Overloaded, "{report:?}");
    assert_eq!(report.http_status, Some(503));
    assert_eq!(
        report.error.as_deref(),
        Some("HTTP 503: UNAVAILABLE: The model is overloaded. Please try again later.")
    );
}

#[tokio::test]
async fn other_5xx_are_http_5xx() {
    let cases = [
        (
            503,
            r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#,
        ),
        (
            500,
            r#"{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}"#,
        ),
    ];
    for (status, body) in cases {
        let report = error_reply(status, body).await;
        assert_eq!(report.outcome, Outcome::Http5xx, "{body}: {report:?}");
    }
}

#[tokio::test]
async fn status_429_resource_exhausted_is_rate_limited() {
    let report = error_reply(
        429,
        r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#,
    )
    .await;
    assert_eq!(report.outcome, Outcome::RateLimited);
    assert_eq!(
        report.error.as_deref(),
        Some("HTTP 429: RESOURCE_EXHAUSTED: Quota exceeded")
    );
}

#[tokio::test]
async fn status_400_is_bad_request() {
    let report = error_reply(
        400,
        r#"{"error":{"code":400,"message":"Budget 0 is invalid. This model only works in thinking mode.","status":"INVALID_ARGUMENT"}}"#,
    )
    .await;
    assert_eq!(report.outcome, Outcome::BadRequest);
    assert!(report
        .error
        .unwrap()
        .contains("only works in thinking mode"));
}

#[tokio::test]
async fn status_404_is_not_found() {
    let report = error_reply(
        404,
        r#"{"error":{"code":404,"message":"models/gemini-9 is not found","status":"NOT_FOUND"}}"#,
    )
    .await;
    assert_eq!(report.outcome, Outcome::NotFound);
    assert_eq!(report.http_status, Some(404));
}

#[tokio::test]
async fn error_chunk_inside_stream_is_classified() {
    let (report, _) = serve(
        200,
        vec![
            Step::Data(TEXT),
            Step::Data(r#"{"error":{"code":503,"message":"Backend died","status":"UNAVAILABLE"}}"#),
        ],
    )
    .await;
    assert_eq!(report.outcome, Outcome::Http5xx);
    assert_eq!(
        report.error.as_deref(),
        Some("error in stream: UNAVAILABLE: Backend died")
    );
    assert!(
        report.ttft_ms.is_some(),
        "text before the error still timed"
    );
}

#[tokio::test]
async fn overloaded_error_chunk_inside_stream_is_overloaded() {
    let (report, _) = serve(
        200,
        vec![Step::Data(
            r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
        )],
    )
    .await;
    assert_eq!(report.outcome, Outcome::Overloaded, "{report:?}");
}

#[tokio::test]
async fn stream_without_finish_reason_is_malformed() {
    let (report, _) = serve(200, vec![Step::Data(TEXT)]).await;
    assert_eq!(report.outcome, Outcome::Malformed);
    assert!(
        report.error.as_deref().unwrap().contains("truncated"),
        "{report:?}"
    );
    assert!(report.ttft_ms.is_some());
}

#[tokio::test]
async fn stream_cut_by_server_is_malformed() {
    // The pause lets the head and first chunk go out before the connection is aborted.
    let (report, _) = serve(
        200,
        vec![
            Step::Data(TEXT),
            Step::Sleep(Duration::from_millis(50)),
            Step::Cut,
        ],
    )
    .await;
    assert_eq!(report.outcome, Outcome::Malformed);
    assert!(
        report.error.as_deref().unwrap().contains("stream broken"),
        "{report:?}"
    );
}

#[tokio::test]
async fn garbage_json_is_malformed() {
    let (report, _) = serve(
        200,
        vec![
            Step::Data(r#"{"candidates":[{"content""#),
            Step::Data(FINAL),
        ],
    )
    .await;
    assert_eq!(report.outcome, Outcome::Malformed);
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .starts_with("error in stream: invalid JSON chunk"),
        "{report:?}"
    );
}

#[tokio::test]
async fn stall_after_first_token_is_timeout() {
    let (report, _) = serve(
        200,
        vec![
            Step::Data(TEXT),
            Step::Sleep(Duration::from_secs(5)),
            Step::Data(FINAL),
        ],
    )
    .await;
    assert_eq!(report.outcome, Outcome::Timeout);
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("stalled after the first token"),
        "{report:?}"
    );
    assert!(report.ttft_ms.is_some());
    assert!(
        (1000..2000).contains(&report.total_ms),
        "bounded by the 1s timeout: {}",
        report.total_ms
    );
}
