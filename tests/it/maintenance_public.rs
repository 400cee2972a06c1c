//! Maintenance windows on the public surfaces (page, Statuspage API, `/api/v1`) and the
//! admin live board, through the real server: windows are scheduled with an operate token
//! through the admin API, as an SRE's automation would.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::admin_helpers::sign_in;
use crate::helpers::{spawn_seeded_app, spawn_seeded_app_with, TestApp};

async fn token(app: &TestApp, scope: Scope) -> String {
    let (_, secret) = tokens::create(
        &app.store,
        scope,
        "maintenance-test",
        &Actor::cli(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    secret.expose().to_string()
}

/// Schedules a window through the admin API; returns its id.
async fn schedule(
    app: &TestApp,
    bearer: &str,
    title: &str,
    models: &[&str],
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
) -> i64 {
    let r = app
        .client
        .post(format!("{}/api/v1/admin/maintenances", app.base))
        .bearer_auth(bearer)
        .json(&json!({
            "title": title,
            "body": format!("{title}: expect short interruptions."),
            "models": models,
            "starts_at": starts,
            "ends_at": ends,
        }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// How long to wait for the service's background tasks (publisher, evaluator), which run on
/// the real clock: generous, as a loaded machine can delay them far beyond their usual pace.
const PATIENCE: StdDuration = StdDuration::from_secs(60);

/// Polls `path` (JSON) until `ok` holds, for at most [`PATIENCE`].
async fn wait_json(app: &TestApp, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let doc = app.get_json(path).await;
        if ok(&doc) {
            return doc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never matched: {doc:#}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

fn named<'a>(list: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
    list[key].as_array()?.iter().find(|m| m["name"] == name)
}

fn names(doc: &Value) -> Vec<&str> {
    doc["scheduled_maintenances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn scheduled_and_in_progress_windows_show_on_every_public_surface() {
    let app = spawn_seeded_app().await;

    // Nothing scheduled: the page says so and every list is empty.
    let page = app.get("/").await.text().await.unwrap();
    assert!(page.contains("No maintenance scheduled"), "{page}");
    for path in [
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
    ] {
        assert_eq!(
            app.get_json(path).await["scheduled_maintenances"],
            json!([]),
            "{path}"
        );
    }
    assert_eq!(
        app.get_json("/api/v1/maintenances").await["maintenances"],
        json!([])
    );

    let operate = token(&app, Scope::Operate).await;
    let now = Utc::now();
    let upgrade = schedule(
        &app,
        &operate,
        "Database upgrade",
        &["openai/gpt-5"],
        now + Duration::hours(2),
        now + Duration::hours(3),
    )
    .await;
    let network = schedule(
        &app,
        &operate,
        "Network work",
        &["anthropic/claude-sonnet-4-5"],
        now - Duration::minutes(1),
        now + Duration::hours(1),
    )
    .await;

    // Each window republishes the site, and a site published between the two holds only the
    // first: wait until a published site has both. Sites are swapped whole and later ones
    // keep both, so every document read after this shows both windows.
    wait_json(&app, "/api/v2/scheduled-maintenances.json", |d| {
        let listed = names(d);
        listed.contains(&"Database upgrade") && listed.contains(&"Network work")
    })
    .await;

    // Statuspage: upcoming lists the scheduled one only, active the one in progress.
    let upcoming = app
        .get_json("/api/v2/scheduled-maintenances/upcoming.json")
        .await;
    assert_eq!(names(&upcoming), ["Database upgrade"], "{upcoming:#}");
    let m = &upcoming["scheduled_maintenances"][0];
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    assert_eq!(m["resolved_at"], Value::Null);
    let starts = DateTime::parse_from_rfc3339(m["scheduled_for"].as_str().unwrap()).unwrap();
    let ends = DateTime::parse_from_rfc3339(m["scheduled_until"].as_str().unwrap()).unwrap();
    assert_eq!(ends - starts, Duration::hours(1));
    assert_eq!(m["components"][0]["name"], "GPT-5");
    let updates = m["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1, "{m:#}");
    assert_eq!(updates[0]["status"], "scheduled");
    assert_eq!(updates[0]["incident_id"], m["id"]);
    assert!(m["shortlink"]
        .as_str()
        .unwrap()
        .ends_with(&format!("#maintenance-{upgrade}")));

    let active = app
        .get_json("/api/v2/scheduled-maintenances/active.json")
        .await;
    assert_eq!(names(&active), ["Network work"], "{active:#}");
    let m = &active["scheduled_maintenances"][0];
    assert_eq!(m["status"], "in_progress");
    assert_eq!(m["components"][0]["name"], "Claude Sonnet 4.5");
    let steps: Vec<&str> = m["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["in_progress", "scheduled"], "newest first");

    let all = app.get_json("/api/v2/scheduled-maintenances.json").await;
    let mut listed = names(&all);
    listed.sort_unstable();
    assert_eq!(listed, ["Database upgrade", "Network work"]);
    let summary = app.get_json("/api/v2/summary.json").await;
    let mut listed = names(&summary);
    listed.sort_unstable();
    assert_eq!(listed, ["Database upgrade", "Network work"], "{summary:#}");

    // Our own API.
    let ours = app.get_json("/api/v1/maintenances").await;
    let list = ours["maintenances"].as_array().unwrap();
    let by_id = |id: i64| list.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(by_id(upgrade)["status"], "scheduled");
    assert_eq!(by_id(upgrade)["models"], json!(["openai/gpt-5"]));
    assert_eq!(by_id(network)["status"], "in_progress");
    assert!(by_id(network)["started_at"].is_string());
    // Every field is the one the OpenAPI document lists, and only those.
    let openapi = app.get_json("/api/v1/openapi.json").await;
    let schema = &openapi["components"]["schemas"]["Maintenance"];
    let mut documented: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    documented.sort_unstable();
    for m in list {
        let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, documented, "{m}");
    }
    assert!(openapi["paths"]["/api/v1/maintenances"]["get"].is_object());

    // The public page lists both, with their times, models and status in words.
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains("No maintenance scheduled"), "{page}");
    for needle in [
        format!("id=\"maintenance-{upgrade}\""),
        format!("id=\"maintenance-{network}\""),
        "Database upgrade".into(),
        "Network work".into(),
        "<strong>Scheduled</strong>".into(),
        "<strong>In progress</strong>".into(),
        ">GPT-5</a>".into(),
        ">Claude Sonnet 4.5</a>".into(),
    ] {
        assert!(page.contains(&needle), "{needle} missing from the page");
    }
    let section = &page[page.find("maintenance-heading").unwrap()..];
    assert!(section.matches("<time datetime=").count() >= 4, "{section}");
    let upgrade_at = section.find("Database upgrade").unwrap();
    let network_at = section.find("Network work").unwrap();
    assert!(network_at < upgrade_at, "earliest start first");

    // The evaluator starts the window: the component is under maintenance.
    let components = wait_json(&app, "/api/v2/components.json", |d| {
        named(d, "components", "Claude Sonnet 4.5")
            .is_some_and(|c| c["status"] == "under_maintenance")
    })
    .await;
    assert_ne!(
        named(&components, "components", "GPT-5").unwrap()["status"],
        "under_maintenance"
    );
    app.stop().await;
}

/// A provider whose every probe is refused with 401: our key is wrong, not the provider.
const BROKEN: &str = r#"
[[providers]]
id = "acme"
name = "Acme"
kind = "simulated"
schedule = "* * * * * *"
evaluator = { window_probes = 5, min_samples = 2 }
simulate = { error_rate = 1.0, error_mix = { auth = 1 } }
models = [ { id = "broken", name = "Broken Model" } ]
"#;

const EMAIL: &str = "board@example.com";

#[tokio::test]
async fn the_admin_board_shows_reasons_recent_probes_and_misconfigured_probes() {
    let app = spawn_seeded_app_with(BROKEN).await;
    let read = token(&app, Scope::Read).await;

    let anonymous = app.get("/api/v1/admin/board").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // The JSON twin, until the broken model has been evaluated.
    let deadline = std::time::Instant::now() + PATIENCE;
    let board = loop {
        let r = app
            .client
            .get(format!("{}/api/v1/admin/board", app.base))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let doc: Value = r.json().await.unwrap();
        let broken = doc["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == "acme/broken")
            .cloned()
            .unwrap_or_else(|| panic!("no acme/broken on the board: {doc:#}"));
        if broken["misconfigured"].as_u64().unwrap_or(0) > 0
            && broken["probes"].as_array().unwrap().len() == 5
        {
            break doc;
        }
        assert!(std::time::Instant::now() < deadline, "{doc:#}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    let models = board["models"].as_array().unwrap();
    assert_eq!(models.len(), 4, "every model: {board:#}");
    let broken = models.iter().find(|m| m["id"] == "acme/broken").unwrap();
    assert_eq!(broken["name"], "Broken Model");
    assert_eq!(broken["state"], "unknown", "no outage without evidence");
    assert_eq!(broken["override"], Value::Null);
    let reasons: Vec<&str> = broken["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("probe misconfigured")),
        "{reasons:?}"
    );
    for p in broken["probes"].as_array().unwrap() {
        assert_eq!(p["outcome"], "auth", "{p}");
        assert_eq!(p["http_status"], 401, "{p}");
        assert!(p["total_ms"].is_u64() && p["at"].is_string(), "{p}");
    }
    let times: Vec<&str> = broken["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let gpt = models.iter().find(|m| m["id"] == "openai/gpt-5").unwrap();
    assert_eq!(gpt["misconfigured"], 0, "{gpt}");
    assert!(!gpt["probes"].as_array().unwrap().is_empty());

    // The page: the flag, the reasons and the probes, escaped as text.
    let session = sign_in(&app, EMAIL).await;
    let r = app
        .client
        .get(format!("{}/admin", app.base))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let at = html
        .find("id=\"model-acme/broken\"")
        .expect("the broken model");
    let section = &html[at..];
    let section = &section[..section.find("</details>").unwrap_or(section.len())];
    assert!(section.contains("Probe misconfigured"), "{section}");
    assert!(section.contains("probe misconfigured"), "{section}");
    assert!(section.contains("<td>auth</td><td>401</td>"), "{section}");
    assert_eq!(
        section.matches("<tr class=\"probe-").count(),
        5,
        "{section}"
    );
    assert!(section.contains("disabled") || section.contains("enabled"));
    let gpt_at = html.find("id=\"model-openai/gpt-5\"").unwrap();
    let gpt_section = &html[gpt_at..];
    let gpt_section = &gpt_section[..gpt_section.find("</details>").unwrap_or(gpt_section.len())];
    assert!(
        !gpt_section.contains("Probe misconfigured"),
        "{gpt_section}"
    );
    assert!(gpt_section.contains("<td>ok</td>"), "{gpt_section}");
    app.stop().await;
}
