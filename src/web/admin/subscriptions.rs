//! Subscriptions and their deliveries for SREs: the JSON API under
//! `/api/v1/admin/subscriptions` (scope `read` to read, `operate` to change) and the page
//! `/admin/subscriptions` (signed in, CSRF-checked forms). Every change is audited.
//!
//! Nothing secret leaves here: signing secrets and token hashes are never serialised, and
//! webhook URLs (Slack and Discord carry their credential in the path) are shown as
//! `scheme://host/…` plus the path's last four characters, without query or user info.
//!
//! - `GET /api/v1/admin/subscriptions`
//! - `POST /api/v1/admin/subscriptions/{id}/disable` `{reason?}`
//! - `POST /api/v1/admin/subscriptions/{id}/enable` (clears `failing_since`)
//! - `GET /api/v1/admin/subscriptions/{id}/deliveries`
//! - `POST /api/v1/admin/subscriptions/{id}/deliveries/{delivery}/redeliver` (202)

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{AdminState, AdminUser, ApiCaller};
use super::page::{check_csrf, layout, page, CsrfForm, PageError, PageForm, PagePath, PageUser};
use super::{audit, internal};
use crate::admin::Scope;
use crate::store::deliveries::DeliveryLog;
use crate::store::subscriptions::Subscription;
use crate::vocabulary::{Kind, Status};
use crate::web::http::rejections::{body_error, ApiPath};
use crate::web::http::ApiError;
use crate::web::pages::{time, TimeView};

const LIST_LIMIT: i64 = 500;
const LOG_LIMIT: i64 = 200;
/// The longest reason for disabling accepted (the OpenAPI document states it).
pub const MAX_REASON: usize = 500;

pub(super) fn api_routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/admin/subscriptions", get(api_list))
        .route(
            "/api/v1/admin/subscriptions/{id}/disable",
            post(api_disable),
        )
        .route("/api/v1/admin/subscriptions/{id}/enable", post(api_enable))
        .route(
            "/api/v1/admin/subscriptions/{id}/deliveries",
            get(api_deliveries),
        )
        .route(
            "/api/v1/admin/subscriptions/{id}/deliveries/{delivery}/redeliver",
            post(api_redeliver),
        )
}

pub(super) fn page_routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/admin/subscriptions", get(list_page))
        .route("/admin/subscriptions/{id}/disable", post(disable_form))
        .route("/admin/subscriptions/{id}/enable", post(enable_form))
        .route(
            "/admin/subscriptions/{id}/deliveries/{delivery}/redeliver",
            post(redeliver_form),
        )
}

/// A webhook URL fit to show: `scheme://host[:port]/…` and the path's last four characters
/// (when the path is long enough that they do not give it away). Never the query, the
/// fragment or user info.
pub(crate) fn masked_url(url: &str) -> String {
    let Ok(u) = reqwest::Url::parse(url) else {
        return "(unparsable URL)".into();
    };
    let host = u.host_str().unwrap_or("");
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path: Vec<char> = u.path().trim_start_matches('/').chars().collect();
    let tail: String = if path.len() >= 12 {
        path[path.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    format!("{}://{host}{port}/…{tail}", u.scheme())
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::Webhook => "webhook",
        Kind::Email => "email",
    }
}

/// The admin view of a subscription: no secrets, no token hashes, the URL masked.
fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": s.id,
        "kind": kind_str(s.kind),
        "format": s.format.as_str(),
        "url": s.url.as_deref().map(masked_url),
        "email": s.email,
        "status": s.status.as_str(),
        "filter": s.filter,
        "created_at": s.created_at,
        "confirmed_at": s.confirmed_at,
        "failing_since": s.failing_since,
        "disabled_at": s.disabled_at,
        "disabled_reason": s.disabled_reason,
    })
}

async fn load(state: &AdminState, id: &str) -> Result<Subscription, ApiError> {
    state
        .app
        .store
        .subscription(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::status(StatusCode::NOT_FOUND, format!("no subscription `{id}`")))
}

