//! The OpenAPI document against the running service, for every operation it describes
//! (the read routes' bodies are checked in `api_v1.rs`):
//!
//! - document → server: each documented path and method is routed (never 404 or 405), and
//!   its `Allow` list names exactly the documented methods, so a method registered on a
//!   documented path but left undocumented fails too. Undocumented *paths* are caught by
//!   the unit test `web::api_v1::openapi_tests`, which reads the route table's source.
//! - secured operations refuse a request without credentials (401, the documented error);
//! - the admin and subscription management bodies fit their documented schemas;
//! - the served document is well-formed: every `$ref` resolves, every operation answers.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_v1::{fits_template, violations};
use crate::helpers::{spawn_seeded_app, TestApp};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `template` with its parameters filled in with values that exist in the seeded database.
fn concrete(template: &str, incident: i64, subscription: &str) -> String {
    let id = if template.contains("/subscriptions/") {
        subscription.to_string()
    } else {
        incident.to_string()
    };
    template
        .replace("{provider}", "anthropic")
        .replace("{model}", "claude-opus-4-8")
        .replace("{id}", &id)
        .replace("{delivery}", "1")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().unwrap();
    let mut out = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

async fn first_incident(app: &TestApp) -> i64 {
    let list = app.get_json("/api/v1/incidents").await;
    list["incidents"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_guarded() {
    let app = spawn_seeded_app().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    let incident = first_incident(&app).await;
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let ops = operations(&doc);
    assert!(ops.len() >= 40, "{} operations", ops.len());
    for (method, template, op) in &ops {
        let url = format!("{}{}", app.base, concrete(template, incident, "sub_nope"));
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app.client.request(m, &url).send().await.unwrap();
        let status = r.status();
        let at = format!("{method} {template}");
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{at} is documented but not routed: {status}"
        );
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{at} without credentials");
            assert!(op["responses"]["401"].is_object(), "{at} documents its 401");
        }
        if status.is_client_error() {
            let body: Value = r.json().await.unwrap();
            let errors = violations(&doc, &error, &body);
            assert!(errors.is_empty(), "{at}: {errors:?}");
            let code = status.as_str();
            assert!(
                op["responses"][code].is_object(),
                "{at} answers {code}, undocumented"
            );
        }
    }

    // The methods each documented path has are exactly the documented ones: PATCH (which
    // no route uses) gets 405 naming the methods the router has.
    for (template, item) in doc["paths"].as_object().unwrap() {
        let documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let url = format!("{}{}", app.base, concrete(template, incident, "sub_nope"));
        let r = app.client.patch(&url).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "PATCH {template}"
        );
        let allow = r.headers()["allow"].to_str().unwrap().to_string();
        let routed: BTreeSet<String> = allow
            .split(',')
            .map(|m| m.trim().to_uppercase())
            .filter(|m| m != "HEAD" || documented.contains("HEAD"))
            .collect();
        assert_eq!(routed, documented, "{template}: Allow {allow}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_served_document_is_well_formed() {
    let app = spawn_seeded_app().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut stack = vec![&doc];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
                    assert!(target.is_some(), "dangling $ref {r}");
                }
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    for (method, path, op) in operations(&doc) {
        assert!(METHODS.contains(&method.as_str()), "{method} {path}");
        let responses = op["responses"].as_object();
        assert!(responses.is_some_and(|r| !r.is_empty()), "{method} {path}");
    }
    // Routes from README's tables, whatever else changes.
    for (method, path) in [
        ("get", "/api/v1/routing"),
        ("post", "/api/v1/subscriptions"),
        ("get", "/api/v1/subscriptions/{id}"),
        ("delete", "/api/v1/subscriptions/{id}"),
        ("post", "/api/v1/subscriptions/{id}/rotate-secret"),
        ("get", "/api/v1/subscriptions/{id}/deliveries"),
        (
            "post",
            "/api/v1/subscriptions/{id}/deliveries/{delivery}/redeliver",
        ),
        ("get", "/api/v1/admin/whoami"),
        ("get", "/api/v1/admin/board"),
        ("post", "/api/v1/admin/incidents"),
        ("put", "/api/v1/admin/incidents/{id}/postmortem"),
        ("delete", "/api/v1/admin/overrides/{id}"),
        ("delete", "/api/v1/admin/maintenances/{id}"),
        ("post", "/api/v1/admin/subscriptions/{id}/enable"),
        ("post", "/api/v1/admin/tokens"),
        ("delete", "/api/v1/admin/sessions/{id}"),
        ("get", "/api/v1/admin/audit"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiToken"]["scheme"], "bearer");
    assert_eq!(schemes["managementToken"]["scheme"], "bearer");
    app.stop().await;
}

/// Sends `method url` with `auth` as bearer token and `body` as JSON; checks the status and
/// that the body fits the schema the document gives for that operation and status.
async fn fits(
    app: &TestApp,
    doc: &Value,
    auth: &str,
    (method, url): (&str, &str),
    body: Option<Value>,
    status: u16,
) -> Value {
    let path = url.split('?').next().unwrap();
    let templates: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let matching: Vec<&&String> = templates
        .iter()
        .filter(|t| fits_template(t, path))
        .collect();
    assert_eq!(matching.len(), 1, "{url}: {matching:?}");
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = app
        .client
        .request(m, format!("{}{url}", app.base))
        .bearer_auth(auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status().as_u16(), status, "{method} {url}");
    let response = &doc["paths"][matching[0]][method]["responses"][status.to_string()];
    let response = match response["$ref"].as_str() {
        Some(r) => doc.pointer(r.strip_prefix('#').unwrap()).unwrap(),
        None => response,
    };
    let schema = &response["content"]["application/json"]["schema"];
    if !schema.is_object() {
        assert!(
            r.bytes().await.unwrap().is_empty(),
            "{method} {url}: a body"
        );
        return Value::Null;
    }
    let value: Value = r.json().await.unwrap();
    let errors = violations(doc, schema, &value);
    assert!(errors.is_empty(), "{method} {url}:\n{errors:#?}\n{value:#}");
    value
}

#[tokio::test]
async fn admin_and_management_bodies_fit_the_document() {
    use modelwatch::notify::secrets::hash_token;
    use modelwatch::store::subscriptions::NewSubscription;
    use modelwatch::vocabulary::{Filter, Format, Kind, Status};

    let app = spawn_seeded_app().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    let now = Utc::now();
    let (_, token) = tokens::create(&app.store, Scope::Admin, "t", &Actor::cli(), None, now)
        .await
        .unwrap();
    let token = token.expose().to_string();
    let manage = "mgt_openapi-coverage-test";
    let sub = NewSubscription {
        id: "sub_openapi".into(),
        kind: Kind::Webhook,
        format: Format::Slack,
        url: Some("https://hooks.example.com/services/T000/B000/XXXXXXXX".into()),
        email: None,
        filter: Filter {
            models: vec!["openai/gpt-5".into()],
            ..Filter::default()
        },
        status: Status::Active,
        secret_enc: None,
        manage_token_hash: hash_token(manage),
        confirm_token_hash: None,
        client_addr: None,
        created_at: now,
    };
    app.store.insert_subscription(&sub).await.unwrap();

    let opened =
        json!({ "provider": "openai", "title": "Slow", "impact": "minor", "body": "Looking." });
    let opened = fits(
        &app,
        &doc,
        &token,
        ("post", "/api/v1/admin/incidents"),
        Some(opened),
        201,
    );
    let i = format!("/api/v1/admin/incidents/{}", opened.await["incident"]["id"]);
    let window = json!({
        "title": "Upgrade", "models": ["openai/gpt-5"],
        "starts_at": now + Duration::hours(1), "ends_at": now + Duration::hours(2),
    });
    let forced = |model: &str| json!({ "model": model, "enabled": false, "reason": "test", "expires_in": "30m" });
    let admin = "/api/v1/admin";
    let sub = "/api/v1/admin/subscriptions/sub_openapi";
    let calls: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("get", format!("{admin}/whoami"), None, 200),
        ("get", format!("{admin}/board"), None, 200),
        ("get", format!("{admin}/incidents"), None, 200),
        ("get", i.clone(), None, 200),
        ("post", format!("{i}/acknowledge"), None, 200),
        (
            "post",
            format!("{admin}/overrides"),
            Some(forced("openai/gpt-5")),
            201,
        ),
        (
            "post",
            format!("{admin}/overrides"),
            Some(forced("openai/nope")),
            422,
        ),
        ("get", format!("{admin}/overrides"), None, 200),
        ("post", format!("{admin}/maintenances"), Some(window), 201),
        ("get", format!("{admin}/maintenances"), None, 200),
        ("get", format!("{admin}/subscriptions"), None, 200),
        ("get", format!("{sub}/deliveries"), None, 200),
        (
            "post",
            format!("{sub}/disable"),
            Some(json!({ "reason": "test" })),
            200,
        ),
        ("post", format!("{sub}/enable"), None, 200),
        (
            "post",
            format!("{admin}/tokens"),
            Some(json!({ "scope": "read" })),
            201,
        ),
        ("get", format!("{admin}/tokens"), None, 200),
        ("get", format!("{admin}/sessions"), None, 200),
        ("get", format!("{admin}/audit?limit=5"), None, 200),
    ];
    for (method, url, body, status) in calls {
        fits(&app, &doc, &token, (method, &url), body, status).await;
    }

    let sub = "/api/v1/subscriptions/sub_openapi";
    for (method, url, status) in [
        ("get", sub.to_string(), 200),
        ("get", format!("{sub}/deliveries"), 200),
        ("post", format!("{sub}/rotate-secret"), 409),
        ("get", "/api/v1/subscriptions/sub_other".into(), 404),
        ("delete", sub.to_string(), 204),
    ] {
        fits(&app, &doc, manage, (method, &url), None, status).await;
    }
    app.stop().await;
}
