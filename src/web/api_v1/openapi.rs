//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.
//!
//! Written by hand next to the wire types in [`super`] rather than derived, so the document
//! carries descriptions a derive could not know. Every object schema lists *all* its
//! properties as required because the bodies always contain every field (absent values are
//! `null`, typed `[T, "null"]`); only fields that really can be left out (an error's
//! `field`, request fields) are built with `object_opt`. The integration tests validate
//! real responses against it.
//!
//! This file describes the public read routes; `openapi_write` adds the
//! subscription API and the admin API (their operations, bodies and security schemes), and
//! `openapi_events` the native webhook bodies (`webhooks`).

use serde_json::{json, Map, Value};

/// What the document says about this deployment: the configured providers and their models,
/// listed as `enum`s wherever a request must name one, so a client (or a generator of test
/// requests) knows the values the server accepts.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// Each provider id with its models' `provider/model` ids, in configuration order.
    pub providers: Vec<(String, Vec<String>)>,
}

impl Deployment {
    /// The providers and models of a snapshot (those of the configuration).
    pub fn of(snapshot: &crate::web::snapshot::PublicSnapshot) -> Deployment {
        Deployment {
            providers: snapshot
                .providers
                .iter()
                .map(|p| {
                    (
                        p.id.clone(),
                        p.models.iter().map(|m| m.id.clone()).collect(),
                    )
                })
                .collect(),
        }
    }

    /// Every provider id.
    pub(super) fn provider_ids(&self) -> Vec<&str> {
        self.providers.iter().map(|(p, _)| p.as_str()).collect()
    }

    /// Every `provider/model` id.
    pub(super) fn model_ids(&self) -> Vec<&str> {
        self.providers
            .iter()
            .flat_map(|(_, models)| models.iter().map(String::as_str))
            .collect()
    }
}

/// The largest id the server accepts (ids are SQLite's 64-bit integers; a larger number is
/// a 400, not a 404).
pub(super) const MAX_ID: i64 = i64::MAX;

/// The document, with `base_url` as its server and `deployment`'s providers and models.
pub fn document(base_url: &str, deployment: &Deployment) -> Value {
    let mut doc = read_document(base_url);
    super::openapi_write::extend(&mut doc, deployment);
    super::openapi_events::extend(&mut doc);
    super::openapi_ingest::extend(&mut doc);
    super::openapi_agents::extend(&mut doc);
    super::openapi_official::extend(&mut doc);
    doc
}

/// The public read routes' part of the document.
fn read_document(base_url: &str) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "modelwatch API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Per-model health of AI providers as judged by modelwatch's own \
                probes. Every body except the routing table is rebuilt at most every half \
                minute; bodies carry weak ETags and honour If-None-Match. Field names are \
                snake_case and stable; fields may be added, never renamed. Errors are \
                `{\"error\": {\"status\", \"message\", \"field\"?}}`. Unknown query parameters \
                are ignored. The read routes need no credentials; the subscription management \
                routes take the subscription's management token and the admin routes an API \
                token (see `components.securitySchemes`).",
        },
        "servers": [{ "url": base_url }],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "parameters": {
                "provider": path_param("provider", "Provider id, e.g. `anthropic`."),
                "model": path_param("model", "Model id within the provider, e.g. `claude-opus-4-8`."),
                "incident_id": {
                    "name": "id", "in": "path", "required": true,
                    "description": "Incident id (a 64-bit integer; a larger number or one that \
                        is not an integer is a 400 where the route answers 400s).",
                    "schema": { "type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID },
                },
                "period": {
                    "name": "period", "in": "query", "required": false,
                    "description": "Span of the chart: per minute over 24h, per hour over 7d or 30d.",
                    "schema": { "type": "string", "enum": super::PERIODS, "default": "24h" },
                },
            },
            "responses": {
                "NotFound": error_response("No such model, incident or path."),
                "BadRequest": error_response("A query parameter has a value that is not allowed."),
            },
        },
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "type": "string", "pattern": "^[a-z0-9._-]+$" },
    })
}

pub(super) fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": reference("Error") } },
    })
}