async fn do_disable(
    state: &AdminState,
    caller: &ApiCaller,
    id: &str,
    reason: Option<String>,
) -> Result<Value, ApiError> {
    // The length counts what was sent, as the OpenAPI document's `maxLength` does.
    let sent = reason.as_deref().map_or(0, |r| r.chars().count());
    let reason = reason.map(|r| r.trim().to_string()).unwrap_or_default();
    if sent > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::field(
            "reason",
            format!("at most {MAX_REASON} characters, on one line"),
        ));
    }
    let sub = load(state, id).await?;
    if !matches!(sub.status, Status::Active | Status::Pending) {
        return Err(ApiError::status(
            StatusCode::CONFLICT,
            format!("subscription `{id}` is already {}", sub.status.as_str()),
        ));
    }
    // The subscriber reads this reason too, so it names no person; who did it is in the
    // audit log.
    let stored = if reason.is_empty() {
        "disabled by the status page's operators".to_string()
    } else {
        format!("disabled by the status page's operators: {reason}")
    };
    let now = state.now();
    state
        .app
        .store
        .set_subscription_status(id, Status::Disabled, Some(&stored), now)
        .await
        .map_err(internal)?;
    audit(
        state,
        caller,
        "subscription.disable",
        id,
        json!({ "from": sub.status.as_str(), "reason": reason }),
    )
    .await?;
    Ok(subscription_json(&load(state, id).await?))
}

async fn do_enable(state: &AdminState, caller: &ApiCaller, id: &str) -> Result<Value, ApiError> {
    let sub = load(state, id).await?;
    if sub.status != Status::Disabled {
        return Err(ApiError::status(
            StatusCode::CONFLICT,
            format!(
                "subscription `{id}` is {}; only a disabled subscription can be re-enabled",
                sub.status.as_str()
            ),
        ));
    }
    if sub.kind == Kind::Email && sub.confirmed_at.is_none() {
        return Err(ApiError::status(
            StatusCode::CONFLICT,
            format!("subscription `{id}` was never confirmed by its owner"),
        ));
    }
    // Active clears `failing_since` and the disabled time and reason.
    state
        .app
        .store
        .set_subscription_status(id, Status::Active, None, state.now())
        .await
        .map_err(internal)?;
    audit(
        state,
        caller,
        "subscription.enable",
        id,
        json!({ "previous_reason": sub.disabled_reason, "failing_since": sub.failing_since }),
    )
    .await?;
    // Pending deliveries of the subscription are due again.
    state.app.announced.notify_one();
    Ok(subscription_json(&load(state, id).await?))
}

async fn do_redeliver(
    state: &AdminState,
    caller: &ApiCaller,
    id: &str,
    delivery: i64,
) -> Result<(), ApiError> {
    let sub = load(state, id).await?;
    if sub.status != Status::Active {
        return Err(ApiError::status(
            StatusCode::CONFLICT,
            format!(
                "subscription `{id}` is {}; re-enable it before redelivering",
                sub.status.as_str()
            ),
        ));
    }
    if !state
        .app
        .store
        .redeliver(id, delivery, state.now())
        .await
        .map_err(internal)?
    {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no delivery {delivery} for subscription `{id}`"),
        ));
    }
    audit(
        state,
        caller,
        "subscription.redeliver",
        id,
        json!({ "delivery": delivery }),
    )
    .await?;
    state.app.announced.notify_one();
    Ok(())
}

async fn log_of(state: &AdminState, id: &str) -> Result<Vec<DeliveryLog>, ApiError> {
    state
        .app
        .store
        .delivery_log(id, LOG_LIMIT)
        .await
        .map_err(internal)
}

