//! The human side of an event, shared by the chat formats: a title, one sentence, details,
//! facts, a link and a tone. Built from the typed [`Event`]; an empty field makes the text
//! shorter, never the announcement fail (an event must always reach its subscribers).

use crate::vocabulary::event::ModelChange;
use crate::vocabulary::{Event, EventBody, ModelState};

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

/// `partial_outage` → `partial outage`.
pub fn state_label(state: &str) -> String {
    state.replace('_', " ")
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

pub fn summarize(event: &Event, base_url: &str) -> Summary {
    let occurred_at = Some(event.occurred_at.to_rfc3339());
    let what = event
        .kind()
        .split_once('.')
        .map_or(event.kind(), |(_, what)| what);
    let mut summary = match &event.body {
        EventBody::ModelStateChanged(m)
        | EventBody::ModelDegraded(m)
        | EventBody::ModelDisabled(m)
        | EventBody::ModelRestored(m) => model(m, what, base_url),
        EventBody::IncidentCreated(i)
        | EventBody::IncidentUpdated(i)
        | EventBody::IncidentResolved(i)
        | EventBody::IncidentUnacknowledged(i) => record(
            &Record {
                noun: "Incident",
                provider: Some(&i.provider),
                title: &i.incident.title,
                status: i.incident.status.as_str(),
                body: &i.body,
                impact: Some(i.incident.impact.as_str()).filter(|x| *x != "none"),
                affected: &i.incident.affected_models,
                url: &i.incident.url,
            },
            what,
            base_url,
        ),
        EventBody::MaintenanceScheduled(w)
        | EventBody::MaintenanceStarted(w)
        | EventBody::MaintenanceCompleted(w)
        | EventBody::MaintenanceCancelled(w) => record(
            &Record {
                noun: "Maintenance",
                provider: None,
                title: &w.maintenance.title,
                // A window's event names the step it took.
                status: what,
                body: &w.maintenance.body,
                impact: None,
                affected: &[],
                url: &w.maintenance.url,
            },
            what,
            base_url,
        ),
        EventBody::OfficialChanged(o) => official(o),
    };
    summary.occurred_at = occurred_at;
    summary
}

/// What a provider's page said; the link is theirs.
fn official(o: &crate::vocabulary::event::OfficialChange) -> Summary {
    let mut facts = vec![("Provider", o.provider_name.clone())];
    if let Some(c) = &o.component {
        facts.push(("Component", c.clone()));
    }
    if let Some(s) = o.state {
        facts.push(("Official state", state_label(s.as_str())));
    }
    if !o.models.is_empty() {
        facts.push(("Models", o.models.join(", ")));
    }
    Summary {
        title: format!("Official status changed: {}", o.provider_name),
        text: o.summary.clone(),
        detail: String::new(),
        facts,
        url: o.incident.as_ref().and_then(|i| i.url.clone()),
        occurred_at: None,
        tone: o.state.map(state_tone).unwrap_or(Tone::Info),
    }
}

fn state_tone(state: ModelState) -> Tone {
    match state {
        ModelState::Operational => Tone::Good,
        ModelState::DegradedPerformance => Tone::Warning,
        ModelState::PartialOutage | ModelState::MajorOutage => Tone::Critical,
        ModelState::UnderMaintenance => Tone::Info,
        ModelState::Unknown => Tone::Neutral,
    }
}

fn model(event: &ModelChange, what: &str, base_url: &str) -> Summary {
    let key = event.model.as_str();
    let name = Some(event.model_name.as_str()).filter(|n| !n.is_empty());
    let label = match name {
        Some(name) if name != key => format!("{name} ({key})"),
        _ => key.to_string(),
    };
    let short = name.unwrap_or(key);
    let (from, to) = (event.from, event.to);
    let to_label = state_label(to.as_str());
    let from_label = state_label(from.as_str());
    let (mut text, title, tone) = match what {
        "disabled" => (
            format!("{label} disabled: {to_label}."),
            format!("{short} disabled"),
            Tone::Critical,
        ),
        "restored" => (
            format!("{label} restored: {to_label}."),
            format!("{short} restored"),
            Tone::Good,
        ),
        "degraded" => (
            format!("{label} degraded: {to_label}."),
            format!("{short} degraded"),
            Tone::Warning,
        ),
        _ => (
            format!("{label} changed from {from_label} to {to_label}."),
            format!("{short}: {from_label} → {to_label}"),
            state_tone(to),
        ),
    };
    let disabled = !event.enabled;
    let fallback = event.fallback.as_deref().filter(|f| !f.is_empty());
    if disabled {
        match fallback {
            Some(f) => text.push_str(&format!(" Use {f} instead.")),
            None => text.push_str(" No fallback is available."),
        }
    }
    let reasons = &event.reasons;
    match reasons.len() {
        0 => {}
        1 => text.push_str(&format!(" Reason: {}", reasons[0])),
        _ => text.push_str(&format!(" Reasons: {}", reasons.join("; "))),
    }
    let mut facts = vec![("Model", key.to_string())];
    facts.push(("State", format!("{from_label} → {to_label}")));
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
    let provider = Some(event.provider.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| key.split('/').next().unwrap_or(key));
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
        occurred_at: None,
        tone,
    }
}

/// What incidents and maintenances share: a titled record with a status and a body.
struct Record<'a> {
    noun: &'static str,
    provider: Option<&'a str>,
    title: &'a str,
    status: &'a str,
    body: &'a str,
    /// `None` for no impact.
    impact: Option<&'a str>,
    affected: &'a [String],
    url: &'a str,
}

fn record(r: &Record<'_>, what: &str, base_url: &str) -> Summary {
    let noun = r.noun;
    let title = if r.title.is_empty() {
        format!(
            "{} {}",
            r.provider.unwrap_or("modelwatch"),
            noun.to_lowercase()
        )
    } else {
        r.title.to_string()
    };
    let status = state_label(r.status);
    let text = match r.body {
        "" => format!("{noun}: {title} — {status}"),
        body => format!("{noun}: {title} — {status}: {body}"),
    };
    let tone = match (what, r.impact) {
        ("resolved" | "completed", _) => Tone::Good,
        _ if noun == "Maintenance" => Tone::Info,
        (_, Some("major" | "critical")) => Tone::Critical,
        _ => Tone::Warning,
    };
    let mut facts = Vec::new();
    if let Some(p) = r.provider {
        facts.push(("Provider", p.to_string()));
    }
    facts.push(("Status", status));
    if let Some(i) = r.impact {
        facts.push(("Impact", i.to_string()));
    }
    if !r.affected.is_empty() {
        facts.push(("Affected models", r.affected.join(", ")));
    }
    Summary {
        title: format!("{noun} {what}: {title}"),
        text,
        detail: r.body.to_string(),
        facts,
        url: Some(r.url)
            .filter(|u| !u.is_empty())
            .and_then(|u| absolute(base_url, u)),
        occurred_at: None,
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
        if let EventBody::ModelDisabled(m) = &mut none.body {
            m.fallback = None;
            m.reasons = vec!["a".into(), "b".into()];
        }
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
        let e = samples::parse(
            serde_json::json!({"type": "model.degraded", "occurred_at": "2025-03-01T10:00:00+00:00",
            "model": "bedrock/anthropic.claude v1:0/x", "model_name": "", "provider": "bedrock", "from": "operational",
            "to": "degraded_performance", "decision": "enabled", "enabled": true, "fallback": null, "reasons": [], "incident": null}),
        );
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
