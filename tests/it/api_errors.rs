//! Error answers through the real server. Under `/api/v1` (the admin API included) every
//! refusal is the documented JSON `{"error": {"status", "message"}}`: path parameters and
//! query strings that do not parse (after the credentials are checked), methods a route does
//! not have (naming the allowed ones, with `Allow`), bodies over the size limit (413). The
//! admin HTML forms answer their refusals with an admin page instead, never cached or framed.

use chrono::Utc;
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use reqwest::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_helpers::{hidden_csrf, no_redirects, sign_in};
use crate::helpers::{spawn_seeded_app, TestApp};

/// Larger than the 2 MiB request body limit.
const TOO_LARGE: usize = 3 * 1024 * 1024;

async fn token(app: &TestApp, scope: Scope) -> String {
    let (_, token) = tokens::create(&app.store, scope, "ci", &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    token.expose().to_string()
}

/// Sends a request (with `bearer` when given) and checks the answer is the JSON error shape
/// with `status`; returns the error's message.
async fn json_error(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<String>,
    status: StatusCode,
) -> String {
    let mut req = app
        .client
        .request(method.clone(), format!("{}{path}", app.base));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(b) = body {
        req = req.header(CONTENT_TYPE, "application/json").body(b);
    }
    let r = req.send().await.unwrap();
    let got = r.status();
    let content_type = r.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{method} {path}: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{method} {path}: {content_type}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(body["error"]["status"], status.as_u16(), "{body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {body}"))
        .to_string()
}

