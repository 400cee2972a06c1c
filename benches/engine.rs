//! Benchmarks of modelwatch's engine, printed as a Markdown report:
//!
//! - **a.** probe throughput against an in-process fake OpenAI-compatible server, the real
//!   prober path next to a bare reqwest loop doing the same HTTP exchange;
//! - **b.** resident memory with 1,000 configured models, scheduler and writer running;
//! - **c.** database bytes per stored result and per rollup row, insert and rollup speed, and
//!   the database size after a year under the default retention (computed from the measured
//!   per-row sizes, not by inserting a year of rows);
//! - **d.** the evaluator's cost per result: the pure detector, and the full engine judging
//!   every result of 10,000 models probed every 30 s.
//!
//! Run it with `scripts/bench` (`cargo bench --bench engine`, release profile). It is a plain
//! program (`harness = false`), not a test: it measures and prints, and asserts nothing about
//! speed. Absolute times drift on a small shared machine, so comparisons are ratios of two
//! measurements taken side by side in the same run.
//!
//! All network traffic stays on 127.0.0.1. Section b runs in a child process (this binary,
//! re-executed with [`CHILD_ENV`] set) so the other sections' allocations cannot inflate it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use modelwatch::clock::Clock;
use modelwatch::config::{Config, ProviderKind};
use modelwatch::evaluate::engine::Engine;
use modelwatch::evaluate::{Detector, Policy};
use modelwatch::probe::openai::{chat_body, endpoint};
use modelwatch::probe::simulated::simulate;
use modelwatch::probe::sse::SseParser;
use modelwatch::probe::{http_client, prober_for, ProbeResult, ProbeTarget};
use modelwatch::schedule;
use modelwatch::store::results::Sample;
use modelwatch::store::writer::spawn_writer;
use modelwatch::store::Store;
use modelwatch::vocabulary::Outcome;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Set (to `rss`) in the environment of the child process that measures memory.
const CHILD_ENV: &str = "MODELWATCH_BENCH_CHILD";
/// Thread names: per-thread CPU time tells the fake server's work from the client's.
const SERVER_THREAD: &str = "fake-server";
const CLIENT_THREAD: &str = "bench-client";

fn main() {
    if std::env::var(CHILD_ENV).as_deref() == Ok("rss") {
        memory_child();
        return;
    }
    // `cargo bench --bench engine -- d` runs section d alone (cargo adds `--bench` itself).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    print_header();
    if run("a") {
        probe_throughput();
    }
    if run("b") {
        memory_in_child();
    }
    let rt = runtime(CLIENT_THREAD, None);
    if run("c") {
        rt.block_on(database_size());
    }
    if run("d") {
        rt.block_on(evaluator_cost());
    }
    println!("Load average at the end: {}.", load_average());
}

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/// A multi-thread runtime like the service's (`worker_threads: None` = one per core).
fn runtime(name: &str, worker_threads: Option<usize>) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = worker_threads {
        builder.worker_threads(n);
    }
    builder
        .thread_name(name)
        .enable_all()
        .build()
        .expect("building a tokio runtime")
}

