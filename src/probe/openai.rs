//! OpenAI-compatible prober: OpenAI, Azure OpenAI and local servers (Ollama, vLLM,
//! llama.cpp), through Chat Completions or OpenAI's Responses API.
//!
//! Chat Completions streams unnamed SSE chunks ending in `data: [DONE]`. Its first chunk
//! usually carries only the role with empty content; the driver ignores empty text, so the
//! first token is the first non-empty `delta.content`. Mistral's reasoning models
//! (Magistral) send `delta.content` as an array of typed parts instead of a string:
//! `thinking` parts (the reasoning) and then `text` parts (the answer); only the latter are
//! text. The Responses API streams typed events instead. Azure differs in three places: the deployment and `api-version` are in
//! the URL, the key goes in `api-key`, and the body names no model (the deployment does).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::overload;
use super::redact::scrub;
use super::sse::SseEvent;
use super::stream::{
    self, json_error_message, request_headers, top_level_error, HttpProbe, Signal, SseDecoder,
};
use super::{Outcome, ProbeReport, ProbeTarget, Prober};
use crate::config::{ModelConfig, OpenAiApi, ProviderConfig};

/// OpenAI's request id header, then the one Azure's API management adds.
const REQUEST_ID_HEADERS: &[&str] = &["x-request-id", "apim-request-id"];

pub struct OpenAiProber {
    client: reqwest::Client,
}

impl OpenAiProber {
    pub fn new(client: reqwest::Client) -> Self {
        OpenAiProber { client }
    }
}

#[async_trait]
impl Prober for OpenAiProber {
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let provider = &*target.provider;
        let secrets = target.secrets();
        let request = match build_request(&self.client, provider, &target.model) {
            Ok(request) => request,
            // Our own configuration is at fault (a key or header no request can carry).
            Err((outcome, e)) => return ProbeReport::failed(outcome, scrub(&e, &secrets)),
        };
        let probe = HttpProbe {
            client: &self.client,
            request,
            timeout: provider.timeout,
            request_id_headers: REQUEST_ID_HEADERS,
            classify_error,
            secrets: &secrets,
        };
        let decode: fn(&SseEvent) -> Vec<Signal> = match provider.openai_api {
            OpenAiApi::ChatCompletions => decode_chat_event,
            OpenAiApi::Responses => decode_responses_event,
        };
        stream::run(probe, &mut SseDecoder::new(decode)).await
    }
}

/// Azure names deployments, not models; a deployment defaults to the model id.
fn deployment(model: &ModelConfig) -> &str {
    model.deployment.as_deref().unwrap_or(&model.id)
}

/// The URL to POST to. `base_url` already holds the version path (`…/v1`) except on Azure,
/// whose resource URL is followed by `/openai/…` and an `api-version` query.
pub fn endpoint(provider: &ProviderConfig, model: &ModelConfig) -> String {
    let base = &provider.base_url;
    match (provider.openai_api, &provider.api_version) {
        (OpenAiApi::ChatCompletions, None) => format!("{base}/chat/completions"),
        (OpenAiApi::Responses, None) => format!("{base}/responses"),
        (OpenAiApi::ChatCompletions, Some(version)) => {
            format!(
                "{base}/openai/deployments/{}/chat/completions?api-version={version}",
                deployment(model)
            )
        }
        (OpenAiApi::Responses, Some(version)) => {
            format!("{base}/openai/responses?api-version={version}")
        }
    }
}

/// The Chat Completions body. The output budget field is configurable because newer OpenAI
/// models refuse `max_tokens` while many compatible servers know only that name.
pub fn chat_body(provider: &ProviderConfig, model: &ModelConfig) -> Value {
    let mut body = json!({
        "messages": [{"role": "user", "content": model.prompt}],
        "stream": true,
    });
    if provider.api_version.is_none() {
        body["model"] = json!(model.id);
    }
    body[provider.token_limit_field.as_str()] = json!(model.max_tokens);
    if let Some(effort) = &model.reasoning_effort {
        body["reasoning_effort"] = json!(effort);
    }
    body
}

