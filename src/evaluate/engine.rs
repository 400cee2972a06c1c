//! The evaluation engine: the IO around the pure core.
//!
//! It follows the results table by row id. Each pass judges every result written since the
//! last pass, one by one, with the model's in-memory [`Detector`] (no database read per
//! result), then commits what changed (states, state changes, events, incident actions,
//! outbox rows) in one transaction. Only after the commit does the in-memory view move on
//! and the routing table get republished, so what clients see is always what is stored.
//!
//! A pass runs when the result writer has stored a batch ([`Engine::ingest`]) and once a
//! second ([`Engine::run_once`], which also reads overrides, maintenance windows and open
//! incidents, so SREs' changes apply within a second and quiet incidents resolve). After
//! judging a result the engine may ask the scheduler for an extra probe of that model
//! (confirmation while in doubt, recovery while disabled), within the model's budget.
//!
//! A pass reads as its steps: [`Engine::read_ops`] (on the tick), [`Engine::judge_new_results`],
//! [`Engine::decide`], [`Engine::record`], [`Engine::announce`], [`Engine::plan_incidents`],
//! commit, then [`Engine::settle`] and [`Engine::ask_for_probes`].

pub mod announce;
pub mod routing;
pub mod vantages;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use super::budget::ExtraBudget;
use super::detector::Detector;
use super::incidents::{self, ModelView, OpenIncident};
use super::overrides::{self as ops, ActiveOverride, Window, WindowStatus, WindowStep};
use super::traffic::{self, TrafficSaid, TrafficVerdict, TrafficView};
use super::Policy;
use crate::clock::Clock;
use crate::config::{AgentsConfig, Config, TrafficConfig};
use crate::probe::Trigger;
use crate::schedule::requests::ProbeRequests;
use crate::store::evaluations::{StateChange, StoredModelState};
use crate::store::events::NewEvent;
use crate::store::maintenances;
use crate::store::overrides::OpsWrite;
use crate::store::results::{KeyedSample, Sample, Vantage};
use crate::store::round::Round;
use crate::store::{Store, StoreError};
use crate::vocabulary::{EventBody, ModelState, Tracker};
use crate::vocabulary::{Observation, Outcome};
use announce::{About, Decision};
pub use routing::{ProviderRollup, Route, RoutingTable};

/// How far back the statistics are rebuilt from stored results at start.
const REBUILD_LOOKBACK: chrono::Duration = chrono::Duration::hours(1);
/// Results read per query while catching up.
const READ_BATCH: u32 = 5000;
/// A model's stored reasons and evidence are refreshed at least this often while new
/// results arrive, even when its state does not change (pages show them; a state change or
/// a new kind of first reason is written at once). Half of the engine's cost at 10,000
/// models is these writes, so they are batched and not more frequent than this.
const REFRESH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// What the engine knows of one configured model.
struct Watched {
    key: String,
    provider_id: String,
    name: String,
    /// Full `provider/model` ids of its fallbacks, in order.
    fallbacks: Vec<String>,
    interval: Duration,
    policy: Policy,
    detector: Detector,
    /// The application's own requests, per source, and the stricter policy they are
    /// judged by (see [`traffic`]).
    traffic: TrafficView,
    traffic_policy: Policy,
    budget: ExtraBudget,
    /// Its extra-probe budget per hour.
    per_hour: u32,
    /// The committed decision: what the store and the routing table say.
    state: ModelState,
    since: DateTime<Utc>,
    enabled: bool,
    /// The committed first reason: a new one is written at once (it is what pages lead with).
    headline: String,
    /// Judged since its row was last written.
    dirty: bool,
    written_at: DateTime<Utc>,
    /// Whether its latest result failed to connect (for telling our network from theirs);
    /// `None` before its first result.
    last_connect: Option<bool>,
    /// Decided but not yet committed (the commit failed): decided again on the next tick.
    pending: bool,
    /// When its latest judged probe started (extra probes are spaced from it).
    last_probe_at: Option<DateTime<Utc>>,
    /// What the committed decision said of the traffic (see [`TrafficSaid`]): a change is
    /// written at once, like a new headline.
    traffic_said: TrafficSaid,
    /// Agents' views of it, by agent name (see [`vantages`]).
    remote: BTreeMap<String, vantages::Remote>,
}

/// Summary of one pass, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RoundSummary {
    /// Results judged.
    pub evaluated: usize,
    pub changes: Vec<(String, ModelState, ModelState)>,
    pub events: Vec<&'static str>,
}

/// Overrides and maintenance windows as of this pass.
struct Ops {
    overrides: BTreeMap<String, ActiveOverride>,
    windows: Vec<Window>,
    writes: Vec<OpsWrite>,
    events: Vec<NewEvent>,
    /// Models whose maintenance window started or completed in this pass.
    touched: HashSet<String>,
}

/// One model's decision in this pass, before it is committed.
struct Decided {
    index: usize,
    state: ModelState,
    enabled: bool,
    reasons: Vec<String>,
    /// Written because the state changed (else only a refresh of reasons and evidence).
    changed: bool,
    traffic_said: TrafficSaid,
    /// The traffic behind it, for the stored evidence (the verdict was read here already).
    traffic: Option<crate::vocabulary::TrafficEvidence>,
}

