//! The events a round announces: a model's state change (and the decision flip it brings),
//! or a decision flipped by an override starting or ending. Pure: the engine passes in what
//! it decided.

use crate::evaluate::incidents::OpenIncident;
use crate::store::evaluations::StateChange;
use crate::store::events::NewEvent;
use crate::vocabulary::event::{self, EventBody, IncidentLink, ModelChange};
use crate::vocabulary::{ActiveOverride, ModelState};

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

fn incident_link(incident: Option<&OpenIncident>) -> Option<IncidentLink> {
    incident.map(|i| IncidentLink::to(i.id))
}

/// The fields every model event of a round shares.
fn change_of(
    about: &About<'_>,
    from: ModelState,
    to: ModelState,
    decision: &Decision,
    reasons: Vec<String>,
    manual_override: Option<&ActiveOverride>,
    incident: Option<&OpenIncident>,
) -> ModelChange {
    ModelChange {
        model: about.key.to_string(),
        model_name: about.name.to_string(),
        provider: about.provider_id.to_string(),
        from,
        to,
        decision: event::Decision::from_enabled(decision.after),
        enabled: decision.after,
        fallback: if decision.after {
            None
        } else {
            decision.fallback.clone()
        },
        reasons,
        manual_override: manual_override.cloned(),
        incident: incident_link(incident),
    }
}

/// Events for one state change: `model.state_changed` (public unless it leaves or enters
/// `unknown`), `model.degraded` on entering degraded from operational, and
/// `model.disabled` / `model.restored` for every flip of the decision, maintenance included
/// (a program that follows only those must stay in step with the routing table).
pub fn state_change(
    about: &About<'_>,
    change: &StateChange,
    decision: &Decision,
    in_force: Option<&ActiveOverride>,
    incident: Option<&OpenIncident>,
) -> Vec<NewEvent> {
    let fields = change_of(
        about,
        change.from,
        change.to,
        decision,
        change.reasons.clone(),
        in_force,
        incident,
    );
    let sre_only = change.from == ModelState::Unknown || change.to == ModelState::Unknown;
    let mut bodies = vec![(EventBody::ModelStateChanged(fields.clone()), !sre_only)];
    if change.to == ModelState::DegradedPerformance && change.from.severity().unwrap_or(0) < 1 {
        bodies.push((EventBody::ModelDegraded(fields.clone()), true));
    }
    if decision.before && !decision.after {
        bodies.push((EventBody::ModelDisabled(fields.clone()), true));
    }
    if !decision.before && decision.after {
        bodies.push((EventBody::ModelRestored(fields), true));
    }
    bodies
        .into_iter()
        .map(|(body, public)| NewEvent {
            provider_id: about.provider_id.to_string(),
            model_key: Some(about.key.to_string()),
            public,
            body,
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
    let reason = match (now_in_force, ended) {
        (Some(o), _) => o.describe(),
        (None, Some(o)) => format!("manual override ended: {}", o.reason),
        (None, None) => "override ended".into(),
    };
    let fields = change_of(
        about,
        state,
        state,
        decision,
        vec![reason],
        now_in_force,
        incident,
    );
    NewEvent {
        provider_id: about.provider_id.to_string(),
        model_key: Some(about.key.to_string()),
        public: true,
        body: if decision.after {
            EventBody::ModelRestored(fields)
        } else {
            EventBody::ModelDisabled(fields)
        },
    }
}
