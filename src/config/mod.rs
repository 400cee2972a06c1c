//! Configuration: TOML in, validated domain types out.
//!
//! [`Config::parse`] reads the text into the serde mirror in [`raw`], then validates every
//! value into the types below, collecting *all* problems with their line and column.
//! Environment lookups go through a function argument so tests never touch the process
//! environment ([`env`]; `check-config --no-env` reads a file without them). API keys only
//! ever come from the environment and are held as [`Secret`]. Problems are reported once
//! each, in line order, and a setting that failed never causes follow-on problems about
//! what refers to it (a fallback naming a model whose provider failed is still known).

pub mod agents;
mod cron;
mod cron_explain;
pub mod demo;
mod env;
mod error;
mod notify;
mod official;
mod paging;
mod policy;
mod raw;
mod simulation;
mod traffic;
mod unknown_key;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

pub use self::cron::CronSchedule;
pub use agents::AgentsConfig;
use env::{Env, Var};
use error::Locator;
pub use error::{ConfigError, ConfigProblem};
pub use notify::{EmailTransport, NotifyConfig, SmtpTls};
pub use official::{OfficialKind, OfficialSource};
pub use paging::{PagerDutyChannel, PagingConfig, PagingWebhook, PAGERDUTY_EVENTS_URL};
use raw::{RawFault, RawModel, RawProvider, RawSimulation};
pub use simulation::{FaultWindow, SimulationConfig};
pub use traffic::{SimulatedTraffic, TrafficConfig};

use crate::evaluate::Policy;
use crate::vocabulary::Outcome;

/// A secret value (API key, AWS secret). Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself, for the one place that needs it: the outgoing request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    Anthropic,
    OpenAi,
    Gemini,
    Bedrock,
    Simulated,
}

impl ProviderKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "anthropic" => ProviderKind::Anthropic,
            "openai" => ProviderKind::OpenAi,
            "gemini" => ProviderKind::Gemini,
            "bedrock" => ProviderKind::Bedrock,
            "simulated" => ProviderKind::Simulated,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Simulated => "simulated",
        }
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::OpenAi => Some("https://api.openai.com/v1"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com"),
            ProviderKind::Bedrock | ProviderKind::Simulated => None,
        }
    }
}

/// Which OpenAI API a provider of kind `openai` is probed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiApi {
    ChatCompletions,
    Responses,
}

/// How a provider authenticates, resolved from the environment at load time.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    ApiKey(Secret),
    Aws {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        region: String,
    },
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The page's public address for links (feeds, emails, webhooks, the Statuspage API's
    /// `page.url`). Without `public_url` in the file it is `http://{listen}` until the server
    /// binds, and then the address actually bound (see [`ServerConfig::bound_to`]).
    pub public_url: String,
    /// Whether `public_url` was set in the file; if not, it follows the bound address.
    pub public_url_configured: bool,
    pub database: Database,
    pub write_batch: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Timeouts and the connection cap of the HTTP server.
    pub http: HttpLimits,
}

/// The HTTP server's limits against slow and idle clients (`[server]`: `header_timeout`,
/// `body_timeout`, `max_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time to receive a request's head, and the longest a keep-alive connection idles.
    pub header_timeout: Duration,
    /// Time to receive a request's body.
    pub body_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl ServerConfig {
    /// Records the address the server is bound to. A default public URL follows it: the
    /// configured `listen` may have been replaced (`serve --listen`) or may name port 0,
    /// which only binding resolves, and links must point where the server really answers.
    /// A configured `public_url` (a proxy's address, say) is left as it is.
    pub fn bound_to(&mut self, addr: SocketAddr) {
        if !self.public_url_configured {
            self.public_url = format!("http://{addr}");
        }
    }
}

/// Where the data lives (`[server] database`).
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file: the default, one process, nothing else to run.
    Sqlite(PathBuf),
    /// A PostgreSQL database, for several replicas. `url` may carry a password; `shown` is
    /// the URL without it, for messages.
    Postgres { url: Secret, shown: String },
}

impl Database {
    /// Where the key that protects webhook secrets is kept when no environment variable
    /// gives it: next to a SQLite file. A PostgreSQL deployment has no file of its own, and
    /// its replicas must share one key, so it needs `[notify] secret_key_env`.
    pub fn key_file(&self) -> Option<PathBuf> {
        match self {
            Database::Sqlite(path) => Some(path.with_file_name("modelwatch.key")),
            Database::Postgres { .. } => None,
        }
    }
}

