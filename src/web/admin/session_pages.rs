//! Signing in and out: `GET /admin/login` (the form), `POST /admin/login` and
//! `POST /admin/logout`. Who may sign in, lock-out and sessions are decided by
//! [`crate::admin::auth`]; here are the form, its cookies and the answers.
//!
//! The sign-in form has no session to bind a CSRF token to, so its token is an HMAC of a
//! random nonce kept in a short-lived cookie (`mw_login`): another site cannot sign a
//! browser in to an account of its choosing.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::{AdminState, SESSION_COOKIE};
use super::internal;
use super::page::{check_csrf, layout, page, CsrfForm, PageError, PageForm, PageUser};
use crate::admin::auth::LoginError;
use crate::notify::secrets::new_id;
use crate::web::client_ip::ClientIp;
use crate::web::http::credentials::cookie;
use crate::web::pages::Layout;

/// The cookie holding the sign-in form's nonce.
const LOGIN_COOKIE: &str = "mw_login";

/// The sign-in form, fresh or shown again with what went wrong.
#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    email: String,
    error: Option<String>,
}

/// `GET /admin/login`: the form, with a fresh sign-in nonce cookie.
pub(super) async fn login_page(State(state): State<Arc<AdminState>>) -> Response {
    let nonce = new_id("lgn_");
    let form = LoginPage {
        layout: layout("Sign in"),
        csrf: state.auth.secrets().link_token("login", &nonce),
        email: String::new(),
        error: None,
    };
    let set = state.cookie(
        LOGIN_COOKIE,
        &nonce,
        "/admin/login",
        Duration::from_secs(3600),
    );
    ([(header::SET_COOKIE, set)], page(StatusCode::OK, form)).into_response()
}

/// The sign-in form as posted.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/login`: rate limited per address, CSRF-checked, locked after repeated
/// failures; on success sets the session cookie and goes to the board.
pub(super) async fn login(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    PageForm(form): PageForm<LoginForm>,
) -> Response {
    let again = |status, error: String| {
        let t = LoginPage {
            layout: layout("Sign in"),
            csrf: form.csrf.clone(),
            email: form.email.chars().take(254).collect(),
            error: Some(error),
        };
        page(status, t)
    };
    if let Err(retry) = state.login_limiter.check(client) {
        let mut r = again(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many sign-in attempts from your address; try again in {retry} s."),
        );
        r.headers_mut().insert(header::RETRY_AFTER, retry.into());
        return r;
    }
    let nonce = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if nonce.is_empty()
        || !state
            .auth
            .secrets()
            .check_link_token("login", nonce, &form.csrf)
    {
        return again(
            StatusCode::FORBIDDEN,
            "This form has expired; reload the page and sign in again.".into(),
        );
    }
    let addr = client.to_string();
    match state
        .auth
        .login(&form.email, &form.password, Some(&addr), state.now())
        .await
    {
        Ok((_, token)) => {
            let mut r = Redirect::to("/admin").into_response();
            let h = r.headers_mut();
            h.append(header::SET_COOKIE, state.session_cookie(token.expose()));
            h.append(
                header::SET_COOKIE,
                state.cookie(LOGIN_COOKIE, "", "/admin/login", Duration::ZERO),
            );
            r
        }
        Err(LoginError::Invalid) => {
            again(StatusCode::UNAUTHORIZED, "Wrong email or password.".into())
        }
        Err(e @ (LoginError::Locked { retry_after } | LoginError::Slowed { retry_after })) => {
            let mut r = again(StatusCode::TOO_MANY_REQUESTS, format!("{e}."));
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.as_secs().max(1).into());
            r
        }
        Err(LoginError::Store(e)) => PageError::from(internal(e)).into_response(),
    }
}

/// `POST /admin/logout`: ends the session and clears the cookie.
pub(super) async fn logout(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    // The session was live a moment ago; if it has ended since, there is nothing to audit
    // and the cookie is cleared all the same.
    state
        .auth
        .end_session(
            &user.session.id,
            "session.logout",
            &user.actor(),
            user.client.clone(),
            state.now(),
        )
        .await
        .map_err(internal)?;
    let mut r = Redirect::to("/admin/login").into_response();
    let gone = state.cookie(SESSION_COOKIE, "", "/", Duration::ZERO);
    r.headers_mut().insert(header::SET_COOKIE, gone);
    Ok(r)
}
