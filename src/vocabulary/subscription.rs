//! Subscriptions as domain types: what is subscribed (kind), how it is told (format), where
//! it stands (status), and what it asked to hear (filter; matched by `notify::fan_out`).

use serde::{Deserialize, Serialize};

/// The event types a subscriber may choose: every type (each can be public).
pub const PUBLIC_EVENTS: [&str; 12] = super::event::EVENT_TYPES;

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
