//! Incident operations by SREs: open an incident by hand, acknowledge, post updates (with
//! status, impact and affected models), resolve, link a postmortem.
//!
//! Each change is one write transaction. When the SRE chooses to notify subscribers, the
//! public event (`incident.created`, `incident.updated` or `incident.resolved`) and its
//! outbox row are written in that same transaction, exactly as the evaluator writes its
//! own; without notification no public event is written at all.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::events::{insert_event, NewEvent};
use super::ms_to_time;
use super::{SqlxContext, Store, StoreError};
use crate::vocabulary::event::IncidentChange;
use crate::vocabulary::{EventBody, IncidentStatus};

/// Statuspage's impact words.
pub const IMPACTS: [&str; 4] = ["none", "minor", "major", "critical"];

/// Longest title and update text accepted.
pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 20_000;
pub const MAX_URL: usize = 2_000;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no incident {0}")]
    NotFound(i64),
    /// The incident's state does not allow it (e.g. updating a resolved incident).
    #[error("{0}")]
    Conflict(String),
    /// Bad input, naming the field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> OpsError {
    OpsError::Invalid {
        field,
        message: message.into(),
    }
}

/// An incident opened by hand.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub provider_id: String,
    pub title: String,
    pub impact: String,
    pub affected: BTreeSet<String>,
    pub status: IncidentStatus,
    /// The first update's text (Markdown).
    pub body: String,
    pub notify: bool,
}

/// An update posted by hand. `impact` and `affected` keep their current values when `None`.
#[derive(Debug, Clone)]
pub struct NewUpdate {
    pub status: IncidentStatus,
    pub body: String,
    pub impact: Option<String>,
    pub affected: Option<BTreeSet<String>>,
    pub notify: bool,
}

/// Checks an impact word.
pub fn check_impact(impact: &str) -> Result<(), OpsError> {
    if IMPACTS.contains(&impact) {
        Ok(())
    } else {
        Err(invalid(
            "impact",
            format!("`{impact}` is not an impact; use none, minor, major or critical"),
        ))
    }
}

/// Parses a status word.
pub fn parse_status(status: &str) -> Result<IncidentStatus, OpsError> {
    IncidentStatus::parse(status).ok_or_else(|| {
        invalid(
            "status",
            format!(
                "`{status}` is not a status; use investigating, identified, monitoring or resolved"
            ),
        )
    })
}

fn check_body(body: &str) -> Result<(), OpsError> {
    if body.trim().is_empty() {
        return Err(invalid("body", "write what is happening"));
    }
    if body.chars().count() > MAX_BODY {
        return Err(invalid("body", format!("at most {MAX_BODY} characters")));
    }
    Ok(())
}

/// A postmortem link must be an absolute http(s) URL without spaces or control characters
/// (no `javascript:` or `data:` links on the public page).
pub fn check_postmortem_url(url: &str) -> Result<(), OpsError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let ok = match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !host.starts_with('@')
                && url.len() <= MAX_URL
                && !url
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "postmortem_url",
            "give an absolute http:// or https:// URL",
        ))
    }
}

struct Current {
    provider_id: String,
    title: String,
    status: String,
    impact: String,
    affected: BTreeSet<String>,
    resolved: bool,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<i64>,
}

async fn current(tx: &mut super::Tx, id: i64) -> Result<Current, OpsError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        provider_id: String,
        title: String,
        status: String,
        impact: String,
        affected_json: String,
        resolved_at: Option<i64>,
        acknowledged_by: Option<String>,
        acknowledged_at: Option<i64>,
    }
    let row: Option<Row> = crate::on_db!(&mut **tx, |db| sqlx::query_as(
        "SELECT provider_id, title, status, impact, affected_json, resolved_at, acknowledged_by, acknowledged_at FROM incidents WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db).await)
    .context(|| format!("reading incident {id}"))?;
    let r = row.ok_or(OpsError::NotFound(id))?;
    Ok(Current {
        provider_id: r.provider_id,
        title: r.title,
        status: r.status,
        impact: r.impact,
        affected: serde_json::from_str(&r.affected_json).unwrap_or_default(),
        resolved: r.resolved_at.is_some(),
        acknowledged_by: r.acknowledged_by,
        acknowledged_at: r.acknowledged_at,
    })
}

fn affected_json(a: &BTreeSet<String>) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "[]".into())
}

