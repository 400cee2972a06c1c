//! The scheduler's counters: written by `schedule` as it starts and finishes probes, read
//! here for `/metrics` and `/readyz`. They live in `metrics` so that the scheduler depends on
//! metrics and not the other way round.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};

/// Counters the scheduler keeps for `/metrics` and readiness.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    pub probes_started: AtomicU64,
    pub probes_finished: AtomicU64,
    /// Fire times skipped because the previous probe of the same model was still running.
    pub runs_skipped: AtomicU64,
    /// How late the most recent probe started after its planned time, in milliseconds.
    pub last_lag_ms: AtomicU64,
    /// Model tasks currently running (readiness: the scheduler is alive).
    pub tasks_alive: AtomicU64,
    /// When the most recent probe started, unix milliseconds (0 before the first).
    pub last_started_at_ms: AtomicI64,
    /// True while this replica is a standby: another replica leads and runs the scheduler
    /// (see `replica`), so readiness expects no probes here.
    pub standby: AtomicBool,
}
