//! The evaluation engine: the IO around the pure core.
//!
//! Each tick, every model whose evaluation interval has passed is judged on its recent
//! probes ([`super::assess`]), folded through hysteresis ([`super::step`]), and the round's
//! outcome (states, state changes, events, incident actions, outbox rows) is committed in
//! one transaction. Only after the commit does the in-memory view move on and the routing
//! table get republished, so what clients see is always what is stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::incidents::{self, ModelView, OpenIncident};
use super::overrides::{self as ops, ActiveOverride, Window, WindowStatus, WindowStep};
use super::{assess, step, Baseline, ModelState, Override, Policy, Sample, Tracker};
use crate::clock::Clock;
use crate::config::{resolve_fallback, Config};
use crate::probe::Outcome;
use crate::store::evaluations::{NewEvent, Round, StateChange, StoredModelState};
use crate::store::maintenances;
use crate::store::overrides::OpsWrite;
use crate::store::{Store, StoreError};

/// One row of the routing table clients poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// `provider/model`.
    pub id: String,
    pub state: ModelState,
    pub enabled: bool,
    /// When disabled: the first enabled model of its fallback chain (else null).
    pub fallback: Option<String>,
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// A provider's rollup: derived from its models, never the other way round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderRollup {
    pub id: String,
    pub name: String,
    pub state: ModelState,
}

/// The routing table, replaced as a whole whenever a round changes anything.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoutingTable {
    pub generated_at: DateTime<Utc>,
    pub models: Vec<Route>,
    pub providers: Vec<ProviderRollup>,
}

/// What the engine knows of one configured model.
struct Watched {
    key: String,
    provider_id: String,
    name: String,
    /// Full `provider/model` ids of its fallbacks, in order.
    fallbacks: Vec<String>,
    interval: Duration,
    policy: Policy,
    next_evaluation: DateTime<Utc>,
}

/// Summary of one round, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RoundSummary {
    pub evaluated: usize,
    pub changes: Vec<(String, ModelState, ModelState)>,
    pub events: Vec<&'static str>,
}

pub struct Engine {
    store: Store,
    models: Vec<Watched>,
    provider_names: HashMap<String, String>,
    states: HashMap<String, StoredModelState>,
    open: HashMap<String, OpenIncident>,
    /// Overrides in force as of the last committed round, by model.
    overrides: BTreeMap<String, ActiveOverride>,
    routing: watch::Sender<Arc<RoutingTable>>,
    /// Woken after a round that announced events, so delivery starts at once.
    announced: Option<Arc<tokio::sync::Notify>>,
}

impl Engine {
    /// Loads persisted states and open incidents, so a restart resumes where it stopped.
    pub async fn new(
        store: Store,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Engine, StoreError> {
        let known: HashSet<String> = config
            .models()
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect();
        let models = config
            .models()
            .map(|(p, m)| {
                let interval = m.schedule.interval_at(now);
                Watched {
                    key: format!("{}/{}", p.id, m.id),
                    provider_id: p.id.clone(),
                    name: m.name.clone(),
                    fallbacks: m
                        .fallback
                        .iter()
                        .filter_map(|f| resolve_fallback(&known, &p.id, f))
                        .collect(),
                    interval,
                    next_evaluation: now
                        + chrono::Duration::from_std(m.policy.evaluation_interval(interval))
                            .unwrap_or_default(),
                    policy: m.policy.clone(),
                }
            })
            .collect();
        let states = store
            .load_model_states()
            .await?
            .into_iter()
            .map(|s| (s.model_key.clone(), s))
            .collect();
        let open = store.open_incidents().await?.into_iter().collect();
        let provider_names = config
            .providers
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect();
        // Expired but not yet ended overrides count as in force: the first round ends them
        // and announces the decision they leave behind.
        let overrides =
            ops::split_expired(store.active_overrides().await?, DateTime::<Utc>::MAX_UTC).0;
        let (routing, _) = watch::channel(Arc::new(RoutingTable::default()));
        let engine = Engine {
            store,
            models,
            provider_names,
            states,
            open,
            overrides,
            routing,
            announced: None,
        };
        engine.publish(now);
        Ok(engine)
    }

    /// Wakes `notify` after every round that announced events (the dispatcher waits on it).
    pub fn on_announce(&mut self, notify: Arc<tokio::sync::Notify>) {
        self.announced = Some(notify);
    }

    /// A receiver of the routing table, updated after every committed change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<RoutingTable>> {
        self.routing.subscribe()
    }

