//! The admin surface: sign-in pages and the operations board under `/admin`, and the same
//! operations as JSON under `/api/v1/admin` (in [`api`]). Who may call what is decided by the
//! extractors in [`auth`]; every change is written to the audit log.
//!
//! Forms carry a CSRF token: for signed-in pages the session's HMAC token; for the sign-in
//! form (no session yet) an HMAC of a random nonce kept in a short-lived cookie, so another
//! site cannot sign a browser in to an account of its choosing.
//!
//! Pages and forms refuse with a page ([`PageError`], the admin layout, the status code and
//! the message the JSON API would give); the JSON API keeps its JSON errors. Handlers of
//! pages take [`PageUser`], [`PagePath`] and [`PageForm`] so that even what an extractor
//! refuses is shown that way.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use self::auth::{cookie, internal, refuse, AdminState, AdminUser, SESSION_COOKIE};
use super::http::rejections::{too_large, ApiPath};
use super::pages::{time, Layout};
use super::subscriptions::ApiError;
use super::AppState;
use crate::admin::audit::{self, Change};
use crate::admin::auth::LoginError;
use crate::admin::{tokens, AdminError, Scope};
use crate::notify::secrets::new_id;
use crate::web::client_ip::ClientIp;
mod api;
pub mod auth;
mod incidents;
mod maintenance;
mod maintenance_pages;
mod override_pages;
mod overrides;
mod subscriptions;

const LOGIN_COOKIE: &str = "mw_login";

/// The admin routes, sharing one [`AdminState`].
pub struct Routes {
    /// `/admin`: pages and forms, refusing with pages.
    pub pages: Router,
    /// `/api/v1/admin`: JSON, mounted with the rest of `/api/v1`.
    pub api: Router,
}

/// Builds the admin routes around one [`AdminState`], to merge into the main router.
pub fn routes(app: AppState) -> Routes {
    let state = AdminState::new(app);
    let pages = Router::new()
        .route("/admin", get(board))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/tokens", post(token_form))
        .merge(override_pages::routes())
        .merge(maintenance_pages::routes())
        .merge(incidents::page_routes())
        .merge(subscriptions::page_routes())
        .layer(axum::middleware::from_fn(error_pages))
        .with_state(Arc::clone(&state));
    let api = Router::new()
        .route("/api/v1/admin/board", get(board_json))
        .merge(api::routes())
        .merge(overrides::routes())
        .merge(maintenance::routes())
        .merge(incidents::api_routes())
        .merge(subscriptions::api_routes())
        .with_state(state);
    Routes { pages, api }
}

fn layout(title: &str) -> Layout {
    Layout {
        description: "modelwatch operations".into(),
        ..Layout::plain(title, "")
    }
}

/// Admin pages hold tokens and private state: never cached, never framed.
fn page(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(html) => page_response(status, html),
        Err(e) => PageError::from(internal(e)).into_response(),
    }
}

/// A refusal by a page or form: the status and message the JSON API would give, shown as an
/// admin page by [`error_pages`], which knows the path and so where to send the person back.
pub(super) struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError(e)
    }
}

/// What [`PageError`] leaves in its response for [`error_pages`] to render.
#[derive(Clone)]
struct Refused {
    message: String,
    field: Option<&'static str>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut r = self.0.status.into_response();
        r.extensions_mut().insert(Refused {
            message: self.0.message,
            field: self.0.field,
        });
        r
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage {
    layout: Layout,
    heading: &'static str,
    message: String,
    field: Option<&'static str>,
    sign_in: bool,
    back: String,
    back_name: &'static str,
}

/// Where to go back to from a refusal at `path`: the page its form is on.
fn back_link(path: &str) -> (String, &'static str) {
    let mut parts = path
        .strip_prefix("/admin/")
        .unwrap_or("")
        .split('/')
        .filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some("incidents"), Some(id)) if id.bytes().all(|b| b.is_ascii_digit()) => {
            (format!("/admin/incidents/{id}"), "the incident")
        }
        (Some("incidents"), _) => ("/admin/incidents".into(), "incidents"),
        (Some("overrides"), _) => ("/admin/overrides".into(), "overrides"),
        (Some("maintenances"), _) => ("/admin/maintenances".into(), "maintenance windows"),
        (Some("subscriptions"), _) => ("/admin/subscriptions".into(), "subscriptions"),
        (Some("login"), _) => ("/admin/login".into(), "the sign-in form"),
        _ => ("/admin".into(), "operations"),
    }
}