/// A fixed wall time, midnight UTC, so day buckets line up with the generated data.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn parse_config(toml: &str) -> Config {
    Config::parse(toml, Path::new("bench.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("the benchmark configuration is invalid:\n{e}"))
}

/// `providers` simulated providers of `models` models each, probed every 30 s, with the
/// latency jitter and ~2% background errors of a real fleet.
fn fleet_config(providers: usize, models: usize) -> Config {
    const NAMES: [&str; 10] = [
        "anthropic",
        "openai",
        "google",
        "mistral",
        "groq",
        "together",
        "deepseek",
        "openrouter",
        "azure-eastus",
        "bedrock-us",
    ];
    let mut toml = String::new();
    for p in 0..providers {
        let id = NAMES
            .get(p)
            .map(|n| n.to_string())
            .unwrap_or_else(|| format!("provider-{p}"));
        let list: Vec<String> = (0..models)
            .map(|m| {
                let next = (m + 1) % models;
                format!(
                    "{{ id = \"model-{m:03}-2025-08-07\", name = \"Model {m:03}\", fallback = [\"model-{next:03}-2025-08-07\"] }}"
                )
            })
            .collect();
        toml.push_str(&format!(
            "[[providers]]\nid = \"{id}\"\nkind = \"simulated\"\nschedule = \"*/30 * * * * *\"\n\
             simulate = {{ ttft = \"600ms\", generation = \"250ms\", jitter = \"400ms\", \
             error_rate = 0.02, error_mix = {{ overloaded = 3, http_5xx = 1, timeout = 1 }} }}\n\
             models = [\n  {}\n]\n",
            list.join(",\n  ")
        ));
    }
    parse_config(&toml)
}

/// Realistic probe results of every model of `config` for `[from, to)`, oldest first: one
/// every 30 s per model, shifted by the scheduler's spread offset, outcomes and timings from
/// the simulation. Request ids are widened to 36 characters, the length of OpenAI's.
fn generate_results(config: &Config, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<ProbeResult> {
    let interval = Duration::from_secs(30);
    let mut out = Vec::new();
    for provider in &config.providers {
        let n = provider.models.len() as u32;
        for (i, model) in provider.models.iter().enumerate() {
            let key = format!("{}/{}", provider.id, model.id);
            let offset = schedule::spread_offset(interval, i as u32, n);
            let mut at = from + chrono::Duration::from_std(offset).unwrap();
            while at < to {
                let elapsed = (at - t0()).to_std().unwrap_or_default();
                let mut report = simulate(&model.simulation, &key, elapsed);
                report.request_id = report.request_id.map(|id| {
                    let hex = id.trim_start_matches("sim_");
                    format!("req_{hex}{hex}")
                });
                out.push(ProbeResult {
                    provider: provider.id.clone(),
                    model: model.id.clone(),
                    started_at: at,
                    report,
                    trigger: modelwatch::probe::Trigger::Scheduled,
                });
                at += chrono::Duration::from_std(interval).unwrap();
            }
        }
    }
    out.sort_by_key(|r| r.started_at);
    out
}

/// Writes `results` the way the service's writer does: transactions of 256.
async fn insert_in_batches(store: &Store, results: &[ProbeResult]) {
    for batch in results.chunks(256) {
        store
            .insert_results(batch)
            .await
            .expect("inserting results");
    }
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `12345678` as `12,345,678`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// CPU time (user + system) of this process's threads, split by thread name.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTimes {
    /// Threads named [`SERVER_THREAD`]: the fake provider.
    server: Duration,
    /// Every other thread: the client runtime and the main thread.
    client: Duration,
}

/// Reads `/proc/self/task/*/stat`. Times are in clock ticks of 10 ms (`USER_HZ` is 100 on
/// Linux), so runs are long enough (seconds) that the rounding stays near 1%.
fn cpu_times() -> CpuTimes {
    const TICK: Duration = Duration::from_millis(10);
    let mut times = CpuTimes::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return times;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: comm may contain spaces, so split at the parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        // After the comm, fields start at `state` (field 3); utime is 14, stime 15.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks: u32 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u32>().ok())
            .sum();
        let cpu = TICK * ticks;
        if comm.starts_with(SERVER_THREAD) {
            times.server += cpu;
        } else {
            times.client += cpu;
        }
    }
    times
}

fn print_header() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    println!("# modelwatch engine benchmarks");
    println!();
    println!(
        "Machine: {cores} cores ({model}), {:.1} GiB memory. Build: {}. Load average at the start: {}.",
        mem_kib as f64 / 1024.0 / 1024.0,
        if cfg!(debug_assertions) {
            "DEBUG (numbers are meaningless; use `scripts/bench`)"
        } else {
            "release"
        },
        load_average()
    );
    println!();
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews absolute times,
/// which is why comparisons are made as ratios within one run.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// a. Probe throughput
// ---------------------------------------------------------------------------------------

/// Probes per round and path.
const PROBES: usize = 5_000;
/// Probes in flight at once.
const CONCURRENCY: usize = 32;
/// Rounds alternate bare / prober, so a slow spell of the machine hits both paths alike.
const ROUNDS: usize = 5;
/// Requests per path before measuring: connections are opened and caches are warm.
const WARMUP: usize = 500;

/// A short Chat Completions stream as OpenAI sends it: role chunk, two content chunks, done.
const SSE_EVENTS: [&str; 4] = [
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-bench\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"o\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"k\"},\"finish_reason\":null}]}\n\n",
    "data: [DONE]\n\n",
];

/// Answers every chat completion with [`SSE_EVENTS`], streamed (chunked), like a provider.
async fn chat_completions(_request: Bytes) -> axum::response::Response {
    let chunks = SSE_EVENTS
        .iter()
        .map(|e| Ok::<_, Infallible>(Bytes::from_static(e.as_bytes())));
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .header("x-request-id", "req_bench")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .expect("a static response is valid")
}

/// Starts the fake provider on 127.0.0.1 (any free port) on the current runtime.
async fn spawn_fake_openai() -> SocketAddr {
    let app = Router::new().route("/v1/chat/completions", post(chat_completions));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake server") });
    addr
}

/// One path's measurement.
struct Measured {
    elapsed: Duration,
    ok: usize,
    cpu: CpuTimes,
}

impl Measured {
    fn per_second(&self) -> f64 {
        PROBES as f64 / self.elapsed.as_secs_f64()
    }
    fn client_us(&self) -> f64 {
        self.cpu.client.as_secs_f64() * 1e6 / PROBES as f64
    }
    fn server_us(&self) -> f64 {
        self.cpu.server.as_secs_f64() * 1e6 / PROBES as f64
    }
}

/// Runs `one` `n` times with `concurrency` worker tasks (spread over the runtime's threads,
/// as the scheduler's model tasks are); `one` returns whether the exchange succeeded.
async fn drive<F, Fut>(n: usize, concurrency: usize, one: F) -> Measured
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_times();
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (one, next) = (Arc::clone(&one), Arc::clone(&next));
        workers.spawn(async move {
            let mut ok = 0;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                ok += usize::from(one().await);
            }
            ok
        });
    }
    let mut ok = 0;
    while let Some(done) = workers.join_next().await {
        ok += done.expect("a benchmark worker panicked");
    }
    let elapsed = start.elapsed();
    let cpu_after = cpu_times();
    Measured {
        elapsed,
        ok,
        cpu: CpuTimes {
            server: cpu_after.server - cpu_before.server,
            client: cpu_after.client - cpu_before.client,
        },
    }
}

