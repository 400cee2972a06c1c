//! The HTML side of subscriptions: the `/subscribe` form's result, the confirmation link,
//! one-click unsubscribe (RFC 8058) and the preferences page. Links in emails carry an
//! HMAC token for the subscription, so no token is ever stored in clear.
//!
//! Filters have three lists (providers, models, events), as in the API. The preferences
//! page replaces a stored list only when its form carried that list, so saving never
//! widens a filter the page did not show.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::notify_state::NotifyState;
use super::pages::subscribe::{event_choices, Choice};
use super::pages::Layout;
use super::subscriptions::{parse_filter, subscribe};
use crate::notify::secrets::hash_token;
use crate::vocabulary::Status;
use crate::web::client_ip::ClientIp;

#[derive(Template)]
#[template(path = "public/notice.html")]
struct Notice {
    layout: Layout,
    heading: String,
    paragraphs: Vec<String>,
    /// Values shown once (signing secret, management token).
    shown_once: Vec<(String, String)>,
    button_action: Option<String>,
    button_label: String,
}

#[derive(Template)]
#[template(path = "public/manage.html")]
struct Manage {
    layout: Layout,
    id: String,
    kind: String,
    target: Option<String>,
    status: String,
    action: String,
    unsubscribe: String,
    providers: Vec<Choice>,
    models: Vec<Choice>,
    events: Vec<Choice>,
}

/// The hidden field by which the preferences form says it carries the provider checkboxes
/// (`templates/public/manage.html`). Unticking every provider sends no `providers` at all,
/// the same as a form without them (a page opened before they were added, a hand-made
/// POST); only a form with this field may clear the stored providers.
const PROVIDERS_SHOWN: &str = "providers_shown";

/// Checkboxes for provider ids, ticked when in `checked`.
fn choices<'a>(ids: impl IntoIterator<Item = &'a str>, checked: &[String]) -> Vec<Choice> {
    ids.into_iter()
        .map(|id| Choice {
            value: id.to_string(),
            label: id.to_string(),
            checked: checked.iter().any(|c| c == id),
        })
        .collect()
}

fn page(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "rendering a subscription page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

fn notice(status: StatusCode, heading: &str, paragraphs: Vec<String>) -> Response {
    page(
        status,
        Notice {
            layout: Layout::plain(heading, "subscribe"),
            heading: heading.into(),
            paragraphs,
            shown_once: Vec::new(),
            button_action: None,
            button_label: String::new(),
        },
    )
}

/// The page for an internal failure: the cause is logged, the reader asked to retry.
fn failed(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        vec!["Please try again later.".into()],
    )
}

