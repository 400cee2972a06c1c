//! The human side of an event, shared by the chat formats: a title, one sentence, details,
//! facts, a link and a tone. Built from the stored event JSON; a missing field makes the text
//! shorter, never the announcement fail (an event must always reach its subscribers).

use serde_json::Value;

/// How bad the news is; each format maps it to its own colour or severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Critical,
    Warning,
    Good,
    Info,
    Neutral,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Short: "Claude Opus 4.8 disabled", "Incident created: Anthropic: elevated errors".
    pub title: String,
    /// The whole news in one paragraph, for notifications and plain-text channels.
    pub text: String,
    /// The reasons (one per line) or the incident update's body; empty when there are none.
    pub detail: String,
    pub facts: Vec<(&'static str, String)>,
    /// Absolute link to the model's or incident's page; `None` without an absolute base URL.
    pub url: Option<String>,
    pub occurred_at: Option<String>,
    pub tone: Tone,
}

/// A non-empty string field.
pub fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `partial_outage` → `partial outage`.
pub fn state_label(state: &str) -> String {
    state.replace('_', " ")
}

pub fn reasons(event: &Value) -> Vec<String> {
    match event.get("reasons") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// At most `max` characters, ending in `…` when cut (chat APIs reject over-long fields).
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One path segment encoded as browsers request it (as the site's own model links are).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base_url` + `path`, only when that makes an absolute http(s) URL: chat services reject
/// relative links, and a link is optional.
pub(super) fn absolute(base_url: &str, path: &str) -> Option<String> {
    if path.starts_with("https://") || path.starts_with("http://") {
        return Some(path.to_string());
    }
    let base = base_url.trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return None;
    }
    let slash = if path.starts_with('/') { "" } else { "/" };
    Some(format!("{base}{slash}{path}"))
}

pub fn summarize(event: &Value, base_url: &str) -> Summary {
    let kind = str_of(event, "type").unwrap_or("event");
    if let Some(what) = kind.strip_prefix("model.") {
        model(event, what, base_url)
    } else if let Some(what) = kind.strip_prefix("incident.") {
        incident(event, what, "incident", "Incident", base_url)
    } else if let Some(what) = kind.strip_prefix("maintenance.") {
        incident(event, what, "maintenance", "Maintenance", base_url)
    } else {
        let provider = str_of(event, "provider")
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        Summary {
            title: kind.to_string(),
            text: format!("{kind}{provider}"),
            detail: String::new(),
            facts: Vec::new(),
            url: None,
            occurred_at: str_of(event, "occurred_at").map(str::to_string),
            tone: Tone::Neutral,
        }
    }
}

fn state_tone(state: Option<&str>) -> Tone {
    match state {
        Some("operational") => Tone::Good,
        Some("degraded_performance") => Tone::Warning,
        Some("partial_outage" | "major_outage") => Tone::Critical,
        Some("under_maintenance") => Tone::Info,
        _ => Tone::Neutral,
    }
}

fn model(event: &Value, what: &str, base_url: &str) -> Summary {
    let key = str_of(event, "model").unwrap_or("unknown model");
    let label = match str_of(event, "model_name") {
        Some(name) if name != key => format!("{name} ({key})"),
        _ => key.to_string(),
    };
    let short = str_of(event, "model_name").unwrap_or(key);
    let (from, to) = (str_of(event, "from"), str_of(event, "to"));
    let to_label = state_label(to.unwrap_or("unknown"));
    let (mut text, title, tone) = match (what, from) {
        ("disabled", _) => (
            format!("{label} disabled: {to_label}."),
            format!("{short} disabled"),
            Tone::Critical,
        ),
        ("restored", _) => (
            format!("{label} restored: {to_label}."),
            format!("{short} restored"),
            Tone::Good,
        ),
        ("degraded", _) => (
            format!("{label} degraded: {to_label}."),
            format!("{short} degraded"),
            Tone::Warning,
        ),
        (_, Some(from)) => (
            format!("{label} changed from {} to {to_label}.", state_label(from)),
            format!("{short}: {} → {to_label}", state_label(from)),
            state_tone(to),
        ),
        (_, None) => (
            format!("{label} is now {to_label}."),
            format!("{short}: {to_label}"),
            state_tone(to),
        ),
    };
    let disabled = event.get("enabled") == Some(&Value::Bool(false))
        || str_of(event, "decision") == Some("disabled");
    let fallback = str_of(event, "fallback");
    if disabled {
        match fallback {
            Some(f) => text.push_str(&format!(" Use {f} instead.")),
            None => text.push_str(" No fallback is available."),
        }
    }
    let reasons = reasons(event);
    match reasons.len() {
        0 => {}
        1 => text.push_str(&format!(" Reason: {}", reasons[0])),
        _ => text.push_str(&format!(" Reasons: {}", reasons.join("; "))),
    }
    let mut facts = vec![("Model", key.to_string())];
    facts.push((
        "State",
        from.map(|f| format!("{} → {to_label}", state_label(f)))
            .unwrap_or(to_label.clone()),
    ));
    facts.push((
        "Routing",
        if disabled {
            "disabled".into()
        } else {
            "enabled".into()
        },
    ));
    if let (true, Some(f)) = (disabled, fallback) {
        facts.push(("Fallback", f.to_string()));
    }
    let provider =
        str_of(event, "provider").unwrap_or_else(|| key.split('/').next().unwrap_or(key));
    let model_id = key
        .strip_prefix(provider)
        .and_then(|m| m.strip_prefix('/'))
        .unwrap_or(key);
    let path = format!(
        "/models/{}/{}",
        path_segment(provider),
        path_segment(model_id)
    );
    Summary {
        title,
        text,
        detail: reasons
            .iter()
            .map(|r| format!("• {r}"))
            .collect::<Vec<_>>()
            .join("\n"),
        facts,
        url: absolute(base_url, &path),
        occurred_at: str_of(event, "occurred_at").map(str::to_string),
        tone,
    }
}

/// Incidents and maintenances: both are a titled record with a status and update bodies.
fn incident(event: &Value, what: &str, key: &str, noun: &str, base_url: &str) -> Summary {
    let record = event.get(key).filter(|v| v.is_object()).unwrap_or(event);
    let provider = str_of(event, "provider");
    let title = str_of(record, "title")
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{} {}",
                provider.unwrap_or("modelwatch"),
                noun.to_lowercase()
            )
        });
    let status = state_label(str_of(record, "status").unwrap_or(what));
    let body = str_of(event, "body")
        .or_else(|| str_of(record, "body"))
        .unwrap_or("");
    let text = match body {
        "" => format!("{noun}: {title} — {status}"),
        body => format!("{noun}: {title} — {status}: {body}"),
    };
    let impact = str_of(record, "impact").filter(|i| *i != "none");
    let tone = match (what, impact) {
        ("resolved" | "completed", _) => Tone::Good,
        _ if noun == "Maintenance" => Tone::Info,
        (_, Some("major" | "critical")) => Tone::Critical,
        _ => Tone::Warning,
    };
    let mut facts = Vec::new();
    if let Some(p) = provider {
        facts.push(("Provider", p.to_string()));
    }
    facts.push(("Status", status));
    if let Some(i) = impact {
        facts.push(("Impact", i.to_string()));
    }
    let affected: Vec<&str> = match record.get("affected_models") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !affected.is_empty() {
        facts.push(("Affected models", affected.join(", ")));
    }
    Summary {
        title: format!("{noun} {what}: {title}"),
        text,
        detail: body.to_string(),
        facts,
        url: str_of(record, "url").and_then(|u| absolute(base_url, u)),
        occurred_at: str_of(event, "occurred_at").map(str::to_string),
        tone,
    }
}

