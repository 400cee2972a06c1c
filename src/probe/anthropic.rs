//! Anthropic Messages API prober: one streamed `POST {base_url}/v1/messages` per probe.
//!
//! The stream is SSE with named events (`message_start`, `content_block_delta`, …,
//! `message_stop`). Only `text_delta`s count as text, so a model that ends its message
//! without any is `empty`, not `ok`. Anthropic reports overload as HTTP 529, as an
//! `overloaded_error` body under another status, or as an `error` event after HTTP 200;
//! all three are `overloaded`, as is any server error that says so (see `overload`).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::overload;
use super::redact::scrub;
use super::sse::SseEvent;
use super::stream::{self, json_error_message, request_headers, HttpProbe, Signal, SseDecoder};
use super::{Outcome, ProbeReport, ProbeTarget, Prober};
use crate::config::{ModelConfig, ProviderConfig};

/// The API version every request pins: the stream format decoded below is this version's.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic's own request id header first, then the generic one gateways add.
const REQUEST_ID_HEADERS: &[&str] = &["request-id", "x-request-id"];

pub struct AnthropicProber {
    client: reqwest::Client,
}

impl AnthropicProber {
    pub fn new(client: reqwest::Client) -> Self {
        AnthropicProber { client }
    }
}

#[async_trait]
impl Prober for AnthropicProber {
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let secrets = target.secrets();
        let request = match build_request(&self.client, &target.provider, &target.model) {
            Ok(request) => request,
            // Our own configuration is at fault (a key or header no request can carry).
            Err((outcome, e)) => return ProbeReport::failed(outcome, scrub(&e, &secrets)),
        };
        let probe = HttpProbe {
            client: &self.client,
            request,
            timeout: target.provider.timeout,
            request_id_headers: REQUEST_ID_HEADERS,
            classify_error,
            secrets: &secrets,
        };
        stream::run(probe, &mut SseDecoder::new(decode_event)).await
    }
}

/// The request body: a minimal streamed message. Extended thinking stays off (its default)
/// so the first text delta is the answer itself and `max_tokens` needs no thinking budget.
pub fn request_body(model: &ModelConfig) -> Value {
    json!({
        "model": model.id,
        "max_tokens": model.max_tokens,
        "stream": true,
        "messages": [{"role": "user", "content": model.prompt}],
    })
}

fn build_request(
    client: &reqwest::Client,
    provider: &ProviderConfig,
    model: &ModelConfig,
) -> Result<reqwest::Request, (Outcome, String)> {
    let credential = provider.api_key().map(|key| ("x-api-key", key.to_string()));
    let defaults = [
        ("anthropic-version", ANTHROPIC_VERSION),
        ("content-type", "application/json"),
    ];
    let headers = request_headers(credential, &defaults, &provider.headers)?;
    client
        .post(format!("{}/v1/messages", provider.base_url))
        .headers(headers)
        .json(&request_body(model))
        .build()
        .map_err(|e| misconfigured(format!("cannot build the request: {e}")))
}

/// A request we cannot build is our configuration's fault, never the provider's.
fn misconfigured(message: String) -> (Outcome, String) {
    (Outcome::BadRequest, message)
}