impl PartialEq for Database {
    fn eq(&self, other: &Database) -> bool {
        match (self, other) {
            (Database::Sqlite(a), Database::Sqlite(b)) => a == b,
            (Database::Postgres { url: a, .. }, Database::Postgres { url: b, .. }) => {
                a.expose() == b.expose()
            }
            _ => false,
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres { shown, .. } => f.write_str(shown),
        }
    }
}

/// The database `database` names: a path or a `sqlite://` URL of a SQLite file, or a
/// `postgres://` (`postgresql://`) URL. Any other URL is refused rather than taken as a file
/// name; messages never show the password a database URL carries.
fn parse_database(text: &str) -> Result<Database, String> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        let mut url = url::Url::parse(text).map_err(|e| {
            format!("`database` is not a valid PostgreSQL URL ({e}): write postgres://user:password@host:5432/name")
        })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err("`database` names no PostgreSQL host: write postgres://user:password@host:5432/name".into());
        }
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        return Ok(Database::Postgres {
            url: Secret::new(text),
            shown: url.to_string(),
        });
    }
    database_path(text).map(Database::Sqlite)
}

/// The SQLite file `database` names: a path, or a `sqlite://` URL of one. Any other URL
/// (`mysql://…`) is refused rather than taken as a file name; the message names only its
/// scheme, never the credentials a database URL carries.
fn database_path(text: &str) -> Result<PathBuf, String> {
    if let Some(path) = text
        .strip_prefix("sqlite://")
        .or_else(|| text.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err("`database` = \"sqlite://\" names no file".into());
        }
        return Ok(PathBuf::from(path));
    }
    let scheme = text.split_once("://").map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    match scheme {
        Some(scheme) => Err(format!(
            "`database` is a `{scheme}://` URL: modelwatch stores its data in SQLite or PostgreSQL; give a file path (e.g. \"data/modelwatch.db\"), a `sqlite://` URL or a `postgres://` URL"
        )),
        None if text.trim().is_empty() => {
            Err("`database` is empty: give a file path, e.g. \"data/modelwatch.db\"".into())
        }
        None => Ok(PathBuf::from(text)),
    }
}

/// A network like `10.0.0.0/8`, or one address standing for itself.
pub fn parse_cidr(text: &str) -> Option<ipnet::IpNet> {
    text.trim()
        .parse::<ipnet::IpNet>()
        .or_else(|_| {
            text.trim()
                .parse::<std::net::IpAddr>()
                .map(ipnet::IpNet::from)
        })
        .ok()
}

/// How long stored data is kept, per resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionConfig {
    pub raw: Duration,
    pub minute: Duration,
    pub hour: Duration,
    pub day: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let days = |d: u64| Duration::from_secs(d * 86_400);
        RetentionConfig {
            raw: days(2),
            minute: days(3),
            hour: days(32),
            day: days(400),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    /// Base URL without a trailing slash (empty for `simulated`).
    pub base_url: String,
    pub api_key_env: Option<String>,
    pub credentials: Credentials,
    pub schedule: CronSchedule,
    /// Bounds a whole probe: a stall before or after the first token ends as `timeout`.
    pub timeout: Duration,
    /// At most this many probes of this provider run at once.
    pub concurrency: usize,
    pub headers: Vec<(String, String)>,
    pub openai_api: OpenAiApi,
    pub api_version: Option<String>,
    pub token_limit_field: String,
    pub models: Vec<Arc<ModelConfig>>,
    /// The provider's own status page, polled and shown beside our state.
    pub official: Option<OfficialSource>,
}

impl ProviderConfig {
    /// Every secret value of this provider, for scrubbing error text.
    pub fn secrets(&self) -> Vec<&str> {
        match &self.credentials {
            Credentials::None => Vec::new(),
            Credentials::ApiKey(k) => vec![k.expose()],
            Credentials::Aws {
                secret_access_key,
                session_token,
                ..
            } => {
                let mut s = vec![secret_access_key.expose()];
                if let Some(t) = session_token {
                    s.push(t.expose());
                }
                s
            }
        }
    }

