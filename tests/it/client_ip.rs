//! The client's address behind a reverse proxy, through the real server: the subscription
//! rate limit and the audit log key on the address a trusted proxy reports, and nobody
//! else can choose their address by sending `X-Forwarded-For`.

use chrono::Utc;
use modelwatch::admin::audit::{self, Actor};
use modelwatch::admin::{tokens, Scope};
use serde_json::json;

use crate::helpers::{spawn_seeded_app_with, TestApp};

/// Refused by the address guard (422) without any network, yet counted by the limiter.
async fn subscribe_from(app: &TestApp, forwarded_for: &str) -> u16 {
    app.client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"kind": "webhook", "url": "http://10.0.0.1/"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget_and_audit_address() {
    // The test client connects from 127.0.0.1: it plays the proxy.
    let app = spawn_seeded_app_with(
        "trusted_proxies = [\"127.0.0.1\"]\n[notify]\nsubscribe_per_hour = 2\n",
    )
    .await;
    for _ in 0..2 {
        assert_eq!(subscribe_from(&app, "203.0.113.1").await, 422);
    }
    assert_eq!(subscribe_from(&app, "203.0.113.1").await, 429);
    // A client-written entry left of the proxy's own does not buy a fresh budget.
    assert_eq!(
        subscribe_from(&app, "198.51.100.50, 203.0.113.1").await,
        429
    );
    // Another client behind the same proxy is not limited by the first.
    assert_eq!(subscribe_from(&app, "203.0.113.2").await, 422);

    let (_, token) = tokens::create(
        &app.store,
        Scope::Operate,
        "ci",
        &Actor::cli(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    let r = app
        .client
        .post(format!("{}/api/v1/admin/incidents", app.base))
        .bearer_auth(token.expose())
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({
            "provider": "anthropic", "title": "Opus answers slowly",
            "affected_models": ["anthropic/claude-opus-4-8"], "impact": "minor",
            "body": "Looking.", "notify": false,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let entries = audit::list(&app.store, 10, None).await.unwrap();
    let opened = entries
        .iter()
        .find(|e| e.action.starts_with("incident."))
        .unwrap_or_else(|| panic!("no incident change audited: {entries:?}"));
    assert_eq!(opened.client_addr.as_deref(), Some("203.0.113.7"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_proxies_the_header_changes_nothing() {
    let app = spawn_seeded_app_with("[notify]\nsubscribe_per_hour = 2\n").await;
    assert_eq!(subscribe_from(&app, "203.0.113.1").await, 422);
    assert_eq!(subscribe_from(&app, "203.0.113.2").await, 422);
    assert_eq!(
        subscribe_from(&app, "203.0.113.3").await,
        429,
        "every request came from 127.0.0.1, whatever the header says"
    );
    app.stop().await;
}
