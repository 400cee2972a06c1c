//! `modelwatch user add` and `modelwatch token create`: library functions so `main.rs`
//! only parses flags. Both open the configured database (applying migrations) and audit
//! what they did as the actor `cli`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::audit::Actor;
use super::{auth, tokens, AdminError, Scope};
use crate::config::{Config, Secret};
use crate::store::Store;

async fn open(config: &Config) -> anyhow::Result<Store> {
    Store::open_database(&config.server.database)
        .await
        .with_context(|| format!("opening the database {}", config.server.database))
}

/// Adds an admin user with `password`; errors say what to change.
pub async fn user_add(
    config: &Config,
    email: &str,
    password: &Secret,
    now: DateTime<Utc>,
) -> Result<String, AdminError> {
    let email = super::normalise_email(email)?;
    // Checked before opening the database, so a bad password changes nothing.
    super::password::check_new(password.expose())?;
    let store = open(config)
        .await
        .map_err(|e| AdminError::Invalid(format!("{e:#}")))?;
    auth::add_user(&store, &email, password.expose(), &Actor::cli(), None, now).await?;
    Ok(email)
}

/// Creates an API token; returns the token, to be printed once.
pub async fn token_create(
    config: &Config,
    scope: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Secret> {
    let scope = Scope::parse(scope).with_context(|| {
        format!("`{scope}` is not a scope; use read, operate, admin, ingest or agent")
    })?;
    let store = open(config).await?;
    let (_, token) =
        tokens::create(&store, scope, name.unwrap_or(""), &Actor::cli(), None, now).await?;
    Ok(token)
}

/// Reads one line from standard input as the password. At a terminal the typed characters
/// are not echoed (`stty -echo`, restored afterwards, whatever happens in between); piped
/// input is read as it is. The trailing newline is not part of the password.
pub fn read_password(prompt: &str) -> std::io::Result<Secret> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut line = String::new();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let _ = std::process::Command::new("stty").arg("-echo").status();
        let read = stdin.lock().read_line(&mut line);
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
        read?;
    } else {
        stdin.lock().read_line(&mut line)?;
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(Secret::new(password))
}
