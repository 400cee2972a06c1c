//! The scheduler: every model probed on its cron schedule, spread out, bounded, never twice at once.
//!
//! One task per model. Each sleeps until its next fire time plus a fixed *spread offset* (so
//! a provider's models are not all hit in the same instant), takes a permit from its
//! provider's semaphore (the per-provider concurrency limit), probes, and sends the result to
//! the store's writer. Because a model's task runs its probes one after another, the same
//! model is never probed twice at once; a probe that outlasts its interval makes the task skip
//! the fire times it missed and say so (overrun handling), once per episode of overruns
//! rather than once per probe ([`overrun::OverrunLog`]).
//!
//! Between fire times the evaluator may ask for an extra probe of a model (to confirm doubt,
//! or to see a disabled model recover): each task also watches its model's slot in
//! [`requests::ProbeRequests`] and probes at the sooner of the two ([`requests::next_probe`]).
//!
//! Time comes from [`Clock`], which follows tokio's clock, so tests run the scheduler under
//! `tokio::time::pause` and a day passes in milliseconds.

pub mod overrun;
pub mod requests;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::{Metrics, ProbeSeries, SchedulerStats};
use crate::probe::{ProbeResult, ProbeTarget, Prober, Trigger};
use overrun::{OverrunLog, OverrunNote};
use requests::{next_probe, ProbeRequests, Slot};

/// One model to probe, with the prober for its protocol and its provider's limit.
#[derive(Clone)]
pub struct ScheduledProbe {
    pub target: ProbeTarget,
    pub prober: Arc<dyn Prober>,
    /// Shared by every model of the provider: the per-provider concurrency limit.
    pub limit: Arc<Semaphore>,
    /// Fixed delay after each fire time, spreading a provider's models over its interval.
    pub offset: Duration,
    /// Where the evaluator asks for extra probes of this model (none: schedule only).
    pub extra: Option<Arc<Slot>>,
}

/// Builds the probe list for a configuration, choosing each provider's prober with `prober_for`.
pub fn plan(
    config: &Config,
    clock: &Clock,
    mut prober_for: impl FnMut(&crate::config::ProviderConfig) -> Arc<dyn Prober>,
) -> Vec<ScheduledProbe> {
    let mut planned = Vec::new();
    for provider in &config.providers {
        let prober = prober_for(provider);
        let limit = Arc::new(Semaphore::new(provider.concurrency));
        let n = provider.models.len().max(1) as u32;
        for (i, model) in provider.models.iter().enumerate() {
            let interval = model.schedule.interval_at(clock.now());
            planned.push(ScheduledProbe {
                target: ProbeTarget {
                    provider: Arc::clone(provider),
                    model: Arc::clone(model),
                },
                prober: Arc::clone(&prober),
                limit: Arc::clone(&limit),
                offset: spread_offset(interval, i as u32, n),
                extra: None,
            });
        }
    }
    planned
}

/// Connects every planned probe to its model's slot in `requests`, so the evaluator's extra
/// probes reach the scheduler.
pub fn attach(planned: &mut [ScheduledProbe], requests: &ProbeRequests) {
    for p in planned {
        p.extra = requests.slot(&p.target.key());
    }
}

/// The `i`-th of `n` models of a provider starts `interval * i / n` after each fire time,
/// capped so a slow schedule does not delay probes by many minutes.
pub fn spread_offset(interval: Duration, i: u32, n: u32) -> Duration {
    const MAX_SPREAD: Duration = Duration::from_secs(30);
    interval.min(MAX_SPREAD) * i / n.max(1)
}

/// Running scheduler tasks; [`SchedulerHandle::join`] waits until they have all stopped.
pub struct SchedulerHandle {
    tasks: JoinSet<()>,
    pub stats: Arc<SchedulerStats>,
}

impl SchedulerHandle {
    /// Waits for every model task to finish (after shutdown was signalled). Each finishes the
    /// probe in hand and hands its result to the writer before ending.
    pub async fn join(mut self) {
        while let Some(res) = self.tasks.join_next().await {
            if let Err(e) = res {
                warn!(error = %e, "a scheduler task ended abnormally");
            }
        }
    }
}

/// Starts one task per planned probe. Results go to `results`; tasks end when `shutdown`
/// becomes true (or the writer is gone).
pub fn spawn(
    planned: Vec<ScheduledProbe>,
    clock: Clock,
    results: mpsc::Sender<ProbeResult>,
    shutdown: watch::Receiver<bool>,
) -> SchedulerHandle {
    spawn_observed(
        planned,
        clock,
        results,
        shutdown,
        Arc::new(SchedulerStats::default()),
        None,
    )
}

/// [`spawn`] with the service's counters: `stats` is shared with readiness and `/metrics`,
/// and each finished probe is recorded in `metrics` (series looked up once per model here,
/// so every configured model is exposed before its first probe ends).
pub fn spawn_observed(
    planned: Vec<ScheduledProbe>,
    clock: Clock,
    results: mpsc::Sender<ProbeResult>,
    shutdown: watch::Receiver<bool>,
    stats: Arc<SchedulerStats>,
    metrics: Option<Arc<Metrics>>,
) -> SchedulerHandle {
    let mut tasks = JoinSet::new();
    for probe in planned {
        let span = info_span!("model", model = %probe.target.key());
        let series = metrics
            .as_ref()
            .map(|m| m.probe_series(&probe.target.provider.id, &probe.target.model.id));
        // Counted here, not inside the task, so readiness never sees a spawned scheduler
        // with zero tasks.
        stats.tasks_alive.fetch_add(1, Ordering::Relaxed);
        let alive = TaskAlive(Arc::clone(&stats));
        tasks.spawn(
            run_model(
                probe,
                clock,
                results.clone(),
                shutdown.clone(),
                Arc::clone(&stats),
                series,
                alive,
            )
            .instrument(span),
        );
    }
    SchedulerHandle { tasks, stats }
}

