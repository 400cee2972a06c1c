//! The application's own traffic as a second stream of evidence for one model.
//!
//! Each source (an application, a region: whoever reported the requests) gets its own
//! error tests ([`Detector::for_traffic`]), judged per request with the same sequential
//! tests as probes but a far stricter false-alarm bound (`traffic.false_alarm_requests`),
//! since traffic brings thousands of observations where probes bring one.
//!
//! What the stream says for the model ([`TrafficView::verdict`]):
//! - **Agreement.** With one source, its view counts alone. With two or more, a level is
//!   announced only when at least two sources see it; a source alone in seeing worse is
//!   shown as "seen only from source X" and not announced (its own network, key or
//!   prompts, not the provider).
//! - **Busy or quiet.** At `traffic.busy_per_minute` requests in the last minute or more,
//!   traffic decides the model's state (detection in seconds at real volumes). Quieter, the
//!   state is the worse of probes and traffic.
//! - **Routed away.** A source that stops sending (`traffic.stale_after`) while its tests
//!   hold an impairment keeps holding it: its clients were routed away, which says nothing
//!   of recovery. Probes then stand in for its requests ([`TrafficView::observe_probe`])
//!   until its tests clear, so probes restore the model as soon as they show it works.
//!
//! Caller-side failures (`rate_limited`, `auth`, `bad_request`, `not_found`) are counted
//! for people to see and never judged. Pure: `now` comes in, nothing goes out but values.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::{Detector, Policy};
use crate::config::TrafficConfig;
use crate::stats::percentile;
use crate::store::results::Sample;
use crate::vocabulary::{ModelState, Observation, Outcome, SourceFigure, TrafficEvidence};

/// Sources kept per model; requests from further ones are counted under [`OTHER_SOURCES`].
pub const MAX_SOURCES: usize = 32;
pub const OTHER_SOURCES: &str = "(other sources)";
/// First-token times kept per source for the figure people read.
const TTFT_KEPT: usize = 64;
/// Latencies kept per source and minute for the stored medians (a reservoir sample).
const MINUTE_SAMPLES: usize = 128;
/// A minute is written once it has been over for this long (late requests still arrive).
const MINUTE_GRACE: i64 = 5;
/// A healthy source silent this long is forgotten.
const FORGET_AFTER: Duration = Duration::hours(1);

/// Counts of one second, by arrival.
#[derive(Debug, Clone, Copy, Default)]
struct Second {
    at: i64,
    requests: u32,
    failures: u32,
    client_side: u32,
}

/// One source's minute, by the requests' own time, until it is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minute {
    pub requests: u32,
    pub failures: u32,
    pub client_errors: u32,
    pub throttled: u32,
    pub ttft_count: u32,
    ttft: Vec<u32>,
    total: Vec<u32>,
    total_count: u32,
}

/// A minute ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteRow {
    pub model_key: String,
    pub source: String,
    pub minute: i64,
    pub requests: u32,
    pub failures: u32,
    pub client_errors: u32,
    pub throttled: u32,
    pub ttft_count: u32,
    pub ttft_p50_ms: Option<u32>,
    pub total_p50_ms: Option<u32>,
}

/// Keeps at most `MINUTE_SAMPLES` of a stream, each value with the same chance (Vitter's
/// algorithm R with a hash of the count standing in for the random draw).
fn reservoir(kept: &mut Vec<u32>, seen: u32, value: u32) {
    if kept.len() < MINUTE_SAMPLES {
        kept.push(value);
        return;
    }
    let slot = (u64::from(seen).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % u64::from(seen);
    if let Some(v) = kept.get_mut(slot as usize) {
        *v = value;
    }
}

#[derive(Debug, Clone)]
struct SourceView {
    detector: Detector,
    /// When its latest request arrived (the service's clock).
    last_seen: DateTime<Utc>,
    /// The last 60 seconds by arrival, a ring indexed by the second.
    seconds: [Second; 60],
    ttft: VecDeque<u32>,
    minutes: BTreeMap<i64, Minute>,
}

impl SourceView {
    fn new(policy: &Policy, now: DateTime<Utc>) -> Self {
        SourceView {
            detector: Detector::for_traffic(policy),
            last_seen: now,
            seconds: [Second::default(); 60],
            ttft: VecDeque::new(),
            minutes: BTreeMap::new(),
        }
    }

    fn stale(&self, now: DateTime<Utc>, config: &TrafficConfig) -> bool {
        now - self.last_seen > Duration::from_std(config.stale_after).unwrap_or(Duration::MAX)
    }

    /// Counts over the last minute by arrival: (requests, failures, client-side).
    fn last_minute(&self, now: DateTime<Utc>) -> (u32, u32, u32) {
        let now = now.timestamp();
        self.seconds
            .iter()
            .filter(|s| s.at > now - 60 && s.at <= now)
            .fold((0, 0, 0), |(r, f, c), s| {
                (r + s.requests, f + s.failures, c + s.client_side)
            })
    }
}

/// What the traffic says of the model now.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficVerdict {
    /// The state announced from traffic; `None` when no source has enough evidence.
    pub state: Option<ModelState>,
    /// Enough requests in the last minute for traffic to decide.
    pub busy: bool,
    /// Sources whose impairment is not announced (no other source sees it).
    pub alone: Vec<(String, ModelState)>,
    /// Held by sources that went silent: only probes can clear it.
    pub routed_away: bool,
    /// Last minute, every source: requests, provider faults, caller-side failures.
    pub requests: u32,
    pub failures: u32,
    pub client_side: u32,
    pub sources: usize,
}