#[tokio::test]
async fn path_parameters_that_do_not_parse_get_json_errors_naming_them() {
    let app = spawn_seeded_app().await;
    let operate = token(&app, Scope::Operate).await;
    for (method, path, name) in [
        (
            Method::POST,
            "/api/v1/admin/incidents/abc/acknowledge",
            "id",
        ),
        (Method::GET, "/api/v1/admin/incidents/abc", "id"),
        (Method::DELETE, "/api/v1/admin/maintenances/abc", "id"),
        (Method::DELETE, "/api/v1/admin/overrides/abc", "id"),
        (
            Method::POST,
            "/api/v1/admin/subscriptions/sub_x/deliveries/abc/redeliver",
            "delivery",
        ),
    ] {
        // Credentials first: without them the answer is 401, whatever the parameters.
        json_error(
            &app,
            method.clone(),
            path,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        let message = json_error(
            &app,
            method.clone(),
            path,
            Some(&operate),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            message.contains(&format!("`{name}`")) && message.contains("`abc`"),
            "{method} {path}: {message}"
        );
    }
    // The public subscription API answers the same shape, its management token checked
    // first too (the 400 with a token is in `subscriptions_api`).
    json_error(
        &app,
        Method::POST,
        "/api/v1/subscriptions/sub_x/deliveries/abc/redeliver",
        None,
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn bad_query_strings_get_json_errors_after_the_credentials_are_checked() {
    let app = spawn_seeded_app().await;
    let admin = token(&app, Scope::Admin).await;
    let path = "/api/v1/admin/audit?limit=abc";
    json_error(
        &app,
        Method::GET,
        path,
        None,
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    json_error(
        &app,
        Method::GET,
        path,
        Some("mw_unknown"),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let message = json_error(
        &app,
        Method::GET,
        path,
        Some(&admin),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        message.contains("`limit`") && message.contains("`abc`"),
        "{message}"
    );
    let message = json_error(
        &app,
        Method::GET,
        "/api/v1/admin/audit?before=yesterday",
        Some(&admin),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        message.contains("`before`") && message.contains("`yesterday`"),
        "{message}"
    );
    // Numbers outside the documented ranges are refused, not clamped.
    for (query, name) in [
        ("limit=0", "`limit`"),
        ("limit=1001", "`limit`"),
        ("limit=-6707365697", "`limit`"),
        ("before=0", "`before`"),
    ] {
        let message = json_error(
            &app,
            Method::GET,
            &format!("/api/v1/admin/audit?{query}"),
            Some(&admin),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains(name), "{query}: {message}");
    }
    // A good query still works.
    let r = app
        .client
        .get(format!("{}/api/v1/admin/audit?limit=5", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn methods_a_route_does_not_have_get_json_naming_the_allowed_ones() {
    let app = spawn_seeded_app().await;
    let admin = token(&app, Scope::Admin).await;
    for (method, path, allowed) in [
        (Method::DELETE, "/api/v1/routing", "GET"),
        (Method::DELETE, "/api/v1/admin/whoami", "GET"),
        (Method::PUT, "/api/v1/admin/incidents/1/acknowledge", "POST"),
        (
            Method::GET,
            "/api/v1/admin/subscriptions/sub_x/enable",
            "POST",
        ),
        (Method::PATCH, "/api/v1/subscriptions", "POST"),
        (Method::POST, "/api/v1/models", "GET"),
    ] {
        let r = app
            .client
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allow = r.headers()[ALLOW].to_str().unwrap().to_string();
        assert!(allow.contains(allowed), "{method} {path}: Allow: {allow}");
        assert!(
            r.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{method} {path}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"], 405, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(method.as_str()) && message.contains(allowed),
            "{method} {path}: {message}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_a_json_error() {
    let app = spawn_seeded_app().await;
    let operate = token(&app, Scope::Operate).await;
    let huge = json!({
        "model": "openai/gpt-5", "enabled": false, "reason": "x".repeat(TOO_LARGE),
        "expires_in": "1h",
    })
    .to_string();
    // Credentials first.
    json_error(
        &app,
        Method::POST,
        "/api/v1/admin/overrides",
        None,
        Some(huge.clone()),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    for path in [
        "/api/v1/admin/overrides",
        "/api/v1/admin/subscriptions/sub_x/disable",
        "/api/v1/admin/incidents/1/updates",
        "/api/v1/subscriptions",
    ] {
        let message = json_error(
            &app,
            Method::POST,
            path,
            Some(&operate),
            Some(huge.clone()),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        assert!(message.contains("MiB"), "{path}: {message}");
    }
    assert!(app.store.active_overrides().await.unwrap().is_empty());
    app.stop().await;
}

/// A signed-in browser that does not follow redirects.
struct Browser<'a> {
    app: &'a TestApp,
    c: reqwest::Client,
    cookie: String,
}

impl Browser<'_> {
    async fn csrf(&self, path: &str) -> String {
        let r = self
            .c
            .get(format!("{}{path}", self.app.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        hidden_csrf(&r.text().await.unwrap())
    }

    /// Posts a form and checks the refusal is an admin page with `status`; returns its HTML.
    async fn refused(&self, path: &str, form: &[(&str, &str)], status: StatusCode) -> String {
        let r = self
            .c
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        page_error(r, path, status).await
    }
}

async fn page_error(r: reqwest::Response, path: &str, status: StatusCode) -> String {
    let got = r.status();
    let headers = r.headers().clone();
    let html = r.text().await.unwrap();
    assert_eq!(got, status, "POST {path}: {html}");
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "POST {path}: {:?}: {html}",
        headers[CONTENT_TYPE]
    );
    assert_eq!(headers[CACHE_CONTROL], "no-store", "POST {path}");
    assert_eq!(headers["x-frame-options"], "DENY", "POST {path}");
    assert!(html.starts_with("<!doctype html>"), "POST {path}: {html}");
    assert!(html.contains("href=\"/admin\""), "POST {path}: {html}");
    html
}

#[tokio::test]
async fn admin_forms_answer_refusals_with_an_admin_page() {
    let app = spawn_seeded_app().await;
    let cookie = sign_in(&app, "oncall@example.com").await;
    let b = Browser {
        app: &app,
        c: no_redirects(),
        cookie,
    };

    // Overrides: an empty reason, an unknown model.
    let csrf = b.csrf("/admin/overrides").await;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("model", "openai/gpt-5"),
        ("decision", "disable"),
        ("reason", ""),
        ("expires_in", "1h"),
    ];
    let html = b
        .refused("/admin/overrides", &form, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert!(html.contains("a reason of 1 to 500 characters"), "{html}");
    assert!(html.contains("href=\"/admin/overrides\""), "{html}");
    form[3] = ("reason", "a reason");
    form[1] = ("model", "nope/x");
    let html = b
        .refused("/admin/overrides", &form, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert!(html.contains("is not a configured model"), "{html}");
    assert!(app.store.active_overrides().await.unwrap().is_empty());
    let html = b
        .refused(
            "/admin/overrides/abc/end",
            &[("csrf", &csrf)],
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(html.contains("abc"), "{html}");
    b.refused(
        "/admin/overrides/999999/end",
        &[("csrf", &csrf)],
        StatusCode::NOT_FOUND,
    )
    .await;

    // Maintenances: a start that is not a time.
    let csrf = b.csrf("/admin/maintenances").await;
    let html = b
        .refused(
            "/admin/maintenances",
            &[
                ("csrf", csrf.as_str()),
                ("title", "Work"),
                ("models", "openai/gpt-5"),
                ("starts_at", "garbage"),
                ("ends_at", "2099-01-01T00:00"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(
        html.contains("garbage") && html.contains("is not a date and time"),
        "{html}"
    );
    assert!(html.contains("href=\"/admin/maintenances\""), "{html}");
    assert!(app.store.list_maintenances(10).await.unwrap().is_empty());

    // Tokens: the CSRF refusal and a bad scope.
    let csrf = b.csrf("/admin").await;
    let html = b
        .refused("/admin/tokens", &[("scope", "read")], StatusCode::FORBIDDEN)
        .await;
    assert!(html.contains("CSRF token"), "{html}");
    let html = b
        .refused(
            "/admin/tokens",
            &[("scope", "root"), ("csrf", &csrf)],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(html.contains("is not a scope"), "{html}");

    // Incidents: a missing field, an unknown provider, an unknown incident.
    let csrf = b.csrf("/admin/incidents").await;
    b.refused(
        "/admin/incidents",
        &[("csrf", &csrf), ("title", "t")],
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let html = b
        .refused(
            "/admin/incidents",
            &[
                ("csrf", csrf.as_str()),
                ("provider", "nope"),
                ("title", "t"),
                ("impact", "minor"),
                ("body", "b"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(html.contains("is not a configured provider"), "{html}");
    b.refused(
        "/admin/incidents/999999/acknowledge",
        &[("csrf", &csrf)],
        StatusCode::NOT_FOUND,
    )
    .await;

    // Subscriptions: an unknown subscription.
    b.refused(
        "/admin/subscriptions/sub_nope/enable",
        &[("csrf", &csrf)],
        StatusCode::NOT_FOUND,
    )
    .await;

    // Without a session: a page pointing to the sign-in form, not JSON.
    let r = no_redirects()
        .post(format!("{}/admin/overrides", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let html = page_error(r, "/admin/overrides", StatusCode::UNAUTHORIZED).await;
    assert!(html.contains("href=\"/admin/login\""), "{html}");

    // The JSON API keeps answering JSON.
    let operate = token(&app, Scope::Operate).await;
    json_error(
        &app,
        Method::POST,
        "/api/v1/admin/overrides",
        Some(&operate),
        Some(
            json!({"model": "openai/gpt-5", "enabled": false, "reason": "", "expires_in": "1h"})
                .to_string(),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.stop().await;
}