    /// The API key, when the provider uses one.
    pub fn api_key(&self) -> Option<&str> {
        match &self.credentials {
            Credentials::ApiKey(k) => Some(k.expose()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub id: String,
    pub name: String,
    /// Model ids of the same provider, or `provider/model` ids of others, in order of preference.
    pub fallback: Vec<String>,
    /// The model's own schedule, or its provider's.
    pub schedule: CronSchedule,
    pub prompt: String,
    /// Output budget; about 16 tokens suits reasoning models where 1 token would fail.
    pub max_tokens: u32,
    pub reasoning_effort: Option<String>,
    pub thinking_budget: Option<i64>,
    pub deployment: Option<String>,
    pub simulation: SimulationConfig,
    /// How the evaluator judges this model (defaults, then `[evaluator]`, provider, model).
    pub policy: Policy,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from (`<built-in demo>` for the demo).
    pub path: PathBuf,
    pub server: ServerConfig,
    pub retention: RetentionConfig,
    pub notify: NotifyConfig,
    pub paging: PagingConfig,
    pub traffic: TrafficConfig,
    pub agents: AgentsConfig,
    pub providers: Vec<Arc<ProviderConfig>>,
}

pub const DEFAULT_PROMPT: &str = "Reply with the single word: ok";
pub const DEFAULT_MAX_TOKENS: u32 = 16;
const DEFAULT_SCHEDULE: &str = "0 * * * * *";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Config {
    /// Reads and validates a file, resolving `${ENV}` and key variables from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Config::parse(&text, path, &|name| std::env::var(name).ok())
    }

    /// Validates `text` (read from `path`), looking variables up with `env`.
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::parse_in(text, path, &Env::checked(env))
    }

    /// Reads and validates a file without looking at the environment (`check-config
    /// --no-env`): variables the file names are not required to be set. Returns the
    /// configuration (never to be run: its secrets are placeholders) and the names of the
    /// variables that were not checked.
    pub fn load_without_env(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Config::parse_without_env(&text, path)
    }

    /// [`Config::load_without_env`] on text already read.
    pub fn parse_without_env(
        text: &str,
        path: &Path,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let env = Env::unchecked();
        let config = Config::parse_in(text, path, &env)?;
        Ok((config, env.into_unchecked()))
    }

    fn parse_in(text: &str, path: &Path, env: &Env<'_>) -> Result<Config, ConfigError> {
        let locate = Locator::new(text);
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let message = e.message().trim();
            let message = unknown_key::reword(message).unwrap_or_else(|| message.to_string());
            ConfigError::new(path, vec![locate.at(offset, message)])
        })?;
        let mut v = Validator {
            locate: &locate,
            env,
            problems: Vec::new(),
            fallbacks: Vec::new(),
            policy: Policy::default(),
        };
        let config = v.config(raw, path);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::new(path, v.problems))
        }
    }

    /// Every model with its provider, in configuration order.
    pub fn models(&self) -> impl Iterator<Item = (&Arc<ProviderConfig>, &Arc<ModelConfig>)> {
        self.providers
            .iter()
            .flat_map(|p| p.models.iter().map(move |m| (p, m)))
    }

    /// Every model's fallbacks as full `provider/model` ids, in configuration order (one
    /// list per model of [`Config::models`]); an entry naming no configured model is left
    /// out (configuration checking refuses those).
    pub fn resolved_fallbacks(&self) -> Vec<Vec<String>> {
        let known: HashSet<String> = self
            .models()
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect();
        self.models()
            .map(|(p, m)| {
                m.fallback
                    .iter()
                    .filter_map(|f| resolve_fallback(&known, &p.id, f))
                    .collect()
            })
            .collect()
    }

    pub fn model_count(&self) -> usize {
        self.providers.iter().map(|p| p.models.len()).sum()
    }
}

struct Validator<'a> {
    locate: &'a Locator<'a>,
    env: &'a Env<'a>,
    problems: Vec<ConfigProblem>,
    /// (provider, model, fallback entry), checked once every model is known.
    fallbacks: Vec<(String, String, Spanned<String>)>,
    /// The policy of `[evaluator]` over the defaults; providers and models refine it.
    policy: Policy,
}

