//! Google Cloud's public `https://status.cloud.google.com/incidents.json`: every incident of
//! every product for years, newest first, each with the products it affected. Gemini on
//! Vertex AI is one of those products.
//!
//! It publishes no component states: a product's state is derived from the open incidents
//! naming it (`status_impact`), by [`super::observe`].

use serde::Deserialize;

use super::{time, Incident, Report, Unreadable};
use crate::vocabulary::ModelState;

const BASE: &str = "https://status.cloud.google.com/";

#[derive(Deserialize)]
struct RawIncident {
    id: String,
    #[serde(default)]
    external_desc: Option<String>,
    #[serde(default)]
    begin: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    status_impact: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    affected_products: Vec<Product>,
    #[serde(default)]
    most_recent_update: Option<Update>,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default)]
    id: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct Update {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `status_impact` in our words (`SERVICE_INFORMATION` is a notice, not an outage).
fn impact(status: Option<&str>, severity: Option<&str>) -> Option<ModelState> {
    match status? {
        "SERVICE_OUTAGE" => Some(ModelState::MajorOutage),
        "SERVICE_DISRUPTION" if severity == Some("high") => Some(ModelState::MajorOutage),
        "SERVICE_DISRUPTION" => Some(ModelState::PartialOutage),
        "SERVICE_INFORMATION" => Some(ModelState::DegradedPerformance),
        _ => None,
    }
}

pub fn parse(body: &[u8]) -> Result<Report, Unreadable> {
    let raw: Vec<RawIncident> =
        serde_json::from_slice(body).map_err(|e| Unreadable::json("Google Cloud incidents", &e))?;
    let incidents = raw
        .into_iter()
        .map(|i| {
            let name = i
                .external_desc
                .clone()
                .unwrap_or_else(|| format!("Incident {}", i.id));
            let latest = i.most_recent_update.as_ref();
            let resolved_at = i.end.as_deref().and_then(time);
            Incident {
                text: format!(
                    "{name}\n{}",
                    latest.and_then(|u| u.text.as_deref()).unwrap_or_default()
                ),
                status: if resolved_at.is_some() {
                    "resolved".into()
                } else {
                    latest
                        .and_then(|u| u.status.clone())
                        .unwrap_or_else(|| "ongoing".into())
                        .to_lowercase()
                },
                url: i
                    .uri
                    .as_deref()
                    .map(|u| format!("{BASE}{}", u.trim_start_matches('/'))),
                impact: impact(i.status_impact.as_deref(), i.severity.as_deref()),
                published_at: i
                    .created
                    .as_deref()
                    .and_then(time)
                    .or_else(|| i.begin.as_deref().and_then(time)),
                finished: resolved_at.is_some(),
                resolved_at,
                components: i
                    .affected_products
                    .iter()
                    .map(|p| (p.id.clone(), p.title.clone()))
                    .collect(),
                maintenance: None,
                id: i.id,
                name,
            }
        })
        .collect();
    Ok(Report {
        components: Vec::new(),
        incidents,
    })
}
