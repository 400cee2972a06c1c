//! The native webhook body against its documented JSON Schema (the OpenAPI document's
//! `components.schemas.Event`), checked by an independent validator: Python's `jsonschema`
//! (Draft 2020-12, the dialect of OpenAPI 3.1), installed by `scripts/test`.
//!
//! Two sources of bodies: every event type built from the Rust types and shaped by the
//! native format exactly as the dispatcher sends it, and the bodies a real receiver got from
//! a running service (a round's model events, an incident opened and resolved by hand, a
//! maintenance window scheduled and cancelled).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use chrono::{TimeZone, Utc};
use modelwatch::notify::formats;
use modelwatch::store::incident_ops::{NewIncident, NewUpdate};
use modelwatch::store::maintenances::NewMaintenance;
use modelwatch::store::round::Round;
use modelwatch::vocabulary::event::{
    Decision, IncidentChange, IncidentLink, MaintenanceChange, ModelChange, OfficialChange,
    OfficialIncidentLink, EVENT_TYPES,
};
use modelwatch::vocabulary::{
    ActiveOverride, Event, EventBody, Format, IncidentStatus, ModelState, Window, WindowStatus,
};
use serde_json::{json, Value};

use crate::helpers::{model_event, spawn_seeded_app_with, spawn_server};

const NOTIFY: &str = "[notify]\nallow_internal_targets = [\"127.0.0.0/8\"]\n";

/// Validates each of `bodies` against the document's `Event`; prints one line per body:
/// `ok` or the first error.
const VALIDATE: &str = r##"
import json, sys
from jsonschema import Draft202012Validator
d = json.load(sys.stdin)
schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
          "$ref": "#/components/schemas/Event", "components": d["document"]["components"]}
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
for body in d["bodies"]:
    errors = sorted(v.iter_errors(body), key=lambda e: list(e.path))
    print("ok" if not errors else "error: " + "; ".join(e.message for e in errors[:3]))
"##;

