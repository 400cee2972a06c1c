//! Polls each provider's official page on its own schedule and records what it says.
//!
//! Each source runs in its own task, so a slow or dead page delays nothing else: probing,
//! evaluation and page serving never wait on it. A page that cannot be read (down, slow,
//! refused by the guard, not its format) is recorded as unavailable with the reason, logged
//! once per change of reason, and polled again with backoff (doubling up to
//! [`MAX_BACKOFF`]); what it said before stays stored and shown as of its time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use super::fetch::{self, Fetched, Validators};
use super::{
    feed, google_cloud, incidentio, observe, simulated, statuspage, Report, Unreadable, KEEP_DAYS,
};
use crate::clock::Clock;
use crate::config::{Config, OfficialKind, OfficialSource, ProviderConfig};
use crate::notify::ssrf::AddressGuard;
use crate::store::maintenances::NewMaintenance;
use crate::store::official::Publisher;
use crate::store::Store;

/// The longest wait between two polls of a page that keeps failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Adopted maintenance windows are cut to this length, as SREs' windows are.
const MAX_WINDOW_HOURS: i64 = 7 * 24;

/// One provider's source: its documents' validators and last bodies, and its failures.
pub struct SourcePoller {
    provider: Arc<ProviderConfig>,
    /// The provider's page (`provider.official`, taken out once).
    source: OfficialSource,
    store: Store,
    guard: AddressGuard,
    /// When the service started (the simulated page counts its faults from it).
    started: DateTime<Utc>,
    documents: Vec<Document>,
    /// Polls failed in a row.
    pub failures: u32,
    /// The reason last logged, so a lasting failure is logged once.
    last_reason: Option<String>,
}

struct Document {
    url: String,
    validators: Validators,
    body: Option<Vec<u8>>,
}

/// What one poll did, for the loop and for tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// Read; `changes` events were announced, `unchanged` documents answered 304.
    Read {
        changes: usize,
        unchanged: usize,
    },
    Unavailable(String),
}

impl SourcePoller {
    /// `None` when the provider has no official source.
    pub fn new(
        provider: Arc<ProviderConfig>,
        store: Store,
        guard: AddressGuard,
        started: DateTime<Utc>,
    ) -> Option<SourcePoller> {
        let source = provider.official.clone()?;
        let urls = match (source.kind, &source.url) {
            (OfficialKind::Statuspage, Some(url)) => statuspage::documents(url),
            (OfficialKind::Simulated, _) | (_, None) => Vec::new(),
            (_, Some(url)) => vec![url.clone()],
        };
        let documents = urls
            .into_iter()
            .map(|url| Document {
                url,
                validators: Validators::default(),
                body: None,
            })
            .collect();
        Some(SourcePoller {
            provider,
            source,
            store,
            guard,
            started,
            documents,
            failures: 0,
            last_reason: None,
        })
    }

    /// Reads the page once at `now` and records what it says (or why it could not).
    pub async fn poll(&mut self, now: DateTime<Utc>) -> Polled {
        let read = self.read(now).await;
        let source = &self.source;
        let provider = &self.provider;
        let kind = source.kind.as_str();
        match read {
            Ok((report, unchanged)) => {
                let observed = observe(source, &report, now);
                let publisher = Publisher {
                    provider_id: &provider.id,
                    provider_name: &provider.name,
                    kind,
                    components: &source.components,
                };
                let keep_since = now - chrono::Duration::days(KEEP_DAYS);
                match self
                    .store
                    .record_official(publisher, &observed, now, keep_since)
                    .await
                {
                    Ok(changes) => {
                        if self.last_reason.take().is_some() {
                            info!(provider = %provider.id, "official status readable again");
                        }
                        self.failures = 0;
                        if source.adopt_maintenance {
                            self.adopt(&observed, now).await;
                        }
                        Polled::Read {
                            changes: changes.len(),
                            unchanged,
                        }
                    }
                    Err(e) => {
                        warn!(provider = %provider.id, error = %e, "cannot record the official status");
                        Polled::Unavailable(format!("cannot record it: {e}"))
                    }
                }
            }
            Err(Unreadable(reason)) => {
                self.failures = self.failures.saturating_add(1);
                if self.last_reason.as_deref() != Some(reason.as_str()) {
                    warn!(provider = %provider.id, kind, %reason, "official status unavailable");
                    self.last_reason = Some(reason.clone());
                }
                if let Err(e) = self
                    .store
                    .record_official_unavailable(&provider.id, kind, &reason, now)
                    .await
                {
                    warn!(provider = %provider.id, error = %e, "cannot record the official status");
                }
                Polled::Unavailable(reason)
            }
        }
    }

