//! The agents' side of the OpenAPI document: `POST /api/v1/agent/results`, probe results
//! pushed by `modelwatch agent` with a token of the `agent` scope, and `?region=` on the
//! routing table.

use serde_json::{json, Value};

use super::openapi::{error_response, object, object_opt, reference, typed};
use crate::vocabulary::Outcome;

/// Adds the agent API to `doc`.
pub(super) fn extend(doc: &mut Value) {
    let max_batch = crate::config::AgentsConfig::default().max_batch;
    doc["paths"]["/api/v1/agent/results"] = path(max_batch);
    let schemas = &mut doc["components"]["schemas"];
    schemas["AgentBatch"] = batch(max_batch);
    schemas["AgentProbeResult"] = probe_result();
    schemas["AgentBatchReceipt"] = receipt();
    schemas["Vantage"] = vantage();
    if let Some(props) = schemas["Figures"]["properties"].as_object_mut() {
        props.insert(
            "vantages".into(),
            json!({ "type": "array", "items": reference("Vantage"),
                "description": "Each place the model is probed from (this server's own probes are `central`); absent when only this server probes it." }),
        );
    }
    let scheme = &mut doc["components"]["securitySchemes"]["apiToken"]["description"];
    if let Some(text) = scheme.as_str() {
        *scheme = json!(format!(
            "{text} The `agent` scope stands apart too: it pushes probe results \
             (`POST /api/v1/agent/results`) and nothing else."
        ));
    }
    if let Some(params) = doc["paths"]["/api/v1/routing"]["get"].as_object_mut() {
        params.insert(
            "parameters".into(),
            json!([{
                "name": "region",
                "in": "query",
                "required": false,
                "description": "Answer as this region's agents see each model (404 when no vantage reports from it; 503 from a standby replica, which has no region's table).",
                "schema": { "type": "string", "pattern": NAME, "maxLength": 63 },
            }]),
        );
        let responses = &mut params.entry("responses").or_insert_with(|| json!({}));
        responses["404"] = json!({ "$ref": "#/components/responses/NotFound" });
        responses["400"] = json!({ "$ref": "#/components/responses/BadRequest" });
        responses["503"] = json!({ "$ref": "#/components/responses/RegionOnStandby" });
    }
    let mut standby = error_response(
        "`region` was asked of a standby replica: per-region tables are the leader's. Ask again (the next replica), or without `region` for the table for everyone.",
    );
    standby["headers"] = super::openapi_ingest::retry_after("asking again");
    doc["components"]["responses"]["RegionOnStandby"] = standby;
}

/// What agent and region names may be.
const NAME: &str = "^[a-z0-9][a-z0-9._-]{0,62}$";

fn path(max_batch: usize) -> Value {
    let error = |name: &str| json!({ "$ref": format!("#/components/responses/{name}") });
    json!({ "post": {
        "operationId": "postAgentResults",
        "summary": "Push a batch of probe results from an agent.",
        "description": format!(
            "Needs an API token with scope `agent` (only such a token), named as the agent: an \
             agent reports only under its token's name. Up to `agents.max_batch` results \
             ({max_batch} by default). The batch is refused whole when any result is bad \
             (422 names its index). Stored once by `batch_id`: sent again, it answers \
             `duplicate: true` and writes nothing."
        ),
        "security": [{ "apiToken": ["agent"] }],
        "requestBody": {
            "required": true,
            "content": { "application/json": { "schema": reference("AgentBatch") } },
        },
        "responses": {
            "200": { "description": "Stored now, or before (`duplicate`).",
                     "content": { "application/json": { "schema": reference("AgentBatchReceipt") } } },
            "400": error("Malformed"),
            "401": error("Unauthorized"),
            "403": error("Forbidden"),
            "413": error("TooLarge"),
            "422": error("Unprocessable"),
        },
    }})
}

fn batch(max_batch: usize) -> Value {
    let mut o = object_opt(
        "A batch of probe results from one agent.",
        vec![
            (
                "batch_id",
                json!({ "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$",
                "description": "Unique per batch, the same on every retry." }),
            ),
            (
                "agent",
                json!({ "type": "string", "pattern": NAME, "description": "The agent's name: its token's name." }),
            ),
            (
                "region",
                json!({ "type": "string", "pattern": NAME, "description": "Where it probes from." }),
            ),
            (
                "results",
                json!({ "type": "array", "maxItems": max_batch, "items": reference("AgentProbeResult") }),
            ),
        ],
        vec![(
            "version",
            json!({ "type": "string", "maxLength": 64, "description": "The agent's modelwatch version." }),
        )],
    );
    o["additionalProperties"] = json!(false);
    o
}

fn probe_result() -> Value {
    let classes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let ms = |d: &str| json!({ "type": ["integer", "null"], "minimum": 0, "maximum": u32::MAX, "description": d });
    object_opt(
        "One probe, as `modelwatch probe --json` prints it.",
        vec![
            ("provider", typed("string", "A configured provider id.")),
            (
                "model",
                typed("string", "A configured model id of that provider."),
            ),
            (
                "started_at",
                json!({ "type": "string", "format": "date-time",
                "description": "At most a day old and 2 minutes ahead of the server's clock." }),
            ),
            ("outcome", json!({ "type": "string", "enum": classes })),
            (
                "total_ms",
                json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX }),
            ),
            (
                "trigger",
                json!({ "type": "string", "enum": ["scheduled", "confirm", "recovery"] }),
            ),
        ],
        vec![
            (
                "http_status",
                json!({ "type": ["integer", "null"], "minimum": 0, "maximum": 65535 }),
            ),
            ("headers_ms", ms("Time to response headers.")),
            ("ttft_ms", ms("Time to the first non-empty text.")),
            (
                "request_id",
                json!({ "type": ["string", "null"], "maxLength": 256 }),
            ),
            (
                "error",
                json!({ "type": ["string", "null"], "maxLength": 2000 }),
            ),
        ],
    )
}

fn vantage() -> Value {
    let states: Vec<&str> = crate::vocabulary::ModelState::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    object(
        "One vantage's view of a model: its own state and figures over its window of probes.",
        vec![
            ("name", typed("string", "`central` for this server's own probes, else the agent's name.")),
            ("region", typed("string", "Where it probes from.")),
            ("state", json!({ "type": "string", "enum": states })),
            ("active", typed("boolean", "Whether it counts: it reported the model recently enough (`agents.stale_after`).")),
            ("last_probe_at", json!({ "type": ["string", "null"], "format": "date-time" })),
            ("samples", typed("integer", "Counted probes in its window.")),
            ("failures", typed("integer", "Provider faults among them.")),
            ("error_rate", typed("number", "failures / samples.")),
            ("ttft_p50_ms", json!({ "type": ["integer", "null"], "minimum": 0 })),
        ],
    )
}

fn receipt() -> Value {
    object(
        "What became of a batch.",
        vec![
            ("batch_id", typed("string", "As sent.")),
            (
                "stored",
                typed(
                    "integer",
                    "Results stored by this request (0 for a duplicate).",
                ),
            ),
            (
                "duplicate",
                typed(
                    "boolean",
                    "The batch was stored before; nothing was written.",
                ),
            ),
        ],
    )
}
