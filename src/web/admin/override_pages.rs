//! The page `/admin/overrides` (signed in, CSRF-checked forms): the active and recently ended
//! overrides, a form to force a model enabled or disabled until an expiry, and an "end now"
//! button per active override. Same store calls and audit actions as the JSON API in
//! [`super::overrides`]; the evaluator applies the change on its next round.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::auth::{AdminState, AdminUser};
use super::internal;
use super::overrides::{create_checked, end_checked, expiry_after};
use super::page::{check_csrf, layout, page, CsrfForm, PageError, PageForm, PagePath, PageUser};
use crate::web::http::ApiError;
use crate::web::pages::{time, TimeView};

/// Ended overrides stay listed this long.
const RECENT: chrono::Duration = chrono::Duration::hours(24);
/// The durations offered by the form.
const DURATIONS: [&str; 4] = ["15m", "1h", "4h", "24h"];

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/admin/overrides", get(list_page).post(create_form))
        .route("/admin/overrides/{id}/end", post(end_form))
}

#[derive(Template)]
#[template(path = "admin/overrides.html")]
struct OverridesPage {
    layout: crate::web::pages::Layout,
    csrf: String,
    active: Vec<OverrideView>,
    ended: Vec<OverrideView>,
    models: Vec<String>,
    durations: &'static [&'static str],
}

struct OverrideView {
    id: i64,
    model: String,
    decision: &'static str,
    reason: String,
    created_by: String,
    created: TimeView,
    /// The expiry of an active override; when an ended one ended.
    until: TimeView,
}

/// `GET /admin/overrides`: active overrides, those ended in the last day, the form.
async fn list_page(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
) -> Result<Response, PageError> {
    let Ok(user) = user else {
        return Ok(Redirect::to("/admin/login").into_response());
    };
    let now = state.now();
    let list = state
        .app
        .store
        .list_overrides(200, now)
        .await
        .map_err(internal)?;
    let (mut active, mut ended) = (Vec::new(), Vec::new());
    for o in list {
        let end = o.ended_at.unwrap_or(o.expires_at).min(o.expires_at);
        if !o.active && now - end > RECENT {
            continue;
        }
        let view = OverrideView {
            id: o.id,
            model: o.model,
            decision: if o.enabled { "enabled" } else { "disabled" },
            reason: o.reason,
            created_by: o.created_by,
            created: time(o.created_at),
            until: time(if o.active { o.expires_at } else { end }),
        };
        if o.active {
            active.push(view);
        } else {
            ended.push(view);
        }
    }
    let t = OverridesPage {
        layout: layout("Overrides"),
        csrf: state.auth.csrf_token(&user.session),
        active,
        ended,
        models: state
            .app
            .config
            .models()
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect(),
        durations: &DURATIONS,
    };
    Ok(page(StatusCode::OK, t))
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    model: String,
    /// `enable` or `disable`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    /// A duration such as "1h" (humantime).
    #[serde(default)]
    expires_in: String,
}

/// `POST /admin/overrides`: creates an override (audited `override.create`).
async fn create_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PageForm(form): PageForm<CreateForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    let caller = user.as_caller();
    let now = state.now();
    let enabled = match form.decision.as_str() {
        "enable" => true,
        "disable" => false,
        other => {
            return Err(
                ApiError::field("decision", format!("`{other}`: choose enable or disable")).into(),
            )
        }
    };
    let text = form.expires_in.trim();
    let d = humantime::parse_duration(text).map_err(|e| {
        ApiError::field(
            "expires_in",
            format!("`{text}`: {e} (e.g. \"30m\", \"2h\")"),
        )
    })?;
    let expires_at = expiry_after(now, d);
    create_checked(
        &state,
        &caller,
        &form.model,
        enabled,
        &form.reason,
        expires_at,
        "expires_in",
        now,
    )
    .await?;
    Ok(Redirect::to("/admin/overrides").into_response())
}

/// `POST /admin/overrides/{id}/end`: ends an active override now (audited `override.end`).
async fn end_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    end_checked(&state, &user.as_caller(), id).await?;
    Ok(Redirect::to("/admin/overrides").into_response())
}
