//! Official status pages, end to end over real HTTP: a local fake serves recorded Statuspage
//! documents (`tests/fixtures/official/`), the poller reads them through the SSRF guard with
//! ETags, the store keeps the history and announces `official.changed`, and the pages and
//! APIs show the provider's page beside ours with the lead.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration, Utc};
use modelwatch::notify::ssrf::AddressGuard;
use modelwatch::official::poller::{Polled, SourcePoller};
use serde_json::{json, Value};

use crate::helpers::{
    config_from, spawn_seeded_app_with_providers, spawn_server, SEEDED_PROVIDERS,
};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/official/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// What the fake page answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    /// The summary cut in the middle, as a dropped connection behind a CDN serves it.
    Truncated,
    ServerError,
}

struct Page {
    summary: Value,
    incidents: Value,
    /// Bumped by every edit: the documents' ETag.
    version: u64,
    mode: Mode,
    full: u32,
    not_modified: u32,
}

type Shared = Arc<Mutex<Page>>;

async fn serve(page: &Shared, headers: &HeaderMap, pick: fn(&Page) -> &Value) -> Response {
    let mut p = page.lock().unwrap();
    let etag = format!("\"v{}\"", p.version);
    match p.mode {
        Mode::ServerError => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Truncated => {
            let body = pick(&p).to_string();
            p.full += 1;
            return body[..body.len() / 2].to_string().into_response();
        }
        Mode::Normal => {}
    }
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        p.not_modified += 1;
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    p.full += 1;
    let body = pick(&p).to_string();
    (
        [("etag", etag), ("content-type", "application/json".into())],
        body,
    )
        .into_response()
}

async fn fake_page(page: Shared) -> String {
    let router = axum::Router::new()
        .route(
            "/api/v2/summary.json",
            get(|State(p): State<Shared>, h: HeaderMap| async move {
                serve(&p, &h, |p| &p.summary).await
            }),
        )
        .route(
            "/api/v2/incidents.json",
            get(|State(p): State<Shared>, h: HeaderMap| async move {
                serve(&p, &h, |p| &p.incidents).await
            }),
        )
        .with_state(page);
    format!("http://{}", spawn_server(router).await)
}

/// The recorded documents with the first component renamed "Claude API" and operational, and
/// no unresolved incident: a calm page to start from.
fn calm_page() -> Page {
    let mut summary = fixture("statuspage_summary.json");
    let components = summary["components"].as_array_mut().unwrap();
    let first = components
        .iter_mut()
        .find(|c| c["group"] != json!(true))
        .unwrap();
    first["name"] = json!("Claude API");
    first["status"] = json!("operational");
    summary["incidents"] = json!([]);
    summary["scheduled_maintenances"] = json!([]);
    let incidents = fixture("statuspage_incidents.json");
    Page {
        summary,
        incidents,
        version: 1,
        mode: Mode::Normal,
        full: 0,
        not_modified: 0,
    }
}

fn claude_api_id(page: &Page) -> String {
    page.summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Claude API")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A recorded incident, made unresolved, naming "Claude API", published at `created_at`.
fn open_incident(page: &Page, created_at: chrono::DateTime<Utc>) -> Value {
    let mut incident = page.incidents["incidents"][0].clone();
    incident["id"] = json!("mw-test-incident");
    incident["status"] = json!("investigating");
    incident["resolved_at"] = Value::Null;
    incident["created_at"] = json!(created_at.to_rfc3339());
    incident["components"] =
        json!([{ "id": claude_api_id(page), "name": "Claude API", "status": "major_outage" }]);
    incident
}

fn providers_with_page(url: &str) -> String {
    SEEDED_PROVIDERS.replacen(
        "kind = \"simulated\"\nschedule",
        &format!(
            "kind = \"simulated\"\nofficial = {{ kind = \"statuspage\", url = \"{url}\", components = {{ \"Claude API\" = [\"claude-opus-4-8\", \"claude-sonnet-4-5\"] }} }}\nschedule"
        ),
        1,
    )
}

async fn official_events(store: &modelwatch::store::Store) -> Vec<Value> {
    store
        .events_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "official.changed")
        .map(|e| serde_json::from_str(&e.payload_json).unwrap())
        .collect()
}