    /// Fetches every document (conditionally) and parses them; the count is of 304s.
    async fn read(&mut self, now: DateTime<Utc>) -> Result<(Report, usize), Unreadable> {
        let source = &self.source;
        if source.kind == OfficialKind::Simulated {
            return Ok((
                simulated::report(&self.provider, source, self.started, now),
                0,
            ));
        }
        let mut unchanged = 0;
        for doc in &mut self.documents {
            match fetch::get(&self.guard, &doc.url, &doc.validators, source.timeout).await {
                Ok(Fetched::NotModified) if doc.body.is_some() => unchanged += 1,
                Ok(Fetched::NotModified) => {
                    return Err(Unreadable(format!(
                        "{} answered 304 Not Modified to a request that was not conditional",
                        shown(&doc.url)
                    )))
                }
                Ok(Fetched::Body(body, validators)) => {
                    doc.body = Some(body);
                    doc.validators = validators;
                }
                Err(Unreadable(why)) => {
                    return Err(Unreadable(format!("{}: {why}", shown(&doc.url))))
                }
            }
        }
        let bodies: Vec<&[u8]> = self
            .documents
            .iter()
            .filter_map(|d| d.body.as_deref())
            .collect();
        // Every kind but Statuspage reads one document (an empty body is refused as such).
        let first = bodies.first().copied().unwrap_or_default();
        let parsed = match source.kind {
            OfficialKind::Statuspage => statuspage::parse(&bodies),
            OfficialKind::IncidentIo => incidentio::parse(first),
            OfficialKind::Feed => feed::parse(first),
            OfficialKind::GoogleCloud => google_cloud::parse(first),
            // Read above without fetching anything.
            OfficialKind::Simulated => Ok(Report::default()),
        };
        match parsed {
            Ok(report) => Ok((report, unchanged)),
            Err(Unreadable(why)) => {
                // A body that does not parse is fetched whole next time, not revalidated.
                for doc in &mut self.documents {
                    doc.validators = Validators::default();
                    doc.body = None;
                }
                Err(Unreadable(why))
            }
        }
    }

    /// Makes each published maintenance of a mapped component, not over and not adopted
    /// yet, our maintenance window for the models it covers.
    async fn adopt(&self, observed: &super::Observed, now: DateTime<Utc>) {
        let provider = &self.provider;
        let adopted = match self.store.adopted_official(&provider.id).await {
            Ok(ids) => ids,
            Err(e) => {
                warn!(provider = %provider.id, error = %e, "cannot read adopted maintenances");
                return;
            }
        };
        let source = &self.source;
        for (incident, components) in &observed.incidents {
            let Some((starts_at, ends_at)) = incident.maintenance else {
                continue;
            };
            if incident.resolved()
                || ends_at <= now
                || components.is_empty()
                || adopted.contains(&incident.id)
            {
                continue;
            }
            let mut models: Vec<String> = components
                .iter()
                .filter_map(|c| source.components.get(c))
                .flatten()
                .cloned()
                .collect();
            models.sort();
            models.dedup();
            let ends_at = ends_at.min(starts_at + chrono::Duration::hours(MAX_WINDOW_HOURS));
            let new = NewMaintenance {
                title: format!("{} (from {}'s status page)", incident.name, provider.name),
                body: incident.url.clone().unwrap_or_default(),
                models,
                starts_at,
                ends_at,
                created_by: format!("official:{}", provider.id),
            };
            let created = self.store.create_maintenance(&new, now).await;
            match created {
                Ok(window) => {
                    info!(provider = %provider.id, window = window.id, incident = %incident.id, "adopted a published maintenance");
                    if let Err(e) = self
                        .store
                        .mark_official_adopted(&provider.id, &incident.id, window.id)
                        .await
                    {
                        warn!(provider = %provider.id, error = %e, "cannot note an adopted maintenance");
                    }
                }
                Err(e) => {
                    warn!(provider = %provider.id, error = %e, "cannot adopt a published maintenance")
                }
            }
        }
    }

    /// The wait before the next poll: the source's interval, doubled per failure in a row.
    pub fn next_wait(&self) -> Duration {
        let poll = self.source.poll;
        let factor = 2u32.saturating_pow(self.failures.min(10));
        poll.saturating_mul(factor).min(MAX_BACKOFF.max(poll))
    }
}

/// A URL for messages: scheme, host and path, never a query (it may carry a token).
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.path()
            )
        }
        Err(_) => "the configured URL".into(),
    }
}

/// Starts one polling task per official source. `changed` is notified after a reading
/// that changed something (the publisher rebuilds the pages, the dispatcher fans out).
pub fn spawn(
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    changed: Vec<Arc<Notify>>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let guard = AddressGuard::new(config.notify.allow_internal_targets.clone());
    let started = clock.now();
    let tasks: Vec<_> = config
        .providers
        .iter()
        .filter_map(|p| SourcePoller::new(Arc::clone(p), store.clone(), guard.clone(), started))
        .map(|mut poller| {
            let mut stop = stop.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                let mut last: Option<Polled> = None;
                loop {
                    let polled = poller.poll(clock.now()).await;
                    let news = match (&polled, &last) {
                        (Polled::Read { changes, .. }, Some(Polled::Read { .. })) => *changes > 0,
                        (p, l) => Some(p) != l.as_ref(),
                    };
                    if news {
                        changed.iter().for_each(|n| n.notify_one());
                    }
                    last = Some(polled);
                    tokio::select! {
                        _ = tokio::time::sleep(poller.next_wait()) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            })
        })
        .collect();
    tokio::spawn(async move {
        for t in tasks {
            let _ = t.await;
        }
    })
}