/// What a decision says of the traffic: whether it has a say, which stream decides,
/// whether it was routed away, which sources are alone. When this moves the stored reasons
/// are rewritten at once (figures alone wait for the refresh).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficSaid {
    pub state: Option<ModelState>,
    pub busy: bool,
    pub routed_away: bool,
    /// The lone sources' names.
    pub alone: Vec<String>,
}

impl TrafficVerdict {
    pub fn said(&self) -> TrafficSaid {
        TrafficSaid {
            state: self.state,
            busy: self.busy,
            routed_away: self.routed_away,
            alone: self.alone.iter().map(|(s, _)| s.clone()).collect(),
        }
    }
}

/// Every source's view of one model.
#[derive(Debug, Clone, Default)]
pub struct TrafficView {
    sources: BTreeMap<String, SourceView>,
}

impl TrafficView {
    /// Whether any source has ever reported (since start or its last forgetting).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Folds in one request, arrived at `now`.
    pub fn observe(&mut self, o: &Observation, policy: &Policy, now: DateTime<Utc>) {
        let key = if self.sources.contains_key(&o.source) || self.sources.len() < MAX_SOURCES {
            o.source.as_str()
        } else {
            OTHER_SOURCES
        };
        let view = self
            .sources
            .entry(key.to_string())
            .or_insert_with(|| SourceView::new(policy, now));
        view.last_seen = view.last_seen.max(now);
        let failed = o.outcome.is_provider_fault();
        let client_side = !failed && o.outcome != Outcome::Ok;
        if !client_side {
            view.detector.observe_request(failed, o.at, policy);
        }
        let second = now.timestamp();
        let slot = &mut view.seconds[second.rem_euclid(60) as usize];
        if slot.at != second {
            *slot = Second {
                at: second,
                ..Second::default()
            };
        }
        slot.requests += 1;
        slot.failures += u32::from(failed);
        slot.client_side += u32::from(client_side);
        let minute = view
            .minutes
            .entry(o.at.timestamp().div_euclid(60) * 60)
            .or_default();
        minute.requests += 1;
        minute.failures += u32::from(failed);
        match o.outcome {
            Outcome::RateLimited => minute.throttled += 1,
            _ if client_side => minute.client_errors += 1,
            _ => {}
        }
        if o.outcome == Outcome::Ok {
            if let Some(t) = o.ttft_ms {
                minute.ttft_count += 1;
                reservoir(&mut minute.ttft, minute.ttft_count, t);
                if view.ttft.len() >= TTFT_KEPT {
                    view.ttft.pop_front();
                }
                view.ttft.push_back(t);
            }
            if let Some(t) = o.total_ms {
                minute.total_count += 1;
                reservoir(&mut minute.total, minute.total_count, t);
            }
        }
    }

    /// A probe result, standing in for the requests of sources that went silent while
    /// impaired: their clients were routed away, so only probes can show recovery.
    pub fn observe_probe(
        &mut self,
        sample: &Sample,
        counts: bool,
        policy: &Policy,
        config: &TrafficConfig,
        now: DateTime<Utc>,
    ) {
        let failed = sample.outcome.is_provider_fault();
        if !counts || (!failed && sample.outcome != Outcome::Ok) {
            return;
        }
        for view in self.sources.values_mut() {
            if view.stale(now, config) && view.detector.state(policy).is_impaired() {
                view.detector.observe_request(failed, sample.at, policy);
            }
        }
    }