pub struct Engine {
    store: Store,
    models: Vec<Watched>,
    index: HashMap<String, usize>,
    provider_names: HashMap<String, String>,
    open: HashMap<String, OpenIncident>,
    /// Overrides in force as of the last committed pass, by model.
    overrides: BTreeMap<String, ActiveOverride>,
    /// Open maintenance windows as of the last committed pass.
    windows: Vec<Window>,
    /// The last result row judged.
    last_result: i64,
    routing: watch::Sender<Arc<RoutingTable>>,
    /// Woken after a pass that announced events, so delivery starts at once.
    announced: Option<Arc<Notify>>,
    /// Woken after a pass that changed what the public pages show beyond the routing table
    /// (incidents, overrides, maintenance windows), so the site is republished at once.
    public_change: Option<Arc<Notify>>,
    /// Where extra probes are asked for (the scheduler watches it).
    requests: ProbeRequests,
    traffic_config: TrafficConfig,
    agents: AgentsConfig,
    /// When the last once-a-second pass decided (vantages that went silent since are
    /// looked at in the next).
    last_tick: DateTime<Utc>,
    /// An agent reported a model for the first time since the last publish: the routing
    /// table gains its region.
    new_vantage: bool,
}

impl Engine {
    /// Loads persisted states, open incidents, overrides and windows, and rebuilds every
    /// model's statistics from the last hour of results, so a restart resumes where it
    /// stopped and announces nothing by itself.
    pub async fn new(
        store: Store,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Engine, StoreError> {
        let stored: HashMap<String, StoredModelState> = store
            .load_model_states()
            .await?
            .into_iter()
            .map(|s| (s.model_key.clone(), s))
            .collect();
        let mut models: Vec<Watched> = config
            .models()
            .zip(config.resolved_fallbacks())
            .map(|((p, m), fallbacks)| {
                let key = format!("{}/{}", p.id, m.id);
                let saved = stored.get(&key);
                let interval = m.schedule.interval_at(now);
                let per_hour = m.policy.extra_budget(interval);
                Watched {
                    provider_id: p.id.clone(),
                    name: m.name.clone(),
                    fallbacks,
                    interval,
                    detector: Detector::new(&m.policy),
                    traffic: TrafficView::default(),
                    traffic_policy: traffic::traffic_policy(&m.policy, &config.traffic),
                    budget: ExtraBudget::new(per_hour, now - REBUILD_LOOKBACK),
                    per_hour,
                    state: saved.map_or(ModelState::Unknown, |s| s.tracker.state),
                    since: saved.map_or(now, |s| s.tracker.since),
                    enabled: saved.is_none_or(|s| s.enabled),
                    headline: saved
                        .and_then(|s| s.reasons.first().cloned())
                        .unwrap_or_default(),
                    dirty: false,
                    written_at: saved.map_or(now, |s| s.evaluated_at),
                    last_connect: None,
                    pending: false,
                    last_probe_at: None,
                    traffic_said: TrafficSaid::default(),
                    remote: BTreeMap::new(),
                    policy: m.policy.clone(),
                    key,
                }
            })
            .collect();
        let index: HashMap<String, usize> = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.key.clone(), i))
            .collect();
        let (history, last_result) = store.samples_since(now - REBUILD_LOOKBACK).await?;
        for row in &history {
            if let Some(m) = index.get(&row.model_key).map(|&i| &mut models[i]) {
                let sample = &row.sample;
                match &row.vantage {
                    Some(v) => m.observe_remote(v, sample, true),
                    None => {
                        m.budget.spend(m.per_hour, sample.trigger, sample.at);
                        m.last_connect = Some(sample.outcome == Outcome::Connect);
                        m.detector.observe(sample, &m.policy, true);
                        m.last_probe_at = Some(sample.at);
                    }
                }
            }
        }
        for m in &mut models {
            if m.state.severity().is_some() {
                m.detector.align(m.state, &m.policy);
            }
        }
        let provider_names = config
            .providers
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect();
        // Expired but not yet ended overrides count as in force: the first pass ends them
        // and announces the decision they leave behind.
        let overrides =
            ops::split_expired(store.active_overrides().await?, DateTime::<Utc>::MAX_UTC).0;
        let requests = ProbeRequests::new(models.iter().map(|m| m.key.as_str()));
        let (routing, _) = watch::channel(Arc::new(RoutingTable::default()));
        let engine = Engine {
            open: store.open_incidents().await?.into_iter().collect(),
            windows: store.open_maintenances().await?,
            store,
            models,
            index,
            provider_names,
            overrides,
            last_result,
            routing,
            announced: None,
            public_change: None,
            requests,
            traffic_config: config.traffic.clone(),
            agents: config.agents.clone(),
            last_tick: now,
            new_vantage: false,
        };
        engine.publish(now);
        Ok(engine)
    }

    /// Wakes `notify` after every pass that announced events (the dispatcher waits on it).
    pub fn on_announce(&mut self, notify: Arc<Notify>) {
        self.announced = Some(notify);
    }

    /// Wakes `notify` after every pass that changed incidents, overrides or maintenance
    /// windows (the publisher waits on it; routing changes reach it through the table).
    pub fn on_public_change(&mut self, notify: Arc<Notify>) {
        self.public_change = Some(notify);
    }

    /// A receiver of the routing table, updated after every committed change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<RoutingTable>> {
        self.routing.subscribe()
    }

    /// Where this engine asks for extra probes; the scheduler (or a simulation) serves them.
    pub fn probe_requests(&self) -> ProbeRequests {
        self.requests.clone()
    }

    /// The once-a-second pass: overrides, maintenance windows and incidents as they are in
    /// the store now, then every new result.
    pub async fn run_once(&mut self, now: DateTime<Utc>) -> Result<RoundSummary, StoreError> {
        // SREs change incidents by hand (resolve one, say): read the open ones afresh.
        self.open = self.store.open_incidents().await?.into_iter().collect();
        let ops = self.read_ops(now).await?;
        let summary = self.pass(now, ops, true, Vec::new()).await?;
        self.store_traffic_minutes(now).await;
        Ok(summary)
    }

    /// Folds in batches of the application's traffic, then decides the models they touched
    /// at once (a hard-down model is disabled by the first batch that shows it).
    pub async fn ingest_traffic(
        &mut self,
        batches: &[Vec<Observation>],
        now: DateTime<Utc>,
    ) -> Result<RoundSummary, StoreError> {
        let mut judged = Vec::new();
        for o in batches.iter().flatten() {
            let Some(&i) = self.index.get(&o.model_key) else {
                continue;
            };
            let m = &mut self.models[i];
            if ops::covering(&self.windows, &m.key, now).is_some() {
                // Down on purpose: nothing it does in its window is evidence.
                continue;
            }
            m.traffic.observe(o, &m.traffic_policy, now);
            m.dirty = true;
            judged.push(i);
        }
        judged.sort_unstable();
        judged.dedup();
        let ops = self.ops_as_committed();
        self.pass(now, ops, false, judged).await
    }

    /// Writes each model's traffic minutes that are over. A failed write is logged and its
    /// minutes dropped: they are figures for pages, not evidence (the evidence was judged
    /// as it arrived).
    async fn store_traffic_minutes(&mut self, now: DateTime<Utc>) {
        let mut rows = Vec::new();
        for m in &mut self.models {
            if !m.traffic.is_empty() {
                m.traffic
                    .take_minutes(&m.key, &m.traffic_policy, now, &mut rows);
            }
        }
        if rows.is_empty() {
            return;
        }
        if let Err(e) = self.store.add_traffic_minutes(&rows).await {
            error!(error = %e, rows = rows.len(), "storing traffic minutes failed");
        }
    }

    /// The pass after the writer stored results: judges them, and touches the database again
    /// only if something changed.
    pub async fn ingest(&mut self, now: DateTime<Utc>) -> Result<RoundSummary, StoreError> {
        let ops = self.ops_as_committed();
        self.pass(now, ops, false, Vec::new()).await
    }

    /// Overrides and windows as of the last committed pass (passes between ticks do not
    /// read them again).
    fn ops_as_committed(&self) -> Ops {
        Ops {
            overrides: self.overrides.clone(),
            windows: self.windows.clone(),
            writes: Vec::new(),
            events: Vec::new(),
            touched: HashSet::new(),
        }
    }

    async fn pass(
        &mut self,
        now: DateTime<Utc>,
        ops: Ops,
        tick: bool,
        traffic_judged: Vec<usize>,
    ) -> Result<RoundSummary, StoreError> {
        let (mut judged, evaluated, network_down) = self.judge_new_results(&ops, now).await?;
        if !traffic_judged.is_empty() {
            judged.extend(traffic_judged);
            judged.sort_unstable();
            judged.dedup();
        }
        let decided = self.decide(&ops, &judged, network_down, tick, now);
        let after: HashMap<usize, (ModelState, bool)> = decided
            .iter()
            .map(|d| (d.index, (d.state, d.enabled)))
            .collect();
        let changed: Vec<&Decided> = decided.iter().filter(|d| d.changed).collect();
        if !changed.is_empty() && !tick {
            // An incident may have been resolved by hand since the last tick.
            self.open = self.store.open_incidents().await?.into_iter().collect();
        }
        let mut round = Round {
            at: now,
            ..Round::default()
        };
        let mut summary = RoundSummary {
            evaluated,
            ..RoundSummary::default()
        };
        let overrides_changed = ops.overrides != self.overrides;
        self.record(&decided, now, &mut round);
        summary.changes = round
            .changes
            .iter()
            .map(|c| (c.model_key.clone(), c.from, c.to))
            .collect();
        self.announce(&after, &ops, overrides_changed, &mut round);
        round.incidents = self.plan_incidents(&decided, &after, tick, now);
        summary.events = round.events.iter().map(NewEvent::kind).collect();
        summary
            .events
            .extend(round.incidents.iter().map(|(_, a)| match a {
                incidents::IncidentAction::Open { .. } => "incident.created",
                incidents::IncidentAction::Update { .. } => "incident.updated",
                incidents::IncidentAction::Resolve { .. } => "incident.resolved",
            }));
        round.ops = ops.writes;
        let anything = !round.states.is_empty()
            || !round.events.is_empty()
            || !round.incidents.is_empty()
            || !round.ops.is_empty();
        if anything {
            self.store.commit_round(&round).await?;
        }
        if !round.events.is_empty() || !round.incidents.is_empty() {
            if let Some(n) = &self.announced {
                n.notify_one();
            }
        }
        let headlines_moved = self.settle(&decided, now);
        let republish = !changed.is_empty()
            || headlines_moved
            || !round.incidents.is_empty()
            || !round.ops.is_empty()
            || overrides_changed
            || std::mem::take(&mut self.new_vantage);
        self.overrides = ops.overrides;
        self.windows = ops.windows;
        if !round.incidents.is_empty() {
            self.open = self.store.open_incidents().await?.into_iter().collect();
        }
        if republish || self.routing.borrow().models.is_empty() {
            self.publish(now);
        }
        if !round.incidents.is_empty() || !round.ops.is_empty() || overrides_changed {
            if let Some(n) = &self.public_change {
                n.notify_one();
            }
        }
        self.ask_for_probes(&judged, network_down, now);
        Ok(summary)
    }

    /// The rows this pass writes for its decisions: each decided model's state with its
    /// reasons and evidence, and a state change for each that moved.
    fn record(&self, decided: &[Decided], now: DateTime<Utc>, round: &mut Round) {
        for d in decided {
            let m = &self.models[d.index];
            let mut evidence = m.detector.evidence(&m.policy, m.budget.last_hour(now));
            evidence.traffic = d.traffic.clone();
            evidence.vantages = m.vantage_figures(&self.agents, now);
            if d.changed {
                round.changes.push(StateChange {
                    model_key: m.key.clone(),
                    at: now,
                    from: m.state,
                    to: d.state,
                    enabled: d.enabled,
                    reasons: d.reasons.clone(),
                    evidence: evidence.clone(),
                });
                info!(model = %m.key, from = %m.state, to = %d.state, enabled = d.enabled, reason = d.reasons.first().map(String::as_str).unwrap_or(""), "state changed");
            }
            round.states.push(StoredModelState {
                model_key: m.key.clone(),
                tracker: Tracker {
                    state: d.state,
                    since: if d.changed { now } else { m.since },
                },
                enabled: d.enabled,
                reasons: d.reasons.clone(),
                evidence,
                evaluated_at: now,
            });
        }
    }

    /// Overrides and maintenance windows at `now` (so simulated time drives their expiry):
    /// expired overrides end, windows start and complete.
    async fn read_ops(&self, now: DateTime<Utc>) -> Result<Ops, StoreError> {
        let (overrides, expired) = ops::split_expired(self.store.active_overrides().await?, now);
        let mut windows = self.store.open_maintenances().await?;
        let mut writes: Vec<OpsWrite> = expired
            .iter()
            .map(|o| OpsWrite::EndOverride { id: o.id })
            .collect();
        let mut events = Vec::new();
        let mut touched = HashSet::new();
        for w in &mut windows {
            for step in ops::window_steps(w, now) {
                let (write, variant, status) = match step {
                    WindowStep::Start => (
                        OpsWrite::WindowStarted { id: w.id },
                        EventBody::MaintenanceStarted as fn(_) -> _,
                        WindowStatus::InProgress,
                    ),
                    WindowStep::Complete => (
                        OpsWrite::WindowCompleted { id: w.id },
                        EventBody::MaintenanceCompleted as fn(_) -> _,
                        WindowStatus::Completed,
                    ),
                };
                w.status = status;
                writes.push(write);
                let event = maintenances::event(variant, w);
                let kind = event.kind();
                events.push(event);
                touched.extend(w.models.iter().cloned());
                info!(maintenance = w.id, title = %w.title, kind, "maintenance window moved on");
            }
        }
        Ok(Ops {
            overrides,
            windows,
            writes,
            events,
            touched,
        })
    }

    /// Reads every result stored since the last pass and folds each into its model's
    /// detector. Returns the models judged, how many results, and whether our own network
    /// looks down (every provider failing to connect at once).
    async fn judge_new_results(
        &mut self,
        ops: &Ops,
        now: DateTime<Utc>,
    ) -> Result<(Vec<usize>, usize, bool), StoreError> {
        let mut fresh: Vec<(usize, Option<Vantage>, Sample)> = Vec::new();
        loop {
            let (batch, last) = self
                .store
                .samples_after(self.last_result, READ_BATCH)
                .await?;
            let full = last - self.last_result >= READ_BATCH as i64;
            self.last_result = last;
            fresh.extend(batch.into_iter().filter_map(|row: KeyedSample| {
                self.index
                    .get(&row.model_key)
                    .map(|&i| (i, row.vantage, row.sample))
            }));
            if !full {
                break;
            }
        }
        // Every latest outcome first: whether a connect failure counts depends on the
        // other providers' latest outcomes, including those written in the same batch.
        // Our own network is this server's: agents' results say nothing of it.
        for (i, _, s) in fresh.iter().filter(|(_, v, _)| v.is_none()) {
            self.models[*i].last_connect = Some(s.outcome == Outcome::Connect);
        }
        // A pass with results but no connect failure cannot find our network down (the
        // providers of those results are not failing to connect) and has no connect failure
        // to excuse, so the scan over every model is skipped in that, the usual, pass.
        let connect_only = if fresh.is_empty()
            || fresh
                .iter()
                .any(|(_, v, s)| v.is_none() && s.outcome == Outcome::Connect)
        {
            self.providers_failing_to_connect()
        } else {
            BTreeMap::new()
        };
        let network_down = connect_only.len() >= 2 && connect_only.values().all(|failing| *failing);
        // The same rule per agent: its connect failures say nothing of a provider while it
        // fails to connect to every other provider too (its own network is cut, and what it
        // buffered meanwhile arrives later).
        for (i, v, s) in &fresh {
            if let Some(v) = v {
                let m = &mut self.models[*i];
                let known = m.remote.len();
                m.remote_entry(v, s.at).last_connect = s.outcome == Outcome::Connect;
                // A new vantage: the routing table gains its region.
                self.new_vantage |= m.remote.len() > known;
            }
        }
        let agents_connect = if fresh
            .iter()
            .any(|(_, v, s)| v.is_some() && s.outcome == Outcome::Connect)
        {
            self.agents_failing_to_connect()
        } else {
            BTreeMap::new()
        };
        let mut judged = Vec::new();
        for (i, vantage, sample) in &fresh {
            let m = &mut self.models[*i];
            m.dirty = true;
            if let Some(v) = vantage {
                // An agent's probe: its own schedule, its own budget, its own network.
                if ops::covering(&ops.windows, &m.key, now).is_none() {
                    let cut_off = agents_connect.get(&v.agent).is_some_and(|providers| {
                        providers.len() >= 2
                            && providers
                                .iter()
                                .filter(|(p, _)| **p != m.provider_id)
                                .all(|(_, failing)| *failing)
                    });
                    m.observe_remote(v, sample, !cut_off);
                    judged.push(*i);
                }
                continue;
            }
            m.budget.spend(m.per_hour, sample.trigger, sample.at);
            if ops::covering(&ops.windows, &m.key, now).is_some() {
                // Down on purpose: nothing it does in its window is evidence.
                continue;
            }
            // A connect failure says nothing of this provider while every other one fails
            // to connect too: that points at our own network.
            let others_failing = connect_only.len() >= 2
                && connect_only
                    .iter()
                    .filter(|(p, _)| **p != m.provider_id)
                    .all(|(_, failing)| *failing);
            m.detector.observe(sample, &m.policy, !others_failing);
            if !m.traffic.is_empty() {
                m.traffic.observe_probe(
                    sample,
                    !others_failing,
                    &m.traffic_policy,
                    &self.traffic_config,
                    now,
                );
            }
            m.last_probe_at = Some(m.last_probe_at.map_or(sample.at, |t| t.max(sample.at)));
            judged.push(*i);
        }
        judged.sort_unstable();
        judged.dedup();
        if network_down && !fresh.is_empty() {
            warn!("every provider is failing to connect at once: treating it as our own network; models go to unknown and nothing is announced");
        }
        Ok((judged, fresh.len(), network_down))
    }

    /// For each provider with results: whether all of its models' latest results failed
    /// to connect.
    fn providers_failing_to_connect(&self) -> BTreeMap<String, bool> {
        let mut out: BTreeMap<String, bool> = BTreeMap::new();
        for m in &self.models {
            let Some(connect) = m.last_connect else {
                continue;
            };
            out.entry(m.provider_id.clone())
                .and_modify(|all| *all &= connect)
                .or_insert(connect);
        }
        out
    }

    /// For each agent, for each provider it reports: whether all of that provider's models'
    /// latest results from the agent failed to connect.
    fn agents_failing_to_connect(&self) -> BTreeMap<String, BTreeMap<String, bool>> {
        let mut out: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
        for m in &self.models {
            for (agent, r) in &m.remote {
                out.entry(agent.clone())
                    .or_default()
                    .entry(m.provider_id.clone())
                    .and_modify(|all| *all &= r.last_connect)
                    .or_insert(r.last_connect);
            }
        }
        out
    }

    /// Each model's decision after this pass, for the models judged, whose maintenance
    /// window moved, or whose stored row is due for a refresh.
    fn decide(
        &mut self,
        ops: &Ops,
        judged: &[usize],
        network_down: bool,
        tick: bool,
        now: DateTime<Utc>,
    ) -> Vec<Decided> {
        let mut candidates: Vec<usize> = judged.to_vec();
        if tick {
            // Once a second every model is looked at: windows that moved, rows due for a
            // refresh, and decisions whose commit failed.
            candidates.extend(
                self.models
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| {
                        m.pending
                            // Traffic goes quiet or stale with no new input at all.
                            || !m.traffic.is_empty()
                            || ops.touched.contains(&m.key)
                            || (m.dirty && m.written_at + REFRESH_EVERY <= now)
                            || (ops::covering(&ops.windows, &m.key, now).is_some()
                                != (m.state == ModelState::UnderMaintenance))
                            || m.vantage_went_silent(&self.agents, self.last_tick, now)
                    })
                    .map(|(i, _)| i),
            );
            self.last_tick = now;
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut out = Vec::new();
        let traffic_config = &self.traffic_config;
        let agents = &self.agents;
        for i in candidates {
            let window = ops::covering(&ops.windows, &self.models[i].key, now).cloned();
            let m = &mut self.models[i];
            let (probe_reasons, judged_state, traffic_reasons, verdict) =
                m.judged(traffic_config, agents, now);
            let traffic_said = if m.traffic.is_empty() {
                TrafficSaid::default()
            } else {
                verdict.said()
            };
            if window.is_some() && m.state != ModelState::UnderMaintenance {
                m.detector.reset();
                for r in m.remote.values_mut() {
                    r.detector.reset();
                }
            }
            let forced_unknown = network_down && m.last_connect == Some(true);
            let state = if window.is_some() {
                ModelState::UnderMaintenance
            } else if forced_unknown {
                ModelState::Unknown
            } else {
                judged_state
            };
            // Unknown means "no evidence": the routing decision stays what it was.
            let enabled = if state == ModelState::Unknown {
                m.enabled
            } else {
                !m.policy.disables(state)
            };
            let mut reasons = probe_reasons;
            let (traffic_reasons, traffic_leads) = traffic_reasons;
            if window.is_none() && !forced_unknown && !traffic_reasons.is_empty() {
                // Whichever stream decided leads; the other's reasons follow.
                if traffic_leads {
                    reasons.splice(0..0, traffic_reasons);
                } else {
                    reasons.extend(traffic_reasons);
                }
            }
            if let Some(w) = &window {
                reasons.insert(0, format!("maintenance: {}", w.title));
            } else if forced_unknown {
                reasons.insert(
                    0,
                    "our own network: every provider failed to connect at once".into(),
                );
            }
            let changed = state != m.state;
            let headline_moved =
                reasons.first().map(|r| headline_kind(r)) != Some(headline_kind(&m.headline));
            // Refreshes are batched into the once-a-second pass: one transaction for all.
            let refresh = tick && m.dirty && m.written_at + REFRESH_EVERY <= now;
            let traffic_moved = traffic_said != m.traffic_said;
            if changed
                || headline_moved
                || traffic_moved
                || refresh
                || m.pending
                || ops.touched.contains(&m.key)
            {
                m.pending = true;
                out.push(Decided {
                    index: i,
                    state,
                    enabled,
                    reasons,
                    changed,
                    traffic_said,
                    traffic: m
                        .traffic
                        .evidence(&verdict, &m.traffic_policy, traffic_config, now),
                });
            }
        }
        out
    }

    /// The decision a client sees for `key` after this pass (overrides applied).
    fn decision_after(
        &self,
        key: &str,
        after: &HashMap<usize, (ModelState, bool)>,
        ops: &Ops,
    ) -> bool {
        if let Some(o) = ops.overrides.get(key) {
            return o.enabled;
        }
        let Some(&i) = self.index.get(key) else {
            return false;
        };
        after.get(&i).map_or(self.models[i].enabled, |d| d.1)
    }

    /// The decision a client saw for model `i` before this pass.
    fn decision_before(&self, i: usize) -> bool {
        let m = &self.models[i];
        self.overrides.get(&m.key).map_or(m.enabled, |o| o.enabled)
    }

    /// The events of this pass: state changes and the decision flips they bring, decision
    /// flips by overrides starting or ending, and maintenance windows moving on.
    fn announce(
        &self,
        states_after: &HashMap<usize, (ModelState, bool)>,
        ops: &Ops,
        overrides_changed: bool,
        round: &mut Round,
    ) {
        let after = |key: &str| self.decision_after(key, states_after, ops);
        let fallbacks = |k: &str| {
            self.index
                .get(k)
                .map_or(&[][..], |&i| self.models[i].fallbacks.as_slice())
        };
        let fallback_of =
            |key: &str| routing::first_enabled_fallback(key, &fallbacks, &|k| after(k));
        let mut announced: HashSet<usize> = HashSet::new();
        let mut events = Vec::new();
        for change in &round.changes {
            let Some(&i) = self.index.get(&change.model_key) else {
                continue;
            };
            let m = &self.models[i];
            let decision = Decision {
                before: self.decision_before(i),
                after: after(&m.key),
                fallback: fallback_of(&m.key),
            };
            events.extend(announce::state_change(
                &about(m),
                change,
                &decision,
                ops.overrides.get(&m.key),
                self.open.get(&m.provider_id),
            ));
            announced.insert(i);
        }
        if overrides_changed {
            for (i, m) in self.models.iter().enumerate() {
                let state = states_after.get(&i).map_or(m.state, |d| d.0);
                let decision = Decision {
                    before: self.decision_before(i),
                    after: after(&m.key),
                    fallback: fallback_of(&m.key),
                };
                if decision.before == decision.after
                    || announced.contains(&i)
                    || state == ModelState::UnderMaintenance
                {
                    continue;
                }
                events.push(announce::override_flip(
                    &about(m),
                    state,
                    &decision,
                    ops.overrides.get(&m.key),
                    self.overrides.get(&m.key),
                    self.open.get(&m.provider_id),
                ));
                info!(model = %m.key, enabled = decision.after, "override changed the routing decision");
            }
        }
        events.extend(ops.events.iter().cloned());
        round.events = events;
    }

    /// Incidents: one per provider, planned from its models' states after this pass, for
    /// providers with a change, an open incident, or (on the tick) any impaired model.
    fn plan_incidents(
        &self,
        decided: &[Decided],
        after: &HashMap<usize, (ModelState, bool)>,
        tick: bool,
        now: DateTime<Utc>,
    ) -> Vec<(String, incidents::IncidentAction)> {
        let state_after = |i: usize| after.get(&i).map_or(self.models[i].state, |d| d.0);
        let mut providers: Vec<&str> = decided
            .iter()
            .filter(|d| d.changed)
            .map(|d| self.models[d.index].provider_id.as_str())
            .collect();
        if tick || !providers.is_empty() {
            providers.extend(self.open.keys().map(String::as_str));
        }
        if tick {
            // A provider still impaired without an open incident (an SRE resolved it) gets
            // a new one.
            providers.extend(
                (0..self.models.len())
                    .filter(|&i| state_after(i).is_impaired())
                    .map(|i| self.models[i].provider_id.as_str()),
            );
        }
        providers.sort_unstable();
        providers.dedup();
        let mut actions = Vec::new();
        for provider in providers {
            let members: Vec<usize> = (0..self.models.len())
                .filter(|&i| self.models[i].provider_id == provider)
                .collect();
            let Some(&first) = members.first() else {
                continue;
            };
            let views: Vec<ModelView> = members
                .iter()
                .map(|&i| ModelView {
                    key: self.models[i].key.clone(),
                    name: self.models[i].name.clone(),
                    state: state_after(i),
                })
                .collect();
            let first = &self.models[first];
            let quiet = chrono::Duration::from_std(first.interval * first.policy.quiet_probes)
                .unwrap_or_default();
            let name = self
                .provider_names
                .get(provider)
                .map_or(provider, String::as_str);
            if let Some(action) = incidents::plan(name, &views, self.open.get(provider), now, quiet)
            {
                actions.push((provider.to_string(), action));
            }
        }
        actions
    }

    /// Committed: moves the in-memory view of each decided model on. Returns whether any
    /// model's headline (first reason) moved, which the routing table shows.
    fn settle(&mut self, decided: &[Decided], now: DateTime<Utc>) -> bool {
        let mut moved = false;
        for d in decided {
            let m = &mut self.models[d.index];
            if d.changed {
                m.since = now;
            }
            let headline = d.reasons.first().cloned().unwrap_or_default();
            moved |= headline != m.headline;
            m.state = d.state;
            m.enabled = d.enabled;
            m.headline = headline;
            m.traffic_said = d.traffic_said.clone();
            m.dirty = false;
            m.pending = false;
            m.written_at = now;
        }
        moved
    }

    /// Asks the scheduler for the extra probe each judged model's evidence wants, within
    /// its budget.
    fn ask_for_probes(&mut self, judged: &[usize], network_down: bool, now: DateTime<Utc>) {
        if network_down {
            return;
        }
        for &i in judged {
            let m = &mut self.models[i];
            let routed_away = || {
                !m.traffic.is_empty()
                    && m.policy.disables(m.state)
                    && m.traffic
                        .verdict(&m.traffic_policy, &self.traffic_config, now)
                        .routed_away
            };
            // Traffic routed away from a disabled model: only probes can show it is back.
            let Some(trigger) = m
                .detector
                .wants(&m.policy)
                .or_else(|| routed_away().then_some(Trigger::Recovery))
            else {
                continue;
            };
            let (confirm, recovery) = m.policy.extra_cadence(m.interval);
            let every = match trigger {
                Trigger::Recovery => recovery,
                _ => confirm,
            };
            let Some(every) = every else { continue };
            if !m.budget.available(m.per_hour, trigger, now) {
                continue;
            }
            // Spaced from the start of the probe just judged (the scheduler sends it at once
            // if that time has passed).
            let at = m.last_probe_at.unwrap_or(now)
                + chrono::Duration::from_std(every).unwrap_or_default();
            self.requests.request(&m.key, at, trigger);
        }
    }

    fn publish(&self, now: DateTime<Utc>) {
        let mut table = routing::table(&self.entries(None, now), now);
        let mut regions: Vec<&str> = self
            .models
            .iter()
            .flat_map(|m| m.regions(&self.agents))
            .collect();
        regions.sort_unstable();
        regions.dedup();
        for region in regions {
            let mut regional = routing::table(&self.entries(Some(region), now), now);
            regional.region = Some(region.to_string());
            table.regions.insert(region.to_string(), Arc::new(regional));
        }
        self.routing.send_replace(Arc::new(table));
    }

    /// Every model's routing entry, for everyone or as `region` sees it: a model that
    /// region's vantages judge differently gets their state and decision (overrides and
    /// maintenance windows apply everywhere).
    fn entries(&self, region: Option<&str>, now: DateTime<Utc>) -> Vec<routing::Entry<'_>> {
        self.models
            .iter()
            .map(|m| {
                let o = self.overrides.get(&m.key);
                let seen = region
                    .filter(|_| m.state != ModelState::UnderMaintenance)
                    .and_then(|r| m.regional_state(r, &self.agents, now).map(|s| (r, s)))
                    .filter(|(_, s)| *s != m.state);
                let (state, enabled) = match seen {
                    Some((_, s)) if s != ModelState::Unknown => (s, !m.policy.disables(s)),
                    _ => (m.state, m.enabled),
                };
                routing::Entry {
                    key: &m.key,
                    provider_id: &m.provider_id,
                    provider_name: self
                        .provider_names
                        .get(&m.provider_id)
                        .map_or(&m.provider_id, |n| n),
                    fallbacks: &m.fallbacks,
                    state,
                    enabled: o.map_or(enabled, |o| o.enabled),
                    since: m.since,
                    reason: match (o, seen) {
                        (Some(o), _) => o.describe(),
                        (None, Some((r, s))) => format!(
                            "{}: seen from {r}; {} for everyone ({})",
                            s.label().to_lowercase(),
                            m.state.label().to_lowercase(),
                            m.headline
                        ),
                        (None, None) if m.headline.is_empty() => "no evaluation yet".into(),
                        (None, None) => m.headline.clone(),
                    },
                }
            })
            .collect()
    }
}

