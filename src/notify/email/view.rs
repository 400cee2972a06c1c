//! Turns a stored event (JSON) into display-ready data and a subject line.
//!
//! The event JSON is read leniently: a missing field shows as a neutral word instead of
//! failing, because an email with one blank fact is better than no email at all. Values are
//! kept as plain text here; the HTML templates escape them (askama), the text templates
//! print them as they are.

use serde_json::Value;

/// Every subject starts with this, so mail filters can sort our messages.
const SUBJECT_PREFIX: &str = "[modelwatch] ";
/// Subjects longer than this are cut (mail clients truncate anyway; headers stay short).
const SUBJECT_MAX_CHARS: usize = 160;

/// What a notification shows, the same in its text and its HTML body.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EventView {
    /// "Claude Opus 4.8 disabled (partial outage)"; the subject without its prefix.
    pub headline: String,
    /// One sentence saying what happened and what it means for the reader.
    pub summary: String,
    /// Label and value pairs (model, state, fallback…), in display order.
    pub facts: Vec<(String, String)>,
    /// Why the evaluator decided this (model events).
    pub reasons: Vec<String>,
    /// The incident update's text (incident events), shown verbatim.
    pub body: Option<String>,
    /// Absolute link to the incident page, when the event names an incident.
    pub incident_link: Option<String>,
}

/// The subject of a notification for `event`, prefixed and safe as a header value.
pub fn subject(event: &Value) -> String {
    subject_line(&headline(event))
}

/// Prefixes `text` and makes it a one-line, bounded header value.
pub(super) fn subject_line(text: &str) -> String {
    sanitize_header_text(&format!("{SUBJECT_PREFIX}{text}"))
}

/// Replaces control characters (CR and LF above all: header injection) with spaces,
/// collapses runs of whitespace and bounds the length.
pub fn sanitize_header_text(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut line = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > SUBJECT_MAX_CHARS {
        line = line.chars().take(SUBJECT_MAX_CHARS - 1).collect::<String>() + "…";
    }
    line
}

