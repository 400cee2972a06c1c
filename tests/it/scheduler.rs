//! The scheduler in simulated time: cadence and spread, the per-provider limit, overrun
//! skips (never two probes of one model at once) and shutdown that keeps finished results.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use modelwatch::clock::Clock;
use modelwatch::probe::{ProbeReport, ProbeResult, ProbeTarget, Prober};
use modelwatch::schedule::{self, SchedulerHandle};
use modelwatch::vocabulary::Outcome;
use tokio::sync::{mpsc, watch};

use crate::helpers::config_from;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn config(models: usize, concurrency: usize) -> modelwatch::config::Config {
    let list: Vec<String> = (0..models)
        .map(|i| format!("{{ id = \"m{i}\" }}"))
        .collect();
    config_from(
        &format!(
            "[[providers]]\nid = \"p\"\nkind = \"simulated\"\nschedule = \"* * * * * *\"\ntimeout = \"10s\"\nconcurrency = {concurrency}\nmodels = [{}]\n",
            list.join(", ")
        ),
        &[],
    )
}

/// A prober that takes `delay` and records how many probes run at once, overall and per model.
#[derive(Default)]
struct Recording {
    delay: Duration,
    running: AtomicUsize,
    max_running: AtomicUsize,
    per_model: Mutex<HashMap<String, usize>>,
    max_per_model: AtomicUsize,
}

#[async_trait]
impl Prober for Recording {
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let same = {
            let mut map = self.per_model.lock().unwrap();
            let n = map.entry(target.key()).or_default();
            *n += 1;
            *n
        };
        self.max_per_model.fetch_max(same, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        *self
            .per_model
            .lock()
            .unwrap()
            .get_mut(&target.key())
            .unwrap() -= 1;
        self.running.fetch_sub(1, Ordering::SeqCst);
        ProbeReport {
            outcome: Outcome::Ok,
            http_status: Some(200),
            headers_ms: Some(1),
            ttft_ms: Some(1),
            total_ms: self.delay.as_millis() as u32,
            request_id: None,
            error: None,
        }
    }
}

struct Run {
    handle: SchedulerHandle,
    rx: mpsc::Receiver<ProbeResult>,
    stop: watch::Sender<bool>,
}

fn start(config: &modelwatch::config::Config, prober: Arc<dyn Prober>) -> Run {
    let clock = Clock::starting_at(t0());
    let planned = schedule::plan(config, &clock, |_| Arc::clone(&prober));
    let (tx, rx) = mpsc::channel(10_000);
    let (stop, stop_rx) = watch::channel(false);
    Run {
        handle: schedule::spawn(planned, clock, tx, stop_rx),
        rx,
        stop,
    }
}

