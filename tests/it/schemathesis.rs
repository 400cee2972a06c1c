//! The OpenAPI document against the real service, checked by an independent tool:
//! schemathesis (PyPI, installed by `scripts/test`) generates requests from the document —
//! valid ones, which must be accepted (its check ST202), and invalid ones, which must be
//! refused — and checks every answer's status, content type and body against the document.
//! It also follows the document's `links` from creating operations to the ones that take
//! their ids. It runs with an admin API token, a fixed seed and a bounded number of
//! examples per operation, and must report no failure.

use std::process::Command;
use std::time::Instant;

use chrono::Utc;
use modelwatch::admin::audit::Actor;
use modelwatch::admin::{tokens, Scope};

use crate::helpers::spawn_seeded_app_with;

/// schemathesis' configuration. What it cannot know from the document is said here, each
/// with its reason.
const CONFIG: &str = r#"
[auth.openapi.apiToken]
bearer = "${MW_TOKEN}"

# Follow only the document's own links: an inferred link from the token list to
# `DELETE /api/v1/admin/tokens/{id}` could revoke the token this run signs in with.
[phases.stateful.inference]
algorithms = []

# Schema-valid bodies that the server still refuses with 422, for a rule a JSON Schema
# cannot state (the rule is in the operation's description):
# - a maintenance window's time bounds (ends after it starts and in the future, starts at
#   most 90 days ahead, lasts at most 168 hours);
# - an override's expiry (in the future, at most 7 days away);
# - an update's affected models belong to the incident's provider, which the body does
#   not name.
[[operations]]
include-operation-id-regex = "^(adminCreateMaintenance|adminCreateOverride|adminUpdateIncident)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"#;

/// Operations left out of the run, with why.
const EXCLUDED: &[&str] = &[
    // A webhook it creates would be delivered to whatever address the generator wrote
    // (an incident opened with `notify` during the run is an event): this machine sends
    // nothing beyond loopback. Subscribing is checked by `subscriptions_api`.
    "subscribe",
];

/// Whether schemathesis can be run here (`scripts/test` installs it).
fn available() -> bool {
    Command::new("python3")
        .args(["-c", "import schemathesis"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure() {
    assert!(
        available(),
        "schemathesis is not installed: run scripts/test, or `python3 -m pip install schemathesis`"
    );
    let app = spawn_seeded_app_with("").await;
    let (_, token) = tokens::create(
        &app.store,
        Scope::Admin,
        "schemathesis",
        &Actor::cli(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut args: Vec<String> = vec![
        "-m".into(),
        "schemathesis.cli".into(),
        "--config-file".into(),
        config.display().to_string(),
        "--no-color".into(),
        "run".into(),
        format!("{}/api/v1/openapi.json", app.base),
        "--checks".into(),
        [
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "positive_data_acceptance",
            "negative_data_rejection",
        ]
        .join(","),
        "--max-examples".into(),
        "20".into(),
        "--seed".into(),
        "20261204".into(),
        "--workers".into(),
        "1".into(),
        "--request-timeout".into(),
        "10".into(),
        "--report-dir".into(),
        dir.path().join("report").display().to_string(),
    ];
    for id in EXCLUDED {
        args.push("--exclude-operation-id".into());
        args.push((*id).into());
    }
    let started = Instant::now();
    // schemathesis blocks; the service keeps running on this runtime's other thread.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(&args)
            .env("MW_TOKEN", token.expose())
            .env("NO_COLOR", "1")
            .current_dir(dir.path())
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found failures ({}):\n{stdout}\n{stderr}",
        output.status
    );
    println!(
        "schemathesis passed in {:.0?}:\n{stdout}",
        started.elapsed()
    );
    app.stop().await;
}
