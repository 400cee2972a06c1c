//! What every admin page and form shares: the admin [`layout`], responses that are never
//! cached or framed ([`page`]), refusals shown as pages ([`PageError`], rendered by the
//! [`error_pages`] middleware), the extractors [`PageUser`], [`PagePath`] and [`PageForm`]
//! that refuse that way too, and the CSRF check of signed-in forms ([`check_csrf`]).
//!
//! A refused page keeps the status code and the message the JSON API would give, and links
//! back to the page its form is on.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::auth::{AdminState, AdminUser};
use super::internal;
use crate::web::http::rejections::{too_large, ApiPath};
use crate::web::http::ApiError;
use crate::web::pages::Layout;

/// The layout of an admin page: built per request, with the operations navigation instead of
/// the public one and no public footer (`nav` "admin" in `templates/base.html`).
pub(super) fn layout(title: &str) -> Layout {
    Layout {
        description: "modelwatch operations".into(),
        ..Layout::plain(title, "admin")
    }
}

/// Admin pages hold tokens and private state: never cached, never framed.
pub(super) fn page(status: StatusCode, t: impl Template) -> Response {
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

/// The page a refusal is shown on.
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
pub(super) async fn error_pages(req: Request, next: Next) -> Response {
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

/// An admin page's response: never cached (it holds tokens), never framed (clickjacking).
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

/// The refusal of a form body: 413 when too large, else the reason without axum's preamble.
fn form_error(e: FormRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    let text = e.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize form body: ")
        .unwrap_or(&text);
    ApiError::status(e.status(), format!("the form could not be read: {detail}"))
}

/// A form that carries nothing but its CSRF token (buttons such as "sign out").
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Refuses (403) a signed-in form whose CSRF token is not the session's.
pub(super) fn check_csrf(
    state: &AdminState,
    user: &AdminUser,
    token: &str,
) -> Result<(), ApiError> {
    if state.auth.check_csrf(&user.session, token) {
        Ok(())
    } else {
        Err(ApiError::status(
            StatusCode::FORBIDDEN,
            "missing or invalid CSRF token; reload the page and try again",
        ))
    }
}
