//! Subscriptions and deliveries through the admin API of the real service: listed without
//! secrets, disabled (the dispatcher skips them), re-enabled, their deliveries listed and
//! redelivered; a read token refused on changes; every change audited.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use chrono::Utc;
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use modelwatch::store::round::Round;
use modelwatch::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_helpers::{hidden_csrf, no_redirects, sign_in};
use crate::helpers::{spawn_seeded_app_with, spawn_server, TestApp};

const NOTIFY: &str = "[notify]\nallow_internal_targets = [\"127.0.0.0/8\"]\n";

type Hits = Arc<Mutex<Vec<String>>>;

/// A receiver at a long, secret-looking path; returns its URL and what it got.
async fn receiver(path: &'static str) -> (String, Hits) {
    let hits: Hits = Arc::default();
    let record = Arc::clone(&hits);
    let app = Router::new().route(
        path,
        post(move |body: String| {
            let record = Arc::clone(&record);
            async move {
                record.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let addr = spawn_server(app).await;
    (format!("http://{addr}{path}?token=querysecret"), hits)
}

/// Waits for the `n`th request; generous, as the whole suite shares two cores.
async fn wait_for(hits: &Hits, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while hits.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} deliveries arrived",
            hits.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until subscription `id` has at least one delivery and none is still pending, as
/// the store reports them.
///
/// A receiver has a request in hand before the dispatcher has stored its answer (the
/// delivery's status with the endpoint's health), so the moment a receiver counts a request
/// the delivery may still be `pending` and the dispatcher may still be about to write.
async fn settled_deliveries(app: &TestApp, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = app.store.delivery_log(id, 100).await.unwrap();
        if !log.is_empty() && log.iter().all(|d| d.status != "pending") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries of {id} never settled: {:?}",
            log.iter()
                .map(|d| (d.status.as_str(), d.last_status_code))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Commits a public `model.disabled` event with its outbox row, as the evaluator would.
async fn announce(app: &TestApp, model: &str) {
    let round = Round {
        at: Utc::now(),
        events: vec![crate::helpers::model_event(
            "model.disabled",
            model,
            model,
            "partial_outage",
            None,
            &["error rate 60%"],
        )],
        ..Round::default()
    };
    app.store.commit_round(&round).await.unwrap();
}

async fn token(store: &Store, scope: Scope) -> String {
    let (_, secret) = tokens::create(store, scope, "subs-test", &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    secret.expose().to_string()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn subscribe(app: &TestApp, url: &str) -> (String, String) {
    let r = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .json(&json!({"kind": "webhook", "url": url, "events": ["model.disabled"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sub: Value = r.json().await.unwrap();
    let secret = sub["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    (sub["id"].as_str().unwrap().to_string(), secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sres_list_disable_reenable_and_redeliver_subscriptions() {
    let app = spawn_seeded_app_with(NOTIFY).await;
    let operate = token(&app.store, Scope::Operate).await;
    let read = token(&app.store, Scope::Read).await;
    let admin = token(&app.store, Scope::Admin).await;
    let (url, hits) = receiver("/services/T0001/B0002/abcdefSECRETwxyz").await;
    let (control_url, control) = receiver("/control/hook-receiver-0001").await;
    let (id, secret) = subscribe(&app, &url).await;
    let (control_id, _) = subscribe(&app, &control_url).await;

    // A first delivery, so there is something in the log.
    announce(&app, "openai/gpt-5").await;
    wait_for(&hits, 1).await;
    wait_for(&control, 1).await;
    // The receivers answered; the dispatcher stores the result only after that (the
    // delivery's status and the endpoint's health, where a success clears `failing_since`,
    // in one transaction). Marking the endpoint as failing below must not be undone by that
    // write, and the log is read below as settled.
    settled_deliveries(&app, &id).await;
    settled_deliveries(&app, &control_id).await;

    // The list: both subscriptions, no secret, the URL masked.
    for bearer in [&read, &operate] {
        let (s, text) = call(
            &app,
            Method::GET,
            "/api/v1/admin/subscriptions",
            bearer,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{text}");
        assert!(!text.contains("whsec_"), "a secret leaked: {text}");
        assert!(!text.contains(&secret[6..]), "a secret leaked: {text}");
        assert!(!text.contains("SECRET"), "the URL path leaked: {text}");
        assert!(
            !text.contains("querysecret"),
            "the URL query leaked: {text}"
        );
        assert!(!text.contains("hash"), "{text}");
        let list = parse(&text);
        let sub = list["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed: {text}"))
            .clone();
        assert_eq!(sub["kind"], "webhook");
        assert_eq!(sub["format"], "native");
        assert_eq!(sub["status"], "active");
        let shown = sub["url"].as_str().unwrap();
        assert!(shown.starts_with("http://127.0.0.1:"), "{shown}");
        assert!(shown.ends_with("/…wxyz"), "{shown}");
        assert_eq!(sub["filter"]["events"], json!(["model.disabled"]));
        assert!(sub["failing_since"].is_null());
        assert!(sub["disabled_reason"].is_null());
    }

    // A read token may not change anything.
    for path in [
        format!("/api/v1/admin/subscriptions/{id}/disable"),
        format!("/api/v1/admin/subscriptions/{id}/enable"),
        format!("/api/v1/admin/subscriptions/{id}/deliveries/1/redeliver"),
    ] {
        let (s, text) = call(&app, Method::POST, &path, &read, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {text}");
    }
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/admin/subscriptions/sub_nope/disable",
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Disable (as if it had been failing): the dispatcher skips it.
    app.store
        .note_endpoint_result(&id, false, Utc::now())
        .await
        .unwrap();
    let (s, text) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/subscriptions/{id}/disable"),
        &operate,
        Some(json!({"reason": "endpoint answers 500 since the migration"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let disabled = parse(&text);
    assert_eq!(disabled["status"], "disabled");
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("endpoint answers 500"));
    assert!(!disabled["failing_since"].is_null());
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/subscriptions/{id}/disable"),
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "disabling twice");
    announce(&app, "openai/gpt-5").await;
    wait_for(&control, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hits.lock().unwrap().len(),
        1,
        "a disabled subscription gets nothing"
    );
    let stored = app.store.subscription(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "disabled");

    // Redelivering to a disabled subscription is refused until it is re-enabled.
    let (s, text) = call(
        &app,
        Method::GET,
        &format!("/api/v1/admin/subscriptions/{id}/deliveries"),
        &read,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let log = parse(&text);
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{log}");
    assert_eq!(deliveries[0]["status"], "succeeded");
    assert_eq!(deliveries[0]["last_status_code"], 200);
    let delivery = deliveries[0]["id"].as_i64().unwrap();
    let redeliver = format!("/api/v1/admin/subscriptions/{id}/deliveries/{delivery}/redeliver");
    let (s, _) = call(&app, Method::POST, &redeliver, &operate, None).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Re-enable: active again, failing_since and the reason cleared.
    let (s, text) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/subscriptions/{id}/enable"),
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let enabled = parse(&text);
    assert_eq!(enabled["status"], "active");
    assert!(enabled["failing_since"].is_null(), "{enabled}");
    assert!(enabled["disabled_reason"].is_null(), "{enabled}");
    let stored = app.store.subscription(&id).await.unwrap().unwrap();
    assert_eq!(stored.failing_since, None);

    // Redeliver: 202, and the receiver gets the same event again.
    let (s, text) = call(&app, Method::POST, &redeliver, &operate, None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{text}");
    wait_for(&hits, 2).await;
    {
        let got = hits.lock().unwrap();
        assert_eq!(got[0], got[1], "a redelivery sends the same event");
    }
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/subscriptions/{id}/deliveries/999999/redeliver"),
        &operate,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // New events reach it again.
    announce(&app, "openai/gpt-5").await;
    wait_for(&hits, 3).await;

    // The audit log has every change, by the operate token, without secrets.
    let (s, _) = call(&app, Method::GET, "/api/v1/admin/audit", &operate, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, text) = call(&app, Method::GET, "/api/v1/admin/audit", &admin, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(!text.contains("whsec_"), "{text}");
    let entries = parse(&text)["entries"].as_array().unwrap().clone();
    let mine: Vec<&Value> = entries
        .iter()
        .filter(|e| e["target"] == id.as_str())
        .collect();
    let actions: Vec<&str> = mine.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "subscription.redeliver",
            "subscription.enable",
            "subscription.disable"
        ],
        "{text}"
    );
    assert!(mine.iter().all(|e| e["actor_kind"] == "token"));
    assert_eq!(mine[0]["detail"]["delivery"], delivery);
    assert!(entries.iter().all(|e| e["target"] != control_id.as_str()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscriptions_page_hides_secrets_and_its_forms_need_the_csrf_token() {
    let app = spawn_seeded_app_with(NOTIFY).await;
    let (url, _hits) = receiver("/api/webhooks/123/DiscordSecretTokenQRST").await;
    let (id, secret) = subscribe(&app, &url).await;
    let c = no_redirects();
    let r = c
        .get(format!("{}/admin/subscriptions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "signed out: to the sign-in form"
    );
    let cookie = sign_in(&app, "oncall@example.com").await;
    let base = app.base.clone();
    let page = |path: String| {
        let c = c.clone();
        let cookie = cookie.clone();
        let base = base.clone();
        async move {
            let r = c
                .get(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let html = page("/admin/subscriptions".into()).await;
    assert!(html.contains(&id), "{html}");
    assert!(html.contains("/…QRST"), "{html}");
    for leak in ["whsec_", &secret[6..], "DiscordSecret", "querysecret"] {
        assert!(!html.contains(leak), "{leak} leaked");
    }
    let csrf = hidden_csrf(&html);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let cookie = cookie.clone();
        let base = base.clone();
        async move {
            c.post(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, cookie)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let disable = format!("/admin/subscriptions/{id}/disable");
    let s = post(disable.clone(), vec![("reason", "noisy".into())]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no CSRF token");
    let s = post(
        disable.clone(),
        vec![("reason", "noisy".into()), ("csrf", "forged".into())],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a wrong CSRF token");
    assert_eq!(
        app.store
            .subscription(&id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "active"
    );
    let s = post(
        disable,
        vec![("reason", "noisy".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let sub = app.store.subscription(&id).await.unwrap().unwrap();
    assert_eq!(sub.status.as_str(), "disabled");
    assert_eq!(
        sub.disabled_reason.as_deref(),
        Some("disabled by the status page's operators: noisy")
    );
    let html = page("/admin/subscriptions".into()).await;
    assert!(html.contains("Re-enable"), "{html}");
    let s = post(
        format!("/admin/subscriptions/{id}/enable"),
        vec![("csrf", csrf)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store
            .subscription(&id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "active"
    );
    let html = page(format!("/admin/subscriptions?deliveries={id}")).await;
    assert!(html.contains("No deliveries yet."), "{html}");
    let entries = modelwatch::admin::audit::list(&app.store, 20, None)
        .await
        .unwrap();
    let by_person: Vec<&str> = entries
        .iter()
        .filter(|e| e.actor == "oncall@example.com" && e.target.as_deref() == Some(&id))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(by_person, ["subscription.enable", "subscription.disable"]);
    app.stop().await;
}