/// The Responses API body; on Azure the `model` field names the deployment.
pub fn responses_body(provider: &ProviderConfig, model: &ModelConfig) -> Value {
    let name = match provider.api_version {
        Some(_) => deployment(model),
        None => &model.id,
    };
    let mut body = json!({
        "model": name,
        "input": model.prompt,
        "stream": true,
        "max_output_tokens": model.max_tokens,
    });
    if let Some(effort) = &model.reasoning_effort {
        body["reasoning"] = json!({ "effort": effort });
    }
    body
}

fn build_request(
    client: &reqwest::Client,
    provider: &ProviderConfig,
    model: &ModelConfig,
) -> Result<reqwest::Request, (Outcome, String)> {
    let credential = provider.api_key().map(|key| match provider.api_version {
        Some(_) => ("api-key", key.to_string()),
        None => ("authorization", format!("Bearer {key}")),
    });
    let headers = request_headers(credential, &[], &provider.headers)?;
    let body = match provider.openai_api {
        OpenAiApi::ChatCompletions => chat_body(provider, model),
        OpenAiApi::Responses => responses_body(provider, model),
    };
    client
        .post(endpoint(provider, model))
        .headers(headers)
        .json(&body)
        .build()
        .map_err(|e| misconfigured(format!("cannot build the request: {e}")))
}

/// A request we cannot build is our configuration's fault, never the provider's.
fn misconfigured(message: String) -> (Outcome, String) {
    (Outcome::BadRequest, message)
}

/// The event's JSON, `Null` for an event without data, or the `Malformed` failure.
fn parse(event: &SseEvent) -> Result<Value, Signal> {
    if event.data.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&event.data)
        .map_err(|e| Signal::Fail(Outcome::Malformed, format!("invalid JSON in stream: {e}")))
}

/// One Chat Completions chunk. Every chunk repeats the completion id; the driver keeps the
/// first request id it sees (and prefers the header's).
fn decode_chat_event(event: &SseEvent) -> Vec<Signal> {
    if event.data.trim() == "[DONE]" {
        return vec![Signal::Done];
    }
    let chunk = match parse(event) {
        Ok(chunk) => chunk,
        Err(fail) => return vec![fail],
    };
    let error = chunk.get("error").filter(|e| !e.is_null());
    if let Some(error) = error.or_else(|| top_level_error(&chunk)) {
        return vec![stream_error(error)];
    }
    let mut signals = Vec::new();
    if let Some(id) = str_at(&chunk, "/id").filter(|id| !id.is_empty()) {
        signals.push(Signal::RequestId(id.to_string()));
    }
    // `content` is null in role-only, tool-call and final chunks.
    match chunk.pointer("/choices/0/delta/content") {
        Some(Value::String(text)) => signals.push(Signal::Text(text.clone())),
        Some(Value::Array(parts)) => signals.push(Signal::Text(text_parts(parts))),
        _ => {}
    }
    signals
}

/// The answer text of typed content parts (Magistral): the `text` parts joined. `thinking`
/// parts hold the model's reasoning, which is not the answer and must not set time to first
/// token, just as Anthropic's thinking deltas and Gemini's thought parts do not.
fn text_parts(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|part| str_at(part, "/type") == Some("text"))
        .filter_map(|part| str_at(part, "/text"))
        .collect()
}