fn probe_throughput() {
    // The fake provider gets its own one-thread runtime, so its CPU time is counted apart
    // from the client's (by thread name). Both share the machine's two cores, equally for
    // both paths.
    let server_rt = runtime(SERVER_THREAD, Some(1));
    let addr = server_rt.block_on(spawn_fake_openai());
    let client_rt = runtime(CLIENT_THREAD, None);
    client_rt.block_on(compare_probe_paths(addr));
    server_rt.shutdown_background();
}

async fn compare_probe_paths(addr: SocketAddr) {
    let config = parse_config(&format!(
        "[[providers]]\nid = \"fake\"\nkind = \"openai\"\nbase_url = \"http://{addr}/v1\"\n\
         concurrency = {CONCURRENCY}\nmodels = [{{ id = \"gpt-bench\" }}]\n"
    ));
    let provider = Arc::clone(&config.providers[0]);
    let model = Arc::clone(&provider.models[0]);

    // (i) The real path: prober, request building, streaming driver, SSE decoding, timing.
    let prober = prober_for(ProviderKind::OpenAi, &http_client(), Clock::system());
    let target = Arc::new(ProbeTarget {
        provider: Arc::clone(&provider),
        model: Arc::clone(&model),
    });
    let probe_once = move || {
        let (prober, target) = (Arc::clone(&prober), Arc::clone(&target));
        async move { prober.probe(&target).await.outcome == Outcome::Ok }
    };

    // (ii) The floor: the same request (URL, JSON body, client settings), body read to the
    // end, nothing parsed or timed. Its own client, so neither path reuses the other's pool.
    let client = http_client();
    let url = reqwest::Url::parse(&endpoint(&provider, &model)).expect("a valid URL");
    let body = Bytes::from(serde_json::to_vec(&chat_body(&provider, &model)).unwrap());
    let bare_once = move || {
        let request = client
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body.clone());
        async move {
            match request.send().await {
                Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
                _ => false,
            }
        }
    };

    drive(WARMUP, CONCURRENCY, bare_once.clone()).await;
    drive(WARMUP, CONCURRENCY, probe_once.clone()).await;
    println!("## a. Probe throughput (loopback fake OpenAI-compatible server)");
    println!();
    println!(
        "{PROBES} requests per path and round, {CONCURRENCY} in flight; the fake server streams a role chunk, two content chunks and `[DONE]`. CPU is per request, from per-thread `/proc` counters (10 ms ticks)."
    );
    println!();
    println!("| round | path | requests/s | ok | client CPU µs/req | server CPU µs/req |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    let (mut bare_rounds, mut probe_rounds) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let bare = drive(PROBES, CONCURRENCY, bare_once.clone()).await;
        let probe = drive(PROBES, CONCURRENCY, probe_once.clone()).await;
        for (name, m) in [("bare reqwest", &bare), ("OpenAiProber", &probe)] {
            println!(
                "| {round} | {name} | {:.0} | {} | {:.0} | {:.0} |",
                m.per_second(),
                m.ok,
                m.client_us(),
                m.server_us()
            );
        }
        bare_rounds.push(bare);
        probe_rounds.push(probe);
    }
    // Totals over all rounds: the ratio of sums is steadier than any one round's.
    let total = |rounds: &[Measured]| {
        let secs: f64 = rounds.iter().map(|m| m.elapsed.as_secs_f64()).sum();
        let client: f64 = rounds.iter().map(|m| m.cpu.client.as_secs_f64()).sum();
        let n = (rounds.len() * PROBES) as f64;
        (n / secs, client * 1e6 / n)
    };
    let (bare_rate, bare_cpu) = total(&bare_rounds);
    let (probe_rate, probe_cpu) = total(&probe_rounds);
    let mut ratios: Vec<f64> = bare_rounds
        .iter()
        .zip(&probe_rounds)
        .map(|(b, p)| p.per_second() / b.per_second())
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!();
    println!(
        "Throughput ratio prober / bare per round: {:.2} to {:.2}.",
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!();
    println!(
        "All rounds: bare {bare_rate:.0}/s, prober {probe_rate:.0}/s: **prober throughput = {:.2}× bare**; client CPU per request {probe_cpu:.0} µs vs {bare_cpu:.0} µs: **{:.2}× bare** (+{:.0} µs per probe).",
        probe_rate / bare_rate,
        probe_cpu / bare_cpu,
        probe_cpu - bare_cpu
    );
    println!();
    probe_overhead_pieces(&provider, &model);
}

