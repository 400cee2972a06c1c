//! The evaluator: per-model states with hysteresis, routing decisions and automatic incidents.
//!
//! **Architecture invariant:** everything in this folder except [`engine`] is pure: recent
//! results and the previous state in, a new state and its reasons out, no IO and no clock.
//! The engine reads the store, calls the pure core, and writes the outcome (state, events,
//! incident, outbox) in one transaction.

pub mod engine;
pub mod hysteresis;
pub mod incidents;
pub mod overrides;
pub mod policy;
pub mod rules;
pub mod state;
pub mod stats;

pub use hysteresis::{step, Override, Tracker};
pub use policy::Policy;
pub use rules::{assess, Assessment, Baseline, Evidence, Sample};
pub use state::ModelState;

#[cfg(test)]
mod tests;