impl Watched {
    /// The state both streams support, the traffic's reasons (and whether they lead), and the
    /// traffic's verdict (see [`traffic::combine`]).
    /// The probes' reasons (over every vantage) come first in the result.
    fn judged(
        &self,
        config: &TrafficConfig,
        agents: &AgentsConfig,
        now: DateTime<Utc>,
    ) -> (Vec<String>, ModelState, (Vec<String>, bool), TrafficVerdict) {
        let vantages::ProbeView {
            state: probe,
            reasons,
        } = self.probe_view(agents, now);
        let verdict = self.traffic.verdict(&self.traffic_policy, config, now);
        if self.traffic.is_empty() {
            return (reasons, probe, (Vec::new(), false), verdict);
        }
        let needed = self.traffic.probes_needed(&self.traffic_policy);
        let c = traffic::combine(probe, &verdict, needed);
        (reasons, c.state, (c.reasons, c.leads), verdict)
    }

    /// Folds an agent's probe into that agent's view of the model (its failure counted
    /// or not, see [`Detector::observe`]).
    fn observe_remote(&mut self, vantage: &Vantage, sample: &Sample, count: bool) {
        let r = remote_entry(&mut self.remote, &self.policy, vantage, sample.at);
        r.last_at = r.last_at.max(sample.at);
        r.last_connect = sample.outcome == Outcome::Connect;
        r.detector.observe(sample, &self.policy, count);
    }

