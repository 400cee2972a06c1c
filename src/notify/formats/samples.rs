//! Events as the store writes them (see `store::events`), for the builders' tests: written
//! as JSON text, so they also check that such bodies read as typed events.

use serde_json::{json, Value};

use crate::vocabulary::Event;

/// The event a JSON body reads as (panics in tests when it does not).
pub fn parse(body: Value) -> Event {
    Event::parse(&body.to_string()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `event` with its JSON changed by `change` (and read again as an event).
pub fn edit(event: Event, change: impl FnOnce(&mut Value)) -> Event {
    let mut body: Value = serde_json::from_str(&event.to_json()).unwrap_or_default();
    change(&mut body);
    parse(body)
}

pub fn disabled() -> Event {
    parse(json!({
        "type": "model.disabled", "occurred_at": "2025-03-01T10:00:00+00:00",
        "model": "anthropic/claude-opus-4-8", "model_name": "Claude Opus 4.8", "provider": "anthropic",
        "from": "degraded_performance", "to": "partial_outage", "decision": "disabled", "enabled": false,
        "fallback": "anthropic/claude-sonnet-4-5", "reasons": ["error rate at least 41% (59 of 100 failed) <over> 20% & rising"],
        "incident": {"id": 7, "url": "/incidents/7"}, "public": true,
    }))
}

pub fn restored() -> Event {
    parse(json!({
        "type": "model.restored", "occurred_at": "2025-03-01T11:00:00+00:00",
        "model": "anthropic/claude-opus-4-8", "model_name": "Claude Opus 4.8", "provider": "anthropic",
        "from": "partial_outage", "to": "operational", "decision": "enabled", "enabled": true,
        "fallback": null, "reasons": ["error rate back below 10%"], "incident": null, "public": true,
    }))
}

pub fn incident() -> Event {
    parse(json!({
        "type": "incident.created", "occurred_at": "2025-03-01T10:00:01+00:00", "provider": "anthropic",
        "incident": {"id": 7, "title": "Anthropic: elevated errors", "status": "investigating", "impact": "major",
                     "affected_models": ["anthropic/claude-opus-4-8"], "url": "/incidents/7"},
        "body": "Claude Opus 4.8 is failing <50%> of requests & is disabled.",
    }))
}
