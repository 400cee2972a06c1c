//! Turns an [`Event`] into display-ready data and a subject line.
//!
//! Values are kept as plain text here; the HTML templates escape them (askama), the text
//! templates print them as they are.

use chrono::{DateTime, Utc};

use crate::vocabulary::event::{Decision, ModelChange};
use crate::vocabulary::{Event, EventBody};

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
pub fn subject(event: &Event) -> String {
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
pub(super) fn event_view(event: &Event, page: &str) -> EventView {
    let mut view = EventView {
        headline: headline(event),
        summary: String::new(),
        facts: Vec::new(),
        reasons: Vec::new(),
        body: None,
        incident_link: None,
    };
    if let Some(m) = event.body.model() {
        let name = model_name(m);
        let (from, to) = (humanize(m.from.as_str()), humanize(m.to.as_str()));
        view.summary = match &event.body {
            EventBody::ModelDisabled(_) => {
                format!("modelwatch stopped routing to {name}: its own probes show {to}.")
            }
            EventBody::ModelRestored(_) => {
                format!("{name} is healthy again ({to}) and is routed to once more.")
            }
            EventBody::ModelDegraded(_) => {
                format!("{name} is slower or failing more often than usual ({to}).")
            }
            _ => format!("{name} changed from {from} to {to}."),
        };
        view.facts
            .push(("Model".into(), format!("{name} ({})", m.model)));
        view.facts.push(("Provider".into(), m.provider.clone()));
        view.facts.push(("State".into(), format!("{from} → {to}")));
        let decision = match m.decision {
            Decision::Enabled => "enabled",
            Decision::Disabled => "disabled",
        };
        view.facts.push(("Routing".into(), decision.into()));
        if !m.enabled {
            // Disabled without a fallback is worth saying: callers have nowhere to go.
            let fallback = m.fallback.as_deref().unwrap_or("none available");
            view.facts.push(("Fallback".into(), fallback.to_string()));
        }
        view.reasons = m.reasons.clone();
        view.incident_link = m.incident.as_ref().map(|i| absolute(page, &i.url));
    } else if let Some(i) = event.body.incident() {
        let provider = i.provider.clone();
        view.summary = match &event.body {
            EventBody::IncidentCreated(_) => format!("An incident was opened for {provider}."),
            EventBody::IncidentResolved(_) => format!("The incident for {provider} is resolved."),
            _ => format!("The incident for {provider} was updated."),
        };
        view.facts
            .push(("Incident".into(), i.incident.title.clone()));
        view.facts.push(("Provider".into(), provider));
        view.facts
            .push(("Status".into(), humanize(i.incident.status.as_str())));
        let impact = i.incident.impact.as_str();
        if impact != "none" && !impact.is_empty() {
            view.facts.push(("Impact".into(), humanize(impact)));
        }
        if !i.incident.affected_models.is_empty() {
            view.facts.push((
                "Affected models".into(),
                i.incident.affected_models.join(", "),
            ));
        }
        view.body = Some(i.body.clone()).filter(|b| !b.trim().is_empty());
        view.incident_link = Some(absolute(page, &i.incident.url));
    } else if let Some(w) = event.body.maintenance() {
        view.summary = format!("Maintenance {}: {}.", kind_word(event), w.maintenance.title);
        view.facts
            .push(("Models".into(), w.maintenance.models.join(", ")));
        view.facts.push((
            "Scheduled".into(),
            format!(
                "{} to {}",
                when(w.maintenance.scheduled_for),
                when(w.maintenance.scheduled_until)
            ),
        ));
        view.body = Some(w.maintenance.body.clone()).filter(|b| !b.trim().is_empty());
    } else if let EventBody::OfficialChanged(o) = &event.body {
        view.summary = o.summary.clone();
        view.facts
            .push(("Provider".into(), o.provider_name.clone()));
        if let Some(c) = &o.component {
            view.facts.push(("Component".into(), c.clone()));
        }
        if !o.models.is_empty() {
            view.facts.push(("Models".into(), o.models.join(", ")));
        }
        view.incident_link = o.incident.as_ref().and_then(|i| i.url.clone());
    }
    view.facts.push(("When".into(), when(event.occurred_at)));
    view
}

/// The subject without its prefix, by event type.
fn headline(event: &Event) -> String {
    match &event.body {
        EventBody::ModelDisabled(m) => {
            format!("{} disabled ({})", model_name(m), humanize(m.to.as_str()))
        }
        EventBody::ModelRestored(m) => {
            format!("{} restored ({})", model_name(m), humanize(m.to.as_str()))
        }
        EventBody::ModelDegraded(m) => {
            format!("{} degraded ({})", model_name(m), humanize(m.to.as_str()))
        }
        EventBody::ModelStateChanged(m) => {
            format!("{} is now {}", model_name(m), humanize(m.to.as_str()))
        }
        EventBody::IncidentCreated(i)
        | EventBody::IncidentUpdated(i)
        | EventBody::IncidentResolved(i)
        | EventBody::IncidentUnacknowledged(i) => format!(
            "Incident: {} ({})",
            i.incident.title,
            humanize(i.incident.status.as_str())
        ),
        EventBody::MaintenanceScheduled(w)
        | EventBody::MaintenanceStarted(w)
        | EventBody::MaintenanceCompleted(w)
        | EventBody::MaintenanceCancelled(w) => {
            format!("Maintenance {}: {}", kind_word(event), w.maintenance.title)
        }
        EventBody::OfficialChanged(o) => format!("Official status: {}", o.summary),
    }
}

/// `maintenance.started` → `started`.
fn kind_word(event: &Event) -> &'static str {
    let kind = event.kind();
    kind.split_once('.').map_or(kind, |(_, what)| what)
}

