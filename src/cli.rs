//! The commands behind `modelwatch probe`, `check-config` and `status`, as library functions
//! so tests call them directly; `main.rs` only parses flags and prints.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use crate::clock::Clock;
use crate::config::{demo, Config, ConfigError};
use crate::probe::{http_client, prober_for, ProbeResult};
use crate::schedule;

/// Probes every configured model once, concurrently within each provider's limit, and
/// returns the results in configuration order.
pub async fn probe_once(config: &Config) -> Vec<ProbeResult> {
    let clock = Clock::system();
    let client = http_client();
    let planned = schedule::plan(config, &clock, |p| prober_for(p.kind, &client, clock));
    let probes = planned.into_iter().map(|p| async move {
        // The semaphore is never closed here, so acquiring cannot fail; a failure would only
        // mean running without the limit.
        let _permit = p.limit.acquire().await.ok();
        let started_at = clock.now();
        let report = p.prober.probe(&p.target).await;
        ProbeResult {
            provider: p.target.provider.id.clone(),
            model: p.target.model.id.clone(),
            started_at,
            report,
            trigger: crate::probe::Trigger::Scheduled,
        }
    });
    join_all(probes).await
}

/// A fixed-width table: model, outcome, status, ttft, total, request id, then any error.
pub fn format_table(results: &[ProbeResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.model_key().len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:<12}  {:>6}  {:>8}  {:>8}  REQUEST ID",
        "MODEL", "OUTCOME", "STATUS", "TTFT", "TOTAL"
    );
    for r in results {
        let ms = |v: Option<u32>| v.map(|v| format!("{v}ms")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<width$}  {:<12}  {:>6}  {:>8}  {:>8}  {}",
            r.model_key(),
            r.report.outcome.as_str(),
            r.report
                .http_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            ms(r.report.ttft_ms),
            ms(Some(r.report.total_ms)),
            r.report.request_id.as_deref().unwrap_or("-"),
        );
        if let Some(error) = &r.report.error {
            let _ = writeln!(out, "{:<width$}  └ {error}", "");
        }
    }
    out
}

/// The configuration a command works on: the file given, or else the built-in demo (as
/// `serve` runs it, so every command without `--config` sees the demo's database).
pub fn config_or_demo(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        Some(path) => Config::load(path),
        None => demo::demo_config(),
    }
}

/// `3 models`, `1 model`: a count with its noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A one-paragraph summary of a valid configuration for `check-config`.
pub fn describe(config: &Config) -> String {
    let mut out = format!(
        "{}: ok — {}, {}; database {}; listen {}\n",
        config.path.display(),
        count(config.providers.len(), "provider", "providers"),
        count(config.model_count(), "model", "models"),
        config.server.database,
        config.server.listen
    );
    for p in &config.providers {
        let _ = writeln!(
            out,
            "  {} ({}, {}): {}, schedule `{}`, timeout {}, concurrency {}",
            p.id,
            p.kind.as_str(),
            if p.base_url.is_empty() {
                "built in"
            } else {
                &p.base_url
            },
            count(p.models.len(), "model", "models"),
            p.schedule.expression(),
            humantime::format_duration(p.timeout),
            p.concurrency
        );
    }
    out
}

/// What `check-config --no-env` adds to the summary: the variables it did not check.
pub fn describe_unchecked(variables: &[String]) -> String {
    if variables.is_empty() {
        return "environment not checked (--no-env); the file names no environment variables\n"
            .to_string();
    }
    let names: Vec<String> = variables.iter().map(|v| format!("`{v}`")).collect();
    format!(
        "environment not checked (--no-env): {} {} not checked; set {} where modelwatch runs\n",
        names.join(", "),
        if variables.len() == 1 { "was" } else { "were" },
        if variables.len() == 1 { "it" } else { "them" },
    )
}

/// The current state, decision, fallback and reason per model, read from the database.
pub async fn status_table(config: &Config, now: DateTime<Utc>) -> anyhow::Result<String> {
    use anyhow::Context;
    let store = crate::store::Store::open_database(&config.server.database)
        .await
        .with_context(|| format!("opening {}", config.server.database))?;
    let engine = crate::evaluate::engine::Engine::new(store, config, now).await?;
    let table = engine.subscribe().borrow().clone();
    let width = table
        .models
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:<20}  {:<8}  {:<28}  {:<20}  REASON",
        "MODEL", "STATE", "DECISION", "FALLBACK", "SINCE"
    );
    for r in &table.models {
        let _ = writeln!(
            out,
            "{:<width$}  {:<20}  {:<8}  {:<28}  {:<20}  {}",
            r.id,
            r.state.as_str(),
            if r.enabled { "enabled" } else { "disabled" },
            r.fallback.as_deref().unwrap_or("-"),
            r.since.format("%Y-%m-%d %H:%M:%SZ"),
            r.reason
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(0, "model", "models"), "0 models");
        assert_eq!(count(1, "model", "models"), "1 model");
        assert_eq!(count(2, "provider", "providers"), "2 providers");
    }

    #[test]
    fn a_one_model_configuration_says_1_model() {
        let text = "[[providers]]\nid = \"p\"\nkind = \"simulated\"\nmodels = [ { id = \"m\" } ]\n";
        let config =
            Config::parse(text, Path::new("one.toml"), &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let summary = describe(&config);
        assert!(
            summary.starts_with("one.toml: ok — 1 provider, 1 model; "),
            "{summary}"
        );
        assert!(
            summary.contains("  p (simulated, built in): 1 model, "),
            "{summary}"
        );
    }

    #[test]
    fn unchecked_variables_are_named() {
        assert_eq!(
            describe_unchecked(&["A_KEY".into()]),
            "environment not checked (--no-env): `A_KEY` was not checked; set it where modelwatch runs\n"
        );
        assert!(describe_unchecked(&[]).contains("names no environment variables"));
    }
}
