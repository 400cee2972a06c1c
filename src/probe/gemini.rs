//! Google Gemini (Generative Language API): `streamGenerateContent` with `alt=sse`.
//!
//! Each SSE `data:` line is a whole `GenerateContentResponse`. The stream has no explicit end
//! marker: the last chunk carries `candidates[0].finishReason` and the server closes. A stream
//! that closes without a finish reason was therefore cut short and counts as truncated.
//!
//! An overloaded model answers 503 `UNAVAILABLE` "The model is overloaded…", in the response
//! or as an error chunk of the stream: `overloaded`, unlike other `UNAVAILABLE`s.
//!
//! The key travels in the `x-goog-api-key` header, never in the URL, so it cannot leak into
//! logs of URLs or into `reqwest` error text (which quotes the URL).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::overload;
use super::redact::scrub;
use super::sse::{SseEvent, SseParser};
use super::stream::{
    self, json_error_message, request_headers, sse_overflow, HttpProbe, Signal, StreamDecoder,
};
use super::{Outcome, ProbeReport, ProbeTarget, Prober};
use crate::config::ModelConfig;

pub struct GeminiProber {
    client: reqwest::Client,
}

impl GeminiProber {
    pub fn new(client: reqwest::Client) -> Self {
        GeminiProber { client }
    }
}

#[async_trait]
impl Prober for GeminiProber {
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let provider = &target.provider;
        let secrets = target.secrets();
        // Accept ids written the way Google lists them (`models/gemini-2.5-flash`).
        let model_id = target
            .model
            .id
            .strip_prefix("models/")
            .unwrap_or(&target.model.id);
        let url = format!(
            "{}/v1beta/models/{model_id}:streamGenerateContent?alt=sse",
            provider.base_url
        );
        let credential = provider
            .api_key()
            .map(|key| ("x-goog-api-key", key.to_string()));
        let headers = match request_headers(credential, &[], &provider.headers) {
            Ok(h) => h,
            Err((outcome, message)) => return ProbeReport::failed(outcome, message),
        };
        let builder = self
            .client
            .post(url)
            .json(&request_body(&target.model))
            .headers(headers);
        let request = match builder.build() {
            Ok(r) => r,
            Err(e) => {
                return ProbeReport::failed(
                    Outcome::BadRequest,
                    scrub(&format!("cannot build request: {e}"), &secrets),
                )
            }
        };
        let probe = HttpProbe {
            client: &self.client,
            request,
            timeout: provider.timeout,
            // Gemini sends no request id header; `responseId` in the body is the one support asks for.
            request_id_headers: &[],
            classify_error,
            secrets: &secrets,
        };
        stream::run(probe, &mut GeminiDecoder::default()).await
    }
}

/// The request body. Thinking is off by default (`thinkingBudget: 0`) so the small output
/// budget goes to the answer and time-to-first-token measures the model, not its reasoning.
/// Gemini 2.5 Pro cannot turn thinking off and rejects a budget below 128: configure
/// `thinking_budget = 128` (or more) and a `max_tokens` that leaves room for the answer,
/// since thought tokens count against `maxOutputTokens`.
pub fn request_body(model: &ModelConfig) -> Value {
    json!({
        "contents": [{ "role": "user", "parts": [{ "text": model.prompt }] }],
        "generationConfig": {
            "maxOutputTokens": model.max_tokens,
            "thinkingConfig": { "thinkingBudget": model.thinking_budget.unwrap_or(0) },
        },
    })
}

/// Classifies a non-2xx response. The HTTP status decides, except where Google's error
/// `status` or `reason` is more precise than the code it was sent with, or the message says
/// the model is overloaded.
fn classify_error(status: u16, body: &str) -> (Outcome, String) {
    let (outcome, message) = classify_by_status(status, body);
    (overload::refine(outcome, &message), message)
}

/// The class by status and Google's error fields, before the overload rule.
fn classify_by_status(status: u16, body: &str) -> (Outcome, String) {
    let parsed = serde_json::from_str::<Value>(body).ok().map(unwrap_array);
    match parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object())
    {
        Some(err) => {
            let (_, message) = google_error(err);
            let outcome = match err.get("status").and_then(Value::as_str) {
                Some("RESOURCE_EXHAUSTED") => Outcome::RateLimited,
                // A bad key comes back as 400 INVALID_ARGUMENT: it is an auth problem, not a bad request.
                _ if api_key_invalid(err) => Outcome::Auth,
                _ => Outcome::from_status(status),
            };
            (outcome, message)
        }
        None => (Outcome::from_status(status), json_error_message(body)),
    }
}

/// Some Gemini error paths wrap the error object in a one-element JSON array.
fn unwrap_array(v: Value) -> Value {
    match v {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    }
}

