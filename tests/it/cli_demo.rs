//! The command line on the built-in demo, as a newcomer meets it: without `--config` the
//! admin commands work on the demo's database (the one `serve` uses), and `demo-config`
//! prints a configuration that `check-config` accepts.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use modelwatch::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_modelwatch");

/// Runs the binary in `dir` (the demo's database is relative to the working directory)
/// with `stdin` as its standard input.
fn run_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn user_add_and_token_create_without_config_use_the_demos_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &["user", "add", "--email", "Newcomer@Example.com"],
        "correct horse battery staple\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "user newcomer@example.com added to data/modelwatch-demo.db\n"
    );

    let out = run_in(dir.path(), &["token", "create", "--scope", "read"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout);
    assert!(
        token.starts_with("mw_") && token.ends_with('\n'),
        "{token:?}"
    );

    // Both are in the database `serve` without `--config` opens.
    let db = dir.path().join("data/modelwatch-demo.db");
    let store = Store::open(&db).await.unwrap();
    let users: Vec<(String,)> = sqlx::query_as("SELECT email FROM users")
        .fetch_all(store.sqlite_pool())
        .await
        .unwrap();
    assert_eq!(users, vec![("newcomer@example.com".to_string(),)]);
    let (tokens,): (i64,) = sqlx::query_as("SELECT count(*) FROM api_tokens")
        .fetch_one(store.sqlite_pool())
        .await
        .unwrap();
    assert_eq!(tokens, 1);
}

#[test]
fn demo_config_prints_the_demo_and_check_config_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["demo-config"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), modelwatch::config::demo::DEMO_TOML);

    let path = dir.path().join("modelwatch.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = run_in(
        dir.path(),
        &["check-config", "--config", "modelwatch.toml"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.starts_with(
            "modelwatch.toml: ok — 3 providers, 8 models; database data/modelwatch-demo.db; listen 127.0.0.1:8080\n"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("  openai (simulated, built in): 2 models, schedule `*/2 * * * * *`"),
        "{summary}"
    );

    // Without `--config`, `check-config` checks the built-in demo itself.
    let out = run_in(dir.path(), &["check-config"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("<built-in demo>: ok — 3 providers, 8 models;"),
        "{}",
        text(&out.stdout)
    );
}
