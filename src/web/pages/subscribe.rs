//! `/subscribe`: the sign-up forms (email with double opt-in, and webhooks), plus the feeds.
//! The forms post to `/subscriptions/new`, handled in [`crate::web::subscribe_pages`].

use askama::Template;

use super::incident::render_failed;
use super::Layout;
use crate::vocabulary::PUBLIC_EVENTS;
use crate::web::snapshot::PublicSnapshot;

/// A model as a checkbox.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "public/subscribe.html")]
pub struct SubscribePage {
    pub layout: Layout,
    pub providers: Vec<Choice>,
    pub models: Vec<Choice>,
    pub events: Vec<Choice>,
}

/// Checkboxes for every provider of the snapshot.
pub fn provider_choices(snapshot: &PublicSnapshot) -> Vec<Choice> {
    snapshot
        .providers
        .iter()
        .map(|p| Choice {
            value: p.id.clone(),
            label: format!("{} ({})", p.name, p.id),
            checked: false,
        })
        .collect()
}

/// Checkboxes for every model of the snapshot.
pub fn model_choices(snapshot: &PublicSnapshot, checked: &[String]) -> Vec<Choice> {
    snapshot
        .models()
        .map(|m| Choice {
            value: m.id.clone(),
            label: format!("{} ({})", m.name, m.id),
            checked: checked.contains(&m.id),
        })
        .collect()
}

/// Checkboxes for every public event type.
pub fn event_choices(checked: &[String]) -> Vec<Choice> {
    PUBLIC_EVENTS
        .iter()
        .map(|e| Choice {
            value: e.to_string(),
            label: e.to_string(),
            checked: checked.iter().any(|c| c == e),
        })
        .collect()
}

pub fn render(snapshot: &PublicSnapshot) -> String {
    let page = SubscribePage {
        layout: Layout::new(
            snapshot,
            "Subscribe to updates",
            format!(
                "Get {} updates by email, webhook or feed",
                snapshot.page_name
            ),
            "subscribe",
        ),
        providers: provider_choices(snapshot),
        models: model_choices(snapshot, &[]),
        events: event_choices(&[]),
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}
