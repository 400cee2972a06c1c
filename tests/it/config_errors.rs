//! Configuration: the brief's shape parses as written, and every kind of mistake names the
//! file, the line and what to change.

use std::path::Path;

use modelwatch::config::Config;

const BRIEF_EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"
database = "data/modelwatch.db"

[[providers]]
id = "anthropic"
name = "Anthropic"
kind = "anthropic"                     # anthropic | openai | gemini | bedrock | simulated
base_url = "https://api.anthropic.com" # any reachable URL; tests point it at a local server
api_key_env = "ANTHROPIC_API_KEY"
schedule = "*/30 * * * * *"            # cron with a seconds field
timeout = "20s"
models = [
  { id = "claude-opus-4-8", name = "Claude Opus 4.8", fallback = ["claude-sonnet-4-5"] },
  { id = "claude-sonnet-4-5", name = "Claude Sonnet 4.5" },
]
"#;

fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::parse(text, Path::new("conf/test.toml"), &move |name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .map_err(|e| e.to_string())
}

#[test]
fn the_briefs_example_parses_as_written() {
    let config = parse(
        BRIEF_EXAMPLE,
        &[("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")],
    )
    .unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    let p = &config.providers[0];
    assert_eq!(
        (p.id.as_str(), p.name.as_str(), p.kind.as_str()),
        ("anthropic", "Anthropic", "anthropic")
    );
    assert_eq!(p.timeout, std::time::Duration::from_secs(20));
    assert_eq!(p.api_key(), Some("sk-ant-test-0123456789"));
    assert_eq!(p.models[0].fallback, vec!["claude-sonnet-4-5"]);
    assert_eq!(
        p.models[0].max_tokens, 16,
        "reasoning-friendly default budget"
    );
    assert!(
        !format!("{config:?}").contains("sk-ant-test"),
        "Debug output must not show the key"
    );
}

/// Each case: a replacement applied to the brief's example, the line the error must name and
/// words it must contain.
#[test]
fn every_mistake_names_file_line_and_fix() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "timeout = \"20s\"",
            "timeout = \"20s\"\ntimout = \"5s\"",
            14,
            "unknown key `timout`; did you mean `timeout`?",
        ),
        (
            "*/30 * * * * *",
            "*/30 * * * *",
            12,
            "cron expressions have 6 fields (seconds first): `0 */30 * * * *`, got 5",
        ),
        (
            "*/30 * * * * *",
            "every thirty seconds",
            12,
            "cron expressions have 6 fields (seconds first), e.g. `0 */5 * * * *`, got 3 in `every thirty seconds`",
        ),
        (
            "{ id = \"claude-sonnet-4-5\", name",
            "{ id = \"claude-opus-4-8\", name",
            16,
            "duplicate model id `claude-opus-4-8`",
        ),
        (
            "fallback = [\"claude-sonnet-4-5\"]",
            "fallback = [\"claude-sonnet-9\"]",
            15,
            "fallback `claude-sonnet-9`",
        ),
        (
            "api_key_env = \"ANTHROPIC_API_KEY\"",
            "api_key_env = \"MISSING_KEY\"",
            11,
            "`MISSING_KEY`",
        ),
        (
            "kind = \"anthropic\"  ",
            "kind = \"anthropik\"  ",
            9,
            "unknown provider kind `anthropik`",
        ),
        (
            "timeout = \"20s\"",
            "timeout = \"twenty\"",
            13,
            "not a duration",
        ),
        (
            "listen = \"127.0.0.1:8080\"",
            "listen = \"localhost\"",
            3,
            "address like 127.0.0.1:8080",
        ),
        (
            "base_url = \"https://api.anthropic.com\"",
            "base_url = \"ftp://x\"",
            10,
            "http(s) URL",
        ),
        (
            "database = \"data/modelwatch.db\"",
            "database = \"data/modelwatch.db\"\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.local\"]",
            5,
            "`trusted_proxies` entry `proxy.local` is not a CIDR",
        ),
        (
            "database = \"data/modelwatch.db\"",
            "database = \"data/modelwatch.db\"\nheader_timeout = \"1h\"",
            5,
            "`header_timeout` must be between 1s and 10m",
        ),
        (
            "database = \"data/modelwatch.db\"",
            "database = \"data/modelwatch.db\"\nmax_connections = 0",
            5,
            "`max_connections` must be at least 1",
        ),
        ("[server]", "[server\n", 2, ""),
    ];
    for (from, to, line, words) in cases {
        assert!(BRIEF_EXAMPLE.contains(from), "case {from:?} does not apply");
        let text = BRIEF_EXAMPLE.replacen(from, to, 1);
        let err = parse(&text, &[("ANTHROPIC_API_KEY", "k-123456")])
            .expect_err(&format!("{to:?} must be refused"));
        let prefix = format!("conf/test.toml:{line}:");
        assert!(
            err.contains(&prefix),
            "error for {to:?} should name {prefix}, got:\n{err}"
        );
        assert!(
            err.contains(words),
            "error for {to:?} should say {words:?}, got:\n{err}"
        );
    }
}