    fn state_of(&self, key: &str) -> (ModelState, bool) {
        self.states
            .get(key)
            .map(|s| (s.tracker.state, s.enabled))
            .unwrap_or((ModelState::Unknown, true))
    }

    /// The routing decision clients see: the evidence's, unless an override is in force.
    fn effective(&self, key: &str) -> (ModelState, bool) {
        let (state, enabled) = self.state_of(key);
        (
            state,
            self.overrides.get(key).map_or(enabled, |o| o.enabled),
        )
    }

    /// Evaluates every model that is due at `now`, commits the round, republishes routing.
    pub async fn run_once(&mut self, now: DateTime<Utc>) -> Result<RoundSummary, StoreError> {
        // SREs change incidents by hand (resolve one, say): read the open ones afresh each
        // round (one indexed query) rather than trusting what the last round left.
        self.open = self.store.open_incidents().await?.into_iter().collect();
        // Overrides and maintenance windows, judged at the `now` given (so simulated time
        // drives their expiry): expired overrides end, windows start and complete.
        let (live_overrides, expired) =
            ops::split_expired(self.store.active_overrides().await?, now);
        let mut windows = self.store.open_maintenances().await?;
        let mut ops_writes: Vec<OpsWrite> = expired
            .iter()
            .map(|o| OpsWrite::EndOverride { id: o.id })
            .collect();
        let mut ops_events: Vec<NewEvent> = Vec::new();
        let mut touched: HashSet<String> = HashSet::new();
        for w in &mut windows {
            for step in ops::window_steps(w, now) {
                let (write, kind, status) = match step {
                    WindowStep::Start => (
                        OpsWrite::WindowStarted { id: w.id },
                        "maintenance.started",
                        WindowStatus::InProgress,
                    ),
                    WindowStep::Complete => (
                        OpsWrite::WindowCompleted { id: w.id },
                        "maintenance.completed",
                        WindowStatus::Completed,
                    ),
                };
                w.status = status;
                ops_writes.push(write);
                ops_events.push(maintenances::event(kind, w));
                touched.extend(w.models.iter().cloned());
                info!(maintenance = w.id, title = %w.title, kind, "maintenance window moved on");
            }
        }
        let windows: Vec<Window> = windows;
        let overrides_changed = live_overrides != self.overrides;
        let due: Vec<usize> = (0..self.models.len())
            .filter(|&i| {
                self.models[i].next_evaluation <= now || touched.contains(&self.models[i].key)
            })
            .collect();
        let monitoring = self.open.values().any(|i| i.monitoring_since.is_some());
        if due.is_empty() && !monitoring && ops_writes.is_empty() && !overrides_changed {
            return Ok(RoundSummary::default());
        }
        let network_down = if due.is_empty() {
            false
        } else {
            self.local_network_down(now).await?
        };
        if network_down {
            warn!("every provider is failing to connect at once: treating it as our own network; models go to unknown and nothing is announced");
        }

        let mut round = Round {
            at: Some(now),
            ..Round::default()
        };
        let mut summary = RoundSummary {
            evaluated: due.len(),
            ..RoundSummary::default()
        };
        let mut next_states: HashMap<String, StoredModelState> = HashMap::new();
        for &i in &due {
            let m = &self.models[i];
            let (window, baseline) = self.read_window(m, now).await?;
            let assessment = assess(&window, baseline, &m.policy);
            let prev = self.states.get(&m.key).cloned();
            let prev_tracker = prev
                .as_ref()
                .map(|p| p.tracker.clone())
                .unwrap_or_else(|| Tracker::new(now));
            let prev_enabled = prev.as_ref().map(|p| p.enabled).unwrap_or(true);
            let window = ops::covering(&windows, &m.key, now);
            let forced = if window.is_some() {
                Override::Maintenance
            } else if network_down {
                Override::LocalNetworkDown
            } else {
                Override::None
            };
            // Out of maintenance with no evidence yet: unknown, not still in maintenance.
            let candidate = assessment
                .candidate
                .or((prev_tracker.state == ModelState::UnderMaintenance)
                    .then_some(ModelState::Unknown));
            let tracker = step(&prev_tracker, candidate, forced, &m.policy, now);
            // Unknown means "no evidence": the routing decision stays what it was.
            let enabled = if tracker.state == ModelState::Unknown {
                prev_enabled
            } else {
                !m.policy.disables(tracker.state)
            };
            let mut reasons = assessment.reasons.clone();
            // While hysteresis holds the state against the latest evidence, say so first:
            // "healthy: …" next to a degraded state would read as a contradiction.
            if let (Some(held), Some(seen)) = (
                tracker.state.severity(),
                assessment.candidate.and_then(ModelState::severity),
            ) {
                let state = tracker.state.label().to_lowercase();
                if seen < held {
                    reasons.insert(
                        0,
                        format!(
                            "recovering: still {state} until {} better evaluations in a row",
                            m.policy.success_threshold
                        ),
                    );
                } else if seen > held {
                    reasons.insert(
                        0,
                        format!(
                            "worsening: still {state} until {} worse evaluations in a row",
                            m.policy.failure_threshold
                        ),
                    );
                }
            }
            if let Some(w) = window {
                reasons.insert(0, format!("maintenance: {}", w.title));
            } else if network_down {
                reasons.insert(
                    0,
                    "our own network: every provider failed to connect at once".into(),
                );
            }
            if tracker.state != prev_tracker.state {
                round.changes.push(StateChange {
                    model_key: m.key.clone(),
                    at: now,
                    from: prev_tracker.state,
                    to: tracker.state,
                    enabled,
                    reasons: reasons.clone(),
                    evidence: assessment.evidence.clone(),
                });
                summary
                    .changes
                    .push((m.key.clone(), prev_tracker.state, tracker.state));
                info!(model = %m.key, from = %prev_tracker.state, to = %tracker.state, enabled, reason = reasons.first().map(String::as_str).unwrap_or(""), "state changed");
            }
            next_states.insert(
                m.key.clone(),
                StoredModelState {
                    model_key: m.key.clone(),
                    tracker,
                    enabled,
                    reasons,
                    evidence: assessment.evidence,
                    evaluated_at: now,
                },
            );
        }

        // Events need the fallbacks *after* this round, so they are built once all are judged.
        let merged = |key: &str| -> (ModelState, bool) {
            next_states
                .get(key)
                .map(|s| (s.tracker.state, s.enabled))
                .unwrap_or_else(|| self.state_of(key))
        };
        // The decisions clients see, before and after this round (overrides applied).
        let effective = |key: &str| -> (ModelState, bool) {
            let (state, enabled) = merged(key);
            (
                state,
                live_overrides.get(key).map_or(enabled, |o| o.enabled),
            )
        };
        let mut announced: HashSet<String> = HashSet::new();
        for change in &round.changes {
            let m = self
                .models
                .iter()
                .find(|m| m.key == change.model_key)
                .expect("changes come from watched models");
            let prev_enabled = self.effective(&m.key).1;
            let now_enabled = effective(&m.key).1;
            let fallback = first_enabled_fallback(&self.models, &m.key, &effective);
            let mut payload = json!({
                "model": m.key,
                "model_name": m.name,
                "provider": m.provider_id,
                "from": change.from,
                "to": change.to,
                "decision": if now_enabled { "enabled" } else { "disabled" },
                "enabled": now_enabled,
                "fallback": if now_enabled { None } else { fallback },
                "reasons": change.reasons,
                "incident": self.open.get(&m.provider_id).map(|i| json!({"id": i.id, "url": format!("/incidents/{}", i.id)})),
            });
            let sre_only = change.from == ModelState::Unknown || change.to == ModelState::Unknown;
            let mut kinds = vec![("model.state_changed", !sre_only)];
            if change.to == ModelState::DegradedPerformance
                && change.from.severity().unwrap_or(0) < 1
            {
                kinds.push(("model.degraded", true));
            }
            // Every flip of the decision is announced, maintenance included: a program that
            // follows only `model.disabled` / `model.restored` must stay in step with the
            // routing table (the reasons say it is maintenance).
            announced.insert(m.key.clone());
            if prev_enabled && !now_enabled {
                kinds.push(("model.disabled", true));
            }
            if !prev_enabled && now_enabled {
                kinds.push(("model.restored", true));
            }
            for (kind, public) in kinds {
                payload["public"] = json!(public);
                round.events.push(NewEvent {
                    kind,
                    provider_id: m.provider_id.clone(),
                    model_key: Some(m.key.clone()),
                    public,
                    payload: payload.clone(),
                });
                summary.events.push(kind);
            }
        }

        // Decisions flipped by an override starting or ending, with no state change.
        for m in &self.models {
            let (state, before) = self.effective(&m.key);
            let after = effective(&m.key).1;
            if before == after
                || announced.contains(&m.key)
                || state == ModelState::UnderMaintenance
            {
                continue;
            }
            let kind = if after {
                "model.restored"
            } else {
                "model.disabled"
            };
            let ov = live_overrides.get(&m.key);
            let reason = match (ov, self.overrides.get(&m.key)) {
                (Some(o), _) => o.describe(),
                (None, Some(o)) => format!("manual override ended: {}", o.reason),
                (None, None) => "override ended".into(),
            };
            let fallback = first_enabled_fallback(&self.models, &m.key, &effective);
            round.events.push(NewEvent {
                kind,
                provider_id: m.provider_id.clone(),
                model_key: Some(m.key.clone()),
                public: true,
                payload: json!({
                    "model": m.key,
                    "model_name": m.name,
                    "provider": m.provider_id,
                    "from": state,
                    "to": state,
                    "decision": if after { "enabled" } else { "disabled" },
                    "enabled": after,
                    "fallback": if after { None } else { fallback },
                    "reasons": [reason],
                    "override": ov,
                    "incident": self.open.get(&m.provider_id).map(|i| json!({"id": i.id, "url": format!("/incidents/{}", i.id)})),
                    "public": true,
                }),
            });
            summary.events.push(kind);
            info!(model = %m.key, kind, "override changed the routing decision");
        }
        for e in ops_events {
            summary.events.push(e.kind);
            round.events.push(e);
        }
        round.ops = ops_writes;

        // Incidents: one per provider, planned from the models' states after this round.
        let mut providers: Vec<String> = round
            .changes
            .iter()
            .filter_map(|c| c.model_key.split('/').next().map(str::to_string))
            .collect();
        providers.extend(self.open.keys().cloned());
        // A provider still impaired without an open incident (an SRE resolved it) gets a new one.
        providers.extend(
            self.models
                .iter()
                .filter(|m| merged(&m.key).0.is_impaired())
                .map(|m| m.provider_id.clone()),
        );
        providers.sort();
        providers.dedup();
        for provider in providers {
            let views: Vec<ModelView> = self
                .models
                .iter()
                .filter(|m| m.provider_id == provider)
                .map(|m| ModelView {
                    key: m.key.clone(),
                    name: m.name.clone(),
                    state: merged(&m.key).0,
                })
                .collect();
            let Some(first) = self.models.iter().find(|m| m.provider_id == provider) else {
                continue;
            };
            let quiet = chrono::Duration::from_std(first.interval * first.policy.quiet_probes)
                .unwrap_or_default();
            let name = self
                .provider_names
                .get(&provider)
                .cloned()
                .unwrap_or_else(|| provider.clone());
            if let Some(action) =
                incidents::plan(&name, &views, self.open.get(&provider), now, quiet)
            {
                round.incidents.push((provider, action));
            }
        }
        for (_, action) in &round.incidents {
            summary.events.push(match action {
                incidents::IncidentAction::Open { .. } => "incident.created",
                incidents::IncidentAction::Update { .. } => "incident.updated",
                incidents::IncidentAction::Resolve { .. } => "incident.resolved",
            });
        }

        round.states = next_states.values().cloned().collect();
        self.store.commit_round(&round).await?;
        if !round.events.is_empty() || !round.incidents.is_empty() {
            if let Some(n) = &self.announced {
                n.notify_one();
            }
        }

        // Committed: move the in-memory view on.
        for &i in &due {
            let m = &mut self.models[i];
            let building = next_states
                .get(&m.key)
                .is_some_and(|s| s.tracker.streak_building());
            let after = m.policy.next_evaluation_after(m.interval, building);
            m.next_evaluation = now + chrono::Duration::from_std(after).unwrap_or_default();
        }
        let changed = !round.changes.is_empty()
            || !round.incidents.is_empty()
            || !round.ops.is_empty()
            || overrides_changed;
        self.states.extend(next_states);
        self.overrides = live_overrides;
        if !round.incidents.is_empty() {
            self.open = self.store.open_incidents().await?.into_iter().collect();
        }
        if changed || self.routing.borrow().models.is_empty() {
            self.publish(now);
        }
        Ok(summary)
    }

