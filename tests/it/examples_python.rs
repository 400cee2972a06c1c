//! The examples in `examples/` run for real: the OpenAI Python SDK and LiteLLM (from PyPI,
//! installed by `scripts/test`) call a local fake OpenAI-compatible server, and their
//! reports reach the real service, where `/metrics` counts them by outcome class.

use std::net::SocketAddr;
use std::process::Command;

use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use chrono::Utc;
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use serde_json::{json, Value};

use crate::helpers::{spawn_seeded_app, spawn_server};
use crate::traffic_ingest::metric;

/// A fake OpenAI-compatible server: `gpt-5` streams "ok"; `gpt-5-overloaded` answers 503
/// with OpenAI's overload error.
async fn fake_openai() -> SocketAddr {
    async fn chat(Json(body): Json<Value>) -> Response {
        if body["model"] == "gpt-5-overloaded" {
            let error = json!({"error": {"message": "The engine is currently overloaded, please try again later", "type": "overloaded_error", "code": null}});
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(error)).into_response();
        }
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-5",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let events = [
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "ok"}), Value::Null),
            chunk(json!({}), json!("stop")),
        ];
        let mut text: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        text.push_str("data: [DONE]\n\n");
        ([("content-type", "text/event-stream")], text).into_response()
    }
    spawn_server(axum::Router::new().route("/v1/chat/completions", post(chat))).await
}

/// Whether the example's packages are installed (`scripts/test` installs them).
fn available(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs an example script to its end; returns its output.
async fn run(script: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let path = format!("{}/examples/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut command = tokio::process::Command::new("python3");
    command.arg(&path).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    // Nothing leaves loopback: LiteLLM reads its model list from the package, not GitHub.
    command
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_TELEMETRY", "False")
        .env("NO_PROXY", "127.0.0.1,localhost");
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .expect("the example did not finish in two minutes")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

async fn check(script: &str, module: &str, models: &[&str], base: String) {
    assert!(
        available(module),
        "python3 cannot import {module}: run scripts/test, which installs it"
    );
    let app = spawn_seeded_app().await;
    let (_, token) = tokens::create(
        &app.store,
        Scope::Ingest,
        "examples",
        &Actor::cli(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    let mut args = vec!["--report-as", "openai/gpt-5", "--calls", "2"];
    for m in models {
        args.extend(["--model", m]);
    }
    let env = [
        ("MODELWATCH_URL", app.base.clone()),
        ("MODELWATCH_TOKEN", token.expose().to_string()),
        ("OPENAI_BASE_URL", base.clone()),
        ("OPENAI_API_KEY", "sk-test".to_string()),
    ];
    let mut all_args: Vec<&str> = args.clone();
    if module == "litellm" {
        all_args.extend(["--api-base", base.as_str()]);
    }
    let output = run(script, &all_args, &env).await;
    let prefix = "modelwatch_observations_accepted_total{model=\"openai/gpt-5\",via=\"api\"";
    let ok = metric(&app, &format!("{prefix},outcome=\"ok\"")).await;
    let overloaded = metric(&app, &format!("{prefix},outcome=\"overloaded\"")).await;
    let all = metric(&app, prefix).await;
    assert_eq!((ok, overloaded, all), (2.0, 2.0, 4.0), "{output}");
    app.stop().await;
}

#[tokio::test]
async fn the_openai_sdk_example_reports_each_call_and_its_failure_class() {
    let addr = fake_openai().await;
    check(
        "python/openai_sdk.py",
        "openai",
        &["gpt-5", "gpt-5-overloaded"],
        format!("http://{addr}/v1"),
    )
    .await;
}

#[tokio::test]
async fn the_litellm_callback_reports_each_call_and_its_failure_class() {
    let addr = fake_openai().await;
    check(
        "litellm/run.py",
        "litellm",
        &["openai/gpt-5", "openai/gpt-5-overloaded"],
        format!("http://{addr}/v1"),
    )
    .await;
}