    /// The agent's view of this model, made on its first result.
    fn remote_entry(&mut self, vantage: &Vantage, at: DateTime<Utc>) -> &mut vantages::Remote {
        remote_entry(&mut self.remote, &self.policy, vantage, at)
    }
}

/// `remote`'s entry for `vantage`, made on its first result (its region follows the agent's
/// latest word).
fn remote_entry<'a>(
    remote: &'a mut BTreeMap<String, vantages::Remote>,
    policy: &Policy,
    vantage: &Vantage,
    at: DateTime<Utc>,
) -> &'a mut vantages::Remote {
    let r = remote
        .entry(vantage.agent.clone())
        .or_insert_with(|| vantages::Remote {
            region: vantage.region.clone(),
            detector: Detector::new(policy),
            last_at: at,
            last_connect: false,
        });
    if r.region != vantage.region {
        r.region.clone_from(&vantage.region);
    }
    r
}

fn about(m: &Watched) -> About<'_> {
    About {
        key: &m.key,
        name: &m.name,
        provider_id: &m.provider_id,
    }
}

/// The kind of a reason: its words before the first colon ("healthy", "recovering", …).
/// A reason of a new kind is written at once; new figures in the same kind wait for the
/// periodic refresh.
fn headline_kind(reason: &str) -> &str {
    reason.split(':').next().unwrap_or(reason)
}

