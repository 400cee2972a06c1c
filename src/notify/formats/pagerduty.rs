//! PagerDuty Events API v2: an alert per model, triggered when the model is disabled and
//! resolved when it is restored. The dedup key `modelwatch/<model id>` ties the two together
//! (and makes a repeated delivery of the same trigger harmless). Other events are not alerts:
//! paging someone because a model is degraded but still routed would only teach them to
//! ignore the page.

use serde_json::json;

use super::text::{clip, summarize};
use super::Payload;
use crate::config::Secret;
use crate::vocabulary::{Event, EventBody, ModelState};

pub fn dedup_key(model: &str) -> String {
    // PagerDuty's limit on dedup keys.
    clip(&format!("modelwatch/{model}"), 255)
}

/// The only event types that are alerts.
pub fn carries(kind: &str) -> bool {
    matches!(kind, "model.disabled" | "model.restored")
}

pub fn build(event: &Event, base_url: &str, routing_key: Option<&Secret>) -> Option<Payload> {
    let routing_key = routing_key.map(Secret::expose).unwrap_or("");
    let body = match &event.body {
        EventBody::ModelDisabled(m) => {
            let model = m.model.as_str();
            let s = summarize(event, base_url);
            let group = Some(m.provider.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| model.split('/').next().unwrap_or(model));
            let mut alert = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key(model),
                "payload": {
                    "summary": clip(&s.text, 1024),
                    "source": "modelwatch",
                    // A model out entirely is critical; disabled for a partial outage is an error.
                    "severity": if m.to == ModelState::MajorOutage { "critical" } else { "error" },
                    "component": model,
                    "group": group,
                    "class": "model_health",
                    "custom_details": {
                        "reasons": m.reasons,
                        "fallback": m.fallback,
                        "from": m.from,
                        "to": m.to,
                    },
                },
                "client": "modelwatch",
            });
            if let Some(at) = &s.occurred_at {
                alert["payload"]["timestamp"] = json!(at);
            }
            if let Some(url) = &s.url {
                let name = Some(m.model_name.as_str())
                    .filter(|n| !n.is_empty())
                    .unwrap_or(model);
                alert["links"] = json!([{"href": url, "text": format!("{name} on modelwatch")}]);
            }
            alert
        }
        EventBody::ModelRestored(m) => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key(&m.model),
        }),
        _ => return None,
    };
    Some(Payload::json(&body))
}

#[cfg(test)]
mod tests {
    use super::super::samples;
    use super::*;

    use serde_json::Value;

    fn body(event: &Event) -> Option<Value> {
        let p = build(
            event,
            "https://status.example.com",
            Some(&Secret::new("R0UTING")),
        )?;
        assert_eq!(p.content_type, "application/json");
        Some(serde_json::from_slice(&p.body).unwrap())
    }

    #[test]
    fn disabling_triggers_an_alert_keyed_by_model() {
        let v = body(&samples::disabled()).unwrap();
        assert_eq!(v["routing_key"], "R0UTING");
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "modelwatch/anthropic/claude-opus-4-8");
        let p = &v["payload"];
        assert!(p["summary"]
            .as_str()
            .unwrap()
            .starts_with("Claude Opus 4.8 (anthropic/claude-opus-4-8) disabled: partial outage."));
        assert_eq!(p["source"], "modelwatch");
        assert_eq!(p["severity"], "error");
        assert_eq!(
            (p["component"].as_str(), p["group"].as_str()),
            (Some("anthropic/claude-opus-4-8"), Some("anthropic"))
        );
        assert_eq!(p["class"], "model_health");
        assert_eq!(
            p["custom_details"],
            json!({"reasons": ["error rate at least 41% (59 of 100 failed) <over> 20% & rising"],
                   "fallback": "anthropic/claude-sonnet-4-5", "from": "degraded_performance", "to": "partial_outage"})
        );
        assert_eq!(
            v["links"][0]["href"],
            "https://status.example.com/models/anthropic/claude-opus-4-8"
        );
        let major = samples::edit(samples::disabled(), |v| v["to"] = json!("major_outage"));
        assert_eq!(body(&major).unwrap()["payload"]["severity"], "critical");
    }

    #[test]
    fn restoring_resolves_the_same_alert_and_nothing_else_pages() {
        let v = body(&samples::restored()).unwrap();
        assert_eq!(
            v,
            json!({"routing_key": "R0UTING", "event_action": "resolve", "dedup_key": "modelwatch/anthropic/claude-opus-4-8"})
        );
        for kind in ["model.degraded", "model.state_changed"] {
            let other = samples::edit(samples::disabled(), |v| v["type"] = json!(kind));
            assert_eq!(body(&other), None, "{kind}");
        }
        assert_eq!(body(&samples::incident()), None);
    }
}