/// Pairs of a urlencoded body (repeated keys kept, which serde_urlencoded cannot do).
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn all(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// The ticks of `/subscribe`'s provider → models tree as the filter's two lists
/// `(providers, models)`. On the tree a ticked provider stands for all its models and a
/// ticked model for itself, so the choice is their union; a stored filter matches an event
/// only when every non-empty list does, so a choice spanning both lists is written as
/// models alone (the ticked providers' models, configured ones, plus the ticked models).
/// Ticked models of a ticked provider add nothing and are dropped. Unknown ids are passed
/// through untouched so that `parse_filter` refuses them by name.
fn tree_choice(
    providers: Vec<String>,
    models: Vec<String>,
    known: &std::collections::HashSet<String>,
) -> (Vec<String>, Vec<String>) {
    let provider_of = |m: &str| m.split_once('/').map_or("", |(p, _)| p).to_string();
    let models: Vec<String> = models
        .into_iter()
        .filter(|m| !providers.contains(&provider_of(m)))
        .collect();
    let all_known = providers
        .iter()
        .all(|p| known.iter().any(|m| provider_of(m) == *p));
    if providers.is_empty() || models.is_empty() || !all_known {
        return (providers, models);
    }
    let mut covered: Vec<String> = known
        .iter()
        .filter(|m| providers.contains(&provider_of(m)))
        .cloned()
        .collect();
    covered.sort();
    covered.extend(models);
    (Vec::new(), covered)
}

/// `POST /subscriptions/new`: the forms of `/subscribe`.
pub async fn form(
    State(state): State<Arc<NotifyState>>,
    ClientIp(client): ClientIp,
    body: Bytes,
) -> Response {
    if let Err(retry) = state.limiter.check(client) {
        return notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            vec![format!(
                "Please try again in {} minutes.",
                retry.div_ceil(60)
            )],
        );
    }
    let form = pairs(&body);
    let kind = first(&form, "kind").unwrap_or_default();
    // The tree means "any of these": a provider's tick covers its models.
    let (providers, models) =
        tree_choice(all(&form, "providers"), all(&form, "models"), &state.models);
    let filter = match parse_filter(&state, models, providers, all(&form, "events")) {
        Ok(f) => f,
        Err(e) => return notice(e.status, "We could not subscribe you", vec![e.message]),
    };
    let created = subscribe(
        &state,
        &kind,
        first(&form, "url").as_deref(),
        first(&form, "email").as_deref(),
        first(&form, "format").as_deref(),
        first(&form, "routing_key").as_deref(),
        filter,
        Some(client),
    )
    .await;
    match created {
        Err(e) => notice(
            if e.status.is_server_error() {
                e.status
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            "We could not subscribe you",
            vec![e.message],
        ),
        Ok(body) if kind == "email" => notice(
            StatusCode::CREATED,
            "Check your inbox",
            vec![format!(
                "We sent a confirmation link to {}. Nothing else is sent until you click it.",
                body["email"].as_str().unwrap_or("your address")
            )],
        ),
        Ok(body) => {
            let mut shown_once = Vec::new();
            if let Some(secret) = body["secret"].as_str() {
                shown_once.push(("Signing secret".to_string(), secret.to_string()));
            }
            if let Some(token) = body["management_token"].as_str() {
                shown_once.push(("Management token".to_string(), token.to_string()));
            }
            page(
                StatusCode::CREATED,
                Notice {
                    layout: Layout::plain("Webhook subscribed", "subscribe"),
                    heading: "Webhook subscribed".into(),
                    paragraphs: vec![format!(
                        "Subscription {} will receive events at {}.",
                        body["id"].as_str().unwrap_or(""),
                        body["url"].as_str().unwrap_or("")
                    )],
                    shown_once,
                    button_action: None,
                    button_label: String::new(),
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /subscriptions/confirm?token=…`: the link in the confirmation email asks for the
/// click. Mail scanners and link previews follow links; only a person presses the button,
/// so the opt-in is completed by the POST, as unsubscribing is.
pub async fn confirm_page(Query(q): Query<TokenQuery>) -> Response {
    let Some(token) = q.token.filter(|t| !t.trim().is_empty()) else {
        return incomplete_link();
    };
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token.trim())
        .finish();
    page(
        StatusCode::OK,
        Notice {
            layout: Layout::plain("Confirm your subscription", "subscribe"),
            heading: "Confirm your subscription".into(),
            paragraphs: vec![
                "Press the button to start getting emails when the models you chose change state."
                    .into(),
            ],
            shown_once: Vec::new(),
            button_action: Some(format!("/subscriptions/confirm?{query}")),
            button_label: "Confirm".into(),
        },
    )
}

fn incomplete_link() -> Response {
    notice(
        StatusCode::BAD_REQUEST,
        "Link incomplete",
        vec!["The confirmation link has no token; open the link from the email as it is.".into()],
    )
}

/// `POST /subscriptions/confirm?token=…`: the double opt-in, completed.
pub async fn confirm(
    State(state): State<Arc<NotifyState>>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let Some(token) = q.token else {
        return incomplete_link();
    };
    match state
        .store
        .confirm_subscription(&hash_token(token.trim()), state.now())
        .await
    {
        Ok(Some(sub)) => notice(
            StatusCode::OK,
            "Subscription confirmed",
            vec![format!(
                "You will get emails at {} when the models you chose change state.",
                sub.email.unwrap_or_default()
            )],
        ),
        Ok(None) => notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            vec!["This confirmation link is unknown or was already used.".into()],
        ),
        Err(e) => failed("confirming a subscription failed", &e),
    }
}

fn authorised(state: &NotifyState, purpose: &str, id: &str, token: &Option<String>) -> bool {
    token
        .as_deref()
        .is_some_and(|t| state.secrets.check_link_token(purpose, id, t))
}

/// `GET /subscriptions/{id}/unsubscribe?token=…`: asks for the click (link scanners GET
/// links; unsubscribing needs the POST).
pub async fn unsubscribe_page(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !authorised(&state, "unsubscribe", &id, &q.token) {
        return notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            vec!["This unsubscribe link is not valid.".into()],
        );
    }
    page(
        StatusCode::OK,
        Notice {
            layout: Layout::plain("Unsubscribe", "subscribe"),
            heading: "Unsubscribe".into(),
            paragraphs: vec!["Stop all emails for this subscription?".into()],
            shown_once: Vec::new(),
            button_action: Some(format!(
                "/subscriptions/{id}/unsubscribe?token={}",
                q.token.unwrap_or_default()
            )),
            button_label: "Unsubscribe".into(),
        },
    )
}

/// `POST /subscriptions/{id}/unsubscribe?token=…`: RFC 8058 one-click (the mail client posts
/// `List-Unsubscribe=One-Click`), or the page's button.
pub async fn unsubscribe(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !authorised(&state, "unsubscribe", &id, &q.token) {
        return notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            vec!["This unsubscribe link is not valid.".into()],
        );
    }
    match state
        .store
        .set_subscription_status(
            &id,
            Status::Unsubscribed,
            Some("unsubscribed by link"),
            state.now(),
        )
        .await
    {
        Ok(()) => notice(
            StatusCode::OK,
            "Unsubscribed",
            vec!["You will not receive further emails for this subscription.".into()],
        ),
        Err(e) => failed("unsubscribing failed", &e),
    }
}

/// `GET /subscriptions/{id}/manage?token=…`: the preferences form.
pub async fn manage_page(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !authorised(&state, "manage", &id, &q.token) {
        return notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            vec!["This preferences link is not valid.".into()],
        );
    }
    let Ok(Some(sub)) = state.store.subscription(&id).await else {
        return notice(
            StatusCode::NOT_FOUND,
            "Not found",
            vec![format!("There is no subscription {id}.")],
        );
    };
    let token = q.token.unwrap_or_default();
    let mut models: Vec<String> = state.models.iter().cloned().collect();
    models.sort();
    let mut providers: Vec<&str> = state.providers.iter().map(String::as_str).collect();
    providers.sort_unstable();
    page(
        StatusCode::OK,
        Manage {
            layout: Layout::plain("Your subscription", "subscribe"),
            kind: format!("{:?}", sub.kind).to_lowercase(),
            target: sub.email.clone().or(sub.url.clone()),
            status: sub.status.as_str().into(),
            action: format!("/subscriptions/{id}/manage?token={token}"),
            unsubscribe: format!(
                "/subscriptions/{id}/unsubscribe?token={}",
                state.secrets.link_token("unsubscribe", &id)
            ),
            providers: choices(providers, &sub.filter.providers),
            models: models
                .into_iter()
                .map(|m| Choice {
                    checked: sub.filter.models.contains(&m),
                    label: m.clone(),
                    value: m,
                })
                .collect(),
            events: event_choices(&sub.filter.events),
            id,
        },
    )
}

/// `POST /subscriptions/{id}/manage?token=…`: saves the preferences.
pub async fn manage(
    State(state): State<Arc<NotifyState>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    body: Bytes,
) -> Response {
    if !authorised(&state, "manage", &id, &q.token) {
        return notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            vec!["This preferences link is not valid.".into()],
        );
    }
    let sub = match state.store.subscription(&id).await {
        Ok(Some(sub)) => sub,
        Ok(None) => {
            return notice(
                StatusCode::NOT_FOUND,
                "Not found",
                vec![format!("There is no subscription {id}.")],
            )
        }
        Err(e) => return failed("loading a subscription failed", &e),
    };
    let form = pairs(&body);
    let shows_providers = form.iter().any(|(k, _)| k == PROVIDERS_SHOWN);
    let mut filter = match parse_filter(
        &state,
        all(&form, "models"),
        if shows_providers {
            all(&form, "providers")
        } else {
            Vec::new()
        },
        all(&form, "events"),
    ) {
        Ok(f) => f,
        Err(e) => {
            return notice(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Preferences not saved",
                vec![e.message],
            )
        }
    };
    if !shows_providers {
        // Kept as stored, unvalidated: a provider since removed from the configuration
        // must not make the rest of the form impossible to save.
        filter.providers = sub.filter.providers;
    }
    match state.store.update_filter(&id, &filter).await {
        Ok(()) => notice(
            StatusCode::OK,
            "Preferences saved",
            vec![
                "Your subscription now follows the providers, models and events you chose.".into(),
            ],
        ),
        Err(e) => failed("saving preferences failed", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::tree_choice;

    /// Ticked providers, ticked models, then the stored providers and models.
    type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a [&'a str]);

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_tree_s_ticks_become_the_filter_that_means_the_same() {
        let known = strings(&["a/one", "a/two", "b/three"])
            .into_iter()
            .collect();
        let cases: &[Case] = &[
            (&[], &[], &[], &[]),
            (&["a"], &[], &["a"], &[]),
            (&[], &["a/one", "b/three"], &[], &["a/one", "b/three"]),
            // A ticked provider already covers its models.
            (&["a"], &["a/one"], &["a"], &[]),
            // Across providers: the union, as models (an event must match every list).
            (&["a"], &["b/three"], &[], &["a/one", "a/two", "b/three"]),
            (&["b"], &["a/two", "b/three"], &[], &["b/three", "a/two"]),
            // Unknown ids stay, for `parse_filter` to refuse by name.
            (&["nosuch"], &["a/one"], &["nosuch"], &["a/one"]),
            (&["a"], &["x/y"], &[], &["a/one", "a/two", "x/y"]),
        ];
        for (providers, models, want_p, want_m) in cases {
            let got = tree_choice(strings(providers), strings(models), &known);
            assert_eq!(
                got,
                (strings(want_p), strings(want_m)),
                "{providers:?} {models:?}"
            );
        }
    }
}
