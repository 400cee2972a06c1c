//! Bedrock prober against a local fake of ConverseStream that speaks real AWS event-stream
//! framing and checks the SigV4 signature of every request it gets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures::StreamExt;
use modelwatch::config::Credentials;
use modelwatch::probe::bedrock::BedrockProber;
use modelwatch::probe::{ProbeReport, ProbeTarget, Prober};
use modelwatch::vocabulary::Outcome;

use crate::helpers::{config_from, first_target, spawn_server};

const KEY_ID: &str = "AKIDTESTBEDROCK";
const SECRET: &str = "bedrock/secret+key/for-tests-only";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
/// The model id as it must appear on the wire: `:` escaped.
const PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream";

fn frame(
    message_type: &'static str,
    type_header: &'static str,
    name: &'static str,
    payload: &str,
) -> Vec<u8> {
    let message = Message::new(payload.as_bytes().to_vec())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.into()),
        ))
        .add_header(Header::new(type_header, HeaderValue::String(name.into())))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut out = Vec::new();
    write_message_to(&message, &mut out).unwrap();
    out
}

fn event(name: &'static str, payload: &str) -> Vec<u8> {
    frame("event", ":event-type", name, payload)
}

fn exception(name: &'static str, message: &str) -> Vec<u8> {
    frame(
        "exception",
        ":exception-type",
        name,
        &serde_json::json!({ "message": message }).to_string(),
    )
}

fn delta(text: &str) -> Vec<u8> {
    event(
        "contentBlockDelta",
        &serde_json::json!({ "delta": { "text": text }, "contentBlockIndex": 0 }).to_string(),
    )
}

/// One step of a scripted response body.
#[derive(Clone)]
enum Step {
    Bytes(Vec<u8>),
    Sleep(Duration),
    Cut,
}

/// Recomputes the SigV4 signature of a received request with the same secret and compares it
/// with the one sent, so the canonical URI, signed headers and body hash are all checked
/// against what actually arrived.
fn check_signature(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name} header"))
    };
    let auth = text("authorization")?;
    if !auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/"))
        || !auth.contains("/us-east-1/bedrock/")
    {
        return Err(format!("unexpected authorization {auth}"));
    }
    let date = text("x-amz-date")?;
    let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|e| e.to_string())?
        .and_utc();
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .ok_or("no SignedHeaders")?;
    let signed: Vec<(&str, &str)> = signed
        .split(';')
        .map(|h| Ok((h, text(h)?)))
        .collect::<Result<_, String>>()?;
    let url = format!("http://{}{}", text("host")?, uri);
    let identity =
        aws_credential_types::Credentials::new(KEY_ID, SECRET, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(SystemTime::from(time))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let request =
        SignableRequest::new("POST", url, signed.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let expected = instructions
        .headers()
        .find(|(k, _)| *k == "authorization")
        .map(|(_, v)| v.to_string());
    if expected.as_deref() != Some(auth) {
        return Err(format!(
            "signature mismatch: got {auth}, expected {expected:?}"
        ));
    }
    Ok(())
}

/// What the server saw: the raw path, the signature check and the JSON body.
type Seen = Arc<Mutex<Option<(String, Result<(), String>, serde_json::Value)>>>;

async fn probe_with(status: u16, steps: Vec<Step>) -> (ProbeReport, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let router = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (record, steps) = (record.clone(), steps.clone());
        async move {
            let checked = check_signature(&uri, &headers, &body);
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            *record.lock().unwrap() = Some((uri.path().to_string(), checked.clone(), json));
            if let Err(e) = checked {
                let body = serde_json::json!({ "message": e }).to_string();
                return Response::builder()
                    .status(403)
                    .body(Body::from(body))
                    .unwrap();
            }
            let stream = futures::stream::iter(steps)
                .then(|step| async move {
                    match step {
                        Step::Bytes(b) => Some(Ok(Bytes::from(b))),
                        Step::Sleep(d) => {
                            tokio::time::sleep(d).await;
                            None
                        }
                        Step::Cut => Some(Err(std::io::Error::other("cut by the test"))),
                    }
                })
                .filter_map(|item| async move { item });
            let content_type = if status == 200 {
                "application/vnd.amazon.eventstream"
            } else {
                "application/json"
            };
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", content_type)
                .header("x-amzn-requestid", "req-7f3a")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    });
    let addr = spawn_server(router).await;
    let report = BedrockProber::new(modelwatch::probe::http_client())
        .probe(&target(&addr.to_string()))
        .await;
    (report, seen)
}

fn target(addr: &str) -> ProbeTarget {
    let toml = format!(
        r#"
[[providers]]
id = "aws"
kind = "bedrock"
base_url = "http://{addr}"
region = "us-east-1"
schedule = "*/30 * * * * *"
timeout = "1s"
models = [ {{ id = "{MODEL}", max_tokens = 12 }} ]
"#
    );
    let config = config_from(
        &toml,
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    );
    first_target(&config)
}