#[tokio::test]
async fn the_poller_reads_with_etags_keeps_history_and_survives_a_broken_page() {
    let page: Shared = Arc::new(Mutex::new(calm_page()));
    let url = fake_page(Arc::clone(&page)).await;
    let config = config_from(&providers_with_page(&url), &[]);
    let provider = Arc::clone(&config.providers[0]);
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "o.db").await).await;
    let loopback = AddressGuard::new(vec!["127.0.0.0/8".parse().unwrap()]);
    let mut poller = SourcePoller::new(provider, store.clone(), loopback, Utc::now()).unwrap();
    // Whole milliseconds: the store keeps times to the millisecond.
    let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();

    // The first reading is the baseline: stored, not announced.
    assert_eq!(
        poller.poll(now).await,
        Polled::Read {
            changes: 0,
            unchanged: 0
        }
    );
    let records = store.official(now - Duration::days(90)).await.unwrap();
    assert_eq!(records.components.len(), 1);
    assert_eq!(records.components[0].state.as_str(), "operational");
    assert!(records.sources[0].available);
    // The recorded incidents.json's incidents are kept (those of the last 90 days).
    assert!(official_events(&store).await.is_empty());

    // Unchanged documents cost a 304 each.
    assert_eq!(
        poller.poll(now + Duration::minutes(1)).await,
        Polled::Read {
            changes: 0,
            unchanged: 2
        }
    );
    assert_eq!(page.lock().unwrap().not_modified, 2);

    // The provider acknowledges: the component goes down and an incident names it.
    {
        let mut p = page.lock().unwrap();
        let incident = open_incident(&p, now + Duration::minutes(1));
        let components = p.summary["components"].as_array_mut().unwrap();
        components
            .iter_mut()
            .find(|c| c["name"] == "Claude API")
            .unwrap()["status"] = json!("major_outage");
        p.summary["incidents"] = json!([incident]);
        p.version += 1;
    }
    let at = now + Duration::minutes(2);
    assert_eq!(
        poller.poll(at).await,
        Polled::Read {
            changes: 2,
            unchanged: 0
        }
    );
    let events = official_events(&store).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let change = events
        .iter()
        .find(|e| e["component"] == "Claude API")
        .unwrap();
    assert_eq!(
        (change["previous"].as_str(), change["state"].as_str()),
        (Some("operational"), Some("major_outage"))
    );
    assert_eq!(
        change["models"],
        json!(["anthropic/claude-opus-4-8", "anthropic/claude-sonnet-4-5"])
    );
    let opened = events.iter().find(|e| !e["incident"].is_null()).unwrap();
    assert_eq!(opened["incident"]["id"], "mw-test-incident");
    assert!(opened["incident"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/incidents/mw-test-incident"));

    // A truncated body: unavailable with where it broke; what was read before is kept.
    page.lock().unwrap().mode = Mode::Truncated;
    let Polled::Unavailable(reason) = poller.poll(at + Duration::minutes(1)).await else {
        panic!("a truncated page must be unavailable");
    };
    assert!(
        reason.contains("not Statuspage JSON") && reason.contains("line 1"),
        "{reason}"
    );
    let records = store.official(now - Duration::days(90)).await.unwrap();
    assert!(!records.sources[0].available);
    assert_eq!(records.sources[0].reason.as_deref(), Some(reason.as_str()));
    assert_eq!(records.components[0].state.as_str(), "major_outage");
    assert!(
        poller.next_wait() > std::time::Duration::from_secs(60),
        "backs off"
    );

    // A server error says so, and names the document, never a query string.
    page.lock().unwrap().mode = Mode::ServerError;
    let Polled::Unavailable(reason) = poller.poll(at + Duration::minutes(3)).await else {
        panic!("a 500 must be unavailable");
    };
    assert!(
        reason.ends_with("/api/v2/summary.json: HTTP 500"),
        "{reason}"
    );

    // Back, calm: the incident is no longer listed, so it is over; the component recovers.
    {
        let mut p = page.lock().unwrap();
        p.mode = Mode::Normal;
        p.summary["incidents"] = json!([]);
        let components = p.summary["components"].as_array_mut().unwrap();
        components
            .iter_mut()
            .find(|c| c["name"] == "Claude API")
            .unwrap()["status"] = json!("operational");
        p.version += 1;
    }
    assert_eq!(
        poller.poll(at + Duration::minutes(5)).await,
        Polled::Read {
            changes: 2,
            unchanged: 0
        }
    );
    assert_eq!(poller.failures, 0);
    let records = store.official(now - Duration::days(90)).await.unwrap();
    let incident = records
        .incidents
        .iter()
        .find(|i| i.incident_id == "mw-test-incident")
        .unwrap();
    assert_eq!(incident.resolved_at, Some(at + Duration::minutes(5)));
    let history: Vec<&str> = records.changes.iter().map(|c| c.state.as_str()).collect();
    assert_eq!(history, ["operational", "major_outage", "operational"]);
}

#[tokio::test]
async fn the_guard_refuses_a_private_page_without_connecting_to_it() {
    let page: Shared = Arc::new(Mutex::new(calm_page()));
    let url = fake_page(Arc::clone(&page)).await;
    let config = config_from(&providers_with_page(&url), &[]);
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "o.db").await).await;
    let provider = Arc::clone(&config.providers[0]);
    let mut poller =
        SourcePoller::new(provider, store.clone(), AddressGuard::default(), Utc::now()).unwrap();
    let Polled::Unavailable(reason) = poller.poll(Utc::now()).await else {
        panic!("a loopback page must be refused without an allowlist");
    };
    assert!(reason.contains("loopback address"), "{reason}");
    assert_eq!(
        page.lock().unwrap().full,
        0,
        "the guard must refuse before connecting"
    );
    let records = store
        .official(Utc::now() - Duration::days(1))
        .await
        .unwrap();
    assert!(!records.sources[0].available);
}

