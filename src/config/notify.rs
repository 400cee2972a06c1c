//! `[notify]` settings: who may be delivered to, how hard to try, and how email is sent.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawNotify;
use super::Secret;

/// How email leaves the service.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailTransport {
    /// Writes each message as an `.eml` file into a folder (demo and tests).
    File(PathBuf),
    /// Logs the message's recipients and subject only (no delivery).
    Log,
    /// SMTP through lettre.
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        username: Option<String>,
        password: Option<Secret>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a local relay or a test sink.
    None,
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Networks webhooks may target although internal (loopback, private…): the only way
    /// past the SSRF guard, for deployments and tests that need it.
    pub allow_internal_targets: Vec<ipnet::IpNet>,
    /// Environment variable holding the key that encrypts webhook secrets at rest
    /// (32 bytes, base64). Without it a key file next to a SQLite database is created; a
    /// PostgreSQL database needs it (replicas share one key).
    pub secret_key_env: Option<String>,
    pub delivery_concurrency: usize,
    pub attempt_timeout: Duration,
    /// Failed deliveries are retried with backoff for this long (at least 24 h).
    pub retry_for: Duration,
    /// An endpoint failing every delivery for this long is disabled (and its owner told).
    pub disable_after: Duration,
    /// Subscription requests per client address per hour.
    pub subscribe_per_hour: u32,
    pub email_from: String,
    pub email: EmailTransport,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            allow_internal_targets: Vec::new(),
            secret_key_env: None,
            delivery_concurrency: 16,
            attempt_timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(26 * 3600),
            disable_after: Duration::from_secs(24 * 3600),
            subscribe_per_hour: 20,
            email_from: "modelwatch <modelwatch@localhost>".into(),
            email: EmailTransport::Log,
        }
    }
}

/// Validates `[notify]`; problems are returned as messages (located by the caller).
pub fn parse(raw: &RawNotify, env: &dyn Fn(&str) -> Option<String>) -> (NotifyConfig, Vec<String>) {
    let mut c = NotifyConfig::default();
    let mut problems = Vec::new();
    for cidr in &raw.allow_internal_targets {
        match super::parse_cidr(cidr) {
            Some(net) => c.allow_internal_targets.push(net),
            None => problems.push(format!(
                "`allow_internal_targets` entry `{cidr}` is not a CIDR like \"127.0.0.0/8\""
            )),
        }
    }
    c.secret_key_env = raw.secret_key_env.clone();
    if let Some(n) = raw.delivery_concurrency {
        c.delivery_concurrency = n.max(1);
    }
    let mut duration = |v: &Option<String>, name: &str, default: Duration| match v {
        None => default,
        Some(text) => humantime::parse_duration(text).unwrap_or_else(|_| {
            problems.push(format!(
                "`{name}` = `{text}` is not a duration; write e.g. \"10s\" or \"26h\""
            ));
            default
        }),
    };
    c.attempt_timeout = duration(&raw.attempt_timeout, "attempt_timeout", c.attempt_timeout);
    c.retry_for = duration(&raw.retry_for, "retry_for", c.retry_for);
    c.disable_after = duration(&raw.disable_after, "disable_after", c.disable_after);
    if let Some(n) = raw.subscribe_per_hour {
        c.subscribe_per_hour = n;
    }
    if let Some(from) = &raw.email_from {
        if from.parse::<lettre::message::Mailbox>().is_err() {
            problems.push(format!(
                "`email_from` = `{from}` is not an address like \"Status <status@example.com>\""
            ));
        } else {
            c.email_from = from.clone();
        }
    }
    c.email = match raw.email_transport.as_deref() {
        None | Some("log") => EmailTransport::Log,
        Some("file") => EmailTransport::File(PathBuf::from(
            raw.email_dir.clone().unwrap_or_else(|| "data/mail".into()),
        )),
        Some("smtp") => {
            let tls = match raw.smtp_tls.as_deref() {
                None | Some("starttls") => SmtpTls::StartTls,
                Some("tls") => SmtpTls::Tls,
                Some("none") => SmtpTls::None,
                Some(other) => {
                    problems.push(format!(
                        "`smtp_tls` must be \"starttls\", \"tls\" or \"none\", not `{other}`"
                    ));
                    SmtpTls::StartTls
                }
            };
            let from_env = |var: &Option<String>, problems: &mut Vec<String>| -> Option<String> {
                let name = var.as_ref()?;
                let value = env(name);
                if value.is_none() {
                    problems.push(format!(
                        "environment variable `{name}` (SMTP credentials) is not set"
                    ));
                }
                value
            };
            let username = from_env(&raw.smtp_username_env, &mut problems);
            let password = from_env(&raw.smtp_password_env, &mut problems).map(Secret::new);
            match &raw.smtp_host {
                Some(host) => EmailTransport::Smtp {
                    host: host.clone(),
                    port: raw.smtp_port.unwrap_or(match tls {
                        SmtpTls::Tls => 465,
                        _ => 587,
                    }),
                    tls,
                    username,
                    password,
                },
                None => {
                    problems.push("`email_transport = \"smtp\"` needs `smtp_host`".into());
                    EmailTransport::Log
                }
            }
        }
        Some(other) => {
            problems.push(format!(
                "`email_transport` must be \"smtp\", \"file\" or \"log\", not `{other}`"
            ));
            EmailTransport::Log
        }
    };
    (c, problems)
}
