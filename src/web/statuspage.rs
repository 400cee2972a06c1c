//! The Statuspage-compatible read API under `/api/v2/`, field for field as Atlassian
//! Statuspage publishes it, so existing Statuspage clients, exporters and widgets read our
//! page unchanged: `summary.json`, `status.json`, `components.json`, `incidents.json`,
//! `incidents/unresolved.json` and the three `scheduled-maintenances` lists (all windows
//! of the snapshot, `upcoming` = scheduled, `active` = in progress; `summary.json` lists
//! upcoming and active ones, as Statuspage does).
//!
//! Mapping: every model is a component; every provider is a component *group* listing its
//! models' ids; our automatic incidents are Statuspage incidents with their updates, newest
//! first. Ids are derived deterministically ([`stable_id`]) so they never change between
//! renders, restarts or releases: clients store them to follow a component.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::site::Rendered;
use super::snapshot::{ModelView, ProviderView, PublicSnapshot};
use crate::evaluate::overrides::WindowStatus;
use crate::store::incidents::{Incident, IncidentUpdate};
use crate::store::maintenances::Maintenance;
use crate::vocabulary::ModelState;

/// `incidents.json` lists the most recent incidents only, as Statuspage does (50).
const INCIDENTS_LISTED: usize = 50;

/// [`ModelView::history`] covers this many days; older states cannot be reconstructed.
const HISTORY_HORIZON_DAYS: i64 = 30;

/// Renders every `/api/v2` body from one snapshot.
pub fn render(s: &PublicSnapshot) -> Vec<Rendered> {
    let page_id = stable_id("page", &s.base_url);
    let page = page(s, &page_id);
    let components = components(s, &page_id);
    let incidents = |list: Vec<&Incident>| -> Vec<Value> {
        list.into_iter().map(|i| incident(s, &page_id, i)).collect()
    };
    let unresolved = incidents(s.unresolved_incidents().collect());
    let recent = incidents(s.incidents.iter().take(INCIDENTS_LISTED).collect());
    let worst = snapshot_indicator(s);
    let status = json!({ "indicator": worst, "description": status_description(worst) });
    let with_page = |key: &str, value: Value| {
        let mut doc = json!({ "page": page });
        doc[key] = value;
        doc
    };
    let maintenance = |keep: &dyn Fn(WindowStatus) -> bool| -> Vec<Value> {
        let mut list: Vec<&Maintenance> = s
            .maintenances
            .iter()
            .filter(|m| keep(m.window.status))
            .collect();
        // Newest first, as Statuspage lists them.
        list.sort_by_key(|m| std::cmp::Reverse((m.window.starts_at, m.window.id)));
        list.into_iter()
            .map(|m| maintenance(s, &page_id, m))
            .collect()
    };
    let all_maintenances = maintenance(&|_| true);
    let upcoming = maintenance(&|st| st == WindowStatus::Scheduled);
    let active = maintenance(&|st| st == WindowStatus::InProgress);
    let open = maintenance(&|st| matches!(st, WindowStatus::Scheduled | WindowStatus::InProgress));
    let summary = json!({
        "page": page,
        "components": components,
        "incidents": unresolved,
        "scheduled_maintenances": open,
        "status": status,
    });
    let docs = [
        ("summary", summary),
        ("status", with_page("status", status.clone())),
        ("components", with_page("components", json!(components))),
        ("incidents", with_page("incidents", json!(recent))),
        (
            "incidents/unresolved",
            with_page("incidents", json!(unresolved)),
        ),
        (
            "scheduled-maintenances",
            with_page("scheduled_maintenances", json!(all_maintenances)),
        ),
        (
            "scheduled-maintenances/upcoming",
            with_page("scheduled_maintenances", json!(upcoming)),
        ),
        (
            "scheduled-maintenances/active",
            with_page("scheduled_maintenances", json!(active)),
        ),
    ];
    docs.into_iter()
        .map(|(path, doc)| Rendered::json(format!("/api/v2/{path}.json"), &doc))
        .collect()
}

