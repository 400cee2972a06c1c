//! The native format: the stored event JSON itself, for receivers that speak modelwatch,
//! with its links made absolute (the store keeps them as paths, so a changed `public_url`
//! applies to events already queued). The dispatcher signs exactly these bytes, so they are
//! produced once and never re-encoded.

use serde_json::Value;

use super::text::absolute;
use super::Payload;

pub fn build(event: &Value, base_url: &str) -> Payload {
    let mut event = event.clone();
    for pointer in ["/url", "/incident/url", "/maintenance/url"] {
        if let Some(link) = event.pointer_mut(pointer) {
            if let Some(url) = link.as_str().and_then(|path| absolute(base_url, path)) {
                *link = Value::String(url);
            }
        }
    }
    Payload::json(&event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_event_with_absolute_links() {
        let event = super::super::samples::disabled();
        let p = build(&event, "https://status.example.com/");
        assert_eq!(p.content_type, "application/json");
        let mut expected = event.clone();
        expected["incident"]["url"] = "https://status.example.com/incidents/7".into();
        assert_eq!(serde_json::from_slice::<Value>(&p.body).unwrap(), expected);
        // Events without links pass unchanged.
        let restored = super::super::samples::restored();
        let p = build(&restored, "https://status.example.com");
        assert_eq!(serde_json::from_slice::<Value>(&p.body).unwrap(), restored);
    }
}
