//! Who knew first: our incidents set beside what the providers' pages published.
//!
//! For each incident of ours, the provider *acknowledged* it at the earliest of: a published
//! incident naming a component that covers one of its models, or a change of such a
//! component to an impaired state, found between [`BEFORE`] its start and [`AFTER`] its
//! end. The lead is that moment minus our start (positive: we were first). Each published
//! incident (maintenances aside) is *seen* when one of our incidents on the models its
//! components cover overlaps it; one naming no mapped component is a problem outside what we
//! probe. Pure: the figures follow from the stored records, so they never disagree with them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::store::incidents::Incident;
use crate::store::official::OfficialRecords;

/// How long before our incident a provider's acknowledgement still counts as this one's.
pub const BEFORE_MINUTES: i64 = 60;
/// How long after our incident ends a late acknowledgement still counts as this one's.
pub const AFTER_MINUTES: i64 = 120;

fn before() -> Duration {
    Duration::minutes(BEFORE_MINUTES)
}

fn after() -> Duration {
    Duration::minutes(AFTER_MINUTES)
}

/// One of our incidents and the provider's acknowledgement of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OurIncidentLead {
    pub incident_id: i64,
    pub provider_id: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// `None`: the provider's page never acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Minutes from our start to their acknowledgement; negative when they were first.
    pub lead_minutes: Option<f64>,
    /// The published incident that acknowledged it, when one did (else a component change).
    pub official_incident: Option<OfficialRef>,
}

/// A published incident, as the lead figures name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficialRef {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
}

/// One published incident and whether we saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TheirIncident {
    pub provider_id: String,
    pub incident: OfficialRef,
    pub published_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Our incident on the same models at the same time, if any.
    pub seen_by: Option<i64>,
    /// The components it names cover no model we probe.
    pub outside: bool,
}

/// A provider's figures over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderLead {
    pub provider_id: String,
    pub provider_name: String,
    pub days: i64,
    pub our_incidents: usize,
    pub acknowledged: usize,
    /// `acknowledged / our_incidents`; `None` without incidents.
    pub acknowledged_share: Option<f64>,
    /// The median lead of the acknowledged ones, in minutes.
    pub median_lead_minutes: Option<f64>,
    /// Published incidents on mapped components (maintenances aside).
    pub official_incidents: usize,
    pub seen: usize,
    pub seen_share: Option<f64>,
    /// Published incidents naming no mapped component.
    pub outside: usize,
}

/// Component → models, and model → components, of each provider with an official source.
struct Mapping<'a> {
    config: &'a Config,
}

impl Mapping<'_> {
    fn components_of(&self, provider: &str, models: &[String]) -> BTreeSet<String> {
        let Some(source) = self.source(provider) else {
            return BTreeSet::new();
        };
        source
            .components
            .iter()
            .filter(|(_, covered)| covered.iter().any(|m| models.contains(m)))
            .map(|(c, _)| c.clone())
            .collect()
    }

    fn models_of(&self, provider: &str, components: &[String]) -> BTreeSet<String> {
        let Some(source) = self.source(provider) else {
            return BTreeSet::new();
        };
        components
            .iter()
            .filter_map(|c| source.components.get(c))
            .flatten()
            .cloned()
            .collect()
    }

    fn source(&self, provider: &str) -> Option<&crate::config::OfficialSource> {
        self.config
            .providers
            .iter()
            .find(|p| p.id == provider)
            .and_then(|p| p.official.as_ref())
    }
}

/// Our incidents (of providers with an official source), each with its acknowledgement.
pub fn our_leads(
    config: &Config,
    ours: &[Incident],
    records: &OfficialRecords,
    now: DateTime<Utc>,
) -> Vec<OurIncidentLead> {
    let mapping = Mapping { config };
    ours.iter()
        .filter(|i| mapping.source(&i.provider_id).is_some())
        .map(|i| {
            let components = mapping.components_of(&i.provider_id, &i.affected);
            let (from, to) = (
                i.created_at - before(),
                i.resolved_at.unwrap_or(now) + after(),
            );
            let by_incident = records
                .incidents
                .iter()
                .filter(|o| o.provider_id == i.provider_id && !o.maintenance)
                .filter(|o| o.components.iter().any(|c| components.contains(c)))
                .filter(|o| o.published_at <= to && o.resolved_at.unwrap_or(now) >= from)
                .min_by_key(|o| o.published_at);
            let by_component = records
                .changes
                .iter()
                .filter(|c| c.provider_id == i.provider_id && components.contains(&c.component))
                .filter(|c| c.state.is_impaired() && c.at >= from && c.at <= to)
                .map(|c| c.at)
                .min();
            let (acknowledged_at, official_incident) = match (by_incident, by_component) {
                (Some(o), Some(at)) if at < o.published_at => (Some(at), None),
                (Some(o), _) => (
                    Some(o.published_at),
                    Some(OfficialRef {
                        id: o.incident_id.clone(),
                        name: o.name.clone(),
                        url: o.url.clone(),
                    }),
                ),
                (None, at) => (at, None),
            };
            OurIncidentLead {
                incident_id: i.id,
                provider_id: i.provider_id.clone(),
                title: i.title.clone(),
                created_at: i.created_at,
                lead_minutes: acknowledged_at.map(|a| {
                    ((a - i.created_at).num_seconds() as f64 / 60.0 * 10.0).round() / 10.0
                }),
                acknowledged_at,
                official_incident,
            }
        })
        .collect()
}

