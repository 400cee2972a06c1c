//! Shared test helpers: local fake servers and configuration from TOML text.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use modelwatch::config::Config;
use modelwatch::probe::ProbeTarget;

/// The PostgreSQL server the store tests also run against: a URL in
/// `MODELWATCH_TEST_POSTGRES` (set by `scripts/test` from `scripts/postgres`). Without it
/// every test runs on SQLite.
pub fn test_postgres() -> Option<String> {
    std::env::var("MODELWATCH_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The environment variable a PostgreSQL-backed service reads its secret key from in tests
/// (a PostgreSQL deployment has no file to keep one in).
pub const TEST_KEY_ENV: &str = "MODELWATCH_TEST_SECRET_KEY";

static DATABASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A new database on the test PostgreSQL server (a copy of `template`, if given); returns
/// its URL. Each test process names its own, so parallel tests never share one.
async fn create_postgres_database(server: &str, template: Option<&str>) -> String {
    use sqlx::Connection;
    let name = format!(
        "mw_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
    let template = template
        .map(|t| format!(" TEMPLATE {t}"))
        .unwrap_or_default();
    sqlx::query(&format!("CREATE DATABASE {name}{template}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// A fresh, empty database for one test, as the `database` setting: a database of its own
/// on the test PostgreSQL server when there is one, else the SQLite file `file` in `dir`.
pub async fn fresh_database(dir: &Path, file: &str) -> String {
    match test_postgres() {
        Some(server) => {
            // A PostgreSQL-backed service needs its key from the environment: set once per
            // test process, before any service of it reads it.
            static KEY: std::sync::Once = std::sync::Once::new();
            KEY.call_once(|| {
                std::env::set_var(TEST_KEY_ENV, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            });
            create_postgres_database(&server, None).await
        }
        None => dir.join(file).display().to_string(),
    }
}

/// The lines a `[notify]` table needs for the database in use: a PostgreSQL-backed service
/// reads its secret key from the environment.
pub fn notify_key_setting(database: &str) -> String {
    if database.starts_with("postgres") {
        format!("secret_key_env = \"{TEST_KEY_ENV}\"\n")
    } else {
        String::new()
    }
}

/// `toml` (a whole configuration) with what the database in use needs added to its
/// `[notify]` table, creating the table if there is none.
pub fn with_database_needs(toml: &str, database: &str) -> String {
    let key = notify_key_setting(database);
    if key.is_empty() {
        return toml.to_string();
    }
    match toml.find("[notify]\n") {
        Some(at) => {
            let after = at + "[notify]\n".len();
            format!("{}{key}{}", &toml[..after], &toml[after..])
        }
        None => format!("{toml}\n[notify]\n{key}"),
    }
}

/// Opens a store on `database` as [`fresh_database`] gives it.
pub async fn open_store(database: &str) -> modelwatch::store::Store {
    let database = if database.starts_with("postgres") {
        modelwatch::config::Database::Postgres {
            url: modelwatch::config::Secret::new(database),
            shown: database.to_string(),
        }
    } else {
        modelwatch::config::Database::Sqlite(database.into())
    };
    modelwatch::store::Store::open_database(&database)
        .await
        .unwrap()
}

/// A loopback port free now (for a process the test starts, which binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `router` on a fresh loopback port until the test ends; returns its address.
pub async fn spawn_server(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// Parses a configuration from text with the given environment variables only.
pub fn config_from(toml: &str, env: &[(&str, &str)]) -> Config {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::parse(toml, Path::new("test.toml"), &move |name| {
        env.get(name).cloned()
    })
    .unwrap_or_else(|e| panic!("test configuration is invalid:\n{e}"))
}

/// The probe target for the first model of the first provider.
pub fn first_target(config: &Config) -> ProbeTarget {
    let provider = config.providers[0].clone();
    let model = provider.models[0].clone();
    ProbeTarget {
        provider: Arc::clone(&provider),
        model,
    }
}

/// A running service on port 0 with a database seeded by a replayed incident.
pub struct TestApp {
    pub base: String,
    pub store: modelwatch::store::Store,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Stops the service and waits until it has shut down cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The error's chain, not its Debug form: that one carries a backtrace long
            // enough to push the message out of a truncated CI log.
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the service stopped with an error: {e:#}"),
                Err(e) => panic!("the service's task panicked: {e}"),
            }
        }
    }
}

/// The fixture's providers: Anthropic's two Opus models fail 60% with slow first tokens
/// between minutes 10 and 20 of the seeded half hour; everything else is healthy.
pub const SEEDED_PROVIDERS: &str = r#"
[[providers]]
id = "anthropic"
name = "Anthropic"
kind = "simulated"
schedule = "* * * * * *"
simulate = { ttft = "700ms", jitter = "300ms", error_rate = 0.01 }
models = [
  { id = "claude-opus-4-8", name = "Claude Opus 4.8", fallback = ["claude-sonnet-4-5"], simulate = { faults = [ { after = "600s", duration = "600s", error_rate = 0.6, error_mix = { overloaded = 1 }, ttft = "4s" } ] } },
  { id = "claude-sonnet-4-5", name = "Claude Sonnet 4.5" },
]
[[providers]]
id = "openai"
name = "OpenAI"
kind = "simulated"
schedule = "* * * * * *"
simulate = { ttft = "500ms", jitter = "200ms", error_rate = 0.01 }
models = [ { id = "gpt-5", name = "GPT-5" } ]
"#;

/// Seconds of history the fixture replays, ending now.
pub const SEEDED_SECONDS: i64 = 1800;

static SEEDED_DB: tokio::sync::OnceCell<(tempfile::TempDir, String)> =
    tokio::sync::OnceCell::const_new();

/// Replays [`SEEDED_PROVIDERS`] over the last half hour into a database, once per test
/// process: a SQLite file, or a PostgreSQL database used as a template.
async fn seeded_database() -> &'static str {
    let (_, path) = SEEDED_DB
        .get_or_init(|| async {
            use chrono::Duration;
            let dir = tempfile::tempdir().unwrap();
            let path = fresh_database(dir.path(), "seed.db").await;
            let config = config_from(SEEDED_PROVIDERS, &[]);
            let store = open_store(&path).await;
            let start = chrono::Utc::now() - Duration::seconds(SEEDED_SECONDS);
            let mut engine =
                modelwatch::evaluate::engine::Engine::new(store.clone(), &config, start)
                    .await
                    .unwrap();
            for s in 0..SEEDED_SECONDS {
                simulate_second(&config, &store, &mut engine, start, s).await;
            }
            store.compute_rollups(chrono::Utc::now()).await.unwrap();
            if store.backend() == "sqlite" {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(store.sqlite_pool())
                    .await
                    .unwrap();
            }
            // A template database must have no connections when it is copied.
            drop(engine);
            store.close().await;
            (dir, path)
        })
        .await;
    path
}

/// Starts the real service (scheduler, evaluator, publisher, HTTP) on a copy of the seeded
/// database, listening on a fresh loopback port.
pub async fn spawn_seeded_app() -> TestApp {
    spawn_seeded_app_with("").await
}

/// [`spawn_seeded_app`] with extra configuration (e.g. a `[notify]` table) before the providers.
pub async fn spawn_seeded_app_with(extra_toml: &str) -> TestApp {
    spawn_seeded_app_on(extra_toml, modelwatch::clock::Clock::system()).await
}

/// [`spawn_seeded_app_with`] with the seeded providers written differently (e.g. with an
/// `official` page): the same providers and models, so the seeded history still fits.
pub async fn spawn_seeded_app_with_providers(extra_toml: &str, providers: &str) -> TestApp {
    spawn_seeded_app_from(extra_toml, providers, modelwatch::clock::Clock::system()).await
}

/// [`spawn_seeded_app_with`] on a given clock (tests of "everything reads one clock").
pub async fn spawn_seeded_app_on(extra_toml: &str, clock: modelwatch::clock::Clock) -> TestApp {
    spawn_seeded_app_from(extra_toml, SEEDED_PROVIDERS, clock).await
}

async fn spawn_seeded_app_from(
    extra_toml: &str,
    providers: &str,
    clock: modelwatch::clock::Clock,
) -> TestApp {
    let seed = seeded_database().await;
    let dir = tempfile::tempdir().unwrap();
    let db = match test_postgres() {
        Some(server) => {
            let template = url::Url::parse(seed)
                .unwrap()
                .path()
                .trim_start_matches('/')
                .to_string();
            create_postgres_database(&server, Some(&template)).await
        }
        None => {
            let db = dir.path().join("app.db");
            std::fs::copy(seed, &db).unwrap();
            db.display().to_string()
        }
    };
    let toml = with_database_needs(
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndatabase = \"{db}\"\n{extra_toml}\n{providers}"
        ),
        &db,
    );
    let config = config_from(&toml, &[]);
    let app = modelwatch::startup::Application::build(config, clock)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        store,
        client: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

/// One second of simulated time: every model whose schedule fires at `start + s`, or for
/// which the evaluator asked an extra probe due by then, is probed by the simulated provider
/// (faults counted from `start`), the results are stored, and the evaluator runs just after.
/// Time-dependent evaluator tests advance the clock with this.
pub async fn simulate_second(
    config: &Config,
    store: &modelwatch::store::Store,
    engine: &mut modelwatch::evaluate::engine::Engine,
    start: chrono::DateTime<chrono::Utc>,
    s: i64,
) {
    use chrono::Duration;
    use modelwatch::probe::Trigger;
    let now = start + Duration::seconds(s);
    let requests = engine.probe_requests();
    let batch: Vec<_> = config
        .models()
        .filter_map(|(p, m)| {
            let key = format!("{}/{}", p.id, m.id);
            // A model is probed when its schedule fires within the second that ends at
            // `now`, or when an extra probe asked for is due by then.
            let scheduled = m
                .schedule
                .next_after(now - Duration::seconds(1))
                .is_some_and(|f| f <= now);
            let extra = requests.peek(&key).filter(|(at, _)| *at <= now);
            let trigger = match (scheduled, extra) {
                (true, _) => Trigger::Scheduled,
                (false, Some((_, t))) => t,
                (false, None) => return None,
            };
            requests.take(&key);
            Some(modelwatch::probe::ProbeResult {
                provider: p.id.clone(),
                model: m.id.clone(),
                started_at: now,
                report: modelwatch::probe::simulated::simulate(
                    &m.simulation,
                    &key,
                    std::time::Duration::from_secs(s.max(0) as u64),
                ),
                trigger,
            })
        })
        .collect();
    store.insert_results(&batch).await.unwrap();
    engine
        .run_once(now + Duration::milliseconds(999))
        .await
        .unwrap();
}

/// A model event as the evaluator would announce it, for tests that commit rounds by hand:
/// `kind` is its type (`model.disabled`…), `model` its `provider/model` id.
pub fn model_event(
    kind: &str,
    model: &str,
    name: &str,
    to: &str,
    fallback: Option<&str>,
    reasons: &[&str],
) -> modelwatch::store::events::NewEvent {
    let provider = model.split('/').next().unwrap_or(model);
    let enabled = to == "operational";
    let body = serde_json::json!({
        "type": kind, "occurred_at": "2025-01-01T00:00:00Z",
        "model": model, "model_name": name, "provider": provider,
        "from": "operational", "to": to,
        "decision": if enabled { "enabled" } else { "disabled" }, "enabled": enabled,
        "fallback": fallback, "reasons": reasons, "incident": null,
    });
    let event = modelwatch::vocabulary::Event::parse(&body.to_string())
        .unwrap_or_else(|e| panic!("{e}: {body}"));
    modelwatch::store::events::NewEvent {
        provider_id: provider.to_string(),
        model_key: Some(model.to_string()),
        public: true,
        body: event.body,
    }
}
