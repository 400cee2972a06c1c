//! The write side of the OpenAPI document: the subscription API (`POST
//! /api/v1/subscriptions` and the management routes a subscriber reaches with its
//! management token) and the admin API under `/api/v1/admin` (an API token `mw_…` with a
//! scope, or the sign-in session). [`extend`] adds their paths, schemas, parameters, error
//! responses and security schemes to the read document of [`super::openapi`].
//!
//! Each admin operation names the scope its handler requires (`caller.require(Scope::…)`)
//! as the role of its `apiToken` security requirement (OpenAPI 3.1 allows roles for any
//! scheme) and in its description. [`super::openapi_tests`] checks the document against the
//! route table's source, so a route added without its description fails the tests.

use serde_json::{json, Map, Value};

use super::openapi::{
    array_of, error_response, nullable, nullable_time, object, object_opt, reference, time, typed,
    Deployment, MAX_ID,
};

/// Adds the subscription and admin APIs to `doc`; `deployment` gives the provider and model
/// ids that requests may name.
pub(super) fn extend(doc: &mut Value, deployment: &Deployment) {
    let add = |target: &mut Value, entries: Value| {
        if let (Some(target), Value::Object(entries)) = (target.as_object_mut(), entries) {
            target.extend(entries);
        }
    };
    add(&mut doc["paths"], paths());
    add(&mut doc["components"]["schemas"], schemas(deployment));
    add(&mut doc["components"]["parameters"], parameters());
    add(&mut doc["components"]["responses"], responses());
    doc["components"]["securitySchemes"] = security_schemes();
}

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Caller {
    /// Anyone: subscribing needs no credentials.
    Anyone,
    /// The subscription's own management token.
    Manager,
    /// An API token with at least this scope (`None`: any scope), or a signed-in session.
    Admin(Option<&'static str>),
}

/// One operation, built up step by step and then placed under its method by [`item`].
struct Op {
    method: &'static str,
    fields: Map<String, Value>,
    responses: Map<String, Value>,
}

fn op(method: &'static str, id: &str, caller: Caller, summary: &str) -> Op {
    let mut fields = Map::new();
    fields.insert("operationId".into(), json!(id));
    fields.insert("summary".into(), json!(summary));
    let (security, description, errors): (Value, String, &[&str]) = match caller {
        Caller::Anyone => (json!([]), "No credentials needed.".into(), &[]),
        Caller::Manager => (
            json!([{ "managementToken": [] }]),
            "Send the subscription's management token as `Authorization: Bearer mgt_…`.".into(),
            &["401"],
        ),
        Caller::Admin(scope) => {
            let roles: Vec<&str> = scope.into_iter().collect();
            let needs = match scope {
                Some(s) => format!("Needs an API token with scope `{s}` or above"),
                None => "Any API token".into(),
            };
            (
                json!([{ "apiToken": roles }, { "session": [] }]),
                format!(
                    "{needs}, or a signed-in session (scope admin; a change then sends \
                     `X-CSRF-Token`). Credentials are checked before path parameters."
                ),
                &["401", "403"],
            )
        }
    };
    fields.insert("security".into(), security);
    fields.insert("description".into(), json!(description));
    Op {
        method,
        fields,
        responses: Map::new(),
    }
    .errors(errors)
}

impl Op {
    /// Path and query parameters, by their names under `components.parameters`.
    fn params(mut self, names: &[&str]) -> Op {
        let refs: Vec<Value> = names
            .iter()
            .map(|p| json!({ "$ref": format!("#/components/parameters/{p}") }))
            .collect();
        self.fields.insert("parameters".into(), json!(refs));
        self
    }

    /// A JSON request body; a body that does not parse is 400, one over 2 MiB 413.
    fn body(mut self, schema: &str, required: bool) -> Op {
        self.fields.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": { "application/json": { "schema": reference(schema) } },
            }),
        );
        self.errors(&["400", "413"])
    }

    /// The success answer, with a JSON body when `schema` is given.
    fn answers(mut self, code: &str, description: &str, schema: Option<&str>) -> Op {
        let mut r = json!({ "description": description });
        if let Some(s) = schema {
            r["content"] = json!({ "application/json": { "schema": reference(s) } });
        }
        self.responses.insert(code.into(), r);
        self
    }

    /// Links from the success answer `code` to operations that take the id it returns:
    /// `(name, operationId, runtime expression of the id)`; the id fills their path's `id`.
    fn links(mut self, code: &str, links: &[(&str, &str, &str)]) -> Op {
        let mut out = Map::new();
        for (name, operation, id) in links {
            out.insert(
                (*name).into(),
                json!({ "operationId": operation, "parameters": { "id": id } }),
            );
        }
        if let Some(r) = self.responses.get_mut(code) {
            r["links"] = Value::Object(out);
        }
        self
    }

    /// Error answers, each a shared response of `components.responses`.
    fn errors(mut self, codes: &[&str]) -> Op {
        for code in codes {
            let name = match *code {
                "400" => "Malformed",
                "401" => "Unauthorized",
                "403" => "Forbidden",
                "404" => "NoSuchObject",
                "409" => "Conflict",
                "413" => "TooLarge",
                "422" => "Unprocessable",
                "429" => "TooManyRequests",
                _ => "BadGateway",
            };
            let r = json!({ "$ref": format!("#/components/responses/{name}") });
            self.responses.insert((*code).into(), r);
        }
        self
    }
}

/// A path item holding `ops` under their methods.
fn item(ops: Vec<Op>) -> Value {
    let mut out = Map::new();
    for mut o in ops {
        o.fields
            .insert("responses".into(), Value::Object(o.responses));
        out.insert(o.method.into(), Value::Object(o.fields));
    }
    Value::Object(out)
}

