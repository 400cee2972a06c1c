//! `modelwatch check-config`, the real binary, as someone writing their first file meets it:
//! each problem said once, in line order, in our own words (cron fields, unknown keys with
//! the key meant), no follow-on problems about a setting that already failed, counts in the
//! right number, and `--no-env` for a machine without the secrets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelwatch::config::demo::DEMO_TOML;

const BIN: &str = env!("CARGO_BIN_EXE_modelwatch");

/// Variables the test files name; removed from the binary's environment so that the tests
/// do not depend on the machine's.
const VARIABLES: [&str; 3] = [
    "MW_TEST_UNSET_KEY",
    "MW_TEST_UNSET_HOST",
    "MW_TEST_UNSET_LISTEN",
];

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("mine.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["check-config", "--config", "mine.toml"])
        .args(extra)
        .current_dir(dir);
    for v in VARIABLES {
        command.env_remove(v);
    }
    command.output().unwrap()
}

/// Checks `text` and returns the problems (standard error), asserting the exit code 2.
fn problems(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), text);
    let out = check(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    stderr
}

/// The demo with its first schedule replaced (line 20 of the demo).
fn demo_with_first_schedule(schedule: &str) -> String {
    DEMO_TOML.replacen(
        "schedule = \"*/2 * * * * *\"",
        &format!("schedule = \"{schedule}\""),
        1,
    )
}

#[test]
fn a_five_field_cron_is_one_problem_without_follow_on_fallback_errors() {
    // The demo's Anthropic models fall back to one another: none of those fallbacks is
    // wrong because the provider's schedule is.
    assert_eq!(
        problems(&demo_with_first_schedule("*/2 * * * *")),
        "invalid configuration (1 problem):\n\
         mine.toml:20:12: cron expressions have 6 fields (seconds first): `0 */2 * * * *`, got 5\n"
    );
}

#[test]
fn a_bad_hour_is_said_in_our_words_on_one_line() {
    assert_eq!(
        problems(&demo_with_first_schedule("0 0 24 * * *")),
        "invalid configuration (1 problem):\n\
         mine.toml:20:12: hour 24 is out of range 0–23 in the cron expression `0 0 24 * * *`\n"
    );
}

#[test]
fn problems_are_listed_in_line_order() {
    // Validated in another order: `[retention]` before providers, fallbacks last of all.
    let text = r#"[[providers]]
id = "p"
kind = "simulated"
models = [ { id = "a", fallback = ["nowhere"] } ]

[[providers]]
id = "q"
kind = "simulated"
timeout = "soon"
models = [ { id = "b" } ]

[retention]
raw = "1h"
"#;
    assert_eq!(
        problems(text),
        "invalid configuration (3 problems):\n\
         mine.toml:4:36: fallback `nowhere` of model `p/a` is not a configured model; use a model id of the same provider or `provider/model`\n\
         mine.toml:9:11: `soon` is not a duration; write e.g. \"30s\", \"5m\", \"2d\"\n\
         mine.toml:13:7: `retention.raw` must be at least 2d: day rollups are computed from raw results\n"
    );
}

#[test]
fn a_missing_variable_is_one_problem_not_two() {
    let text = "[server]\nlisten = \"${MW_TEST_UNSET_LISTEN}\"\n\n\
                [[providers]]\nid = \"p\"\nkind = \"simulated\"\nmodels = [ { id = \"a\" } ]\n";
    assert_eq!(
        problems(text),
        "invalid configuration (1 problem):\n\
         mine.toml:2:10: environment variable `MW_TEST_UNSET_LISTEN` is not set; set it or remove `${MW_TEST_UNSET_LISTEN}`\n"
    );
}

#[test]
fn an_unknown_key_suggests_the_nearest_known_one() {
    let text = "[[providers]]\nid = \"p\"\nkind = \"openai\"\napi_key_envv = \"K\"\nmodels = [ { id = \"a\" } ]\n";
    assert_eq!(
        problems(text),
        "invalid configuration (1 problem):\n\
         mine.toml:4:1: unknown key `api_key_envv`; did you mean `api_key_env`?\n"
    );
    // Far from every key: no guess, the keys of that table instead.
    let text = "[retention]\nforever = true\n\n[[providers]]\nid = \"p\"\nkind = \"simulated\"\nmodels = [ { id = \"a\" } ]\n";
    assert_eq!(
        problems(text),
        "invalid configuration (1 problem):\n\
         mine.toml:2:1: unknown key `forever`; the keys allowed here are `raw`, `minute`, `hour`, `day`\n"
    );
}

#[test]
fn one_of_a_kind_is_counted_in_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "[[providers]]\nid = \"p\"\nkind = \"simulated\"\nmodels = [ { id = \"a\" } ]\n",
    );
    let out = check(dir.path(), &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "mine.toml: ok — 1 provider, 1 model; database data/modelwatch.db; listen 127.0.0.1:8080\n  \
         p (simulated, built in): 1 model, schedule `0 * * * * *`, timeout 30s, concurrency 4\n"
    );
}

#[test]
fn no_env_validates_without_the_secrets_and_says_what_it_did_not_check() {
    let text = r#"[[providers]]
id = "anthropic"
kind = "anthropic"
base_url = "https://${MW_TEST_UNSET_HOST}/v1"
api_key_env = "MW_TEST_UNSET_KEY"
models = [ { id = "claude-opus-4-8" } ]
"#;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), text);

    // With the environment checked, both variables are problems.
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mine.toml:4:12: environment variable `MW_TEST_UNSET_HOST` is not set")
            && stderr.contains("mine.toml:5:15: environment variable `MW_TEST_UNSET_KEY` (api_key_env of provider `anthropic`) is not set"),
        "{stderr}"
    );

    // Without it, the file is valid, and the output says what was not checked.
    let out = check(dir.path(), &["--no-env"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("mine.toml: ok — 1 provider, 1 model;"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(
            "environment not checked (--no-env): `MW_TEST_UNSET_HOST`, `MW_TEST_UNSET_KEY` were not checked; set them where modelwatch runs\n"
        ),
        "{stdout}"
    );

    // Everything else is still checked.
    write(
        dir.path(),
        &text.replace("claude-opus-4-8\" }", "a\", max_tokens = 0 }"),
    );
    let out = check(dir.path(), &["--no-env"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "invalid configuration (1 problem):\n\
         mine.toml:6:37: `max_tokens` must be at least 1 (about 16 suits reasoning models)\n"
    );
}