fn api_key_invalid(err: &Value) -> bool {
    err.get("details")
        .and_then(Value::as_array)
        .is_some_and(|d| {
            d.iter()
                .any(|x| x.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"))
        })
}

/// The outcome and message of a Google error object (`{"code", "status", "message"}`) that
/// arrived inside a 200 stream, where no HTTP status can tell the class.
fn google_error(err: &Value) -> (Outcome, String) {
    let status = err.get("status").and_then(Value::as_str);
    let code = err
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok());
    let outcome = match (status, code) {
        (Some("RESOURCE_EXHAUSTED"), _) | (_, Some(429)) => Outcome::RateLimited,
        (Some("DEADLINE_EXCEEDED"), _) | (_, Some(504)) => Outcome::Timeout,
        (Some("UNAVAILABLE" | "INTERNAL"), _) => Outcome::Http5xx,
        (Some("UNAUTHENTICATED" | "PERMISSION_DENIED"), _) => Outcome::Auth,
        (_, Some(c)) if (400..600).contains(&c) => Outcome::from_status(c),
        // An error the server put in the stream without a usable class is still its fault.
        _ => Outcome::Http5xx,
    };
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let message = match status {
        Some(s) => format!("{s}: {message}"),
        None => message.to_string(),
    };
    (overload::refine(outcome, &message), message)
}

/// Decodes Gemini's SSE stream and remembers whether a finish reason was seen, which is the
/// only way to tell a complete stream from a cut one.
#[derive(Default)]
struct GeminiDecoder {
    sse: SseParser,
    saw_text: bool,
    finished: bool,
}

impl GeminiDecoder {
    /// The signals of the parsed events, then the failure of an event past the limit.
    fn events(&mut self, events: Vec<SseEvent>) -> Vec<Signal> {
        let mut out: Vec<Signal> = events.iter().flat_map(|e| self.chunk(&e.data)).collect();
        out.extend(sse_overflow(&self.sse));
        out
    }

    fn chunk(&mut self, data: &str) -> Vec<Signal> {
        let data = data.trim();
        if data.is_empty() {
            return Vec::new();
        }
        let value = match serde_json::from_str::<Value>(data) {
            Ok(v) => unwrap_array(v),
            Err(e) => {
                return vec![Signal::Fail(
                    Outcome::Malformed,
                    format!("invalid JSON chunk: {e}"),
                )]
            }
        };
        if let Some(err) = value.get("error").filter(|e| e.is_object()) {
            let (outcome, message) = google_error(err);
            return vec![Signal::Fail(outcome, message)];
        }
        let mut out = Vec::new();
        if let Some(id) = value.get("responseId").and_then(Value::as_str) {
            out.push(Signal::RequestId(id.chars().take(200).collect()));
        }
        if let Some(reason) = value
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            out.push(Signal::Fail(
                Outcome::Empty,
                format!("prompt blocked: {reason}"),
            ));
            return out;
        }
        let candidate = value.pointer("/candidates/0");
        let parts = candidate
            .and_then(|c| c.pointer("/content/parts"))
            .and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            // Thought summaries are not the answer and must not set time-to-first-token.
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                self.saw_text |= !text.is_empty();
                out.push(Signal::Text(text.to_string()));
            }
        }
        if let Some(reason) = candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str)
        {
            self.finished = true;
            if self.saw_text {
                out.push(Signal::Done);
            } else {
                // Still `empty`, but the reason (SAFETY, MAX_TOKENS spent on thinking, …) is
                // what an SRE needs to see.
                out.push(Signal::Fail(
                    Outcome::Empty,
                    format!("finishReason {reason} without any text"),
                ));
            }
        }
        out
    }
}

impl StreamDecoder for GeminiDecoder {
    fn feed(&mut self, chunk: &[u8]) -> Vec<Signal> {
        let events = self.sse.feed(chunk);
        self.events(events)
    }

    fn finish(&mut self) -> Vec<Signal> {
        // A last chunk without its blank line still counts.
        let events = self.sse.feed(b"\n\n");
        let mut out = self.events(events);
        // Without a finish reason the stream was cut: return nothing and the driver reports
        // it as truncated (`malformed`).
        if self.finished {
            out.push(Signal::Done);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&str]) -> Vec<Signal> {
        let mut d = GeminiDecoder::default();
        let mut out: Vec<Signal> = chunks.iter().flat_map(|c| d.feed(c.as_bytes())).collect();
        out.extend(d.finish());
        out
    }

