//! Simulated application traffic for the built-in demo (`[traffic] simulate`): what an
//! application calling the simulated models would report, so a newcomer sees the second
//! stream of evidence at work without wiring an application.
//!
//! Each second, every model of a `simulated` provider gets `requests_per_second` requests
//! per source, each ending as [`simulate`] says the model behaves at that instant (the same
//! faults the probes see). Like a real application honouring the routing table, it sends
//! nothing to a disabled model: those requests go to its fallback, or nowhere. So the demo
//! shows the whole loop: traffic disables a failing model within a second or two, then
//! probes alone see it recover and restore it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::simulated::simulate;
use crate::clock::Clock;
use crate::config::{Config, ProviderKind};
use crate::evaluate::engine::RoutingTable;
use crate::vocabulary::Observation;

/// One second of requests at `now`, `elapsed` after the start, routed as `routing` says.
pub fn second(
    config: &Config,
    routing: &RoutingTable,
    elapsed: Duration,
    now: DateTime<Utc>,
) -> Vec<Observation> {
    let Some(sim) = &config.traffic.simulate else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (p, m) in config.models() {
        if p.kind != ProviderKind::Simulated {
            continue;
        }
        let key = format!("{}/{}", p.id, m.id);
        let route = routing.models.iter().find(|r| r.id == key);
        // Routed as the table says: a disabled model's requests go to its fallback.
        let target = match route {
            Some(r) if !r.enabled => match &r.fallback {
                Some(f) => f.clone(),
                None => continue,
            },
            _ => key.clone(),
        };
        let Some((tp, tm)) = config
            .models()
            .find(|(tp, tm)| format!("{}/{}", tp.id, tm.id) == target)
        else {
            continue;
        };
        for (s, source) in sim.sources.iter().enumerate() {
            for i in 0..sim.requests_per_second {
                // A distinct instant per request, so each draws its own outcome.
                let offset = Duration::from_millis(
                    u64::from(i) * 1000 / u64::from(sim.requests_per_second) + s as u64 * 7,
                );
                let report = simulate(&tm.simulation, &target, elapsed + offset);
                out.push(Observation {
                    model_key: format!("{}/{}", tp.id, tm.id),
                    source: source.clone(),
                    outcome: report.outcome,
                    ttft_ms: report.ttft_ms,
                    total_ms: Some(report.total_ms),
                    at: now,
                });
            }
        }
    }
    out
}

/// Sends [`second`]'s requests to the evaluator's queue once a second until shutdown.
pub fn spawn(
    config: Arc<Config>,
    routing: watch::Receiver<Arc<RoutingTable>>,
    clock: Clock,
    queue: mpsc::Sender<Vec<Observation>>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let started = clock.now();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let now = clock.now();
            let elapsed = (now - started).to_std().unwrap_or_default();
            let table = routing.borrow().clone();
            let rows = second(&config, &table, elapsed, now);
            // A full queue drops this second's simulated requests, as an application's
            // reporter would: the demo never waits on it.
            if !rows.is_empty() && queue.try_send(rows).is_err() {
                tracing::debug!("the evaluator's queue is full: a simulated second was dropped");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::engine::Route;
    use crate::vocabulary::ModelState;

    fn config() -> Config {
        let text = r#"
[traffic]
simulate = { requests_per_second = 10, sources = ["web", "batch"] }

[[providers]]
id = "sim"
kind = "simulated"
simulate = { error_rate = 0.0 }
models = [
  { id = "a", fallback = ["b"], simulate = { faults = [ { after = "0s", duration = "1h", error_rate = 1.0 } ] } },
  { id = "b" },
]
"#;
        Config::parse(text, std::path::Path::new("t.toml"), &|_| None).unwrap()
    }

    fn route(id: &str, enabled: bool, fallback: Option<&str>) -> Route {
        Route {
            id: id.into(),
            state: ModelState::Operational,
            enabled,
            fallback: fallback.map(String::from),
            since: Utc::now(),
            reason: String::new(),
        }
    }

    #[test]
    fn each_model_gets_its_requests_and_a_disabled_one_sends_them_to_its_fallback() {
        let config = config();
        let now = Utc::now();
        let table = RoutingTable {
            models: vec![route("sim/a", true, None), route("sim/b", true, None)],
            ..RoutingTable::default()
        };
        let rows = second(&config, &table, Duration::from_secs(5), now);
        let to_a: Vec<&Observation> = rows.iter().filter(|o| o.model_key == "sim/a").collect();
        assert_eq!(to_a.len(), 20, "10 a second from each of two sources");
        assert!(
            to_a.iter().all(|o| o.outcome.is_provider_fault()),
            "a is failing"
        );
        assert_eq!(rows.iter().filter(|o| o.source == "batch").count(), 20);

        let routed = RoutingTable {
            models: vec![
                route("sim/a", false, Some("sim/b")),
                route("sim/b", true, None),
            ],
            ..RoutingTable::default()
        };
        let rows = second(&config, &routed, Duration::from_secs(5), now);
        assert!(
            rows.iter().all(|o| o.model_key == "sim/b"),
            "nothing is sent to a"
        );
        assert_eq!(rows.len(), 40);
        assert!(rows
            .iter()
            .all(|o| o.outcome == crate::vocabulary::Outcome::Ok));
    }
}