/// Receives results until one starts after `until`, returning all received.
async fn collect_until(
    rx: &mut mpsc::Receiver<ProbeResult>,
    until: DateTime<Utc>,
) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    while let Some(r) = rx.recv().await {
        let done = r.started_at > until;
        out.push(r);
        if done {
            break;
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn every_model_probed_each_interval_spread_across_it() {
    let config = config(4, 8);
    let prober = Arc::new(Recording {
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    let mut run = start(&config, prober);
    let results = collect_until(&mut run.rx, t0() + chrono::Duration::seconds(20)).await;
    run.stop.send(true).unwrap();
    run.handle.join().await;

    for i in 0..4 {
        let mine: Vec<_> = results
            .iter()
            .filter(|r| r.model == format!("m{i}"))
            .collect();
        assert!(
            (19..=21).contains(&mine.len()),
            "m{i} probed {} times in 20 s",
            mine.len()
        );
        // Spread: model i starts i/4 of the interval after each second.
        for r in &mine {
            let offset_ms = r.started_at.timestamp_subsec_millis();
            assert_eq!(
                offset_ms,
                250 * i as u32,
                "m{i} started at {}",
                r.started_at
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_provider_limit_bounds_concurrent_probes() {
    let config = config(6, 2);
    // Each probe takes 3 s of a 1 s interval, so without the limit all 6 would overlap.
    let prober = Arc::new(Recording {
        delay: Duration::from_millis(3000),
        ..Default::default()
    });
    let mut run = start(&config, prober.clone());
    let results = collect_until(&mut run.rx, t0() + chrono::Duration::seconds(30)).await;
    run.stop.send(true).unwrap();
    run.handle.join().await;
    assert!(results.len() > 10, "{} probes", results.len());
    assert_eq!(prober.max_running.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_probe_longer_than_its_interval_skips_runs_and_never_overlaps() {
    let config = config(1, 4);
    let prober = Arc::new(Recording {
        delay: Duration::from_millis(2500),
        ..Default::default()
    });
    let mut run = start(&config, prober.clone());
    let results = collect_until(&mut run.rx, t0() + chrono::Duration::seconds(30)).await;
    run.stop.send(true).unwrap();
    let skipped = run.handle.stats.runs_skipped.load(Ordering::SeqCst);
    run.handle.join().await;
    assert_eq!(
        prober.max_per_model.load(Ordering::SeqCst),
        1,
        "same model probed twice at once"
    );
    for pair in results.windows(2) {
        let gap = pair[1].started_at - pair[0].started_at;
        assert!(
            gap >= chrono::Duration::milliseconds(2500),
            "probes {gap} apart"
        );
    }
    // About 30 s / 3 s per cycle = 10 probes, each skipping 2 fire times.
    assert!(
        (9..=12).contains(&results.len()),
        "{} probes",
        results.len()
    );
    assert!(
        skipped >= 2 * (results.len() as u64 - 1),
        "only {skipped} skipped runs counted"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_probe_in_hand_and_closes_the_channel() {
    let config = config(2, 4);
    let prober = Arc::new(Recording {
        delay: Duration::from_millis(800),
        ..Default::default()
    });
    let mut run = start(&config, prober.clone());
    // Wait until the first probes are in flight, then stop.
    while prober.running.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight = prober.running.load(Ordering::SeqCst);
    run.stop.send(true).unwrap();
    run.handle.join().await;
    let mut received = 0;
    while let Some(r) = run.rx.recv().await {
        assert_eq!(r.report.outcome, Outcome::Ok);
        received += 1;
    }
    assert_eq!(
        received, in_flight,
        "every probe in hand at shutdown was delivered, then the channel closed"
    );
}

#[tokio::test(start_paused = true)]
async fn an_extra_probe_goes_out_when_asked_and_is_counted() {
    use modelwatch::probe::Trigger;
    use modelwatch::schedule::requests::ProbeRequests;
    // One model on a one-minute schedule.
    let config = config_from(
        "[[providers]]\nid = \"p\"\nkind = \"simulated\"\nschedule = \"0 * * * * *\"\nmodels = [ { id = \"m\" } ]\n",
        &[],
    );
    let clock = Clock::starting_at(t0());
    let prober: Arc<dyn Prober> = Arc::new(Recording {
        delay: Duration::from_millis(10),
        ..Default::default()
    });
    let mut planned = schedule::plan(&config, &clock, |_| Arc::clone(&prober));
    let requests = ProbeRequests::new(["p/m"]);
    schedule::attach(&mut planned, &requests);
    let stats = Arc::new(modelwatch::metrics::SchedulerStats::default());
    let metrics = Arc::new(modelwatch::metrics::Metrics::new(Arc::clone(&stats), clock));
    let (tx, mut rx) = mpsc::channel(100);
    let (stop, stop_rx) = watch::channel(false);
    let handle = schedule::spawn_observed(
        planned,
        clock,
        tx,
        stop_rx,
        stats,
        Some(Arc::clone(&metrics)),
    );

    // The first scheduled probe, at the top of the minute.
    let first = rx.recv().await.unwrap();
    assert_eq!(
        (first.started_at, first.trigger),
        (t0() + chrono::Duration::minutes(1), Trigger::Scheduled)
    );
    // Asked for a confirmation 5 s later: it goes out then, not at the next minute.
    let asked = first.started_at + chrono::Duration::seconds(5);
    assert!(requests.request("p/m", asked, Trigger::Confirm));
    let extra = rx.recv().await.unwrap();
    assert_eq!((extra.started_at, extra.trigger), (asked, Trigger::Confirm));
    assert_eq!(requests.peek("p/m"), None, "the probe took the request");
    // A request later than the next fire time is answered by the scheduled probe.
    requests.request(
        "p/m",
        t0() + chrono::Duration::seconds(150),
        Trigger::Recovery,
    );
    let next = rx.recv().await.unwrap();
    assert_eq!(
        (next.started_at, next.trigger),
        (t0() + chrono::Duration::minutes(2), Trigger::Scheduled)
    );
    assert_eq!(requests.peek("p/m"), None);
    stop.send(true).unwrap();
    handle.join().await;

    let mut e = modelwatch::metrics::text::Encoder::new();
    metrics.render_recorded(&mut e);
    let text = e.finish();
    assert!(
        text.contains(
            "modelwatch_extra_probes_total{provider=\"p\",model=\"m\",reason=\"confirm\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "modelwatch_extra_probes_total{provider=\"p\",model=\"m\",reason=\"recovery\"} 0"
        ),
        "{text}"
    );
}