/// The component status Statuspage shows for a model state.
///
/// Statuspage has no "unknown". `unknown` means we have no evidence (no probes yet, only
/// misconfiguration outcomes, or our own network down), and modelwatch never announces an
/// outage without evidence. Any non-operational value would announce one to every client
/// (widgets turn red, exporters alert), so unknown maps to `operational`, the status that
/// claims nothing was announced; the component's `description` says the state is unknown.
pub fn component_status(state: ModelState) -> &'static str {
    match state {
        ModelState::Unknown => "operational",
        other => other.as_str(),
    }
}

/// The page indicators in order of severity (index = rank).
const INDICATORS: [&str; 4] = ["none", "minor", "major", "critical"];

/// The rank on the indicator scale of a component status or an incident impact (the same
/// scale: a degraded component and a minor incident both make the page `minor`).
fn rank(word: &str) -> usize {
    match word {
        "degraded_performance" | "minor" => 1,
        "partial_outage" | "major" => 2,
        "major_outage" | "critical" => 3,
        _ => 0,
    }
}

/// The page's indicator: the worst of any component's status and any unresolved incident's
/// impact (an incident in monitoring still counts, as on Statuspage); `maintenance` only
/// when nothing is worse and a component is under maintenance.
pub fn page_indicator<'a>(
    component_statuses: impl Iterator<Item = &'a str>,
    unresolved_impacts: impl Iterator<Item = &'a str>,
) -> &'static str {
    let mut maintenance = false;
    let worst = component_statuses
        .inspect(|s| maintenance |= *s == "under_maintenance")
        .chain(unresolved_impacts)
        .map(rank)
        .max()
        .unwrap_or(0);
    if worst == 0 && maintenance {
        "maintenance"
    } else {
        INDICATORS[worst]
    }
}

/// The page's indicator for a snapshot; the HTML banner follows it too, so the page and
/// `status.json` never disagree.
pub fn snapshot_indicator(s: &PublicSnapshot) -> &'static str {
    page_indicator(
        s.models().map(|m| component_status(m.state)),
        s.unresolved_incidents().map(|i| i.impact.as_str()),
    )
}

/// Statuspage's words for each indicator.
pub fn status_description(indicator: &str) -> &'static str {
    match indicator {
        "minor" => "Minor Service Outage",
        "major" => "Partial System Outage",
        "critical" => "Major Service Outage",
        "maintenance" => "Service Under Maintenance",
        _ => "All Systems Operational",
    }
}

/// A Statuspage-style id (12 lowercase alphanumerics) for `key` in namespace `kind`.
///
/// FNV-1a is fixed by its definition, unlike std's hasher, whose output may change between
/// Rust releases: ids must survive upgrades because clients store them.
pub fn stable_id(kind: &str, key: &str) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in kind.bytes().chain([b':']).chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..12)
        .map(|_| {
            let c = ALPHABET[(hash % 36) as usize] as char;
            hash /= 36;
            c
        })
        .collect()
}

/// A model's component id, from its `provider/model` id.
pub fn component_id(model_id: &str) -> String {
    stable_id("component", model_id)
}

/// ISO 8601 with milliseconds and zone, as Statuspage writes times.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn page(s: &PublicSnapshot, page_id: &str) -> Value {
    // The page changed when a model changed state or an incident was updated; using the
    // snapshot's time instead would change every body (and its ETag) on each refresh.
    let updated = s
        .models()
        .map(|m| m.since)
        .chain(s.incidents.iter().map(|i| i.updated_at))
        .max()
        .unwrap_or(s.generated_at);
    json!({
        "id": page_id,
        "name": s.page_name,
        "url": s.base_url,
        "time_zone": "Etc/UTC",
        "updated_at": time(updated),
    })
}