#[cfg(test)]
mod tests {
    use super::super::samples;
    use super::*;

    #[test]
    fn model_events_read_as_one_sentence() {
        let s = summarize(&samples::disabled(), "https://status.example.com/");
        assert_eq!(
            s.text,
            "Claude Opus 4.8 (anthropic/claude-opus-4-8) disabled: partial outage. Use anthropic/claude-sonnet-4-5 \
             instead. Reason: error rate at least 41% (59 of 100 failed) <over> 20% & rising"
        );
        assert_eq!(s.title, "Claude Opus 4.8 disabled");
        assert_eq!(
            s.url.as_deref(),
            Some("https://status.example.com/models/anthropic/claude-opus-4-8")
        );
        assert_eq!(s.tone, Tone::Critical);
        assert!(s
            .facts
            .contains(&("Fallback", "anthropic/claude-sonnet-4-5".into())));
        assert!(s
            .facts
            .contains(&("State", "degraded performance → partial outage".into())));
        let r = summarize(&samples::restored(), "");
        assert_eq!(r.text, "Claude Opus 4.8 (anthropic/claude-opus-4-8) restored: operational. Reason: error rate back below 10%");
        assert_eq!((r.url, r.tone), (None, Tone::Good));
        let mut none = samples::disabled();
        none["fallback"] = Value::Null;
        none["reasons"] = serde_json::json!(["a", "b"]);
        assert!(summarize(&none, "")
            .text
            .ends_with("No fallback is available. Reasons: a; b"));
    }

    #[test]
    fn incident_events_name_title_status_and_body() {
        let s = summarize(&samples::incident(), "http://localhost:8080");
        assert_eq!(
            s.text,
            "Incident: Anthropic: elevated errors — investigating: Claude Opus 4.8 is failing <50%> of requests & is disabled."
        );
        assert_eq!(s.title, "Incident created: Anthropic: elevated errors");
        assert_eq!(s.url.as_deref(), Some("http://localhost:8080/incidents/7"));
        assert_eq!(s.tone, Tone::Critical);
        assert!(s
            .facts
            .contains(&("Affected models", "anthropic/claude-opus-4-8".into())));
    }

    #[test]
    fn odd_model_ids_are_linked_encoded_and_long_text_is_clipped() {
        let e = serde_json::json!({"type": "model.degraded", "model": "bedrock/anthropic.claude v1:0/x", "provider": "bedrock", "to": "degraded_performance"});
        let s = summarize(&e, "https://s.example");
        assert_eq!(
            s.url.as_deref(),
            Some("https://s.example/models/bedrock/anthropic.claude%20v1:0%2Fx")
        );
        assert_eq!(
            s.text,
            "bedrock/anthropic.claude v1:0/x degraded: degraded performance."
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