/// One verdict per body, from Python's `jsonschema`.
fn validate(document: &Value, bodies: &[Value]) -> Vec<String> {
    use std::io::Write;
    let check = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "python3 with the `jsonschema` package is needed: run scripts/test, which installs it"
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", VALIDATE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = json!({ "document": document, "bodies": bodies });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every event type, built from the Rust types (with an override and an incident link, so
/// the optional objects are checked too).
fn every_type() -> Vec<Event> {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
    let model = ModelChange {
        model: "anthropic/claude-opus-4-8".into(),
        model_name: "Claude Opus 4.8".into(),
        provider: "anthropic".into(),
        from: ModelState::Operational,
        to: ModelState::PartialOutage,
        decision: Decision::Disabled,
        enabled: false,
        fallback: Some("anthropic/claude-sonnet-4-5".into()),
        reasons: vec!["error rate at least 41%".into()],
        manual_override: Some(ActiveOverride {
            id: 3,
            model_key: "anthropic/claude-opus-4-8".into(),
            enabled: false,
            reason: "vendor advisory".into(),
            created_by: "alice@example.com".into(),
            created_at: at,
            expires_at: at + chrono::Duration::hours(2),
        }),
        incident: Some(IncidentLink::to(7)),
    };
    let incident = IncidentChange::new(
        "anthropic",
        7,
        "Anthropic: Claude Opus 4.8 impaired",
        IncidentStatus::Identified,
        "major",
        vec!["anthropic/claude-opus-4-8".into()],
        "We are seeing problems.",
    );
    let window = Window {
        id: 2,
        title: "Database upgrade".into(),
        body: "Expect a few minutes of errors.".into(),
        models: vec!["openai/gpt-5".into()],
        starts_at: at,
        ends_at: at + chrono::Duration::hours(1),
        status: WindowStatus::Scheduled,
    };
    let maintenance = MaintenanceChange::of(&window);
    let restored = ModelChange {
        decision: Decision::Enabled,
        enabled: true,
        fallback: None,
        manual_override: None,
        incident: None,
        to: ModelState::Operational,
        ..model.clone()
    };
    [
        EventBody::ModelStateChanged(model.clone()),
        EventBody::ModelDegraded(model.clone()),
        EventBody::ModelDisabled(model),
        EventBody::ModelRestored(restored),
        EventBody::IncidentCreated(incident.clone()),
        EventBody::IncidentUpdated(incident.clone()),
        EventBody::IncidentResolved(incident),
        EventBody::MaintenanceScheduled(maintenance.clone()),
        EventBody::MaintenanceStarted(maintenance.clone()),
        EventBody::MaintenanceCompleted(maintenance.clone()),
        EventBody::MaintenanceCancelled(maintenance),
        EventBody::OfficialChanged(OfficialChange {
            provider: "anthropic".into(),
            provider_name: "Anthropic".into(),
            summary: "Anthropic's status page: Claude API partial outage (was operational)".into(),
            component: Some("Claude API".into()),
            state: Some(ModelState::PartialOutage),
            previous: Some(ModelState::Operational),
            incident: Some(OfficialIncidentLink {
                id: "abc123".into(),
                name: "Elevated errors on Claude Opus".into(),
                status: "investigating".into(),
                maintenance: false,
                url: Some("https://status.anthropic.com/incidents/abc123".into()),
            }),
            models: vec!["anthropic/claude-opus-4-8".into()],
        }),
    ]
    .into_iter()
    .map(|body| Event::new(at, true, body))
    .collect()
}

/// The native body of `event`, as the dispatcher sends it.
fn native(event: &Event) -> Value {
    let payload = formats::build(Format::Native, event, "https://status.example.com", None)
        .expect("the native format carries every event");
    serde_json::from_slice(&payload.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_native_body_fits_the_documented_schema_and_a_changed_one_does_not() {
    let app = spawn_seeded_app_with(NOTIFY).await;
    let document = app.get_json("/api/v1/openapi.json").await;
    for kind in EVENT_TYPES {
        assert!(
            document["webhooks"][kind]["post"]["requestBody"].is_object(),
            "{kind} is not in the document's webhooks"
        );
    }

    // A receiver subscribed to everything, then one of each family through the service.
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&got);
    let receiver = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let addr = spawn_server(receiver).await;
    let r = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .json(&json!({"kind": "webhook", "url": format!("http://{addr}/hook")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let now = Utc::now();
    let round = Round {
        at: now,
        events: ["model.state_changed", "model.disabled"]
            .into_iter()
            .map(|kind| {
                model_event(
                    kind,
                    "openai/gpt-5",
                    "GPT-5",
                    "major_outage",
                    None,
                    &["hard down"],
                )
            })
            .collect(),
        ..Round::default()
    };
    app.store.commit_round(&round).await.unwrap();
    let id = app
        .store
        .open_incident_by_hand(
            &NewIncident {
                provider_id: "openai".into(),
                title: "OpenAI: GPT-5 failing".into(),
                impact: "critical".into(),
                affected: BTreeSet::from(["openai/gpt-5".to_string()]),
                status: IncidentStatus::Investigating,
                body: "Every request fails.".into(),
                notify: true,
            },
            now,
        )
        .await
        .unwrap();
    app.store
        .post_incident_update(
            id,
            &NewUpdate {
                status: IncidentStatus::Resolved,
                body: "Recovered.".into(),
                impact: None,
                affected: None,
                notify: true,
            },
            now,
        )
        .await
        .unwrap();
    let window = app
        .store
        .create_maintenance(
            &NewMaintenance {
                title: "Network work".into(),
                body: String::new(),
                models: vec!["openai/gpt-5".into()],
                starts_at: now + chrono::Duration::days(1),
                ends_at: now + chrono::Duration::days(1) + chrono::Duration::hours(1),
                created_by: "sre@example.com".into(),
            },
            now,
        )
        .await
        .unwrap();
    app.store.cancel_maintenance(window.id, now).await.unwrap();
    let expected = 6;
    let deadline = Instant::now() + Duration::from_secs(60);
    let received = loop {
        let bodies = got.lock().unwrap().clone();
        if bodies.len() >= expected {
            break bodies;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} deliveries arrived",
            bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let mut bodies: Vec<Value> = every_type().iter().map(native).collect();
    bodies.extend(received.iter().map(|b| serde_json::from_str(b).unwrap()));
    let verdicts = validate(&document, &bodies);
    assert_eq!(verdicts.len(), bodies.len());
    for (verdict, body) in verdicts.iter().zip(&bodies) {
        assert_eq!(verdict, "ok", "{body}");
    }
    let kinds: BTreeSet<&str> = bodies.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(kinds, EVENT_TYPES.into_iter().collect());
    let live: BTreeSet<&str> = bodies[EVENT_TYPES.len()..]
        .iter()
        .filter_map(|b| b["type"].as_str())
        .collect();
    assert_eq!(
        live,
        BTreeSet::from([
            "model.state_changed",
            "model.disabled",
            "incident.created",
            "incident.resolved",
            "maintenance.scheduled",
            "maintenance.cancelled",
        ])
    );

    // The schema is closed and exact: a field too many, a field missing or a word outside
    // the vocabulary is refused.
    let mut extra = bodies[0].clone();
    extra["surprise"] = json!(1);
    let mut missing = bodies[4].clone();
    missing["incident"]
        .as_object_mut()
        .unwrap()
        .remove("status");
    let mut wrong = bodies[2].clone();
    wrong["to"] = json!("on_fire");
    let verdicts = validate(&document, &[extra, missing, wrong]);
    assert!(
        verdicts.iter().all(|v| v.starts_with("error")),
        "{verdicts:?}"
    );
    app.stop().await;
}
