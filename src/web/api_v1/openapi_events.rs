//! The webhook half of the OpenAPI document: what a native webhook receives.
//!
//! OpenAPI 3.1's `webhooks` lists one entry per event type, each a POST whose body is the
//! event ([`crate::vocabulary::Event`] serialised, links made absolute). The schemas are
//! closed (`additionalProperties: false`, every field required), so the JSON Schema test
//! (`tests/it/webhook_schema.rs`, checked with Python's `jsonschema`) fails as soon as the
//! type and this description part.

use serde_json::{json, Value};

use super::openapi::{array_of, nullable, object, reference, time, typed};
use crate::vocabulary::event::{EVENT_TYPES, EVENT_VERSION};

/// Adds `webhooks` and the event schemas to `doc`.
pub(super) fn extend(doc: &mut Value) {
    doc["webhooks"] = webhooks();
    if let (Some(target), Value::Object(entries)) =
        (doc["components"]["schemas"].as_object_mut(), schemas())
    {
        target.extend(entries);
    }
}

/// The schema each event type's body follows.
fn schema_of(kind: &str) -> &'static str {
    match kind.split('.').next() {
        Some("model") => "ModelEvent",
        Some("incident") => "IncidentEvent",
        Some("official") => "OfficialEvent",
        _ => "MaintenanceEvent",
    }
}

fn what_happened(kind: &str) -> &'static str {
    match kind {
        "model.state_changed" => {
            "A model's state changed (every change, whatever the routing decision did)."
        }
        "model.degraded" => {
            "A model entered `degraded_performance` from `operational`; it is still routed to."
        }
        "model.disabled" => "A model's routing decision flipped to disabled: use `fallback`.",
        "model.restored" => "A model's routing decision flipped back to enabled.",
        "incident.created" => "An incident was opened (by the evaluator or an SRE).",
        "incident.updated" => "An incident's status, impact, affected models or text changed.",
        "incident.resolved" => "An incident was resolved.",
        "maintenance.scheduled" => "A maintenance window was planned.",
        "maintenance.started" => "A maintenance window began: its models are `under_maintenance`.",
        "maintenance.completed" => "A maintenance window ended.",
        "official.changed" => "A provider's own status page changed what it says of a mapped component: its state, or an incident or maintenance naming it opened or resolved. Only to subscriptions that name it in `events`.",
        _ => "A maintenance window was cancelled.",
    }
}