/// Builds the view of `event`; `page` (the status page's absolute URL) resolves the
/// relative incident URLs events carry.
pub(super) fn event_view(event: &Value, page: &str) -> EventView {
    let kind = text(event, "type");
    let when = occurred_at(event);
    let incident_link = event
        .pointer("/incident/url")
        .and_then(Value::as_str)
        .map(|url| absolute(page, url));
    let mut view = EventView {
        headline: headline(event),
        summary: String::new(),
        facts: Vec::new(),
        reasons: Vec::new(),
        body: None,
        incident_link,
    };
    if kind.starts_with("model.") {
        let name = model_name(event);
        let (from, to) = (state(event, "from"), state(event, "to"));
        view.summary = match kind.as_str() {
            "model.disabled" => {
                format!("modelwatch stopped routing to {name}: its own probes show {to}.")
            }
            "model.restored" => {
                format!("{name} is healthy again ({to}) and is routed to once more.")
            }
            "model.degraded" => {
                format!("{name} is slower or failing more often than usual ({to}).")
            }
            _ => format!("{name} changed from {from} to {to}."),
        };
        let model_key = text(event, "model");
        view.facts
            .push(("Model".into(), format!("{name} ({model_key})")));
        view.facts
            .push(("Provider".into(), text(event, "provider")));
        view.facts.push(("State".into(), format!("{from} → {to}")));
        let enabled = event.get("enabled").and_then(Value::as_bool);
        if let Some(decision) = event.get("decision").and_then(Value::as_str) {
            view.facts.push(("Routing".into(), decision.to_string()));
        }
        if enabled == Some(false) {
            // Disabled without a fallback is worth saying: callers have nowhere to go.
            let fallback = event
                .get("fallback")
                .and_then(Value::as_str)
                .unwrap_or("none available");
            view.facts.push(("Fallback".into(), fallback.to_string()));
        }
        view.reasons = event
            .get("reasons")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
    } else if kind.starts_with("incident.") {
        let provider = text(event, "provider");
        view.summary = match kind.as_str() {
            "incident.created" => format!("An incident was opened for {provider}."),
            "incident.resolved" => format!("The incident for {provider} is resolved."),
            _ => format!("The incident for {provider} was updated."),
        };
        view.facts
            .push(("Incident".into(), incident_field(event, "title")));
        view.facts.push(("Provider".into(), provider));
        view.facts
            .push(("Status".into(), humanize(&incident_field(event, "status"))));
        let impact = incident_field(event, "impact");
        if impact != "none" && impact != "unknown" {
            view.facts.push(("Impact".into(), humanize(&impact)));
        }
        let affected: Vec<&str> = event
            .pointer("/incident/affected_models")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !affected.is_empty() {
            view.facts
                .push(("Affected models".into(), affected.join(", ")));
        }
        view.body = event
            .get("body")
            .and_then(Value::as_str)
            .filter(|b| !b.trim().is_empty())
            .map(str::to_string);
    } else {
        view.summary = format!("modelwatch recorded a {} event.", humanize(&kind));
        view.body = event
            .get("body")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    if !when.is_empty() {
        view.facts.push(("When".into(), when));
    }
    view
}

/// The subject without its prefix, by event type.
fn headline(event: &Value) -> String {
    let kind = text(event, "type");
    if kind.starts_with("model.") {
        let name = model_name(event);
        let to = state(event, "to");
        match kind.as_str() {
            "model.disabled" => format!("{name} disabled ({to})"),
            "model.restored" => format!("{name} restored ({to})"),
            "model.degraded" => format!("{name} degraded ({to})"),
            _ => format!("{name} is now {to}"),
        }
    } else if kind.starts_with("incident.") {
        format!(
            "Incident: {} ({})",
            incident_field(event, "title"),
            humanize(&incident_field(event, "status"))
        )
    } else if let Some(rest) = kind.strip_prefix("maintenance.") {
        // No maintenance payload is fixed yet: take a title from where one would be.
        let title = event
            .pointer("/maintenance/title")
            .or_else(|| event.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("planned work");
        format!("Maintenance {rest}: {title}")
    } else {
        humanize(&kind)
    }
}

/// A string field, or "unknown" (never empty, so sentences stay readable).
fn text(event: &Value, key: &str) -> String {
    event
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string()
}

fn incident_field(event: &Value, key: &str) -> String {
    event
        .pointer(&format!("/incident/{key}"))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string()
}

fn model_name(event: &Value) -> String {
    event
        .get("model_name")
        .or_else(|| event.get("model"))
        .and_then(Value::as_str)
        .unwrap_or("a model")
        .to_string()
}

/// A model state in words: "partial_outage" → "partial outage".
fn state(event: &Value, key: &str) -> String {
    humanize(&text(event, key))
}

fn humanize(word: &str) -> String {
    word.replace(['_', '.'], " ")
}

/// "2025-06-01 12:00:03 UTC" from the RFC 3339 `occurred_at`, or the text as it is.
fn occurred_at(event: &Value) -> String {
    let Some(raw) = event.get("occurred_at").and_then(Value::as_str) else {
        return String::new();
    };
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| raw.to_string())
}

/// Resolves `url` against the status page; an unparsable base leaves `url` as it is.
fn absolute(page: &str, url: &str) -> String {
    reqwest::Url::parse(page)
        .and_then(|base| base.join(url))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn disabled() -> Value {
        json!({
            "type": "model.disabled", "occurred_at": "2025-06-01T12:00:03+00:00",
            "model": "anthropic/claude-opus-4-8", "model_name": "Claude Opus 4.8", "provider": "anthropic",
            "from": "operational", "to": "partial_outage", "decision": "disabled", "enabled": false,
            "fallback": "anthropic/claude-sonnet-4-5", "reasons": ["error rate 62% (lower bound 41%)"],
            "incident": {"id": 7, "url": "/incidents/7"},
        })
    }

    #[test]
    fn model_subjects_name_the_model_and_its_state() {
        assert_eq!(
            subject(&disabled()),
            "[modelwatch] Claude Opus 4.8 disabled (partial outage)"
        );
        let mut restored = disabled();
        restored["type"] = json!("model.restored");
        restored["to"] = json!("operational");
        assert_eq!(
            subject(&restored),
            "[modelwatch] Claude Opus 4.8 restored (operational)"
        );
        let mut changed = disabled();
        changed["type"] = json!("model.state_changed");
        changed["to"] = json!("major_outage");
        assert_eq!(
            subject(&changed),
            "[modelwatch] Claude Opus 4.8 is now major outage"
        );
    }

    #[test]
    fn incident_subjects_carry_title_and_status() {
        let e = json!({"type": "incident.created", "provider": "anthropic",
            "incident": {"id": 1, "title": "Elevated errors on Claude Opus 4.8", "status": "investigating"}});
        assert_eq!(
            subject(&e),
            "[modelwatch] Incident: Elevated errors on Claude Opus 4.8 (investigating)"
        );
    }

    #[test]
    fn subjects_cannot_inject_headers_and_stay_bounded() {
        let e = json!({"type": "incident.updated",
            "incident": {"title": "Bad\r\nBcc: victim@example.com\r\n\r\nbody", "status": "identified"}});
        let s = subject(&e);
        assert!(!s.contains('\r') && !s.contains('\n'), "{s:?}");
        assert_eq!(
            s,
            "[modelwatch] Incident: Bad Bcc: victim@example.com body (identified)"
        );
        let long = sanitize_header_text(&"x".repeat(1000));
        assert_eq!(long.chars().count(), SUBJECT_MAX_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn unknown_and_sparse_events_still_get_a_subject() {
        assert_eq!(
            subject(&json!({"type": "maintenance.scheduled", "title": "DB upgrade"})),
            "[modelwatch] Maintenance scheduled: DB upgrade"
        );
        assert_eq!(
            subject(&json!({"type": "model.disabled"})),
            "[modelwatch] a model disabled (unknown)"
        );
        assert_eq!(subject(&json!({})), "[modelwatch] unknown");
    }

    #[test]
    fn views_hold_facts_reasons_and_absolute_links() {
        let v = event_view(&disabled(), "https://status.example.com/");
        assert_eq!(
            v.incident_link.as_deref(),
            Some("https://status.example.com/incidents/7")
        );
        assert!(v
            .facts
            .contains(&("Fallback".into(), "anthropic/claude-sonnet-4-5".into())));
        assert!(v
            .facts
            .contains(&("When".into(), "2025-06-01 12:00:03 UTC".into())));
        assert_eq!(
            v.reasons,
            vec!["error rate 62% (lower bound 41%)".to_string()]
        );
        let mut no_fallback = disabled();
        no_fallback["fallback"] = Value::Null;
        let v = event_view(&no_fallback, "https://status.example.com/");
        assert!(v
            .facts
            .contains(&("Fallback".into(), "none available".into())));
    }
}