fn paths() -> Value {
    use Caller::{Admin, Anyone, Manager};
    let (read, operate, admin) = (
        Admin(Some("read")),
        Admin(Some("operate")),
        Admin(Some("admin")),
    );
    let sub = ["subscription_id"];
    let incident = ["incident_id"];
    let incident_ok = "The incident as it is now.";
    json!({
        "/api/v1/subscriptions": item(vec![
            op("post", "subscribe", Anyone, "Subscribe a webhook or an email address.")
                .body("SubscribeRequest", true)
                .answers("201", "Created; the management token and a native webhook's signing secret are shown only here.", Some("SubscriptionCreated"))
                .links("201", &[
                    ("show", "getSubscription", "$response.body#/id"),
                    ("unsubscribe", "deleteSubscription", "$response.body#/id"),
                    ("rotateSecret", "rotateSecret", "$response.body#/id"),
                    ("deliveries", "listDeliveries", "$response.body#/id"),
                ])
                .errors(&["422", "429", "502"]),
        ]),
        "/api/v1/subscriptions/{id}": item(vec![
            op("get", "getSubscription", Manager, "The subscription, as stored.")
                .params(&sub)
                .answers("200", "The subscription.", Some("Subscription"))
                .errors(&["404"]),
            op("delete", "deleteSubscription", Manager, "Unsubscribe: nothing more is sent.")
                .params(&sub)
                .answers("204", "Unsubscribed.", None)
                .errors(&["404"]),
        ]),
        "/api/v1/subscriptions/{id}/rotate-secret": item(vec![
            op("post", "rotateSecret", Manager, "A new signing secret for a native webhook; the old one keeps signing alongside for 24 hours.")
                .params(&sub)
                .answers("200", "The new secret, shown once.", Some("SecretRotated"))
                .errors(&["404", "409"]),
        ]),
        "/api/v1/subscriptions/{id}/deliveries": item(vec![
            op("get", "listDeliveries", Manager, "The newest 200 deliveries with their last attempt.")
                .params(&sub)
                .answers("200", "The delivery log.", Some("DeliveryLog"))
                .errors(&["404"]),
        ]),
        "/api/v1/subscriptions/{id}/deliveries/{delivery}/redeliver": item(vec![
            op("post", "redeliver", Manager, "Queue a delivery again now, with the same `webhook-id`.")
                .params(&["subscription_id", "delivery_id"])
                .answers("202", "Queued again.", None)
                .errors(&["400", "404", "409"]),
        ]),
        "/api/v1/admin/whoami": item(vec![
            op("get", "adminWhoami", Admin(None), "The caller: actor, actor kind, scope, client address.")
                .answers("200", "The caller.", Some("Whoami")),
        ]),
        "/api/v1/admin/board": item(vec![
            op("get", "adminBoard", read, "The live board: every model's state, decision, override and recent probes.")
                .answers("200", "The board.", Some("Board")),
        ]),
        "/api/v1/admin/incidents": item(vec![
            op("get", "adminListIncidents", read, "The newest 500 incidents with their updates.")
                .answers("200", "Incidents, newest first.", Some("AdminIncidentList")),
            op("post", "adminOpenIncident", operate, "Open an incident by hand.")
                .body("OpenIncidentRequest", true)
                .answers("201", "The incident opened.", Some("AdminIncidentResponse"))
                .links("201", &[
                    ("show", "adminGetIncident", "$response.body#/incident/id"),
                    ("update", "adminUpdateIncident", "$response.body#/incident/id"),
                    ("acknowledge", "adminAcknowledgeIncident", "$response.body#/incident/id"),
                    ("resolve", "adminResolveIncident", "$response.body#/incident/id"),
                    ("postmortem", "adminSetPostmortem", "$response.body#/incident/id"),
                ])
                .errors(&["409", "422"]),
        ]),
        "/api/v1/admin/incidents/{id}": item(vec![
            op("get", "adminGetIncident", read, "One incident with its updates and who acknowledged it.")
                .params(&incident)
                .answers("200", "The incident.", Some("AdminIncidentResponse"))
                .errors(&["400", "404"]),
        ]),
        "/api/v1/admin/incidents/{id}/acknowledge": item(vec![
            op("post", "adminAcknowledgeIncident", operate, "Record who acknowledged the incident and when (the public page shows only that it was).")
                .params(&incident)
                .answers("200", incident_ok, Some("AdminIncidentResponse"))
                .errors(&["400", "404", "409"]),
        ]),
        "/api/v1/admin/incidents/{id}/updates": item(vec![
            op("post", "adminUpdateIncident", operate, "Post an update; status `resolved` resolves the incident.")
                .params(&incident)
                .body("IncidentUpdateRequest", true)
                .answers("201", incident_ok, Some("AdminIncidentResponse"))
                .errors(&["404", "409", "422"]),
        ]),
        "/api/v1/admin/incidents/{id}/resolve": item(vec![
            op("post", "adminResolveIncident", operate, "Resolve the incident.")
                .params(&incident)
                .body("ResolveRequest", true)
                .answers("200", incident_ok, Some("AdminIncidentResponse"))
                .errors(&["404", "409", "422"]),
        ]),
        "/api/v1/admin/incidents/{id}/postmortem": item(vec![
            op("put", "adminSetPostmortem", operate, "Link a postmortem (http(s) only); `null` unlinks it.")
                .params(&incident)
                .body("PostmortemRequest", true)
                .answers("200", incident_ok, Some("AdminIncidentResponse"))
                .errors(&["404", "409", "422"]),
        ]),
        "/api/v1/admin/overrides": item(vec![
            op("get", "adminListOverrides", read, "The newest 200 overrides, active or ended.")
                .answers("200", "Overrides.", Some("OverrideList")),
            op("post", "adminCreateOverride", operate, "Force a model enabled or disabled until an expiry (at most 7 days); replaces the model's active override.")
                .body("NewOverrideRequest", true)
                .answers("201", "The override.", Some("Override"))
                .links("201", &[("end", "adminEndOverride", "$response.body#/id")])
                .errors(&["422"]),
        ]),
        "/api/v1/admin/overrides/{id}": item(vec![
            op("delete", "adminEndOverride", operate, "End an active override now.")
                .params(&["override_id"])
                .answers("204", "Ended.", None)
                .errors(&["400", "404"]),
        ]),
        "/api/v1/admin/maintenances": item(vec![
            op("get", "adminListMaintenances", read, "The newest 200 maintenance windows, in every status.")
                .answers("200", "Maintenance windows.", Some("AdminMaintenanceList")),
            op("post", "adminCreateMaintenance", operate, "Schedule a maintenance window; subscribers are told at once.")
                .body("NewMaintenanceRequest", true)
                .answers("201", "The window.", Some("AdminMaintenance"))
                .links("201", &[("cancel", "adminCancelMaintenance", "$response.body#/id")])
                .errors(&["422"]),
        ]),
        "/api/v1/admin/maintenances/{id}": item(vec![
            op("delete", "adminCancelMaintenance", operate, "Cancel a scheduled window, or end one in progress now.")
                .params(&["maintenance_id"])
                .answers("204", "Cancelled or ended.", None)
                .errors(&["400", "404"]),
        ]),
        "/api/v1/admin/subscriptions": item(vec![
            op("get", "adminListSubscriptions", read, "The newest 500 subscriptions, without secrets; webhook URLs masked.")
                .answers("200", "Subscriptions, newest first.", Some("AdminSubscriptionList")),
        ]),
        "/api/v1/admin/subscriptions/{id}/disable": item(vec![
            op("post", "adminDisableSubscription", operate, "Stop sending to a subscription; the reason is shown to its owner.")
                .params(&sub)
                .body("DisableRequest", false)
                .answers("200", "The subscription as it is now.", Some("AdminSubscription"))
                .errors(&["404", "409", "422"]),
        ]),
        "/api/v1/admin/subscriptions/{id}/enable": item(vec![
            op("post", "adminEnableSubscription", operate, "Re-enable a disabled subscription and clear `failing_since`.")
                .params(&sub)
                .answers("200", "The subscription as it is now.", Some("AdminSubscription"))
                .errors(&["404", "409"]),
        ]),
        "/api/v1/admin/subscriptions/{id}/deliveries": item(vec![
            op("get", "adminListDeliveries", read, "A subscription's newest 200 deliveries with their last attempt.")
                .params(&sub)
                .answers("200", "The delivery log.", Some("DeliveryLog"))
                .errors(&["404"]),
        ]),
        "/api/v1/admin/subscriptions/{id}/deliveries/{delivery}/redeliver": item(vec![
            op("post", "adminRedeliver", operate, "Queue a delivery again now, with the same `webhook-id`.")
                .params(&["subscription_id", "delivery_id"])
                .answers("202", "Queued again.", Some("Redelivery"))
                .errors(&["400", "404", "409"]),
        ]),
        "/api/v1/admin/tokens": item(vec![
            op("get", "adminListTokens", admin, "Every API token, never its secret.")
                .answers("200", "Tokens.", Some("TokenList")),
            op("post", "adminCreateToken", admin, "Create an API token.")
                .body("NewTokenRequest", true)
                .answers("201", "The token, shown once.", Some("TokenCreated"))
                .links("201", &[("revoke", "adminRevokeToken", "$response.body#/id")])
                .errors(&["422"]),
        ]),
        "/api/v1/admin/tokens/{id}": item(vec![
            op("delete", "adminRevokeToken", admin, "Revoke an API token.")
                .params(&["token_id"])
                .answers("204", "Revoked.", None)
                .errors(&["404"]),
        ]),
        "/api/v1/admin/sessions": item(vec![
            op("get", "adminListSessions", admin, "Live sign-in sessions (never their tokens).")
                .answers("200", "Sessions.", Some("SessionList")),
        ]),
        "/api/v1/admin/sessions/{id}": item(vec![
            op("delete", "adminRevokeSession", admin, "Sign a session out.")
                .params(&["session_id"])
                .answers("204", "Signed out.", None)
                .errors(&["404"]),
        ]),
        "/api/v1/admin/users/{email}/unlock": item(vec![
            op("post", "adminUnlockUser", admin, "Clear an address's failed sign-ins (lock-outs and slow-down) so its owner can sign in at once.")
                .params(&["user_email"])
                .answers("200", "Cleared.", Some("Unlocked"))
                .errors(&["422"]),
        ]),
        "/api/v1/admin/agents": item(vec![
            op("get", "adminListAgents", read, "Every agent that ever reported, and whether it still does.")
                .answers("200", "Agents by name.", Some("AgentList")),
        ]),
        "/api/v1/admin/audit": item(vec![
            op("get", "adminAuditLog", admin, "The audit log, newest first.")
                .params(&["audit_limit", "audit_before"])
                .answers("200", "Audit entries, newest first.", Some("AuditLog"))
                .errors(&["400"]),
        ]),
    })
}

