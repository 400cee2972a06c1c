//! Incident operations end to end through the real server: an operate token opens,
//! acknowledges, updates and resolves incidents; the public page, the Statuspage API, our
//! JSON API, the feeds and the email built from the event all show the change, and hostile
//! Markdown stays inert everywhere. Changes are audited; notification is the SRE's choice.

use std::time::{Duration, Instant};

use chrono::Utc;
use mail_parser::MessageParser;
use modelwatch::admin::audit::{self, Actor};
use modelwatch::admin::{tokens, Scope};
use modelwatch::notify::email::{self, Links};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_seeded_app_with, TestApp};

const EVIL: &str = "**Identified**: overload upstream.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> and [a link](javascript:alert(1))";

async fn token(app: &TestApp, scope: Scope) -> (String, String) {
    let (id, token) = tokens::create(&app.store, scope, "ci", &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    (id, token.expose().to_string())
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn public_events(app: &TestApp) -> Vec<modelwatch::store::events::EventRow> {
    app.store
        .events_after(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.public && e.incident_id.is_some())
        .collect()
}

/// Polls `path` until `check` holds on its body (the site is republished after a change).
///
/// The publisher is a background task on the real clock; on a loaded machine it can take
/// far longer than usual, so the deadline is generous while the polling stays quick.
async fn eventually(app: &TestApp, path: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.get(path).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        if status.is_success() && check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed the change ({status}):\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sre_operates_incidents_and_hostile_text_stays_inert() {
    let app = spawn_seeded_app_with("").await;
    let (operate_id, operate) = token(&app, Scope::Operate).await;
    let (_, read) = token(&app, Scope::Read).await;
    use reqwest::Method;

    // Open by hand without notifying: no public event.
    let before = public_events(&app).await.len();
    let (status, made) = call(
        &app,
        Method::POST,
        "/api/v1/admin/incidents",
        &operate,
        Some(json!({
            "provider": "anthropic", "title": "Opus answers slowly",
            "affected_models": ["anthropic/claude-opus-4-8"], "impact": "minor",
            "body": "We are looking into slow answers.", "notify": false,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["incident"]["id"].as_i64().unwrap();
    assert_eq!(made["incident"]["automatic"], json!(false));
    assert_eq!(
        public_events(&app).await.len(),
        before,
        "notify=false: no event"
    );

    // Bad input and too small a scope are refused.
    let (status, err) = call(
        &app,
        Method::POST,
        "/api/v1/admin/incidents",
        &operate,
        Some(json!({
            "provider": "anthropic", "title": "x", "affected_models": ["openai/gpt-5"],
            "impact": "minor", "body": "x",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let ack_path = format!("/api/v1/admin/incidents/{id}/acknowledge");
    let (status, _) = call(&app, Method::POST, &ack_path, &read, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a read token cannot acknowledge"
    );
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/incidents/{id}/updates"),
        &read,
        Some(json!({"status": "identified", "body": "x", "notify": true})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a read token cannot post updates"
    );
    let (status, listed) = call(&app, Method::GET, "/api/v1/admin/incidents", &read, None).await;
    assert_eq!(status, StatusCode::OK, "a read token may read");
    assert!(
        listed["incidents"].as_array().unwrap().len() >= 2,
        "{listed}"
    );

    // Acknowledge: who and when.
    let (status, acked) = call(&app, Method::POST, &ack_path, &operate, None).await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked["incident"]["acknowledged_by"], json!(operate_id));
    assert!(acked["incident"]["acknowledged_at"].is_string());
    let (status, _) = call(&app, Method::POST, &ack_path, &operate, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "acknowledged once");

    // An update with hostile Markdown, notified: one public event with its outbox row.
    let (status, updated) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/incidents/{id}/updates"),
        &operate,
        Some(json!({
            "status": "identified", "body": EVIL, "notify": true, "impact": "major",
            "affected_models": ["anthropic/claude-opus-4-8", "anthropic/claude-sonnet-4-5"],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{updated}");
    assert_eq!(updated["incident"]["impact"], json!("major"));
    assert_eq!(updated["incident"]["status"], json!("identified"));
    let events = public_events(&app).await;
    assert_eq!(events.len(), before + 1);
    let event = events.last().unwrap();
    assert_eq!(event.kind, "incident.updated");
    assert_eq!(event.incident_id, Some(id));
    let (outbox,): (i64,) = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_as(
        "SELECT count(*) FROM outbox WHERE event_id = $1"
    )
    .bind(event.id)
    .fetch_one(db)
    .await)
    .unwrap();
    assert_eq!(outbox, 1, "the event is queued for delivery");
    let payload: Value = serde_json::from_str(&event.payload_json).unwrap();
    assert_eq!(payload["body"], json!(EVIL), "raw text in the event");

    // The public page: acknowledged, Markdown rendered, nothing executable.
    let page = eventually(&app, &format!("/incidents/{id}"), |b| {
        b.contains("<strong>Identified</strong>")
    })
    .await;
    assert!(page.contains("Acknowledged"), "{page}");
    assert!(
        !page.contains(&operate_id),
        "who acknowledged is not public"
    );
    for bad in [
        "<script>alert",
        "onerror",
        "javascript:alert",
        "<img src=x onerror",
    ] {
        assert!(!page.contains(bad), "{bad} on the page: {page}");
    }

    // The Statuspage API: valid JSON holding the raw text as data, the acknowledgement as
    // an update.
    let sp = app.get_json("/api/v2/incidents.json").await;
    let inc = sp["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == json!("Opus answers slowly"))
        .expect("the incident is listed");
    assert_eq!(inc["status"], json!("identified"));
    assert_eq!(inc["impact"], json!("major"));
    let bodies: Vec<&str> = inc["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies[0], EVIL, "newest first, raw text as data");
    assert!(
        bodies.iter().any(|b| b.starts_with("Acknowledged")),
        "{bodies:?}"
    );
    let notified: Vec<(&str, bool)> = inc["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let body = u["body"].as_str().unwrap();
            (&body[..8], u["deliver_notifications"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        notified,
        [(&EVIL[..8], true), ("Acknowle", false), ("We are l", false)],
        "each update says whether subscribers were told"
    );

    // The front page shows the latest update rendered, and inert, as the incident page does.
    let front = eventually(&app, "/", |b| {
        b.contains("<strong>Identified</strong>: overload upstream.")
    })
    .await;
    for bad in ["<script>alert", "onerror", "javascript:alert"] {
        assert!(!front.contains(bad), "{bad} on the front page");
    }

    // Our own JSON API.
    let v1 = app.get_json("/api/v1/incidents").await;
    assert!(v1.to_string().contains(&json!(EVIL).to_string()[1..20]));
    let one = app.get_json(&format!("/api/v1/incidents/{id}")).await;
    assert!(
        one.to_string().contains("onerror=alert(1)"),
        "data, not markup"
    );

    // Feeds: the text is escaped, never live markup.
    let atom = app.get("/history.atom").await.text().await.unwrap();
    assert!(atom.contains("Opus answers slowly"));
    assert!(
        !atom.contains("<script") && !atom.contains("<img"),
        "{atom}"
    );

    // The email built from the event: no live markup in the HTML part.
    let links = Links {
        confirm: None,
        manage: "https://status.example.com/manage".into(),
        unsubscribe: "https://status.example.com/unsubscribe".into(),
        page: "https://status.example.com/".into(),
    };
    let msg = email::notification(
        "s <s@example.com>",
        "r@example.com",
        &event.event().unwrap(),
        &links,
    )
    .unwrap()
    .formatted();
    let parsed = MessageParser::default().parse(&msg).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains("alert(1)"),
        "the text is there, escaped: {html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );

    // A postmortem link: http(s) only.
    let pm = format!("/api/v1/admin/incidents/{id}/postmortem");
    let (status, _) = call(
        &app,
        Method::PUT,
        &pm,
        &operate,
        Some(json!({"url": "javascript:alert(1)"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &app,
        Method::PUT,
        &pm,
        &operate,
        Some(json!({"url": "https://example.com/postmortems/1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Resolve without notifying: no public event; the page says resolved and links the
    // postmortem.
    let (status, resolved) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/incidents/{id}/resolve"),
        &operate,
        Some(json!({"body": "Fixed upstream.", "notify": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["incident"]["status"], json!("resolved"));
    assert_eq!(public_events(&app).await.len(), before + 1);
    let page = eventually(&app, &format!("/incidents/{id}"), |b| {
        b.contains("Fixed upstream.")
    })
    .await;
    assert!(
        page.contains("href=\"https://example.com/postmortems/1\""),
        "{page}"
    );
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/incidents/{id}/updates"),
        &operate,
        Some(json!({"status": "monitoring", "body": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a resolved incident stays resolved"
    );

    // The audit log: every change, by the token, from the loopback address.
    let entries = audit::list(&app.store, 100, None).await.unwrap();
    for action in [
        "incident.open",
        "incident.acknowledge",
        "incident.update",
        "incident.postmortem",
        "incident.resolve",
    ] {
        assert!(
            entries.iter().any(|e| e.action == action
                && e.actor == operate_id
                && e.target.as_deref() == Some(id.to_string().as_str())
                && e.client_addr.as_deref() == Some("127.0.0.1")),
            "{action} missing: {entries:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_resolved_automatic_incident_is_reopened_only_while_models_are_impaired() {
    let app = spawn_seeded_app_with("").await;
    let (_, operate) = token(&app, Scope::Operate).await;
    // The seeded incident (automatic) ended with the fault; resolve any open automatic one
    // by hand and see the evaluator leave it resolved (the models are healthy again).
    let (_, listed) = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/incidents",
        &operate,
        None,
    )
    .await;
    let automatic: Vec<&Value> = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["automatic"] == json!(true))
        .collect();
    assert!(!automatic.is_empty(), "the seed has an automatic incident");
    for i in automatic.iter().filter(|i| i["resolved_at"].is_null()) {
        let id = i["id"].as_i64().unwrap();
        let (status, body) = call(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/admin/incidents/{id}/resolve"),
            &operate,
            Some(json!({"notify": true})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        app.store.open_incidents().await.unwrap().is_empty(),
        "healthy models: nothing reopened"
    );
    app.stop().await;
}
