//! Paging the on-call: every open *automatic* incident is paged through the configured
//! channels (`[paging]`), re-paged while nobody acknowledges it, and closed there when it
//! is acknowledged or resolved here.
//!
//! One pass ([`Pager::run_once`]) looks at the incidents and the `pages` table (one row per
//! incident and channel) and sends what is due:
//!
//! - never paged, open and unacknowledged → page: PagerDuty Events v2 `trigger` with the
//!   dedup key `modelwatch/incident/{id}`; webhooks get an `incident.created` message built
//!   by [`formats::build`];
//! - paged, unacknowledged, and `repage_after` since the last page → page again: PagerDuty
//!   gets the same `trigger` again (same dedup key: PagerDuty keeps one alert and re-notifies
//!   per its own escalation policy; a trigger also re-opens an alert someone resolved there
//!   while it is still open here), webhooks an `incident.unacknowledged` ("still
//!   unacknowledged") message;
//! - acknowledged here → PagerDuty `acknowledge`, once (chat webhooks have no
//!   acknowledgement, so they are only marked);
//! - resolved here → PagerDuty `resolve` and an `incident.resolved` message, once.
//!
//! A row is written only after the channel accepted the request, so a failure is logged and
//! simply due again at the next pass (every 10 s). Delivery goes through
//! [`webhook::post`] and its SSRF guard (open internal networks with
//! `[notify] allow_internal_targets`). Incidents opened by hand are never paged: the person
//! who opened them is already on it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::watch;
use tracing::{info, warn};

use super::formats;
use super::ssrf::AddressGuard;
use super::webhook;
use crate::clock::Clock;
use crate::config::{NotifyConfig, PagingConfig};
use crate::store::incidents::Incident;
use crate::store::{SqlxContext, Store, StoreError};
use crate::vocabulary::event::IncidentChange;
use crate::vocabulary::{Event, EventBody, IncidentStatus};

/// How often the pager looks for work.
pub const PAGE_EVERY: Duration = Duration::from_secs(10);

/// The `pages.channel` of PagerDuty; webhooks are `webhook:{index in [paging] webhooks}`.
pub const PAGERDUTY: &str = "pagerduty";

/// PagerDuty's dedup key of an incident: one alert per incident, across re-pages.
pub fn dedup_key(incident_id: i64) -> String {
    format!("modelwatch/incident/{incident_id}")
}

/// What one request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Page,
    Repage,
    Acknowledge,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Page => "page",
            Action::Repage => "repage",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }
}

/// What one pass did: the requests channels accepted and those that failed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PassReport {
    /// (incident id, channel, action)
    pub sent: Vec<(i64, String, Action)>,
    pub failed: Vec<(i64, String, Action, String)>,
}

#[derive(Debug, Clone, Copy)]
struct PageRow {
    last_paged_at: i64,
    acknowledged_at: Option<i64>,
    resolved_at: Option<i64>,
}

enum Channel<'a> {
    PagerDuty,
    Webhook(&'a crate::config::PagingWebhook),
}

pub struct Pager {
    store: Store,
    config: PagingConfig,
    guard: AddressGuard,
    timeout: Duration,
    base_url: String,
}

