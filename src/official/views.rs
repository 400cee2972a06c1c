//! Official status as the pages and APIs show it: per model beside our state, and per
//! provider with the lead figures. Built from the stored records with each public snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::lead::{self, OurIncidentLead, ProviderLead, TheirIncident};
use super::{OfficialIncidentRef, OfficialView};
use crate::config::Config;
use crate::store::incidents::Incident;
use crate::store::ms_to_time;
use crate::store::official::OfficialRecords;
use crate::vocabulary::ModelState;

/// One provider's official page, as of the last poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderOfficial {
    pub provider_id: String,
    pub provider_name: String,
    pub kind: String,
    /// The page's address (`None` for the demo's simulated page).
    pub url: Option<String>,
    /// `false` until the first poll, and while the page cannot be read.
    pub available: bool,
    pub reason: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    /// The last poll that read it: what is shown is as of this time.
    pub read_at: Option<DateTime<Utc>>,
    pub components: Vec<ComponentView>,
    pub last_30_days: ProviderLead,
    pub last_90_days: ProviderLead,
}

/// A mapped component's published state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentView {
    pub name: String,
    pub state: ModelState,
    pub since: DateTime<Utc>,
    pub models: Vec<String>,
}

/// Everything official the public snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OfficialSnapshot {
    pub providers: Vec<ProviderOfficial>,
    /// Each of our incidents (of providers with a page) and its acknowledgement, by id.
    pub ours: BTreeMap<i64, OurIncidentLead>,
    /// Published incidents of the last 90 days, newest first, with whether we saw them.
    pub theirs: Vec<TheirIncident>,
    /// Per model: its official view.
    #[serde(skip)]
    pub models: BTreeMap<String, OfficialView>,
}

impl OfficialSnapshot {
    pub fn build(
        config: &Config,
        records: &OfficialRecords,
        ours: &[Incident],
        now: DateTime<Utc>,
    ) -> OfficialSnapshot {
        let leads = lead::our_leads(config, ours, records, now);
        let theirs = lead::their_incidents(config, ours, records, now);
        // Each provider's figures by its id, not by position.
        let by_provider = |days| {
            lead::figures(config, &leads, &theirs, days, now)
                .into_iter()
                .map(|f| (f.provider_id.clone(), f))
                .collect::<BTreeMap<_, _>>()
        };
        let (mut last_30, mut last_90) = (by_provider(30), by_provider(90));
        let mut providers = Vec::new();
        let mut models = BTreeMap::new();
        for p in &config.providers {
            let (Some(source), Some(f30), Some(f90)) = (
                p.official.as_ref(),
                last_30.remove(&p.id),
                last_90.remove(&p.id),
            ) else {
                continue;
            };
            let row = records.sources.iter().find(|s| s.provider_id == p.id);
            let available = row.is_some_and(|r| r.available);
            let reason = match row {
                None => Some("not read yet".to_string()),
                Some(r) => r.reason.clone(),
            };
            let components: Vec<ComponentView> = source
                .components
                .iter()
                .filter_map(|(name, covered)| {
                    let stored = records
                        .components
                        .iter()
                        .find(|c| c.provider_id == p.id && &c.component == name)?;
                    Some(ComponentView {
                        name: name.clone(),
                        state: stored.state,
                        since: stored.since,
                        models: covered.clone(),
                    })
                })
                .collect();
            for m in &p.models {
                let key = format!("{}/{}", p.id, m.id);
                let component = source
                    .components
                    .iter()
                    .find(|(_, covered)| covered.contains(&key))
                    .map(|(c, _)| c.clone());
                let stored = component
                    .as_ref()
                    .and_then(|c| components.iter().find(|v| &v.name == c));
                let incidents = records
                    .incidents
                    .iter()
                    .filter(|i| i.provider_id == p.id && i.resolved_at.is_none())
                    .filter(|i| component.as_ref().is_some_and(|c| i.components.contains(c)))
                    .map(|i| OfficialIncidentRef {
                        id: i.incident_id.clone(),
                        name: i.name.clone(),
                        status: i.status.clone(),
                        url: i.url.clone(),
                        maintenance: i.maintenance,
                        published_at: i.published_at,
                    })
                    .collect();
                models.insert(
                    key,
                    OfficialView {
                        available,
                        reason: reason.clone(),
                        state: stored.map(|c| c.state),
                        since: stored.map(|c| c.since),
                        component,
                        incidents,
                        checked_at: row.map(|r| ms_to_time(r.checked_at)),
                    },
                );
            }
            providers.push(ProviderOfficial {
                provider_id: p.id.clone(),
                provider_name: p.name.clone(),
                kind: source.kind.as_str().to_string(),
                url: source.url.clone(),
                available,
                reason,
                checked_at: row.map(|r| ms_to_time(r.checked_at)),
                read_at: row.and_then(|r| r.read_at).map(ms_to_time),
                components,
                last_30_days: f30,
                last_90_days: f90,
            });
        }
        OfficialSnapshot {
            providers,
            ours: lead::by_incident(leads),
            theirs,
            models,
        }
    }
}