/// The seeded half hour has an incident of ours on Claude Opus 4.8 opened about twenty
/// minutes ago; the fake page acknowledges it five minutes later. The model's API and page,
/// the incident page and `/official` all show it, with the same lead.
#[tokio::test]
async fn pages_and_apis_show_the_official_state_and_the_lead() {
    let page: Shared = Arc::new(Mutex::new(calm_page()));
    let url = fake_page(Arc::clone(&page)).await;
    let notify = "[notify]\nallow_internal_targets = [\"127.0.0.0/8\"]\n";
    // Our incident's start, from a first run on the seeded history (every run starts from
    // the same copy of it).
    let first = spawn_seeded_app_with_providers(notify, &providers_with_page(&url)).await;
    let ours = first.get_json("/api/v1/incidents").await["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["provider"] == "anthropic")
        .cloned()
        .expect("the seeded half hour has an incident of ours");
    first.stop().await;
    let opened: chrono::DateTime<Utc> = ours["created_at"].as_str().unwrap().parse().unwrap();
    {
        let mut p = page.lock().unwrap();
        let incident = open_incident(&p, opened + Duration::minutes(5));
        p.summary["incidents"] = json!([incident]);
        p.version += 1;
    }
    // The service reads the page once as it starts; wait for that reading to be published.
    let app = spawn_seeded_app_with_providers(notify, &providers_with_page(&url)).await;
    let mut body = Value::Null;
    for _ in 0..300 {
        body = app.get_json("/api/v1/official").await;
        if body["ours"]
            .as_array()
            .is_some_and(|o| o.iter().any(|l| !l["acknowledged_at"].is_null()))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lead = body["ours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["incident_id"] == ours["id"])
        .unwrap_or_else(|| panic!("{body:#}"));
    assert_eq!(lead["lead_minutes"], json!(5.0), "{body:#}");
    assert_eq!(lead["official_incident"]["id"], "mw-test-incident");
    let provider = &body["providers"][0];
    assert_eq!(provider["available"], true);
    assert_eq!(provider["last_30_days"]["acknowledged"], 1);
    assert_eq!(provider["last_30_days"]["median_lead_minutes"], json!(5.0));

    let model = app
        .get_json("/api/v1/models/anthropic/claude-opus-4-8")
        .await;
    let official = &model["model"]["official"];
    assert_eq!(official["component"], "Claude API");
    assert_eq!(official["available"], true);
    assert_eq!(official["incidents"][0]["id"], "mw-test-incident");
    assert!(app.get_json("/api/v1/models/openai/gpt-5").await["model"]["official"].is_null());

    let html = app
        .get("/models/anthropic/claude-opus-4-8")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Provider's status page:"), "{html}");
    assert!(
        html.contains("/incidents/mw-test-incident"),
        "links to the provider's incident"
    );
    let incident_page = app
        .get(&format!("/incidents/{}", ours["id"]))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        incident_page.contains("5 minutes after modelwatch"),
        "{incident_page}"
    );
    let official_page = app.get("/official").await.text().await.unwrap();
    assert!(official_page.contains("5 minutes after modelwatch"));
    assert!(official_page.contains("5.0 min"), "the median, per period");
    app.stop().await;
}

/// With `adopt_maintenance`, a published maintenance naming a mapped component becomes our
/// maintenance window for the models it covers, once; without it, nothing is adopted.
#[tokio::test]
async fn a_published_maintenance_is_adopted_once_when_the_operator_says_so() {
    let page: Shared = Arc::new(Mutex::new(calm_page()));
    let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    {
        let mut p = page.lock().unwrap();
        let id = claude_api_id(&p);
        // The recorded "Network Maintenance" of the documented summary, moved to tomorrow
        // and naming Claude API.
        let mut maintenance =
            fixture("statuspage_summary.json")["scheduled_maintenances"][0].clone();
        maintenance["scheduled_for"] = json!((now + Duration::days(1)).to_rfc3339());
        maintenance["scheduled_until"] =
            json!((now + Duration::days(1) + Duration::hours(2)).to_rfc3339());
        maintenance["components"] =
            json!([{ "id": id, "name": "Claude API", "status": "operational" }]);
        p.summary["scheduled_maintenances"] = json!([maintenance]);
    }
    let url = fake_page(Arc::clone(&page)).await;
    for adopt in [false, true] {
        let providers = providers_with_page(&url).replacen(
            "components = {",
            &format!("adopt_maintenance = {adopt}, components = {{"),
            1,
        );
        let config = config_from(&providers, &[]);
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "o.db").await)
                .await;
        let loopback = AddressGuard::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let provider = Arc::clone(&config.providers[0]);
        let mut poller = SourcePoller::new(provider, store.clone(), loopback, now).unwrap();
        poller.poll(now).await;
        poller.poll(now + Duration::minutes(1)).await;
        let windows = store.open_maintenances().await.unwrap();
        if !adopt {
            assert!(windows.is_empty(), "{windows:?}");
            continue;
        }
        assert_eq!(windows.len(), 1, "adopted once: {windows:?}");
        let w = &windows[0];
        assert!(
            w.title
                .starts_with("Network Maintenance (No Interruption Expected)"),
            "{}",
            w.title
        );
        assert_eq!(
            w.models,
            ["anthropic/claude-opus-4-8", "anthropic/claude-sonnet-4-5"]
        );
        assert_eq!(w.ends_at - w.starts_at, Duration::hours(2));
        let listed = store.list_maintenances(10).await.unwrap();
        assert_eq!(listed[0].created_by, "official:anthropic");
    }
}
