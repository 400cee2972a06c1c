//! The native format: the typed [`Event`] itself, for receivers that speak modelwatch, with
//! its links made absolute (the store keeps them as paths, so a changed `public_url` applies
//! to events already queued). The dispatcher signs exactly these bytes, so they are produced
//! once and never re-encoded. The body is documented field by field in the README and in
//! the OpenAPI document's `webhooks`.

use super::text::absolute;
use super::Payload;
use crate::vocabulary::Event;

pub fn build(event: &Event, base_url: &str) -> Payload {
    let mut event = event.clone();
    for link in event.links_mut() {
        if let Some(url) = absolute(base_url, link) {
            *link = url;
        }
    }
    Payload {
        content_type: "application/json",
        body: event.to_json().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_body_is_the_event_with_absolute_links() {
        let event = super::super::samples::disabled();
        let p = build(&event, "https://status.example.com/");
        assert_eq!(p.content_type, "application/json");
        let mut expected: Value = serde_json::from_str(&event.to_json()).unwrap();
        expected["incident"]["url"] = "https://status.example.com/incidents/7".into();
        assert_eq!(serde_json::from_slice::<Value>(&p.body).unwrap(), expected);
        // Events without links pass unchanged.
        let restored = super::super::samples::restored();
        let p = build(&restored, "https://status.example.com");
        assert_eq!(
            Event::parse(std::str::from_utf8(&p.body).unwrap()).unwrap(),
            restored
        );
    }
}