/// The published incidents (maintenances aside), each with whether we saw it.
pub fn their_incidents(
    config: &Config,
    ours: &[Incident],
    records: &OfficialRecords,
    now: DateTime<Utc>,
) -> Vec<TheirIncident> {
    let mapping = Mapping { config };
    records
        .incidents
        .iter()
        .filter(|o| !o.maintenance)
        .map(|o| {
            let models = mapping.models_of(&o.provider_id, &o.components);
            let (from, to) = (
                o.published_at - after(),
                o.resolved_at.unwrap_or(now) + before(),
            );
            let seen_by = ours
                .iter()
                .filter(|i| i.provider_id == o.provider_id)
                .filter(|i| i.affected.iter().any(|m| models.contains(m)))
                .filter(|i| i.created_at <= to && i.resolved_at.unwrap_or(now) >= from)
                .map(|i| i.id)
                .min();
            TheirIncident {
                provider_id: o.provider_id.clone(),
                incident: OfficialRef {
                    id: o.incident_id.clone(),
                    name: o.name.clone(),
                    url: o.url.clone(),
                },
                published_at: o.published_at,
                resolved_at: o.resolved_at,
                seen_by,
                outside: models.is_empty(),
            }
        })
        .collect()
}

/// Each provider's figures over the last `days` days.
pub fn figures(
    config: &Config,
    leads: &[OurIncidentLead],
    theirs: &[TheirIncident],
    days: i64,
    now: DateTime<Utc>,
) -> Vec<ProviderLead> {
    let since = now - Duration::days(days);
    let share = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    config
        .providers
        .iter()
        .filter(|p| p.official.is_some())
        .map(|p| {
            let ours: Vec<&OurIncidentLead> = leads
                .iter()
                .filter(|l| l.provider_id == p.id && l.created_at >= since)
                .collect();
            let mut lead: Vec<f64> = ours.iter().filter_map(|l| l.lead_minutes).collect();
            let theirs: Vec<&TheirIncident> = theirs
                .iter()
                .filter(|t| t.provider_id == p.id && t.published_at >= since)
                .collect();
            let mapped: Vec<&&TheirIncident> = theirs.iter().filter(|t| !t.outside).collect();
            let seen = mapped.iter().filter(|t| t.seen_by.is_some()).count();
            ProviderLead {
                provider_id: p.id.clone(),
                provider_name: p.name.clone(),
                days,
                our_incidents: ours.len(),
                acknowledged: lead.len(),
                acknowledged_share: share(lead.len(), ours.len()),
                median_lead_minutes: median(&mut lead),
                official_incidents: mapped.len(),
                seen,
                seen_share: share(seen, mapped.len()),
                outside: theirs.len() - mapped.len(),
            }
        })
        .collect()
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The acknowledgement of each of our incidents, by id (for the incident pages).
pub fn by_incident(leads: Vec<OurIncidentLead>) -> BTreeMap<i64, OurIncidentLead> {
    leads.into_iter().map(|l| (l.incident_id, l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::official::{ComponentChange, OfficialIncidentRow};
    use crate::vocabulary::ModelState;
    use chrono::TimeZone;

    const CONFIG: &str = r#"
[[providers]]
id = "anthropic"
kind = "simulated"
official = { kind = "statuspage", url = "https://status.example", components = { "Claude API" = ["opus", "sonnet"], "Console" = [] } }
models = [ { id = "opus" }, { id = "sonnet" }, { id = "haiku" } ]
[[providers]]
id = "openai"
kind = "simulated"
models = [ { id = "gpt" } ]
"#;

    fn config() -> Config {
        Config::parse(CONFIG, std::path::Path::new("t.toml"), &|_| None).unwrap()
    }

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn ours(id: i64, provider: &str, affected: &[&str], from: i64, to: Option<i64>) -> Incident {
        Incident {
            id,
            provider_id: provider.into(),
            title: format!("incident {id}"),
            status: "resolved".into(),
            impact: "major".into(),
            affected: affected.iter().map(|s| s.to_string()).collect(),
            automatic: true,
            created_at: t(from),
            updated_at: t(from),
            resolved_at: to.map(t),
            updates: Vec::new(),
            acknowledged_at: None,
            acknowledged_by: None,
            postmortem_url: None,
        }
    }

    fn theirs(id: &str, components: &[&str], from: i64, to: Option<i64>) -> OfficialIncidentRow {
        OfficialIncidentRow {
            provider_id: "anthropic".into(),
            incident_id: id.into(),
            name: format!("published {id}"),
            url: Some(format!("https://status.example/incidents/{id}")),
            status: "resolved".into(),
            impact: Some(ModelState::PartialOutage),
            maintenance: false,
            components: components.iter().map(|s| s.to_string()).collect(),
            published_at: t(from),
            first_seen_at: t(from),
            resolved_at: to.map(t),
            window: None,
            adopted_window_id: None,
        }
    }

    #[test]
    fn the_lead_is_the_time_to_the_first_acknowledgement_of_a_covering_component() {
        let config = config();
        let records = OfficialRecords {
            incidents: vec![
                // Names the covering component 25 minutes after our incident began.
                theirs("late", &["Claude API"], 25, Some(60)),
                // Another component: not an acknowledgement of ours.
                theirs("console", &["Console"], 5, Some(20)),
            ],
            changes: vec![ComponentChange {
                provider_id: "anthropic".into(),
                component: "Claude API".into(),
                previous: Some(ModelState::Operational),
                state: ModelState::DegradedPerformance,
                at: t(31),
            }],
            ..OfficialRecords::default()
        };
        let incidents = vec![
            ours(1, "anthropic", &["anthropic/opus"], 0, Some(40)),
            // Only haiku, which no component covers: never acknowledged.
            ours(2, "anthropic", &["anthropic/haiku"], 100, Some(120)),
            // A provider without a page: not measured at all.
            ours(3, "openai", &["openai/gpt"], 0, Some(10)),
        ];
        let leads = our_leads(&config, &incidents, &records, t(500));
        assert_eq!(leads.len(), 2, "{leads:?}");
        assert_eq!(leads[0].acknowledged_at, Some(t(25)));
        assert_eq!(leads[0].lead_minutes, Some(25.0));
        assert_eq!(leads[0].official_incident.as_ref().unwrap().id, "late");
        assert_eq!(leads[1].acknowledged_at, None);
        assert_eq!(leads[1].lead_minutes, None);

        let seen = their_incidents(&config, &incidents, &records, t(500));
        let late = seen.iter().find(|s| s.incident.id == "late").unwrap();
        assert_eq!(late.seen_by, Some(1));
        let console = seen.iter().find(|s| s.incident.id == "console").unwrap();
        // Console covers no model: outside what we probe.
        assert_eq!((console.seen_by, console.outside), (None, true));

        let figures = figures(&config, &leads, &seen, 30, t(500));
        assert_eq!(figures.len(), 1);
        let f = &figures[0];
        assert_eq!((f.our_incidents, f.acknowledged), (2, 1));
        assert_eq!(f.acknowledged_share, Some(0.5));
        assert_eq!(f.median_lead_minutes, Some(25.0));
        assert_eq!((f.official_incidents, f.seen, f.outside), (1, 1, 1));
    }

    #[test]
    fn a_component_change_before_any_incident_is_the_acknowledgement_and_can_precede_ours() {
        let config = config();
        let records = OfficialRecords {
            incidents: vec![theirs("x", &["Claude API"], 10, None)],
            changes: vec![ComponentChange {
                provider_id: "anthropic".into(),
                component: "Claude API".into(),
                previous: Some(ModelState::Operational),
                state: ModelState::PartialOutage,
                at: t(-3),
            }],
            ..OfficialRecords::default()
        };
        let leads = our_leads(
            &config,
            &[ours(1, "anthropic", &["anthropic/sonnet"], 0, None)],
            &records,
            t(60),
        );
        assert_eq!(leads[0].acknowledged_at, Some(t(-3)));
        assert_eq!(leads[0].lead_minutes, Some(-3.0));
        assert!(leads[0].official_incident.is_none());
    }

    #[test]
    fn acknowledgements_far_from_our_incident_do_not_count() {
        let config = config();
        let records = OfficialRecords {
            incidents: vec![
                theirs("before", &["Claude API"], -200, Some(-BEFORE_MINUTES - 5)),
                theirs("after", &["Claude API"], 30 + AFTER_MINUTES + 5, None),
            ],
            ..OfficialRecords::default()
        };
        let incidents = [ours(1, "anthropic", &["anthropic/opus"], 0, Some(30))];
        let leads = our_leads(&config, &incidents, &records, t(1000));
        assert_eq!(leads[0].acknowledged_at, None);
        let seen = their_incidents(&config, &incidents, &records, t(1000));
        assert!(seen.iter().all(|s| s.seen_by.is_none()), "{seen:?}");
        let f = &figures(&config, &leads, &seen, 90, t(1000))[0];
        assert_eq!(
            (f.official_incidents, f.seen, f.seen_share),
            (2, 0, Some(0.0))
        );
    }

    #[test]
    fn an_incident_naming_no_mapped_component_is_outside_what_we_probe() {
        let config = config();
        let records = OfficialRecords {
            incidents: vec![theirs("billing", &[], 0, Some(10))],
            ..OfficialRecords::default()
        };
        let seen = their_incidents(&config, &[], &records, t(60));
        assert!(seen[0].outside);
        let f = &figures(&config, &[], &seen, 30, t(60))[0];
        assert_eq!(
            (f.official_incidents, f.outside, f.seen_share),
            (0, 1, None)
        );
    }
}
