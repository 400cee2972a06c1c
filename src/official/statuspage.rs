//! Atlassian Statuspage API v2, as its public pages serve it: `/api/v2/summary.json` (every
//! component, the unresolved incidents, the open maintenances) and `/api/v2/incidents.json`
//! (the latest incidents, resolved ones included). Many AI providers' pages use it.
//!
//! Fields are read leniently (anything not needed may be missing or change), but a document
//! whose shape is not Statuspage's is [`Unreadable`], never a guess.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{time, Component, Incident, Report, Unreadable};
use crate::vocabulary::ModelState;

/// The documents read for a page configured as `url`: a page's base address, or the address
/// of its `summary.json` (then `incidents.json` is its sibling).
pub fn documents(url: &str) -> Vec<String> {
    let url = url.trim_end_matches('/');
    if let Some(base) = url.strip_suffix("/summary.json") {
        vec![url.to_string(), format!("{base}/incidents.json")]
    } else {
        vec![
            format!("{url}/api/v2/summary.json"),
            format!("{url}/api/v2/incidents.json"),
        ]
    }
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    page: Option<Page>,
    #[serde(default)]
    components: Option<Vec<RawComponent>>,
    #[serde(default)]
    incidents: Option<Vec<RawIncident>>,
    #[serde(default)]
    scheduled_maintenances: Option<Vec<RawIncident>>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    id: String,
    name: String,
    status: String,
    /// A group only gathers components; its status is derived from theirs.
    #[serde(default)]
    group: bool,
}

#[derive(Deserialize)]
struct RawIncident {
    id: String,
    name: String,
    status: String,
    #[serde(default)]
    impact: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    resolved_at: Option<String>,
    #[serde(default)]
    shortlink: Option<String>,
    #[serde(default)]
    scheduled_for: Option<String>,
    #[serde(default)]
    scheduled_until: Option<String>,
    #[serde(default)]
    components: Vec<RawComponent>,
    #[serde(default)]
    incident_updates: Vec<RawUpdate>,
}

#[derive(Deserialize)]
struct RawUpdate {
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    affected_components: Option<Vec<AffectedComponent>>,
}

#[derive(Deserialize)]
struct AffectedComponent {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// A component status in our words; a status this version does not know reads `unknown`.
pub fn component_state(status: &str) -> ModelState {
    match status {
        "operational" => ModelState::Operational,
        "degraded_performance" => ModelState::DegradedPerformance,
        "partial_outage" => ModelState::PartialOutage,
        "major_outage" => ModelState::MajorOutage,
        "under_maintenance" => ModelState::UnderMaintenance,
        _ => ModelState::Unknown,
    }
}

/// An incident's declared impact in our words (`none` and `maintenance` declare none).
fn impact(text: Option<&str>) -> Option<ModelState> {
    match text? {
        "minor" => Some(ModelState::DegradedPerformance),
        "major" => Some(ModelState::PartialOutage),
        "critical" => Some(ModelState::MajorOutage),
        _ => None,
    }
}

/// Parses and merges the documents of one page (summary and incidents, in any order): each
/// incident is taken once, from the first document that lists it.
pub fn parse(documents: &[&[u8]]) -> Result<Report, Unreadable> {
    let mut report = Report::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for body in documents {
        let doc: Document =
            serde_json::from_slice(body).map_err(|e| Unreadable::json("Statuspage", &e))?;
        if doc.components.is_none() && doc.incidents.is_none() {
            return Err(Unreadable(
                "not a Statuspage document: it has neither `components` nor `incidents`".into(),
            ));
        }
        let base = doc
            .page
            .and_then(|p| p.url)
            .map(|u| u.trim_end_matches('/').to_string());
        for c in doc.components.into_iter().flatten().filter(|c| !c.group) {
            report.components.push(Component {
                state: component_state(&c.status),
                id: c.id,
                name: c.name,
            });
        }
        let listed = doc
            .incidents
            .into_iter()
            .flatten()
            .chain(doc.scheduled_maintenances.into_iter().flatten());
        for raw in listed {
            if !seen.insert(raw.id.clone()) {
                continue;
            }
            report.incidents.push(incident(raw, base.as_deref()));
        }
    }
    Ok(report)
}

fn incident(raw: RawIncident, base: Option<&str>) -> Incident {
    let mut components: Vec<(String, String)> = raw
        .components
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    // Older incidents list their components only in their updates.
    for update in &raw.incident_updates {
        for a in update.affected_components.iter().flatten() {
            let id = a.code.clone().unwrap_or_default();
            let name = a.name.clone().unwrap_or_default();
            if !components.iter().any(|(i, _)| *i == id) {
                components.push((id, name));
            }
        }
    }
    let maintenance = match (&raw.scheduled_for, &raw.scheduled_until) {
        (Some(from), Some(until)) => time(from).zip(time(until)),
        _ => None,
    };
    let finished = matches!(raw.status.as_str(), "resolved" | "postmortem" | "completed");
    let resolved_at = raw.resolved_at.as_deref().and_then(time).or_else(|| {
        finished
            .then(|| maintenance.map(|(_, until)| until))
            .flatten()
    });
    let latest = raw
        .incident_updates
        .first()
        .and_then(|u| u.body.clone())
        .unwrap_or_default();
    let url = match base {
        Some(base) => Some(format!("{base}/incidents/{}", raw.id)),
        None => raw.shortlink.clone(),
    };
    Incident {
        text: format!("{}\n{latest}", raw.name),
        url,
        impact: impact(raw.impact.as_deref()),
        published_at: raw
            .created_at
            .as_deref()
            .and_then(time)
            .or_else(|| raw.started_at.as_deref().and_then(time)),
        resolved_at,
        finished,
        status: raw.status,
        id: raw.id,
        name: raw.name,
        components,
        maintenance,
    }
}