/// One Responses API event. Unlisted events (output items, reasoning summaries, …) carry no
/// answer text and are ignored.
fn decode_responses_event(event: &SseEvent) -> Vec<Signal> {
    let data = match parse(event) {
        Ok(data) => data,
        Err(fail) => return vec![fail],
    };
    let kind = event.event.as_deref().or_else(|| str_at(&data, "/type"));
    let text = |pointer| str_at(&data, pointer).unwrap_or_default().to_string();
    let signal = match kind.unwrap_or_default() {
        "response.created" => match str_at(&data, "/response/id") {
            Some(id) => Signal::RequestId(id.to_string()),
            None => return Vec::new(),
        },
        "response.output_text.delta" => Signal::Text(text("/delta")),
        // An incomplete response (e.g. budget spent) still answered if it streamed text; the
        // driver decides between ok and empty.
        "response.completed" | "response.incomplete" => Signal::Done,
        "response.failed" => stream_error(data.pointer("/response/error").unwrap_or(&Value::Null)),
        // Older servers put the fields at the top level, newer ones under `error`.
        "error" => stream_error(data.get("error").filter(|e| e.is_object()).unwrap_or(&data)),
        _ => return Vec::new(),
    };
    vec![signal]
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// An error object's most specific name: its `code` (`rate_limit_exceeded`), else its `type`.
fn error_name(error: &Value) -> Option<&str> {
    str_at(error, "/code")
        .or_else(|| str_at(error, "/type"))
        .filter(|name| *name != "error")
}

/// The class of an error reported inside a stream after HTTP 200.
fn error_class(error: &Value) -> Outcome {
    for name in ["/type", "/code"].iter().filter_map(|p| str_at(error, p)) {
        match name {
            "rate_limit_exceeded" | "rate_limit_error" => return Outcome::RateLimited,
            "overloaded" | "overloaded_error" => return Outcome::Overloaded,
            _ => {}
        }
    }
    // Some compatible servers (vLLM) give an HTTP status as a numeric code.
    match error.get("code").and_then(Value::as_u64) {
        Some(status @ 400..=599) => Outcome::from_status(status as u16),
        // `server_error` and anything unknown: the provider failed mid-answer.
        _ => Outcome::Http5xx,
    }
}

fn stream_error(error: &Value) -> Signal {
    let message = str_at(error, "/message")
        .or_else(|| error.as_str())
        .unwrap_or("error without a message");
    let description = describe(error_name(error), message);
    Signal::Fail(
        overload::refine(error_class(error), &description),
        description,
    )
}

fn describe(name: Option<&str>, message: &str) -> String {
    match name {
        Some(name) => format!("{name}: {message}"),
        None => message.to_string(),
    }
}

/// Non-2xx responses: the status decides, except that a server error saying it is
/// overloaded is `overloaded`; the body's code and message explain.
fn classify_error(status: u16, body: &str) -> (Outcome, String) {
    let parsed = serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
    let error = top_level_error(&parsed).or_else(|| parsed.get("error"));
    let description = describe(error.and_then(error_name), &json_error_message(body));
    let outcome = overload::refine(Outcome::from_status(status), &description);
    (outcome, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// One provider at `https://h.example/v1` with extra provider keys and one model.
    fn config(provider_keys: &str, model: &str) -> Config {
        let toml = format!(
            "[[providers]]\nid = \"p\"\nkind = \"openai\"\nbase_url = \"https://h.example/v1\"\n{provider_keys}\nmodels = [{model}]"
        );
        Config::parse(&toml, std::path::Path::new("t.toml"), &|_| None).unwrap()
    }

    fn chat(data: &str) -> Vec<Signal> {
        decode_chat_event(&SseEvent {
            event: None,
            data: data.into(),
        })
    }

    fn responses(name: &str, data: &str) -> Vec<Signal> {
        decode_responses_event(&SseEvent {
            event: Some(name.into()),
            data: data.into(),
        })
    }

    #[test]
    fn chat_url_and_body() {
        let model = r#"{ id = "gpt-x", prompt = "hi", reasoning_effort = "low" }"#;
        let c = config(r#"token_limit_field = "max_completion_tokens""#, model);
        let (p, m) = (&c.providers[0], &c.providers[0].models[0]);
        assert_eq!(endpoint(p, m), "https://h.example/v1/chat/completions");
        let want = json!({
            "model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "stream": true,
            "max_completion_tokens": 16, "reasoning_effort": "low",
        });
        assert_eq!(chat_body(p, m), want);
    }

    #[test]
    fn azure_uses_the_deployment_and_no_model_field() {
        let model = r#"{ id = "gpt-x", deployment = "prod-x" }"#;
        let c = config(r#"api_version = "2024-10-21""#, model);
        let (p, m) = (&c.providers[0], &c.providers[0].models[0]);
        let url = "https://h.example/v1/openai/deployments/prod-x/chat/completions?api-version=2024-10-21";
        assert_eq!(endpoint(p, m), url);
        let body = chat_body(p, m);
        assert!(body.get("model").is_none(), "{body}");
        assert_eq!(body["max_tokens"], 16);
    }

    #[test]
    fn responses_url_and_body() {
        let model = r#"{ id = "o-x", prompt = "hi", reasoning_effort = "minimal" }"#;
        let c = config(r#"api = "responses""#, model);
        let (p, m) = (&c.providers[0], &c.providers[0].models[0]);
        assert_eq!(endpoint(p, m), "https://h.example/v1/responses");
        let want = json!({
            "model": "o-x", "input": "hi", "stream": true, "max_output_tokens": 16,
            "reasoning": {"effort": "minimal"},
        });
        assert_eq!(responses_body(p, m), want);
    }

    /// The class of the one failure a chat chunk decodes to, if that is what it decodes to.
    fn failure(data: &str) -> Option<Outcome> {
        match chat(data)[..] {
            [Signal::Fail(outcome, _)] => Some(outcome),
            _ => None,
        }
    }

    #[test]
    fn chat_chunks_map_to_signals() {
        let role = chat(r#"{"id":"c1","choices":[{"delta":{"role":"assistant","content":""}}]}"#);
        let want = vec![Signal::RequestId("c1".into()), Signal::Text(String::new())];
        assert_eq!(role, want);
        let finish = r#"{"choices":[{"delta":{"content":null},"finish_reason":"stop"}]}"#;
        assert!(chat(finish).is_empty());
        assert!(chat(r#"{"choices":[]}"#).is_empty());
        assert_eq!(chat("[DONE]"), vec![Signal::Done]);
        assert_eq!(failure("{oops"), Some(Outcome::Malformed));
    }

    #[test]
    fn stream_errors_are_classified() {
        let rate_limited = r#"{"error":{"type":"x","code":"rate_limit_exceeded"}}"#;
        assert_eq!(failure(rate_limited), Some(Outcome::RateLimited));
        let overloaded = r#"{"error":{"type":"overloaded_error"}}"#;
        assert_eq!(failure(overloaded), Some(Outcome::Overloaded));
        let server = r#"{"error":{"type":"server_error","message":"boom"}}"#;
        assert_eq!(failure(server), Some(Outcome::Http5xx));
        let numeric = r#"{"error":{"message":"m","code":404}}"#;
        assert_eq!(failure(numeric), Some(Outcome::NotFound));
        assert_eq!(failure(r#"{"error":"plain text"}"#), Some(Outcome::Http5xx));
    }

    #[test]
    fn responses_events_map_to_signals() {
        let created = responses("response.created", r#"{"response":{"id":"resp_1"}}"#);
        assert_eq!(created, vec![Signal::RequestId("resp_1".into())]);
        let delta = responses("response.output_text.delta", r#"{"delta":"ok"}"#);
        assert_eq!(delta, vec![Signal::Text("ok".into())]);
        assert_eq!(responses("response.incomplete", "{}"), vec![Signal::Done]);
        let failed = r#"{"response":{"error":{"code":"server_error","message":"x"}}}"#;
        let want = Signal::Fail(Outcome::Http5xx, "server_error: x".into());
        assert_eq!(responses("response.failed", failed), vec![want]);
        let error = r#"{"type":"error","code":"rate_limit_exceeded","message":"slow"}"#;
        let want = Signal::Fail(Outcome::RateLimited, "rate_limit_exceeded: slow".into());
        assert_eq!(responses("error", error), vec![want]);
    }

    #[test]
    fn error_bodies_keep_the_status_class() {
        let body = r#"{"error":{"message":"Bad key","code":"invalid_api_key"}}"#;
        let want = (Outcome::Auth, "invalid_api_key: Bad key".to_string());
        assert_eq!(classify_error(401, body), want);
        let want = (Outcome::Http5xx, "unavailable".to_string());
        assert_eq!(classify_error(503, "unavailable"), want);
    }

    #[test]
    fn overload_bodies_are_overloaded_and_other_5xx_are_not() {
        let table = [
            (
                503,
                r#"{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error"}}"#,
                Outcome::Overloaded,
                "server_error: The engine is currently overloaded, please try again later",
            ),
            (
                503,
                r#"{"object":"error","message":"Service overloaded","type":"ServiceUnavailableError","param":null,"code":503}"#,
                Outcome::Overloaded,
                "ServiceUnavailableError: Service overloaded",
            ),
            (
                500,
                r#"{"error":{"message":"Busy","type":"overloaded_error"}}"#,
                Outcome::Overloaded,
                "overloaded_error: Busy",
            ),
            (
                503,
                r#"{"error":{"message":"Service unavailable","type":"server_error"}}"#,
                Outcome::Http5xx,
                "server_error: Service unavailable",
            ),
            (
                502,
                "<html>502 Bad Gateway</html>",
                Outcome::Http5xx,
                "<html>502 Bad Gateway</html>",
            ),
            // A throttled key stays `rate_limited`, whatever the message says.
            (
                429,
                r#"{"error":{"message":"That model is currently overloaded with other requests.","type":"requests"}}"#,
                Outcome::RateLimited,
                "requests: That model is currently overloaded with other requests.",
            ),
            (
                400,
                r#"{"object":"error","message":"bad","type":"BadRequestError","code":400}"#,
                Outcome::BadRequest,
                "BadRequestError: bad",
            ),
        ];
        for (status, body, outcome, message) in table {
            assert_eq!(
                classify_error(status, body),
                (outcome, message.to_string()),
                "{body}"
            );
        }
        let in_stream = r#"{"error":{"object":"error","message":"The server is overloaded or not ready yet.","type":"ServiceUnavailableError","code":503}}"#;
        assert_eq!(failure(in_stream), Some(Outcome::Overloaded));
        let top_level =
            r#"{"object":"error","message":"Service overloaded","type":"x","code":503}"#;
        assert_eq!(failure(top_level), Some(Outcome::Overloaded));
    }

    #[test]
    fn magistral_content_parts_map_to_text() {
        let chunk = |content: Value| {
            chat(&json!({"choices": [{"index": 0, "delta": {"content": content}}]}).to_string())
        };
        let thinking = json!([{"type": "thinking", "thinking": [{"type": "text", "text": "Hmm"}]}]);
        assert_eq!(chunk(thinking), vec![Signal::Text(String::new())]);
        let text = json!([{"type": "text", "text": "o"}, {"type": "text", "text": "k"}]);
        assert_eq!(chunk(text), vec![Signal::Text("ok".into())]);
        let mixed = json!([{"type": "thinking", "thinking": [{"type": "text", "text": "so"}]}, {"type": "text", "text": "ok"}]);
        assert_eq!(chunk(mixed), vec![Signal::Text("ok".into())]);
        assert_eq!(chunk(json!([])), vec![Signal::Text(String::new())]);
        assert_eq!(
            chunk(json!([{"type": "image_url"}, 7])),
            vec![Signal::Text(String::new())]
        );
    }
}