/// Decrements [`SchedulerStats::tasks_alive`] when a model task ends, however it ends.
struct TaskAlive(Arc<SchedulerStats>);

impl Drop for TaskAlive {
    fn drop(&mut self) {
        self.0.tasks_alive.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_model(
    probe: ScheduledProbe,
    clock: Clock,
    results: mpsc::Sender<ProbeResult>,
    mut shutdown: watch::Receiver<bool>,
    stats: Arc<SchedulerStats>,
    series: Option<ProbeSeries>,
    _alive: TaskAlive,
) {
    let schedule = &probe.target.model.schedule;
    let offset = chrono::Duration::from_std(probe.offset).unwrap_or_default();
    let mut overruns = OverrunLog::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(fire) = schedule.next_after(clock.now()) else {
            return;
        };
        let requested = probe.extra.as_ref().and_then(|s| s.peek());
        let (at, trigger) = next_probe(fire + offset, requested);
        let planned_at = clock.instant_at(at);
        let extra_changed = async {
            match &probe.extra {
                Some(slot) => slot.changed.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(planned_at) => {}
            // A new request may be sooner than what this task sleeps for: plan again.
            _ = extra_changed => continue,
            _ = shutdown.changed() => return,
        }
        // Any probe of the model answers an outstanding request: the evaluator asks again
        // after judging it if it still wants more.
        if let Some(slot) = &probe.extra {
            slot.take();
        }
        let permit = tokio::select! {
            permit = probe.limit.acquire() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let lag = tokio::time::Instant::now().saturating_duration_since(planned_at);
        stats
            .last_lag_ms
            .store(lag.as_millis() as u64, Ordering::Relaxed);
        stats.probes_started.fetch_add(1, Ordering::Relaxed);

        let started_at = clock.now();
        stats
            .last_started_at_ms
            .store(started_at.timestamp_millis(), Ordering::Relaxed);
        // The probe in hand is finished even if shutdown arrives meanwhile: it is bounded by
        // the provider's timeout, and its result is worth keeping.
        let report = probe.prober.probe(&probe.target).await;
        drop(permit);
        stats.probes_finished.fetch_add(1, Ordering::Relaxed);
        debug!(outcome = %report.outcome, total_ms = report.total_ms, "probe finished");
        if let Some(series) = &series {
            series.observe(&report);
            series.sent(trigger);
        }
        let result = ProbeResult {
            provider: probe.target.provider.id.clone(),
            model: probe.target.model.id.clone(),
            started_at,
            report,
            trigger,
        };
        if results.send(result).await.is_err() {
            return;
        }
        if trigger != Trigger::Scheduled {
            continue;
        }

        let skipped = missed_fires(&probe, fire, &clock);
        stats.runs_skipped.fetch_add(skipped, Ordering::Relaxed);
        let took_ms = (clock.now() - started_at).num_milliseconds();
        log_overrun(overruns.observe(clock.now(), skipped), took_ms);
    }
}

/// Writes the line [`OverrunLog`] says is due (in the model's span, which names the model).
fn log_overrun(note: Option<OverrunNote>, took_ms: i64) {
    match note {
        None => {}
        Some(OverrunNote::Started { skipped }) => warn!(
            skipped,
            took_ms,
            "probe took longer than its interval; skipped the runs it overlapped (said again when probes are back in time, or in 10 minutes)"
        ),
        Some(OverrunNote::Continuing {
            skipped,
            total,
            since,
        }) => warn!(
            skipped,
            skipped_total = total,
            since = %since.format("%Y-%m-%dT%H:%M:%SZ"),
            took_ms,
            "probes still take longer than their interval; `skipped` counts the runs skipped since the last line"
        ),
        Some(OverrunNote::Stopped { total, lasted }) => info!(
            skipped_total = total,
            lasted_s = lasted.num_seconds(),
            "probes are back within their interval; `skipped_total` counts the runs skipped while they overran"
        ),
    }
}

/// Fire times after `fire` whose planned start has already passed: they are skipped, not
/// queued, so a slow provider is never probed back to back.
fn missed_fires(probe: &ScheduledProbe, fire: chrono::DateTime<chrono::Utc>, clock: &Clock) -> u64 {
    let now = clock.now();
    let offset = chrono::Duration::from_std(probe.offset).unwrap_or_default();
    let mut count = 0;
    let mut t = fire;
    while let Some(next) = probe.target.model.schedule.next_after(t) {
        if next + offset > now || count >= 10_000 {
            break;
        }
        count += 1;
        t = next;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_spread_over_the_interval() {
        let i = Duration::from_secs(10);
        let offsets: Vec<_> = (0..4).map(|k| spread_offset(i, k, 4)).collect();
        assert_eq!(
            offsets,
            vec![
                Duration::ZERO,
                Duration::from_millis(2500),
                Duration::from_secs(5),
                Duration::from_millis(7500)
            ]
        );
        assert_eq!(
            spread_offset(Duration::from_secs(3600), 1, 2),
            Duration::from_secs(15)
        );
    }
}
