//! Discord webhooks: `{"content": …, "embeds": [{title, description, color, url, timestamp,
//! fields}]}`.
//!
//! JSON escaping is all the body needs, but Discord would turn `@everyone` or `<@id>` in an
//! event's text into real pings, so `allowed_mentions` is empty: nothing in an event can
//! notify anyone beyond the channel's own subscribers. Fields are clipped to Discord's limits
//! (a message over any of them is rejected whole).

use serde_json::{json, Value};

use super::text::{clip, summarize, Summary, Tone};
use super::Payload;
use crate::vocabulary::Event;

pub fn color(tone: Tone) -> u32 {
    match tone {
        Tone::Critical => 0xD9_30_25,
        Tone::Warning => 0xF2_A6_00,
        Tone::Good => 0x1E_8E_3E,
        Tone::Info => 0x1A_73_E8,
        Tone::Neutral => 0x80_86_8B,
    }
}

fn message(s: &Summary) -> Value {
    let fields: Vec<Value> = s
        .facts
        .iter()
        .take(25)
        .map(|(name, value)| json!({"name": clip(name, 256), "value": clip(value, 1024), "inline": true}))
        .collect();
    let description = if s.detail.is_empty() {
        &s.text
    } else {
        &s.detail
    };
    let mut embed = json!({
        "title": clip(&s.title, 256),
        "description": clip(description, 4096),
        "color": color(s.tone),
        "fields": fields,
        "footer": {"text": "modelwatch"},
    });
    // Discord rejects an embed whose url or timestamp is present but not valid; both are
    // optional, so they are left out rather than sent empty.
    if let Some(url) = &s.url {
        embed["url"] = json!(url);
    }
    if let Some(at) = &s.occurred_at {
        embed["timestamp"] = json!(at);
    }
    json!({
        "content": clip(&s.text, 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

pub fn build(event: &Event, base_url: &str) -> Payload {
    Payload::json(&message(&summarize(event, base_url)))
}

#[cfg(test)]
mod tests {
    use super::super::samples;
    use super::*;

    fn body(event: &Event, base_url: &str) -> Value {
        serde_json::from_slice(&build(event, base_url).body).unwrap()
    }

    #[test]
    fn a_disabled_model_is_content_and_one_red_embed() {
        let v = body(&samples::disabled(), "https://status.example.com");
        assert!(v["content"]
            .as_str()
            .unwrap()
            .starts_with("Claude Opus 4.8 (anthropic/claude-opus-4-8) disabled: partial outage."));
        let e = &v["embeds"][0];
        assert_eq!(e["title"], "Claude Opus 4.8 disabled");
        assert_eq!(e["color"], 0xD93025);
        assert_eq!(
            e["url"],
            "https://status.example.com/models/anthropic/claude-opus-4-8"
        );
        assert_eq!(e["timestamp"], "2025-03-01T10:00:00+00:00");
        assert_eq!(
            e["description"],
            "• error rate at least 41% (59 of 100 failed) <over> 20% & rising"
        );
        let fields = e["fields"].as_array().unwrap();
        assert!(fields.contains(
            &json!({"name": "Fallback", "value": "anthropic/claude-sonnet-4-5", "inline": true})
        ));
        assert_eq!(v["allowed_mentions"], json!({"parse": []}));
    }

    #[test]
    fn text_is_json_escaped_not_mangled_and_links_need_an_absolute_base() {
        let e = samples::edit(samples::incident(), |v| {
            v["body"] = json!("quote \" backslash \\ newline \n @everyone <b>")
        });
        let raw = build(&e, "").body;
        let v: Value = serde_json::from_slice(&raw).unwrap();
        assert!(v["content"]
            .as_str()
            .unwrap()
            .ends_with("quote \" backslash \\ newline \n @everyone <b>"));
        assert!(String::from_utf8(raw)
            .unwrap()
            .contains(r#"quote \" backslash \\ newline \n"#));
        assert!(v["embeds"][0].get("url").is_none());
        assert_eq!(v["embeds"][0]["color"], 0xD93025);
        assert_eq!(
            body(&samples::restored(), "")["embeds"][0]["color"],
            0x1E8E3E
        );
    }
}