/// One GET operation answering `schema` as JSON, with the given parameters and errors.
pub(super) fn get(
    id: &str,
    summary: &str,
    schema: &str,
    params: &[&str],
    errors: &[&str],
) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": summary,
            "content": { "application/json": { "schema": reference(schema) } },
        }),
    );
    for e in errors {
        let (code, name) = match *e {
            "400" => ("400", "BadRequest"),
            _ => ("404", "NotFound"),
        };
        responses.insert(
            code.into(),
            json!({ "$ref": format!("#/components/responses/{name}") }),
        );
    }
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({ "$ref": format!("#/components/parameters/{p}") }))
        .collect();
    json!({ "get": {
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
    }})
}

fn paths() -> Value {
    let model = ["provider", "model"];
    json!({
        "/api/v1/routing": get("getRouting",
            "The live routing table: per model whether to use it and what to use instead.",
            "RoutingTable", &[], &[]),
        "/api/v1/models": get("listModels", "Every model with its state and recent figures.",
            "ModelList", &[], &[]),
        "/api/v1/models/{provider}/{model}": get("getModel",
            "One model with its outcomes of the last 24 hours and its state changes.",
            "ModelResponse", &model, &["404"]),
        "/api/v1/models/{provider}/{model}/history": get("getModelHistory",
            "A model's latency and error chart for one period.",
            "History", &["provider", "model", "period"], &["400", "404"]),
        "/api/v1/incidents": get("listIncidents",
            "Incidents of the last 90 days and every unresolved one, newest first.",
            "IncidentList", &[], &[]),
        "/api/v1/incidents/{id}": get("getIncident", "One incident with its updates.",
            "IncidentResponse", &["incident_id"], &["404"]),
        "/api/v1/providers": get("listProviders", "Providers with their rolled-up state.",
            "ProviderList", &[], &[]),
        "/api/v1/maintenances": get("listMaintenances",
            "Maintenance windows scheduled or in progress, and those completed in the last 90 days, latest start first.",
            "MaintenanceList", &[], &[]),
        "/api/v1/badges/{provider}/{model}.json": get("getBadgeEndpoint",
            "A model's state as a shields.io endpoint badge.",
            "ShieldsEndpoint", &model, &["404"]),
        "/api/v1/openapi.json": get("getOpenApi", "This document.", "OpenApiDocument", &[], &[]),
    })
}

pub(super) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An object schema whose properties are all required.
pub(super) fn object(description: &str, properties: Vec<(&str, Value)>) -> Value {
    object_opt(description, properties, Vec::new())
}

/// An object schema with required properties and properties that may be absent.
pub(super) fn object_opt(
    description: &str,
    required: Vec<(&str, Value)>,
    optional: Vec<(&str, Value)>,
) -> Value {
    let names: Vec<&str> = required.iter().map(|(k, _)| *k).collect();
    let properties: Map<String, Value> = required
        .into_iter()
        .chain(optional)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    json!({
        "type": "object",
        "description": description,
        "required": names,
        "properties": properties,
    })
}

pub(super) fn typed(ty: &str, description: &str) -> Value {
    json!({ "type": ty, "description": description })
}

pub(super) fn nullable(ty: &str, description: &str) -> Value {
    json!({ "type": [ty, "null"], "description": description })
}

pub(super) fn time(description: &str) -> Value {
    json!({ "type": "string", "format": "date-time", "description": description })
}

pub(super) fn nullable_time(description: &str) -> Value {
    json!({ "type": ["string", "null"], "format": "date-time", "description": description })
}

pub(super) fn array_of(items: Value, description: &str) -> Value {
    json!({ "type": "array", "items": items, "description": description })
}

fn nullable_ref(name: &str, description: &str) -> Value {
    json!({ "anyOf": [reference(name), { "type": "null" }], "description": description })
}

/// `generated_at` and `stale_since`, then the payload's own properties.
pub(super) fn envelope(description: &str, payload: Vec<(&str, Value)>) -> Value {
    let mut props = vec![
        ("generated_at", time("When this body was built.")),
        (
            "stale_since",
            nullable_time("Set when the database could not be read: the data is as of then."),
        ),
    ];
    props.extend(payload);
    object(description, props)
}