/// Middleware of the pages: renders a [`PageError`] as an admin page, keeping the status and
/// any headers (`Retry-After`).
async fn error_pages(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let Some(refused) = res.extensions_mut().remove::<Refused>() else {
        return res;
    };
    let status = res.status();
    let heading = match status {
        StatusCode::UNAUTHORIZED => "Sign in first",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::PAYLOAD_TOO_LARGE => "Too large",
        s if s.is_server_error() => "Something went wrong",
        _ => "Please check the form",
    };
    let (back, back_name) = back_link(&path);
    let t = ErrorPage {
        layout: layout(heading),
        heading,
        message: refused.message,
        field: refused.field,
        sign_in: status == StatusCode::UNAUTHORIZED,
        back,
        back_name,
    };
    let html = match t.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "could not render the admin error page");
            "<!doctype html><title>Error</title><p>Something went wrong.</p>".into()
        }
    };
    let mut out = page_response(status, html);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

fn page_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(html),
    )
        .into_response()
}

/// A signed-in person, for pages and forms: without a session, a page pointing to the
/// sign-in form (401).
pub(super) struct PageUser(pub AdminUser);

impl FromRequestParts<Arc<AdminState>> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<Self, PageError> {
        Ok(PageUser(AdminUser::from_request_parts(parts, state).await?))
    }
}

/// Path parameters, for pages and forms: a value that does not parse is refused (400) on a
/// page naming the parameter.
pub(super) struct PagePath<T>(pub T);

impl<S, T> FromRequestParts<S> for PagePath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let ApiPath(value) = ApiPath::<T>::from_request_parts(parts, state).await?;
        Ok(PagePath(value))
    }
}

/// A form body: one that cannot be read as the form expected is refused on a page.
pub(super) struct PageForm<T>(pub T);

impl<S, T> FromRequest<S> for PageForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(PageForm(value)),
            Err(e) => Err(form_error(e).into()),
        }
    }
}

