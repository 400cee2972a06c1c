//! The admin pages for overrides and maintenance windows, driven through the real sign-in
//! form: an override forced and ended by form (routing follows), a maintenance window
//! scheduled and cancelled by form (the public API follows), forms refused without their
//! CSRF token, and signed-out visitors sent to the sign-in form.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use crate::admin_helpers::{hidden_csrf, no_redirects, sign_in};
use crate::helpers::{spawn_seeded_app, TestApp};

const EMAIL: &str = "oncall@example.com";

struct Browser {
    c: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn page(&self, path: &str) -> String {
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status(), location)
    }
}

/// How long to wait for the service's background tasks (engine, publisher), which run on the
/// real clock: generous, as a loaded machine can delay them far beyond their usual second.
const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `/api/v1/routing` until `model`'s route satisfies `pred` (the engine ticks each second).
async fn wait_route(app: &TestApp, model: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let body = app.get_json("/api/v1/routing").await;
        if let Some(r) = body["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == model)
        {
            if pred(r) {
                return r.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "route of {model} never matched: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/api/v1/maintenances` until `pred` holds of its list (the site is republished
/// after a change).
async fn wait_maintenances(app: &TestApp, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let body = app.get_json("/api/v1/maintenances").await;
        let list = body["maintenances"].as_array().unwrap().clone();
        if pred(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "/api/v1/maintenances never matched: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audited_by_person(entries: &[modelwatch::admin::audit::Entry]) -> Vec<&str> {
    entries
        .iter()
        .filter(|e| e.actor == EMAIL && e.action != "session.login")
        .map(|e| e.action.as_str())
        .collect()
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_the_sign_in_form() {
    let app = spawn_seeded_app().await;
    let c = no_redirects();
    for path in ["/admin/overrides", "/admin/maintenances"] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[reqwest::header::LOCATION], "/admin/login");
    }
    let cookie = sign_in(&app, EMAIL).await;
    let b = Browser {
        c,
        base: app.base.clone(),
        cookie,
    };
    let board = b.page("/admin").await;
    assert!(board.contains("href=\"/admin/overrides\""), "{board}");
    assert!(board.contains("href=\"/admin/maintenances\""), "{board}");
    // A compact board: open incidents first, then one summary row per model with its state
    // in colour and words, the details folded below.
    let incidents_at = board
        .find("<h2>Open incidents</h2>")
        .expect("open incidents");
    let table_at = board
        .find(r#"<table class="board-summary">"#)
        .expect("a summary table");
    assert!(incidents_at < table_at, "{board}");
    assert!(board.contains("No open incident."), "{board}");
    let rows = board[table_at..].split("</table>").next().unwrap();
    assert!(rows.contains(r#"<span class="state state-"#), "{rows}");
    assert_eq!(
        rows.matches("<tr><th scope=\"row\">").count(),
        board.matches(r#"<details class="board-model""#).count(),
        "one row per model: {board}"
    );
    // Admin pages carry the operations navigation, not the public one and its footer.
    for html in [&board, &b.page("/admin/overrides").await] {
        assert!(html.contains(r#"<nav aria-label="Operations">"#), "{html}");
        assert!(!html.contains(r#"<nav aria-label="Main">"#), "{html}");
        assert!(!html.contains("site-footer"), "{html}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_override_is_forced_and_ended_through_the_page() {
    let app = spawn_seeded_app().await;
    let cookie = sign_in(&app, EMAIL).await;
    let b = Browser {
        c: no_redirects(),
        base: app.base.clone(),
        cookie,
    };
    let html = b.page("/admin/overrides").await;
    assert!(html.contains("No active override."), "{html}");
    assert!(html.contains("openai/gpt-5"), "{html}");
    let csrf = hidden_csrf(&html);
    let form = [
        ("model", "openai/gpt-5"),
        ("decision", "disable"),
        ("reason", "bad deploy by form"),
        ("expires_in", "1h"),
    ];
    let (s, _) = b.post("/admin/overrides", &form).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no CSRF token");
    let mut forged = form.to_vec();
    forged.push(("csrf", "forged"));
    let (s, _) = b.post("/admin/overrides", &forged).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a wrong CSRF token");
    assert!(app.store.active_overrides().await.unwrap().is_empty());

    let mut bad = form.to_vec();
    bad[0] = ("model", "nope/x");
    bad.push(("csrf", &csrf));
    let (s, _) = b.post("/admin/overrides", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let mut good = form.to_vec();
    good.push(("csrf", &csrf));
    let (s, location) = b.post("/admin/overrides", &good).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/overrides");
    let active = app.store.active_overrides().await.unwrap();
    assert_eq!(active.len(), 1);
    let id = active[0].id;
    assert_eq!(active[0].created_by, EMAIL);
    assert!(!active[0].enabled);
    let left = active[0].expires_at - Utc::now();
    assert!(
        left > chrono::Duration::minutes(55) && left <= chrono::Duration::hours(1),
        "{left}"
    );
    let route = wait_route(&app, "openai/gpt-5", |r| r["enabled"] == false).await;
    assert!(
        route["reason"]
            .as_str()
            .unwrap()
            .contains("bad deploy by form"),
        "{route}"
    );
    let html = b.page("/admin/overrides").await;
    assert!(html.contains("bad deploy by form"), "{html}");
    let end = format!("/admin/overrides/{id}/end");
    assert!(html.contains(&end), "{html}");

    let (s, _) = b.post(&end, &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.store.active_overrides().await.unwrap().len(), 1);
    let (s, _) = b.post(&end, &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(app.store.active_overrides().await.unwrap().is_empty());
    let (s, _) = b.post(&end, &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "already ended");
    wait_route(&app, "openai/gpt-5", |r| r["enabled"] == true).await;
    let html = b.page("/admin/overrides").await;
    assert!(html.contains("No active override."), "{html}");
    assert!(
        html.contains("bad deploy by form"),
        "recently ended: {html}"
    );

    let entries = modelwatch::admin::audit::list(&app.store, 50, None)
        .await
        .unwrap();
    assert_eq!(
        audited_by_person(&entries),
        ["override.end", "override.create"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_maintenance_window_is_scheduled_and_cancelled_through_the_page() {
    let app = spawn_seeded_app().await;
    let cookie = sign_in(&app, EMAIL).await;
    let b = Browser {
        c: no_redirects(),
        base: app.base.clone(),
        cookie,
    };
    let html = b.page("/admin/maintenances").await;
    assert!(html.contains("No maintenance windows."), "{html}");
    assert!(html.contains("type=\"datetime-local\""), "{html}");
    assert!(html.contains("UTC"), "{html}");
    let csrf = hidden_csrf(&html);
    let start = Utc::now() + chrono::Duration::hours(2);
    let end = start + chrono::Duration::hours(1);
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    let (starts, ends) = (fmt(start), fmt(end));
    let form = [
        ("title", "Form scheduled work"),
        ("body", "Short blips."),
        ("models", "openai/gpt-5"),
        ("models", "anthropic/claude-sonnet-4-5"),
        ("starts_at", starts.as_str()),
        ("ends_at", ends.as_str()),
    ];
    let (s, _) = b.post("/admin/maintenances", &form).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no CSRF token");
    assert!(app.store.list_maintenances(10).await.unwrap().is_empty());

    let mut good = form.to_vec();
    good.push(("csrf", &csrf));
    let (s, location) = b.post("/admin/maintenances", &good).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/maintenances");
    let stored = app.store.list_maintenances(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    let w = &stored[0].window;
    assert_eq!(w.status.as_str(), "scheduled");
    assert_eq!(w.models, ["anthropic/claude-sonnet-4-5", "openai/gpt-5"]);
    assert_eq!(fmt(w.starts_at), starts, "read as UTC");
    assert_eq!(stored[0].created_by, EMAIL);
    let id = w.id;

    let list = wait_maintenances(&app, |l| l.iter().any(|m| m["id"] == id)).await;
    let m = list.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(m["title"], "Form scheduled work");
    assert_eq!(m["status"], "scheduled");

    let html = b.page("/admin/maintenances").await;
    assert!(html.contains("Form scheduled work"), "{html}");
    let cancel = format!("/admin/maintenances/{id}/cancel");
    assert!(html.contains(&cancel), "{html}");
    let (s, _) = b.post(&cancel, &[("csrf", "forged")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = b.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let stored = app.store.list_maintenances(10).await.unwrap();
    assert_eq!(stored[0].window.status.as_str(), "cancelled");
    let (s, _) = b.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "already cancelled");
    wait_maintenances(&app, |l| {
        l.iter()
            .all(|m| m["id"] != id || m["status"] == "cancelled")
    })
    .await;
    let html = b.page("/admin/maintenances").await;
    assert!(html.contains("cancelled"), "{html}");
    assert!(!html.contains(&cancel), "{html}");

    let entries = modelwatch::admin::audit::list(&app.store, 50, None)
        .await
        .unwrap();
    assert_eq!(
        audited_by_person(&entries),
        ["maintenance.cancel", "maintenance.create"]
    );
    app.stop().await;
}
