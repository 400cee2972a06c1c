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

/// A provider and its models, as one branch of the component tree a subscriber picks from
/// (as Statuspage's subscribe form does): ticking the provider means all its models.
#[derive(Debug, Clone)]
pub struct ProviderBranch {
    pub provider: Choice,
    pub models: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "public/subscribe.html")]
pub struct SubscribePage {
    pub layout: Layout,
    pub tree: Vec<ProviderBranch>,
    pub events: Vec<Choice>,
}

/// The component tree: every provider with its models, labelled by their display names (the
/// ids are the values sent).
pub fn component_tree(snapshot: &PublicSnapshot) -> Vec<ProviderBranch> {
    snapshot
        .providers
        .iter()
        .map(|p| ProviderBranch {
            provider: Choice {
                value: p.id.clone(),
                label: p.name.clone(),
                checked: false,
            },
            models: p
                .models
                .iter()
                .map(|m| Choice {
                    value: m.id.clone(),
                    label: m.name.clone(),
                    checked: false,
                })
                .collect(),
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
        tree: component_tree(snapshot),
        events: event_choices(&[]),
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}
