//! The events a round announces: a model's state change (and the decision flip it brings),
//! or a decision flipped by an override starting or ending. Pure: the engine passes in what
//! it decided.

use serde_json::json;

use crate::evaluate::incidents::OpenIncident;
use crate::evaluate::overrides::ActiveOverride;
use crate::evaluate::ModelState;
use crate::store::evaluations::{NewEvent, StateChange};

/// The model an event is about.
pub struct About<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub provider_id: &'a str,
}

/// The routing decision clients saw before the round and see after it (overrides applied),
/// with the fallback to use when it is off.
pub struct Decision {
    pub before: bool,
    pub after: bool,
    pub fallback: Option<String>,
}

fn incident_link(incident: Option<&OpenIncident>) -> serde_json::Value {
    incident.map_or(
        serde_json::Value::Null,
        |i| json!({"id": i.id, "url": format!("/incidents/{}", i.id)}),
    )
}

/// Events for one state change: `model.state_changed` (public unless it leaves or enters
/// `unknown`), `model.degraded` on entering degraded from operational, and
/// `model.disabled` / `model.restored` for every flip of the decision, maintenance included
/// (a program that follows only those must stay in step with the routing table).
pub fn state_change(
    about: &About<'_>,
    change: &StateChange,
    decision: &Decision,
    incident: Option<&OpenIncident>,
) -> Vec<NewEvent> {
    let mut payload = json!({
        "model": about.key,
        "model_name": about.name,
        "provider": about.provider_id,
        "from": change.from,
        "to": change.to,
        "decision": if decision.after { "enabled" } else { "disabled" },
        "enabled": decision.after,
        "fallback": if decision.after { None } else { decision.fallback.clone() },
        "reasons": change.reasons,
        "incident": incident_link(incident),
    });
    let sre_only = change.from == ModelState::Unknown || change.to == ModelState::Unknown;
    let mut kinds = vec![("model.state_changed", !sre_only)];
    if change.to == ModelState::DegradedPerformance && change.from.severity().unwrap_or(0) < 1 {
        kinds.push(("model.degraded", true));
    }
    if decision.before && !decision.after {
        kinds.push(("model.disabled", true));
    }
    if !decision.before && decision.after {
        kinds.push(("model.restored", true));
    }
    kinds
        .into_iter()
        .map(|(kind, public)| {
            payload["public"] = json!(public);
            NewEvent {
                kind,
                provider_id: about.provider_id.to_string(),
                model_key: Some(about.key.to_string()),
                public,
                payload: payload.clone(),
            }
        })
        .collect()
}

/// The event for a decision flipped by an override starting or ending, the state unchanged.
pub fn override_flip(
    about: &About<'_>,
    state: ModelState,
    decision: &Decision,
    now_in_force: Option<&ActiveOverride>,
    ended: Option<&ActiveOverride>,
    incident: Option<&OpenIncident>,
) -> NewEvent {
    let kind = if decision.after {
        "model.restored"
    } else {
        "model.disabled"
    };
    let reason = match (now_in_force, ended) {
        (Some(o), _) => o.describe(),
        (None, Some(o)) => format!("manual override ended: {}", o.reason),
        (None, None) => "override ended".into(),
    };
    NewEvent {
        kind,
        provider_id: about.provider_id.to_string(),
        model_key: Some(about.key.to_string()),
        public: true,
        payload: json!({
            "model": about.key,
            "model_name": about.name,
            "provider": about.provider_id,
            "from": state,
            "to": state,
            "decision": if decision.after { "enabled" } else { "disabled" },
            "enabled": decision.after,
            "fallback": if decision.after { None } else { decision.fallback.clone() },
            "reasons": [reason],
            "override": now_in_force,
            "incident": incident_link(incident),
            "public": true,
        }),
    }
}