/// The model's name, or its id when it has none.
fn model_name(m: &ModelChange) -> String {
    if m.model_name.is_empty() {
        m.model.clone()
    } else {
        m.model_name.clone()
    }
}

fn humanize(word: &str) -> String {
    word.replace(['_', '.'], " ")
}

/// "2025-06-01 12:00:03 UTC".
fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
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
    use serde_json::{json, Value};

    fn event(body: Value) -> Event {
        Event::parse(&body.to_string()).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    fn disabled_json() -> Value {
        json!({
            "type": "model.disabled", "occurred_at": "2025-06-01T12:00:03+00:00",
            "model": "anthropic/claude-opus-4-8", "model_name": "Claude Opus 4.8", "provider": "anthropic",
            "from": "operational", "to": "partial_outage", "decision": "disabled", "enabled": false,
            "fallback": "anthropic/claude-sonnet-4-5", "reasons": ["error rate 62% (lower bound 41%)"],
            "incident": {"id": 7, "url": "/incidents/7"},
        })
    }

    fn incident_json(kind: &str, title: &str, status: &str) -> Value {
        json!({"type": kind, "occurred_at": "2025-06-01T12:00:03+00:00", "provider": "anthropic",
            "incident": {"id": 1, "title": title, "status": status, "impact": "minor",
                         "affected_models": [], "url": "/incidents/1"}, "body": ""})
    }

    #[test]
    fn model_subjects_name_the_model_and_its_state() {
        assert_eq!(
            subject(&event(disabled_json())),
            "[modelwatch] Claude Opus 4.8 disabled (partial outage)"
        );
        let mut restored = disabled_json();
        restored["type"] = json!("model.restored");
        restored["to"] = json!("operational");
        assert_eq!(
            subject(&event(restored)),
            "[modelwatch] Claude Opus 4.8 restored (operational)"
        );
        let mut changed = disabled_json();
        changed["type"] = json!("model.state_changed");
        changed["to"] = json!("major_outage");
        assert_eq!(
            subject(&event(changed)),
            "[modelwatch] Claude Opus 4.8 is now major outage"
        );
        let mut unnamed = disabled_json();
        unnamed["model_name"] = json!("");
        assert_eq!(
            subject(&event(unnamed)),
            "[modelwatch] anthropic/claude-opus-4-8 disabled (partial outage)"
        );
    }

    #[test]
    fn incident_subjects_carry_title_and_status() {
        let e = event(incident_json(
            "incident.created",
            "Elevated errors on Claude Opus 4.8",
            "investigating",
        ));
        assert_eq!(
            subject(&e),
            "[modelwatch] Incident: Elevated errors on Claude Opus 4.8 (investigating)"
        );
    }

    #[test]
    fn subjects_cannot_inject_headers_and_stay_bounded() {
        let e = event(incident_json(
            "incident.updated",
            "Bad\r\nBcc: victim@example.com\r\n\r\nbody",
            "identified",
        ));
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
    fn maintenance_subjects_name_the_step_and_the_window() {
        let e = event(
            json!({"type": "maintenance.scheduled", "occurred_at": "2025-06-01T12:00:03+00:00",
            "maintenance": {"id": 2, "title": "DB upgrade", "body": "", "models": ["a/m"],
                "scheduled_for": "2025-06-02T00:00:00+00:00", "scheduled_until": "2025-06-02T01:00:00+00:00", "url": "/"},
            "models": ["a/m"]}),
        );
        assert_eq!(
            subject(&e),
            "[modelwatch] Maintenance scheduled: DB upgrade"
        );
        let v = event_view(&e, "https://status.example.com/");
        assert!(v.facts.contains(&(
            "Scheduled".into(),
            "2025-06-02 00:00:00 UTC to 2025-06-02 01:00:00 UTC".into()
        )));
    }

    #[test]
    fn views_hold_facts_reasons_and_absolute_links() {
        let v = event_view(&event(disabled_json()), "https://status.example.com/");
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
        let mut no_fallback = disabled_json();
        no_fallback["fallback"] = Value::Null;
        let v = event_view(&event(no_fallback), "https://status.example.com/");
        assert!(v
            .facts
            .contains(&("Fallback".into(), "none available".into())));
    }
}
