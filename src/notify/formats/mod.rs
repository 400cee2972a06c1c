//! One payload builder per channel: the same event, shaped as each receiver expects it.
//!
//! - [`native`]: the event JSON itself (signed by the dispatcher per Standard Webhooks);
//! - [`slack`], [`discord`], [`teams`]: chat messages built from one shared [`text::Summary`],
//!   so every channel says the same thing in the same words;
//! - [`pagerduty`]: Events API v2, which only knows alerts that open and close.
//!
//! Builders are pure functions of the event, so they are tested without any network.

pub mod discord;
pub mod native;
pub mod pagerduty;
#[cfg(test)]
mod samples;
pub mod slack;
pub mod teams;
pub mod text;

use crate::config::Secret;
use crate::vocabulary::Event;
use crate::vocabulary::Format;

/// A request body for one event in one format; `None` when the format does not carry this
/// event type (e.g. PagerDuty only triggers on disable and resolves on restore).
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Payload {
    /// A JSON body. Serialising a `Value` cannot fail (its keys are strings).
    pub fn json(value: &serde_json::Value) -> Payload {
        Payload {
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }
}

/// Builds the body for `event`. `base_url` makes links absolute; `routing_key` is
/// PagerDuty's integration key.
///
/// `Format::Email` has no HTTP body (email is rendered by [`super::email`]), so it is `None`.
/// PagerDuty without a routing key still gets its body (with an empty key): PagerDuty then
/// refuses it and the delivery fails visibly, where `None` would count as delivered.
pub fn build(
    format: Format,
    event: &Event,
    base_url: &str,
    routing_key: Option<&Secret>,
) -> Option<Payload> {
    match format {
        Format::Native => Some(native::build(event, base_url)),
        Format::Slack => Some(slack::build(event, base_url)),
        Format::Discord => Some(discord::build(event, base_url)),
        Format::Teams => Some(teams::build(event, base_url)),
        Format::Pagerduty => pagerduty::build(event, base_url, routing_key),
        Format::Email => None,
    }
}

/// Whether `format` carries events of type `kind` at all, so that no delivery is queued for
/// what [`build`] would answer `None` to anyway.
pub fn carries(format: Format, kind: &str) -> bool {
    match format {
        Format::Pagerduty => pagerduty::carries(kind),
        Format::Native | Format::Slack | Format::Discord | Format::Teams | Format::Email => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_http_format_builds_json_and_pagerduty_only_what_it_carries() {
        let key = Secret::new("R0UTINGKEY");
        let event = samples::disabled();
        for f in [
            Format::Native,
            Format::Slack,
            Format::Discord,
            Format::Teams,
            Format::Pagerduty,
        ] {
            let p = build(f, &event, "https://status.example.com", Some(&key)).unwrap();
            assert_eq!(p.content_type, "application/json");
            serde_json::from_slice::<serde_json::Value>(&p.body).unwrap();
        }
        let keyless: serde_json::Value =
            serde_json::from_slice(&build(Format::Pagerduty, &event, "", None).unwrap().body)
                .unwrap();
        assert_eq!(keyless["routing_key"], "");
        assert_eq!(
            build(Format::Pagerduty, &samples::incident(), "", Some(&key)),
            None
        );
        assert_eq!(build(Format::Email, &event, "", None), None);
        assert!(
            carries(Format::Pagerduty, "model.disabled")
                && carries(Format::Pagerduty, "model.restored")
        );
        assert!(
            !carries(Format::Pagerduty, "incident.created")
                && !carries(Format::Pagerduty, "model.degraded")
        );
        assert!(
            carries(Format::Slack, "incident.created")
                && carries(Format::Native, "maintenance.started")
        );
    }
}