fn form_error(e: FormRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    let text = e.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize form body: ")
        .unwrap_or(&text);
    ApiError {
        status: e.status(),
        message: format!("the form could not be read: {detail}"),
        field: None,
    }
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/board.html")]
struct Board {
    layout: Layout,
    email: String,
    csrf: String,
    models: Vec<BoardRow>,
}

/// One model on the live board (also the body of `GET /api/v1/admin/board`).
#[derive(serde::Serialize)]
struct BoardRow {
    id: String,
    name: String,
    state: &'static str,
    enabled: bool,
    fallback: Option<String>,
    since: chrono::DateTime<Utc>,
    #[serde(skip)]
    since_text: String,
    reason: String,
    /// Every reason of the current decision (from the latest evaluation).
    reasons: Vec<String>,
    /// The active override, if an SRE forced the decision.
    #[serde(rename = "override")]
    forced: Option<BoardOverride>,
    /// Probes of the latest evaluation window that failed on our own configuration
    /// (auth, bad_request, not_found): the probe, not the provider, needs fixing.
    misconfigured: u32,
    /// Probes of the latest window throttled on our key (429).
    throttled: u32,
    evaluated_at: Option<chrono::DateTime<Utc>>,
    /// The last five probes, newest first.
    probes: Vec<BoardProbe>,
}

#[derive(serde::Serialize)]
struct BoardOverride {
    enabled: bool,
    reason: String,
    created_by: String,
    expires_at: chrono::DateTime<Utc>,
    #[serde(skip)]
    expires_text: String,
}

#[derive(serde::Serialize)]
struct BoardProbe {
    at: chrono::DateTime<Utc>,
    #[serde(skip)]
    at_text: String,
    outcome: &'static str,
    http_status: Option<u16>,
    ttft_ms: Option<u32>,
    total_ms: u32,
    error: Option<String>,
}

impl BoardProbe {
    fn status_text(&self) -> String {
        self.http_status
            .map_or_else(|| "-".into(), |s| s.to_string())
    }

    fn ttft_text(&self) -> String {
        self.ttft_ms
            .map_or_else(|| "-".into(), |ms| format!("{ms} ms"))
    }
}

/// Probes shown per model on the board.
const BOARD_PROBES: u32 = 5;

/// The board's rows, read per request from the routing table and the store.
async fn board_rows(state: &AdminState) -> Result<Vec<BoardRow>, crate::store::StoreError> {
    let table = state.app.routing.borrow().clone();
    let store = &state.app.store;
    let stored: std::collections::BTreeMap<String, _> = store
        .load_model_states()
        .await?
        .into_iter()
        .map(|s| (s.model_key.clone(), s))
        .collect();
    let overrides = store.active_overrides().await?;
    let names: std::collections::BTreeMap<String, String> = state
        .app
        .config
        .models()
        .map(|(p, m)| (format!("{}/{}", p.id, m.id), m.name.clone()))
        .collect();
    let mut rows = Vec::with_capacity(table.models.len());
    for m in &table.models {
        let s = stored.get(&m.id);
        let probes = store
            .latest_results(&m.id, BOARD_PROBES)
            .await?
            .into_iter()
            .map(|r| BoardProbe {
                at: r.started_at,
                at_text: time(r.started_at).text,
                outcome: r.outcome.as_str(),
                http_status: r.http_status,
                ttft_ms: r.ttft_ms,
                total_ms: r.total_ms,
                error: r.error,
            })
            .collect();
        rows.push(BoardRow {
            id: m.id.clone(),
            name: names.get(&m.id).cloned().unwrap_or_else(|| m.id.clone()),
            state: m.state.as_str(),
            enabled: m.enabled,
            fallback: m.fallback.clone(),
            since: m.since,
            since_text: time(m.since).text,
            reason: m.reason.clone(),
            reasons: s.map(|s| s.reasons.clone()).unwrap_or_default(),
            forced: overrides
                .iter()
                .find(|o| o.model_key == m.id)
                .map(|o| BoardOverride {
                    enabled: o.enabled,
                    reason: o.reason.clone(),
                    created_by: o.created_by.clone(),
                    expires_at: o.expires_at,
                    expires_text: time(o.expires_at).text,
                }),
            misconfigured: s.map_or(0, |s| s.evidence.misconfigured),
            throttled: s.map_or(0, |s| s.evidence.throttled),
            evaluated_at: s.map(|s| s.evaluated_at),
            probes,
        });
    }
    Ok(rows)
}

/// `GET /api/v1/admin/board` (scope read): the live board as JSON.
async fn board_json(
    State(state): State<Arc<AdminState>>,
    caller: auth::ApiCaller,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let models = board_rows(&state).await.map_err(internal)?;
    Ok(axum::Json(
        json!({ "generated_at": state.now(), "models": models }),
    ))
}

#[derive(Template)]
#[template(path = "admin/token.html")]
struct TokenShown {
    layout: Layout,
    id: String,
    scope: Scope,
    token: String,
}

/// `GET /admin/login`: the form, with a fresh sign-in nonce cookie.
async fn login_page(State(state): State<Arc<AdminState>>) -> Response {
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

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/login`: rate limited per address, CSRF-checked, locked after repeated
/// failures; on success sets the session cookie and goes to the board.
async fn login(
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
        Err(e @ LoginError::Locked { retry_after }) => {
            let mut r = again(StatusCode::TOO_MANY_REQUESTS, format!("{e}."));
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.as_secs().into());
            r
        }
        Err(LoginError::Store(e)) => PageError::from(internal(e)).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn check_csrf(state: &AdminState, user: &AdminUser, token: &str) -> Result<(), ApiError> {
    if state.auth.check_csrf(&user.session, token) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::FORBIDDEN,
            "missing or invalid CSRF token; reload the page and try again",
        ))
    }
}

/// `POST /admin/logout`: ends the session and clears the cookie.
async fn logout(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    let now = state.now();
    state
        .auth
        .revoke_session(&user.session.id, now)
        .await
        .map_err(internal)?;
    let change = Change {
        actor: &user.actor(),
        action: "session.logout",
        target: Some(&user.session.id),
        detail: json!({}),
        client_addr: user.client.clone(),
    };
    audit::record(state.auth.store(), change, now)
        .await
        .map_err(internal)?;
    let mut r = Redirect::to("/admin/login").into_response();
    let gone = state.cookie(SESSION_COOKIE, "", "/", Duration::ZERO);
    r.headers_mut().insert(header::SET_COOKIE, gone);
    Ok(r)
}

/// `GET /admin`: the board; without a session, the sign-in form.
async fn board(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
) -> Response {
    let Ok(user) = user else {
        return Redirect::to("/admin/login").into_response();
    };
    let models = match board_rows(&state).await {
        Ok(models) => models,
        Err(e) => return PageError::from(internal(e)).into_response(),
    };
    let t = Board {
        layout: layout("Operations"),
        email: user.session.email.clone(),
        csrf: state.auth.csrf_token(&user.session),
        models,
    };
    page(StatusCode::OK, t)
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf: String,
    scope: String,
    #[serde(default)]
    name: String,
}

pub(super) fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Invalid(m) => refuse(StatusCode::UNPROCESSABLE_ENTITY, m),
        other => internal(other),
    }
}

pub(super) fn parse_scope(text: &str) -> Result<Scope, ApiError> {
    Scope::parse(text).ok_or_else(|| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("`{text}` is not a scope; use read, operate or admin"),
        field: Some("scope"),
    })
}

/// `POST /admin/tokens`: creates a token and shows it once.
async fn token_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PageForm(form): PageForm<TokenForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    let scope = parse_scope(&form.scope)?;
    let store = state.auth.store();
    let (id, token) = tokens::create(
        store,
        scope,
        &form.name,
        &user.actor(),
        user.client.clone(),
        state.now(),
    )
    .await
    .map_err(admin_error)?;
    let t = TokenShown {
        layout: layout("API token created"),
        id,
        scope,
        token: token.expose().into(),
    };
    Ok(page(StatusCode::CREATED, t))
}
