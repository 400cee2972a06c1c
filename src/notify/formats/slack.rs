//! Slack incoming webhooks: `{"text": …, "blocks": […]}` with mrkdwn.
//!
//! `text` is what notifications and old clients show; `blocks` is the message. Slack treats
//! `<`, `>` and `&` as control characters in mrkdwn (`<!channel>` pings everyone, `<url|x>` is
//! a link), so everything that comes from an event is escaped as `&lt;`, `&gt;`, `&amp;`.

use serde_json::{json, Value};

use super::text::{summarize, Summary};
use super::Payload;
use crate::vocabulary::Event;

/// Slack's limits: a section's text, and a field's text.
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;

/// Escapes mrkdwn control characters, keeping the result within `max` characters without
/// ever cutting an entity in half.
pub fn escape_within(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut used = 0;
    for c in s.chars() {
        let piece = match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            c => c.to_string(),
        };
        let n = piece.chars().count();
        if used + n > max.saturating_sub(1) {
            out.push('…');
            return out;
        }
        used += n;
        out.push_str(&piece);
    }
    out
}

pub fn escape(s: &str) -> String {
    escape_within(s, usize::MAX)
}

fn message(s: &Summary) -> Value {
    let heading = match &s.url {
        // `|` ends a link's address in mrkdwn, so it is percent-encoded there.
        Some(url) => format!(
            "*<{}|{}>*",
            escape(&url.replace('|', "%7C")),
            escape_within(&s.title, 200)
        ),
        None => format!("*{}*", escape_within(&s.title, 200)),
    };
    let body = escape_within(&s.text, SECTION_MAX - heading.chars().count() - 1);
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{heading}\n{body}")}}),
    ];
    if !s.facts.is_empty() {
        // A section holds at most 10 fields.
        let fields: Vec<Value> = s
            .facts
            .iter()
            .take(10)
            .map(|(name, value)| json!({"type": "mrkdwn", "text": escape_within(&format!("*{name}*\n{value}"), FIELD_MAX)}))
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let when = s
        .occurred_at
        .as_deref()
        .map(|t| format!(" · {}", escape(t)))
        .unwrap_or_default();
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("modelwatch{when}")}]}));
    json!({"text": escape_within(&s.text, SECTION_MAX), "blocks": blocks})
}

pub fn build(event: &Event, base_url: &str) -> Payload {
    Payload::json(&message(&summarize(event, base_url)))
}

#[cfg(test)]
mod tests {
    use super::super::samples;
    use super::*;

    fn body(event: &Event) -> Value {
        serde_json::from_slice(&build(event, "https://status.example.com").body).unwrap()
    }

    #[test]
    fn a_disabled_model_is_a_linked_heading_fields_and_context() {
        let v = body(&samples::disabled());
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with("Claude Opus 4.8 (anthropic/claude-opus-4-8) disabled: partial outage. Use anthropic/claude-sonnet-4-5 instead."));
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        let first = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(first.starts_with("*<https://status.example.com/models/anthropic/claude-opus-4-8|Claude Opus 4.8 disabled>*\n"), "{first}");
        let fields = blocks[1]["fields"].as_array().unwrap();
        assert!(fields
            .iter()
            .any(|f| f["text"] == "*Fallback*\nanthropic/claude-sonnet-4-5"));
        assert_eq!(
            blocks[2]["elements"][0]["text"],
            "modelwatch · 2025-03-01T10:00:00+00:00"
        );
    }

    #[test]
    fn mrkdwn_control_characters_are_escaped() {
        let v = body(&samples::disabled());
        let text = v["text"].as_str().unwrap();
        assert!(
            text.ends_with("(59 of 100 failed) &lt;over&gt; 20% &amp; rising"),
            "{text}"
        );
        let hostile = samples::edit(samples::incident(), |v| {
            v["body"] = json!("<!channel> see <http://evil|here> & more")
        });
        let v = body(&hostile);
        let all = v.to_string();
        assert!(
            !all.contains("<!channel>") && !all.contains("<http://evil"),
            "{all}"
        );
        assert!(v["text"]
            .as_str()
            .unwrap()
            .ends_with("&lt;!channel&gt; see &lt;http://evil|here&gt; &amp; more"));
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }

    #[test]
    fn long_text_stays_within_limits_without_broken_entities() {
        assert_eq!(escape_within("&&&", 11), "&amp;&amp;…");
        let e = samples::edit(samples::restored(), |v| {
            v["reasons"] = json!(["<".repeat(5000)])
        });
        let v = body(&e);
        let section = v["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(section.chars().count() <= 3000 && section.ends_with("&lt;…"));
        assert!(v["text"].as_str().unwrap().chars().count() <= 3000);
    }
}
