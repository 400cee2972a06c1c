//! The store on a real temporary SQLite file: round trips, rollups checked against values
//! computed here from the raw inputs, retention boundaries, and the writer's shutdown flush.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use modelwatch::clock::Clock;
use modelwatch::config::RetentionConfig;
use modelwatch::probe::{ProbeReport, ProbeResult};
use modelwatch::store::writer::{spawn_maintenance, spawn_writer};
use modelwatch::store::Granularity::{self, Day, Hour, Minute};
use modelwatch::store::{Rollup, Store, StoreError, StoredResult};
use modelwatch::vocabulary::Outcome;
use tempfile::TempDir;

const A: &str = "alpha/a";
const B: &str = "beta/b";

async fn temp_store() -> (TempDir, Store) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("data/modelwatch.db")).await;
    (dir, store.unwrap())
}

fn t0() -> DateTime<Utc> {
    "2024-05-01T00:00:00Z".parse().unwrap()
}

/// `t0` plus hours and seconds.
fn at(hours: i64, seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(hours) + TimeDelta::seconds(seconds)
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    let value = modelwatch::on_db!(store.pool(), |db| sqlx::query_scalar(sql)
        .fetch_one(db)
        .await);
    value.unwrap()
}

async fn exec(store: &Store, sql: &str) {
    modelwatch::on_db!(store.pool(), |db| sqlx::query(sql)
        .execute(db)
        .await
        .map(modelwatch::store::Done::from))
    .unwrap();
}

/// What reading `r` back must give.
fn stored(r: &ProbeResult) -> StoredResult {
    let (model_key, started_at) = (r.model_key(), r.started_at);
    let ProbeReport {
        outcome,
        http_status,
        headers_ms,
        ttft_ms,
        total_ms,
        request_id,
        error,
    } = r.report.clone();
    StoredResult {
        model_key,
        started_at,
        outcome,
        http_status,
        headers_ms,
        ttft_ms,
        total_ms,
        request_id,
        error,
    }
}

fn result(key: &str, at: DateTime<Utc>, o: Outcome, ttft: Option<u32>, total: u32) -> ProbeResult {
    let (provider, model) = key.split_once('/').unwrap();
    let failed = o != Outcome::Ok;
    ProbeResult {
        provider: provider.into(),
        model: model.into(),
        started_at: at,
        report: ProbeReport {
            outcome: o,
            http_status: Some(if failed { 500 } else { 200 }),
            headers_ms: ttft.map(|t| t / 2),
            ttft_ms: ttft,
            total_ms: total,
            request_id: Some(format!("req-{}", at.timestamp_millis())),
            error: failed.then(|| format!("{o} happened")),
        },
        trigger: modelwatch::probe::Trigger::Scheduled,
    }
}

/// Deterministic synthetic probes of `key` every `step` seconds: mostly ok, every class
/// present, latencies spread (failed probes also carry a TTFT, which must be ignored).
fn synthetic(key: &str, span: Range<DateTime<Utc>>, step: i64, seed: u64) -> Vec<ProbeResult> {
    let mut x = seed.max(1);
    let mut out = Vec::new();
    let mut at = span.start;
    while at < span.end {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let outcome = Outcome::ALL[if x % 10 < 8 {
            0
        } else {
            (x / 10 % 11) as usize
        }];
        let ttft = (x % 7 != 0).then_some(100 + (x >> 20) as u32 % 1900);
        let total = 500 + (x >> 40) as u32 % 9000;
        out.push(result(key, at, outcome, ttft, total));
        at += TimeDelta::seconds(step);
    }
    out
}

/// Nearest rank computed independently of the store: ceil(p * n) with floats.
fn nearest_rank(v: &[u32], p: f64) -> Option<u32> {
    let mut v = v.to_vec();
    v.sort();
    (!v.is_empty()).then(|| v[((p * v.len() as f64).ceil() as usize).max(1) - 1])
}