    /// What the traffic supports now (see the module's rules).
    pub fn verdict(
        &self,
        policy: &Policy,
        config: &TrafficConfig,
        now: DateTime<Utc>,
    ) -> TrafficVerdict {
        let mut known: Vec<(&str, ModelState, bool)> = Vec::new();
        let (mut requests, mut failures, mut client_side) = (0, 0, 0);
        for (name, view) in &self.sources {
            let (r, f, c) = view.last_minute(now);
            requests += r;
            failures += f;
            client_side += c;
            let state = view.detector.state(policy);
            let stale = view.stale(now, config);
            // A silent source speaks only for the impairment it still holds.
            if state != ModelState::Unknown && (!stale || state.is_impaired()) {
                known.push((name, state, stale));
            }
        }
        let mut severities: Vec<u8> = known
            .iter()
            .map(|(_, s, _)| s.severity().unwrap_or(0))
            .collect();
        severities.sort_unstable_by(|a, b| b.cmp(a));
        // The highest level at least two sources agree on (or the only source's).
        let announced = match severities.len() {
            0 => None,
            1 => Some(severities[0]),
            _ => Some(severities[1]),
        };
        let state_of = |severity: u8| match severity {
            0 => ModelState::Operational,
            s => policy.levels()[usize::from(s.min(3)) - 1].0,
        };
        let alone = known
            .iter()
            .filter(|(_, s, _)| Some(s.severity().unwrap_or(0)) > announced)
            .map(|(n, s, _)| (n.to_string(), *s))
            .collect();
        let state = announced.map(state_of);
        let routed_away = state.is_some_and(ModelState::is_impaired)
            && known
                .iter()
                .filter(|(_, s, _)| s.severity() >= state.and_then(ModelState::severity))
                .all(|(_, _, stale)| *stale);
        TrafficVerdict {
            state,
            busy: requests - client_side >= config.busy_per_minute.max(1),
            alone,
            routed_away,
            requests,
            failures,
            client_side,
            sources: known.len(),
        }
    }

    /// Good probes in a row that would clear what silent sources still hold.
    pub fn probes_needed(&self, policy: &Policy) -> Option<u32> {
        self.sources
            .values()
            .filter_map(|v| v.detector.good_needed(policy))
            .max()
    }

    /// The figures of the last minute, per source, for the stored evidence.
    pub fn evidence(
        &self,
        verdict: &TrafficVerdict,
        policy: &Policy,
        config: &TrafficConfig,
        now: DateTime<Utc>,
    ) -> Option<TrafficEvidence> {
        if self.sources.is_empty() {
            return None;
        }
        let mut all_ttft: Vec<u32> = Vec::new();
        let sources = self
            .sources
            .iter()
            .map(|(name, view)| {
                let (requests, failures, client_side) = view.last_minute(now);
                let mut ttft: Vec<u32> = view.ttft.iter().copied().collect();
                all_ttft.extend(&ttft);
                let state = view.detector.state(policy);
                SourceFigure {
                    source: name.clone(),
                    requests,
                    failures,
                    client_side,
                    ttft_p50_ms: percentile(&mut ttft, 50),
                    state: state.as_str().to_string(),
                    stale: view.stale(now, config),
                    alone: verdict.alone.iter().any(|(n, _)| n == name),
                }
            })
            .collect();
        let counted = verdict.requests - verdict.client_side;
        Some(TrafficEvidence {
            requests: verdict.requests,
            failures: verdict.failures,
            client_side: verdict.client_side,
            error_rate: if counted == 0 {
                0.0
            } else {
                f64::from(verdict.failures) / f64::from(counted)
            },
            ttft_p50_ms: percentile(&mut all_ttft, 50),
            busy: verdict.busy,
            state: verdict.state.map(|s| s.as_str().to_string()),
            sources,
        })
    }

