//! Who is calling the admin surface: the request extractors [`AdminUser`] (a person, from
//! the `mw_session` cookie) and [`ApiCaller`] (an API token or a session, with a
//! [`Scope`]), the state they read ([`AdminState`]), and the session cookie itself.
//! Sessions, tokens and CSRF tokens are checked by [`crate::admin`]; this file only reads
//! them from the request.
//!
//! Refusals are JSON errors like the rest of the API: 401 when no valid credential was
//! sent, 403 when the credential is valid but not enough (scope, CSRF). Pages and forms
//! take [`super::page::PageUser`] instead, which shows the refusal as a page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};

use super::internal;
use crate::admin::audit::Actor;
use crate::admin::auth::{Auth, Session, ABSOLUTE};
use crate::admin::{tokens, Scope};
use crate::web::client_ip::ClientIp;
use crate::web::http::credentials::{bearer_token, cookie};
use crate::web::http::{ApiError, RateLimiter};
use crate::web::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mw_session";
/// The header carrying the CSRF token on state-changing API calls made with a session.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sign-in attempts per client address per window, successful or not: a cap on password
/// guessing (and argon2 work) before the stored lock-out counts come into play.
const LOGIN_ATTEMPTS: u32 = 30;
const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the admin handlers share: the application's state plus sign-in machinery.
pub struct AdminState {
    pub app: AppState,
    pub auth: Auth,
    pub login_limiter: RateLimiter,
    /// Cookies get `Secure` when the service is published over https.
    pub secure_cookies: bool,
}

impl AdminState {
    pub fn new(app: AppState) -> Arc<AdminState> {
        let auth = Auth::new(app.store.clone(), app.notify.secrets.clone());
        Arc::new(AdminState {
            secure_cookies: app.config.server.public_url.starts_with("https://"),
            auth,
            login_limiter: RateLimiter::new(LOGIN_ATTEMPTS, LOGIN_WINDOW),
            app,
        })
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app.clock.now()
    }

    /// A `Set-Cookie` value: HttpOnly (no script reads it), SameSite=Lax (not sent on
    /// cross-site posts), Secure behind https. `max_age` 0 deletes it.
    pub fn cookie(&self, name: &str, value: &str, path: &str, max_age: Duration) -> HeaderValue {
        set_cookie(name, value, path, max_age, self.secure_cookies)
    }

    /// The session cookie for a new session's token.
    pub fn session_cookie(&self, token: &str) -> HeaderValue {
        self.cookie(SESSION_COOKIE, token, "/", ABSOLUTE)
    }
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        max_age.as_secs()
    );
    // Our names and values are URL-safe base64, so the header is always valid.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The client's address (see [`crate::web::client_ip`]), when the server knows it.
pub fn client_addr(parts: &Parts) -> Option<String> {
    if let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>() {
        return Some(ip.to_string());
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A signed-in person, from the session cookie.
#[derive(Debug, Clone)]
pub struct AdminUser {
    pub session: Session,
    pub client: Option<String>,
}

impl AdminUser {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.session.email)
    }

    /// The person as an API caller, for operations shared by pages and the JSON API
    /// (every user is an administrator for now).
    pub fn as_caller(&self) -> ApiCaller {
        ApiCaller {
            scope: Scope::Admin,
            actor: self.actor(),
            client: self.client.clone(),
        }
    }
}

impl FromRequestParts<Arc<AdminState>> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(|| {
            ApiError::status(StatusCode::UNAUTHORIZED, "sign in at /admin/login first")
        })?;
        let session = state
            .auth
            .session(token, state.now())
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::status(
                    StatusCode::UNAUTHORIZED,
                    "your session has ended; sign in again at /admin/login",
                )
            })?;
        Ok(AdminUser {
            session,
            client: client_addr(parts),
        })
    }
}

/// A caller of the JSON API: an API token (`Authorization: Bearer`) with its scope, or a
/// signed-in person (every user is an administrator for now).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub scope: Scope,
    pub actor: Actor,
    pub client: Option<String>,
}

impl ApiCaller {
    /// Refuses (403) unless the caller's scope includes `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::status(
                StatusCode::FORBIDDEN,
                format!(
                    "this needs the `{needed}` scope; the credential sent has `{}`",
                    self.scope
                ),
            ))
        }
    }
}

impl FromRequestParts<Arc<AdminState>> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<Self, Self::Rejection> {
        let client = client_addr(parts);
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth.to_str().ok().and_then(bearer_token).unwrap_or("");
            let found = tokens::authenticate(&state.app.store, token, state.now())
                .await
                .map_err(internal)?
                .ok_or_else(|| {
                    ApiError::status(
                        StatusCode::UNAUTHORIZED,
                        "the API token is unknown or revoked; send `Authorization: Bearer mw_…`",
                    )
                })?;
            if found.scope == Scope::Ingest {
                // Copied into every application server: it opens nothing here.
                return Err(ApiError::status(
                    StatusCode::FORBIDDEN,
                    "an `ingest` token can only write observations (POST /api/v1/observations, POST /v1/traces)",
                ));
            }
            if found.scope == Scope::Agent {
                // Kept on machines elsewhere: it opens nothing here either.
                return Err(ApiError::status(
                    StatusCode::FORBIDDEN,
                    "an `agent` token can only push probe results (POST /api/v1/agent/results)",
                ));
            }
            return Ok(ApiCaller {
                scope: found.scope,
                actor: Actor::token(&found.id),
                client,
            });
        }
        let user = AdminUser::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::status(
                    StatusCode::UNAUTHORIZED,
                    "send an API token as `Authorization: Bearer TOKEN`, or sign in",
                )
            })?;
        // A cookie is sent by the browser on its own, so a change made with one must also
        // carry the page's CSRF token, which another site cannot read.
        if !parts.method.is_safe() {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !state.auth.check_csrf(&user.session, sent) {
                return Err(ApiError::status(
                    StatusCode::FORBIDDEN,
                    "missing or invalid X-CSRF-Token header",
                ));
            }
        }
        Ok(ApiCaller {
            scope: Scope::Admin,
            actor: user.actor(),
            client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_same_site_and_secure_behind_https() {
        let plain = set_cookie("mw_session", "t", "/", ABSOLUTE, false);
        assert_eq!(
            plain.to_str().unwrap(),
            "mw_session=t; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax"
        );
        let secure = set_cookie("mw_session", "", "/", Duration::ZERO, true);
        assert!(secure
            .to_str()
            .unwrap()
            .ends_with("Max-Age=0; HttpOnly; SameSite=Lax; Secure"));
    }

    #[test]
    fn callers_need_a_large_enough_scope() {
        let caller = |scope| ApiCaller {
            scope,
            actor: Actor::token("tok_x"),
            client: None,
        };
        assert!(caller(Scope::Read).require(Scope::Read).is_ok());
        let refused = caller(Scope::Read).require(Scope::Admin).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.message.contains("`admin`"), "{}", refused.message);
        assert!(caller(Scope::Admin).require(Scope::Operate).is_ok());
    }
}