/// One timeline entry as written by a person's change.
struct TimelineEntry<'a> {
    status: &'a str,
    impact: &'a str,
    body: &'a str,
    affected: &'a BTreeSet<String>,
    /// Whether subscribers are told of it (shown as `deliver_notifications`).
    notified: bool,
}

async fn insert_update(
    tx: &mut super::Tx,
    id: i64,
    at: i64,
    entry: TimelineEntry<'_>,
) -> Result<(), OpsError> {
    crate::on_db!(&mut **tx, |db| sqlx::query("INSERT INTO incident_updates (incident_id, at, status, impact, body, affected_json, notified) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(id)
        .bind(at)
        .bind(entry.status)
        .bind(entry.impact)
        .bind(entry.body)
        .bind(affected_json(entry.affected))
        .bind(entry.notified)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| format!("adding an update to incident {id}"))?;
    Ok(())
}

/// Writes the public event of a change and its outbox row (built as the evaluator's
/// incident events are, by [`IncidentChange::new`]).
#[allow(clippy::too_many_arguments)]
async fn announce(
    tx: &mut super::Tx,
    variant: fn(IncidentChange) -> EventBody,
    id: i64,
    provider_id: &str,
    title: &str,
    status: IncidentStatus,
    impact: &str,
    affected: &BTreeSet<String>,
    body: &str,
    at: i64,
) -> Result<(), OpsError> {
    let change = IncidentChange::new(
        provider_id,
        id,
        title,
        status,
        impact,
        affected.iter().cloned().collect(),
        body,
    );
    let event = NewEvent {
        provider_id: provider_id.to_string(),
        model_key: None,
        public: true,
        body: variant(change),
    };
    insert_event(tx, &event, Some(id), at).await?;
    Ok(())
}

async fn commit(tx: super::Tx) -> Result<(), OpsError> {
    tx.commit()
        .await
        .context(|| "committing an incident change")?;
    Ok(())
}

impl Store {
    /// Opens an incident by hand with its first update. Returns its id.
    pub async fn open_incident_by_hand(
        &self,
        new: &NewIncident,
        at: DateTime<Utc>,
    ) -> Result<i64, OpsError> {
        // The length counts what was sent, as the OpenAPI document's `maxLength` does.
        let title = new.title.trim();
        if title.is_empty() || new.title.chars().count() > MAX_TITLE {
            return Err(invalid(
                "title",
                format!("give a title of 1 to {MAX_TITLE} characters"),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(invalid("title", "no control characters"));
        }
        check_impact(&new.impact)?;
        check_body(&new.body)?;
        if new.status == IncidentStatus::Resolved {
            return Err(invalid("status", "a new incident cannot start resolved"));
        }
        let at = at.timestamp_millis();
        let monitoring_since = (new.status == IncidentStatus::Monitoring).then_some(at);
        let mut tx = self.begin_write("opening an incident by hand").await?;
        let id: i64 = crate::on_db!(&mut *tx, |db| sqlx::query_scalar(
            "INSERT INTO incidents (provider_id, title, status, impact, impact_now, affected_json, affected_now_json, automatic, created_at, updated_at, monitoring_since, notify) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&new.provider_id)
        .bind(title)
        .bind(new.status.as_str())
        .bind(&new.impact)
        .bind(&new.impact)
        .bind(affected_json(&new.affected))
        .bind(affected_json(&new.affected))
        .bind(at)
        .bind(at)
        .bind(monitoring_since)
        .bind(new.notify)
        .fetch_one(db).await)
        .context(|| format!("opening an incident for {}", new.provider_id))?;
        let entry = TimelineEntry {
            status: new.status.as_str(),
            impact: &new.impact,
            body: &new.body,
            affected: &new.affected,
            notified: new.notify,
        };
        insert_update(&mut tx, id, at, entry).await?;
        if new.notify {
            announce(
                &mut tx,
                EventBody::IncidentCreated,
                id,
                &new.provider_id,
                title,
                new.status,
                &new.impact,
                &new.affected,
                &new.body,
                at,
            )
            .await?;
        }
        commit(tx).await?;
        Ok(id)
    }

    /// Acknowledges an open incident: records who and when, and adds a public timeline
    /// entry saying it was acknowledged (without naming the person, and without notifying).
    pub async fn acknowledge_incident(
        &self,
        id: i64,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), OpsError> {
        let at = at.timestamp_millis();
        let mut tx = self.begin_write("acknowledging an incident").await?;
        let cur = current(&mut tx, id).await?;
        if cur.resolved {
            return Err(OpsError::Conflict(format!(
                "incident {id} is resolved; there is nothing to acknowledge"
            )));
        }
        if let (Some(who), Some(when)) = (&cur.acknowledged_by, cur.acknowledged_at) {
            return Err(OpsError::Conflict(format!(
                "incident {id} was already acknowledged by {who} at {}",
                ms_to_time(when).to_rfc3339()
            )));
        }
        crate::on_db!(&mut *tx, |db| sqlx::query(
            "UPDATE incidents SET acknowledged_at = $1, acknowledged_by = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(at)
        .bind(by)
        .bind(at)
        .bind(id)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| format!("acknowledging incident {id}"))?;
        let entry = TimelineEntry {
            status: &cur.status,
            impact: &cur.impact,
            body: "Acknowledged: our on-call team is working on this.",
            affected: &cur.affected,
            notified: false,
        };
        insert_update(&mut tx, id, at, entry).await?;
        commit(tx).await
    }

    /// Posts an update; status `resolved` resolves the incident. With `notify`, subscribers
    /// are told (`incident.updated`, or `incident.resolved`).
    pub async fn post_incident_update(
        &self,
        id: i64,
        update: &NewUpdate,
        at: DateTime<Utc>,
    ) -> Result<(), OpsError> {
        check_body(&update.body)?;
        if let Some(impact) = &update.impact {
            check_impact(impact)?;
        }
        let at = at.timestamp_millis();
        let mut tx = self.begin_write("updating an incident").await?;
        let cur = current(&mut tx, id).await?;
        if cur.resolved {
            return Err(OpsError::Conflict(format!(
                "incident {id} is resolved; open a new incident instead"
            )));
        }
        let impact = update.impact.clone().unwrap_or(cur.impact);
        let affected = update.affected.clone().unwrap_or(cur.affected);
        let status = update.status.as_str();
        let resolved = update.status == IncidentStatus::Resolved;
        // Monitoring keeps the time it started; any other status clears it.
        crate::on_db!(&mut *tx, |db| sqlx::query(
            "UPDATE incidents SET status = $1, impact = $2, impact_now = $3, affected_json = $4, affected_now_json = $5, updated_at = $6, notify = $7, \
             monitoring_since = CASE WHEN $8 = 'monitoring' THEN COALESCE(monitoring_since, $9) ELSE NULL END, \
             resolved_at = CASE WHEN $10 THEN $11 ELSE NULL END WHERE id = $12",
        )
        .bind(status)
        .bind(&impact)
        .bind(&impact)
        .bind(affected_json(&affected))
        .bind(affected_json(&affected))
        .bind(at)
        .bind(update.notify)
        .bind(status)
        .bind(at)
        .bind(resolved)
        .bind(at)
        .bind(id)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| format!("updating incident {id}"))?;
        let entry = TimelineEntry {
            status,
            impact: &impact,
            body: &update.body,
            affected: &affected,
            notified: update.notify,
        };
        insert_update(&mut tx, id, at, entry).await?;
        if update.notify {
            let variant = if resolved {
                EventBody::IncidentResolved
            } else {
                EventBody::IncidentUpdated
            };
            announce(
                &mut tx,
                variant,
                id,
                &cur.provider_id,
                &cur.title,
                update.status,
                &impact,
                &affected,
                &update.body,
                at,
            )
            .await?;
        }
        commit(tx).await
    }

    /// Links (or with `None` unlinks) the incident's postmortem.
    pub async fn set_incident_postmortem(
        &self,
        id: i64,
        url: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), OpsError> {
        if let Some(url) = url {
            check_postmortem_url(url)?;
        }
        let mut tx = self.begin_write("linking a postmortem").await?;
        current(&mut tx, id).await?;
        crate::on_db!(&mut *tx, |db| sqlx::query(
            "UPDATE incidents SET postmortem_url = $1, updated_at = $2 WHERE id = $3"
        )
        .bind(url)
        .bind(at.timestamp_millis())
        .bind(id)
        .execute(db)
        .await
        .map(crate::store::Done::from))
        .context(|| format!("linking the postmortem of incident {id}"))?;
        commit(tx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postmortem_links_are_http_only() {
        for ok in [
            "https://example.com/pm/1",
            "http://example.com",
            "HTTPS://Example.com/a?b#c",
        ] {
            assert!(check_postmortem_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "ftp://example.com",
            "https://",
            "https://exa mple.com",
            "https://example.com/\"onmouseover=x",
            "//example.com",
            "",
        ] {
            assert!(check_postmortem_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn updates_notify_only_when_asked_and_resolve_closes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db")).await.unwrap();
        let now = Utc::now();
        let new = NewIncident {
            provider_id: "acme".into(),
            title: "Slow answers".into(),
            impact: "minor".into(),
            affected: ["acme/m".to_string()].into(),
            status: IncidentStatus::Investigating,
            body: "Looking".into(),
            notify: false,
        };
        let id = store.open_incident_by_hand(&new, now).await.unwrap();
        assert!(store.events_after(0, 10).await.unwrap().is_empty());
        assert!(
            store.open_incidents().await.unwrap().is_empty(),
            "not automatic"
        );
        store
            .acknowledge_incident(id, "a@example.com", now)
            .await
            .unwrap();
        assert!(matches!(
            store.acknowledge_incident(id, "b@example.com", now).await,
            Err(OpsError::Conflict(_))
        ));
        let update = NewUpdate {
            status: IncidentStatus::Resolved,
            body: "Fixed".into(),
            impact: None,
            affected: None,
            notify: true,
        };
        store.post_incident_update(id, &update, now).await.unwrap();
        let events = store.events_after(0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "incident.resolved");
        assert_eq!(events[0].incident_id, Some(id));
        assert_eq!(store.outbox_pending().await.unwrap(), 1);
        let inc = store.incident(id).await.unwrap().unwrap();
        assert_eq!(inc.status, "resolved");
        assert!(inc.resolved_at.is_some() && inc.acknowledged_at.is_some());
        assert_eq!(inc.acknowledged_by.as_deref(), Some("a@example.com"));
        assert_eq!(inc.updates.len(), 3);
        assert!(matches!(
            store.post_incident_update(id, &update, now).await,
            Err(OpsError::Conflict(_))
        ));
        assert!(matches!(
            store
                .set_incident_postmortem(id, Some("javascript:x"), now)
                .await,
            Err(OpsError::Invalid { .. })
        ));
        store
            .set_incident_postmortem(id, Some("https://example.com/pm"), now)
            .await
            .unwrap();
        assert!(matches!(
            store.acknowledge_incident(999, "a", now).await,
            Err(OpsError::NotFound(999))
        ));
    }
}