/// A model component's `start_date` (the day of its first evidence, on Statuspage the day
/// its uptime history starts: the first daily bar with probes, today's included), `created_at` (its first evidence, or the current state's
/// start) and `updated_at` (when its state last changed).
fn model_times(m: &ModelView) -> (Option<NaiveDate>, DateTime<Utc>, DateTime<Utc>) {
    let first_day = m.days.iter().find(|d| d.probes > 0);
    let first_evidence = first_day
        .and_then(|d| d.date.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .into_iter()
        .chain(m.history.last().map(|c| c.at))
        .min();
    let created = first_evidence.map_or(m.since, |t| t.min(m.since));
    (first_evidence.map(|t| t.date_naive()), created, m.since)
}

fn group_id(p: &ProviderView) -> String {
    stable_id("group", &p.id)
}

fn component(page_id: &str, p: &ProviderView, m: &ModelView, position: usize) -> Value {
    let (start, created, updated) = model_times(m);
    let description = if m.state == ModelState::Unknown {
        format!(
            "{}: state unknown (no current evidence); shown as operational because no problem has been announced",
            m.id
        )
    } else {
        m.id.clone()
    };
    json!({
        "id": component_id(&m.id),
        "name": m.name,
        "status": component_status(m.state),
        "created_at": time(created),
        "updated_at": time(updated),
        "position": position,
        "description": description,
        "showcase": true,
        "start_date": start.map(|d| d.to_string()),
        "group_id": group_id(p),
        "page_id": page_id,
        "group": false,
        "only_show_if_degraded": false,
    })
}

/// Every provider as a group followed by its models, in configuration order.
fn components(s: &PublicSnapshot, page_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, p) in s.providers.iter().enumerate() {
        let times: Vec<_> = p.models.iter().map(model_times).collect();
        let created = times.iter().map(|t| t.1).min().unwrap_or(s.generated_at);
        let updated = times.iter().map(|t| t.2).max().unwrap_or(s.generated_at);
        out.push(json!({
            "id": group_id(p),
            "name": p.name,
            "status": component_status(p.state),
            "created_at": time(created),
            "updated_at": time(updated),
            "position": i + 1,
            "description": null,
            "showcase": false,
            "start_date": null,
            "group_id": null,
            "page_id": page_id,
            "group": true,
            "only_show_if_degraded": false,
            "components": p.models.iter().map(|m| component_id(&m.id)).collect::<Vec<_>>(),
        }));
        for (j, m) in p.models.iter().enumerate() {
            out.push(component(page_id, p, m, j + 1));
        }
    }
    out
}

fn incident(s: &PublicSnapshot, page_id: &str, inc: &Incident) -> Value {
    let id = stable_id("incident", &inc.id.to_string());
    let monitoring_at = inc
        .updates
        .iter()
        .rev()
        .find(|u| u.status == "monitoring")
        .map(|u| time(u.at));
    // The store keeps the timeline oldest first; Statuspage lists it newest first.
    let updates: Vec<Value> = inc
        .updates
        .iter()
        .enumerate()
        .rev()
        .map(|(k, u)| {
            let previous = k.checked_sub(1).and_then(|p| inc.updates.get(p));
            json!({
                "id": stable_id("incident_update", &u.id.to_string()),
                "status": u.status,
                "body": u.body,
                "incident_id": id,
                "created_at": time(u.at),
                "updated_at": time(u.at),
                "display_at": time(u.at),
                "affected_components": affected_components(s, previous, u),
                // Automatic updates are always announced; a person chooses for theirs.
                "deliver_notifications": u.notified,
                "custom_tweet": null,
                "tweet_id": null,
            })
        })
        .collect();
    let affected: BTreeSet<&str> = inc
        .affected
        .iter()
        .chain(inc.updates.iter().flat_map(|u| u.affected.iter()))
        .map(String::as_str)
        .collect();
    let components: Vec<Value> = s
        .providers
        .iter()
        .flat_map(|p| p.models.iter().enumerate().map(move |(j, m)| (p, j, m)))
        .filter(|(_, _, m)| affected.contains(m.id.as_str()))
        .map(|(p, j, m)| component(page_id, p, m, j + 1))
        .collect();
    json!({
        "id": id,
        "name": inc.title,
        "status": inc.status,
        "created_at": time(inc.created_at),
        "updated_at": time(inc.updated_at),
        "monitoring_at": monitoring_at,
        "resolved_at": inc.resolved_at.map(time),
        "impact": inc.impact,
        "shortlink": format!("{}/incidents/{}", s.base_url, inc.id),
        "started_at": time(inc.created_at),
        "page_id": page_id,
        "incident_updates": updates,
        "components": components,
    })
}

