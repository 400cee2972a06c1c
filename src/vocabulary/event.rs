//! The events modelwatch announces, as one type.
//!
//! An [`Event`] is what the store keeps (`events.payload_json`), what the native webhook
//! body is (links made absolute), and what every other channel (chat formats, PagerDuty,
//! email, feeds) reads its words from. Each event type is one variant of [`EventBody`], so a
//! new type (say `official.changed`) is added here once and the compiler shows every place
//! that must handle it.
//!
//! The wire form is versioned: [`EVENT_VERSION`] is written into every body as `version`.
//! Fields are only ever added within a version; a body stored before `version` existed
//! reads as version 1.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::manual::{ActiveOverride, Window};
use super::{IncidentStatus, ModelState};

/// The version of the event body written today.
pub const EVENT_VERSION: u32 = 1;

/// One announced event: when, whether the public hears it, and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The schema version of this body ([`EVENT_VERSION`]).
    #[serde(default = "first_version")]
    pub version: u32,
    /// When it happened: the evaluation round, or the SRE's action.
    #[serde(with = "rfc3339")]
    pub occurred_at: DateTime<Utc>,
    /// False for what only SREs see (a model entering or leaving `unknown`): such events
    /// reach no subscriber.
    #[serde(default = "public_by_default")]
    pub public: bool,
    /// The event type (`type` on the wire) with its fields.
    #[serde(flatten)]
    pub body: EventBody,
}

fn first_version() -> u32 {
    1
}

fn public_by_default() -> bool {
    true
}

/// What happened, one variant per event type; `type` on the wire names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventBody {
    /// A model's state changed (every change, whatever the decision did).
    #[serde(rename = "model.state_changed")]
    ModelStateChanged(ModelChange),
    /// A model entered `degraded_performance` from `operational`.
    #[serde(rename = "model.degraded")]
    ModelDegraded(ModelChange),
    /// A model's routing decision flipped to disabled: clients should use its fallback.
    #[serde(rename = "model.disabled")]
    ModelDisabled(ModelChange),
    /// A model's routing decision flipped back to enabled.
    #[serde(rename = "model.restored")]
    ModelRestored(ModelChange),
    #[serde(rename = "incident.created")]
    IncidentCreated(IncidentChange),
    #[serde(rename = "incident.updated")]
    IncidentUpdated(IncidentChange),
    #[serde(rename = "incident.resolved")]
    IncidentResolved(IncidentChange),
    /// An open incident no one has acknowledged yet: paging's reminder to the SREs' chat
    /// channels. Never stored, never sent to subscribers (not in [`EVENT_TYPES`]).
    #[serde(rename = "incident.unacknowledged")]
    IncidentUnacknowledged(IncidentChange),
    #[serde(rename = "maintenance.scheduled")]
    MaintenanceScheduled(MaintenanceChange),
    #[serde(rename = "maintenance.started")]
    MaintenanceStarted(MaintenanceChange),
    #[serde(rename = "maintenance.completed")]
    MaintenanceCompleted(MaintenanceChange),
    #[serde(rename = "maintenance.cancelled")]
    MaintenanceCancelled(MaintenanceChange),
    /// What a provider's own status page says changed: a mapped component's state, or an
    /// incident or maintenance naming one opened or resolved. Opt-in: subscribers without
    /// an `events` filter do not get it (see [`OPT_IN_EVENTS`]).
    #[serde(rename = "official.changed")]
    OfficialChanged(OfficialChange),
}

/// Every event type stored and sent to subscribers, as named on the wire.
pub const EVENT_TYPES: [&str; 12] = [
    "model.state_changed",
    "model.degraded",
    "model.disabled",
    "model.restored",
    "incident.created",
    "incident.updated",
    "incident.resolved",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.completed",
    "maintenance.cancelled",
    "official.changed",
];

/// Event types a subscriber gets only by naming them in its `events` filter: what a
/// provider's page says is context for SREs, not a change of ours, and subscribers from
/// before it existed did not ask for it.
pub const OPT_IN_EVENTS: [&str; 1] = ["official.changed"];

/// The routing decision clients should follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Enabled,
    Disabled,
}

impl Decision {
    pub fn from_enabled(enabled: bool) -> Decision {
        if enabled {
            Decision::Enabled
        } else {
            Decision::Disabled
        }
    }
}