/// Asserts the stored rollups equal, bucket for bucket, what the raw inputs give for every
/// bucket completed by `now`.
async fn check_rollups(store: &Store, data: &[ProbeResult], now: DateTime<Utc>) {
    for g in Granularity::ALL {
        let len = g.length().num_milliseconds();
        let mut want: BTreeMap<(String, i64), Vec<&ProbeResult>> = BTreeMap::new();
        for r in data {
            let bucket = r.started_at.timestamp_millis() / len * len;
            if bucket + len <= now.timestamp_millis() {
                want.entry((r.model_key(), bucket)).or_default().push(r);
            }
        }
        let mut got: BTreeMap<(String, i64), Rollup> = BTreeMap::new();
        let (from, to) = (t0() - TimeDelta::days(30), t0() + TimeDelta::days(30));
        for key in [A, B] {
            for r in store.rollups(key, g, from, to).await.unwrap() {
                got.insert((r.model_key.clone(), r.bucket_start.timestamp_millis()), r);
            }
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{g} buckets"
        );
        for (key, rs) in &want {
            let r = &got[key];
            assert_eq!(r.probes as usize, rs.len(), "{g} {key:?}");
            for o in Outcome::ALL {
                let n = rs.iter().filter(|x| x.report.outcome == o).count();
                assert_eq!(r.count(o) as usize, n, "{g} {key:?} {o}");
            }
            let ok = rs.iter().filter(|x| x.report.outcome == Outcome::Ok);
            let ttft: Vec<u32> = ok.filter_map(|x| x.report.ttft_ms).collect();
            let total: Vec<u32> = rs.iter().map(|x| x.report.total_ms).collect();
            let pcts = |v: &[u32]| [0.5, 0.95, 0.99].map(|p| nearest_rank(v, p));
            let got_ttft = [r.ttft_p50, r.ttft_p95, r.ttft_p99];
            assert_eq!(got_ttft, pcts(&ttft), "{g} {key:?} ttft");
            let got_total = [r.total_p50, r.total_p95, r.total_p99];
            assert_eq!(got_total, pcts(&total), "{g} {key:?} total");
        }
    }
}

type RollupRow = (String, String, i64, i64, Option<i64>, Option<i64>);

async fn all_rollups(store: &Store) -> Vec<RollupRow> {
    let sql = "SELECT model_key, granularity, bucket_start, probes, ttft_p99, total_p99 \
               FROM rollups ORDER BY 1, 2, 3";
    modelwatch::on_db!(store.pool(), |db| sqlx::query_as(sql).fetch_all(db).await).unwrap()
}

#[tokio::test]
async fn store_open_creates_file_with_wal_and_schema() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nested/dir/modelwatch.db");
    let store = Store::open(&path).await.unwrap();
    assert!(path.exists());
    let mode: String =
        modelwatch::on_db!(store.pool(), |db| sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db)
            .await)
        .unwrap();
    assert_eq!(mode, "wal");
    let tables = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                  AND name IN ('probe_results', 'rollups', 'store_meta')";
    assert_eq!(scalar(&store, tables).await, 3);
    // Other migrations may follow; ours must be recorded as applied.
    let ours = "SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 1 AND success";
    assert_eq!(scalar(&store, ours).await, 1);
    assert_eq!(store.count_results().await.unwrap(), 0);
}