impl Validator<'_> {
    fn problem<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        self.problems.push(self.locate.at(at.span().start, message));
    }

    fn config(&mut self, raw: raw::RawConfig, path: &Path) -> Config {
        let listen = match &raw.server.listen {
            Some(l) => match self.interpolate(l).map(|text| text.parse()) {
                // A variable that is not set was reported already (or not checked).
                None => default_listen(),
                Some(Ok(addr)) => addr,
                Some(Err(_)) => {
                    self.problem(
                        l,
                        format!(
                            "`listen` must be an address like 127.0.0.1:8080, not `{}`",
                            l.get_ref()
                        ),
                    );
                    default_listen()
                }
            },
            None => default_listen(),
        };
        let database = match &raw.server.database {
            Some(d) => {
                let text = self.interpolate_or_as_written(d);
                match parse_database(&text) {
                    Ok(database) => database,
                    Err(message) => {
                        self.problem(d, message);
                        Database::Sqlite(PathBuf::from("data/modelwatch.db"))
                    }
                }
            }
            None => Database::Sqlite(PathBuf::from("data/modelwatch.db")),
        };
        let write_batch = raw
            .server
            .write_batch
            .as_ref()
            .map(|b| *b.get_ref())
            .unwrap_or(256)
            .max(1);
        let public_url_configured = raw.server.public_url.is_some();
        let public_url = match &raw.server.public_url {
            Some(u) => {
                let resolved = self.interpolate(u);
                let url = resolved.clone().unwrap_or_else(|| u.get_ref().clone());
                let http = reqwest::Url::parse(&url)
                    .is_ok_and(|p| p.scheme() == "http" || p.scheme() == "https");
                if http || resolved.is_none() {
                    url.trim_end_matches('/').to_string()
                } else {
                    self.problem(
                        u,
                        format!("`public_url` must be an http(s) URL, not `{url}`"),
                    );
                    format!("http://{listen}")
                }
            }
            None => format!("http://{listen}"),
        };
        let http = self.http_limits(&raw.server);
        let mut trusted_proxies = Vec::new();
        for entry in &raw.server.trusted_proxies {
            let Some(text) = self.interpolate(entry) else {
                continue;
            };
            match parse_cidr(&text) {
                Some(net) => trusted_proxies.push(net),
                None => self.problem(
                    entry,
                    format!(
                        "`trusted_proxies` entry `{}` is not a CIDR like \"10.0.0.0/8\" or an address",
                        entry.get_ref()
                    ),
                ),
            }
        }
        let notify = match &raw.notify {
            Some(n) => {
                let env = self.env;
                let (notify, problems) = notify::parse(n.get_ref(), &|name| env.secret(name));
                for message in problems {
                    self.problem(n, format!("notify: {message}"));
                }
                notify
            }
            None => NotifyConfig::default(),
        };
        let paging = match &raw.paging {
            Some(p) => {
                let env = self.env;
                let (paging, problems) = paging::parse(p.get_ref(), &|name| env.secret(name));
                for (offset, message) in problems {
                    let offset = offset.unwrap_or(p.span().start);
                    self.problems
                        .push(self.locate.at(offset, format!("paging: {message}")));
                }
                paging
            }
            None => PagingConfig::default(),
        };
        let retention = self.retention(&raw.retention);
        self.policy = self.policy(&Policy::default(), raw.evaluator.as_ref());

        // Every model the file declares, even one whose provider or model fails below: a
        // fallback naming it is right, and the failure is reported once, where it is.
        let declared: HashSet<String> = raw
            .providers
            .iter()
            .flat_map(|p| {
                p.models
                    .iter()
                    .map(move |m| format!("{}/{}", p.id.get_ref(), m.id.get_ref()))
            })
            .collect();
        let mut providers = Vec::new();
        let mut seen = HashSet::new();
        for p in raw.providers {
            if !seen.insert(p.id.get_ref().clone()) {
                self.problem(
                    &p.id,
                    format!(
                        "duplicate provider id `{}`: provider ids must be unique",
                        p.id.get_ref()
                    ),
                );
            }
            if let Some(provider) = self.provider(p) {
                providers.push(provider);
            }
        }
        if providers.is_empty() && self.problems.is_empty() {
            self.problems.push(ConfigProblem {
                line: 0,
                column: 0,
                message:
                    "no providers configured: add at least one [[providers]] table with models"
                        .into(),
            });
        }
        self.check_fallbacks(&declared);
        let (traffic, problems) = traffic::parse(&raw.traffic, &|key| declared.contains(key));
        for message in problems {
            // Each message names its key (`traffic.max_batch`); the table has no span.
            self.problems.push(ConfigProblem {
                line: 0,
                column: 0,
                message,
            });
        }
        let (agents, problems) = agents::parse(&raw.agents);
        for message in problems {
            self.problems.push(ConfigProblem {
                line: 0,
                column: 0,
                message,
            });
        }
        Config {
            path: path.to_path_buf(),
            notify,
            paging,
            traffic,
            agents,
            server: ServerConfig {
                listen,
                public_url,
                public_url_configured,
                database,
                write_batch,
                trusted_proxies,
                http,
            },
            retention,
            providers: providers.into_iter().map(Arc::new).collect(),
        }
    }

    fn http_limits(&mut self, raw: &raw::RawServer) -> HttpLimits {
        let d = HttpLimits::default();
        let header_timeout = self.duration_or(&raw.header_timeout, d.header_timeout);
        let body_timeout = self.duration_or(&raw.body_timeout, d.body_timeout);
        let max_connections = match &raw.max_connections {
            Some(n) if *n.get_ref() == 0 => {
                self.problem(n, "`max_connections` must be at least 1");
                d.max_connections
            }
            Some(n) => *n.get_ref(),
            None => d.max_connections,
        };
        for (value, name, got) in [
            (&raw.header_timeout, "header_timeout", header_timeout),
            (&raw.body_timeout, "body_timeout", body_timeout),
        ] {
            if let Some(v) = value {
                if got.is_zero() || got > Duration::from_secs(600) {
                    self.problem(v, format!("`{name}` must be between 1s and 10m"));
                }
            }
        }
        HttpLimits {
            header_timeout,
            body_timeout,
            max_connections,
        }
    }

    fn retention(&mut self, raw: &raw::RawRetention) -> RetentionConfig {
        let d = RetentionConfig::default();
        let retention = RetentionConfig {
            raw: self.duration_or(&raw.raw, d.raw),
            minute: self.duration_or(&raw.minute, d.minute),
            hour: self.duration_or(&raw.hour, d.hour),
            day: self.duration_or(&raw.day, d.day),
        };
        // Hour and day rollups are computed exactly from raw results, so raw results must
        // outlive the largest bucket still being filled.
        if retention.raw < Duration::from_secs(2 * 86_400) {
            if let Some(r) = &raw.raw {
                self.problem(r, "`retention.raw` must be at least 2d: day rollups are computed from raw results");
            }
        }
        retention
    }

    fn duration_or(&mut self, value: &Option<Spanned<String>>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(v) => match humantime::parse_duration(v.get_ref()) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    self.problem(
                        v,
                        format!(
                            "`{}` is not a duration; write e.g. \"30s\", \"5m\", \"2d\"",
                            v.get_ref()
                        ),
                    );
                    default
                }
            },
        }
    }

    /// Replaces `${NAME}` with the variable's value. `None` when a variable is not set (a
    /// problem, reported here) or not checked (`--no-env`): the caller then skips its own
    /// checks of the value, so one missing variable is one problem.
    fn interpolate(&mut self, value: &Spanned<String>) -> Option<String> {
        let text = value.get_ref();
        let mut out = String::new();
        let mut complete = true;
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.problem(value, "unterminated `${` in value; write `${NAME}`");
                return None;
            };
            let name = &after[..end];
            match self.env.var(name) {
                Var::Set(v) => out.push_str(&v),
                Var::Unchecked => complete = false,
                Var::Missing => {
                    complete = false;
                    self.problem(
                        value,
                        format!(
                            "environment variable `{name}` is not set; set it or remove `${{{name}}}`"
                        ),
                    );
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        complete.then_some(out)
    }

    /// [`Self::interpolate`], or the value as written when it cannot be completed (for
    /// settings that need no further check, such as the database path).
    fn interpolate_or_as_written(&mut self, value: &Spanned<String>) -> String {
        self.interpolate(value)
            .unwrap_or_else(|| value.get_ref().clone())
    }

    fn provider(&mut self, p: RawProvider) -> Option<ProviderConfig> {
        let id = p.id.get_ref().clone();
        if !valid_id(&id) {
            self.problem(
                &p.id,
                format!(
                    "provider id `{id}` may use only lowercase letters, digits, `-`, `_` and `.`"
                ),
            );
        }
        let Some(kind) = ProviderKind::parse(p.kind.get_ref()) else {
            self.problem(
                &p.kind,
                format!("unknown provider kind `{}`: use anthropic, openai, gemini, bedrock or simulated", p.kind.get_ref()),
            );
            return None;
        };
        let schedule = match &p.schedule {
            Some(s) => self.schedule(s),
            None => CronSchedule::parse(DEFAULT_SCHEDULE).ok(),
        };
        let timeout = self.duration_or(&p.timeout, DEFAULT_TIMEOUT);
        let concurrency = match &p.concurrency {
            Some(c) if *c.get_ref() == 0 => {
                self.problem(c, "`concurrency` must be at least 1");
                1
            }
            Some(c) => *c.get_ref(),
            None => 4,
        };
        let region = p.region.as_ref().map(|r| self.interpolate_or_as_written(r));
        let base_url = match (&p.base_url, kind) {
            (Some(u), _) => match self.interpolate(u) {
                Some(url) => {
                    if !(url.starts_with("http://") || url.starts_with("https://"))
                        || reqwest::Url::parse(&url).is_err()
                    {
                        self.problem(u, format!("`base_url` must be an http(s) URL, not `{url}`"));
                    }
                    url.trim_end_matches('/').to_string()
                }
                None => u.get_ref().trim_end_matches('/').to_string(),
            },
            (None, ProviderKind::Bedrock) => {
                let region = region
                    .clone()
                    .or_else(|| self.aws_region())
                    .unwrap_or_default();
                format!("https://bedrock-runtime.{region}.amazonaws.com")
            }
            (None, k) => k.default_base_url().unwrap_or_default().to_string(),
        };
        let credentials = self.credentials(&p, kind, region);
        let mut headers = Vec::new();
        for (name, raw_value) in &p.headers {
            // A value whose variable is missing was reported already (or not checked): only
            // its name is checked then, and it is kept as written.
            let value = self.interpolate(raw_value);
            let bad_value = value
                .as_ref()
                .is_some_and(|v| http::HeaderValue::try_from(v.as_str()).is_err());
            if http::HeaderName::try_from(name.as_str()).is_err() || bad_value {
                self.problem(
                    raw_value,
                    format!("header `{name}` of provider `{id}` is not a valid HTTP header"),
                );
            }
            let value = value.unwrap_or_else(|| raw_value.get_ref().clone());
            headers.push((name.clone(), value));
        }
        let openai_api = match &p.api {
            None => OpenAiApi::ChatCompletions,
            Some(api) => match api.get_ref().as_str() {
                "chat" => OpenAiApi::ChatCompletions,
                "responses" => OpenAiApi::Responses,
                other => {
                    let msg = format!("`api` must be \"chat\" or \"responses\", not `{other}`");
                    self.problem(api, msg);
                    OpenAiApi::ChatCompletions
                }
            },
        };
        let token_limit_field = match &p.token_limit_field {
            None => "max_tokens".to_string(),
            Some(f) if matches!(f.get_ref().as_str(), "max_tokens" | "max_completion_tokens") => {
                f.get_ref().clone()
            }
            Some(f) => {
                self.problem(
                    f,
                    "`token_limit_field` must be \"max_tokens\" or \"max_completion_tokens\"",
                );
                "max_tokens".to_string()
            }
        };
        let provider_sim = match &p.simulate {
            Some(s) => self.simulation(s, &SimulationConfig::default()),
            None => SimulationConfig::default(),
        };
        if let Some(sim) = p
            .simulate
            .as_ref()
            .filter(|_| kind != ProviderKind::Simulated)
        {
            self.problem(
                sim,
                "`simulate` applies only to providers of kind \"simulated\"",
            );
        }
        let provider_policy = self.policy(&self.policy.clone(), p.evaluator.as_ref());
        let model_ids: Vec<String> = p.models.iter().map(|m| m.id.get_ref().clone()).collect();
        let official = p.official.as_ref().map(|raw| {
            let (source, problems) = official::parse(raw, &id, &model_ids);
            for (offset, message) in problems {
                let offset = offset.unwrap_or(p.id.span().start);
                self.problems.push(self.locate.at(offset, message));
            }
            source
        });
        let mut models = Vec::new();
        let mut seen = HashSet::new();
        if p.models.is_empty() {
            self.problem(
                &p.id,
                format!("provider `{id}` has no models: add `models = [{{ id = \"...\" }}]`"),
            );
        }
        for m in p.models {
            if !seen.insert(m.id.get_ref().clone()) {
                self.problem(
                    &m.id,
                    format!("duplicate model id `{}` in provider `{id}`", m.id.get_ref()),
                );
            }
            if let Some(model) = self.model(
                &id,
                m,
                schedule.as_ref(),
                &provider_sim,
                &provider_policy,
                kind,
            ) {
                models.push(Arc::new(model));
            }
        }
        Some(ProviderConfig {
            name: p.name.unwrap_or_else(|| id.clone()),
            id,
            kind,
            base_url,
            api_key_env: p.api_key_env.as_ref().map(|e| e.get_ref().clone()),
            credentials,
            schedule: schedule?,
            timeout,
            concurrency,
            headers,
            openai_api,
            api_version: p.api_version.as_ref().map(|v| v.get_ref().clone()),
            token_limit_field,
            models,
            official,
        })
    }

    fn aws_region(&self) -> Option<String> {
        self.env
            .secret("AWS_REGION")
            .or_else(|| self.env.secret("AWS_DEFAULT_REGION"))
    }

    fn credentials(
        &mut self,
        p: &RawProvider,
        kind: ProviderKind,
        region: Option<String>,
    ) -> Credentials {
        match kind {
            ProviderKind::Simulated => Credentials::None,
            ProviderKind::Bedrock => {
                let region = region.or_else(|| self.aws_region());
                let key_id = self.env.secret("AWS_ACCESS_KEY_ID");
                let secret = self.env.secret("AWS_SECRET_ACCESS_KEY");
                match (key_id, secret, region) {
                    (Some(access_key_id), Some(secret), Some(region)) => Credentials::Aws {
                        access_key_id,
                        secret_access_key: Secret::new(secret),
                        session_token: self.env.secret("AWS_SESSION_TOKEN").map(Secret::new),
                        region,
                    },
                    (_, _, None) => {
                        self.problem(
                            &p.kind,
                            "bedrock needs a region: set `region = \"us-east-1\"` or AWS_REGION",
                        );
                        Credentials::None
                    }
                    _ => {
                        self.problem(&p.kind, "bedrock credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if temporary)");
                        Credentials::None
                    }
                }
            }
            _ => match &p.api_key_env {
                // Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) need no key.
                None => Credentials::None,
                Some(var) => match self.env.secret(var.get_ref()).filter(|v| !v.is_empty()) {
                    Some(key) => Credentials::ApiKey(Secret::new(key)),
                    None => {
                        let msg = format!(
                            "environment variable `{}` (api_key_env of provider `{}`) is not set; export it or remove `api_key_env` for a server without keys",
                            var.get_ref(),
                            p.id.get_ref()
                        );
                        self.problem(var, msg);
                        Credentials::None
                    }
                },
            },
        }
    }

    fn policy(&mut self, base: &Policy, raw: Option<&Spanned<raw::RawPolicy>>) -> Policy {
        let Some(raw) = raw else {
            return base.clone();
        };
        let (policy, problems) = policy::merge(base, raw.get_ref());
        for message in problems {
            self.problems.push(
                self.locate
                    .at(policy::span_of(raw), format!("evaluator: {message}")),
            );
        }
        policy
    }

    fn schedule(&mut self, s: &Spanned<String>) -> Option<CronSchedule> {
        match CronSchedule::parse(s.get_ref()) {
            Ok(c) => Some(c),
            Err(e) => {
                self.problem(s, e);
                None
            }
        }
    }

    fn model(
        &mut self,
        provider_id: &str,
        m: RawModel,
        provider_schedule: Option<&CronSchedule>,
        provider_sim: &SimulationConfig,
        provider_policy: &Policy,
        kind: ProviderKind,
    ) -> Option<ModelConfig> {
        let policy = self.policy(provider_policy, m.evaluator.as_ref());
        let id = m.id.get_ref().clone();
        if id.is_empty() || id.contains(char::is_whitespace) {
            self.problem(
                &m.id,
                format!("model id `{id}` must be non-empty and without spaces"),
            );
        }
        for f in &m.fallback {
            self.fallbacks
                .push((provider_id.to_string(), id.clone(), f.clone()));
        }
        let schedule = match &m.schedule {
            Some(s) => self.schedule(s),
            None => provider_schedule.cloned(),
        };
        let max_tokens = match &m.max_tokens {
            Some(t) if *t.get_ref() == 0 => {
                self.problem(
                    t,
                    "`max_tokens` must be at least 1 (about 16 suits reasoning models)",
                );
                DEFAULT_MAX_TOKENS
            }
            Some(t) => *t.get_ref(),
            None => DEFAULT_MAX_TOKENS,
        };
        let simulation = match &m.simulate {
            Some(s) if kind == ProviderKind::Simulated => self.simulation(s, provider_sim),
            Some(s) => {
                self.problem(
                    s,
                    "`simulate` applies only to models of a \"simulated\" provider",
                );
                provider_sim.clone()
            }
            None => provider_sim.clone(),
        };
        Some(ModelConfig {
            name: m.name.unwrap_or_else(|| id.clone()),
            id,
            fallback: m.fallback.iter().map(|f| f.get_ref().clone()).collect(),
            schedule: schedule?,
            prompt: m.prompt.unwrap_or_else(|| DEFAULT_PROMPT.to_string()),
            max_tokens,
            reasoning_effort: m.reasoning_effort,
            thinking_budget: m.thinking_budget,
            deployment: m.deployment,
            simulation,
            policy,
        })
    }

    fn simulation(
        &mut self,
        s: &Spanned<RawSimulation>,
        base: &SimulationConfig,
    ) -> SimulationConfig {
        let raw = s.get_ref();
        let mut dur = |v: &Option<String>, default: Duration, this: &mut Self| match v {
            None => default,
            Some(text) => humantime::parse_duration(text).unwrap_or_else(|_| {
                this.problem(
                    s,
                    format!("`{text}` in `simulate` is not a duration; write e.g. \"300ms\""),
                );
                default
            }),
        };
        let ttft = dur(&raw.ttft, base.ttft, self);
        let generation = dur(&raw.generation, base.generation, self);
        let jitter = dur(&raw.jitter, base.jitter, self);
        let error_rate = self.rate(s, raw.error_rate, base.error_rate);
        let error_mix = self.mix(s, raw.error_mix.as_ref(), &base.error_mix);
        let faults = if raw.faults.is_empty() {
            base.faults.clone()
        } else {
            raw.faults
                .iter()
                .map(|f| self.fault(s, f, &error_mix, &mut dur))
                .collect()
        };
        SimulationConfig {
            ttft,
            generation,
            jitter,
            error_rate,
            error_mix,
            faults,
        }
    }

    fn fault(
        &mut self,
        s: &Spanned<RawSimulation>,
        f: &RawFault,
        base_mix: &[(Outcome, u32)],
        dur: &mut dyn FnMut(&Option<String>, Duration, &mut Self) -> Duration,
    ) -> FaultWindow {
        FaultWindow {
            after: dur(&Some(f.after.clone()), Duration::ZERO, self),
            duration: dur(&Some(f.duration.clone()), Duration::ZERO, self),
            every: f
                .every
                .as_ref()
                .map(|e| dur(&Some(e.clone()), Duration::ZERO, self)),
            error_rate: self.rate(s, f.error_rate, 0.0),
            error_mix: self.mix(s, f.error_mix.as_ref(), base_mix),
            ttft: f
                .ttft
                .as_ref()
                .map(|t| dur(&Some(t.clone()), Duration::ZERO, self)),
        }
    }

    fn rate(&mut self, s: &Spanned<RawSimulation>, rate: Option<f64>, default: f64) -> f64 {
        match rate {
            None => default,
            Some(r) if (0.0..=1.0).contains(&r) => r,
            Some(r) => {
                self.problem(
                    s,
                    format!("`error_rate` must be between 0.0 and 1.0, not {r}"),
                );
                default
            }
        }
    }

    fn mix(
        &mut self,
        s: &Spanned<RawSimulation>,
        mix: Option<&std::collections::BTreeMap<String, u32>>,
        default: &[(Outcome, u32)],
    ) -> Vec<(Outcome, u32)> {
        let Some(mix) = mix else {
            return default.to_vec();
        };
        let mut out = Vec::new();
        for (name, weight) in mix {
            match name.parse::<Outcome>() {
                Ok(Outcome::Ok) | Err(_) => {
                    self.problem(s, format!("`error_mix` key `{name}` is not an error class"))
                }
                Ok(o) => out.push((o, *weight)),
            }
        }
        if out.iter().all(|(_, w)| *w == 0) {
            return default.to_vec();
        }
        out
    }

    /// Fallbacks must name configured models: `model` (same provider) or `provider/model`.
    /// `declared` holds every model of the file, valid or not (see [`Validator::config`]).
    fn check_fallbacks(&mut self, declared: &HashSet<String>) {
        for (provider, model, fallback) in std::mem::take(&mut self.fallbacks) {
            match resolve_fallback(declared, &provider, fallback.get_ref()) {
                Some(full) if full == format!("{provider}/{model}") => {
                    self.problem(&fallback, format!("model `{provider}/{model}` lists itself as a fallback"))
                }
                Some(_) => {}
                None => self.problem(
                    &fallback,
                    format!(
                        "fallback `{}` of model `{provider}/{model}` is not a configured model; use a model id of the same provider or `provider/model`",
                        fallback.get_ref()
                    ),
                ),
            }
        }
    }
}

/// The full `provider/model` id a fallback entry names, if it names a known model: a model
/// of the same provider first (model ids may contain `/`), else a `provider/model` id.
pub fn resolve_fallback(known: &HashSet<String>, provider: &str, fallback: &str) -> Option<String> {
    let same_provider = format!("{provider}/{fallback}");
    if known.contains(&same_provider) {
        Some(same_provider)
    } else if known.contains(fallback) {
        Some(fallback.to_string())
    } else {
        None
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
