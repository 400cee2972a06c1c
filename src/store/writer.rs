//! Background tasks around the store: the batching result writer and periodic maintenance.
//!
//! Probers hand results to [`spawn_writer`] through a bounded channel, so a slow disk
//! applies back-pressure instead of growing memory. The writer stops only once the channel
//! is closed *and* drained: dropping every sender and awaiting the writer's handle is how a
//! clean shutdown keeps every finished probe.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::Store;
use crate::clock::Clock;
use crate::config::RetentionConfig;
use crate::probe::ProbeResult;

/// Attempts per batch before its results are given up (and counted in the log).
const WRITE_ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled after each failure (0.1 s + 0.2 + 0.4 + 0.8).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How far rollups lag real time. A result is stored when its probe *ends* but belongs to
/// the bucket of its *start*; closing a bucket only this long after it ended lets probes up
/// to this long (provider timeout plus write batching) land in it first.
pub const ROLLUP_SETTLE: Duration = Duration::from_secs(120);

/// Writes results from `rx` in batches of up to `batch`, one transaction each, until the
/// channel is closed and everything received is written.
pub fn spawn_writer(store: Store, rx: mpsc::Receiver<ProbeResult>, batch: usize) -> JoinHandle<()> {
    spawn_writer_notifying(store, rx, batch, None)
}

/// [`spawn_writer`] that wakes `stored` after each batch is committed: the evaluator judges
/// new results as soon as they are in the database.
pub fn spawn_writer_notifying(
    store: Store,
    mut rx: mpsc::Receiver<ProbeResult>,
    batch: usize,
    stored: Option<std::sync::Arc<tokio::sync::Notify>>,
) -> JoinHandle<()> {
    let batch = batch.max(1);
    tokio::spawn(async move {
        let mut pending = Vec::with_capacity(batch);
        // `recv` returns `None` only once the channel is closed *and* empty.
        while let Some(first) = rx.recv().await {
            pending.push(first);
            // Whatever else is already queued joins this transaction; no waiting for more,
            // so a lone result is written at once.
            while pending.len() < batch {
                match rx.try_recv() {
                    Ok(result) => pending.push(result),
                    Err(_) => break,
                }
            }
            write_with_retry(&store, &pending).await;
            pending.clear();
            if let Some(stored) = &stored {
                stored.notify_one();
            }
        }
        tracing::debug!("result writer stopped: channel closed and drained");
    })
}

/// Writes one batch, retrying with exponential backoff; logs loudly if it gives up.
async fn write_with_retry(store: &Store, results: &[ProbeResult]) {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=WRITE_ATTEMPTS {
        match store.insert_results(results).await {
            Ok(()) => return,
            Err(e) if attempt < WRITE_ATTEMPTS => {
                let n = results.len();
                tracing::error!(
                    error = %e, attempt, results = n,
                    "writing probe results failed; retrying in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e) => {
                let lost = results.len();
                tracing::error!(
                    error = %e, lost,
                    "giving up writing probe results after {WRITE_ATTEMPTS} attempts: \
                     {lost} results are lost"
                );
            }
        }
    }
}

/// Every `every` (and once at start), rolls up completed buckets then applies retention,
/// until `shutdown` becomes `true` or its sender is dropped. Errors are logged and the next
/// tick tries again: both steps are idempotent and resume from the stored watermarks.
pub fn spawn_maintenance(
    store: Store,
    retention: RetentionConfig,
    clock: Clock,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
        // A long pass (first catch-up) should not be followed by a burst of passes.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow_and_update() {
                break;
            }
            tokio::select! {
                biased;
                changed = shutdown.changed() => match changed {
                    Ok(()) => continue,
                    Err(_) => break,
                },
                _ = tick.tick() => {}
            }
            run_maintenance(&store, &retention, clock).await;
        }
        tracing::debug!("store maintenance stopped");
    })
}

async fn run_maintenance(store: &Store, retention: &RetentionConfig, clock: Clock) {
    let now = clock.now();
    let settled = now - chrono::Duration::from_std(ROLLUP_SETTLE).unwrap_or_default();
    match store.compute_rollups(settled).await {
        Ok(rows) => tracing::debug!(rows, "rollups computed"),
        Err(e) => tracing::error!(error = %e, "computing rollups failed; will retry next tick"),
    }
    match store.apply_retention(now, retention).await {
        Ok(report) if report.total() > 0 => tracing::info!(?report, "retention deleted old data"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "applying retention failed; will retry next tick"),
    }
    // Agents' batch ids are kept for de-duplication only, a week (see `store::agents`).
    if let Err(e) = store.forget_agent_batches(now).await {
        tracing::error!(error = %e, "forgetting old agent batch ids failed; will retry next tick");
    }
}
