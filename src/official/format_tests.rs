//! What each parser reads from a recorded document of its format
//! (`tests/fixtures/official/`, sources in `SOURCES.md`).

use chrono::{TimeZone, Utc};

use super::{feed, google_cloud, incidentio, statuspage};
use crate::vocabulary::ModelState;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/official/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn statuspage_summary_and_incidents_merge_into_one_report() {
    let (summary, incidents) = (
        fixture("statuspage_summary.json"),
        fixture("statuspage_incidents.json"),
    );
    let report = statuspage::parse(&[&summary, &incidents]).unwrap();
    let states: Vec<(&str, ModelState)> = report
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.state))
        .collect();
    assert_eq!(
        states,
        [
            ("API", ModelState::PartialOutage),
            ("Management Portal", ModelState::MajorOutage)
        ]
    );
    let outage = report
        .incidents
        .iter()
        .find(|i| i.id == "cp306tmzcl0y")
        .unwrap();
    assert_eq!(
        outage.impact,
        Some(ModelState::MajorOutage),
        "critical is a major outage"
    );
    assert!(!outage.resolved());
    assert_eq!(
        outage.url.as_deref(),
        Some("https://www.githubstatus.com/incidents/cp306tmzcl0y")
    );
    assert_eq!(
        outage.published_at,
        Some(
            Utc.with_ymd_and_hms(2014, 5, 14, 20, 22, 39).unwrap()
                + chrono::Duration::milliseconds(441)
        )
    );
    // A maintenance in progress keeps its window.
    let recycle = report
        .incidents
        .iter()
        .find(|i| i.id == "k7mf5z1gz05c")
        .unwrap();
    let (from, until) = recycle.maintenance.unwrap();
    assert_eq!(until - from, chrono::Duration::hours(2));
    // From incidents.json: the components an incident names, by id and name.
    let delayed = report
        .incidents
        .iter()
        .find(|i| i.id == "rclfxz2g21ly")
        .unwrap();
    assert!(delayed
        .components
        .iter()
        .any(|(id, name)| id == "nctwm9tghxh6" && name == "Market data"));
    assert!(delayed.text.contains("Market data is delayed"));
    assert_eq!(
        report.incidents.len(),
        5,
        "each incident once across both documents"
    );
}

#[test]
fn incidentio_components_come_from_what_is_affected() {
    let report = incidentio::parse(&fixture("incidentio_widget.json")).unwrap();
    assert_eq!(report.components.len(), 1);
    assert_eq!(report.components[0].name, "Login");
    assert_eq!(report.components[0].state, ModelState::PartialOutage);
    let login = &report.incidents[0];
    assert_eq!(login.impact, Some(ModelState::PartialOutage));
    assert_eq!(
        login.published_at, None,
        "the widget gives no start: the poller uses first sight"
    );
    assert!(report.incidents[1].maintenance.is_some());
    assert!(report.incidents[2].maintenance.is_some());
}

#[test]
fn feeds_read_the_latest_status_and_leave_maintenance_out() {
    let report = feed::parse(&fixture("feed_atom.xml")).unwrap();
    assert_eq!(
        report.incidents.len(),
        1,
        "the completed maintenance is left out"
    );
    let connectors = &report.incidents[0];
    assert_eq!(connectors.name, "Connector connectivity issues");
    assert_eq!(
        connectors.status, "resolved",
        "the first status, not the `Type:` label"
    );
    assert_eq!(
        connectors.resolved_at,
        Some(Utc.with_ymd_and_hms(2026, 6, 5, 1, 40, 38).unwrap())
    );
    assert!(connectors.text.contains("Affected Components: Website"));
}

#[test]
fn google_cloud_products_are_the_components_and_end_resolves() {
    let report = google_cloud::parse(&fixture("google_cloud_incidents.json")).unwrap();
    let (open, closed) = (&report.incidents[0], &report.incidents[1]);
    assert!(!open.resolved());
    assert_eq!(open.impact, Some(ModelState::PartialOutage));
    assert_eq!(
        open.url.as_deref(),
        Some("https://status.cloud.google.com/incidents/mLBHeCxhRia17anXCSX1")
    );
    assert_eq!(
        open.components,
        [(
            "kzGfErQK3HzkFhptoeHH".to_string(),
            "Secret Manager".to_string()
        )]
    );
    assert!(closed.resolved());
    assert_eq!(closed.components.len(), 2);
}
