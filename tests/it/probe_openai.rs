//! The OpenAI-compatible prober against local fake servers speaking Chat Completions (plain
//! and Azure-style) and the Responses API.

use std::net::SocketAddr;

use serde_json::json;

use modelwatch::probe::openai::OpenAiProber;
use modelwatch::probe::{http_client, ProbeReport, Prober};
use modelwatch::vocabulary::Outcome;

use crate::helpers::{config_from, first_target};
use crate::probe_anthropic::{fake_server, sse, streamed, Part, KEY};

const SSE: (&str, &str) = ("content-type", "text/event-stream");

/// Probes the first model of an `openai` provider at `base_url`; `provider_keys` and
/// `model_keys` add TOML to the provider table and the model's inline table.
async fn probe(base_url: &str, provider_keys: &str, model_keys: &str) -> ProbeReport {
    let toml = format!(
        r#"
        [[providers]]
        id = "openai"
        kind = "openai"
        base_url = "{base_url}"
        api_key_env = "OPENAI_TEST_KEY"
        timeout = "2s"
        {provider_keys}
        models = [{{ id = "gpt-test"{model_keys} }}]
        "#
    );
    let config = config_from(&toml, &[("OPENAI_TEST_KEY", KEY)]);
    OpenAiProber::new(http_client())
        .probe(&first_target(&config))
        .await
}

fn base(addr: SocketAddr) -> String {
    format!("http://{addr}/v1")
}

/// A chat chunk with `content` (a string or null) in the first choice's delta.
fn chunk(content: serde_json::Value) -> Part {
    let data = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]});
    sse(None, &data.to_string())
}

/// A chat stream as OpenAI sends it: a role-only first chunk with empty content, the answer
/// after `delay_ms`, a finish chunk, then `[DONE]`.
fn chat_answer(delay_ms: u64) -> Vec<Part> {
    let role = json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]});
    let finish = json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    vec![
        sse(None, &role.to_string()),
        Part::Wait(delay_ms),
        chunk(json!("ok")),
        sse(None, &finish.to_string()),
        sse(None, "[DONE]"),
    ]
}

