//! The evaluator: per-model states from sequential tests, routing decisions and automatic
//! incidents.
//!
//! **Architecture invariant:** everything in this folder except [`engine`] is pure: results
//! and the previous state in, a new state and its reasons out, no IO and no clock.
//! The engine reads the store, feeds each new result to its model's [`detector::Detector`],
//! and writes the outcome (state, events, incident, outbox) in one transaction.
//!
//! - [`sequential`]: the statistics (CUSUM in, a leaving test out, exponentially weighted
//!   medians), table-tested;
//! - [`detector`]: one model's tests and the state, reasons and evidence read off them;
//! - [`policy`]: levels, bounds and the extra-probe budget's settings; [`budget`]: the bucket;
//! - [`traffic`]: the application's own requests, a second stream judged per source;
//! - [`quorum`]: one decision from several vantages (agents elsewhere), and per region;
//! - [`incidents`], [`overrides`]: automatic incidents, overrides and maintenance, planned;
//! - [`engine`]: the IO, a pass per batch of results and one per second.

pub mod budget;
pub mod detector;
pub mod engine;
pub mod incidents;
pub mod overrides;
pub mod policy;
pub mod quorum;
pub mod sequential;
pub mod state;
pub mod traffic;

pub use detector::Detector;
pub use policy::Policy;

#[cfg(test)]
mod tests;
