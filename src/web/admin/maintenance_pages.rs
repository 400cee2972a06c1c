//! The page `/admin/maintenances` (signed in, CSRF-checked forms): every window, a form to
//! schedule one (times entered as UTC), and a cancel button per scheduled or in-progress
//! window. Same store calls, audit actions and publisher wake as the JSON API in
//! [`super::maintenance`].

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::auth::{AdminState, AdminUser};
use super::internal;
use super::maintenance::{cancel_checked, create_checked};
use super::page::{check_csrf, layout, page, CsrfForm, PageError, PageForm, PagePath, PageUser};
use crate::evaluate::overrides::WindowStatus;
use crate::web::http::rejections::body_error;
use crate::web::http::ApiError;
use crate::web::pages::{time, TimeView};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/admin/maintenances", get(list_page).post(create_form))
        .route("/admin/maintenances/{id}/cancel", post(cancel_form))
}

#[derive(Template)]
#[template(path = "admin/maintenances.html")]
struct MaintenancesPage {
    layout: crate::web::pages::Layout,
    csrf: String,
    windows: Vec<WindowView>,
    models: Vec<String>,
}

struct WindowView {
    id: i64,
    title: String,
    models: String,
    status: &'static str,
    starts: TimeView,
    ends: TimeView,
    created_by: String,
    can_cancel: bool,
}

/// `GET /admin/maintenances`: every window, newest first, and the form.
async fn list_page(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
) -> Result<Response, PageError> {
    let Ok(user) = user else {
        return Ok(Redirect::to("/admin/login").into_response());
    };
    let list = state
        .app
        .store
        .list_maintenances(200)
        .await
        .map_err(internal)?;
    let t = MaintenancesPage {
        layout: layout("Maintenance windows"),
        csrf: state.auth.csrf_token(&user.session),
        windows: list
            .into_iter()
            .map(|m| WindowView {
                id: m.window.id,
                title: m.window.title,
                models: m.window.models.join(", "),
                status: m.window.status.as_str(),
                starts: time(m.window.starts_at),
                ends: time(m.window.ends_at),
                created_by: m.created_by,
                can_cancel: matches!(
                    m.window.status,
                    WindowStatus::Scheduled | WindowStatus::InProgress
                ),
            })
            .collect(),
        models: state
            .app
            .config
            .models()
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect(),
    };
    Ok(page(StatusCode::OK, t))
}

/// A `datetime-local` value (`2026-01-02T03:04`, seconds optional), read as UTC.
fn utc_local(field: &'static str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    let text = text.trim();
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map(|t| t.and_utc())
        .map_err(|_| {
            ApiError::field(
                field,
                format!("`{text}` is not a date and time (YYYY-MM-DDTHH:MM, UTC)"),
            )
        })
}

/// `POST /admin/maintenances`: schedules a window (audited `maintenance.create`). The body
/// is read by hand: the model checkboxes repeat the `models` field.
async fn create_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let body = body.map_err(body_error)?;
    let [mut csrf, mut title, mut text, mut starts, mut ends]: [String; 5] = Default::default();
    let mut models: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "title" => title = v.into_owned(),
            "body" => text = v.into_owned(),
            "starts_at" => starts = v.into_owned(),
            "ends_at" => ends = v.into_owned(),
            "models" => models.push(v.into_owned()),
            _ => {}
        }
    }
    check_csrf(&state, &user, &csrf)?;
    let starts_at = utc_local("starts_at", &starts)?;
    let ends_at = utc_local("ends_at", &ends)?;
    create_checked(
        &state,
        &user.as_caller(),
        &title,
        &text,
        models,
        starts_at,
        ends_at,
    )
    .await?;
    Ok(Redirect::to("/admin/maintenances").into_response())
}

/// `POST /admin/maintenances/{id}/cancel`: cancels a window not yet started, or ends one in
/// progress now (audited `maintenance.cancel`).
async fn cancel_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    cancel_checked(&state, &user.as_caller(), id).await?;
    Ok(Redirect::to("/admin/maintenances").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_read_as_utc() {
        let t = utc_local("starts_at", "2026-03-01T14:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T14:30:00+00:00");
        let t = utc_local("starts_at", "2026-03-01T14:30:15").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T14:30:15+00:00");
        assert!(utc_local("starts_at", "tomorrow").is_err());
    }
}
