//! Subscriptions as domain types, and the filter that decides which events reach them.

use serde::{Deserialize, Serialize};

/// The event types a subscriber may choose (the public ones).
pub const PUBLIC_EVENTS: [&str; 11] = [
    "model.state_changed",
    "model.degraded",
    "model.disabled",
    "model.restored",
    "incident.created",
    "incident.updated",
    "incident.resolved",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.completed",
    "maintenance.cancelled",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Webhook,
    Email,
}

/// The payload shape a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Our JSON event, signed per Standard Webhooks.
    Native,
    Slack,
    Discord,
    Teams,
    /// PagerDuty Events API v2: trigger on disable, resolve on restore, dedup key per model.
    Pagerduty,
    Email,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Slack => "slack",
            Format::Discord => "discord",
            Format::Teams => "teams",
            Format::Pagerduty => "pagerduty",
            Format::Email => "email",
        }
    }

    /// Formats read by people (an inbox, a chat channel) rather than by programs.
    pub fn for_people(self) -> bool {
        matches!(
            self,
            Format::Email | Format::Slack | Format::Discord | Format::Teams
        )
    }

    pub fn parse(s: &str) -> Option<Format> {
        [
            Format::Native,
            Format::Slack,
            Format::Discord,
            Format::Teams,
            Format::Pagerduty,
            Format::Email,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Email awaiting its confirmation click: nothing is sent before it.
    Pending,
    Active,
    /// Disabled after failing persistently, or by an SRE.
    Disabled,
    Unsubscribed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Active,
            Status::Disabled,
            Status::Unsubscribed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Which events reach a subscription. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub models: Vec<String>,
    pub providers: Vec<String>,
    pub events: Vec<String>,
}

impl Filter {
    /// Whether an event of `kind` about `provider` (and `model`, if it is about one) matches.
    /// Incident events carry no model: they match a model filter when one of the incident's
    /// `affected` models is in it.
    pub fn matches(
        &self,
        kind: &str,
        provider: Option<&str>,
        model: Option<&str>,
        affected: &[String],
    ) -> bool {
        let event_ok = self.events.is_empty() || self.events.iter().any(|e| e == kind);
        let provider_ok = self.providers.is_empty()
            || provider.is_some_and(|p| self.providers.iter().any(|x| x == p));
        let model_ok = self.models.is_empty()
            || model.is_some_and(|m| self.models.iter().any(|x| x == m))
            || (model.is_none() && affected.iter().any(|a| self.models.contains(a)));
        event_ok && provider_ok && model_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_by_event_provider_and_model() {
        let all = Filter::default();
        assert!(all.matches("model.disabled", Some("a"), Some("a/x"), &[]));
        let f = Filter {
            models: vec!["a/x".into()],
            providers: vec![],
            events: vec!["model.disabled".into(), "incident.created".into()],
        };
        assert!(f.matches("model.disabled", Some("a"), Some("a/x"), &[]));
        assert!(!f.matches("model.disabled", Some("a"), Some("a/y"), &[]));
        assert!(!f.matches("model.restored", Some("a"), Some("a/x"), &[]));
        assert!(f.matches("incident.created", Some("a"), None, &["a/x".into()]));
        assert!(!f.matches("incident.created", Some("a"), None, &["a/y".into()]));
        let p = Filter {
            providers: vec!["b".into()],
            ..Filter::default()
        };
        assert!(!p.matches("model.disabled", Some("a"), Some("a/x"), &[]));
        assert!(p.matches("incident.resolved", Some("b"), None, &[]));
    }
}
