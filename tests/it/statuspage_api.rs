//! The Statuspage-compatible API (`/api/v2`) of a running service on the seeded database.
//!
//! Shapes are compared with real Statuspage documents in `tests/fixtures/statuspage/`:
//! trimmed from public pages' `/api/v2` output (illposed.statuspage.io's summary of 2021,
//! Huobi's and Cloudflare's incidents, Discord's payloads), combined into one consistent
//! page. Our documents must have exactly the same keys at every level with the same JSON
//! types, and enum fields must hold Statuspage's values, so Statuspage clients read them.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::helpers::spawn_seeded_app;

/// Every endpoint and the fixture its shape is compared with.
const ENDPOINTS: [(&str, &str); 8] = [
    ("/api/v2/summary.json", "summary.json"),
    ("/api/v2/status.json", "status.json"),
    ("/api/v2/components.json", "components.json"),
    ("/api/v2/incidents.json", "incidents.json"),
    (
        "/api/v2/incidents/unresolved.json",
        "incidents-unresolved.json",
    ),
    (
        "/api/v2/scheduled-maintenances.json",
        "scheduled-maintenances.json",
    ),
    (
        "/api/v2/scheduled-maintenances/upcoming.json",
        "scheduled-maintenances.json",
    ),
    (
        "/api/v2/scheduled-maintenances/active.json",
        "scheduled-maintenances.json",
    ),
];

/// Fields Statuspage documents as nullable: `null` (ours or the example's) matches a value.
const NULLABLE: [&str; 8] = [
    "description",
    "start_date",
    "group_id",
    "monitoring_at",
    "resolved_at",
    "affected_components",
    "custom_tweet",
    "tweet_id",
];