/// Iterations of each piece of per-probe work measured alone.
const PIECE_ITERATIONS: u32 = 100_000;

/// Per-probe work the prober does and the bare loop does not, measured alone (pure CPU, no
/// IO), to see where the extra CPU per probe goes. The prober's own chat decoder is private;
/// its stand-in here does the same parsing: the SSE parser, then each event's JSON as a
/// `serde_json::Value`.
fn probe_overhead_pieces(
    provider: &modelwatch::config::ProviderConfig,
    model: &modelwatch::config::ModelConfig,
) {
    let body_ns = ns_per_call(PIECE_ITERATIONS, || {
        let body = chat_body(black_box(provider), black_box(model));
        black_box(serde_json::to_vec(&body).expect("serializable"));
    });
    let url_ns = ns_per_call(PIECE_ITERATIONS, || {
        let url = endpoint(black_box(provider), black_box(model));
        black_box(reqwest::Url::parse(&url).expect("a valid URL"));
    });
    let decode_ns = ns_per_call(PIECE_ITERATIONS, || {
        let mut parser = SseParser::new();
        for chunk in SSE_EVENTS {
            for event in parser.feed(black_box(chunk.as_bytes())) {
                if event.data != "[DONE]" {
                    let value: serde_json::Value =
                        serde_json::from_str(&event.data).expect("valid JSON");
                    black_box(value);
                }
            }
        }
    });
    println!("Per-probe work of the prober that the bare loop skips, measured alone:");
    println!();
    println!("| piece | µs per probe |");
    println!("| --- | ---: |");
    println!(
        "| request body: `chat_body` as a `serde_json::Value`, serialized | {:.2} |",
        body_ns / 1e3
    );
    println!(
        "| endpoint: `endpoint` formatted, then parsed as a URL | {:.2} |",
        url_ns / 1e3
    );
    println!(
        "| response: `SseParser` over the 4 events, each event's JSON as a `Value` | {:.2} |",
        decode_ns / 1e3
    );
    println!("| sum | {:.2} |", (body_ns + url_ns + decode_ns) / 1e3);
    println!();
}

// ---------------------------------------------------------------------------------------
// b. Memory with 1,000 models
// ---------------------------------------------------------------------------------------

/// Real time the scheduler runs: one full 30 s cycle, so every model probes once.
const MEMORY_RUN: Duration = Duration::from_secs(31);

