//! modelwatch: probes every configured AI provider/model, decides per model whether it is
//! healthy, and tells people and programs at once.
//!
//! # Layout
//! Data flows one way, one folder per domain:
//! - [`config`]: TOML in, validated domain types out (with file:line errors);
//! - [`probe`]: one prober per protocol behind one trait, plus the built-in simulation;
//! - [`schedule`]: cron-driven probing with spread, per-provider limits and overrun skips;
//! - [`store`]: SQLite (migrations, batched writes, rollups, retention);
//! - [`metrics`]: `/metrics` (Prometheus text) and the `/readyz` checks;
//! - [`startup`]: wires it all into an [`startup::Application`]; `main.rs` only parses flags.
//!
//! **Architecture invariant:** probers never return errors: a failed probe is data.

pub mod admin;
pub mod agent;
pub mod cli;
pub mod clock;
pub mod config;
pub mod evaluate;
pub mod metrics;
pub mod notify;
pub mod official;
pub mod probe;
pub mod replica;
pub mod schedule;
pub mod startup;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod vocabulary;
pub mod web;
