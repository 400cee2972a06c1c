//! The real binary: `probe`, `check-config`, and `serve` stopped by SIGTERM without losing
//! any finished result.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::free_port;
use modelwatch::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_modelwatch");

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn simulated(extra: &str) -> String {
    format!(
        r#"
[[providers]]
id = "sim"
kind = "simulated"
schedule = "* * * * * *"
timeout = "5s"
simulate = {{ ttft = "20ms", generation = "10ms", jitter = "0ms" {extra} }}
models = [ {{ id = "alpha" }}, {{ id = "beta" }} ]
"#
    )
}

#[test]
fn probe_prints_a_table_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = write(dir.path(), "ok.toml", &simulated(""));
    let out = Command::new(BIN)
        .args(["probe", "--config"])
        .arg(&healthy)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.starts_with("MODEL"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("sim/alpha") && l.contains(" ok ")),
        "{table}"
    );

    let failing = write(
        dir.path(),
        "bad.toml",
        &simulated(", error_rate = 1.0, error_mix = { overloaded = 1 }"),
    );
    let out = Command::new(BIN)
        .args(["probe", "--json", "--config"])
        .arg(&failing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probes = json.as_array().unwrap();
    assert_eq!(probes.len(), 2);
    for p in probes {
        assert_eq!(p["provider"], "sim");
        assert_eq!(p["outcome"], "overloaded");
        assert_eq!(p["http_status"], 529);
        assert!(p["model"] == "alpha" || p["model"] == "beta");
    }
}

#[test]
fn check_config_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.toml", &simulated(""));
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 provider, 2 models"));

    let bad = write(
        dir.path(),
        "bad.toml",
        &simulated("").replace("* * * * * *", "* * * * *"),
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5:") && err.contains("cron expressions have 6 fields"),
        "{err}"
    );
}

#[tokio::test]
async fn serve_answers_routing_and_stops_on_sigterm_keeping_every_result() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let port = free_port();
    let config = format!(
        "[server]\ndatabase = \"{}\"\n{}",
        db.display(),
        simulated("")
    );
    let path = write(dir.path(), "serve.toml", &config);
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "modelwatch=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait (bounded) until the server answers and a few probes are stored. A process starting
    // on a loaded machine can be slow: the bound is generous, the polling quick.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let routing = loop {
        assert!(Instant::now() < deadline, "server did not come up");
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/api/v1/routing"))
            .send()
            .await
        {
            break r.json::<serde_json::Value>().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ids: Vec<&str> = routing["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["sim/alpha", "sim/beta"]);
    assert_eq!(routing["models"][0]["enabled"], true);
    let store = Store::open(&db).await.unwrap();
    while store.count_results().await.unwrap() < 4 {
        assert!(Instant::now() < deadline, "no probes stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(exit.success(), "exit {exit:?}\n{log}");
    assert!(log.contains("stopped cleanly"), "{log}");
    let finished = log.lines().filter(|l| l.contains("probe finished")).count() as i64;
    let stored = store.count_results().await.unwrap();
    assert_eq!(stored, finished, "every finished probe is stored");

    // `status` reads the persisted states back from the same database.
    let out = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.starts_with("MODEL"), "{table}");
    for model in ["sim/alpha", "sim/beta"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(model) && l.contains("enabled")),
            "{table}"
        );
    }
}
