//! The native format: the stored event JSON itself, for receivers that speak modelwatch.
//! The dispatcher signs exactly these bytes, so they are produced once and never re-encoded.

use super::Payload;

pub fn build(event: &serde_json::Value) -> Payload {
    Payload::json(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_event() {
        let event = super::super::samples::disabled();
        let p = build(&event);
        assert_eq!(p.content_type, "application/json");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&p.body).unwrap(),
            event
        );
    }
}