fn model_summary_properties() -> Vec<(&'static str, Value)> {
    vec![
        ("id", typed("string", "`provider/model`.")),
        ("provider", typed("string", "Provider id.")),
        ("model", typed("string", "Model id within the provider.")),
        ("name", typed("string", "Display name.")),
        ("state", reference("ModelState")),
        (
            "enabled",
            typed("boolean", "Whether clients should route to this model."),
        ),
        (
            "fallback",
            nullable(
                "string",
                "When disabled: the model to use instead (`provider/model`).",
            ),
        ),
        (
            "fallback_name",
            nullable("string", "Display name of `fallback`."),
        ),
        ("since", time("When the model entered its current state.")),
        ("reason", typed("string", "One-line reason for the state.")),
        (
            "reasons",
            array_of(
                typed("string", ""),
                "Every reason of the latest evaluation.",
            ),
        ),
        (
            "ttft_now_ms",
            nullable(
                "integer",
                "Time to first token of the latest successful probe.",
            ),
        ),
        (
            "uptime_90d",
            nullable(
                "number",
                "Share of the last 90 days the model was up, weighted by state as Statuspage does: major outage counts fully as down, partial outage at 30%, degraded performance and maintenance not at all; time in `unknown` is left out (0–1).",
            ),
        ),
        (
            "last_probe_at",
            nullable_time("When the latest probe started."),
        ),
        (
            "recent",
            nullable_ref(
                "Figures",
                "Figures of the latest evaluation; null before the first.",
            ),
        ),
    ]
}