    /// The model's last `window_probes` probes and the baseline before them.
    async fn read_window(
        &self,
        m: &Watched,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Sample>, Baseline), StoreError> {
        let window_len = m.policy.window(m.interval);
        let lookback = m.interval * (m.policy.window_probes + m.policy.baseline_probes);
        let since = now - chrono::Duration::from_std(lookback).unwrap_or_default();
        let window_start = now - chrono::Duration::from_std(window_len).unwrap_or_default();
        let rows = self.store.results_since(&m.key, since).await?;
        let samples: Vec<Sample> = rows
            .into_iter()
            .filter(|r| r.started_at <= now)
            .map(|r| Sample {
                at: r.started_at,
                outcome: r.outcome,
                ttft_ms: r.ttft_ms,
                total_ms: r.total_ms,
            })
            .collect();
        let split = samples.partition_point(|s| s.at < window_start);
        let (before, window) = samples.split_at(split);
        let take = window.len().saturating_sub(m.policy.window_probes as usize);
        Ok((window[take..].to_vec(), Baseline::from_samples(before)))
    }

    /// True when at least two providers have recent probes and every one of them is failing
    /// to connect on all its models: that is our network, not theirs.
    async fn local_network_down(&self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let longest = self
            .models
            .iter()
            .map(|m| m.interval)
            .max()
            .unwrap_or(Duration::from_secs(60));
        let since = now - chrono::Duration::from_std(longest * 2).unwrap_or_default();
        let latest = self.store.latest_outcomes(since).await?;
        let mut per_provider: BTreeMap<&str, bool> = BTreeMap::new();
        for (key, outcome) in &latest {
            let provider = key.split('/').next().unwrap_or("");
            let connect = outcome == Outcome::Connect.as_str();
            per_provider
                .entry(provider)
                .and_modify(|all| *all &= connect)
                .or_insert(connect);
        }
        Ok(per_provider.len() >= 2 && per_provider.values().all(|all| *all))
    }

