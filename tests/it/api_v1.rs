//! `/api/v1` on the real service and seeded database: every route with real values, errors
//! as JSON, the `period` parameter, and the OpenAPI document checked against real bodies.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_seeded_app, TestApp};

const OPUS: &str = "/api/v1/models/anthropic/claude-opus-4-8";

async fn json_of(app: &TestApp, path: &str, status: u16) -> Value {
    let r = app.get(path).await;
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(
        (r.status().as_u16(), content_type.as_str()),
        (status, "application/json"),
        "{path}"
    );
    r.json().await.unwrap()
}

fn error_message(body: &Value) -> &str {
    assert!(body["error"]["status"].is_u64(), "{body}");
    body["error"]["message"].as_str().unwrap()
}

/// The strings of a JSON array.
fn strs<'a>(v: &'a Value, field: &str) -> Vec<&'a str> {
    let items = v.as_array().unwrap().iter();
    items
        .map(|x| x[field].as_str().or(x.as_str()).unwrap())
        .collect()
}

/// The named fields of `v`, strings unquoted, joined by spaces: `"operational true"`.
fn fields(v: &Value, keys: &[&str]) -> String {
    let text = |k: &&str| v[*k].as_str().map_or(v[*k].to_string(), str::to_string);
    keys.iter().map(text).collect::<Vec<_>>().join(" ")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn models_carry_state_and_recent_figures() {
    let app = spawn_seeded_app().await;
    let body = json_of(&app, "/api/v1/models?unknown=1", 200).await;
    assert!(body["generated_at"].is_string() && body["stale_since"].is_null());
    let models = &body["models"];
    let ids = [
        "anthropic/claude-opus-4-8",
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-5",
    ];
    assert_eq!(strs(models, "id"), ids);
    for m in models.as_array().unwrap() {
        assert_eq!(fields(m, &["state", "enabled"]), "operational true");
        assert!(num(&m["ttft_now_ms"]) > 0.0 && m["last_probe_at"].is_string());
        // Day rollups exist only for completed days, so a fresh half hour may have none yet.
        assert!(m["uptime_90d"].is_null() || (0.0..=1.0).contains(&num(&m["uptime_90d"])));
        let r = &m["recent"];
        assert!(num(&r["samples"]) >= 10.0, "{m}");
        let (lo, rate, hi) = (
            num(&r["error_rate_lower"]),
            num(&r["error_rate"]),
            num(&r["error_rate_upper"]),
        );
        assert!(lo <= rate && rate <= hi && hi > 0.0, "{r}");
        assert!(num(&r["ttft_p50_ms"]) <= num(&r["ttft_p95_ms"]), "{r}");
        assert!(num(&r["baseline"]["ttft_p50_ms"]) > 0.0, "{r}");
    }
    let opus = &models[0];
    let words = fields(opus, &["provider", "model", "name", "fallback"]);
    assert_eq!(words, "anthropic claude-opus-4-8 Claude Opus 4.8 null");
    app.stop().await;
}

#[tokio::test]
async fn a_model_has_its_outcomes_and_state_changes() {
    let app = spawn_seeded_app().await;
    let model = json_of(&app, OPUS, 200).await["model"].clone();
    let words = fields(&model, &["id", "state"]);
    assert_eq!(words, "anthropic/claude-opus-4-8 operational");
    let outcomes = &model["outcomes_24h"];
    assert!(num(&outcomes["ok"]) > 1000.0, "{outcomes}");
    assert!(num(&outcomes["overloaded"]) > 100.0, "{outcomes}");
    let history = &model["history"];
    let to = strs(history, "to");
    assert!(
        to.contains(&"partial_outage") || to.contains(&"major_outage"),
        "{to:?}"
    );
    assert_eq!(to[0], "operational", "newest first, ending restored");
    let times = strs(history, "at");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let changes = history.as_array().unwrap();
    let disabled = changes.iter().find(|c| c["enabled"] == false).unwrap();
    // The evidence names the test that disabled it: held, on failures only.
    let tests = disabled["evidence"]["tests"].as_array().unwrap();
    let partial = tests.iter().find(|t| t["test"] == "errors ≥ 20%").unwrap();
    assert_eq!(partial["held"], true, "{tests:?}");
    assert!(num(&partial["bad"]) >= 5.0, "{tests:?}");
    assert!(!strs(&disabled["reasons"], "").is_empty());

    let healthy = json_of(&app, "/api/v1/models/openai/gpt-5", 200).await;
    let to = strs(&healthy["model"]["history"], "to");
    assert!(
        !to.contains(&"partial_outage") && !to.contains(&"major_outage"),
        "{to:?}"
    );
    app.stop().await;
}

/// The bodies of `paths` (each answering 200), all from one published site.
///
/// The publisher swaps in a site with fresh figures every half minute and on every routing
/// change, while the service keeps probing; two bodies read across a swap can differ
/// legitimately, so reads are repeated until every body carries the same `generated_at`.
async fn from_one_site(app: &TestApp, paths: &[String]) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut bodies = Vec::new();
        for path in paths {
            bodies.push(json_of(app, path, 200).await);
        }
        let first = &bodies[0]["generated_at"];
        assert!(first.is_string(), "{}: {}", paths[0], bodies[0]);
        if bodies.iter().all(|b| b["generated_at"] == *first) {
            return bodies;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never read {paths:?} from one site"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn history_serves_each_period() {
    let app = spawn_seeded_app().await;
    let path = format!("{OPUS}/history");
    let bodies = from_one_site(
        &app,
        &[
            path.clone(),
            format!("{path}?period=24h"),
            format!("{path}?period=7d"),
            format!("{path}?period=30d"),
            format!("{path}?foo=bar"),
            format!("{path}?foo=1&period=7d"),
        ],
    )
    .await;
    let [default, explicit, week, month, alone, beside] = &bodies[..] else {
        unreachable!()
    };
    assert_eq!(default, explicit);
    assert_eq!(fields(default, &["period", "resolution"]), "24h minute");
    let points = default["points"].as_array().unwrap();
    assert!(points.len() >= 25, "about one point per minute");
    assert!(
        points.iter().any(|p| num(&p["failures"]) > 20.0),
        "the fault"
    );
    assert!(points.iter().all(|p| num(&p["probes"]) > 0.0));

    assert_eq!(fields(week, &["period", "resolution"]), "7d hour");
    assert_eq!(month["period"], "30d");
    // Half an hour of data: the same hours either way.
    assert_eq!(week["points"], month["points"]);

    // Unknown parameters are ignored, alone or beside `period`.
    assert_eq!(alone["period"], "24h");
    assert_eq!(beside, week);
    app.stop().await;
}

#[tokio::test]
async fn errors_are_json_naming_what_was_wrong() {
    let app = spawn_seeded_app().await;
    let body = json_of(&app, &format!("{OPUS}/history?period=bad"), 400).await;
    let message = error_message(&body);
    assert!(message.contains("period") && message.contains("bad"));
    assert_eq!(body["error"]["status"], 400);

    let nope = "/api/v1/models/anthropic/claude-nope";
    for (path, named) in [
        (nope, "claude-nope"),
        (&format!("{nope}/history"), "claude-nope"),
        (&format!("{nope}/history?period=7d"), "claude-nope"),
        (
            "/api/v1/models/nope/claude-opus-4-8",
            "nope/claude-opus-4-8",
        ),
        ("/api/v1/incidents/999999", "999999"),
    ] {
        let body = json_of(&app, path, 404).await;
        assert!(error_message(&body).contains(named), "{path}: {body}");
        assert_eq!(body["error"]["status"], 404);
    }
    app.stop().await;
}

#[tokio::test]
async fn incidents_and_providers() {
    let app = spawn_seeded_app().await;
    let list = json_of(&app, "/api/v1/incidents", 200).await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
    let incident = &list["incidents"][0];
    assert_eq!(
        fields(incident, &["provider", "status"]),
        "anthropic resolved"
    );
    assert!(incident["resolved_at"].is_string());
    assert!(strs(&incident["affected"], "").contains(&"anthropic/claude-opus-4-8"));
    let id = incident["id"].as_i64().unwrap();
    let url = incident["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/incidents/{id}")));
    let updates = &incident["updates"];
    assert!(updates.as_array().unwrap().len() >= 2, "{incident}");
    assert_eq!(strs(updates, "status")[0], "resolved", "newest first");
    assert!(strs(updates, "body").iter().all(|b| !b.is_empty()));
    let one = json_of(&app, &format!("/api/v1/incidents/{id}"), 200).await;
    assert_eq!(&one["incident"], incident);

    let body = json_of(&app, "/api/v1/providers", 200).await;
    let providers = &body["providers"];
    assert_eq!(strs(providers, "id"), ["anthropic", "openai"]);
    assert_eq!(strs(providers, "name"), ["Anthropic", "OpenAI"]);
    assert_eq!(strs(providers, "state"), ["operational", "operational"]);
    let anthropic = ["anthropic/claude-opus-4-8", "anthropic/claude-sonnet-4-5"];
    assert_eq!(strs(&providers[0]["models"], ""), anthropic);
    assert_eq!(strs(&providers[1]["models"], ""), ["openai/gpt-5"]);
    app.stop().await;
}

