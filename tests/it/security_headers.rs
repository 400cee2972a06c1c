//! Security headers on every surface, including error pages and answers axum writes by
//! itself: `nosniff` everywhere, a CSP on every HTML page and SVG, no framing of pages with
//! forms, and `no-store` on every admin answer (the token creation answer carries a secret).

use chrono::Utc;
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use reqwest::Response;

use crate::helpers::spawn_seeded_app;

fn header(r: &Response, name: reqwest::header::HeaderName) -> String {
    r.headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_surface_gets_its_security_headers() {
    let app = spawn_seeded_app().await;
    let (_, admin) = tokens::create(
        &app.store,
        Scope::Admin,
        "ci",
        &Actor::cli(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    let admin = admin.expose().to_string();
    // (path, method, bearer, framing refused, CSP wanted, no-store wanted)
    let cases: Vec<(&str, &str, bool, bool, bool, bool)> = vec![
        ("/", "GET", false, false, true, false),
        ("/no/such/page", "GET", false, false, true, false),
        ("/subscribe", "GET", false, true, true, false),
        (
            "/subscriptions/confirm?token=nonsense",
            "GET",
            false,
            true,
            true,
            false,
        ),
        ("/admin/login", "GET", false, true, true, true),
        ("/admin", "GET", false, true, true, true),
        ("/admin/no-such-page", "GET", false, true, true, true),
        ("/api/v1/routing", "GET", false, false, false, false),
        ("/api/v1/admin/whoami", "GET", true, true, false, true),
        ("/api/v1/admin/whoami", "DELETE", true, true, false, true),
        (
            "/badges/anthropic/claude-opus-4-8.svg",
            "GET",
            false,
            false,
            true,
            false,
        ),
    ];
    for (path, method, bearer, no_framing, csp, no_store) in cases {
        let mut request = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.base));
        if bearer {
            request = request.bearer_auth(&admin);
        }
        let r = request.send().await.unwrap();
        let at = format!("{method} {path} ({})", r.status());
        assert_eq!(header(&r, X_CONTENT_TYPE_OPTIONS), "nosniff", "{at}");
        if csp {
            let policy = header(&r, CONTENT_SECURITY_POLICY);
            assert!(policy.contains("default-src"), "{at}: CSP `{policy}`");
            assert_eq!(
                policy.contains("frame-ancestors 'none'"),
                no_framing || path.ends_with(".svg"),
                "{at}: CSP `{policy}`"
            );
        }
        if no_framing {
            assert_eq!(header(&r, X_FRAME_OPTIONS), "DENY", "{at}");
        }
        if no_store {
            assert_eq!(header(&r, CACHE_CONTROL), "no-store", "{at}");
        }
    }
    // The answer that carries a new token's secret is never stored.
    let r = app
        .client
        .post(format!("{}/api/v1/admin/tokens", app.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"scope": "read", "name": "headers test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, CACHE_CONTROL), "no-store");
    assert_eq!(header(&r, X_CONTENT_TYPE_OPTIONS), "nosniff");
    app.stop().await;
}

/// A signed-in browser's form post carrying a valid CSRF token is still refused when the
/// browser says it comes from another site; from this site it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_post_with_a_valid_csrf_token_is_refused() {
    use crate::admin_helpers::{hidden_csrf, no_redirects, sign_in};
    let app = spawn_seeded_app().await;
    let session = sign_in(&app, "sre@example.com").await;
    let c = no_redirects();
    let board = c
        .get(format!("{}/admin", app.base))
        .header(reqwest::header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(board.status(), 200);
    let csrf = hidden_csrf(&board.text().await.unwrap());
    let logout = |origin: &'static str, fetch_site: &'static str| {
        let mut r = c
            .post(format!("{}/admin/logout", app.base))
            .header(reqwest::header::COOKIE, &session)
            .form(&[("csrf", csrf.as_str())]);
        if !origin.is_empty() {
            r = r.header(reqwest::header::ORIGIN, origin);
        }
        if !fetch_site.is_empty() {
            r = r.header("sec-fetch-site", fetch_site);
        }
        r.send()
    };
    assert_eq!(
        logout("http://evil.example", "").await.unwrap().status(),
        403
    );
    assert_eq!(logout("", "cross-site").await.unwrap().status(), 403);
    // Still signed in: nothing was done.
    let still = c
        .get(format!("{}/admin", app.base))
        .header(reqwest::header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
    let own = app.base.clone();
    let own: &'static str = Box::leak(own.into_boxed_str());
    assert_eq!(logout(own, "same-origin").await.unwrap().status(), 303);
    app.stop().await;
}