    fn publish(&self, now: DateTime<Utc>) {
        let lookup = |key: &str| self.effective(key);
        let models = self
            .models
            .iter()
            .map(|m| {
                let s = self.states.get(&m.key);
                let (state, enabled) = lookup(&m.key);
                Route {
                    id: m.key.clone(),
                    state,
                    enabled,
                    fallback: if enabled {
                        None
                    } else {
                        first_enabled_fallback(&self.models, &m.key, &lookup)
                    },
                    since: s.map(|s| s.tracker.since).unwrap_or(now),
                    reason: match self.overrides.get(&m.key) {
                        Some(o) => o.describe(),
                        None => s
                            .and_then(|s| s.reasons.first().cloned())
                            .unwrap_or_else(|| "no evaluation yet".into()),
                    },
                }
            })
            .collect::<Vec<Route>>();
        let mut providers: Vec<ProviderRollup> = Vec::new();
        for m in &self.models {
            if providers.iter().any(|p| p.id == m.provider_id) {
                continue;
            }
            let states: Vec<ModelState> = self
                .models
                .iter()
                .filter(|o| o.provider_id == m.provider_id)
                .map(|o| lookup(&o.key).0)
                .collect();
            providers.push(ProviderRollup {
                id: m.provider_id.clone(),
                name: self
                    .provider_names
                    .get(&m.provider_id)
                    .cloned()
                    .unwrap_or_else(|| m.provider_id.clone()),
                state: super::state::provider_rollup(&states),
            });
        }
        self.routing.send_replace(Arc::new(RoutingTable {
            generated_at: now,
            models,
            providers,
        }));
    }
}

/// The first enabled model of `key`'s fallback chain, following fallbacks of disabled
/// fallbacks depth-first, each model at most once.
fn first_enabled_fallback(
    models: &[Watched],
    key: &str,
    state: &dyn Fn(&str) -> (ModelState, bool),
) -> Option<String> {
    let mut seen = HashSet::from([key.to_string()]);
    let mut stack: Vec<String> = models
        .iter()
        .find(|m| m.key == key)?
        .fallbacks
        .iter()
        .rev()
        .cloned()
        .collect();
    while let Some(candidate) = stack.pop() {
        if !seen.insert(candidate.clone()) {
            continue;
        }
        if state(&candidate).1 {
            return Some(candidate);
        }
        if let Some(m) = models.iter().find(|m| m.key == candidate) {
            stack.extend(m.fallbacks.iter().rev().cloned());
        }
    }
    None
}

/// Runs the engine each second until shutdown.
pub fn spawn(
    mut engine: Engine,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = engine.run_once(clock.now()).await {
                // Nothing of a failed round was committed or published; the next tick retries it.
                error!(error = %e, "evaluation round failed");
            }
        }
    })
}