/// A model event's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelChange {
    /// `provider/model`.
    pub model: String,
    pub model_name: String,
    pub provider: String,
    pub from: ModelState,
    pub to: ModelState,
    /// The decision after the change, overrides applied.
    pub decision: Decision,
    /// `decision == enabled`, for receivers that want a boolean.
    pub enabled: bool,
    /// The model to use instead while this one is disabled; null while enabled.
    pub fallback: Option<String>,
    /// Why, in words (the evaluator's figures, or the override's reason).
    pub reasons: Vec<String>,
    /// The SRE override in force after the change, if any (who set it is never included).
    #[serde(default, rename = "override")]
    pub manual_override: Option<ActiveOverride>,
    /// The provider's open incident, if any.
    pub incident: Option<IncidentLink>,
}

/// A link from a model event to the provider's incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentLink {
    pub id: i64,
    /// `/incidents/{id}` where stored; absolute in webhook bodies.
    pub url: String,
}

impl IncidentLink {
    pub fn to(id: i64) -> IncidentLink {
        IncidentLink {
            id,
            url: incident_path(id),
        }
    }
}

/// An incident event's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentChange {
    pub provider: String,
    pub incident: IncidentSummary,
    /// The update's text.
    pub body: String,
}

/// The incident as it stands after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    pub id: i64,
    pub title: String,
    pub status: IncidentStatus,
    /// Statuspage's impact words: `none`, `minor`, `major` or `critical`.
    pub impact: String,
    pub affected_models: Vec<String>,
    /// `/incidents/{id}` where stored; absolute in webhook bodies.
    pub url: String,
}

/// A maintenance event's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceChange {
    pub maintenance: MaintenanceSummary,
    /// The window's models (`provider/model`), as in `maintenance.models`.
    pub models: Vec<String>,
}

/// The maintenance window an event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceSummary {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub models: Vec<String>,
    #[serde(with = "rfc3339")]
    pub scheduled_for: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub scheduled_until: DateTime<Utc>,
    /// The status page (`/`) where stored; absolute in webhook bodies.
    pub url: String,
}

/// An `official.changed` event's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficialChange {
    pub provider: String,
    pub provider_name: String,
    /// What changed, in words: "Anthropic's status page: Claude API partial outage (was
    /// operational)".
    pub summary: String,
    /// The configured component, when its state changed.
    pub component: Option<String>,
    /// The component's state now (or the incident's declared impact).
    pub state: Option<ModelState>,
    pub previous: Option<ModelState>,
    /// The published incident or maintenance, when one opened or resolved.
    pub incident: Option<OfficialIncidentLink>,
    /// Our models the change concerns (by the configured component mapping).
    pub models: Vec<String>,
}

/// A provider's published incident, as linked from an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficialIncidentLink {
    pub id: String,
    pub name: String,
    /// As published: investigating, resolved, scheduled, …
    pub status: String,
    pub maintenance: bool,
    /// The provider's own page for it (absolute, theirs).
    pub url: Option<String>,
}

/// The page of incident `id`, as a path.
pub fn incident_path(id: i64) -> String {
    format!("/incidents/{id}")
}

impl IncidentChange {
    /// The one way an incident event is built, by the evaluator's round and by an SRE's
    /// action alike.
    pub fn new(
        provider: &str,
        id: i64,
        title: &str,
        status: IncidentStatus,
        impact: &str,
        affected_models: Vec<String>,
        body: &str,
    ) -> IncidentChange {
        IncidentChange {
            provider: provider.to_string(),
            incident: IncidentSummary {
                id,
                title: title.to_string(),
                status,
                impact: impact.to_string(),
                affected_models,
                url: incident_path(id),
            },
            body: body.to_string(),
        }
    }
}

impl MaintenanceChange {
    /// The event fields of window `w`.
    pub fn of(w: &Window) -> MaintenanceChange {
        MaintenanceChange {
            maintenance: MaintenanceSummary {
                id: w.id,
                title: w.title.clone(),
                body: w.body.clone(),
                models: w.models.clone(),
                scheduled_for: w.starts_at,
                scheduled_until: w.ends_at,
                url: "/".into(),
            },
            models: w.models.clone(),
        }
    }
}

