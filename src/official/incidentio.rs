//! incident.io's public status page widget API (`https://<page>/api/v1/summary`, also served
//! as `/proxy/<page>`): the ongoing incidents, the maintenances in progress and those
//! scheduled, each with the components it affects and their current status.
//!
//! The widget lists only affected components, so a component it does not mention is
//! operational, and it gives no start time for an incident: the poller records when it
//! first saw one.

use serde::Deserialize;

use super::{time, Component, Incident, Report, Unreadable};
use crate::vocabulary::ModelState;

#[derive(Deserialize)]
struct Widget {
    ongoing_incidents: Vec<RawIncident>,
    #[serde(default)]
    in_progress_maintenances: Vec<RawIncident>,
    #[serde(default)]
    scheduled_maintenances: Vec<RawIncident>,
}

#[derive(Deserialize)]
struct RawIncident {
    id: String,
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    last_update_message: Option<String>,
    #[serde(default)]
    current_worst_impact: Option<String>,
    #[serde(default)]
    affected_components: Vec<RawComponent>,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    scheduled_end_at: Option<String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    id: String,
    name: String,
    #[serde(default)]
    current_status: Option<String>,
}

/// incident.io's component status words in ours (`full_outage` is a major outage).
fn state(status: Option<&str>) -> Option<ModelState> {
    match status? {
        "operational" => Some(ModelState::Operational),
        "degraded_performance" => Some(ModelState::DegradedPerformance),
        "partial_outage" => Some(ModelState::PartialOutage),
        "full_outage" | "major_outage" => Some(ModelState::MajorOutage),
        "under_maintenance" => Some(ModelState::UnderMaintenance),
        _ => None,
    }
}

pub fn parse(body: &[u8]) -> Result<Report, Unreadable> {
    let widget: Widget =
        serde_json::from_slice(body).map_err(|e| Unreadable::json("incident.io widget", &e))?;
    let mut report = Report::default();
    let mut note = |c: &RawComponent, fallback: ModelState| {
        let s = state(c.current_status.as_deref()).unwrap_or(fallback);
        match report.components.iter_mut().find(|x| x.id == c.id) {
            Some(known) if known.state.severity() >= s.severity() => {}
            Some(known) => known.state = s,
            None => report.components.push(Component {
                id: c.id.clone(),
                name: c.name.clone(),
                state: s,
            }),
        }
    };
    for i in &widget.ongoing_incidents {
        for c in &i.affected_components {
            note(c, ModelState::PartialOutage);
        }
    }
    for m in &widget.in_progress_maintenances {
        for c in &m.affected_components {
            note(c, ModelState::UnderMaintenance);
        }
    }
    for i in widget.ongoing_incidents {
        let impact = state(i.current_worst_impact.as_deref());
        report.incidents.push(incident(i, impact, None));
    }
    for m in widget.in_progress_maintenances {
        let window = m
            .started_at
            .as_deref()
            .and_then(time)
            .zip(m.scheduled_end_at.as_deref().and_then(time));
        report.incidents.push(incident(m, None, window));
    }
    for m in widget.scheduled_maintenances {
        let window = m
            .starts_at
            .as_deref()
            .and_then(time)
            .zip(m.ends_at.as_deref().and_then(time));
        report.incidents.push(incident(m, None, window));
    }
    Ok(report)
}

fn incident(
    raw: RawIncident,
    impact: Option<ModelState>,
    maintenance: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
) -> Incident {
    Incident {
        text: format!(
            "{}\n{}",
            raw.name,
            raw.last_update_message.as_deref().unwrap_or_default()
        ),
        published_at: raw.published_at.as_deref().and_then(time),
        components: raw
            .affected_components
            .iter()
            .map(|c| (c.id.clone(), c.name.clone()))
            .collect(),
        status: raw.status.unwrap_or_else(|| "ongoing".into()),
        id: raw.id,
        name: raw.name,
        url: raw.url,
        impact,
        resolved_at: None,
        finished: false,
        maintenance,
    }
}
