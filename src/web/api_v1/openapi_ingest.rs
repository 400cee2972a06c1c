//! The ingest side of the OpenAPI document: `POST /api/v1/observations`, the application's
//! own traffic reported as rows, with a token of the `ingest` scope. (`POST /v1/traces`,
//! the OTLP receiver, is OTLP's own protocol and is documented in the README.)

use serde_json::{json, Value};

use super::openapi::{array_of, error_response, object, object_opt, reference, typed};
use crate::vocabulary::observation::MAX_LABEL;
use crate::vocabulary::Outcome;

/// Adds the observations API to `doc`.
pub(super) fn extend(doc: &mut Value) {
    doc["paths"]["/api/v1/observations"] = path(crate::config::TrafficConfig::default().max_batch);
    let schemas = &mut doc["components"]["schemas"];
    schemas["Observation"] = observation();
    schemas["ObservationsAccepted"] = accepted();
    let responses = &mut doc["components"]["responses"];
    let mut busy = error_response(
        "The evaluator's queue is full, the service is stopping, or this replica is a standby (only the leader judges traffic): nothing of the batch was kept; send it again (to the next replica).",
    );
    busy["headers"] = retry_after("sending the batch again");
    responses["IngestBusy"] = busy;
    let mut throttled = error_response(
        "Over the token's `traffic.rate_per_token` observations a second: nothing of the batch was kept.",
    );
    throttled["headers"] = retry_after("sending the batch again");
    responses["IngestThrottled"] = throttled;
    responses["UnsupportedMediaType"] = error_response(
        "Content-Type is neither application/json nor application/x-ndjson, or Content-Encoding is not gzip.",
    );
    doc["components"]["securitySchemes"]["apiToken"]["description"] = json!(
        "An API token (`modelwatch token create`, the board, or `POST /api/v1/admin/tokens`) as \
         `Authorization: Bearer mw_…`. Scopes are ordered read < operate < admin: read reads the \
         admin API, operate changes incidents, overrides, maintenances and subscriptions, admin \
         manages tokens and sessions and reads the audit log. Each operation lists the least \
         scope it needs as its requirement's role. The `ingest` scope stands apart: it writes \
         observations and nothing else."
    );
}

/// The `Retry-After` header of a refusal for now: seconds to wait before `then`.
pub(super) fn retry_after(then: &str) -> Value {
    json!({ "Retry-After": {
        "description": format!("Seconds to wait before {then}."),
        "schema": { "type": "integer" },
    }})
}

fn path(max_batch: usize) -> Value {
    let error = |name: &str| json!({ "$ref": format!("#/components/responses/{name}") });
    json!({ "post": {
        "operationId": "postObservations",
        "summary": "Report requests of the application's own traffic as evidence.",
        "description": format!(
            "Needs an API token with scope `ingest` (only such a token). A batch is a JSON array \
             of up to `traffic.max_batch` observations ({max_batch} by default), or NDJSON with \
             `Content-Type: application/x-ndjson`, optionally gzip-compressed. Each row is \
             checked on its own: bad rows are refused by index and reason and the good ones \
             kept (`partial`). Unknown models are refused, never created."
        ),
        "security": [{ "apiToken": ["ingest"] }],
        "requestBody": {
            "required": true,
            "content": {
                "application/json": { "schema": array_of(reference("Observation"), "The batch.") },
                "application/x-ndjson": { "schema": { "type": "string", "description": "One Observation object per line." } },
            },
        },
        "responses": {
            "200": { "description": "At least one row was kept (or the batch was empty).",
                     "content": { "application/json": { "schema": reference("ObservationsAccepted") } } },
            "422": { "description": "Every row was refused; `refused` says why.",
                     "content": { "application/json": { "schema": reference("ObservationsAccepted") } } },
            "400": error("Malformed"),
            "401": error("Unauthorized"),
            "403": error("Forbidden"),
            "413": error("TooLarge"),
            "415": error("UnsupportedMediaType"),
            "429": error("IngestThrottled"),
            "503": error("IngestBusy"),
        },
    }})
}

fn observation() -> Value {
    let classes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let mut o = object_opt(
        "One request the application made to a model.",
        vec![(
            "model",
            typed("string", "The configured `provider/model` id (as in /api/v1/routing), or a `[traffic.names]` entry."),
        )],
        vec![
            ("outcome", json!({ "type": "string", "enum": classes,
                "description": "How it ended, in the probes' classes. Instead, a failure may give `status` and/or `error_type`." })),
            ("status", json!({ "type": "integer", "minimum": 100, "maximum": 599,
                "description": "The HTTP status it got (2xx: ok)." })),
            ("error_type", typed("string", "The SDK's exception name or the provider's error type (`RateLimitError`, `overloaded_error`…).")),
            ("ttft_ms", json!({ "type": "integer", "minimum": 0, "maximum": 86_400_000, "description": "Time to first token, ms." })),
            ("total_ms", json!({ "type": "integer", "minimum": 0, "maximum": 86_400_000, "description": "Whole request, ms." })),
            ("at", json!({ "oneOf": [
                { "type": "string", "format": "date-time" },
                { "type": "integer", "description": "Milliseconds since the epoch." },
            ], "description": "When it started (default: when it arrived); at most `traffic.max_age` old, 5 minutes ahead." })),
            ("source", json!({ "type": "string", "maxLength": MAX_LABEL,
                "description": "Which application or region saw it (default: the token's name)." })),
            ("request_id", json!({ "type": "string", "maxLength": MAX_LABEL, "description": "Your id of the request (checked, not stored)." })),
        ],
    );
    o["additionalProperties"] = json!(false);
    o
}

fn accepted() -> Value {
    object(
        "What became of a batch.",
        vec![
            (
                "accepted",
                typed("integer", "Rows kept and handed to the evaluator."),
            ),
            (
                "refused",
                array_of(
                    object(
                        "A refused row.",
                        vec![
                            (
                                "index",
                                typed(
                                    "integer",
                                    "Its position in the batch (0-based; for NDJSON, its line).",
                                ),
                            ),
                            ("reason", typed("string", "Why, naming the field.")),
                        ],
                    ),
                    "The rows refused.",
                ),
            ),
            (
                "partial",
                typed("boolean", "Some rows were kept and some refused."),
            ),
        ],
    )
}