fn webhooks() -> Value {
    let header = |name: &str, description: &str| {
        json!({ "name": name, "in": "header", "required": true,
                "description": description, "schema": { "type": "string" } })
    };
    let entries: serde_json::Map<String, Value> = EVENT_TYPES
        .iter()
        .map(|kind| {
            let operation = json!({
                "operationId": format!("event_{}", kind.replace('.', "_")),
                "summary": what_happened(kind),
                "description": "Sent to native webhook subscriptions whose filter matches, \
                    signed per Standard Webhooks. Chat formats (Slack, Discord, Teams) and \
                    PagerDuty receive their own shapes built from the same event.",
                "parameters": [
                    header("webhook-id", "`msg_<event>_<subscription>`: the same on every retry, for deduplication."),
                    header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256>` per secret, space-separated (two during a rotation)."),
                ],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": reference(schema_of(kind)) } },
                },
                "responses": {
                    "2XX": { "description": "Delivered. Anything else (or no answer within the timeout) is retried with backoff." },
                },
            });
            (kind.to_string(), json!({ "post": operation }))
        })
        .collect();
    Value::Object(entries)
}

/// Closes an object schema: a field the type does not have is an error, not a surprise.
fn closed(mut schema: Value) -> Value {
    schema["additionalProperties"] = json!(false);
    schema
}

/// The fields every event starts with.
fn common(kinds: &[&str]) -> Vec<(&'static str, Value)> {
    vec![
        (
            "version",
            json!({ "type": "integer", "const": EVENT_VERSION,
                    "description": "Schema version of the body. Fields are only added within a version." }),
        ),
        (
            "type",
            json!({ "type": "string", "enum": kinds, "description": "The event type." }),
        ),
        (
            "occurred_at",
            time("When it happened: the evaluation round, or the SRE's action (RFC 3339)."),
        ),
        (
            "public",
            typed(
                "boolean",
                "Always true in webhook bodies: events only SREs see reach no subscriber.",
            ),
        ),
    ]
}

fn kinds_of(family: &str) -> Vec<&'static str> {
    EVENT_TYPES
        .iter()
        .copied()
        .filter(|k| k.starts_with(family))
        .collect()
}

fn schemas() -> Value {
    let model_kinds = kinds_of("model.");
    let incident_kinds = kinds_of("incident.");
    let maintenance_kinds = kinds_of("maintenance.");
    let mut model = common(&model_kinds);
    model.extend([
        ("model", typed("string", "`provider/model`.")),
        ("model_name", typed("string", "The model's display name.")),
        ("provider", typed("string", "Provider id.")),
        ("from", reference("ModelState")),
        ("to", reference("ModelState")),
        (
            "decision",
            json!({ "type": "string", "enum": ["enabled", "disabled"],
                    "description": "The routing decision after the change, overrides applied." }),
        ),
        ("enabled", typed("boolean", "`decision == \"enabled\"`.")),
        ("fallback", nullable("string", "The model to use while this one is disabled (`provider/model`); null while enabled or when none is healthy.")),
        ("reasons", array_of(typed("string", ""), "Why, in words: the evaluator's figures or the override's reason.")),
        (
            "override",
            json!({ "anyOf": [reference("EventOverride"), { "type": "null" }],
                    "description": "The SRE override in force after the change, if any." }),
        ),
        (
            "incident",
            json!({ "anyOf": [reference("EventIncidentLink"), { "type": "null" }],
                    "description": "The provider's open incident, if any." }),
        ),
    ]);
    let mut incident = common(&incident_kinds);
    incident.extend([
        ("provider", typed("string", "Provider id.")),
        ("incident", reference("EventIncident")),
        (
            "body",
            typed("string", "The update's text (Markdown as written)."),
        ),
    ]);
    let mut official = common(&kinds_of("official."));
    official.extend([
        ("provider", typed("string", "Provider id.")),
        ("provider_name", typed("string", "The provider's display name.")),
        ("summary", typed("string", "What changed, in words.")),
        ("component", nullable("string", "The configured component, when its state changed.")),
        ("state", json!({ "anyOf": [reference("ModelState"), { "type": "null" }], "description": "The component's state now, or the incident's declared impact." })),
        ("previous", json!({ "anyOf": [reference("ModelState"), { "type": "null" }], "description": "The component's state before." })),
        ("incident", json!({ "anyOf": [reference("EventOfficialIncident"), { "type": "null" }], "description": "The published incident or maintenance, when one opened or resolved." })),
        ("models", array_of(typed("string", ""), "Our models the change concerns (`provider/model`).")),
    ]);
    let mut maintenance = common(&maintenance_kinds);
    maintenance.extend([
        ("maintenance", reference("EventMaintenance")),
        (
            "models",
            array_of(
                typed("string", ""),
                "The window's models (`provider/model`).",
            ),
        ),
    ]);
    json!({
        "Event": {
            "description": "A native webhook body: one of the event families, told apart by `type`.",
            "oneOf": [reference("ModelEvent"), reference("IncidentEvent"), reference("MaintenanceEvent"), reference("OfficialEvent")],
        },
        "ModelEvent": closed(object("A model's state or routing decision changed.", model)),
        "IncidentEvent": closed(object("An incident was opened, updated or resolved.", incident)),
        "MaintenanceEvent": closed(object("A maintenance window was scheduled, started, completed or cancelled.", maintenance)),
        "OfficialEvent": closed(object("What a provider's own status page says changed.", official)),
        "EventOfficialIncident": closed(object("A published incident or maintenance.", vec![
            ("id", typed("string", "The page's id.")),
            ("name", typed("string", "As published.")),
            ("status", typed("string", "As published.")),
            ("maintenance", typed("boolean", "")),
            ("url", nullable("string", "The provider's own page for it.")),
        ])),
        "EventOverride": closed(object("An SRE's override of the routing decision (who set it is never included).", vec![
            ("id", typed("integer", "")),
            ("model_key", typed("string", "`provider/model`.")),
            ("enabled", typed("boolean", "The decision it forces.")),
            ("reason", typed("string", "")),
            ("created_at", time("")),
            ("expires_at", time("It ends by itself then.")),
        ])),
        "EventIncidentLink": closed(object("The provider's open incident.", vec![
            ("id", typed("integer", "")),
            ("url", typed("string", "Its page (absolute).")),
        ])),
        "EventIncident": closed(object("The incident after the change.", vec![
            ("id", typed("integer", "")),
            ("title", typed("string", "")),
            ("status", json!({ "type": "string", "enum": ["investigating", "identified", "monitoring", "resolved"] })),
            ("impact", json!({ "type": "string", "enum": ["none", "minor", "major", "critical"] })),
            ("affected_models", array_of(typed("string", ""), "`provider/model` ids.")),
            ("url", typed("string", "Its page (absolute).")),
        ])),
        "EventMaintenance": closed(object("The window the event is about.", vec![
            ("id", typed("integer", "")),
            ("title", typed("string", "")),
            ("body", typed("string", "")),
            ("models", array_of(typed("string", ""), "`provider/model` ids.")),
            ("scheduled_for", time("")),
            ("scheduled_until", time("")),
            ("url", typed("string", "The status page (absolute).")),
        ])),
    })
}