impl EventBody {
    /// The event type, as named on the wire (`type`) and in the `events` table.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::ModelStateChanged(_) => "model.state_changed",
            EventBody::ModelDegraded(_) => "model.degraded",
            EventBody::ModelDisabled(_) => "model.disabled",
            EventBody::ModelRestored(_) => "model.restored",
            EventBody::IncidentCreated(_) => "incident.created",
            EventBody::IncidentUpdated(_) => "incident.updated",
            EventBody::IncidentResolved(_) => "incident.resolved",
            EventBody::IncidentUnacknowledged(_) => "incident.unacknowledged",
            EventBody::MaintenanceScheduled(_) => "maintenance.scheduled",
            EventBody::MaintenanceStarted(_) => "maintenance.started",
            EventBody::MaintenanceCompleted(_) => "maintenance.completed",
            EventBody::MaintenanceCancelled(_) => "maintenance.cancelled",
            EventBody::OfficialChanged(_) => "official.changed",
        }
    }

    /// The model event's fields, if this is one.
    pub fn model(&self) -> Option<&ModelChange> {
        match self {
            EventBody::ModelStateChanged(m)
            | EventBody::ModelDegraded(m)
            | EventBody::ModelDisabled(m)
            | EventBody::ModelRestored(m) => Some(m),
            _ => None,
        }
    }

    /// The incident event's fields, if this is one.
    pub fn incident(&self) -> Option<&IncidentChange> {
        match self {
            EventBody::IncidentCreated(i)
            | EventBody::IncidentUpdated(i)
            | EventBody::IncidentResolved(i)
            | EventBody::IncidentUnacknowledged(i) => Some(i),
            _ => None,
        }
    }

    /// The maintenance event's fields, if this is one.
    pub fn maintenance(&self) -> Option<&MaintenanceChange> {
        match self {
            EventBody::MaintenanceScheduled(m)
            | EventBody::MaintenanceStarted(m)
            | EventBody::MaintenanceCompleted(m)
            | EventBody::MaintenanceCancelled(m) => Some(m),
            _ => None,
        }
    }
}

impl Event {
    /// An event of today's version.
    pub fn new(occurred_at: DateTime<Utc>, public: bool, body: EventBody) -> Event {
        Event {
            version: EVENT_VERSION,
            occurred_at,
            public,
            body,
        }
    }

