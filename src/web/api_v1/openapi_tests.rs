//! Checks of the OpenAPI document: it is well-formed (every `$ref` resolves, every
//! operation has responses, a unique `operationId` and its path parameters, security
//! requirements name known schemes), every admin operation names its scope, and every route
//! registered under `/api/v1` in the router's source is documented.
//!
//! The last reads the route table from the source at test time (axum cannot list a
//! router's routes), so it cannot drift from it; the integration test
//! `tests/it/openapi_coverage.rs` checks the other direction against the running server.

use std::collections::BTreeSet;

use super::openapi::{document as build, Deployment};
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The target of a local `$ref`, if it resolves.
/// The document for a deployment of two providers.
fn document(base_url: &str) -> Value {
    let deployment = Deployment {
        providers: vec![
            (
                "anthropic".into(),
                vec![
                    "anthropic/claude-opus-4-8".into(),
                    "anthropic/claude-sonnet-4-5".into(),
                ],
            ),
            ("openai".into(), vec!["openai/gpt-5".into()]),
        ],
    };
    build(base_url, &deployment)
}

fn resolve<'a>(doc: &'a Value, target: &str) -> Option<&'a Value> {
    doc.pointer(target.strip_prefix('#')?)
}

fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                refs.push(r);
            }
            m.values().for_each(|x| walk(x, refs));
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, refs)),
        _ => {}
    }
}

/// Every way the document is not well-formed, as far as these checks go.
fn problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut refs = Vec::new();
    walk(doc, &mut refs);
    for r in refs {
        if resolve(doc, r).is_none() {
            out.push(format!("dangling $ref {r}"));
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|p| p.split('}').next())
            .collect();
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            if !METHODS.contains(&method.as_str()) {
                out.push(format!("{at}: not a method"));
            }
            let responses = operation["responses"].as_object();
            if responses.is_none_or(|r| r.is_empty()) {
                out.push(format!("{at}: no responses"));
            }
            let id = operation["operationId"].as_str().unwrap_or("");
            if id.is_empty() || !ids.insert(id.to_string()) {
                out.push(format!("{at}: missing or repeated operationId `{id}`"));
            }
            let params = operation["parameters"].as_array().into_iter().flatten();
            let declared: BTreeSet<&str> = params
                .filter_map(|p| match p["$ref"].as_str() {
                    Some(r) => resolve(doc, r),
                    None => Some(p),
                })
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if declared != templated {
                out.push(format!(
                    "{at}: path parameters {declared:?}, template {templated:?}"
                ));
            }
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for name in requirement.as_object().unwrap().keys() {
                    if schemes.get(name).is_none() {
                        out.push(format!("{at}: unknown security scheme {name}"));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_document_is_well_formed() {
    let doc = document("http://127.0.0.1:8080");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(problems(&doc), Vec::<String>::new());
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/admin/board"]["get"]["responses"] = serde_json::json!({});
    broken["paths"]["/api/v1/admin/audit"]["get"]["parameters"][0]["$ref"] = "#/nope".into();
    assert_eq!(problems(&broken).len(), 2, "{:?}", problems(&broken));
}

#[test]
fn links_lead_to_operations_taking_an_id() {
    let doc = document("http://127.0.0.1:8080");
    let mut by_id = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            by_id.insert(
                op["operationId"].as_str().unwrap().to_string(),
                path.clone(),
            );
        }
    }
    let mut links = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for response in op["responses"].as_object().unwrap().values() {
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    let target = link["operationId"].as_str().unwrap();
                    let path = by_id.get(target).unwrap_or_else(|| panic!("no {target}"));
                    assert!(path.contains("{id}"), "{target} takes no id");
                    assert!(link["parameters"]["id"]
                        .as_str()
                        .unwrap()
                        .starts_with("$response.body#/"));
                    links += 1;
                }
            }
        }
    }
    // subscribe 4, open incident 5, override 1, maintenance 1, token 1.
    assert_eq!(links, 12);
}

#[test]
fn every_admin_operation_names_its_scope() {
    let doc = document("http://127.0.0.1:8080");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = op["security"].to_string();
            if path.starts_with("/api/v1/admin/") {
                assert!(security.contains("apiToken"), "{method} {path}");
                let any = path == "/api/v1/admin/whoami";
                let named = ["read", "operate", "admin"].iter().any(|s| {
                    security.contains(&format!("[\"{s}\"]"))
                        && op["description"]
                            .as_str()
                            .unwrap()
                            .contains(&format!("`{s}`"))
                });
                assert!(any || named, "{method} {path}: {security}");
            } else if path.starts_with("/api/v1/subscriptions/") {
                assert!(security.contains("managementToken"), "{method} {path}");
            }
        }
    }
}

/// `(METHOD, path)` of every route registered under `/api/v1` in the router's source:
/// the `.route("/api/v1/…", get(…).post(…))` calls of every file under `src/web`. A
/// route this reader cannot follow (a path that is not a literal, a nested router under
/// `/api/v1/…`) fails the test rather than being skipped.
fn registered_routes() -> BTreeSet<(String, String)> {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut files = vec![web];
    let mut routes = BTreeSet::new();
    while let Some(f) = files.pop() {
        if f.is_dir() {
            files.extend(std::fs::read_dir(&f).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if f.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&f).unwrap();
        // Comments may quote routes; only code registers them.
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for nest in [".nest(", ".nest_service(", ".route_service("] {
            for piece in code.split(nest).skip(1) {
                let arg = piece.trim_start();
                assert!(
                    !arg.starts_with("\"/api/v1/"),
                    "{}: {nest} under /api/v1 is not followed by this test",
                    f.display()
                );
            }
        }
        for piece in code.split(".route(").skip(1) {
            let piece = piece.trim_start();
            let Some(rest) = piece.strip_prefix('"') else {
                panic!("{}: a route path that is not a literal", f.display());
            };
            let (path, rest) = rest.split_once('"').unwrap();
            if !path.starts_with("/api/v1/") {
                continue;
            }
            // The method router: up to the `)` closing `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let methods = &rest[..end];
            let mut found = false;
            for (i, _) in methods.match_indices('(') {
                let before = &methods[..i];
                let word_start = before
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |j| j + 1);
                let word = &before[word_start..];
                let joined = before[..word_start].trim_end();
                let is_call = joined.is_empty() || joined.ends_with('.') || joined.ends_with(',');
                if is_call && METHODS.contains(&word) {
                    routes.insert((word.to_uppercase(), path.to_string()));
                    found = true;
                }
            }
            assert!(
                found,
                "{}: no method found for {path}: {methods}",
                f.display()
            );
        }
    }
    routes
}

#[test]
fn every_route_registered_under_api_v1_is_documented() {
    let doc = document("http://127.0.0.1:8080");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().unwrap().keys();
            methods.map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let registered = registered_routes();
    // The reader found the routes it should: a few well-known ones from the README.
    for known in [
        ("GET", "/api/v1/routing"),
        ("POST", "/api/v1/subscriptions"),
        ("DELETE", "/api/v1/subscriptions/{id}"),
        ("PUT", "/api/v1/admin/incidents/{id}/postmortem"),
        (
            "POST",
            "/api/v1/admin/subscriptions/{id}/deliveries/{delivery}/redeliver",
        ),
        ("GET", "/api/v1/admin/audit"),
    ] {
        let known = (known.0.to_string(), known.1.to_string());
        assert!(registered.contains(&known), "the reader missed {known:?}");
    }
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered but not in the OpenAPI document: {missing:#?}"
    );
}
