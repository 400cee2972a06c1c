//! The official-status part of the OpenAPI document: `/api/v1/official`, the `official`
//! field of a model, and the `official.changed` webhook body.

use serde_json::{json, Value};

use super::openapi::{
    array_of, envelope, get, nullable, nullable_time, object, reference, time, typed,
};

/// Adds the route and its schemas to `doc`.
pub(super) fn extend(doc: &mut Value) {
    doc["paths"]["/api/v1/official"] = get(
        "getOfficial",
        "Providers' own status pages beside ours: their components, our incidents with the provider's acknowledgement and lead, theirs with whether we saw them, and the figures over 30 and 90 days.",
        "OfficialResponse",
        &[],
        &[],
    );
    if let (Some(target), Value::Object(entries)) =
        (doc["components"]["schemas"].as_object_mut(), schemas())
    {
        target.extend(entries);
    }
}

fn state_or_null(description: &str) -> Value {
    json!({ "anyOf": [reference("ModelState"), { "type": "null" }], "description": description })
}

fn share(description: &str) -> Value {
    json!({ "type": ["number", "null"], "minimum": 0, "maximum": 1, "description": description })
}

fn schemas() -> Value {
    json!({
        "OfficialStatus": object("What the provider's own page says of a model, beside our state. It never decides routing.", vec![
            ("available", typed("boolean", "False until the page is first read, and while it cannot be read.")),
            ("reason", nullable("string", "Why it cannot be read.")),
            ("component", nullable("string", "The published component that covers the model (as configured).")),
            ("state", state_or_null("The component's published state, in our words.")),
            ("since", nullable_time("Since when it holds (as first read by us).")),
            ("reports_no_problem", typed("boolean", "Our state is impaired while the readable page shows the component operational with no incident naming it.")),
            ("incidents", array_of(reference("OfficialIncident"), "Open published incidents and maintenances naming the component.")),
            ("checked_at", nullable_time("The last poll.")),
        ]),
        "OfficialIncident": object("A published incident or maintenance.", vec![
            ("id", typed("string", "The page's id.")),
            ("name", typed("string", "As published.")),
            ("status", typed("string", "As published: investigating, identified, monitoring, resolved, scheduled, …")),
            ("url", nullable("string", "The provider's own page for it.")),
            ("maintenance", typed("boolean", "A maintenance rather than an incident.")),
            ("published_at", time("When the page published it (or when we first saw it, for formats that do not say).")),
        ]),
        "OfficialResponse": envelope("Providers' own pages and who knew first.", vec![
            ("providers", array_of(reference("OfficialProvider"), "Every provider with a configured page.")),
            ("ours", array_of(reference("OfficialLead"), "Our incidents of those providers (last 90 days and open ones), newest first.")),
            ("theirs", array_of(reference("OfficialTheirIncident"), "Published incidents of the last 90 days (maintenances aside), newest first.")),
        ]),
        "OfficialProvider": object("One provider's page as of the last poll.", vec![
            ("provider_id", typed("string", "Provider id.")),
            ("provider_name", typed("string", "Display name.")),
            ("kind", json!({ "type": "string", "enum": ["statuspage", "incidentio", "feed", "google_cloud", "simulated"], "description": "The page's format." })),
            ("url", nullable("string", "The configured address (null for the simulated page).")),
            ("available", typed("boolean", "False until first read, and while it cannot be read.")),
            ("reason", nullable("string", "Why it cannot be read.")),
            ("checked_at", nullable_time("The last poll.")),
            ("read_at", nullable_time("The last poll that read it: what is shown is as of then.")),
            ("components", array_of(reference("OfficialComponent"), "The mapped components.")),
            ("last_30_days", reference("OfficialFigures")),
            ("last_90_days", reference("OfficialFigures")),
        ]),
        "OfficialComponent": object("A mapped component's published state.", vec![
            ("name", typed("string", "As configured.")),
            ("state", reference("ModelState")),
            ("since", time("Since when.")),
            ("models", array_of(typed("string", ""), "The models it covers (`provider/model`).")),
        ]),
        "OfficialFigures": object("Who knew first, over a period.", vec![
            ("provider_id", typed("string", "Provider id.")),
            ("provider_name", typed("string", "Display name.")),
            ("days", typed("integer", "The period, in days.")),
            ("our_incidents", typed("integer", "Our incidents opened in the period.")),
            ("acknowledged", typed("integer", "Of those, the ones the provider's page acknowledged.")),
            ("acknowledged_share", share("acknowledged / our_incidents; null without incidents.")),
            ("median_lead_minutes", nullable("number", "Median minutes from our incident to the provider's acknowledgement (negative: they were first).")),
            ("official_incidents", typed("integer", "Published incidents naming a mapped component (maintenances aside).")),
            ("seen", typed("integer", "Of those, the ones an incident of ours overlapped.")),
            ("seen_share", share("seen / official_incidents; null without any.")),
            ("outside", typed("integer", "Published incidents naming no mapped component: outside what we probe.")),
        ]),
        "OfficialLead": object("One of our incidents and the provider's acknowledgement of it.", vec![
            ("incident_id", typed("integer", "Our incident.")),
            ("provider_id", typed("string", "Provider id.")),
            ("title", typed("string", "Our incident's title.")),
            ("created_at", time("When we opened it.")),
            ("acknowledged_at", nullable_time("When the provider's page acknowledged it; null if it never did.")),
            ("lead_minutes", nullable("number", "Minutes from our start to their acknowledgement (negative: they were first).")),
            ("official_incident", json!({ "anyOf": [reference("OfficialRef"), { "type": "null" }],
                "description": "The published incident that acknowledged it (null when a component change did, or nothing)." })),
        ]),
        "OfficialRef": object("A published incident, by name.", vec![
            ("id", typed("string", "The page's id.")),
            ("name", typed("string", "As published.")),
            ("url", nullable("string", "The provider's own page for it.")),
        ]),
        "OfficialTheirIncident": object("A published incident and whether we saw it.", vec![
            ("provider_id", typed("string", "Provider id.")),
            ("incident", reference("OfficialRef")),
            ("published_at", time("When the page published it.")),
            ("resolved_at", nullable_time("When it was resolved.")),
            ("seen_by", nullable("integer", "Our incident on the same models at the same time, if any.")),
            ("outside", typed("boolean", "It names no mapped component.")),
        ]),
    })
}