#[tokio::test]
async fn chat_stream_ok_and_role_chunk_is_not_the_first_token() {
    let (addr, seen) =
        fake_server(|| streamed(200, &[SSE, ("x-request-id", "req_oai_1")], chat_answer(150)))
            .await;
    let report = probe(&base(addr), "", "").await;

    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert_eq!(report.error, None);
    let ttft = report.ttft_ms.expect("ttft");
    assert!(
        ttft >= 150,
        "the empty role chunk must not count as the first token: ttft {ttft}"
    );
    assert!(report.headers_ms.is_some_and(|h| h < ttft), "{report:?}");
    assert_eq!(report.request_id.as_deref(), Some("req_oai_1"));

    let received = seen
        .lock()
        .unwrap()
        .take()
        .expect("the server saw the request");
    assert_eq!(received.path, "/v1/chat/completions");
    assert_eq!(
        received.headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(received.body["model"], "gpt-test");
    assert_eq!(received.body["stream"], true);
    assert_eq!(received.body["max_tokens"], 16);
    assert_eq!(received.body["messages"][0]["role"], "user");
}

#[tokio::test]
async fn azure_uses_deployment_url_api_version_and_api_key_header() {
    let (addr, seen) = fake_server(|| {
        streamed(
            200,
            &[SSE, ("apim-request-id", "azure-req-9")],
            chat_answer(0),
        )
    })
    .await;
    let report = probe(
        &format!("http://{addr}"),
        r#"api_version = "2024-10-21""#,
        r#", deployment = "prod-gpt""#,
    )
    .await;

    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert_eq!(report.request_id.as_deref(), Some("azure-req-9"));
    let received = seen
        .lock()
        .unwrap()
        .take()
        .expect("the server saw the request");
    assert_eq!(
        received.path,
        "/openai/deployments/prod-gpt/chat/completions"
    );
    assert_eq!(received.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(received.headers["api-key"], KEY);
    assert!(
        received.headers.get("authorization").is_none(),
        "Azure keys go in api-key only"
    );
    assert!(
        received.body.get("model").is_none(),
        "the deployment names the model: {}",
        received.body
    );
}

#[tokio::test]
async fn responses_api_ok_stream() {
    let (addr, seen) = fake_server(|| {
        let parts = vec![
            sse(Some("response.created"), r#"{"type":"response.created","response":{"id":"resp_123","status":"in_progress"}}"#),
            sse(Some("response.output_item.added"), r#"{"type":"response.output_item.added","output_index":0}"#),
            Part::Wait(100),
            sse(Some("response.output_text.delta"), r#"{"type":"response.output_text.delta","delta":"ok"}"#),
            sse(Some("response.output_text.done"), r#"{"type":"response.output_text.done","text":"ok"}"#),
            sse(Some("response.completed"), r#"{"type":"response.completed","response":{"id":"resp_123","status":"completed"}}"#),
        ];
        streamed(200, &[SSE], parts)
    })
    .await;
    let report = probe(
        &base(addr),
        r#"api = "responses""#,
        r#", reasoning_effort = "low""#,
    )
    .await;

    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert!(report.ttft_ms.is_some_and(|t| t >= 100), "{report:?}");
    assert_eq!(
        report.request_id.as_deref(),
        Some("resp_123"),
        "the id comes from response.created"
    );
    let received = seen
        .lock()
        .unwrap()
        .take()
        .expect("the server saw the request");
    assert_eq!(received.path, "/v1/responses");
    let want = json!({"model": "gpt-test", "input": "Reply with the single word: ok", "stream": true,
        "max_output_tokens": 16, "reasoning": {"effort": "low"}});
    assert_eq!(received.body, want);
}

#[tokio::test]
async fn in_stream_error_chunk_is_classified() {
    let cases = [
        (
            r#"{"error":{"message":"The server had an error","type":"server_error"}}"#,
            Outcome::Http5xx,
        ),
        (
            r#"{"error":{"message":"Slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
            Outcome::RateLimited,
        ),
        (
            r#"{"error":{"message":"Busy","type":"overloaded_error"}}"#,
            Outcome::Overloaded,
        ),
    ];
    for (error, want) in cases {
        let (addr, _) =
            fake_server(move || streamed(200, &[SSE], vec![chunk(json!("o")), sse(None, error)]))
                .await;
        let report = probe(&base(addr), "", "").await;
        assert_eq!(report.outcome, want, "{error}: {report:?}");
        assert!(
            report
                .error
                .as_deref()
                .unwrap()
                .starts_with("error in stream: "),
            "{report:?}"
        );
    }
}

#[tokio::test]
async fn connection_refused_is_connect() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Connect, "{report:?}");
    assert_eq!(report.http_status, None);
    assert_eq!(report.headers_ms, None);
    assert!(report.error.is_some());
}

#[tokio::test]
async fn http_503_is_http_5xx() {
    let (addr, _) = fake_server(|| {
        let body =
            r#"{"error":{"message":"Service unavailable","type":"server_error","code":null}}"#;
        streamed(
            503,
            &[("content-type", "application/json")],
            vec![Part::Send(body.to_string())],
        )
    })
    .await;
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Http5xx, "{report:?}");
    assert_eq!(report.http_status, Some(503));
    assert_eq!(
        report.error.as_deref(),
        Some("HTTP 503: server_error: Service unavailable")
    );
}

#[tokio::test]
async fn only_done_is_empty() {
    let (addr, _) = fake_server(|| streamed(200, &[SSE], vec![sse(None, "[DONE]")])).await;
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Empty, "{report:?}");
    assert_eq!(report.ttft_ms, None);
    assert_eq!(
        report.error.as_deref(),
        Some("stream finished without any text")
    );
}

#[tokio::test]
async fn empty_and_null_content_chunks_are_empty() {
    let parts = || vec![chunk(json!("")), chunk(json!(null)), sse(None, "[DONE]")];
    let (addr, _) = fake_server(move || streamed(200, &[SSE], parts())).await;
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Empty, "{report:?}");
    assert_eq!(
        report.request_id.as_deref(),
        Some("chatcmpl-1"),
        "the chunk id without a header"
    );
}

/// A Magistral (Mistral reasoning) chunk: `delta.content` is an array of typed parts.
fn magistral(parts: serde_json::Value, finish: Option<&str>) -> Part {
    let data = json!({
        "id": "cmpl-magistral-1", "object": "chat.completion.chunk", "created": 1750000000,
        "model": "magistral-medium-2507",
        "choices": [{"index": 0, "delta": {"content": parts}, "finish_reason": finish}],
    });
    sse(None, &data.to_string())
}

fn thinking(text: &str) -> serde_json::Value {
    json!([{"type": "thinking", "thinking": [{"type": "text", "text": text}]}])
}

#[tokio::test]
async fn magistral_text_parts_are_text_and_thinking_parts_are_not() {
    let (addr, _) = fake_server(|| {
        let role = json!({"id": "cmpl-magistral-1", "object": "chat.completion.chunk", "model": "magistral-medium-2507",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
        let parts = vec![
            sse(None, &role.to_string()),
            magistral(thinking("Okay, the user wants"), None),
            magistral(thinking(" one word."), None),
            Part::Wait(150),
            // An empty text part is not a first token either.
            magistral(json!([{"type": "text", "text": ""}]), None),
            magistral(json!([{"type": "text", "text": "ok"}]), None),
            magistral(json!([]), Some("stop")),
            sse(None, "[DONE]"),
        ];
        streamed(200, &[SSE], parts)
    })
    .await;
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    let ttft = report.ttft_ms.expect("ttft");
    assert!(
        ttft >= 150,
        "thinking parts must not count as the first token: ttft {ttft}"
    );
}

#[tokio::test]
async fn magistral_stream_with_only_thinking_is_empty() {
    let parts = || {
        vec![
            magistral(thinking("Hmm."), None),
            magistral(json!([]), Some("length")),
            sse(None, "[DONE]"),
        ]
    };
    let (addr, _) = fake_server(move || streamed(200, &[SSE], parts())).await;
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Empty, "{report:?}");
    assert_eq!(report.ttft_ms, None);
}

#[tokio::test]
async fn http_503_overloaded_bodies_are_overloaded() {
    let cases = [
        // OpenAI's own wording.
        (
            r#"{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}"#,
            "HTTP 503: server_error: The engine is currently overloaded, please try again later",
        ),
        // vLLM and Mistral put the error fields at the top level.
        (
            r#"{"object":"error","message":"Service overloaded, please retry later","type":"ServiceUnavailableError","param":null,"code":503}"#,
            "HTTP 503: ServiceUnavailableError: Service overloaded, please retry later",
        ),
    ];
    for (body, want) in cases {
        let (addr, _) = fake_server(move || {
            let headers = [("content-type", "application/json")];
            streamed(503, &headers, vec![Part::Send(body.to_string())])
        })
        .await;
        let report = probe(&base(addr), "", "").await;
        assert_eq!(report.outcome, Outcome::Overloaded, "{body}: {report:?}");
        assert_eq!(report.error.as_deref(), Some(want));
    }
}

#[tokio::test]
async fn in_stream_overloaded_message_is_overloaded() {
    // vLLM reports an engine error inside the stream with a numeric HTTP code.
    let error = r#"{"error":{"object":"error","message":"The server is overloaded or not ready yet.","type":"ServiceUnavailableError","code":503}}"#;
    let (addr, _) =
        fake_server(move || streamed(200, &[SSE], vec![chunk(json!("o")), sse(None, error)])).await;
    let report = probe(&base(addr), "", "").await;
    assert_eq!(report.outcome, Outcome::Overloaded, "{report:?}");
}