/// The Statuspage default bodies of each maintenance step.
fn maintenance_update_body(status: &str) -> &'static str {
    match status {
        "in_progress" => {
            "Scheduled maintenance is currently in progress. We will provide updates as necessary."
        }
        "completed" => "The scheduled maintenance has been completed.",
        _ => "We will be undergoing scheduled maintenance during this time.",
    }
}

/// A maintenance window as a Statuspage scheduled maintenance: an incident-like object with
/// impact `maintenance`, its window (`scheduled_for`, `scheduled_until`) and one update per
/// step it has taken (scheduled, in progress, completed), newest first.
fn maintenance(s: &PublicSnapshot, page_id: &str, m: &Maintenance) -> Value {
    let w = &m.window;
    let id = stable_id("maintenance", &w.id.to_string());
    let mut steps: Vec<(&str, DateTime<Utc>, String)> = vec![(
        "scheduled",
        m.created_at,
        if w.body.trim().is_empty() {
            maintenance_update_body("scheduled").to_string()
        } else {
            w.body.clone()
        },
    )];
    if matches!(w.status, WindowStatus::InProgress | WindowStatus::Completed) {
        let at = m.started_at.unwrap_or(w.starts_at);
        steps.push((
            "in_progress",
            at,
            maintenance_update_body("in_progress").into(),
        ));
    }
    let completed_at =
        (w.status == WindowStatus::Completed).then(|| m.completed_at.unwrap_or(w.ends_at));
    if let Some(at) = completed_at {
        steps.push(("completed", at, maintenance_update_body("completed").into()));
    }
    let affected: Vec<(&ProviderView, usize, &ModelView)> = s
        .providers
        .iter()
        .flat_map(|p| p.models.iter().enumerate().map(move |(j, m)| (p, j, m)))
        .filter(|(_, _, model)| w.models.contains(&model.id))
        .collect();
    let updates: Vec<Value> = steps
        .iter()
        .rev()
        .map(|(status, at, body)| {
            let (old, new) = match *status {
                "in_progress" => ("operational", "under_maintenance"),
                "completed" => ("under_maintenance", "operational"),
                _ => ("operational", "operational"),
            };
            let list: Vec<Value> = affected
                .iter()
                .map(|(p, _, model)| {
                    json!({
                        "code": component_id(&model.id),
                        "name": format!("{} - {}", p.name, model.name),
                        "old_status": old,
                        "new_status": new,
                    })
                })
                .collect();
            json!({
                "id": stable_id("maintenance_update", &format!("{}:{status}", w.id)),
                "status": status,
                "body": body,
                "incident_id": id,
                "created_at": time(*at),
                "updated_at": time(*at),
                "display_at": time(*at),
                "affected_components": if list.is_empty() { Value::Null } else { Value::Array(list) },
                // Subscribers are told when a window is scheduled, starts and ends.
                "deliver_notifications": true,
                "custom_tweet": null,
                "tweet_id": null,
            })
        })
        .collect();
    let updated = steps
        .iter()
        .map(|(_, at, _)| *at)
        .chain([m.updated_at])
        .max()
        .unwrap_or(m.updated_at);
    json!({
        "id": id,
        "name": w.title,
        "status": w.status.as_str(),
        "created_at": time(m.created_at),
        "updated_at": time(updated),
        "monitoring_at": null,
        "resolved_at": completed_at.map(time),
        "impact": "maintenance",
        "shortlink": format!("{}/#maintenance-{}", s.base_url, w.id),
        "started_at": time(m.created_at),
        "page_id": page_id,
        "incident_updates": updates,
        "components": affected
            .iter()
            .map(|(p, j, model)| component(page_id, p, model, j + 1))
            .collect::<Vec<_>>(),
        "scheduled_for": time(w.starts_at),
        "scheduled_until": time(w.ends_at),
    })
}