fn parameters() -> Value {
    let path = |name: &str, schema: Value, description: &str| {
        json!({ "name": name, "in": "path", "required": true, "description": description,
                "schema": schema })
    };
    // Ids the server makes: a prefix and 16 URL-safe base64 characters. Any other text is
    // simply not found (404).
    let made_id = |prefix: &str| json!({ "type": "string", "pattern": format!("^{prefix}[A-Za-z0-9_-]+$"), "maxLength": 100 });
    // Row ids: positive 64-bit integers; a number that does not fit is a 400.
    let row_id = json!({ "type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID });
    json!({
        "subscription_id": path("id", made_id("sub_"), "Subscription id (`sub_…`)."),
        "delivery_id": path("delivery", row_id.clone(), "Delivery id, from the delivery log (a 64-bit integer)."),
        "override_id": path("id", row_id.clone(), "Override id (a 64-bit integer)."),
        "maintenance_id": path("id", row_id.clone(), "Maintenance window id (a 64-bit integer)."),
        "token_id": path("id", made_id("tok_"), "API token id (`tok_…`)."),
        "session_id": path("id", made_id("ses_"), "Session id (`ses_…`)."),
        "user_email": path("email", email_schema(), "The user's email address (ASCII, at most 254 characters; case does not matter)."),
        "audit_limit": {
            "name": "limit", "in": "query", "required": false,
            "description": "Entries to return, 1 to 1000 (any other number is a 400).",
            "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 },
        },
        "audit_before": {
            "name": "before", "in": "query", "required": false,
            "description": "Only entries with an id below this one (the next page); a positive 64-bit integer.",
            "schema": row_id,
        },
    })
}

/// An email address as the server parses it: ASCII, a dot-atom local part, a domain of
/// letters, digits, hyphens and dots, at most 254 characters.
fn email_schema() -> Value {
    json!({
        "type": "string", "format": "email", "maxLength": 254,
        "pattern": r"^[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$",
    })
}

fn responses() -> Value {
    let mut too_many =
        error_response("Too many requests from this address (`subscribe_per_hour`).");
    too_many["headers"] = json!({ "Retry-After": {
        "description": "Seconds until a request is accepted again.",
        "schema": { "type": "integer" },
    }});
    json!({
        "Malformed": error_response("The JSON body is malformed or has an unknown field, or a path parameter does not parse (the message names it)."),
        "Unauthorized": error_response("No valid credential was sent."),
        "Forbidden": error_response("The credential is valid but its scope is too small, or a change made with the session cookie lacks a valid `X-CSRF-Token`."),
        "NoSuchObject": error_response("No such object (for the management token: none with this id for this token)."),
        "Conflict": error_response("Not possible in the object's current state (e.g. a deleted or disabled subscription)."),
        "TooLarge": error_response("The body is over 2 MiB."),
        "Unprocessable": error_response("A value cannot be accepted; `field` names it."),
        "TooManyRequests": too_many,
        "BadGateway": error_response("The confirmation email could not be sent; try again later."),
    })
}

fn security_schemes() -> Value {
    json!({
        "apiToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "mw_…",
            "description": "An API token (`modelwatch token create`, the board, or \
                `POST /api/v1/admin/tokens`) as `Authorization: Bearer mw_…`. Scopes are \
                ordered read < operate < admin: read reads the admin API, operate changes \
                incidents, overrides, maintenances and subscriptions, admin manages tokens and \
                sessions and reads the audit log. Each operation lists the least scope it \
                needs as its requirement's role.",
        },
        "session": {
            "type": "apiKey", "in": "cookie", "name": "mw_session",
            "description": "The session cookie of `/admin/login` (scope admin). A change made \
                with it (any method but GET and HEAD) must send the page's CSRF token as \
                `X-CSRF-Token`.",
        },
        "managementToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "mgt_…",
            "description": "The management token returned once by `POST /api/v1/subscriptions`; \
                it manages that subscription only.",
        },
    })
}

