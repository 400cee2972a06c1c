//! Notifications: subscriptions, and the at-least-once delivery of events to them.
//!
//! - [`subscription`]: the domain types, parsed at the edge (URLs, addresses, filters);
//! - [`signing`]: Standard Webhooks signatures; [`secrets`]: encryption and hashing at rest;
//! - [`ssrf`]: the address guard every webhook URL passes, at subscription and delivery;
//! - [`formats`]: one payload builder per channel (native, Slack, Discord, Teams, PagerDuty);
//! - [`webhook`]: one HTTP attempt; [`email`]: messages, templates and transports;
//! - [`dispatcher`]: outbox → deliveries → attempts with backoff, surviving a crash anywhere.

pub mod dispatcher;
pub mod email;
pub mod fan_out;
pub mod formats;
pub mod paging;
pub mod secrets;
pub mod signing;
pub mod ssrf;
pub mod webhook;
