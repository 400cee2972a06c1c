//! Official status: what each provider publishes about itself, read beside what we observe.
//!
//! A provider's page is polled ([`poller`]) through the webhook SSRF guard ([`fetch`]) and
//! read in its publisher's format ([`statuspage`], [`incidentio`], [`feed`],
//! [`google_cloud`]; the demo's [`simulated`]) into one [`Report`]. Only the components the
//! operator mapped to models matter: [`observe`] turns a report into the state of each
//! mapped component and the incidents that name them, which the store keeps with their
//! history (`store::official`). [`lead`] then sets our incidents beside theirs and measures
//! who knew first.
//!
//! Official status never decides routing: it is coarse (one component for a whole API) and
//! late. It is shown, measured and, if the operator says so, its maintenance is adopted.

pub mod feed;
pub mod fetch;
pub mod google_cloud;
pub mod incidentio;
pub mod lead;
pub mod poller;
pub mod simulated;
pub mod statuspage;
pub mod views;

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod robustness_tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::OfficialSource;
use crate::vocabulary::ModelState;

/// The most of one published document that is read: Google Cloud's `incidents.json`, the
/// largest format here, holds years of history in a few megabytes.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Published incidents older than this are not kept: the lead figures look back 90 days.
pub const KEEP_DAYS: i64 = 90;

/// A component as published.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub state: ModelState,
}

/// A published incident or maintenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub name: String,
    /// The provider's page for it.
    pub url: Option<String>,
    /// As published: investigating, identified, monitoring, resolved, scheduled, …
    pub status: String,
    /// The worst impact it declares, in our words.
    pub impact: Option<ModelState>,
    /// When the page first published it; `None` when the format does not say (the poller
    /// then uses the moment it first saw it).
    pub published_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Over, even when the format does not say when (the poller then records the moment it
    /// saw it so).
    pub finished: bool,
    /// The components it names (id and name), as published.
    pub components: Vec<(String, String)>,
    /// Its words (title and latest update), for formats that name no components.
    pub text: String,
    /// For a maintenance: its planned window.
    pub maintenance: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Incident {
    pub fn resolved(&self) -> bool {
        self.finished || self.resolved_at.is_some()
    }
}

/// One reading of a provider's page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Components with their published state (empty for formats that publish none).
    pub components: Vec<Component>,
    /// Open incidents and maintenances, and resolved ones the format still lists.
    pub incidents: Vec<Incident>,
}

/// Why a page could not be read, in words shown on the page ("official status unavailable:
/// …"). Never carries the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

impl Unreadable {
    /// A JSON body that did not parse as the format: says where, never what.
    pub fn json(format: &str, e: &serde_json::Error) -> Unreadable {
        Unreadable(format!(
            "not {format} JSON (line {}, column {}: {})",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Eof => "the document ends early",
                serde_json::error::Category::Syntax => "syntax error",
                serde_json::error::Category::Data => "a field has an unexpected shape",
                serde_json::error::Category::Io => "read error",
            }
        ))
    }
}

/// Parses an RFC 3339 time as the formats publish it; `None` for anything else.
pub fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What a report says of the components the operator mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Configured component key → its state now.
    pub components: BTreeMap<String, ModelState>,
    /// Every incident the report lists, with the configured components it names.
    pub incidents: Vec<(Incident, Vec<String>)>,
}

/// Whether the configured `key` (a component's name or id) is the published component
/// `(id, name)`.
fn names(key: &str, id: &str, name: &str) -> bool {
    key == id || key.trim().eq_ignore_ascii_case(name.trim())
}

/// The configured components an incident names: by id or name, or, for formats that name
/// no components (feeds), by the component's name appearing in its words.
pub fn matched_components(source: &OfficialSource, incident: &Incident) -> Vec<String> {
    let text = incident.text.to_lowercase();
    source
        .components
        .keys()
        .filter(|key| {
            if incident.components.is_empty() {
                text.contains(&key.to_lowercase())
            } else {
                incident
                    .components
                    .iter()
                    .any(|(id, name)| names(key, id, name))
            }
        })
        .cloned()
        .collect()
}

/// Reads a report for the configured components: a component's state is what the page
/// publishes for it, else the worst impact of the open incidents naming it (maintenance in
/// progress when only a maintenance does), else operational.
pub fn observe(source: &OfficialSource, report: &Report, now: DateTime<Utc>) -> Observed {
    let incidents: Vec<(Incident, Vec<String>)> = report
        .incidents
        .iter()
        .map(|i| (i.clone(), matched_components(source, i)))
        .collect();
    let mut components = BTreeMap::new();
    for key in source.components.keys() {
        let published = report
            .components
            .iter()
            .find(|c| names(key, &c.id, &c.name))
            .map(|c| c.state);
        let from_incidents = || {
            let open = incidents
                .iter()
                .filter(|(i, keys)| !i.resolved() && keys.contains(key));
            let mut worst: Option<ModelState> = None;
            for (i, _) in open {
                let state = match i.maintenance {
                    Some((starts, ends)) if starts <= now && now < ends => {
                        ModelState::UnderMaintenance
                    }
                    Some(_) => continue,
                    None => i.impact.unwrap_or(ModelState::PartialOutage),
                };
                worst = Some(match worst {
                    Some(w) if w.severity() >= state.severity() => w,
                    _ => state,
                });
            }
            worst.unwrap_or(ModelState::Operational)
        };
        components.insert(key.clone(), published.unwrap_or_else(from_incidents));
    }
    Observed {
        components,
        incidents,
    }
}

/// A provider's official status as the pages show it beside a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficialView {
    /// False while the page cannot be read; `reason` says why.
    pub available: bool,
    pub reason: Option<String>,
    /// The published component that speaks for the model, and its state.
    pub component: Option<String>,
    pub state: Option<ModelState>,
    pub since: Option<DateTime<Utc>>,
    /// The open published incidents naming the model's component, newest first.
    pub incidents: Vec<OfficialIncidentRef>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// An official incident as linked from our pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficialIncidentRef {
    pub id: String,
    pub name: String,
    pub status: String,
    pub url: Option<String>,
    pub maintenance: bool,
    pub published_at: DateTime<Utc>,
}

impl OfficialView {
    /// "the provider reports no problem": our state is impaired and the page, readable, says
    /// the model's component is operational with no open incident naming it.
    pub fn disagrees_with(&self, ours: ModelState) -> bool {
        self.available
            && ours.is_impaired()
            && self.state == Some(ModelState::Operational)
            && self.incidents.iter().all(|i| i.maintenance)
    }
}