/// `GET /api/v1/admin/subscriptions` (read): newest first.
async fn api_list(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let list = state
        .app
        .store
        .list_subscriptions(LIST_LIMIT)
        .await
        .map_err(internal)?;
    let list: Vec<Value> = list.iter().map(subscription_json).collect();
    Ok(Json(json!({ "subscriptions": list })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DisableBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/admin/subscriptions/{id}/disable` (operate), with an optional
/// `{"reason": "…"}` body.
async fn api_disable(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Operate)?;
    let body = body.map_err(body_error)?;
    let req: DisableBody = if body.iter().all(u8::is_ascii_whitespace) {
        DisableBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::status(
                StatusCode::BAD_REQUEST,
                format!("invalid JSON body: {e} (expected {{\"reason\": \"…\"}})"),
            )
        })?
    };
    Ok(Json(do_disable(&state, &caller, &id, req.reason).await?))
}

/// `POST /api/v1/admin/subscriptions/{id}/enable` (operate).
async fn api_enable(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Operate)?;
    Ok(Json(do_enable(&state, &caller, &id).await?))
}

/// `GET /api/v1/admin/subscriptions/{id}/deliveries` (read): the newest deliveries.
async fn api_deliveries(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    load(&state, &id).await?;
    let log = log_of(&state, &id).await?;
    Ok(Json(json!({ "subscription": id, "deliveries": log })))
}

/// `POST /api/v1/admin/subscriptions/{id}/deliveries/{delivery}/redeliver` (operate): 202.
async fn api_redeliver(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath((id, delivery)): ApiPath<(String, i64)>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    do_redeliver(&state, &caller, &id, delivery).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "subscription": id, "delivery": delivery, "status": "pending" })),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "admin/subscriptions.html")]
struct ListPage {
    layout: crate::web::pages::Layout,
    csrf: String,
    subscriptions: Vec<SubRow>,
    shown: Option<Shown>,
}

struct SubRow {
    id: String,
    kind: &'static str,
    format: &'static str,
    target: String,
    status: &'static str,
    filter: String,
    failing_since: Option<TimeView>,
    disabled_reason: String,
    can_disable: bool,
    can_enable: bool,
}

struct Shown {
    id: String,
    active: bool,
    deliveries: Vec<LogRow>,
}

struct LogRow {
    id: i64,
    event_type: String,
    status: String,
    attempts: u32,
    created: TimeView,
    last: String,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    deliveries: Option<String>,
}

fn filter_text(s: &Subscription) -> String {
    let part = |name: &str, list: &[String]| {
        (!list.is_empty()).then(|| format!("{name}: {}", list.join(", ")))
    };
    let parts: Vec<String> = [
        part("models", &s.filter.models),
        part("providers", &s.filter.providers),
        part("events", &s.filter.events),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join("; ")
    }
}

/// `GET /admin/subscriptions[?deliveries=ID]`: every subscription, and one's delivery log.
async fn list_page(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let Ok(user) = user else {
        return Ok(Redirect::to("/admin/login").into_response());
    };
    let list = state
        .app
        .store
        .list_subscriptions(LIST_LIMIT)
        .await
        .map_err(internal)?;
    let shown = match q.deliveries.filter(|d| !d.is_empty()) {
        Some(id) => {
            let sub = load(&state, &id).await?;
            let log = log_of(&state, &id).await?;
            Some(Shown {
                active: sub.status == Status::Active,
                id,
                deliveries: log
                    .into_iter()
                    .map(|d| LogRow {
                        id: d.id,
                        event_type: d.event_type,
                        status: d.status,
                        attempts: d.attempts,
                        created: time(d.created_at),
                        last: match (d.last_status_code, d.last_error) {
                            (_, Some(e)) => e,
                            (Some(c), None) => format!("HTTP {c}"),
                            (None, None) => "-".into(),
                        },
                    })
                    .collect(),
            })
        }
        None => None,
    };
    let t = ListPage {
        layout: layout("Subscriptions"),
        csrf: state.auth.csrf_token(&user.session),
        subscriptions: list
            .iter()
            .map(|s| SubRow {
                id: s.id.clone(),
                kind: kind_str(s.kind),
                format: s.format.as_str(),
                target: match (&s.url, &s.email) {
                    (Some(u), _) => masked_url(u),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "-".into(),
                },
                status: s.status.as_str(),
                filter: filter_text(s),
                failing_since: s.failing_since.map(time),
                disabled_reason: s.disabled_reason.clone().unwrap_or_default(),
                can_disable: matches!(s.status, Status::Active | Status::Pending),
                can_enable: s.status == Status::Disabled,
            })
            .collect(),
        shown,
    };
    Ok(page(StatusCode::OK, t))
}

#[derive(Deserialize)]
struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

fn back(id: Option<&str>) -> Response {
    match id {
        Some(id) => Redirect::to(&format!(
            "/admin/subscriptions?deliveries={}",
            urlencoding(id)
        ))
        .into_response(),
        None => Redirect::to("/admin/subscriptions").into_response(),
    }
}

/// Subscription ids are generated (`sub_` and URL-safe characters); anything else is
/// percent-encoded so a redirect can never be steered.
fn urlencoding(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn disable_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<String>,
    PageForm(form): PageForm<DisableForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    do_disable(&state, &user.as_caller(), &id, Some(form.reason)).await?;
    Ok(back(None))
}

async fn enable_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    do_enable(&state, &user.as_caller(), &id).await?;
    Ok(back(None))
}

async fn redeliver_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath((id, delivery)): PagePath<(String, i64)>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    do_redeliver(&state, &user.as_caller(), &id, delivery).await?;
    Ok(back(Some(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_secrets() {
        assert_eq!(
            masked_url("https://hooks.slack.com/services/T000/B000/XXXXsecretABCD"),
            "https://hooks.slack.com/…ABCD"
        );
        assert_eq!(
            masked_url("https://user:pw@example.com:8443/hook?token=abc#frag"),
            "https://example.com:8443/…"
        );
        assert_eq!(
            masked_url("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9/…"
        );
        assert_eq!(masked_url("not a url"), "(unparsable URL)");
        assert_eq!(urlencoding("sub_a-B9"), "sub_a-B9");
        assert_eq!(urlencoding("a/../b"), "a%2F%2E%2E%2Fb");
    }
}