fn strings(description: &str) -> Value {
    array_of(typed("string", ""), description)
}

fn one_of(values: &[&str], description: &str) -> Value {
    json!({ "type": "string", "enum": values, "description": description })
}

const SCOPES: [&str; 5] = ["read", "operate", "admin", "ingest", "agent"];
const WEBHOOK_FORMATS: [&str; 5] = ["native", "slack", "discord", "teams", "pagerduty"];
const SUBSCRIPTION_STATUSES: [&str; 4] = ["pending", "active", "disabled", "unsubscribed"];
const INCIDENT_STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];

/// Characters the server refuses in one-line text: Unicode's control characters (`Cc`).
const NO_CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// One line of text the server trims and requires: at most `max` characters, something
/// besides white space, and no control characters once trimmed.
fn line(max: usize, description: &str) -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": max,
        "pattern": format!("^\\s*[^\\s{NO_CONTROL}]([^{NO_CONTROL}]*[^\\s{NO_CONTROL}])?\\s*$"),
        "description": description,
    })
}

/// One line of text that may be empty: at most `max` characters, no control characters
/// once trimmed.
fn optional_line(max: usize, description: &str) -> Value {
    json!({
        "type": "string", "maxLength": max,
        "pattern": format!("^\\s*([^\\s{NO_CONTROL}]([^{NO_CONTROL}]*[^\\s{NO_CONTROL}])?)?\\s*$"),
        "description": description,
    })
}

/// Free text (Markdown) the server requires: at most `max` characters, not only white space.
fn text_body(max: usize, description: &str) -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": max, "pattern": r"\S",
        "description": description,
    })
}