    /// Takes the minutes over for [`MINUTE_GRACE`] seconds, to be stored; drops sources
    /// that have been silent and healthy for an hour.
    pub fn take_minutes(
        &mut self,
        model_key: &str,
        policy: &Policy,
        now: DateTime<Utc>,
        rows: &mut Vec<MinuteRow>,
    ) {
        let closed_before = (now.timestamp() - MINUTE_GRACE).div_euclid(60) * 60;
        for (source, view) in &mut self.sources {
            let open = view.minutes.split_off(&closed_before);
            let closed = std::mem::replace(&mut view.minutes, open);
            for (minute, mut m) in closed {
                rows.push(MinuteRow {
                    model_key: model_key.to_string(),
                    source: source.clone(),
                    minute,
                    requests: m.requests,
                    failures: m.failures,
                    client_errors: m.client_errors,
                    throttled: m.throttled,
                    ttft_count: m.ttft_count,
                    ttft_p50_ms: percentile(&mut m.ttft, 50),
                    total_p50_ms: percentile(&mut m.total, 50),
                });
            }
        }
        self.sources.retain(|_, v| {
            !v.minutes.is_empty()
                || now - v.last_seen <= FORGET_AFTER
                || v.detector.state(policy).is_impaired()
        });
    }
}

/// The traffic tests' policy for a model: its levels and exit odds, with the traffic's
/// false-alarm bound and warm-up.
pub fn traffic_policy(model: &Policy, config: &TrafficConfig) -> Policy {
    Policy {
        false_alarm_probes: config.false_alarm_requests,
        min_samples: config.min_requests,
        ..model.clone()
    }
}

/// A state word people read ("partial outage").
fn label(state: ModelState) -> String {
    state.label().to_lowercase()
}

fn pct(part: u32, whole: u32) -> String {
    if whole == 0 {
        return "0%".into();
    }
    let p = f64::from(part) * 100.0 / f64::from(whole);
    if p > 0.0 && p < 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// The model's state from both streams, and the traffic's reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    pub state: ModelState,
    /// The traffic's reasons.
    pub reasons: Vec<String>,
    /// Whether they lead (traffic decided) or follow the probes' own (probes decided).
    pub leads: bool,
}

/// The model's state from both streams (see the module's rules); `probe` is the probes'
/// state.
pub fn combine(
    probe: ModelState,
    verdict: &TrafficVerdict,
    probes_needed: Option<u32>,
) -> Combined {
    let mut reasons = Vec::new();
    // Shares, not counts: reasons are public, and traffic volumes may be confidential
    // (the counts are in the evidence, which `traffic.public_figures` keeps private).
    let counted = verdict.requests - verdict.client_side;
    let figures = format!(
        "{} of requests failed in the last minute, from {} source{}",
        pct(verdict.failures, counted),
        verdict.sources,
        if verdict.sources == 1 { "" } else { "s" }
    );
    let (state, leads) = match verdict.state {
        None => (probe, false),
        Some(t) if verdict.routed_away => {
            let worse = worse(probe, t);
            reasons.push(match probes_needed {
                Some(n) => format!(
                    "routed away: traffic stopped while {}; probes decide now, and {n} more good ones in a row restore it",
                    label(t)
                ),
                None => format!("routed away: traffic stopped while {}", label(t)),
            });
            // The probes lead when they see worse than the traffic held.
            (worse, worse == t)
        }
        Some(t) if verdict.busy => {
            let word = if t == ModelState::Operational {
                "healthy".to_string()
            } else {
                label(t)
            };
            reasons.push(format!("{word}: traffic decides: {figures}"));
            if probe != t && probe != ModelState::Unknown {
                reasons.push(format!(
                    "probes see {}: shown, not announced while real traffic is busy",
                    label(probe)
                ));
            }
            (t, true)
        }
        Some(t) => {
            let worse = worse(probe, t);
            let traffic_decides = t.is_impaired() && worse == t && probe != t;
            if traffic_decides {
                reasons.push(format!("{}: traffic: {figures}", label(t)));
            } else {
                reasons.push(format!("traffic: {figures}"));
            }
            // Unknown probes (none yet) leave the lead to the traffic.
            (worse, traffic_decides || probe == ModelState::Unknown)
        }
    };
    for (source, s) in &verdict.alone {
        reasons.push(format!(
            "seen only from source {source}: {} there, not announced (no other source sees it)",
            label(*s)
        ));
    }
    Combined {
        state,
        reasons,
        leads,
    }
}

/// The worse of two states, where `unknown` (no evidence) yields to any known one.
fn worse(a: ModelState, b: ModelState) -> ModelState {
    match (a.severity(), b.severity()) {
        (None, _) if a == ModelState::Unknown => b,
        (_, None) if b == ModelState::Unknown => a,
        (Some(x), Some(y)) if y > x => b,
        _ => a,
    }
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