    #[test]
    fn body_has_prompt_budget_and_thinking_off_by_default() {
        let toml = r#"
[[providers]]
id = "g"
kind = "gemini"
models = [ { id = "a", max_tokens = 20 }, { id = "b", thinking_budget = 128 } ]
"#;
        let config =
            crate::config::Config::parse(toml, std::path::Path::new("t.toml"), &|_| None).unwrap();
        let models = &config.providers[0].models;
        let body = request_body(&models[0]);
        assert_eq!(body["contents"][0]["role"], "user");
        assert_eq!(
            body["contents"][0]["parts"][0]["text"],
            crate::config::DEFAULT_PROMPT
        );
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 20);
        assert_eq!(
            body["generationConfig"]["thinkingConfig"]["thinkingBudget"],
            0
        );
        assert_eq!(
            request_body(&models[1])["generationConfig"]["thinkingConfig"]["thinkingBudget"],
            128
        );
    }

    #[test]
    fn text_skips_thoughts_and_finish_reason_ends() {
        let signals = feed_all(&[
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":true}]}}],\"responseId\":\"r1\"}\n\n",
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"o\"}]}}]}\n\nda",
            "ta: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"k\"}]},\"finishReason\":\"STOP\"}]}\n\n",
        ]);
        assert_eq!(
            signals,
            vec![
                Signal::RequestId("r1".into()),
                Signal::Text("o".into()),
                Signal::Text("k".into()),
                Signal::Done,
                Signal::Done,
            ]
        );
    }

    #[test]
    fn stream_without_finish_reason_yields_no_end() {
        let signals = feed_all(&[
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"o\"}]}}]}\n\n",
        ]);
        assert_eq!(signals, vec![Signal::Text("o".into())]);
    }

    #[test]
    fn errors_blocks_and_garbage_fail() {
        let fail = |chunk: &str| match feed_all(&[chunk])
            .into_iter()
            .find(|s| matches!(s, Signal::Fail(..)))
        {
            Some(Signal::Fail(o, m)) => (o, m),
            other => panic!("no failure in {chunk}: {other:?}"),
        };
        let (o, m) = fail(
            "data: {\"error\":{\"code\":503,\"status\":\"UNAVAILABLE\",\"message\":\"busy\"}}\n\n",
        );
        assert_eq!((o, m.as_str()), (Outcome::Http5xx, "UNAVAILABLE: busy"));
        let (o, _) = fail(
            "data: {\"error\":{\"code\":503,\"status\":\"UNAVAILABLE\",\"message\":\"The model is overloaded.\"}}\n\n",
        );
        assert_eq!(o, Outcome::Overloaded);
        assert_eq!(
            fail("data: {\"error\":{\"code\":429,\"message\":\"x\"}}\n\n").0,
            Outcome::RateLimited
        );
        assert_eq!(
            fail("data: {\"error\":{\"status\":\"DEADLINE_EXCEEDED\"}}\n\n").0,
            Outcome::Timeout
        );
        assert_eq!(
            fail("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\n").0,
            Outcome::Empty
        );
        assert_eq!(
            fail("data: {\"candidates\":[{\"finishReason\":\"SAFETY\"}]}\n\n").0,
            Outcome::Empty
        );
        assert_eq!(fail("data: {not json\n\n").0, Outcome::Malformed);
    }

    #[test]
    fn error_statuses_classify() {
        let body = |status: &str| {
            format!("{{\"error\":{{\"code\":1,\"status\":\"{status}\",\"message\":\"m\"}}}}")
        };
        assert_eq!(
            classify_error(429, &body("RESOURCE_EXHAUSTED")),
            (Outcome::RateLimited, "RESOURCE_EXHAUSTED: m".into())
        );
        assert_eq!(
            classify_error(400, &body("RESOURCE_EXHAUSTED")).0,
            Outcome::RateLimited
        );
        assert_eq!(
            classify_error(503, &format!("[{}]", body("UNAVAILABLE"))).0,
            Outcome::Http5xx
        );
        let overloaded = r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#;
        let want = "UNAVAILABLE: The model is overloaded. Please try again later.";
        assert_eq!(
            classify_error(503, overloaded),
            (Outcome::Overloaded, want.into())
        );
        let wrapped = format!("[{overloaded}]");
        assert_eq!(classify_error(503, &wrapped).0, Outcome::Overloaded);
        let internal = r#"{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}"#;
        assert_eq!(classify_error(500, internal).0, Outcome::Http5xx);
        let bad_key = r#"{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"API key not valid","details":[{"reason":"API_KEY_INVALID"}]}}"#;
        assert_eq!(classify_error(400, bad_key).0, Outcome::Auth);
        assert_eq!(
            classify_error(502, "<html>bad gateway</html>"),
            (Outcome::Http5xx, "<html>bad gateway</html>".into())
        );
    }
}
