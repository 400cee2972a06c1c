//! The application's own traffic, end to end on the real service: the observations API and
//! the OTLP receiver, their refusals, and a model disabled by traffic alone.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use prost::Message;
use serde_json::{json, Value};

use crate::helpers::{spawn_seeded_app_with, TestApp};

async fn token(app: &TestApp, scope: Scope, name: &str) -> String {
    let (_, token) = tokens::create(&app.store, scope, name, &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    token.expose().to_string()
}

async fn post(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/observations", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn rows(model: &str, n: usize, outcome: &str, source: &str) -> Vec<Value> {
    (0..n)
        .map(|_| json!({"model": model, "outcome": outcome, "ttft_ms": 400, "total_ms": 1200, "source": source}))
        .collect()
}

/// The sum of every sample of `/metrics` whose line starts with `line_start` (a name and
/// the first labels).
pub async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(line_start))
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|v| v.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn good_rows_are_kept_bad_rows_named_and_both_counted() {
    let app = spawn_seeded_app_with("").await;
    let ingest = token(&app, Scope::Ingest, "checkout").await;
    let body = json!([
        {"model": "openai/gpt-5", "outcome": "ok", "ttft_ms": 300},
        {"model": "openai/gpt-9", "outcome": "ok"},
        {"model": "openai/gpt-5", "status": 503, "error_type": "overloaded_error"},
        {"model": "openai/gpt-5", "outcome": "sideways"},
    ]);
    let r = post(
        &app,
        &ingest,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["partial"], true);
    let refused: Vec<(u64, String)> = answer["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0].0, 1);
    assert!(refused[0].1.contains("openai/gpt-9"), "{}", refused[0].1);
    assert_eq!(refused[1].0, 3);
    assert!(refused[1].1.contains("sideways"), "{}", refused[1].1);

    // NDJSON, gzip-compressed.
    let ndjson = "{\"model\":\"openai/gpt-5\",\"outcome\":\"ok\"}\n{\"model\":\"openai/gpt-5\",\"outcome\":\"timeout\"}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(ndjson.as_bytes()).unwrap();
    let r = app
        .client
        .post(format!("{}/api/v1/observations", app.base))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 2);

    // Every row refused: 422, and nothing kept.
    let r = post(
        &app,
        &ingest,
        "application/json",
        br#"[{"model":"x/y","outcome":"ok"}]"#.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 422);

    let accepted = metric(
        &app,
        "modelwatch_observations_accepted_total{model=\"openai/gpt-5\",via=\"api\"",
    )
    .await;
    assert_eq!(accepted, 4.0);
    assert_eq!(
        metric(
            &app,
            "modelwatch_observations_refused_total{reason=\"unknown_model\"}"
        )
        .await,
        2.0
    );
    assert_eq!(
        metric(
            &app,
            "modelwatch_observations_refused_total{reason=\"invalid\"}"
        )
        .await,
        1.0
    );
    app.stop().await;
}

#[tokio::test]
async fn only_ingest_tokens_write_observations_and_they_open_nothing_else() {
    let app = spawn_seeded_app_with("").await;
    let ingest = token(&app, Scope::Ingest, "app").await;
    let admin = token(&app, Scope::Admin, "ops").await;
    let body = serde_json::to_vec(&rows("openai/gpt-5", 1, "ok", "a")).unwrap();
    let none = app
        .client
        .post(format!("{}/api/v1/observations", app.base))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let r = post(&app, &admin, "application/json", body.clone()).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("`ingest`"));
    for path in ["/api/v1/admin/whoami", "/api/v1/admin/board"] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&ingest)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = post(&app, &ingest, "text/plain", body).await;
    assert_eq!(r.status(), 415);
    app.stop().await;
}

#[tokio::test]
async fn batches_over_the_size_or_the_rate_are_refused_whole() {
    let app = spawn_seeded_app_with("[traffic]\nmax_batch = 100\nrate_per_token = 150\n").await;
    let ingest = token(&app, Scope::Ingest, "app").await;
    let big = serde_json::to_vec(&rows("openai/gpt-5", 101, "ok", "a")).unwrap();
    let r = post(&app, &ingest, "application/json", big).await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("at most 100"));
    let batch = serde_json::to_vec(&rows("openai/gpt-5", 100, "ok", "a")).unwrap();
    assert_eq!(
        post(&app, &ingest, "application/json", batch.clone())
            .await
            .status(),
        200
    );
    let r = post(&app, &ingest, "application/json", batch).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let accepted = metric(
        &app,
        "modelwatch_observations_accepted_total{model=\"openai/gpt-5\",via=\"api\"",
    )
    .await;
    assert_eq!(accepted, 100.0, "the refused batch left nothing behind");
    assert_eq!(
        metric(
            &app,
            "modelwatch_observations_refused_total{reason=\"rate_limited\"}"
        )
        .await,
        100.0
    );
    app.stop().await;
}