/// Checks `value` against the JSON Schema subset the document uses (`$ref`, `anyOf`,
/// `const`, `type` incl. `[T, "null"]`, `enum`, `format: date-time`, `required`,
/// `properties`, `additionalProperties`, `items`). Stricter than JSON Schema in one way:
/// a property missing from a schema's `properties` is reported, so every field is documented.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("a schema $ref");
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "dangling $ref {r}");
        return check(doc, target, value, at, errors);
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let mut why = Vec::new();
        for s in branches {
            let mut e = Vec::new();
            check(doc, s, value, at, &mut e);
            if e.is_empty() {
                return;
            }
            why.extend(e);
        }
        errors.push(format!("{at}: matches no anyOf branch: {why:?}"));
        return;
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            errors.push(format!("{at}: {value} is not {c}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            t => vec![t.as_str().unwrap()],
        };
        let fits = |t: &&str| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unknown type {other}"),
        };
        if !types.iter().any(fits) {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !value.is_null() && !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some("date-time"), Some(s)) = (schema["format"].as_str(), value.as_str()) {
        if chrono::DateTime::parse_from_rfc3339(s).is_err() {
            errors.push(format!("{at}: `{s}` is not a date-time"));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap();
            if !object.contains_key(key) {
                errors.push(format!("{at}: required `{key}` is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let extra = schema.get("additionalProperties").filter(|s| s.is_object());
        for (k, v) in object {
            let here = format!("{at}.{k}");
            match (properties.and_then(|p| p.get(k)), extra) {
                (Some(s), _) | (None, Some(s)) => check(doc, s, v, &here, errors),
                (None, None) if properties.is_some() => {
                    errors.push(format!("{here}: not documented"))
                }
                (None, None) => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

pub(crate) fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(doc, schema, value, "$", &mut errors);
    errors
}

/// True when `path` fits the OpenAPI template (`{name}` stands for part of one segment).
pub(crate) fn fits_template(template: &str, path: &str) -> bool {
    let fits = |(t, p): (&str, &str)| match (t.find('{'), t.find('}')) {
        (Some(open), Some(close)) => {
            let (prefix, suffix) = (&t[..open], &t[close + 1..]);
            p.len() > open + suffix.len() && p.starts_with(prefix) && p.ends_with(suffix)
        }
        _ => t == p,
    };
    let count = |s: &str| s.split('/').count();
    count(template) == count(path) && template.split('/').zip(path.split('/')).all(fits)
}

const DOCUMENTED: [&str; 11] = [
    "/api/v1/routing",
    "/api/v1/models",
    "/api/v1/models/{provider}/{model}",
    "/api/v1/models/{provider}/{model}/history",
    "/api/v1/incidents",
    "/api/v1/incidents/{id}",
    "/api/v1/providers",
    "/api/v1/maintenances",
    "/api/v1/official",
    "/api/v1/badges/{provider}/{model}.json",
    "/api/v1/openapi.json",
];

#[tokio::test]
async fn openapi_describes_every_route_and_the_real_bodies() {
    let app = spawn_seeded_app().await;
    let doc = json_of(&app, "/api/v1/openapi.json", 200).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    // The read routes: GETs without credentials (the subscription and admin routes are
    // checked in `openapi_coverage.rs`).
    let paths = doc["paths"].as_object().unwrap();
    let reads: Vec<(&String, &Value)> = paths
        .iter()
        .filter(|(_, item)| item["get"].is_object() && item["get"].get("security").is_none())
        .collect();
    let listed: BTreeSet<&str> = reads.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(listed, BTreeSet::from(DOCUMENTED));

    let incident = json_of(&app, "/api/v1/incidents", 200).await["incidents"][0]["id"].clone();
    for (template, item) in reads {
        let concrete = template
            .replace("{provider}", "anthropic")
            .replace("{model}", "claude-opus-4-8")
            .replace("{id}", &incident.to_string());
        let responses = &item["get"]["responses"];
        let schema = &responses["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{template} documents its 200 body");
        let mut urls = vec![concrete.clone()];
        if template.ends_with("/history") {
            urls.extend(["24h", "7d", "30d"].map(|p| format!("{concrete}?period={p}")));
        }
        for url in urls {
            let body = json_of(&app, &url, 200).await;
            let errors = violations(&doc, schema, &body);
            assert!(errors.is_empty(), "{url} against its schema:\n{errors:#?}");
        }
        // Each documented error response is the shared Error schema.
        for (code, r) in responses.as_object().unwrap() {
            let Some(name) = r["$ref"].as_str().and_then(|r| r.rsplit('/').next()) else {
                continue;
            };
            let named = &doc["components"]["responses"][name]["content"]["application/json"];
            assert_eq!(
                named["schema"]["$ref"], "#/components/schemas/Error",
                "{code}"
            );
        }
    }

    let error = serde_json::json!({ "$ref": "#/components/schemas/Error" });
    for (url, status) in [
        ("/api/v1/models/anthropic/nope".to_string(), 404),
        (format!("{OPUS}/history?period=1y"), 400),
    ] {
        let body = json_of(&app, &url, status).await;
        let errors = violations(&doc, &error, &body);
        assert!(errors.is_empty(), "{url}: {errors:#?}");
    }
    app.stop().await;
}

#[test]
fn every_rendered_api_body_has_a_documented_path() {
    use modelwatch::web::{api_v1, badges};
    let snapshot = crate::feeds_badges::snapshot_with("x");
    let doc = api_v1::openapi::document(
        &snapshot.base_url,
        &api_v1::openapi::Deployment::of(&snapshot),
    );
    let mut rendered = crate::feeds_badges::api_bodies(&snapshot);
    rendered.extend(badges::render(&snapshot));
    let paths = rendered.iter().map(|r| r.path.split('?').next().unwrap());
    let api: Vec<&str> = paths.filter(|p| p.starts_with("/api/v1/")).collect();
    assert!(api.len() >= 9, "{api:?}");
    let templates: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for path in api {
        let documented = templates.iter().any(|t| fits_template(t, path));
        assert!(documented, "{path} is served but not documented");
    }
    assert!(fits_template("/a/{p}/{m}.json", "/a/x/y.json"));
    assert!(!fits_template("/a/{p}/{m}.json", "/a/x/.json"));
    assert!(!fits_template("/a/{p}/{m}", "/a/x/y/history"));
}

#[test]
fn the_schema_check_rejects_what_the_document_does_not_say() {
    use modelwatch::web::api_v1;
    let snapshot = crate::feeds_badges::snapshot_with("x");
    let doc = api_v1::openapi::document(
        &snapshot.base_url,
        &api_v1::openapi::Deployment::of(&snapshot),
    );
    let rendered = crate::feeds_badges::api_bodies(&snapshot);
    let body = rendered
        .iter()
        .find(|r| r.path == "/api/v1/models/acme/m-1");
    let good: Value = serde_json::from_slice(&body.unwrap().body).unwrap();
    let schema = serde_json::json!({ "$ref": "#/components/schemas/ModelResponse" });
    assert_eq!(violations(&doc, &schema, &good), Vec::<String>::new());

    let mut missing = good.clone();
    missing["model"].as_object_mut().unwrap().remove("reason");
    assert!(violations(&doc, &schema, &missing)[0].contains("`reason` is missing"));
    let mut extra = good.clone();
    extra["model"]["surprise"] = 1.into();
    assert!(violations(&doc, &schema, &extra)[0].contains("surprise: not documented"));
    let mut wrong = good.clone();
    wrong["model"]["state"] = "broken".into();
    assert!(!violations(&doc, &schema, &wrong).is_empty());
    let mut typed = good;
    typed["model"]["history"][0]["at"] = "yesterday".into();
    assert!(violations(&doc, &schema, &typed)[0].contains("not a date-time"));
}