    /// Reads a stored or received body.
    pub fn parse(json: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The JSON body. Serialising these plain types cannot fail; `{}` would be the fallback.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    /// The models an event without a model of its own concerns: an incident's affected
    /// models, a maintenance window's models. Subscribers filtered by model hear these.
    pub fn affected_models(&self) -> &[String] {
        if let Some(i) = self.body.incident() {
            &i.incident.affected_models
        } else if let Some(m) = self.body.maintenance() {
            &m.models
        } else if let EventBody::OfficialChanged(o) = &self.body {
            &o.models
        } else {
            &[]
        }
    }

    /// Every link in the body (stored as paths), for making them absolute.
    pub fn links_mut(&mut self) -> Vec<&mut String> {
        match &mut self.body {
            EventBody::ModelStateChanged(m)
            | EventBody::ModelDegraded(m)
            | EventBody::ModelDisabled(m)
            | EventBody::ModelRestored(m) => m.incident.iter_mut().map(|i| &mut i.url).collect(),
            EventBody::IncidentCreated(i)
            | EventBody::IncidentUpdated(i)
            | EventBody::IncidentResolved(i)
            | EventBody::IncidentUnacknowledged(i) => vec![&mut i.incident.url],
            EventBody::MaintenanceScheduled(m)
            | EventBody::MaintenanceStarted(m)
            | EventBody::MaintenanceCompleted(m)
            | EventBody::MaintenanceCancelled(m) => vec![&mut m.maintenance.url],
            // Its only link is the provider's own page: absolute already.
            EventBody::OfficialChanged(_) => Vec::new(),
        }
    }
}

/// Times as RFC 3339 with a `+00:00` offset, as bodies have always carried them (chrono's
/// default would write `Z`); either form reads back.
mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
    }

    #[test]
    fn every_type_round_trips_and_is_named_once() {
        let model = ModelChange {
            model: "a/m".into(),
            model_name: "M".into(),
            provider: "a".into(),
            from: ModelState::Operational,
            to: ModelState::MajorOutage,
            decision: Decision::Disabled,
            enabled: false,
            fallback: Some("a/n".into()),
            reasons: vec!["hard down".into()],
            manual_override: None,
            incident: Some(IncidentLink::to(7)),
        };
        let incident = IncidentChange::new(
            "a",
            7,
            "A: M impaired",
            IncidentStatus::Investigating,
            "critical",
            vec!["a/m".into()],
            "We are seeing problems.",
        );
        let window = Window {
            id: 3,
            title: "Upgrade".into(),
            body: "".into(),
            models: vec!["a/m".into()],
            starts_at: at(),
            ends_at: at() + chrono::Duration::hours(1),
            status: super::super::WindowStatus::Scheduled,
        };
        let maintenance = MaintenanceChange::of(&window);
        let bodies = vec![
            EventBody::ModelStateChanged(model.clone()),
            EventBody::ModelDegraded(model.clone()),
            EventBody::ModelDisabled(model.clone()),
            EventBody::ModelRestored(model),
            EventBody::IncidentCreated(incident.clone()),
            EventBody::IncidentUpdated(incident.clone()),
            EventBody::IncidentResolved(incident),
            EventBody::MaintenanceScheduled(maintenance.clone()),
            EventBody::MaintenanceStarted(maintenance.clone()),
            EventBody::MaintenanceCompleted(maintenance.clone()),
            EventBody::MaintenanceCancelled(maintenance),
            EventBody::OfficialChanged(OfficialChange {
                provider: "a".into(),
                provider_name: "A".into(),
                summary: "A's status page: API partial outage (was operational)".into(),
                component: Some("API".into()),
                state: Some(ModelState::PartialOutage),
                previous: Some(ModelState::Operational),
                incident: Some(OfficialIncidentLink {
                    id: "x1".into(),
                    name: "Elevated errors".into(),
                    status: "investigating".into(),
                    maintenance: false,
                    url: Some("https://status.example/incidents/x1".into()),
                }),
                models: vec!["a/m".into()],
            }),
        ];
        let kinds: Vec<&str> = bodies.iter().map(EventBody::kind).collect();
        assert_eq!(kinds, EVENT_TYPES);
        for body in bodies {
            let event = Event::new(at(), true, body);
            let json = event.to_json();
            let wire: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(wire["type"], event.kind(), "{json}");
            assert_eq!(wire["version"], EVENT_VERSION, "{json}");
            assert_eq!(wire["occurred_at"], "2025-03-01T10:00:00+00:00", "{json}");
            assert_eq!(Event::parse(&json).unwrap(), event, "{json}");
        }
    }

    /// Bodies stored before the type existed (no `version`, no `override` on state changes,
    /// no `public` on incidents, `Z` times) still read.
    #[test]
    fn bodies_stored_by_earlier_releases_read_as_version_one() {
        let old_model = r#"{"type":"model.disabled","occurred_at":"2025-03-01T10:00:00Z","model":"a/m","model_name":"M","provider":"a","from":"operational","to":"partial_outage","decision":"disabled","enabled":false,"fallback":null,"reasons":["x"],"incident":null,"public":true}"#;
        let e = Event::parse(old_model).unwrap();
        assert_eq!(e.version, 1);
        assert_eq!(e.occurred_at, at());
        assert_eq!(e.body.model().unwrap().to, ModelState::PartialOutage);
        let old_incident = r#"{"type":"incident.resolved","occurred_at":"2025-03-01T10:00:00+00:00","provider":"a","incident":{"id":7,"title":"t","status":"resolved","impact":"none","affected_models":[],"url":"/incidents/7"},"body":"ok"}"#;
        let e = Event::parse(old_incident).unwrap();
        assert!(e.public);
        assert_eq!(
            e.body.incident().unwrap().incident.status,
            IncidentStatus::Resolved
        );
    }

    #[test]
    fn an_unknown_type_or_a_missing_field_is_an_error_not_a_default() {
        assert!(
            Event::parse(r#"{"type":"model.exploded","occurred_at":"2025-03-01T10:00:00Z"}"#)
                .is_err()
        );
        assert!(Event::parse(
            r#"{"type":"model.disabled","occurred_at":"2025-03-01T10:00:00Z","model":"a/m"}"#
        )
        .is_err());
        assert!(Event::parse(r#"{"model": "#).is_err());
    }
}
