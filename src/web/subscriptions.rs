//! The public subscription API: `POST /api/v1/subscriptions`, and the management API a
//! subscriber reaches with the management token it was given (`Authorization: Bearer`).
//!
//! Input is parsed into domain types at the edge; every refusal says which field and why
//! (400 for malformed JSON, 422 for a value we cannot accept, 429 past the per-client limit).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tracing::{error, info};

use crate::notify::dispatcher::links;
use crate::notify::email;
use crate::notify::secrets::{hash_token, new_id, new_token};
use crate::notify::signing::new_secret;
use crate::store::subscriptions::{NewSubscription, Subscription};
use crate::vocabulary::{Filter, Format, Kind, Status, PUBLIC_EVENTS};
use crate::web::client_ip::ClientIp;
use crate::web::http::credentials::bearer_token;
use crate::web::http::ApiError;
use crate::web::notify_state::NotifyState;

/// How long a rotated-out secret keeps signing alongside the new one.
pub const ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);
/// PagerDuty's Events API v2 endpoint, the default URL of `pagerduty` subscriptions.
const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The JSON a client sends to subscribe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    pub kind: String,
    pub url: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub providers: Vec<String>,
    #[serde(default)]
    pub events: Vec<String>,
    pub format: Option<String>,
    /// PagerDuty's integration (routing) key, for `format = "pagerduty"`.
    pub routing_key: Option<String>,
}

/// Validates a filter against the configuration, naming the first bad entry.
pub fn parse_filter(
    state: &NotifyState,
    models: Vec<String>,
    providers: Vec<String>,
    events: Vec<String>,
) -> Result<Filter, ApiError> {
    for (field, list) in [
        ("models", &models),
        ("providers", &providers),
        ("events", &events),
    ] {
        if list.len() > MAX_FILTER_ENTRIES {
            return Err(ApiError::field(
                field,
                format!(
                    "at most {MAX_FILTER_ENTRIES} entries (got {}); an empty list means all",
                    list.len()
                ),
            ));
        }
    }
    let (models, providers, events) = (dedup(models), dedup(providers), dedup(events));
    for (i, m) in models.iter().enumerate() {
        if !state.models.contains(m) {
            return Err(ApiError::field(
                "models",
                format!("models[{i}] `{m}` is not a configured model (use `provider/model`)"),
            ));
        }
    }
    for (i, p) in providers.iter().enumerate() {
        if !state.providers.contains(p) {
            return Err(ApiError::field(
                "providers",
                format!("providers[{i}] `{p}` is not a configured provider"),
            ));
        }
    }
    for (i, e) in events.iter().enumerate() {
        if !PUBLIC_EVENTS.contains(&e.as_str()) {
            return Err(ApiError::field(
                "events",
                format!(
                    "events[{i}] `{e}` is not an event type; use one of {}",
                    PUBLIC_EVENTS.join(", ")
                ),
            ));
        }
    }
    Ok(Filter {
        models,
        providers,
        events,
    })
}

/// The longest filter list accepted (before duplicates are dropped).
pub const MAX_FILTER_ENTRIES: usize = 1000;

/// `list` without repeats, in first-seen order.
fn dedup(list: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    list.into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// A failure of ours while serving a subscriber: logged, and answered without detail.
fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal("subscription request failed", e)
}

/// The longest webhook URL accepted; real endpoints are far shorter.
const MAX_URL_LEN: usize = 2048;

fn parse_email(field: &'static str, text: &str) -> Result<String, ApiError> {
    crate::notify::email::address::parse(text).map_err(|why| ApiError::field(field, why))
}

