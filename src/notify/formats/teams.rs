//! Microsoft Teams through a Workflows (Power Automate) webhook: a `message` carrying one
//! Adaptive Card 1.4 (the version Teams renders everywhere) with a title, the sentence, the
//! facts and a link. Plain JSON escaping is all the card needs.

use serde_json::{json, Value};

use super::text::{summarize, Summary, Tone};
use super::Payload;
use crate::vocabulary::Event;

/// The Adaptive Card colour names Teams themes.
fn color(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical => "Attention",
        Tone::Warning => "Warning",
        Tone::Good => "Good",
        Tone::Info => "Accent",
        Tone::Neutral => "Default",
    }
}

fn card(s: &Summary) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": s.title, "size": "Medium", "weight": "Bolder", "color": color(s.tone), "wrap": true}),
        json!({"type": "TextBlock", "text": s.text, "wrap": true}),
    ];
    if !s.facts.is_empty() {
        let facts: Vec<Value> = s
            .facts
            .iter()
            .map(|(title, value)| json!({"title": title, "value": value}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    if let Some(at) = &s.occurred_at {
        body.push(json!({"type": "TextBlock", "text": format!("modelwatch · {at}"), "size": "Small", "isSubtle": true, "wrap": true}));
    }
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(url) = &s.url {
        content["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in modelwatch", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": content}],
    })
}

pub fn build(event: &Event, base_url: &str) -> Payload {
    Payload::json(&card(&summarize(event, base_url)))
}

#[cfg(test)]
mod tests {
    use super::super::samples;
    use super::*;

    #[test]
    fn a_disabled_model_is_one_adaptive_card() {
        let v: Value =
            serde_json::from_slice(&build(&samples::disabled(), "https://status.example.com").body)
                .unwrap();
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let c = &a["content"];
        assert_eq!(
            (c["type"].as_str(), c["version"].as_str()),
            (Some("AdaptiveCard"), Some("1.4"))
        );
        assert_eq!(c["body"][0]["text"], "Claude Opus 4.8 disabled");
        assert_eq!(c["body"][0]["color"], "Attention");
        assert!(c["body"][1]["text"]
            .as_str()
            .unwrap()
            .contains("Use anthropic/claude-sonnet-4-5 instead."));
        assert_eq!(c["body"][2]["type"], "FactSet");
        assert!(c["body"][2]["facts"]
            .as_array()
            .unwrap()
            .contains(&json!({"title": "Model", "value": "anthropic/claude-opus-4-8"})));
        assert_eq!(
            c["actions"][0]["url"],
            "https://status.example.com/models/anthropic/claude-opus-4-8"
        );
    }

    #[test]
    fn incident_text_survives_json_escaping() {
        let raw = build(&samples::incident(), "").body;
        let v: Value = serde_json::from_slice(&raw).unwrap();
        let c = &v["attachments"][0]["content"];
        assert_eq!(
            c["body"][1]["text"],
            "Incident: Anthropic: elevated errors — investigating: Claude Opus 4.8 is failing <50%> of requests & is disabled."
        );
        assert!(c.get("actions").is_none());
    }
}