/// The routing decision of `model`, polled until `want` or two seconds pass.
async fn enabled_becomes(app: &TestApp, model: &str, want: bool) -> bool {
    for _ in 0..40 {
        let table = app.get_json("/api/v1/routing").await;
        let enabled = table["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == model)
            .map(|m| m["enabled"].as_bool().unwrap());
        if enabled == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn failing_traffic_from_two_sources_disables_the_model_at_once() {
    let app = spawn_seeded_app_with("").await;
    let ingest = token(&app, Scope::Ingest, "app").await;
    let model = "anthropic/claude-sonnet-4-5";
    assert!(enabled_becomes(&app, model, true).await);
    // A healthy minute from both sources, then both see it fail.
    for source in ["eu", "us"] {
        let ok = serde_json::to_vec(&rows(model, 200, "ok", source)).unwrap();
        assert_eq!(
            post(&app, &ingest, "application/json", ok).await.status(),
            200
        );
    }
    for source in ["eu", "us"] {
        let bad = serde_json::to_vec(&rows(model, 50, "http_5xx", source)).unwrap();
        assert_eq!(
            post(&app, &ingest, "application/json", bad).await.status(),
            200
        );
    }
    assert!(
        enabled_becomes(&app, model, false).await,
        "traffic did not disable the model"
    );
    let table = app.get_json("/api/v1/routing").await;
    let entry = table["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == model)
        .unwrap()
        .clone();
    assert_eq!(entry["state"], "major_outage", "{entry}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(reason.contains("traffic"), "{reason}");
    app.stop().await;
}

#[tokio::test]
async fn one_sources_failures_are_shown_as_its_own_and_not_announced() {
    let app = spawn_seeded_app_with("").await;
    let ingest = token(&app, Scope::Ingest, "app").await;
    let read = token(&app, Scope::Read, "ops").await;
    let model = "anthropic/claude-sonnet-4-5";
    for (source, outcome) in [("eu", "ok"), ("us", "ok"), ("eu", "http_5xx"), ("us", "ok")] {
        let batch = serde_json::to_vec(&rows(model, 200, outcome, source)).unwrap();
        assert_eq!(
            post(&app, &ingest, "application/json", batch)
                .await
                .status(),
            200
        );
    }
    // The board reads the stored decision live (the public page refreshes its reason lines
    // every half minute).
    let mut last = Value::Null;
    for _ in 0..40 {
        let board: Value = app
            .client
            .get(format!("{}/api/v1/admin/board", app.base))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let m = board["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == model)
            .unwrap()
            .clone();
        let alone = m["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("seen only from source eu"));
        if alone {
            assert_eq!(m["enabled"], true);
            assert_eq!(m["state"], "operational");
            let eu = m["traffic"]["sources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["source"] == "eu")
                .unwrap()
                .clone();
            assert_eq!(eu["alone"], true, "{m}");
            assert_eq!(eu["failures"], 200, "{m}");
            assert!(m["traffic"]["requests"].as_u64().unwrap() >= 600, "{m}");
            app.stop().await;
            return;
        }
        last = m;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no 'seen only from source eu' reason: {last}");
}

fn otlp_export(model: &str, spans: usize, failed: usize) -> Value {
    let now = Utc::now().timestamp_nanos_opt().unwrap() as u64;
    let span = |i: usize| {
        let status = if i < failed {
            json!({"code": 2, "message": "Service Unavailable"})
        } else {
            json!({})
        };
        json!({
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": format!("{:016x}", i + 1),
            "name": format!("chat {model}"), "kind": 3,
            "startTimeUnixNano": (now - 2_000_000_000).to_string(), "endTimeUnixNano": now.to_string(),
            "attributes": [
                {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": model}},
                {"key": "http.response.status_code", "value": {"intValue": if i < failed { "503" } else { "200" }}},
            ],
            "status": status,
        })
    };
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "otel-app"}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": (0..spans).map(span).collect::<Vec<_>>()}],
    }]})
}

#[tokio::test]
async fn otlp_exports_in_protobuf_and_json_become_observations() {
    // The seeded providers are simulated: map the instrumentation's names onto them.
    let app =
        spawn_seeded_app_with("[traffic.names]\n\"openai/gpt-5-2025-08-07\" = \"openai/gpt-5\"\n")
            .await;
    let ingest = token(&app, Scope::Ingest, "collector").await;
    let export = otlp_export("gpt-5-2025-08-07", 5, 1);
    let r = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .bearer_auth(&ingest)
        .json(&export)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert!(answer.get("partialSuccess").is_none(), "{answer}");

    // The same export as protobuf, with a model we do not watch added.
    let mut with_unknown = otlp_export("gpt-5", 3, 0);
    let unknown =
        otlp_export("o9-preview", 2, 0)["resourceSpans"][0]["scopeSpans"][0]["spans"].clone();
    with_unknown["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap()
        .extend(unknown.as_array().unwrap().iter().cloned());
    let request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
        serde_json::from_value(with_unknown).unwrap();
    let r = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let answer =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            r.bytes().await.unwrap(),
        )
        .unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("openai/o9-preview"),
        "{}",
        partial.error_message
    );

    let accepted = metric(
        &app,
        "modelwatch_observations_accepted_total{model=\"openai/gpt-5\",via=\"otlp\"",
    )
    .await;
    assert_eq!(accepted, 8.0);
    let garbage = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff; 64])
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    // OTLP/HTTP's refusal body: a google.rpc.Status (code 1, message 2) in protobuf.
    let status =
        modelwatch::web::traffic::otlp::RpcStatus::decode(garbage.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(status.message.contains("protobuf"), "{}", status.message);
    let unauthorized = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let body: Value = unauthorized.json().await.unwrap();
    assert_eq!(body["code"], 16, "UNAUTHENTICATED: {body}");
    app.stop().await;
}