fn ok_stream() -> Vec<u8> {
    let mut bytes = event("messageStart", r#"{"role":"assistant"}"#);
    bytes.extend(delta("o"));
    bytes.extend(delta("k"));
    bytes.extend(event("contentBlockStop", r#"{"contentBlockIndex":0}"#));
    bytes.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
    bytes.extend(event("metadata", r#"{"usage":{"inputTokens":9,"outputTokens":2,"totalTokens":11},"metrics":{"latencyMs":120}}"#));
    bytes
}

#[tokio::test]
async fn ok_stream_is_signed_and_decoded() {
    // Split the frames at an awkward offset so the decoder must reassemble them.
    let bytes = ok_stream();
    let (head, tail) = bytes.split_at(20);
    let steps = vec![
        Step::Bytes(head.to_vec()),
        Step::Sleep(Duration::from_millis(150)),
        Step::Bytes(tail.to_vec()),
    ];
    let (report, seen) = probe_with(200, steps).await;
    let (path, signature, body) = seen
        .lock()
        .unwrap()
        .clone()
        .expect("request reached the server");
    assert_eq!(signature, Ok(()));
    assert_eq!(path, PATH);
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(
        body["messages"][0]["content"][0]["text"],
        modelwatch::config::DEFAULT_PROMPT
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 12);

    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert_eq!(report.http_status, Some(200));
    assert_eq!(report.request_id.as_deref(), Some("req-7f3a"));
    assert_eq!(report.error, None);
    assert!(
        report.ttft_ms.unwrap() >= 150,
        "first delta arrives after the pause: {report:?}"
    );
}

#[tokio::test]
async fn throttling_exception_in_stream_is_rate_limited() {
    let mut bytes = event("messageStart", r#"{"role":"assistant"}"#);
    bytes.extend(exception(
        "throttlingException",
        "Too many tokens, please wait before trying again.",
    ));
    let (report, _) = probe_with(200, vec![Step::Bytes(bytes)]).await;
    assert_eq!(report.outcome, Outcome::RateLimited);
    assert_eq!(
        report.error.as_deref(),
        Some("error in stream: throttlingException: Too many tokens, please wait before trying again.")
    );
}

#[tokio::test]
async fn service_unavailable_exception_is_http_5xx() {
    let mut bytes = delta("o");
    bytes.extend(exception(
        "serviceUnavailableException",
        "Bedrock is unable to process your request.",
    ));
    let (report, _) = probe_with(200, vec![Step::Bytes(bytes)]).await;
    assert_eq!(report.outcome, Outcome::Http5xx);
    assert!(report.ttft_ms.is_some());
    assert!(report
        .error
        .unwrap()
        .contains("serviceUnavailableException"));
}

#[tokio::test]
async fn corrupted_frame_crc_is_malformed() {
    let mut bad = delta("k");
    let last = bad.len() - 1;
    bad[last] ^= 0x5a;
    let mut bytes = delta("o");
    bytes.extend(bad);
    bytes.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
    let (report, _) = probe_with(200, vec![Step::Bytes(bytes)]).await;
    assert_eq!(report.outcome, Outcome::Malformed);
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("invalid event-stream frame"),
        "{report:?}"
    );
}

#[tokio::test]
async fn stream_cut_mid_frame_is_malformed() {
    let frame = delta("k");
    let mut bytes = delta("o");
    bytes.extend(&frame[..frame.len() / 2]);
    // The pause lets the head and the bytes go out before the connection is aborted.
    let steps = vec![
        Step::Bytes(bytes.clone()),
        Step::Sleep(Duration::from_millis(50)),
        Step::Cut,
    ];
    let (report, _) = probe_with(200, steps).await;
    assert_eq!(report.outcome, Outcome::Malformed);
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("stream broken after the first token"),
        "{report:?}"
    );

    // The same half frame followed by a clean close of the body.
    let (report, _) = probe_with(200, vec![Step::Bytes(bytes)]).await;
    assert_eq!(report.outcome, Outcome::Malformed);
    assert_eq!(
        report.error.as_deref(),
        Some("error in stream: stream ended inside an event-stream frame")
    );
}

#[tokio::test]
async fn status_403_is_auth() {
    let body = r#"{"Message":"User: arn:aws:iam::123456789012:user/probe is not authorized to perform: bedrock:InvokeModelWithResponseStream"}"#;
    let (report, seen) = probe_with(403, vec![Step::Bytes(body.as_bytes().to_vec())]).await;
    assert_eq!(
        seen.lock().unwrap().as_ref().unwrap().1,
        Ok(()),
        "the 403 is scripted, not a bad signature"
    );
    assert_eq!(report.outcome, Outcome::Auth);
    assert_eq!(report.http_status, Some(403));
    assert_eq!(report.request_id.as_deref(), Some("req-7f3a"));
    assert!(report
        .error
        .unwrap()
        .starts_with("HTTP 403: User: arn:aws:iam::123456789012:user/probe is not authorized"));
}

#[tokio::test]
async fn missing_aws_credentials_fail_as_auth_without_a_request() {
    let mut target = target("127.0.0.1:9");
    let mut provider = (*target.provider).clone();
    provider.credentials = Credentials::None;
    target.provider = Arc::new(provider);
    let report = BedrockProber::new(modelwatch::probe::http_client())
        .probe(&target)
        .await;
    assert_eq!(report.outcome, Outcome::Auth);
    assert_eq!(report.error.as_deref(), Some("bedrock credentials missing"));
    assert_eq!(report.http_status, None);
}