const COMPONENT_STATUSES: [&str; 5] = [
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];
const INCIDENT_STATUSES: [&str; 5] = [
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
];
const MAINTENANCE_STATUSES: [&str; 4] = ["scheduled", "in_progress", "verifying", "completed"];
const IMPACTS: [&str; 5] = ["none", "minor", "major", "critical", "maintenance"];

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/statuspage/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Merges array examples with the same keys, preferring non-null values, so one example
/// object shows the type of every field that any example of its kind shows.
fn merged_examples(items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        match out
            .iter_mut()
            .find(|m| keys(m).is_some() && keys(m) == keys(item))
        {
            Some(Value::Object(m)) => {
                for (k, v) in item.as_object().into_iter().flatten() {
                    if m[k].is_null() {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => out.push(item.clone()),
        }
    }
    out
}

/// Ok when `ours` has the example's keys at every level with the same JSON types.
fn same_shape(ours: &Value, example: &Value, key: &str, path: &str) -> Result<(), String> {
    match (ours, example) {
        (Value::Null, Value::Null) => Ok(()),
        (Value::Null, _) | (_, Value::Null) if NULLABLE.contains(&key) => Ok(()),
        (Value::Object(a), Value::Object(b)) => same_object(a, b, path),
        (Value::Array(a), Value::Array(b)) => {
            let examples = merged_examples(b);
            for (i, item) in a.iter().enumerate() {
                let at = format!("{path}[{i}]");
                let errors: Vec<String> = examples
                    .iter()
                    .map(|e| same_shape(item, e, key, &at))
                    .filter_map(Result::err)
                    .collect();
                if examples.is_empty() || errors.len() == examples.len() {
                    return Err(format!("{at} matches no example: {errors:?}"));
                }
            }
            Ok(())
        }
        (Value::String(_), Value::String(_)) | (Value::Bool(_), Value::Bool(_)) => Ok(()),
        (Value::Number(a), Value::Number(b)) if a.is_f64() == b.is_f64() => Ok(()),
        _ => Err(format!("{path}: {ours} has another type than {example}")),
    }
}

fn same_object(a: &Map<String, Value>, b: &Map<String, Value>, path: &str) -> Result<(), String> {
    let ours: BTreeSet<&String> = a.keys().collect();
    let theirs: BTreeSet<&String> = b.keys().collect();
    if ours != theirs {
        return Err(format!(
            "{path}: extra keys {:?}, missing keys {:?}",
            ours.difference(&theirs).collect::<Vec<_>>(),
            theirs.difference(&ours).collect::<Vec<_>>()
        ));
    }
    a.iter()
        .try_for_each(|(k, v)| same_shape(v, &b[k], k, &format!("{path}.{k}")))
}

/// What a string field must be, if Statuspage restricts it: enum values, ids, times.
fn bad_value(key: &str, s: &str, within: &str) -> Option<&'static str> {
    let (ok, what) = match key {
        "status" => {
            let allowed = match within {
                "components" => COMPONENT_STATUSES.to_vec(),
                "incidents" => INCIDENT_STATUSES.to_vec(),
                "scheduled_maintenances" => MAINTENANCE_STATUSES.to_vec(),
                _ => [INCIDENT_STATUSES.as_slice(), &MAINTENANCE_STATUSES].concat(),
            };
            (allowed.contains(&s), "a Statuspage status here")
        }
        "old_status" | "new_status" => (COMPONENT_STATUSES.contains(&s), "a component status"),
        "indicator" | "impact" => (IMPACTS.contains(&s), "an indicator or impact"),
        "id" | "page_id" | "group_id" | "incident_id" | "code" => (
            s.len() == 12
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
            "a Statuspage id",
        ),
        k if k.ends_with("_at") || k.starts_with("scheduled_") => (
            chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "an ISO 8601 time with zone",
        ),
        _ => (true, ""),
    };
    (!ok).then_some(what)
}

/// Checks every string field with [`bad_value`]; `within` is the enclosing list's key.
fn check_values(v: &Value, within: &str, path: &str, errors: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let at = format!("{path}.{k}");
                if let Some(what) = x.as_str().and_then(|s| bad_value(k, s, within)) {
                    errors.push(format!("{at}: {x} is not {what}"));
                }
                let inner = if x.is_array() { k.as_str() } else { within };
                check_values(x, inner, &at, errors);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                check_values(x, within, &format!("{path}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

fn values_errors(doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check_values(doc, "", "$", &mut errors);
    errors
}

#[test]
fn fixtures_pass_and_drift_fails() {
    for (_, name) in ENDPOINTS {
        let doc = fixture(name);
        assert_eq!(same_shape(&doc, &doc, "", "$"), Ok(()), "{name}");
        assert_eq!(values_errors(&doc), Vec::<String>::new(), "{name}");
    }
    let example = fixture("summary.json");
    let mut renamed = example.clone();
    let component = renamed["components"][0].as_object_mut().unwrap();
    let v = component.remove("only_show_if_degraded").unwrap();
    component.insert("onlyShowIfDegraded".into(), v);
    assert!(same_shape(&renamed, &example, "", "$").is_err());
    let mut retyped = example.clone();
    retyped["components"][0]["position"] = "1".into();
    assert!(same_shape(&retyped, &example, "", "$").is_err());
    let mut not_nullable = example.clone();
    not_nullable["incidents"][0]["shortlink"] = Value::Null;
    assert!(same_shape(&not_nullable, &example, "", "$").is_err());
    let mut unknown = example.clone();
    unknown["components"][0]["status"] = "unknown".into();
    assert_eq!(values_errors(&unknown).len(), 1);
}

#[tokio::test]
async fn every_endpoint_is_json_shaped_like_statuspage() {
    let app = spawn_seeded_app().await;
    for (path, name) in ENDPOINTS {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let doc: Value = r.json().await.unwrap();
        if let Err(e) = same_shape(&doc, &fixture(name), "", "$") {
            panic!("{path} differs from Statuspage's shape: {e}\n{doc:#}");
        }
        assert_eq!(values_errors(&doc), Vec::<String>::new(), "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn incidents_list_the_seeded_incident_newest_update_first() {
    let app = spawn_seeded_app().await;
    let stored = app.store.incidents(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    let stored = &stored[0];
    let doc = app.get_json("/api/v2/incidents.json").await;
    let incidents = doc["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{doc:#}");
    let incident = &incidents[0];
    assert_eq!(incident["name"], stored.title.as_str());
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["impact"], stored.impact.as_str());
    assert!(incident["resolved_at"].is_string() && incident["monitoring_at"].is_string());

    let updates = incident["incident_updates"].as_array().unwrap();
    assert!(
        updates.len() >= 3,
        "open, monitoring, resolved: {updates:#?}"
    );
    let bodies: Vec<&str> = updates
        .iter()
        .map(|u| u["body"].as_str().unwrap())
        .collect();
    let stored_bodies: Vec<&str> = stored
        .updates
        .iter()
        .rev()
        .map(|u| u.body.as_str())
        .collect();
    assert_eq!(
        bodies, stored_bodies,
        "newest first, as Statuspage orders them"
    );
    assert_eq!(updates[0]["status"], "resolved");
    assert_eq!(updates[updates.len() - 1]["status"], "investigating");
    let times: Vec<&str> = updates
        .iter()
        .map(|u| u["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(updates.iter().all(|u| u["incident_id"] == incident["id"]));

    // The opening update shows the Opus component leaving operational.
    let components = app.get_json("/api/v2/components.json").await;
    let opus = component_named(&components, "Claude Opus 4.8");
    let first = &updates[updates.len() - 1]["affected_components"];
    let entry = first
        .as_array()
        .and_then(|a| a.iter().find(|c| c["code"] == opus["id"]))
        .unwrap_or_else(|| panic!("Opus not affected by the first update: {first}"));
    assert_eq!(entry["old_status"], "operational");
    assert_ne!(entry["new_status"], "operational");
    assert_eq!(entry["name"], "Anthropic - Claude Opus 4.8");
    assert!(incident["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == opus["id"]));

    let unresolved = app.get_json("/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"], Value::Array(vec![]));
    let summary = app.get_json("/api/v2/summary.json").await;
    assert_eq!(summary["incidents"], Value::Array(vec![]));
    app.stop().await;
}

fn component_named<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {doc:#}"))
}

#[tokio::test]
async fn components_group_models_per_provider() {
    let app = spawn_seeded_app().await;
    let doc = app.get_json("/api/v2/components.json").await;
    let all = doc["components"].as_array().unwrap();
    let (groups, models): (Vec<&Value>, Vec<&Value>) = all.iter().partition(|c| c["group"] == true);
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Anthropic", "OpenAI"]);
    for group in &groups {
        let members: Vec<&Value> = models
            .iter()
            .filter(|m| m["group_id"] == group["id"])
            .map(|m| &m["id"])
            .collect();
        let listed: Vec<&Value> = group["components"].as_array().unwrap().iter().collect();
        assert_eq!(listed, members, "{group:#}");
    }
    assert_eq!(groups[0]["components"].as_array().unwrap().len(), 2);
    assert_eq!(groups[1]["components"].as_array().unwrap().len(), 1);
    for id in [
        "anthropic/claude-opus-4-8",
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-5",
    ] {
        let found = models
            .iter()
            .filter(|m| m["description"].as_str().unwrap().starts_with(id))
            .count();
        assert_eq!(found, 1, "{id}");
    }
    let ids: BTreeSet<&str> = all.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "ids are unique");
    let summary = app.get_json("/api/v2/summary.json").await;
    assert_eq!(summary["components"], doc["components"]);
    app.stop().await;
}

#[tokio::test]
async fn summary_status_agrees_with_components_and_incidents() {
    let app = spawn_seeded_app().await;
    let summary = app.get_json("/api/v2/summary.json").await;
    let rank = |s: &str| match s {
        "degraded_performance" | "minor" => 1,
        "partial_outage" | "major" => 2,
        "major_outage" | "critical" => 3,
        _ => 0,
    };
    let leaves = summary["components"].as_array().unwrap().iter();
    let statuses = leaves
        .filter(|c| c["group"] == false)
        .map(|c| rank(c["status"].as_str().unwrap()));
    let impacts = summary["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| rank(i["impact"].as_str().unwrap()));
    let worst = statuses.chain(impacts).max().unwrap_or(0);
    let (indicator, description) = [
        ("none", "All Systems Operational"),
        ("minor", "Minor Service Outage"),
        ("major", "Partial System Outage"),
        ("critical", "Major Service Outage"),
    ][worst];
    assert_eq!(summary["status"]["indicator"], indicator, "{summary:#}");
    assert_eq!(summary["status"]["description"], description);
    let status = app.get_json("/api/v2/status.json").await;
    assert_eq!(status["status"], summary["status"]);
    assert_eq!(status["page"], summary["page"]);
    app.stop().await;
}

#[tokio::test]
async fn summary_is_revalidated_and_brotli_compressed() {
    let app = spawn_seeded_app().await;
    let url = format!("{}/api/v2/summary.json", app.base);
    // The publisher may swap the site between two requests; retry on a changed tag.
    let mut revalidated = false;
    for _ in 0..3 {
        let first = app.get("/api/v2/summary.json").await;
        let etag = first.headers()["etag"].clone();
        let again = app
            .client
            .get(&url)
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        if again.status() == 304 {
            revalidated = true;
            break;
        }
        assert_ne!(again.headers()["etag"], etag, "same tag must give 304");
    }
    assert!(revalidated, "If-None-Match never gave 304");

    let r = app
        .client
        .get(&url)
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "br");
    let compressed = r.bytes().await.unwrap();
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &compressed[..], &mut plain).unwrap();
    let doc: Value = serde_json::from_slice(&plain).unwrap();
    assert!(doc["status"]["indicator"].is_string(), "{doc:#}");
    app.stop().await;
}

/// Maintenance lists with windows in them (scheduled, in progress) have Statuspage's shape
/// too: compared with the real scheduled maintenance of the fixtures.
#[tokio::test]
async fn maintenance_lists_are_shaped_like_statuspage() {
    use chrono::{Duration, Utc};
    use modelwatch::admin::audit::Actor;
    use modelwatch::admin::{tokens, Scope};

    let app = spawn_seeded_app().await;
    let (_, secret) = tokens::create(
        &app.store,
        Scope::Operate,
        "shape",
        &Actor::cli(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    let now = Utc::now();
    for (title, starts) in [
        ("Upgrade", now + Duration::hours(1)),
        ("Network", now - Duration::minutes(5)),
    ] {
        let r = app
            .client
            .post(format!("{}/api/v1/admin/maintenances", app.base))
            .bearer_auth(secret.expose())
            .json(&serde_json::json!({
                "title": title,
                "body": "",
                "models": ["anthropic/claude-opus-4-8", "openai/gpt-5"],
                "starts_at": starts,
                "ends_at": now + Duration::hours(2),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // The windows appear once the publisher (a background task on the real clock) has run:
    // a generous deadline for a loaded machine, quick polling for a fast one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for (path, name) in ENDPOINTS {
        let doc: Value = loop {
            let doc: Value = app.get(path).await.json().await.unwrap();
            let listed = doc["scheduled_maintenances"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
            if listed || !path.contains("maintenance") && path != "/api/v2/summary.json" {
                break doc;
            }
            assert!(std::time::Instant::now() < deadline, "{path}: {doc:#}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        if let Err(e) = same_shape(&doc, &fixture(name), "", "$") {
            panic!("{path} differs from Statuspage's shape: {e}\n{doc:#}");
        }
        assert_eq!(values_errors(&doc), Vec::<String>::new(), "{path}");
    }
    let all = app.get_json("/api/v2/scheduled-maintenances.json").await;
    assert_eq!(all["scheduled_maintenances"].as_array().unwrap().len(), 2);
    let summary = app.get_json("/api/v2/summary.json").await;
    assert_eq!(
        summary["scheduled_maintenances"].as_array().unwrap().len(),
        2
    );
    for m in all["scheduled_maintenances"].as_array().unwrap() {
        assert_eq!(m["impact"], "maintenance");
        assert_eq!(m["components"].as_array().unwrap().len(), 2, "{m:#}");
        assert!(m["scheduled_for"].is_string() && m["scheduled_until"].is_string());
    }
    app.stop().await;
}

/// Without `public_url` the page's address is the one actually listened on (port 0 resolved,
/// `--listen` applied), not the configured default; an explicit `public_url` stays as it is.
#[tokio::test]
async fn page_url_is_the_bound_address_unless_public_url_is_set() {
    let app = spawn_seeded_app().await;
    for path in ["/api/v2/summary.json", "/api/v2/status.json"] {
        let doc = app.get_json(path).await;
        assert_eq!(doc["page"]["url"], app.base.as_str(), "{path}");
    }
    // Links derived from the page's address follow it (the seeded incident's shortlink).
    let incidents = app.get_json("/api/v2/incidents.json").await;
    let incidents = incidents["incidents"].as_array().unwrap();
    assert!(!incidents.is_empty());
    for i in incidents {
        let link = i["shortlink"].as_str().unwrap();
        assert!(
            link.starts_with(&format!("{}/incidents/", app.base)),
            "{link}"
        );
    }
    app.stop().await;

    let app =
        crate::helpers::spawn_seeded_app_with("public_url = \"https://status.example.com/\"").await;
    let doc = app.get_json("/api/v2/status.json").await;
    assert_eq!(doc["page"]["url"], "https://status.example.com");
    app.stop().await;
}