#[tokio::test]
async fn store_round_trips_every_outcome_and_survives_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("modelwatch.db");
    let store = Store::open(&path).await.unwrap();
    let mut input = Vec::new();
    for (i, o) in Outcome::ALL.into_iter().enumerate() {
        let ttft = (i % 2 == 0).then_some(i as u32 * 10);
        let started = t0() + TimeDelta::milliseconds(1_000 * i as i64 + 7);
        input.push(result(A, started, o, ttft, 1000 + i as u32));
    }
    input[3].report = ProbeReport::failed(Outcome::Connect, "dns");
    store.insert_results(&input).await.unwrap();
    let other = result(B, t0(), Outcome::Ok, Some(5), 6);
    store.insert_results(&[other]).await.unwrap();

    let want: Vec<StoredResult> = input.iter().map(stored).collect();
    assert_eq!(store.results_since(A, t0()).await.unwrap(), want);
    let since = input[9].started_at;
    assert_eq!(store.results_since(A, since).await.unwrap(), want[9..]);
    let newest: Vec<StoredResult> = want.iter().rev().take(3).cloned().collect();
    assert_eq!(store.latest_results(A, 3).await.unwrap(), newest);

    store.sqlite_pool().close().await;
    drop(store);
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.count_results().await.unwrap(), 12);
    assert_eq!(store.results_since(A, t0()).await.unwrap(), want);
}

#[tokio::test]
async fn store_reports_an_unknown_outcome_as_an_error() {
    let (_dir, store) = temp_store().await;
    let insert = "INSERT INTO probe_results (id, model_key, started_at, outcome, total_ms) \
                  VALUES (42, 'alpha/a', 1714521600000, 'exploded', 1)";
    exec(&store, insert).await;
    let err = store.results_since(A, t0()).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("id 42"), "{text}");
    assert!(text.contains("exploded"), "{text}");
    let err = store.compute_rollups(at(48, 0)).await.unwrap_err();
    assert!(err.to_string().contains("exploded"), "{err}");
}

#[tokio::test]
async fn store_rollups_agree_with_raw_data_and_are_idempotent() {
    let (_dir, store) = temp_store().await;
    let (start, end) = (at(0, 7 * 60 + 13), at(54, 0));
    let mut data = synthetic(A, start..end, 30, 7);
    data.extend(synthetic(B, at(3, 0)..end, 45, 99));
    store.insert_results(&data).await.unwrap();

    // Mid-minute, mid-hour, mid-day: the buckets around `now` are incomplete and not written.
    let now = at(53, 30 * 60 + 20);
    let written = store.compute_rollups(now).await.unwrap();
    check_rollups(&store, &data, now).await;
    let first = all_rollups(&store).await;
    assert_eq!(written, first.len());
    let day_mark = store.rollup_watermark(Day).await.unwrap();
    assert_eq!(day_mark, Some(at(48, 0)));

    assert_eq!(store.compute_rollups(now).await.unwrap(), 0, "nothing new");
    // Forgetting the watermarks recomputes everything: the same rows, replaced not duplicated.
    exec(&store, "DELETE FROM store_meta").await;
    assert_eq!(store.compute_rollups(now).await.unwrap(), written);
    assert_eq!(all_rollups(&store).await, first);

    // A later run completes the remaining buckets incrementally.
    store.compute_rollups(at(72, 0)).await.unwrap();
    check_rollups(&store, &data, at(72, 0)).await;
}