/// `schema`, or `null` (an optional field that the server reads as absent when null).
fn or_null(mut schema: Value) -> Value {
    if let Some(ty) = schema.get("type").and_then(Value::as_str) {
        schema["type"] = json!([ty, "null"]);
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
    schema
}

/// A list of at most `max` of the given values.
fn list_of(values: &[&str], max: Option<usize>, description: &str) -> Value {
    let mut v = array_of(json!({ "type": "string", "enum": values }), description);
    if let Some(max) = max {
        v["maxItems"] = json!(max);
    }
    v
}

/// An absolute http(s) URL as the server takes it (after trimming white space): a host that
/// does not start with `@`, no white space, control characters, `"`, `<` or `>`. With
/// `blank`, an empty or blank text is allowed too. No `format: uri`: the server also takes
/// URLs that RFC 3986 would want percent-encoded (non-ASCII, `{`…).
fn http_url(max: usize, blank: bool) -> Value {
    let url = format!("[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s\"<>{NO_CONTROL}][^\\s\"<>{NO_CONTROL}]*");
    let optional = if blank { "?" } else { "" };
    json!({
        "type": "string", "maxLength": max,
        "pattern": format!("^\\s*({url}){optional}\\s*$"),
    })
}

/// The request bodies: no unknown field is accepted (400). Provider and model ids are the
/// deployment's, as `enum`s; what a schema cannot say (a window's time bounds, a webhook's
/// public address, affected models of the incident's provider) is said in the descriptions
/// and refused with 422.
fn requests(deployment: &Deployment) -> Vec<(&'static str, Value)> {
    use crate::store::incident_ops::{IMPACTS, MAX_BODY, MAX_TITLE, MAX_URL};
    use crate::web::admin::maintenance::{
        MAX_AHEAD_DAYS, MAX_BODY as MAX_DETAILS, MAX_LENGTH_HOURS, MAX_TITLE as MAX_WINDOW_TITLE,
    };
    use crate::web::subscriptions::MAX_FILTER_ENTRIES;
    let closed = |mut schema: Value| {
        schema["additionalProperties"] = json!(false);
        schema
    };
    let providers = deployment.provider_ids();
    let models = deployment.model_ids();
    let filter_max = Some(MAX_FILTER_ENTRIES);
    let mut new_override = object_opt(
        "Exactly one of `expires_in` and `expires_at`; the expiry must be in the future and at \
         most 7 days away (422 otherwise).",
        vec![
            (
                "model",
                one_of(&models, "`provider/model`, a configured model."),
            ),
            (
                "enabled",
                typed(
                    "boolean",
                    "Force the model enabled (true) or disabled (false).",
                ),
            ),
            (
                "reason",
                line(
                    crate::web::admin::overrides::MAX_REASON,
                    "1 to 500 characters, one line; shown publicly.",
                ),
            ),
        ],
        vec![
            (
                "expires_in",
                json!({ "type": ["string", "null"], "minLength": 1, "maxLength": 100,
                    "pattern": concat!(r"^ *[0-9]+ *(ns|nsec|us|usec|ms|msec|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|M|month|months|y|year|years)", r"( *[0-9]+ *(ns|nsec|us|usec|ms|msec|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|M|month|months|y|year|years))* *$"),
                    "description": "A duration such as `30m`, `2h` or `1d 12h` (humantime), at most 7 days." }),
            ),
            (
                "expires_at",
                or_null(time(
                    "An RFC 3339 time, in the future and at most 7 days away.",
                )),
            ),
        ],
    );
    // Exactly one of them given and not null (a null one counts as absent).
    new_override["oneOf"] = json!([
        { "required": ["expires_in"], "properties": {
            "expires_in": { "type": "string" }, "expires_at": { "type": "null" } } },
        { "required": ["expires_at"], "properties": {
            "expires_at": { "type": "string" }, "expires_in": { "type": "null" } } },
    ]);
    // Each provider with its own models: the affected models of a new incident must be its
    // provider's.
    let per_provider: Vec<Value> = deployment
        .providers
        .iter()
        .map(|(p, ms)| {
            let ms: Vec<&str> = ms.iter().map(String::as_str).collect();
            json!({ "properties": {
                "provider": { "const": p },
                "affected_models": { "type": "array", "items": { "enum": ms } },
            }})
        })
        .collect();
    let mut open_incident = object_opt(
        "An incident to open by hand.",
        vec![
            ("provider", one_of(&providers, "A configured provider id.")),
            (
                "title",
                line(MAX_TITLE, "Plain text, one line, 1 to 200 characters."),
            ),
            ("impact", one_of(&IMPACTS, "Statuspage impact.")),
            (
                "body",
                text_body(
                    MAX_BODY,
                    "The first update, Markdown, at most 20,000 characters.",
                ),
            ),
        ],
        vec![
            (
                "affected_models",
                list_of(&models, None, "`provider/model` ids of that provider."),
            ),
            (
                "status",
                or_null(one_of(
                    &INCIDENT_STATUSES[..3],
                    "Default investigating (also when null); a new incident cannot start resolved.",
                )),
            ),
            (
                "notify",
                typed("boolean", "Tell subscribers (default false)."),
            ),
        ],
    );
    open_incident["oneOf"] = json!(per_provider);
    vec![
        ("SubscribeRequest", closed(object_opt("A subscription to create. A webhook needs `url` \
            (except pagerduty, which needs `routing_key`) and takes `email` as its owner; an \
            email subscription needs `email` and takes no `url`.", vec![
            ("kind", one_of(&["webhook", "email"], "What to subscribe.")),
        ], vec![
            ("url", {
                let mut u = or_null(http_url(2048, false));
                u["description"] = json!("Webhook: an http(s) URL whose host resolves to public \
                    addresses only (a 422 otherwise; default for pagerduty: the Events API v2).");
                u
            }),
            ("email", {
                let mut e = or_null(email_schema());
                e["description"] = json!("Email: the address (double opt-in). Webhook: its owner, told when it is disabled.");
                e
            }),
            ("format", or_null(one_of(&WEBHOOK_FORMATS, "Webhook payload format (default native)."))),
            ("routing_key", or_null(line(200, "PagerDuty integration key, for format pagerduty."))),
            ("models", list_of(&models, filter_max, "Configured `provider/model` ids, at most 1000 (repeats are dropped); empty or absent: all.")),
            ("providers", list_of(&providers, filter_max, "Configured provider ids, at most 1000 (repeats are dropped); empty or absent: all.")),
            ("events", list_of(&crate::vocabulary::PUBLIC_EVENTS, filter_max, "Event types to receive, at most 1000 (repeats are dropped); empty or absent: all.")),
        ]))),
        ("OpenIncidentRequest", closed(open_incident)),
        ("IncidentUpdateRequest", closed(object_opt("An update to post.", vec![
            ("status", one_of(&INCIDENT_STATUSES, "`resolved` resolves the incident.")),
            ("body", text_body(MAX_BODY, "Markdown, at most 20,000 characters.")),
        ], vec![
            ("notify", typed("boolean", "Tell subscribers (default false).")),
            ("impact", or_null(one_of(&IMPACTS, "New impact; absent or null keeps it."))),
            ("affected_models", or_null(list_of(&models, None, "New affected models, of the incident's provider (422 otherwise); absent or null keeps them."))),
        ]))),
        ("ResolveRequest", closed(object_opt("How to resolve.", vec![], vec![
            ("body", json!({ "type": ["string", "null"], "maxLength": MAX_BODY,
                "description": "The closing update, at most 20,000 characters (a default text when absent, null or blank)." })),
            ("notify", typed("boolean", "Tell subscribers (default false).")),
        ]))),
        ("PostmortemRequest", closed(object_opt("The postmortem link.", vec![], vec![
            ("url", {
                let mut u = http_url(MAX_URL, true);
                u["type"] = json!(["string", "null"]);
                u["description"] = json!("An absolute http(s) URL of at most 2,000 characters; null, \
                    absent or blank unlinks it.");
                u
            }),
        ]))),
        ("NewOverrideRequest", closed(new_override)),
        ("NewMaintenanceRequest", closed(object_opt(&format!("A maintenance window to schedule: it \
            ends after it starts and in the future, starts at most {MAX_AHEAD_DAYS} days ahead and \
            lasts at most {MAX_LENGTH_HOURS} hours (422 otherwise)."), vec![
            ("title", line(MAX_WINDOW_TITLE, "1 to 200 characters, one line.")),
            ("models", {
                let mut m = list_of(&models, None, "Affected `provider/model` ids (at least one; repeats are dropped).");
                m["minItems"] = json!(1);
                m
            }),
            ("starts_at", time(&format!("When it starts: at most {MAX_AHEAD_DAYS} days from now."))),
            ("ends_at", time(&format!("When it ends: after it starts, in the future, at most {MAX_LENGTH_HOURS} hours after the start."))),
        ], vec![
            ("body", json!({ "type": "string", "maxLength": MAX_DETAILS,
                "description": "Details, at most 10,000 characters." })),
        ]))),
        ("DisableRequest", closed(object_opt("An optional body; an empty one is allowed.", vec![], vec![
            ("reason", or_null(optional_line(crate::web::admin::subscriptions::MAX_REASON, "At most 500 characters, one line; shown to the owner."))),
        ]))),
        ("NewTokenRequest", closed(object_opt("An API token to create.", vec![
            ("scope", one_of(&SCOPES, "What the token may do.")),
        ], vec![
            ("name", optional_line(crate::admin::tokens::MAX_NAME, "A label, at most 100 characters, one line.")),
        ]))),
    ]
}

fn schemas(deployment: &Deployment) -> Value {
    let id = |d: &str| typed("integer", d);
    let text = |d: &str| typed("string", d);
    let filter = || {
        vec![
            ("models", strings("`provider/model` ids; empty: all.")),
            ("providers", strings("Provider ids; empty: all.")),
            ("events", strings("Event types; empty: all.")),
        ]
    };
    let mut created_required = vec![
        ("id", text("`sub_…`.")),
        ("kind", one_of(&["webhook", "email"], "")),
        (
            "status",
            one_of(
                &SUBSCRIPTION_STATUSES,
                "active for webhooks, pending for email.",
            ),
        ),
        (
            "email",
            nullable("string", "The address, or a webhook's owner."),
        ),
        (
            "management_token",
            text("`mgt_…`: manages this subscription. Shown only here."),
        ),
        ("created_at", time("When it was created.")),
    ];
    created_required.extend(filter());
    let mut shown = vec![
        ("id", text("`sub_…`.")),
        ("kind", one_of(&["webhook", "email"], "")),
        (
            "format",
            one_of(
                &["native", "slack", "discord", "teams", "pagerduty", "email"],
                "",
            ),
        ),
        ("status", one_of(&SUBSCRIPTION_STATUSES, "")),
        ("url", nullable("string", "The webhook URL.")),
        (
            "email",
            nullable("string", "The address, or a webhook's owner."),
        ),
        ("created_at", time("When it was created.")),
        (
            "confirmed_at",
            nullable_time("When the email address was confirmed."),
        ),
        (
            "disabled_at",
            nullable_time("When it was disabled or deleted."),
        ),
        ("disabled_reason", nullable("string", "Why.")),
    ];
    shown.extend(filter());
    let mut admin_view = shown.clone();
    admin_view.retain(|(k, _)| !["models", "providers", "events", "url"].contains(k));
    admin_view.push((
        "url",
        nullable(
            "string",
            "Masked: `scheme://host[:port]/…` and the path's last 4 characters.",
        ),
    ));
    admin_view.push((
        "filter",
        object("Which events reach it; empty lists mean all.", filter()),
    ));
    admin_view.push((
        "failing_since",
        nullable_time("Since when every delivery has failed."),
    ));
    let scope = one_of(&SCOPES, "");
    let incident_update = object(
        "One update of the timeline.",
        vec![
            ("id", id("Update id.")),
            ("at", time("When it was posted.")),
            ("status", one_of(&INCIDENT_STATUSES, "")),
            ("impact", text("none, minor, major or critical.")),
            ("body", text("Markdown, raw.")),
            ("affected", strings("Affected models after the update.")),
            (
                "notified",
                typed("boolean", "Whether subscribers were told."),
            ),
        ],
    );
    let window = vec![
        ("id", id("Window id.")),
        ("title", text("Plain text.")),
        ("body", text("Plain text.")),
        ("models", strings("Affected `provider/model` ids.")),
        ("starts_at", time("When it starts.")),
        ("ends_at", time("When it ends.")),
        (
            "status",
            one_of(&["scheduled", "in_progress", "completed", "cancelled"], ""),
        ),
    ];
    let list =
        |key: &str, item: &str, d: &str| object(d, vec![(key, array_of(reference(item), d))]);
    let mut out = json!({
        "SubscriptionCreated": object_opt("A new subscription, with what is shown only once.", created_required, vec![
            ("format", one_of(&WEBHOOK_FORMATS, "Webhooks only.")),
            ("url", text("Webhooks only.")),
            ("secret", text("Native webhooks only: the signing secret `whsec_…`.")),
            ("message", text("Email only: nothing is sent before the address is confirmed.")),
        ]),
        "Subscription": object("A subscription as its owner sees it.", shown),
        "SecretRotated": object("A new signing secret.", vec![
            ("id", text("`sub_…`.")),
            ("secret", text("The new secret `whsec_…`, shown once.")),
            ("previous_secret_valid_until", time("Until then the old secret signs too.")),
        ]),
        "Delivery": object("One delivery of an event to a subscription.", vec![
            ("id", id("Delivery id.")),
            ("event_id", id("Event id.")),
            ("event_type", text("e.g. `model.disabled`.")),
            ("message_id", text("The `webhook-id`, the same on every attempt.")),
            ("status", text("pending, succeeded or dead.")),
            ("attempts", id("Attempts made.")),
            ("created_at", time("When it was queued.")),
            ("delivered_at", nullable_time("When it succeeded.")),
            ("last_status_code", nullable("integer", "HTTP status of the last attempt.")),
            ("last_duration_ms", nullable("integer", "Duration of the last attempt.")),
            ("last_error", nullable("string", "Error of the last attempt.")),
        ]),
        "DeliveryLog": object("A subscription's newest 200 deliveries.", vec![
            ("subscription", text("`sub_…`.")),
            ("deliveries", array_of(reference("Delivery"), "Newest first.")),
        ]),
        "Whoami": object("The caller.", vec![
            ("actor", text("An email, a token id `tok_…`, or `cli`.")),
            ("actor_kind", one_of(&["user", "token", "system"], "")),
            ("scope", scope.clone()),
            ("client_addr", nullable("string", "The client address as resolved.")),
        ]),
        "BoardOverride": object("The active override of a model.", vec![
            ("enabled", typed("boolean", "Forced enabled or disabled.")),
            ("reason", text("Why.")),
            ("created_by", text("Who set it.")),
            ("expires_at", time("When it ends.")),
        ]),
        "BoardProbe": object("One recent probe.", vec![
            ("at", time("When it started.")),
            ("outcome", text("Outcome class (`ok`, `timeout`, …).")),
            ("http_status", nullable("integer", "HTTP status.")),
            ("ttft_ms", nullable("integer", "Time to first token.")),
            ("total_ms", id("Total time.")),
            ("error", nullable("string", "Error text.")),
        ]),
        "BoardModel": object("One model on the board.", vec![
            ("id", text("`provider/model`.")),
            ("name", text("Display name.")),
            ("state", reference("ModelState")),
            ("enabled", typed("boolean", "The routing decision.")),
            ("fallback", nullable("string", "When disabled: what to use instead.")),
            ("since", time("When it entered its state.")),
            ("reason", text("One-line reason.")),
            ("reasons", strings("Every reason of the current decision.")),
            ("override", json!({ "anyOf": [reference("BoardOverride"), { "type": "null" }] })),
            ("misconfigured", id("Probes of the latest window failing on our own configuration.")),
            ("throttled", id("Probes of the latest window throttled on our key.")),
            ("evaluated_at", nullable_time("The latest evaluation.")),
            ("probes", array_of(reference("BoardProbe"), "The last five, newest first.")),
            ("traffic", json!({ "anyOf": [reference("Traffic"), { "type": "null" }],
                "description": "The application's traffic of the last minute, from the decision's evidence (null when none is reported)." })),
            ("traffic_24h", json!({ "anyOf": [reference("BoardTraffic"), { "type": "null" }],
                "description": "The application's traffic over the last 24 hours (null when none is stored)." })),
            ("official", json!({ "anyOf": [reference("OfficialStatus"), { "type": "null" }],
                "description": "What the provider's own status page says of the model (null without a configured page); at most five open incidents." })),
        ]),
        "BoardTrafficTotals": object("Traffic totals of one source over the last 24 hours.", vec![
            ("requests", id("Requests, every class.")),
            ("failures", id("Provider faults.")),
            ("error_rate", typed("number", "Provider faults among the counted requests.")),
            ("ttft_p50_ms", nullable("integer", "Median time to first token.")),
        ]),
        "BoardTraffic": object("A model's traffic over the last 24 hours.", vec![
            ("requests", id("Requests, every class and source.")),
            ("failures", id("Provider faults.")),
            ("client_errors", id("Caller-side failures (auth, bad request, not found).")),
            ("throttled", id("Rate limited (the caller's quota).")),
            ("error_rate", typed("number", "Provider faults among the counted requests.")),
            ("ttft_p50_ms", nullable("integer", "Median time to first token.")),
            ("sources", json!({ "type": "object", "additionalProperties": reference("BoardTrafficTotals"),
                "description": "Each source's totals, by name." })),
        ]),
        "Board": object("The live board.", vec![
            ("generated_at", time("When it was read.")),
            ("models", array_of(reference("BoardModel"), "Every model.")),
        ]),
        "IncidentRecord": incident_update,
        "AdminIncident": object("An incident with what only the admin API shows.", vec![
            ("id", id("Incident id.")),
            ("provider_id", text("Provider id.")),
            ("title", text("Plain text.")),
            ("status", one_of(&INCIDENT_STATUSES, "")),
            ("impact", text("none, minor, major or critical.")),
            ("affected", strings("Affected `provider/model` ids.")),
            ("automatic", typed("boolean", "Opened by the evaluator.")),
            ("created_at", time("When it was opened.")),
            ("updated_at", time("When it last changed.")),
            ("resolved_at", nullable_time("When it was resolved.")),
            ("updates", array_of(reference("IncidentRecord"), "Oldest first.")),
            ("acknowledged_at", nullable_time("When it was acknowledged.")),
            ("acknowledged_by", nullable("string", "Who acknowledged it (never published).")),
            ("postmortem_url", nullable("string", "The postmortem link.")),
        ]),
        "AdminIncidentList": list("incidents", "AdminIncident", "Incidents, newest first."),
        "AdminIncidentResponse": object("One incident.", vec![("incident", reference("AdminIncident"))]),
        "Override": object_opt("An override of a model's routing decision.", vec![
            ("id", id("Override id.")),
            ("model", text("`provider/model`.")),
            ("enabled", typed("boolean", "Forced enabled or disabled.")),
            ("reason", text("Why; shown publicly.")),
            ("created_by", text("Who set it.")),
            ("created_at", time("When it was set.")),
            ("expires_at", time("When it ends by itself.")),
            ("active", typed("boolean", "Whether it applies now.")),
        ], vec![("ended_at", nullable_time("When it was ended early (absent in the answer to POST)."))]),
        "OverrideList": list("overrides", "Override", "Overrides, newest first."),
        "AdminMaintenance": object_opt("A maintenance window.", window, vec![
            ("created_by", text("Who scheduled it (absent in the answer to POST).")),
            ("created_at", time("When it was scheduled.")),
            ("updated_at", time("When it last changed.")),
            ("started_at", nullable_time("When it started.")),
            ("completed_at", nullable_time("When it completed.")),
        ]),
        "AdminMaintenanceList": list("maintenances", "AdminMaintenance", "Windows, newest first."),
        "AdminSubscription": object("A subscription without secrets or token hashes.", admin_view),
        "AdminSubscriptionList": list("subscriptions", "AdminSubscription", "Newest first."),
        "Redelivery": object("A delivery queued again.", vec![
            ("subscription", text("`sub_…`.")),
            ("delivery", id("Delivery id.")),
            ("status", json!({ "const": "pending" })),
        ]),
        "ApiToken": object("An API token, without its secret.", vec![
            ("id", text("`tok_…`.")),
            ("scope", scope.clone()),
            ("name", text("Its label.")),
            ("created_by", text("Who created it.")),
            ("created_at", time("When.")),
            ("last_used_at", nullable_time("When it was last used.")),
            ("revoked_at", nullable_time("When it was revoked.")),
        ]),
        "TokenList": list("tokens", "ApiToken", "Every token."),
        "TokenCreated": object("A new API token.", vec![
            ("id", text("`tok_…`.")),
            ("token", text("`mw_…`, shown only here.")),
            ("scope", scope),
            ("name", text("Its label.")),
        ]),
        "Session": object("A live sign-in session.", vec![
            ("id", text("`ses_…`.")),
            ("email", text("Who.")),
            ("created_at", time("When they signed in.")),
            ("last_seen_at", time("Their last request.")),
            ("expires_at", time("When it ends at the latest.")),
            ("client_addr", nullable("string", "Where they signed in from.")),
        ]),
        "SessionList": list("sessions", "Session", "Live sessions."),
        "Agent": object("An agent (`modelwatch agent`) as this server knows it.", vec![
            ("name", text("Its token's name.")),
            ("region", text("Where it probes from, as its latest batch said.")),
            ("version", nullable("string", "Its modelwatch version.")),
            ("first_seen_at", time("Its first batch.")),
            ("last_seen_at", time("Its latest batch.")),
            ("reporting", typed("boolean", "A batch arrived within `agents.stale_after`; silent agents do not count for the quorum.")),
            ("silent_seconds", typed("integer", "Seconds since its latest batch.")),
            ("batches", typed("integer", "Batches stored (retries not counted).")),
            ("results", typed("integer", "Results stored.")),
        ]),
        "AgentList": list("agents", "Agent", "Agents by name."),
        "Unlocked": object("An address's failed sign-ins, cleared.", vec![
            ("email", text("The address, lower-cased.")),
            ("cleared_failures", typed("integer", "Failed sign-ins removed.")),
        ]),
        "AuditEntry": object("One change, with who made it.", vec![
            ("id", id("Entry id (for `before`).")),
            ("at", time("When.")),
            ("actor", text("An email, a token id `tok_…`, or `cli`.")),
            ("actor_kind", one_of(&["user", "token", "system"], "")),
            ("action", text("e.g. `incident.open`, `token.create`.")),
            ("target", nullable("string", "What it changed.")),
            ("detail", json!({ "type": "object", "description": "Details; never secrets." })),
            ("client_addr", nullable("string", "The client address.")),
        ]),
        "AuditLog": list("entries", "AuditEntry", "Newest first."),
    });
    if let Some(map) = out.as_object_mut() {
        for (name, schema) in requests(deployment) {
            map.insert(name.into(), schema);
        }
    }
    out
}