fn schemas() -> Value {
    let ms = |d: &str| nullable("integer", d);
    let mut detail = model_summary_properties();
    detail.push((
        "outcomes_24h",
        json!({
            "type": "object",
            "description": "Probes per outcome class over the last 24 hours (`ok`, `timeout`, `overloaded`, …).",
            "additionalProperties": { "type": "integer" },
        }),
    ));
    detail.push((
        "official",
        nullable_ref(
            "OfficialStatus",
            "What the provider's own page says of the model; null without a configured page.",
        ),
    ));
    detail.push((
        "history",
        array_of(
            reference("StateChange"),
            "State changes of the last 30 days, newest first.",
        ),
    ));
    json!({
        "Error": object("An error answer.", vec![("error", object_opt("", vec![
            ("status", typed("integer", "The HTTP status.")),
            ("message", typed("string", "What went wrong, naming the path or parameter.")),
        ], vec![
            ("field", typed("string", "The request field a 422 is about.")),
        ]))]),
        "ModelState": {
            "type": "string",
            "enum": ["unknown", "operational", "degraded_performance", "partial_outage",
                     "major_outage", "under_maintenance"],
            "description": "`unknown`: no evidence yet, or only misconfigured probes.",
        },
        "Baseline": object("The model's usual latency: exponentially weighted medians of its successful probes (they exist after five).", vec![
            ("ttft_p50_ms", ms("Usual time to first token.")),
            ("total_p50_ms", ms("Usual total time.")),
            ("samples", typed("integer", "Successful probes they were learnt from (capped at 1000).")),
        ]),
        "SequentialTest": object("One of the evaluator's sequential tests.", vec![
            ("test", typed("string", "What it watches for, e.g. `errors ≥ 20%` or `slow ≥ 30% (over 3× usual)`.")),
            ("held", typed("boolean", "Raised: the model is held in the state this test stands for.")),
            ("progress", typed("number", "How far the test in progress (entering, or leaving when held) is towards its bound, 0 to 1.")),
            ("probes", typed("integer", "Probes behind that figure.")),
            ("bad", typed("integer", "Failed (or slow) probes among them.")),
        ]),
        "ExtraProbes": object("Probes sent beyond the schedule in the hour before, by reason.", vec![
            ("confirm", typed("integer", "Sent while the evidence was in doubt.")),
            ("recovery", typed("integer", "Sent while the model was disabled, to see it recover.")),
        ]),
        "TrafficSource": object("One source's view of a model over the last minute.", vec![
            ("source", typed("string", "The application or region that reported (the observation's `source`, the token's name, or OTLP's `service.name`).")),
            ("requests", typed("integer", "Requests in the last minute, every class.")),
            ("failures", typed("integer", "Provider faults among them.")),
            ("client_side", typed("integer", "Caller-side failures (rate_limited, auth, bad_request, not_found): never counted.")),
            ("ttft_p50_ms", ms("Median time to first token of its recent successes.")),
            ("state", typed("string", "The state this source's own tests support (`unknown` before enough requests).")),
            ("stale", typed("boolean", "Nothing heard from it for longer than `traffic.stale_after`.")),
            ("alone", typed("boolean", "Its impairment is not announced: no other source sees it.")),
        ]),
        "Traffic": object("The application's own traffic behind a decision (the second stream of evidence), over the last minute.", vec![
            ("requests", typed("integer", "Requests in the last minute, every source and class.")),
            ("failures", typed("integer", "Provider faults among them.")),
            ("client_side", typed("integer", "Caller-side failures: never counted against the model.")),
            ("error_rate", typed("number", "failures / (requests - client_side).")),
            ("ttft_p50_ms", ms("Median time to first token of recent successes.")),
            ("busy", typed("boolean", "Enough requests for traffic to decide (`traffic.busy_per_minute`); otherwise the worse of probes and traffic.")),
            ("state", nullable("string", "The state the traffic supports; null without enough evidence.")),
            ("sources", array_of(reference("TrafficSource"), "Each source's view.")),
        ]),
        "Figures": object_opt("The evidence behind a decision: the recent probes, and where each sequential test stands.", vec![
            ("probes", typed("integer", "Probes in the window, of every class.")),
            ("samples", typed("integer", "Counted probes: ok plus provider faults.")),
            ("failures", typed("integer", "Provider faults among the samples.")),
            ("error_rate", nullable("number", "failures / samples; null when too few samples.")),
            ("error_rate_lower", nullable("number", "Lower Wilson bound of the recent error rate (shown; decisions come from the tests).")),
            ("error_rate_upper", nullable("number", "Upper Wilson bound.")),
            ("ttft_p50_ms", ms("Median time to first token.")),
            ("ttft_p95_ms", ms("95th percentile time to first token.")),
            ("total_p50_ms", ms("Median total time.")),
            ("total_p95_ms", ms("95th percentile total time.")),
            ("baseline", reference("Baseline")),
            ("healthy_error_rate", typed("number", "The model's failure rate when healthy, learnt while nothing is amiss (at least the configured floor).")),
            ("tests", array_of(reference("SequentialTest"), "The error tests (degraded, partial, major) and the slow test.")),
            ("extra_probes", reference("ExtraProbes")),
        ], vec![
            ("traffic", reference("Traffic")),
        ]),
        "ModelSummary": object("A model with its state and recent figures.", model_summary_properties()),
        "ModelDetail": object("A model with its recent outcomes and history.", detail),
        "StateChange": object("One change of a model's state.", vec![
            ("at", time("When it changed.")),
            ("from", reference("ModelState")),
            ("to", reference("ModelState")),
            ("enabled", typed("boolean", "Whether the model was enabled after the change.")),
            ("reasons", array_of(typed("string", ""), "Why.")),
            ("evidence", reference("Figures")),
        ]),
        "HistoryPoint": object("One bucket of a chart.", vec![
            ("at", time("Start of the bucket.")),
            ("probes", typed("integer", "Probes in the bucket, of every class.")),
            ("failures", typed("integer", "Provider faults in the bucket.")),
            ("ttft_p50_ms", ms("Median time to first token.")),
            ("ttft_p95_ms", ms("95th percentile time to first token.")),
            ("total_p50_ms", ms("Median total time.")),
            ("total_p95_ms", ms("95th percentile total time.")),
        ]),
        "IncidentUpdate": object("One update of an incident's timeline.", vec![
            ("id", typed("integer", "Update id.")),
            ("at", time("When it was posted.")),
            ("status", typed("string", "investigating, identified, monitoring or resolved.")),
            ("impact", typed("string", "none, minor, major or critical.")),
            ("body", typed("string", "Plain text.")),
            ("affected", array_of(typed("string", ""), "Affected models (`provider/model`).")),
        ]),
        "Incident": object("An incident of one provider.", vec![
            ("id", typed("integer", "Incident id.")),
            ("provider", typed("string", "Provider id.")),
            ("title", typed("string", "Plain text.")),
            ("status", typed("string", "investigating, identified, monitoring or resolved.")),
            ("impact", typed("string", "none, minor, major or critical.")),
            ("affected", array_of(typed("string", ""), "Affected models (`provider/model`).")),
            ("automatic", typed("boolean", "Opened by the evaluator rather than by a person.")),
            ("created_at", time("When it was opened.")),
            ("updated_at", time("When it last changed.")),
            ("resolved_at", nullable_time("When it was resolved; null while open.")),
            ("url", typed("string", "The incident's public page.")),
            ("updates", array_of(reference("IncidentUpdate"), "Its timeline, newest first.")),
        ]),
        "Provider": object("A provider's rollup.", vec![
            ("id", typed("string", "Provider id.")),
            ("name", typed("string", "Display name.")),
            ("state", reference("ModelState")),
            ("models", array_of(typed("string", ""), "Its models (`provider/model`).")),
        ]),
        "Route": object("One model of the routing table.", vec![
            ("id", typed("string", "`provider/model`.")),
            ("state", reference("ModelState")),
            ("enabled", typed("boolean", "Whether to route to this model.")),
            ("fallback", nullable("string", "When disabled: the first enabled model of its fallback chain.")),
            ("since", time("When the model entered its state.")),
            ("reason", typed("string", "One-line reason.")),
        ]),
        "ProviderRollup": object("A provider's state, derived from its models.", vec![
            ("id", typed("string", "Provider id.")),
            ("name", typed("string", "Display name.")),
            ("state", reference("ModelState")),
        ]),
        "RoutingTable": object("The routing table, served live (no `stale_since`).", vec![
            ("generated_at", time("When the table last changed.")),
            ("models", array_of(reference("Route"), "Every model.")),
            ("providers", array_of(reference("ProviderRollup"), "Every provider.")),
        ]),
        "ModelList": envelope("Every model.", vec![
            ("models", array_of(reference("ModelSummary"), "In configuration order.")),
        ]),
        "ModelResponse": envelope("One model.", vec![("model", reference("ModelDetail"))]),
        "History": envelope("A model's chart for one period.", vec![
            ("id", typed("string", "`provider/model`.")),
            ("period", json!({ "type": "string", "enum": super::PERIODS })),
            ("resolution", json!({ "type": "string", "enum": ["minute", "hour"],
                "description": "Bucket size: minute for 24h, hour for 7d and 30d." })),
            ("points", array_of(reference("HistoryPoint"), "Oldest first; empty buckets are left out.")),
        ]),
        "IncidentList": envelope("Incidents, newest first.", vec![
            ("incidents", array_of(reference("Incident"), "Newest first.")),
        ]),
        "IncidentResponse": envelope("One incident.", vec![("incident", reference("Incident"))]),
        "ProviderList": envelope("Every provider.", vec![
            ("providers", array_of(reference("Provider"), "In configuration order.")),
        ]),
        "Maintenance": object("A maintenance window: the evaluator raises no incidents for its models while it is in progress.", vec![
            ("id", typed("integer", "Window id.")),
            ("title", typed("string", "Plain text.")),
            ("body", typed("string", "Plain text.")),
            ("status", json!({ "type": "string", "enum": ["scheduled", "in_progress", "completed"],
                "description": "As of `generated_at`." })),
            ("models", array_of(typed("string", ""), "Affected models (`provider/model`).")),
            ("starts_at", time("When the window starts.")),
            ("ends_at", time("When the window ends.")),
            ("started_at", nullable_time("When it started; null while scheduled.")),
            ("completed_at", nullable_time("When it completed; null until then.")),
            ("url", typed("string", "Its place on the public page.")),
        ]),
        "MaintenanceList": envelope("Maintenance windows, latest start first.", vec![
            ("maintenances", array_of(reference("Maintenance"), "Latest start first.")),
        ]),
        "ShieldsEndpoint": object(
            "https://shields.io/badges/endpoint-badge (its camelCase `schemaVersion` is shields' own).",
            vec![
                ("schemaVersion", json!({ "type": "integer", "const": 1 })),
                ("label", typed("string", "The model's name.")),
                ("message", typed("string", "The state, in words.")),
                ("color", typed("string", "A shields colour name for the state.")),
            ],
        ),
        "OpenApiDocument": { "type": "object", "description": "An OpenAPI 3.1 document." },
    })
}