fn memory_in_child() {
    std::io::stdout().flush().ok();
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let status = std::process::Command::new(exe)
        .env(CHILD_ENV, "rss")
        .status()
        .expect("starting the memory child process");
    if !status.success() {
        println!("(memory child process failed: {status})\n");
    }
}

/// The child's main: measures, prints section b, exits.
fn memory_child() {
    let rt = runtime(CLIENT_THREAD, None);
    let start = status_kib("VmRSS");
    rt.block_on(memory_run(start));
}

async fn memory_run(start_kib: u64) {
    let mut rows: Vec<(String, u64)> = vec![("runtime started, nothing loaded".into(), start_kib)];
    let config = fleet_config(10, 100);
    rows.push((
        format!("config parsed: {} models", config.model_count()),
        status_kib("VmRSS"),
    ));

    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&dir.path().join("memory.db"))
        .await
        .expect("opening the database");
    // Anchored 100 ms before a :30 fire time, so the first cycle begins at once; the spread
    // offsets then start the 100 models of each provider over the next 30 s.
    let clock = Clock::starting_at(t0() + chrono::Duration::milliseconds(29_900));
    let (tx, rx) = mpsc::channel(config.server.write_batch * 4);
    let writer = spawn_writer(store.clone(), rx, config.server.write_batch);
    let client = http_client();
    let planned = schedule::plan(&config, &clock, |p| prober_for(p.kind, &client, clock));
    let (stop_tx, stop_rx) = watch::channel(false);
    let scheduler = schedule::spawn(planned, clock, tx, stop_rx);
    rows.push((
        "store opened, writer and 1,000 model tasks spawned".into(),
        status_kib("VmRSS"),
    ));

    // Sampled every 250 ms: the peak is when the most probes are in flight.
    let mut peak = 0;
    let began = Instant::now();
    while began.elapsed() < MEMORY_RUN {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(status_kib("VmRSS"));
    }
    rows.push((
        format!(
            "peak while probing ({} s of one 30 s cycle)",
            MEMORY_RUN.as_secs()
        ),
        peak,
    ));
    let _ = stop_tx.send(true);
    scheduler.join().await;
    writer.await.expect("the writer ended abnormally");
    let stored = store.count_results().await.expect("counting results");
    rows.push((
        format!("scheduler stopped, {stored} results written"),
        status_kib("VmRSS"),
    ));

    let now = clock.now();
    let mut engine = Engine::new(store.clone(), &config, now)
        .await
        .expect("starting the evaluator");
    rows.push(("evaluator `Engine::new`".into(), status_kib("VmRSS")));
    // Past every model's first evaluation time, so all 1,000 are judged in this round.
    let round_start = Instant::now();
    let summary = engine
        .run_once(now + chrono::Duration::minutes(8))
        .await
        .expect("an evaluation round");
    let round = round_start.elapsed();
    rows.push((
        format!(
            "after one `run_once` ({} models evaluated in {:.0} ms)",
            summary.evaluated,
            round.as_secs_f64() * 1e3
        ),
        status_kib("VmRSS"),
    ));

    println!("## b. Memory with 1,000 models (10 simulated providers × 100, every 30 s)");
    println!();
    println!("Measured in a child process so nothing else shares its heap. VmRSS from `/proc/self/status`.");
    println!();
    println!("| point | VmRSS | since start |");
    println!("| --- | ---: | ---: |");
    for (what, kib) in &rows {
        println!(
            "| {what} | {} | +{} |",
            mib(*kib),
            mib(kib.saturating_sub(start_kib))
        );
    }
    println!(
        "| high-water mark (VmHWM) | {} | |",
        mib(status_kib("VmHWM"))
    );
    let per_model = peak.saturating_sub(start_kib) as f64 * 1024.0 / config.model_count() as f64;
    println!();
    println!(
        "Peak while probing, above the empty runtime: **{:.1} KiB per model**.",
        per_model / 1024.0
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// c. Database size
// ---------------------------------------------------------------------------------------

/// Models of the size benchmark (5 providers × 20), probed every 30 s.
const SIZE_MODELS: (usize, usize) = (5, 20);

/// Bytes of each b-tree (table or index), from SQLite's `dbstat` virtual table.
async fn btree_bytes(store: &Store) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        .fetch_all(store.sqlite_pool())
        .await
        .expect("reading dbstat")
        .into_iter()
        .collect()
}

fn sum_of(bytes: &BTreeMap<String, i64>, names: &[&str]) -> i64 {
    names.iter().filter_map(|n| bytes.get(*n)).sum()
}