/// `POST /api/v1/subscriptions`.
pub async fn create(
    State(state): State<Arc<NotifyState>>,
    ClientIp(client): ClientIp,
    body: Result<Json<SubscribeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    if let Err(retry) = state.limiter.check(client) {
        let mut r = ApiError::status(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many subscription requests from your address; retry in {retry} s"),
        )
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, retry.into());
        return Ok(r);
    }
    let Json(req) = body.map_err(|e| {
        ApiError::status(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {}", e.body_text()),
        )
    })?;
    let filter = parse_filter(&state, req.models, req.providers, req.events)?;
    let created = subscribe(
        &state,
        &req.kind,
        req.url.as_deref(),
        req.email.as_deref(),
        req.format.as_deref(),
        req.routing_key.as_deref(),
        filter,
        Some(client),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Creates a subscription (shared by the JSON API and the page's form). Returns the body
/// to show once: id, management token and, for native webhooks, the signing secret.
#[allow(clippy::too_many_arguments)]
pub async fn subscribe(
    state: &NotifyState,
    kind: &str,
    url: Option<&str>,
    email_addr: Option<&str>,
    format: Option<&str>,
    routing_key: Option<&str>,
    filter: Filter,
    client: Option<IpAddr>,
) -> Result<serde_json::Value, ApiError> {
    let now = state.now();
    let id = new_id("sub_");
    let manage_token = new_token("mgt_");
    match kind {
        "webhook" => {
            let format = match format {
                None => Format::Native,
                Some(f) => Format::parse(f).filter(|f| *f != Format::Email).ok_or_else(|| {
                    ApiError::field("format", format!("`{f}` is not a webhook format; use native, slack, discord, teams or pagerduty"))
                })?,
            };
            let url = match (url, format) {
                // Characters, not bytes, as the OpenAPI document's `maxLength` counts.
                (Some(u), _) if u.chars().count() > MAX_URL_LEN => {
                    return Err(ApiError::field(
                        "url",
                        format!("the URL is longer than {MAX_URL_LEN} characters"),
                    ))
                }
                (Some(u), _) => u.trim().to_string(),
                (None, Format::Pagerduty) => PAGERDUTY_URL.to_string(),
                (None, _) => {
                    return Err(ApiError::field("url", "a webhook subscription needs `url`"))
                }
            };
            let parsed = state
                .guard
                .check_url(&url)
                .map_err(|r| ApiError::field("url", r.to_string()))?;
            state
                .guard
                .resolve(&parsed)
                .await
                .map_err(|r| ApiError::field("url", r.to_string()))?;
            let owner = email_addr.map(|e| parse_email("email", e)).transpose()?;
            let secret = match format {
                Format::Pagerduty => {
                    let key = routing_key
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| {
                            ApiError::field(
                                "routing_key",
                                "a pagerduty subscription needs `routing_key`",
                            )
                        })?;
                    crate::config::Secret::new(key)
                }
                _ => new_secret(),
            };
            state
                .store
                .insert_subscription(&NewSubscription {
                    id: id.clone(),
                    kind: Kind::Webhook,
                    format,
                    url: Some(url.clone()),
                    email: owner.clone(),
                    filter: filter.clone(),
                    status: Status::Active,
                    secret_enc: Some(state.secrets.seal(&secret)),
                    manage_token_hash: hash_token(manage_token.expose()),
                    confirm_token_hash: None,
                    client_addr: client.map(|c| c.to_string()),
                    created_at: now,
                })
                .await
                .map_err(internal)?;
            info!(subscription = %id, format = format.as_str(), "webhook subscription created");
            let mut body = json!({
                "id": id, "kind": "webhook", "status": "active", "format": format.as_str(), "url": url, "email": owner,
                "models": filter.models, "providers": filter.providers, "events": filter.events,
                "management_token": manage_token.expose(), "created_at": now,
            });
            if format == Format::Native {
                body["secret"] = json!(secret.expose());
            }
            Ok(body)
        }
        "email" => {
            if url.is_some() {
                return Err(ApiError::field(
                    "url",
                    "`url` is for webhook subscriptions; an email subscription takes `email`",
                ));
            }
            let address = parse_email(
                "email",
                email_addr.ok_or_else(|| {
                    ApiError::field("email", "an email subscription needs `email`")
                })?,
            )?;
            let confirm = new_token("cfm_");
            state
                .store
                .insert_subscription(&NewSubscription {
                    id: id.clone(),
                    kind: Kind::Email,
                    format: Format::Email,
                    url: None,
                    email: Some(address.clone()),
                    filter: filter.clone(),
                    status: Status::Pending,
                    secret_enc: None,
                    manage_token_hash: hash_token(manage_token.expose()),
                    confirm_token_hash: Some(hash_token(confirm.expose())),
                    client_addr: client.map(|c| c.to_string()),
                    created_at: now,
                })
                .await
                .map_err(internal)?;
            let mut l = links(&state.base_url, &state.secrets, &id);
            l.confirm = Some(format!(
                "{}/subscriptions/confirm?token={}",
                state.base_url,
                confirm.expose()
            ));
            let sent = match email::confirmation(&state.config.email_from, &address, &l) {
                Ok(message) => state.mailer.send(message).await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                error!(subscription = %id, error = %e, "could not send the confirmation email");
                let _ = state
                    .store
                    .set_subscription_status(
                        &id,
                        Status::Unsubscribed,
                        Some("confirmation email failed"),
                        now,
                    )
                    .await;
                return Err(ApiError::status(
                    StatusCode::BAD_GATEWAY,
                    "the confirmation email could not be sent; try again later",
                ));
            }
            info!(subscription = %id, "email subscription pending confirmation");
            Ok(json!({
                "id": id, "kind": "email", "status": "pending", "email": address,
                "models": filter.models, "providers": filter.providers, "events": filter.events,
                "management_token": manage_token.expose(), "created_at": now,
                "message": "check your inbox: nothing is sent before you confirm",
            }))
        }
        other => Err(ApiError::field(
            "kind",
            format!("`{other}` is not a subscription kind; use \"webhook\" or \"email\""),
        )),
    }
}

/// The subscription the bearer's management token belongs to, if it is `id`.
async fn authorised(
    state: &NotifyState,
    headers: &HeaderMap,
    id: &str,
) -> Result<Subscription, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or_else(|| {
            ApiError::status(
                StatusCode::UNAUTHORIZED,
                "send the management token as `Authorization: Bearer TOKEN`",
            )
        })?;
    match state
        .store
        .subscription_by_manage_token(&hash_token(token.trim()))
        .await
        .map_err(internal)?
    {
        Some(s) if s.id == id => Ok(s),
        _ => Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no subscription `{id}` for this token"),
        )),
    }
}