impl Pager {
    pub fn new(
        store: Store,
        paging: &PagingConfig,
        notify: &NotifyConfig,
        base_url: &str,
    ) -> Pager {
        Pager {
            store,
            config: paging.clone(),
            guard: AddressGuard::new(notify.allow_internal_targets.clone()),
            timeout: notify.attempt_timeout,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// Pages every `PAGE_EVERY` until `shutdown`; does nothing when paging is off.
    pub fn spawn(
        self,
        clock: Clock,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if !self.config.enabled || !self.config.has_channels() {
                return;
            }
            let mut tick = tokio::time::interval(PAGE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => break,
                }
                if *shutdown.borrow() {
                    break;
                }
                if let Err(e) = self.run_once(clock.now()).await {
                    warn!(error = %e, "a paging pass failed; retrying in 10 s");
                }
            }
        })
    }

    fn channels(&self) -> Vec<(String, Channel<'_>)> {
        let mut out = Vec::new();
        if self.config.pagerduty.is_some() {
            out.push((PAGERDUTY.to_string(), Channel::PagerDuty));
        }
        for (i, w) in self.config.webhooks.iter().enumerate() {
            out.push((format!("webhook:{i}"), Channel::Webhook(w)));
        }
        out
    }

    /// One pass at time `now`: sends whatever is due (see the module documentation).
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<PassReport, StoreError> {
        let mut report = PassReport::default();
        if !self.config.enabled {
            return Ok(report);
        }
        let pool = self.store.pool();
        // Open automatic incidents, and resolved ones some channel has not been told about.
        let ids: Vec<i64> = crate::on_db!(pool, |db| {
            sqlx::query_scalar(
            "SELECT id FROM incidents WHERE automatic = TRUE AND (resolved_at IS NULL OR id IN \
             (SELECT incident_id FROM pages WHERE resolved_at IS NULL)) ORDER BY id",
        )
        .fetch_all(db).await
        })
        .context(|| "reading incidents to page")?;
        let channels = self.channels();
        let repage_ms = i64::try_from(self.config.repage_after.as_millis()).unwrap_or(i64::MAX);
        let now_ms = now.timestamp_millis();
        for id in ids {
            let Some(incident) = self.store.incident(id).await? else {
                continue;
            };
            if !incident.automatic {
                continue;
            }
            for (name, channel) in &channels {
                let row: Option<(i64, Option<i64>, Option<i64>)> = crate::on_db!(pool, |db| sqlx::query_as(
                    "SELECT last_paged_at, acknowledged_at, resolved_at FROM pages WHERE incident_id = $1 AND channel = $2",
                )
                .bind(id)
                .bind(name)
                .fetch_optional(db).await)
                .context(|| format!("reading the pages of incident {id}"))?;
                let row = row.map(|r| PageRow {
                    last_paged_at: r.0,
                    acknowledged_at: r.1,
                    resolved_at: r.2,
                });
                let Some(action) = due(&incident, row, now_ms, repage_ms) else {
                    continue;
                };
                let result = match channel {
                    // Chat has no acknowledgement: the row is only marked.
                    Channel::Webhook(_) if action == Action::Acknowledge => Ok(()),
                    _ => self.send(channel, &incident, action, now).await,
                };
                match result {
                    Ok(()) => {
                        self.record(id, name, action, now_ms).await?;
                        info!(incident = id, channel = %name, action = action.as_str(), "paged");
                        report.sent.push((id, name.clone(), action));
                    }
                    Err(e) => {
                        warn!(incident = id, channel = %name, action = action.as_str(), error = %e, "paging failed; retrying at the next pass");
                        report.failed.push((id, name.clone(), action, e));
                    }
                }
            }
        }
        Ok(report)
    }

    async fn record(
        &self,
        id: i64,
        channel: &str,
        action: Action,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let sql = match action {
            Action::Page => {
                "INSERT INTO pages (incident_id, channel, first_paged_at, last_paged_at, count) VALUES ($1, $2, $3, $3, 1) \
                 ON CONFLICT (incident_id, channel) DO UPDATE SET last_paged_at = $3, count = pages.count + 1"
            }
            Action::Repage => {
                "UPDATE pages SET last_paged_at = $3, count = count + 1 WHERE incident_id = $1 AND channel = $2"
            }
            Action::Acknowledge => {
                "UPDATE pages SET acknowledged_at = $3 WHERE incident_id = $1 AND channel = $2"
            }
            Action::Resolve => {
                "UPDATE pages SET resolved_at = $3 WHERE incident_id = $1 AND channel = $2"
            }
        };
        crate::on_db!(self.store.pool(), |db| sqlx::query(sql)
            .bind(id)
            .bind(channel)
            .bind(now_ms)
            .execute(db)
            .await
            .map(crate::store::Done::from))
        .context(|| format!("recording a page of incident {id}"))?;
        Ok(())
    }

    async fn send(
        &self,
        channel: &Channel<'_>,
        incident: &Incident,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let (url, payload) = match channel {
            Channel::PagerDuty => {
                let Some(pd) = &self.config.pagerduty else {
                    return Ok(());
                };
                let body =
                    pagerduty_event(incident, action, pd.routing_key.expose(), &self.base_url);
                (pd.url.as_str(), formats::Payload::json(&body))
            }
            Channel::Webhook(w) => {
                let event = chat_event(incident, action, now);
                match formats::build(w.format, &event, &self.base_url, None) {
                    Some(p) => (w.url.as_str(), p),
                    None => return Ok(()),
                }
            }
        };
        let attempt = webhook::post(
            &self.guard,
            url,
            &[],
            payload.content_type,
            &payload.body,
            self.timeout,
        )
        .await;
        match attempt.error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// What is due for one incident on one channel, given its `pages` row.
fn due(incident: &Incident, row: Option<PageRow>, now_ms: i64, repage_ms: i64) -> Option<Action> {
    let resolved = incident.resolved_at.is_some() || incident.status == "resolved";
    match row {
        // Never paged: page it while open and nobody has taken it yet.
        None => (!resolved && incident.acknowledged_at.is_none()).then_some(Action::Page),
        Some(r) if r.resolved_at.is_some() => None,
        Some(_) if resolved => Some(Action::Resolve),
        Some(r) if incident.acknowledged_at.is_some() => {
            r.acknowledged_at.is_none().then_some(Action::Acknowledge)
        }
        Some(r) => (now_ms.saturating_sub(r.last_paged_at) >= repage_ms).then_some(Action::Repage),
    }
}

/// PagerDuty's severity for a Statuspage impact.
pub fn severity(impact: &str) -> &'static str {
    match impact {
        "critical" => "critical",
        "major" => "error",
        "minor" => "warning",
        _ => "info",
    }
}

fn latest_update(incident: &Incident) -> Option<&crate::store::incidents::IncidentUpdate> {
    incident.updates.last()
}