const RAW_BTREES: [&str; 3] = [
    "probe_results",
    "probe_results_model_time",
    "probe_results_time",
];
const ROLLUP_BTREES: [&str; 2] = ["rollups", "rollups_time"];

async fn execute(store: &Store, sql: &str) {
    sqlx::query(sql)
        .execute(store.sqlite_pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Moves the WAL into the main file and truncates it, so file sizes are comparable.
async fn checkpoint(store: &Store) {
    execute(store, "PRAGMA wal_checkpoint(TRUNCATE)").await;
}

/// Size of the database file plus its WAL.
fn file_bytes(db: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db, wal.as_path()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

async fn rollup_counts(store: &Store) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT granularity, COUNT(*) FROM rollups GROUP BY granularity",
    )
    .fetch_all(store.sqlite_pool())
    .await
    .expect("counting rollups")
    .into_iter()
    .collect()
}

async fn database_size() {
    let config = fleet_config(SIZE_MODELS.0, SIZE_MODELS.1);
    let models = config.model_count();
    let day = chrono::Duration::days(1);
    let results = generate_results(&config, t0(), t0() + day);
    let rows = results.len() as u64;
    let avg_key = results.iter().map(|r| r.model_key().len()).sum::<usize>() as f64 / rows as f64;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("size.db");
    let store = Store::open(&path).await.expect("opening the database");
    checkpoint(&store).await;
    let empty = file_bytes(&path);

    let insert_start = Instant::now();
    insert_in_batches(&store, &results).await;
    let insert = insert_start.elapsed();
    checkpoint(&store).await;
    let raw_file = file_bytes(&path) - empty;
    let raw_btrees = sum_of(&btree_bytes(&store).await, &RAW_BTREES);

    // Rolls up exactly the one day inserted: every minute, hour and the day bucket complete.
    let rollup_start = Instant::now();
    let written = store
        .compute_rollups(t0() + day)
        .await
        .expect("computing rollups");
    let rollup_time = rollup_start.elapsed();
    checkpoint(&store).await;
    let counts = rollup_counts(&store).await;
    let rollup_rows: i64 = counts.values().sum();
    let rollup_written = sum_of(&btree_bytes(&store).await, &ROLLUP_BTREES);

    // VACUUM packs every page: the floor, versus the page fill of data as it was written.
    execute(&store, "VACUUM").await;
    checkpoint(&store).await;
    let vacuumed = btree_bytes(&store).await;
    let raw_vacuumed = sum_of(&vacuumed, &RAW_BTREES);
    let rollup_vacuumed = sum_of(&vacuumed, &ROLLUP_BTREES);
    // Hour and day rows alone: their counts are larger numbers, so they might differ in size.
    execute(&store, "DELETE FROM rollups WHERE granularity = 'minute'").await;
    execute(&store, "VACUUM").await;
    checkpoint(&store).await;
    let coarse_rows = counts.get("hour").unwrap_or(&0) + counts.get("day").unwrap_or(&0);
    let coarse_vacuumed = sum_of(&btree_bytes(&store).await, &ROLLUP_BTREES);
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(store.sqlite_pool())
        .await
        .expect("reading the page size");

    let per = |bytes: i64, rows: i64| bytes as f64 / rows.max(1) as f64;
    let raw_per_row = raw_file as f64 / rows as f64;
    let rollup_per_row = per(rollup_written, rollup_rows);

    println!(
        "## c. Database size ({models} models every 30 s, one day = {} raw results)",
        thousands(rows)
    );
    println!();
    println!(
        "Simulated results (2% errors, request ids of 36 characters, model keys of {avg_key:.0} characters on average), inserted with `Store::insert_results` in transactions of 256; file sizes after `wal_checkpoint(TRUNCATE)`; b-tree sizes from `dbstat` (page size {page_size} B)."
    );
    println!();
    println!("| measure | value |");
    println!("| --- | ---: |");
    println!(
        "| insert throughput | {} rows/s ({:.2} s for {}) |",
        thousands((rows as f64 / insert.as_secs_f64()) as u64),
        insert.as_secs_f64(),
        thousands(rows)
    );
    println!(
        "| raw result, file growth (db + wal) / rows | {raw_per_row:.1} B/row ({:.1} MB) |",
        raw_file as f64 / 1e6
    );
    println!(
        "| raw result, table + 2 indexes as written | {:.1} B/row |",
        per(raw_btrees, rows as i64)
    );
    println!(
        "| raw result, table + 2 indexes after VACUUM | {:.1} B/row |",
        per(raw_vacuumed, rows as i64)
    );
    println!(
        "| `compute_rollups` for the day | {:.2} s ({} rows: {} minute, {} hour, {} day) |",
        rollup_time.as_secs_f64(),
        thousands(written as u64),
        thousands(*counts.get("minute").unwrap_or(&0) as u64),
        thousands(*counts.get("hour").unwrap_or(&0) as u64),
        thousands(*counts.get("day").unwrap_or(&0) as u64),
    );
    println!("| rollup row, as written (all granularities) | {rollup_per_row:.1} B/row |");
    println!(
        "| rollup row, after VACUUM (all granularities) | {:.1} B/row |",
        per(rollup_vacuumed, rollup_rows)
    );
    println!(
        "| hour + day rollup rows only, after VACUUM | {:.1} B/row ({coarse_rows} rows) |",
        per(coarse_vacuumed, coarse_rows)
    );
    println!();
    year_estimate(raw_per_row, rollup_per_row, empty);
}

/// The database after a year of 100 models probed every 30 s under the default retention,
/// from the measured per-row sizes (raw as file growth, rollups as written).
fn year_estimate(raw_per_row: f64, rollup_per_row: f64, empty: u64) {
    const MODELS: u64 = 100;
    const PER_DAY: u64 = 2_880; // one probe every 30 s
    let parts = [
        ("raw results, kept 2 d", MODELS * PER_DAY * 2, raw_per_row),
        (
            "minute rollups, kept 3 d",
            MODELS * 1_440 * 3,
            rollup_per_row,
        ),
        ("hour rollups, kept 32 d", MODELS * 24 * 32, rollup_per_row),
        (
            "day rollups, kept 400 d (365 after a year)",
            MODELS * 365,
            rollup_per_row,
        ),
    ];
    println!("Estimated size after one year, {MODELS} models every 30 s, default retention:");
    println!();
    println!("| data | rows | B/row | MB |");
    println!("| --- | ---: | ---: | ---: |");
    let mut total = empty as f64;
    for (what, rows, per_row) in parts {
        let bytes = rows as f64 * per_row;
        total += bytes;
        println!(
            "| {what} | {} | {per_row:.1} | {:.1} |",
            thousands(rows),
            bytes / 1e6
        );
    }
    println!("| empty schema | | | {:.2} |", empty as f64 / 1e6);
    println!("| **total** | | | **{:.0}** |", total / 1e6);
    println!();
    println!(
        "The raw table holds the last 2 days (plus up to the minutes before the day watermark), so the size stops growing after 32 days except for day rollups ({:.1} MB per year). The WAL adds up to about 4 MB (SQLite's 1,000-page autocheckpoint); pages freed by retention are reused, not returned.",
        (MODELS * 365) as f64 * rollup_per_row / 1e6
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// d. Evaluator cost
// ---------------------------------------------------------------------------------------

/// Calls of the detector timed per figure.
const DETECTOR_CALLS: u32 = 1_000_000;
/// The fleet judged per result: 100 providers × 100 models every 30 s (333 results a second).
const FLEET: (usize, usize) = (100, 100);
/// Simulated seconds before the measured ones (every model leaves `unknown` and its first
/// rows and events are written), then the measured seconds.
const WARMUP_SECONDS: i64 = 120;
const MEASURED_SECONDS: i64 = 240;
/// How often the simulated writer commits a batch (the engine's `ingest` follows each).
const WRITER_BATCH_MS: i64 = 100;

/// Samples from `pattern`, repeated: `.` ok (ttft with jitter), `x` overloaded.
fn samples(pattern: &str, n: usize) -> Vec<Sample> {
    pattern
        .chars()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, c)| {
            let jitter = ((i * 7919) % 400) as u32;
            let failed = c == 'x';
            Sample {
                at: t0() + chrono::Duration::seconds(30 * i as i64),
                outcome: if failed {
                    Outcome::Overloaded
                } else {
                    Outcome::Ok
                },
                ttft_ms: (!failed).then_some(600 + jitter),
                total_ms: 850 + jitter,
                trigger: modelwatch::probe::Trigger::Scheduled,
            }
        })
        .collect()
}

/// Mean nanoseconds per call of `f` over `iterations` calls.
fn ns_per_call(iterations: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

async fn evaluator_cost() {
    println!("## d. Evaluator cost per result");
    println!();
    detector_cost();
    engine_per_result_cost().await;
}

/// The pure detector: one result folded in and the state, wish and reasons read off it.
fn detector_cost() {
    let policy = Policy::default();
    let rows = [
        (
            "healthy, 2% errors",
            "..................................................x",
        ),
        ("30% errors (held in partial outage)", "x..x.x...x"),
    ];
    println!("Pure detector (no IO), default policy, per result:");
    println!();
    println!("| stream | `observe` + `state` + `wants`, ns | + `reasons` + `evidence` (only on a change or a refresh), ns |");
    println!("| --- | ---: | ---: |");
    for (name, pattern) in rows {
        let stream = samples(pattern, 4096);
        let mut d = Detector::new(&policy);
        let mut i = 0;
        let judge_ns = ns_per_call(DETECTOR_CALLS, || {
            let s = &stream[i % stream.len()];
            i += 1;
            d.observe(black_box(s), &policy, true);
            black_box(d.state(&policy));
            black_box(d.wants(&policy));
        });
        let words_ns = ns_per_call(DETECTOR_CALLS / 20, || {
            black_box(d.reasons(&policy));
            black_box(d.evidence(&policy, Default::default()));
        });
        println!("| {name} | {judge_ns:.0} | {words_ns:.0} |");
    }
    println!();
}

/// The real engine over SQLite, judging every result of 10,000 models probed every 30 s:
/// a writer batch every 100 ms followed by `Engine::ingest`, and `Engine::run_once` each
/// second, as in the service. The inserts are not timed; the engine's passes are (their
/// SQLite work included, as it waits for it).
async fn engine_per_result_cost() {
    let config = fleet_config(FLEET.0, FLEET.1);
    let models = config.model_count();
    let end = t0() + chrono::Duration::seconds(WARMUP_SECONDS + MEASURED_SECONDS);
    let results = generate_results(&config, t0(), end);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&dir.path().join("engine.db"))
        .await
        .expect("opening the database");
    let mut engine = Engine::new(store.clone(), &config, t0())
        .await
        .expect("starting the evaluator");
    let mut stored = 0;
    let mut measured = Duration::ZERO;
    let mut in_ticks = Duration::ZERO;
    let mut judged = 0;
    let mut changes = 0;
    let mut passes = 0;
    let steps = (WARMUP_SECONDS + MEASURED_SECONDS) * 1000 / WRITER_BATCH_MS;
    for step in 1..=steps {
        let now = t0() + chrono::Duration::milliseconds(step * WRITER_BATCH_MS);
        let upto = results.partition_point(|r| r.started_at < now);
        insert_in_batches(&store, &results[stored..upto]).await;
        stored = upto;
        let tick = (step * WRITER_BATCH_MS) % 1000 == 0;
        let start = Instant::now();
        let summary = if tick {
            engine.run_once(now).await
        } else {
            engine.ingest(now).await
        }
        .expect("an evaluation pass");
        let took = start.elapsed();
        if step * WRITER_BATCH_MS > WARMUP_SECONDS * 1000 {
            measured += took;
            if tick {
                in_ticks += took;
            }
            judged += summary.evaluated;
            changes += summary.changes.len();
            passes += 1;
        }
    }
    let share = measured.as_secs_f64() / MEASURED_SECONDS as f64;
    println!(
        "Full engine, {} models every 30 s ({:.0} results a second), {MEASURED_SECONDS} simulated seconds after {WARMUP_SECONDS} of warm-up; {passes} passes (an `ingest` per 100 ms writer batch, a `run_once` per second):",
        thousands(models as u64),
        models as f64 / 30.0
    );
    println!();
    println!("| figure | value |");
    println!("| --- | ---: |");
    println!("| results judged | {} |", thousands(judged as u64));
    println!("| state changes | {changes} |");
    println!(
        "| engine time per result (passes' time ÷ results) | {:.1} µs |",
        measured.as_secs_f64() * 1e6 / judged.max(1) as f64
    );
    println!(
        "| **share of one core** (engine time ÷ simulated time) | **{:.2}%** |",
        share * 100.0
    );
    println!(
        "| of which the once-a-second passes (overrides, windows, incidents, stored rows refreshed every 60 s) | {:.2}% |",
        in_ticks.as_secs_f64() / MEASURED_SECONDS as f64 * 100.0
    );
    println!();
}