/// Statuspage's `affected_components` of one update: the models it names and those the
/// previous update named (so recoveries show), each with its status just before and at the
/// update, named "Group - Component" as Statuspage names grouped components. `null` when
/// the history cannot tell (as Statuspage writes `null` for updates touching no component).
fn affected_components(
    s: &PublicSnapshot,
    previous: Option<&IncidentUpdate>,
    u: &IncidentUpdate,
) -> Value {
    let horizon = s.generated_at - Duration::days(HISTORY_HORIZON_DAYS);
    let keys: BTreeSet<&String> = u
        .affected
        .iter()
        .chain(previous.into_iter().flat_map(|p| p.affected.iter()))
        .collect();
    let list: Vec<Value> = keys
        .into_iter()
        .filter_map(|key| {
            let (p, m) = s
                .providers
                .iter()
                .find_map(|p| p.models.iter().find(|m| &m.id == key).map(|m| (p, m)))?;
            let old = state_at(m, u.at, false, horizon)?;
            let new = state_at(m, u.at, true, horizon)?;
            Some(json!({
                "code": component_id(&m.id),
                "name": format!("{} - {}", p.name, m.name),
                "old_status": component_status(old),
                "new_status": component_status(new),
            }))
        })
        .collect();
    if list.is_empty() {
        Value::Null
    } else {
        Value::Array(list)
    }
}

/// The model's state just before `at` (or at it, with `inclusive`: a state change and the
/// incident update it causes share one instant), from its history (newest first). `None`
/// when `at` is older than that history reaches.
fn state_at(
    m: &ModelView,
    at: DateTime<Utc>,
    inclusive: bool,
    horizon: DateTime<Utc>,
) -> Option<ModelState> {
    let reached = |t: DateTime<Utc>| if inclusive { t <= at } else { t < at };
    if let Some(change) = m.history.iter().find(|c| reached(c.at)) {
        return Some(change.to);
    }
    match m.history.last() {
        // Every known change came later: the state before the oldest of them held at `at`.
        Some(oldest) => (at >= horizon).then_some(oldest.from),
        None => reached(m.since).then_some(m.state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_shown_as_operational_and_other_states_keep_their_names() {
        assert_eq!(component_status(ModelState::Unknown), "operational");
        for state in ModelState::ALL
            .into_iter()
            .filter(|s| *s != ModelState::Unknown)
        {
            assert_eq!(component_status(state), state.as_str());
        }
    }

    #[test]
    fn indicator_is_the_worst_of_components_and_unresolved_impacts() {
        let none: [&str; 0] = [];
        let rows: [(&[&str], &[&str], &str); 8] = [
            (&["operational", "operational"], &[], "none"),
            (&["operational", "degraded_performance"], &[], "minor"),
            (&["partial_outage", "degraded_performance"], &[], "major"),
            (&["major_outage", "operational"], &["minor"], "critical"),
            (&["operational"], &["major"], "major"),
            (&["operational"], &["none"], "none"),
            (&["under_maintenance", "operational"], &[], "maintenance"),
            (&["under_maintenance", "degraded_performance"], &[], "minor"),
        ];
        for (components, impacts, want) in rows {
            let got = page_indicator(components.iter().copied(), impacts.iter().copied());
            assert_eq!(got, want, "{components:?} {impacts:?}");
        }
        assert_eq!(page_indicator(none.into_iter(), none.into_iter()), "none");
        assert_eq!(status_description("none"), "All Systems Operational");
        assert_eq!(status_description("major"), "Partial System Outage");
    }

    #[test]
    fn ids_look_like_statuspage_ids_and_never_change() {
        let id = component_id("anthropic/claude-opus-4-8");
        assert_eq!(id.len(), 12);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        // Pinned (FNV-1a checked independently): a change would orphan every stored id.
        assert_eq!(id, "rlo2oxqmzjvb");
        assert_eq!(stable_id("x", ""), "7o44ku0f58w4");
        assert_ne!(id, component_id("anthropic/claude-opus-4-9"));
        assert_ne!(stable_id("group", "a"), stable_id("component", "a"));
    }
}