/// Middleware for the subscription API and pages: their answers carry signing secrets,
/// management tokens, or pages reached by a tokened link, so no cache keeps them and no
/// link followed from them passes the token on in a `Referer`.
pub async fn private_responses(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Refuses (409) changes to a subscription that was deleted or disabled: nothing would be
/// sent, so accepting them would only mislead (the admin API answers the same).
fn still_live(s: &Subscription) -> Result<(), ApiError> {
    match s.status {
        Status::Active | Status::Pending => Ok(()),
        other => Err(ApiError::status(
            StatusCode::CONFLICT,
            format!("subscription `{}` is {}", s.id, other.as_str()),
        )),
    }
}

fn describe(s: &Subscription) -> serde_json::Value {
    json!({
        "id": s.id, "kind": s.kind, "format": s.format.as_str(), "status": s.status.as_str(), "url": s.url, "email": s.email,
        "models": s.filter.models, "providers": s.filter.providers, "events": s.filter.events,
        "created_at": s.created_at, "confirmed_at": s.confirmed_at, "disabled_at": s.disabled_at, "disabled_reason": s.disabled_reason,
    })
}

/// `GET /api/v1/subscriptions/{id}`.
pub async fn show(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(describe(&authorised(&state, &headers, &id).await?)))
}

/// `DELETE /api/v1/subscriptions/{id}`.
pub async fn delete(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorised(&state, &headers, &id).await?;
    state
        .store
        .set_subscription_status(
            &id,
            Status::Unsubscribed,
            Some("deleted by its owner"),
            state.now(),
        )
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/subscriptions/{id}/rotate-secret`: a new secret, shown once; the old one
/// keeps signing (alongside) for [`ROTATION_GRACE`].
pub async fn rotate(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sub = authorised(&state, &headers, &id).await?;
    still_live(&sub)?;
    if sub.format != Format::Native {
        return Err(ApiError::status(
            StatusCode::CONFLICT,
            "only native webhooks are signed; nothing to rotate",
        ));
    }
    let secret = new_secret();
    let until = state.now() + chrono::Duration::from_std(ROTATION_GRACE).unwrap_or_default();
    state
        .store
        .rotate_secret(
            &id,
            &state.secrets.seal(&secret),
            sub.secret_enc.as_deref(),
            until,
        )
        .await
        .map_err(internal)?;
    Ok(Json(
        json!({ "id": id, "secret": secret.expose(), "previous_secret_valid_until": until }),
    ))
}

/// `GET /api/v1/subscriptions/{id}/deliveries`: the delivery log.
pub async fn deliveries(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorised(&state, &headers, &id).await?;
    let log = state.store.delivery_log(&id, 200).await.map_err(internal)?;
    Ok(Json(json!({ "subscription": id, "deliveries": log })))
}

/// `POST /api/v1/subscriptions/{id}/deliveries/{delivery}/redeliver`.
pub async fn redeliver(
    State(state): State<Arc<NotifyState>>,
    Path((id, delivery)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    // The token is checked before the path is judged: without it, a caller learns nothing.
    let sub = authorised(&state, &headers, &id).await?;
    let delivery: i64 = delivery.parse().map_err(|_| {
        ApiError::status(
            StatusCode::BAD_REQUEST,
            format!(
                "path parameter `delivery` must be an integer, not `{}`",
                delivery.chars().take(100).collect::<String>()
            ),
        )
    })?;
    still_live(&sub)?;
    if state
        .store
        .redeliver(&id, delivery, state.now())
        .await
        .map_err(internal)?
    {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no delivery {delivery} for subscription `{id}`"),
        ))
    }
}
