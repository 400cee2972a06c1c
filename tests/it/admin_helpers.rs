//! Signing in to the admin pages the way a browser does, shared by the admin page tests.

use chrono::Utc;
use modelwatch::admin::audit::Actor;
use reqwest::StatusCode;

use crate::helpers::TestApp;

/// The password of every test user (long enough for the policy).
pub const PASSWORD: &str = "a long enough password";

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` set by `r`.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

/// The CSRF token of the first form in `html`.
pub fn hidden_csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

/// Adds user `email` and signs in through the real form; returns the session's `Cookie` header.
pub async fn sign_in(app: &TestApp, email: &str) -> String {
    modelwatch::admin::auth::add_user(&app.store, email, PASSWORD, &Actor::cli(), None, Utc::now())
        .await
        .unwrap();
    let c = no_redirects();
    let r = c
        .get(format!("{}/admin/login", app.base))
        .send()
        .await
        .unwrap();
    let nonce = set_cookie(&r, "mw_login");
    let csrf = hidden_csrf(&r.text().await.unwrap());
    let r = c
        .post(format!("{}/admin/login", app.base))
        .header(reqwest::header::COOKIE, format!("mw_login={nonce}"))
        .form(&[("email", email), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    format!("mw_session={}", set_cookie(&r, "mw_session"))
}