#[tokio::test]
async fn store_retention_deletes_exactly_the_old_rows_and_day_sums_stay_exact() {
    let (_dir, store) = temp_store().await;
    let end = at(5 * 24, 0);
    let mut data = synthetic(A, t0()..end, 30, 3);
    data.extend(synthetic(B, t0()..end, 30, 5));
    store.insert_results(&data).await.unwrap();
    let total = data.len() as i64;
    let now = end + TimeDelta::hours(12);
    let days = |d: u64| Duration::from_secs(d * 86_400);
    let (raw, minute, hour, day) = (days(2), days(3), days(4), days(400));
    let retention = RetentionConfig {
        raw,
        minute,
        hour,
        day,
    };

    // Nothing rolled up yet: raw results are kept however old.
    assert_eq!(store.apply_retention(now, &retention).await.unwrap().raw, 0);
    assert_eq!(store.count_results().await.unwrap(), total);
    // Rolled up through day 1 only: raw deletion stops at the day watermark.
    store.compute_rollups(at(27, 0)).await.unwrap();
    let report = store.apply_retention(now, &retention).await.unwrap();
    assert_eq!(report.raw, 2 * 2880);
    assert_eq!(store.count_results().await.unwrap(), total - 2 * 2880);

    store.compute_rollups(now).await.unwrap();
    let report = store.apply_retention(now, &retention).await.unwrap();
    let raw_cutoff = now - TimeDelta::days(2);
    let kept = data.iter().filter(|r| r.started_at >= raw_cutoff).count() as i64;
    assert_eq!(store.count_results().await.unwrap(), kept);
    assert_eq!(report.raw as i64, total - 2 * 2880 - kept);
    let left = store.results_since(A, t0()).await.unwrap();
    assert!(left.iter().all(|r| r.started_at >= raw_cutoff));
    assert_eq!(left[0].started_at, raw_cutoff, "kept at the cutoff");

    // Every model has data in every bucket until `end`, so kept rows are bucket counts.
    for (g, first_kept, deleted) in [
        (Minute, now - TimeDelta::days(3), report.minute),
        (Hour, now - TimeDelta::days(4), report.hour),
        (Day, t0(), report.day),
    ] {
        let buckets = (end - first_kept).num_milliseconds() / g.length().num_milliseconds();
        let sql = format!("SELECT COUNT(*) FROM rollups WHERE granularity = '{g}'");
        assert_eq!(scalar(&store, &sql).await, 2 * buckets, "{g} rollups kept");
        let oldest = store.rollups(B, g, t0(), now).await.unwrap()[0].bucket_start;
        assert_eq!(oldest, first_kept, "{g}: oldest kept bucket");
        assert_eq!(deleted > 0, g != Day, "{g}: deleted {deleted}");
    }

    // Day rollups still account for every probe ever stored, per class.
    for key in [A, B] {
        let days = store.rollups(key, Day, t0(), now).await.unwrap();
        assert_eq!(days.len(), 5);
        for o in Outcome::ALL {
            let stored: u32 = days.iter().map(|d| d.count(o)).sum();
            let of_class = |r: &&ProbeResult| r.model_key() == key && r.report.outcome == o;
            let raw = data.iter().filter(of_class).count();
            assert_eq!(stored as usize, raw, "{key} {o}");
        }
    }
}

#[tokio::test]
async fn store_writer_flushes_everything_when_the_sender_is_dropped() {
    let (_dir, store) = temp_store().await;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let writer = spawn_writer(store.clone(), rx, 50);
    for i in 0..1000 {
        let r = result(A, at(0, i), Outcome::Ok, Some(10), 20);
        tx.send(r).await.unwrap();
    }
    drop(tx);
    // Generous: a loaded machine can be slow; a writer that never ends still fails.
    let finished = tokio::time::timeout(Duration::from_secs(60), writer).await;
    finished.expect("the writer ends once drained").unwrap();
    assert_eq!(store.count_results().await.unwrap(), 1000);
    let last = store.latest_results(A, 1).await.unwrap();
    assert_eq!(last[0].started_at, at(0, 999));
}

#[tokio::test]
async fn store_maintenance_rolls_up_and_stops_on_shutdown() {
    let (_dir, store) = temp_store().await;
    let data = synthetic(A, t0()..at(2, 0), 30, 11);
    store.insert_results(&data).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let clock = Clock::starting_at(at(24, 0));
    let (every, retention) = (Duration::from_millis(20), RetentionConfig::default());
    let task = spawn_maintenance(store.clone(), retention, clock, every, stopped);
    // Until the first pass has rolled up an hour. A pass, once begun, finishes before the
    // task looks at the stop signal, so stopping after this still leaves every hour rolled
    // up. The task runs on the real clock: wait generously rather than stop it too early.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while store.rollup_watermark(Hour).await.unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no hour was rolled up in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(60), task).await;
    finished.expect("maintenance stops on shutdown").unwrap();
    let hours = store.rollups(A, Hour, t0(), at(24, 0)).await.unwrap();
    let probes: Vec<u32> = hours.iter().map(|h| h.probes).collect();
    assert_eq!(probes, [120, 120]);
}
