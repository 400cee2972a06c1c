//! Automatic incidents, planned purely: one per provider whose models leave operational.
//!
//! Given a provider's models after an evaluation round and its open incident (if any), says
//! what to do: open one naming the affected models and the impact, add an update when models
//! join or recover, move it to monitoring when all have recovered, and resolve it after a
//! quiet period without impairment.
//!
//! An incident keeps every model it ever affected and its worst impact, and its title names
//! them all: a resolved incident is remembered by what it was at its worst, while each
//! update says what is impaired at that moment.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

pub use crate::store::incidents::{IncidentAction, OpenIncident};
pub use crate::vocabulary::IncidentStatus;
use crate::vocabulary::ModelState;

/// One model of the provider as the incident sees it.
#[derive(Debug, Clone)]
pub struct ModelView {
    pub key: String,
    pub name: String,
    pub state: ModelState,
}

/// Statuspage's impact words, from the worst affected model.
pub fn impact(models: &[ModelView]) -> &'static str {
    match models.iter().filter_map(|m| m.state.severity()).max() {
        Some(3) => "critical",
        Some(2) => "major",
        Some(1) => "minor",
        _ => "none",
    }
}

/// Plans the incident action for one provider, if any.
pub fn plan(
    provider_name: &str,
    models: &[ModelView],
    open: Option<&OpenIncident>,
    now: DateTime<Utc>,
    quiet: Duration,
) -> Option<IncidentAction> {
    let impaired: Vec<&ModelView> = models.iter().filter(|m| m.state.is_impaired()).collect();
    let affected: BTreeSet<String> = impaired.iter().map(|m| m.key.clone()).collect();
    let names = |list: &[&ModelView]| {
        list.iter()
            .map(|m| format!("{} ({})", m.name, m.state.label().to_lowercase()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let impaired_views: Vec<ModelView> = impaired.iter().map(|m| (*m).clone()).collect();
    let impact = impact(&impaired_views);
    match open {
        None if affected.is_empty() => None,
        None => Some(IncidentAction::Open {
            title: title(provider_name, &impaired),
            impact,
            body: format!(
                "We are seeing problems with {}. Other {provider_name} models are not affected.",
                names(&impaired)
            ),
            affected,
        }),
        Some(inc) if !affected.is_empty() => {
            let impact_moved = impact != inc.impact_now;
            if affected == inc.affected_now
                && !impact_moved
                && inc.status != IncidentStatus::Monitoring
            {
                return None;
            }
            let joined: Vec<&ModelView> = impaired
                .iter()
                .copied()
                .filter(|m| !inc.affected_now.contains(&m.key))
                .collect();
            let recovered: Vec<&ModelView> = models
                .iter()
                .filter(|m| inc.affected_now.contains(&m.key) && !affected.contains(&m.key))
                .collect();
            let mut body = Vec::new();
            if inc.status == IncidentStatus::Monitoring {
                body.push("The problem has returned.".to_string());
            }
            if !joined.is_empty() {
                body.push(format!("Now also affected: {}.", names(&joined)));
            }
            if !recovered.is_empty() {
                body.push(format!(
                    "Recovered: {}.",
                    recovered
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if impact_moved && joined.is_empty() && recovered.is_empty() {
                body.push(format!("Impact is now {impact}."));
            }
            // Each model is named once: those just named as new are not "still" affected.
            let still: Vec<&ModelView> = impaired
                .iter()
                .copied()
                .filter(|m| inc.affected_now.contains(&m.key))
                .collect();
            if !still.is_empty() {
                body.push(format!("Still affected: {}.", names(&still)));
            }
            let status = if inc.status == IncidentStatus::Monitoring {
                IncidentStatus::Investigating
            } else {
                inc.status
            };
            let peak_impact = worse_impact(impact, &inc.peak_impact);
            let affected_ever: BTreeSet<String> =
                inc.affected_ever.union(&affected).cloned().collect();
            let ever: Vec<&ModelView> = models
                .iter()
                .filter(|m| affected_ever.contains(&m.key))
                .collect();
            Some(IncidentAction::Update {
                id: inc.id,
                from: inc.status,
                status,
                title: Some(title_at_worst(provider_name, &ever, peak_impact)),
                impact,
                affected,
                peak_impact,
                affected_ever,
                body: body.join(" "),
            })
        }
        Some(inc) => match inc.monitoring_since {
            None => Some(IncidentAction::Update {
                id: inc.id,
                from: inc.status,
                status: IncidentStatus::Monitoring,
                // The title keeps naming what was wrong.
                title: None,
                impact: "none",
                affected: inc.affected_now.clone(),
                peak_impact: worse_impact("none", &inc.peak_impact),
                affected_ever: inc.affected_ever.clone(),
                body: "All affected models have recovered; we are monitoring.".to_string(),
            }),
            Some(since) if now - since >= quiet => Some(IncidentAction::Resolve {
                id: inc.id,
                from: inc.status,
                body: format!(
                    "Resolved: no further problems for {} minutes.",
                    quiet.num_minutes().max(1)
                ),
            }),
            Some(_) => None,
        },
    }
}

/// "Anthropic: Claude Opus 4.8 (major outage)": the impaired models and the worst state
/// among them, for a new incident.
fn title(provider_name: &str, impaired: &[&ModelView]) -> String {
    let worst = impaired
        .iter()
        .map(|m| m.state)
        .max_by_key(|s| s.severity())
        .unwrap_or(ModelState::DegradedPerformance);
    format!(
        "{provider_name}: {} ({})",
        short_list(impaired),
        worst.label().to_lowercase()
    )
}

/// The title of an incident as it goes on: every model it has affected and the state of its
/// worst impact, so the title grows as models join and never forgets one that recovered.
fn title_at_worst(provider_name: &str, ever: &[&ModelView], peak_impact: &str) -> String {
    let worst = match peak_impact {
        "critical" => ModelState::MajorOutage,
        "major" => ModelState::PartialOutage,
        _ => ModelState::DegradedPerformance,
    };
    format!(
        "{provider_name}: {} ({})",
        short_list(ever),
        worst.label().to_lowercase()
    )
}

/// The worse of two impacts in Statuspage's words (`none` < `minor` < `major` < `critical`);
/// an unknown word counts as `none`.
fn worse_impact(a: &'static str, b: &str) -> &'static str {
    const ORDER: [&str; 4] = ["none", "minor", "major", "critical"];
    let rank = |w: &str| ORDER.iter().position(|o| *o == w).unwrap_or(0);
    ORDER[rank(a).max(rank(b))]
}

fn short_list(models: &[&ModelView]) -> String {
    match models {
        [one] => one.name.clone(),
        [a, b] => format!("{} and {}", a.name, b.name),
        [a, rest @ ..] => format!("{} and {} more models", a.name, rest.len()),
        [] => "no models".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn view(key: &str, state: ModelState) -> ModelView {
        ModelView {
            key: key.into(),
            name: key.to_uppercase(),
            state,
        }
    }

    /// One update of an open incident: the provider's models now (key and state, the state
    /// as `o`perational, `d`egraded, `p`artial or `m`ajor outage), the incident as it was
    /// (its affected keys and whether it was being monitored), and the update's body.
    fn check(models: &[(&str, char)], affected: &[&str], monitoring: bool, want: &str) {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let views: Vec<ModelView> = models
            .iter()
            .map(|(key, s)| {
                let state = match s {
                    'o' => ModelState::Operational,
                    'd' => ModelState::DegradedPerformance,
                    'p' => ModelState::PartialOutage,
                    'm' => ModelState::MajorOutage,
                    other => panic!("unknown state {other}"),
                };
                view(key, state)
            })
            .collect();
        let open = OpenIncident {
            id: 1,
            status: if monitoring {
                IncidentStatus::Monitoring
            } else {
                IncidentStatus::Investigating
            },
            affected_now: affected.iter().map(|a| a.to_string()).collect(),
            affected_ever: affected.iter().map(|a| a.to_string()).collect(),
            impact_now: "major".into(),
            peak_impact: "major".into(),
            monitoring_since: monitoring.then_some(now),
        };
        match plan("A", &views, Some(&open), now, Duration::minutes(5)) {
            Some(IncidentAction::Update { body, .. }) => {
                assert_eq!(body, want, "{models:?} after {affected:?}")
            }
            other => panic!("{models:?} after {affected:?}: expected an update, got {other:?}"),
        }
    }

    #[test]
    fn updates_say_each_change_once() {
        // A model joins: it is named once, as new; "still affected" names only the others.
        check(
            &[("a/x", 'p'), ("a/y", 'p')],
            &["a/y"],
            false,
            "Now also affected: A/X (partial outage). Still affected: A/Y (partial outage).",
        );
        // Every impaired model is new (the first one recovered): nothing is "still" affected.
        check(
            &[("a/x", 'o'), ("a/y", 'd')],
            &["a/x"],
            false,
            "Now also affected: A/Y (degraded performance). Recovered: A/X.",
        );
        // One recovers, one stays.
        check(
            &[("a/x", 'o'), ("a/y", 'p')],
            &["a/x", "a/y"],
            false,
            "Recovered: A/X. Still affected: A/Y (partial outage).",
        );
        // Only the impact moved: the model is named once, with its new state.
        check(
            &[("a/x", 'm'), ("a/y", 'o')],
            &["a/x"],
            false,
            "Impact is now critical. Still affected: A/X (major outage).",
        );
        // Back from monitoring with a new model as well.
        check(
            &[("a/x", 'p'), ("a/y", 'p'), ("a/z", 'o')],
            &["a/x"],
            true,
            "The problem has returned. Now also affected: A/Y (partial outage). Still affected: A/X (partial outage).",
        );
        // Back from monitoring, the same models: they are still (again) affected.
        check(
            &[("a/x", 'p')],
            &["a/x"],
            true,
            "The problem has returned. Still affected: A/X (partial outage).",
        );
    }

    #[test]
    fn lifecycle_open_update_monitor_resolve() {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let quiet = Duration::minutes(5);
        let healthy = [
            view("a/x", ModelState::Operational),
            view("a/y", ModelState::Operational),
        ];
        assert_eq!(plan("A", &healthy, None, now, quiet), None);

        let one = [
            view("a/x", ModelState::PartialOutage),
            view("a/y", ModelState::Operational),
        ];
        let Some(IncidentAction::Open {
            impact,
            affected,
            body,
            ..
        }) = plan("A", &one, None, now, quiet)
        else {
            panic!()
        };
        assert_eq!(impact, "major");
        assert_eq!(affected.into_iter().collect::<Vec<_>>(), vec!["a/x"]);
        assert!(body.contains("Other A models are not affected"), "{body}");

        let open = OpenIncident {
            id: 1,
            status: IncidentStatus::Investigating,
            affected_now: ["a/x".to_string()].into(),
            affected_ever: ["a/x".to_string()].into(),
            impact_now: "major".into(),
            peak_impact: "major".into(),
            monitoring_since: None,
        };
        assert_eq!(
            plan("A", &one, Some(&open), now, quiet),
            None,
            "nothing new, no update"
        );
        // The same model, now worse: the impact follows it.
        let worse = [
            view("a/x", ModelState::MajorOutage),
            view("a/y", ModelState::Operational),
        ];
        let Some(IncidentAction::Update {
            impact,
            body,
            title,
            ..
        }) = plan("A", &worse, Some(&open), now, quiet)
        else {
            panic!("a worse state must update the incident")
        };
        assert_eq!(impact, "critical");
        assert_eq!(title.as_deref(), Some("A: A/X (major outage)"));
        assert!(
            body.contains("Impact is now critical. Still affected: A/X (major outage)."),
            "{body}"
        );
        let both = [
            view("a/x", ModelState::PartialOutage),
            view("a/y", ModelState::DegradedPerformance),
        ];
        let Some(IncidentAction::Update { body, title, .. }) =
            plan("A", &both, Some(&open), now, quiet)
        else {
            panic!()
        };
        assert!(body.contains("Now also affected: A/Y"), "{body}");
        assert_eq!(title.as_deref(), Some("A: A/X and A/Y (partial outage)"));

        let Some(IncidentAction::Update { status, .. }) =
            plan("A", &healthy, Some(&open), now, quiet)
        else {
            panic!()
        };
        assert_eq!(status, IncidentStatus::Monitoring);
        let monitoring = OpenIncident {
            status: IncidentStatus::Monitoring,
            monitoring_since: Some(now),
            ..open
        };
        assert_eq!(
            plan(
                "A",
                &healthy,
                Some(&monitoring),
                now + Duration::minutes(4),
                quiet
            ),
            None
        );
        assert!(matches!(
            plan("A", &healthy, Some(&monitoring), now + quiet, quiet),
            Some(IncidentAction::Resolve { .. })
        ));
    }

    /// A model that recovered stays in the incident and in its title, and the impact it had
    /// at its worst stays the incident's, while the update says what is impaired now.
    #[test]
    fn an_incident_keeps_every_model_it_affected_and_its_peak_impact() {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let open = OpenIncident {
            id: 1,
            status: IncidentStatus::Investigating,
            affected_now: ["a/x".to_string(), "a/y".to_string()].into(),
            affected_ever: ["a/x".to_string(), "a/y".to_string()].into(),
            impact_now: "critical".into(),
            peak_impact: "critical".into(),
            monitoring_since: None,
        };
        let later = [
            view("a/x", ModelState::Operational),
            view("a/y", ModelState::DegradedPerformance),
            view("a/z", ModelState::Operational),
        ];
        let Some(IncidentAction::Update {
            impact,
            affected,
            peak_impact,
            affected_ever,
            title,
            body,
            ..
        }) = plan("A", &later, Some(&open), now, Duration::minutes(5))
        else {
            panic!("a recovery must update the incident")
        };
        assert_eq!(impact, "minor", "the update's impact is the present one");
        assert_eq!(affected.into_iter().collect::<Vec<_>>(), ["a/y"]);
        assert_eq!(
            peak_impact, "critical",
            "the incident keeps its worst impact"
        );
        assert_eq!(
            affected_ever.into_iter().collect::<Vec<_>>(),
            ["a/x", "a/y"],
            "and every model it affected"
        );
        assert_eq!(title.as_deref(), Some("A: A/X and A/Y (major outage)"));
        assert_eq!(
            body,
            "Recovered: A/X. Still affected: A/Y (degraded performance)."
        );

        // A third model joins: the title grows.
        let joined = [
            view("a/x", ModelState::Operational),
            view("a/y", ModelState::DegradedPerformance),
            view("a/z", ModelState::PartialOutage),
        ];
        let Some(IncidentAction::Update { title, .. }) =
            plan("A", &joined, Some(&open), now, Duration::minutes(5))
        else {
            panic!()
        };
        assert_eq!(
            title.as_deref(),
            Some("A: A/X and 2 more models (major outage)")
        );

        // Monitoring keeps both too.
        let healthy = later.map(|m| view(&m.key, ModelState::Operational));
        let Some(IncidentAction::Update {
            peak_impact,
            affected_ever,
            ..
        }) = plan("A", &healthy, Some(&open), now, Duration::minutes(5))
        else {
            panic!()
        };
        assert_eq!(peak_impact, "critical");
        assert_eq!(affected_ever.len(), 2);
    }
}