/// The PagerDuty Events v2 request for `action` on `incident`.
pub fn pagerduty_event(
    incident: &Incident,
    action: Action,
    routing_key: &str,
    base_url: &str,
) -> Value {
    let key = dedup_key(incident.id);
    match action {
        Action::Page | Action::Repage => {
            let latest = latest_update(incident);
            let mut event = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": key,
                "payload": {
                    "summary": formats::text::clip(&incident.title, 1024),
                    "source": "modelwatch",
                    "severity": severity(&incident.impact),
                    "timestamp": incident.created_at.to_rfc3339(),
                    "component": incident.provider_id,
                    "group": incident.provider_id,
                    "class": "incident",
                    "custom_details": {
                        "incident_id": incident.id,
                        "status": incident.status,
                        "impact": incident.impact,
                        "affected_models": incident.affected,
                        "latest_update": latest.map(|u| json!({
                            "at": u.at.to_rfc3339(),
                            "status": u.status,
                            "body": u.body,
                        })),
                        "repage": action == Action::Repage,
                    },
                },
                "client": "modelwatch",
            });
            if base_url.starts_with("http://") || base_url.starts_with("https://") {
                let url = format!("{base_url}/incidents/{}", incident.id);
                event["client_url"] = json!(url);
                event["links"] = json!([{"href": url, "text": "Incident on modelwatch"}]);
            }
            event
        }
        Action::Acknowledge => json!({
            "routing_key": routing_key, "event_action": "acknowledge", "dedup_key": key,
        }),
        Action::Resolve => json!({
            "routing_key": routing_key, "event_action": "resolve", "dedup_key": key,
        }),
    }
}

/// The event a chat or native webhook is paged with, in the shape `formats::build` reads.
pub fn chat_event(incident: &Incident, action: Action, now: DateTime<Utc>) -> Event {
    let latest = latest_update(incident)
        .map(|u| u.body.clone())
        .unwrap_or_default();
    let (variant, body): (fn(IncidentChange) -> EventBody, String) = match action {
        Action::Page | Action::Acknowledge => (EventBody::IncidentCreated, latest),
        Action::Repage => {
            let open_for = (now - incident.created_at).to_std().unwrap_or_default();
            let open_for =
                humantime::format_duration(Duration::from_secs(open_for.as_secs() / 60 * 60));
            (
                EventBody::IncidentUnacknowledged,
                format!("Still unacknowledged after {open_for}. {latest}")
                    .trim()
                    .to_string(),
            )
        }
        Action::Resolve => (EventBody::IncidentResolved, latest),
    };
    // Stored statuses are checked when written; one that does not read is shown as the
    // status every incident starts in rather than holding the page back.
    let status = IncidentStatus::parse(&incident.status).unwrap_or(IncidentStatus::Investigating);
    let change = IncidentChange::new(
        &incident.provider_id,
        incident.id,
        &incident.title,
        status,
        &incident.impact,
        incident.affected.clone(),
        &body,
    );
    Event::new(now, false, variant(change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Incident {
        Incident {
            id: 3,
            automatic: true,
            status: "investigating".into(),
            impact: "major".into(),
            ..Incident::default()
        }
    }

    fn row(last: i64, ack: Option<i64>, resolved: Option<i64>) -> Option<PageRow> {
        Some(PageRow {
            last_paged_at: last,
            acknowledged_at: ack,
            resolved_at: resolved,
        })
    }

    #[test]
    fn what_is_due_follows_the_incident_and_the_pages_row() {
        let inc = open();
        assert_eq!(due(&inc, None, 0, 900), Some(Action::Page));
        assert_eq!(due(&inc, row(0, None, None), 899, 900), None);
        assert_eq!(
            due(&inc, row(0, None, None), 900, 900),
            Some(Action::Repage)
        );
        let mut acked = open();
        acked.acknowledged_at = Some(Utc::now());
        assert_eq!(
            due(&acked, None, 0, 900),
            None,
            "taken before the first page"
        );
        assert_eq!(
            due(&acked, row(0, None, None), 5000, 900),
            Some(Action::Acknowledge)
        );
        assert_eq!(due(&acked, row(0, Some(1), None), 5000, 900), None);
        let mut resolved = open();
        resolved.status = "resolved".into();
        resolved.resolved_at = Some(Utc::now());
        assert_eq!(
            due(&resolved, None, 0, 900),
            None,
            "never paged, nothing to close"
        );
        assert_eq!(
            due(&resolved, row(0, Some(1), None), 0, 900),
            Some(Action::Resolve)
        );
        assert_eq!(due(&resolved, row(0, None, Some(2)), 0, 900), None);
    }

    #[test]
    fn severity_follows_impact() {
        assert_eq!(
            ["critical", "major", "minor", "none"].map(severity),
            ["critical", "error", "warning", "info"]
        );
        let v = pagerduty_event(&open(), Action::Resolve, "K", "");
        assert_eq!(
            v,
            json!({"routing_key": "K", "event_action": "resolve", "dedup_key": "modelwatch/incident/3"})
        );
    }
}