/// Maps one SSE event to signals. Unknown events are ignored: Anthropic documents that new
/// event types may appear, and `ping`, block starts/stops and `message_delta` carry no text.
fn decode_event(event: &SseEvent) -> Vec<Signal> {
    let data: Value = match event.data.trim() {
        "" => Value::Null,
        text => match serde_json::from_str(text) {
            Ok(data) => data,
            Err(e) => {
                let message = format!("invalid JSON in event: {e}");
                return vec![Signal::Fail(Outcome::Malformed, message)];
            }
        },
    };
    // The `event:` line and the JSON `type` agree; a proxy that drops the former still works.
    let kind = event.event.as_deref().or_else(|| str_at(&data, "/type"));
    let signal = match kind.unwrap_or_default() {
        "message_start" => match str_at(&data, "/message/id") {
            Some(id) => Signal::RequestId(id.to_string()),
            None => return Vec::new(),
        },
        "content_block_delta" if str_at(&data, "/delta/type") == Some("text_delta") => {
            Signal::Text(str_at(&data, "/delta/text").unwrap_or_default().to_string())
        }
        "message_stop" => Signal::Done,
        "error" => {
            let error_type = str_at(&data, "/error/type");
            let message = str_at(&data, "/error/message").unwrap_or("error without a message");
            let description = describe(error_type, message);
            let class = class_of(error_type.unwrap_or_default());
            Signal::Fail(overload::refine(class, &description), description)
        }
        _ => return Vec::new(),
    };
    vec![signal]
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The class of an Anthropic `error.type`, the same vocabulary in bodies and in the stream.
fn class_of(error_type: &str) -> Outcome {
    match error_type {
        "overloaded_error" => Outcome::Overloaded,
        "rate_limit_error" => Outcome::RateLimited,
        "authentication_error" | "permission_error" => Outcome::Auth,
        "not_found_error" => Outcome::NotFound,
        "invalid_request_error" => Outcome::BadRequest,
        // `api_error` and any type added later: the provider failed, not our request.
        _ => Outcome::Http5xx,
    }
}

fn describe(error_type: Option<&str>, message: &str) -> String {
    match error_type {
        Some(t) => format!("{t}: {message}"),
        None => message.to_string(),
    }
}

/// Non-2xx responses: the status decides, except that an `overloaded_error` body is overload
/// whatever the status (gateways in front of the API sometimes rewrite 529).
fn classify_error(status: u16, body: &str) -> (Outcome, String) {
    let parsed = serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
    let error_type = str_at(&parsed, "/error/type");
    let outcome = match error_type {
        Some("overloaded_error") => Outcome::Overloaded,
        _ => Outcome::from_status(status),
    };
    let description = describe(error_type, &json_error_message(body));
    (overload::refine(outcome, &description), description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: Some(name.to_string()),
            data: data.to_string(),
        }
    }

    #[test]
    fn body_is_a_minimal_streamed_message() {
        let toml = r#"
            [[providers]]
            id = "anthropic"
            kind = "anthropic"
            models = [{ id = "claude-x", prompt = "Say hi", max_tokens = 16 }]
        "#;
        let config = Config::parse(toml, std::path::Path::new("t.toml"), &|_| None).unwrap();
        let body = request_body(&config.providers[0].models[0]);
        let want = json!({
            "model": "claude-x",
            "max_tokens": 16,
            "stream": true,
            "messages": [{"role": "user", "content": "Say hi"}],
        });
        assert_eq!(body, want);
    }

    #[test]
    fn stream_events_map_to_signals() {
        let start = event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1"}}"#,
        );
        assert_eq!(
            decode_event(&start),
            vec![Signal::RequestId("msg_1".into())]
        );
        let text = event(
            "content_block_delta",
            r#"{"delta":{"type":"text_delta","text":"ok"}}"#,
        );
        assert_eq!(decode_event(&text), vec![Signal::Text("ok".into())]);
        let json_delta = event(
            "content_block_delta",
            r#"{"delta":{"type":"input_json_delta","partial_json":"{"}}"#,
        );
        assert!(decode_event(&json_delta).is_empty());
        assert!(decode_event(&event("ping", r#"{"type":"ping"}"#)).is_empty());
        assert_eq!(
            decode_event(&event("message_stop", r#"{"type":"message_stop"}"#)),
            vec![Signal::Done]
        );
        // Without the `event:` line the JSON type still identifies the event.
        let unnamed = SseEvent {
            event: None,
            data: r#"{"type":"message_stop"}"#.into(),
        };
        assert_eq!(decode_event(&unnamed), vec![Signal::Done]);
    }

    #[test]
    fn stream_errors_and_garbage_fail() {
        let overloaded = event(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(
            decode_event(&overloaded),
            vec![Signal::Fail(
                Outcome::Overloaded,
                "overloaded_error: Overloaded".into()
            )]
        );
        let odd = event("error", r#"{"error":{"type":"something_new"}}"#);
        assert!(matches!(
            decode_event(&odd)[..],
            [Signal::Fail(Outcome::Http5xx, _)]
        ));
        assert!(matches!(
            decode_event(&event("content_block_delta", "{not json"))[..],
            [Signal::Fail(Outcome::Malformed, _)]
        ));
    }

    #[test]
    fn error_types_map_to_classes() {
        let table = [
            ("overloaded_error", Outcome::Overloaded),
            ("rate_limit_error", Outcome::RateLimited),
            ("api_error", Outcome::Http5xx),
            ("authentication_error", Outcome::Auth),
            ("permission_error", Outcome::Auth),
            ("not_found_error", Outcome::NotFound),
            ("invalid_request_error", Outcome::BadRequest),
            ("", Outcome::Http5xx),
        ];
        for (error_type, want) in table {
            assert_eq!(class_of(error_type), want, "{error_type}");
        }
    }

    #[test]
    fn overloaded_body_wins_over_status() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            classify_error(500, body),
            (Outcome::Overloaded, "overloaded_error: Overloaded".into())
        );
        let auth = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(classify_error(401, auth).0, Outcome::Auth);
        assert_eq!(
            classify_error(502, "<html>bad gateway</html>"),
            (Outcome::Http5xx, "<html>bad gateway</html>".into())
        );
        // A gateway's own overload page, without Anthropic's error type.
        assert_eq!(
            classify_error(503, "upstream overloaded").0,
            Outcome::Overloaded
        );
        let rate_limited =
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"overloaded"}}"#;
        assert_eq!(classify_error(429, rate_limited).0, Outcome::RateLimited);
    }
}
