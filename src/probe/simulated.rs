//! The built-in simulated provider: runs offline, replays incidents on demand.
//!
//! Each probe's outcome and timings are a pure function of the model's
//! [`SimulationConfig`], its id and the time since the service started ([`simulate`]),
//! seeded so the same inputs give the same probe. The live prober then waits out the
//! simulated latency on tokio's clock, so under `tokio::time::pause` a whole day of probes
//! runs in milliseconds.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Outcome, ProbeReport, ProbeTarget, Prober};
use crate::clock::Clock;
use crate::config::SimulationConfig;

/// Probes simulated models, measuring "elapsed" from the moment it was created.
pub struct SimulatedProber {
    clock: Clock,
    started: chrono::DateTime<chrono::Utc>,
}

impl SimulatedProber {
    /// A prober on `clock` whose fault windows count from `started` (tests anchor the clock
    /// to a fixed wall time under paused tokio time).
    pub fn new(clock: Clock, started: chrono::DateTime<chrono::Utc>) -> Self {
        SimulatedProber { clock, started }
    }
}

#[async_trait]
impl Prober for SimulatedProber {
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let now = self.clock.now();
        let elapsed = (now - self.started).to_std().unwrap_or_default();
        let mut report = simulate(&target.model.simulation, &target.key(), elapsed);
        if report.total_ms as u128 > target.provider.timeout.as_millis() {
            // A simulated stall longer than the provider's timeout ends as a real one would.
            report = ProbeReport {
                outcome: Outcome::Timeout,
                ttft_ms: report
                    .ttft_ms
                    .filter(|t| (*t as u128) < target.provider.timeout.as_millis()),
                total_ms: target.provider.timeout.as_millis() as u32,
                error: Some(format!(
                    "timed out after {}",
                    humantime::format_duration(target.provider.timeout)
                )),
                ..report
            };
        }
        tokio::time::sleep(Duration::from_millis(report.total_ms as u64)).await;
        report
    }
}

/// The probe a simulated model gives `elapsed` after the start. Pure and deterministic.
pub fn simulate(sim: &SimulationConfig, model_key: &str, elapsed: Duration) -> ProbeReport {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    model_key.hash(&mut hasher);
    elapsed.as_millis().hash(&mut hasher);
    let mut rng = SmallRng::seed_from_u64(hasher.finish());

    let fault = sim.faults.iter().find(|f| f.active_at(elapsed));
    let (error_rate, mix, ttft) = match fault {
        Some(f) => (f.error_rate, &f.error_mix, f.ttft.unwrap_or(sim.ttft)),
        None => (sim.error_rate, &sim.error_mix, sim.ttft),
    };
    let jitter = |rng: &mut SmallRng| {
        let max = sim.jitter.as_millis() as u64;
        if max == 0 {
            0
        } else {
            rng.gen_range(0..=max)
        }
    };
    let headers_ms = 40 + jitter(&mut rng) as u32 / 4;
    let request_id = Some(format!("sim_{:016x}", rng.gen::<u64>()));
    if rng.gen_bool(error_rate.clamp(0.0, 1.0)) {
        let outcome = pick(mix, &mut rng);
        let (status, message) = match outcome {
            Outcome::Overloaded => (Some(529), "HTTP 529: Overloaded (simulated)"),
            Outcome::Http5xx => (Some(500), "HTTP 500: Internal server error (simulated)"),
            Outcome::RateLimited => (Some(429), "HTTP 429: rate limited (simulated)"),
            Outcome::Auth => (Some(401), "HTTP 401: invalid x-api-key (simulated)"),
            Outcome::BadRequest => (Some(400), "HTTP 400: bad request (simulated)"),
            Outcome::NotFound => (Some(404), "HTTP 404: model not found (simulated)"),
            Outcome::Timeout => (None, "timed out (simulated)"),
            Outcome::Connect => (None, "connection refused (simulated)"),
            Outcome::Malformed => (Some(200), "stream truncated (simulated)"),
            Outcome::Empty | Outcome::Ok => {
                (Some(200), "stream finished without any text (simulated)")
            }
        };
        let total = headers_ms + jitter(&mut rng) as u32 / 2;
        return ProbeReport {
            outcome,
            http_status: status,
            headers_ms: status.map(|_| headers_ms),
            ttft_ms: None,
            total_ms: total,
            request_id: status.and(request_id),
            error: Some(message.to_string()),
        };
    }
    let ttft_ms = ttft.as_millis() as u32 + jitter(&mut rng) as u32;
    let total_ms = ttft_ms + sim.generation.as_millis() as u32 + jitter(&mut rng) as u32 / 2;
    ProbeReport {
        outcome: Outcome::Ok,
        http_status: Some(200),
        headers_ms: Some(headers_ms.min(ttft_ms)),
        ttft_ms: Some(ttft_ms),
        total_ms,
        request_id,
        error: None,
    }
}

fn pick(mix: &[(Outcome, u32)], rng: &mut SmallRng) -> Outcome {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return Outcome::Http5xx;
    }
    let mut roll = rng.gen_range(0..total);
    for (outcome, weight) in mix {
        if roll < *weight {
            return *outcome;
        }
        roll -= weight;
    }
    Outcome::Http5xx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FaultWindow;

    fn faulty() -> SimulationConfig {
        SimulationConfig {
            error_rate: 0.0,
            faults: vec![FaultWindow {
                after: Duration::from_secs(60),
                duration: Duration::from_secs(60),
                every: None,
                error_rate: 0.6,
                error_mix: vec![(Outcome::Overloaded, 1)],
                ttft: Some(Duration::from_secs(3)),
            }],
            ..SimulationConfig::default()
        }
    }

    #[test]
    fn same_inputs_same_probe() {
        let sim = faulty();
        let a = simulate(&sim, "sim/a", Duration::from_millis(90_000));
        let b = simulate(&sim, "sim/a", Duration::from_millis(90_000));
        assert_eq!(a, b);
    }

    #[test]
    fn healthy_outside_the_fault_and_about_sixty_percent_inside() {
        let sim = faulty();
        let outside = (0..60).map(|s| simulate(&sim, "sim/a", Duration::from_secs(s)));
        assert!(outside.clone().all(|r| r.outcome == Outcome::Ok));
        assert!(outside.clone().all(|r| r.ttft_ms.unwrap() < 1000));
        let inside: Vec<_> = (0..600)
            .map(|i| simulate(&sim, "sim/a", Duration::from_millis(60_000 + i * 100)))
            .collect();
        let failed = inside
            .iter()
            .filter(|r| r.outcome == Outcome::Overloaded)
            .count();
        assert!(
            (300..420).contains(&failed),
            "{failed} of 600 failed, want about 360"
        );
        let ok_slow = inside
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .all(|r| r.ttft_ms.unwrap() >= 3000);
        assert!(
            ok_slow,
            "successful probes in the fault have the slow first token"
        );
    }
}