#[test]
fn duplicate_providers_and_all_problems_reported_together() {
    let twice = format!(
        "{BRIEF_EXAMPLE}\n{}",
        &BRIEF_EXAMPLE[BRIEF_EXAMPLE.find("[[providers]]").unwrap()..]
    );
    let text = twice.replacen("timeout = \"20s\"", "timeout = \"soon\"", 1);
    let err = parse(&text, &[("ANTHROPIC_API_KEY", "k-123456")]).unwrap_err();
    assert!(err.contains("duplicate provider id `anthropic`"), "{err}");
    assert!(err.contains("not a duration"), "{err}");
    assert!(err.lines().count() >= 2, "both problems listed: {err}");
}

#[test]
fn env_interpolation_in_urls_and_headers() {
    let text = r#"
[[providers]]
id = "local"
kind = "openai"
base_url = "http://${HOST}/v1"
headers = { "X-Team" = "${TEAM}" }
models = [ { id = "llama3" } ]
"#;
    let config = parse(text, &[("HOST", "127.0.0.1:11434"), ("TEAM", "sre")]).unwrap();
    assert_eq!(config.providers[0].base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(
        config.providers[0].headers,
        vec![("X-Team".to_string(), "sre".to_string())]
    );
    let err = parse(text, &[("HOST", "h")]).unwrap_err();
    assert!(
        err.contains("conf/test.toml:6:") && err.contains("`TEAM` is not set"),
        "{err}"
    );
}

#[test]
fn cross_provider_fallbacks_resolve() {
    let text = r#"
[[providers]]
id = "a"
kind = "simulated"
models = [ { id = "m1", fallback = ["b/m2"] } ]
[[providers]]
id = "b"
kind = "simulated"
models = [ { id = "m2" } ]
"#;
    parse(text, &[]).unwrap();
    let err = parse(&text.replace("b/m2", "c/m2"), &[]).unwrap_err();
    assert!(
        err.contains("conf/test.toml:5:") && err.contains("fallback `c/m2`"),
        "{err}"
    );
}

#[test]
fn the_secret_never_appears_in_an_error() {
    let text = BRIEF_EXAMPLE.replace("timeout = \"20s\"", "timeout = \"bad\"");
    let err = parse(&text, &[("ANTHROPIC_API_KEY", "sk-ant-supersecret-42")]).unwrap_err();
    assert!(!err.contains("supersecret"), "{err}");
}

#[test]
fn evaluator_settings_cascade_and_are_checked() {
    let text = r#"
[evaluator]
window_probes = 40

[[providers]]
id = "p"
kind = "simulated"
evaluator = { extra_probes_per_hour = 30, disable_at = "major_outage" }
models = [ { id = "a" }, { id = "b", evaluator = { window_probes = 12, min_samples = 6, ttft_limit = "4s", confirm_interval = "3s" } } ]
"#;
    let config = parse(text, &[]).unwrap();
    let (a, b) = (
        &config.providers[0].models[0].policy,
        &config.providers[0].models[1].policy,
    );
    assert_eq!((a.window_probes, a.extra_probes_per_hour), (40, Some(30)));
    assert_eq!(
        a.disable_at,
        modelwatch::vocabulary::ModelState::MajorOutage
    );
    assert_eq!(
        (b.window_probes, b.min_samples, b.extra_probes_per_hour),
        (12, 6, Some(30))
    );
    assert_eq!(b.ttft_limit, Some(std::time::Duration::from_secs(4)));
    assert_eq!(b.confirm_interval, std::time::Duration::from_secs(3));

    // A setting of the evaluator before it judged every probe says it is gone, and where.
    let err = parse(
        &text.replace("extra_probes_per_hour = 30", "failure_threshold = 3"),
        &[],
    )
    .unwrap_err();
    assert!(
        err.contains("conf/test.toml:8:") && err.contains("`failure_threshold` is no longer used"),
        "{err}"
    );

    let err = parse(&text.replace("\"major_outage\"", "\"sometimes\""), &[]).unwrap_err();
    assert!(
        err.contains("conf/test.toml:8:") && err.contains("disable_at"),
        "{err}"
    );
    let err = parse(
        &text.replace("window_probes = 12", "slow_share = 0.01"),
        &[],
    )
    .unwrap_err();
    assert!(
        err.contains("conf/test.toml:9:") && err.contains("`slow_share` must be above"),
        "{err}"
    );
    let err = parse(
        &text.replace("window_probes = 40", "windw_probes = 40"),
        &[],
    )
    .unwrap_err();
    assert!(
        err.contains("unknown key `windw_probes`; did you mean `window_probes`?"),
        "{err}"
    );
}

/// An official source is checked like the rest: its kind, its address, and that every model
/// it names exists, each at its own line.
#[test]
fn official_sources_are_checked_line_by_line() {
    let text = r#"
[[providers]]
id = "anthropic"
kind = "simulated"
official = { kind = "statuspage", url = "https://status.anthropic.com", poll = "2s", components = { "Claude API" = ["claude-opus-4-8", "claude-opus-9"] } }
models = [ { id = "claude-opus-4-8" } ]
[[providers]]
id = "openai"
kind = "simulated"
official = { kind = "statusp4ge", components = { "API" = ["gpt-5"] } }
models = [ { id = "gpt-5" } ]
[[providers]]
id = "google"
kind = "simulated"
official = { kind = "feed", url = "ftp://status.example/feed", components = {} }
models = [ { id = "gemini" } ]
"#;
    let err = parse(text, &[]).unwrap_err();
    for expected in [
        "conf/test.toml:5:",
        "`claude-opus-9`, which is not a model of provider `anthropic`",
        "official `poll` = `2s` is too short; at least 10s",
        "conf/test.toml:10:",
        "unknown official kind `statusp4ge`",
        "conf/test.toml:15:",
        "official `url` must be an http(s) URL, not `ftp://status.example/feed`",
        "an official source needs `components",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let ok = parse(
        r#"
[[providers]]
id = "anthropic"
kind = "simulated"
official = { kind = "statuspage", url = "https://status.anthropic.com", components = { "Claude API" = ["claude-opus-4-8"] }, adopt_maintenance = true }
models = [ { id = "claude-opus-4-8" } ]
"#,
        &[],
    )
    .unwrap();
    let source = ok.providers[0].official.as_ref().unwrap();
    assert_eq!(
        source.components["Claude API"],
        ["anthropic/claude-opus-4-8"]
    );
    assert!(source.adopt_maintenance);
    assert_eq!(source.poll, std::time::Duration::from_secs(60));
}

/// A database URL is not a file name: `postgres://…` used to create a SQLite file in a folder
/// named `postgres:`. It now selects PostgreSQL, shown without its password; any other URL
/// is refused, naming the scheme and never the password.
#[test]
fn a_database_url_is_refused_not_taken_as_a_file_name() {
    let text = "[server]\ndatabase = \"mysql://mw:hunter2@db.internal:3306/modelwatch\"\n";
    let err = parse(text, &[]).unwrap_err();
    assert!(err.contains("conf/test.toml:2:"), "{err}");
    assert!(err.contains("`database` is a `mysql://` URL"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the password must not be shown: {err}"
    );
    let provider = "[[providers]]\nid = \"p\"\nkind = \"simulated\"\nmodels = [ { id = \"m\" } ]\n";
    let url = "postgres://mw:hunter2@db.internal:5432/modelwatch";
    let pg = parse(&format!("[server]\ndatabase = \"{url}\"\n{provider}"), &[]).unwrap();
    let shown = pg.server.database.to_string();
    assert_eq!(shown, "postgres://mw:***@db.internal:5432/modelwatch");
    assert!(!format!("{:?}", pg.server.database).contains("hunter2"));
    match &pg.server.database {
        modelwatch::config::Database::Postgres { url: secret, .. } => {
            assert_eq!(secret.expose(), url)
        }
        other => panic!("expected PostgreSQL, got {other:?}"),
    }
    let err = parse("[server]\ndatabase = \"postgres:///modelwatch\"\n", &[]).unwrap_err();
    assert!(err.contains("names no PostgreSQL host"), "{err}");
    for written in ["sqlite://data/x.db", "data/x.db"] {
        let ok = parse(
            &format!("[server]\ndatabase = \"{written}\"\n{provider}"),
            &[],
        )
        .unwrap();
        assert_eq!(
            ok.server.database,
            modelwatch::config::Database::Sqlite(std::path::PathBuf::from("data/x.db"))
        );
    }
    assert!(parse("[server]\ndatabase = \"\"\n", &[])
        .unwrap_err()
        .contains("`database` is empty"));
}
