//! The checks behind `/readyz`: the database takes a write, and the scheduler is probing.
//!
//! `/healthz` says the process answers; `/readyz` says it is doing its job. A database that
//! is read-only, full, locked for seconds or closed fails the write check; a scheduler whose
//! tasks have all ended, or that has started no probe for much longer than the shortest
//! schedule allows, fails the scheduler check.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::SchedulerStats;
use crate::config::Config;
use crate::store::Store;

/// The write check gives up after this long (the store's busy timeout is longer).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The scheduler spreads a provider's models over up to this long after each fire time.
const MAX_SPREAD: Duration = Duration::from_secs(30);

/// The outcome of one check, named as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// `None` when the check passed, else what is wrong.
    pub problem: Option<String>,
}

/// Writes the one row of the `health` table (migration 0005): a real write through the
/// WAL, so a read-only or full disk fails here, not only a lost connection.
pub async fn database_writable(store: &Store, now: DateTime<Utc>) -> Result<(), String> {
    let write = async {
        crate::on_db!(store.pool(), |db| sqlx::query(
            "UPDATE health SET checked_at = $1 WHERE id = 1"
        )
        .bind(now.timestamp_millis())
        .execute(db)
        .await
        .map(crate::store::Done::from))
    };
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(Ok(done)) if done.rows_affected() == 1 => Ok(()),
        Ok(Ok(_)) => Err("the health row is missing".to_string()),
        Ok(Err(e)) => Err(format!("write failed: {e}")),
        Err(_) => Err(format!(
            "write did not complete within {}s",
            WRITE_TIMEOUT.as_secs()
        )),
    }
}

/// How long without any probe start means the scheduler is stuck: two of the shortest
/// intervals, plus the longest timeout (a provider's permits may all be held by slow
/// probes) and the largest spread offset.
pub fn stale_after(config: &Config, now: DateTime<Utc>) -> Duration {
    let shortest = config
        .models()
        .map(|(_, m)| m.schedule.interval_at(now))
        .min()
        .unwrap_or(Duration::from_secs(60));
    let longest_timeout = config
        .providers
        .iter()
        .map(|p| p.timeout)
        .max()
        .unwrap_or_default();
    shortest * 2 + longest_timeout + MAX_SPREAD
}

/// At least one model task is alive, and a probe started within `stale_after` (counted
/// from `started_at` until the first probe).
pub fn scheduler_running(
    stats: &SchedulerStats,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<(), String> {
    if stats.tasks_alive.load(Ordering::Relaxed) == 0 {
        return Err("no scheduler task is running".to_string());
    }
    let last_ms = stats.last_started_at_ms.load(Ordering::Relaxed);
    let since = if last_ms > 0 {
        last_ms
    } else {
        started_at.timestamp_millis()
    };
    let idle = Duration::from_millis((now.timestamp_millis() - since).max(0) as u64);
    if idle > stale_after {
        return Err(format!(
            "no probe started for {}s (expected within {}s)",
            idle.as_secs(),
            stale_after.as_secs()
        ));
    }
    Ok(())
}

/// Runs every check.
pub async fn check(
    store: &Store,
    config: &Config,
    stats: &SchedulerStats,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Check> {
    vec![
        Check {
            name: "database",
            problem: database_writable(store, now).await.err(),
        },
        Check {
            name: "scheduler",
            // With `agents.probe_locally = false` agents do all the probing, and on a standby
            // replica the leader does: no scheduler here.
            problem: if config.agents.probe_locally && !stats.standby.load(Ordering::Relaxed) {
                scheduler_running(stats, started_at, now, stale_after(config, now)).err()
            } else {
                None
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_needs_a_task_and_a_recent_start() {
        let t0 = Utc::now();
        let stale = Duration::from_secs(10);
        let stats = SchedulerStats::default();
        assert!(scheduler_running(&stats, t0, t0, stale)
            .unwrap_err()
            .contains("no scheduler task"));
        stats.tasks_alive.store(2, Ordering::Relaxed);
        // Before the first probe, the start of the service counts.
        assert!(scheduler_running(&stats, t0, t0 + chrono::Duration::seconds(5), stale).is_ok());
        let late = t0 + chrono::Duration::seconds(11);
        assert!(scheduler_running(&stats, t0, late, stale)
            .unwrap_err()
            .contains("no probe started for 11s"));
        stats.last_started_at_ms.store(
            (late - chrono::Duration::seconds(1)).timestamp_millis(),
            Ordering::Relaxed,
        );
        assert!(scheduler_running(&stats, t0, late, stale).is_ok());
    }
}