/// Batches of the application's traffic waiting for the engine: bounded, so a flood of
/// observations is refused at the door (503) instead of growing memory or delaying probes.
pub type TrafficReceiver = tokio::sync::mpsc::Receiver<Vec<Observation>>;
/// Batches folded into one pass at most: the queue drains in passes of this many.
const TRAFFIC_BATCHES_PER_PASS: usize = 64;

/// Runs the engine until shutdown: a pass each time the writer has stored results, one per
/// gathering of traffic batches, and one each second for overrides, maintenance and
/// incidents.
pub fn spawn(
    mut engine: Engine,
    clock: Clock,
    stored: Arc<Notify>,
    mut traffic: Option<TrafficReceiver>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut batches: Vec<Vec<Observation>> = Vec::new();
        loop {
            let next_traffic = async {
                match traffic.as_mut() {
                    Some(rx) => rx.recv_many(&mut batches, TRAFFIC_BATCHES_PER_PASS).await,
                    None => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                biased;
                _ = shutdown.changed() => return,
                _ = tick.tick() => engine.run_once(clock.now()).await,
                _ = stored.notified() => engine.ingest(clock.now()).await,
                received = next_traffic => {
                    if received == 0 {
                        // Every sender is gone (the server stopped): no more traffic.
                        traffic = None;
                        continue;
                    }
                    let outcome = engine.ingest_traffic(&batches, clock.now()).await;
                    batches.clear();
                    outcome
                }
            };
            if let Err(e) = outcome {
                // Nothing of a failed pass was committed or published; the models it judged
                // stay dirty, so the next pass decides and commits them again.
                error!(error = %e, "evaluation pass failed");
            }
        }
    })
}
