//! What providers' own pages said, with its history: whether each page could be read, the
//! state of each mapped component and every change of it, and the published incidents and
//! maintenances of the last 90 days. A reading that changes something is written with its
//! `official.changed` events in one transaction (the outbox rule).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::events::{insert_event, NewEvent};
use super::{ms_to_time, ReadView, SqlxContext, Store, StoreError};
use crate::official::{Incident, Observed};
use crate::vocabulary::event::{OfficialChange, OfficialIncidentLink};
use crate::vocabulary::{EventBody, ModelState};

/// Whether a provider's page could be read at the last poll.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SourceRow {
    pub provider_id: String,
    pub kind: String,
    pub available: bool,
    pub reason: Option<String>,
    pub checked_at: i64,
    pub read_at: Option<i64>,
    pub changed_at: i64,
}

/// A mapped component's published state, since when.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRow {
    pub provider_id: String,
    pub component: String,
    pub state: ModelState,
    pub since: DateTime<Utc>,
}

/// One change of a mapped component's published state.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentChange {
    pub provider_id: String,
    pub component: String,
    pub previous: Option<ModelState>,
    pub state: ModelState,
    pub at: DateTime<Utc>,
}

/// A published incident or maintenance as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficialIncidentRow {
    pub provider_id: String,
    pub incident_id: String,
    pub name: String,
    pub url: Option<String>,
    pub status: String,
    pub impact: Option<ModelState>,
    pub maintenance: bool,
    /// The configured components it names (empty: outside what we map).
    pub components: Vec<String>,
    /// When the page published it (or when we first saw it, for formats that do not say).
    pub published_at: DateTime<Utc>,
    pub first_seen_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub adopted_window_id: Option<i64>,
}

/// Everything stored about official pages from `since` on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfficialRecords {
    pub sources: Vec<SourceRow>,
    pub components: Vec<ComponentRow>,
    pub changes: Vec<ComponentChange>,
    pub incidents: Vec<OfficialIncidentRow>,
}

/// Who the page belongs to, for rows and event words.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    pub provider_id: &'a str,
    pub provider_name: &'a str,
    pub kind: &'a str,
    /// Configured component → the `provider/model` keys it covers.
    pub components: &'a BTreeMap<String, Vec<String>>,
}

fn state(text: &str) -> ModelState {
    text.parse().unwrap_or(ModelState::Unknown)
}

#[derive(sqlx::FromRow)]
struct IncidentRaw {
    provider_id: String,
    incident_id: String,
    name: String,
    url: Option<String>,
    status: String,
    impact: Option<String>,
    maintenance: bool,
    components_json: String,
    published_at: i64,
    first_seen_at: i64,
    resolved_at: Option<i64>,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    adopted_window_id: Option<i64>,
}

impl From<IncidentRaw> for OfficialIncidentRow {
    fn from(r: IncidentRaw) -> Self {
        OfficialIncidentRow {
            components: serde_json::from_str(&r.components_json).unwrap_or_default(),
            impact: r.impact.as_deref().map(state),
            published_at: ms_to_time(r.published_at),
            first_seen_at: ms_to_time(r.first_seen_at),
            resolved_at: r.resolved_at.map(ms_to_time),
            window: r
                .starts_at
                .zip(r.ends_at)
                .map(|(s, e)| (ms_to_time(s), ms_to_time(e))),
            provider_id: r.provider_id,
            incident_id: r.incident_id,
            name: r.name,
            url: r.url,
            status: r.status,
            maintenance: r.maintenance,
            adopted_window_id: r.adopted_window_id,
        }
    }
}

const INCIDENT_COLUMNS: &str = "provider_id, incident_id, name, url, status, impact, maintenance, components_json, published_at, first_seen_at, resolved_at, starts_at, ends_at, adopted_window_id";

async fn load(conn: &mut super::Tx, since: DateTime<Utc>) -> Result<OfficialRecords, StoreError> {
    let since = since.timestamp_millis();
    let sources: Vec<SourceRow> = crate::on_db!(&mut *conn, |db| sqlx::query_as(
        "SELECT provider_id, kind, available, reason, checked_at, read_at, changed_at FROM official_sources ORDER BY provider_id",
    )
    .fetch_all(db).await)
    .context(|| "reading official sources")?;
    let components: Vec<(String, String, String, i64)> = crate::on_db!(&mut *conn, |db| sqlx::query_as(
        "SELECT provider_id, component, state, since FROM official_components ORDER BY provider_id, component",
    )
    .fetch_all(db).await)
    .context(|| "reading official components")?;
    let changes: Vec<(String, String, Option<String>, String, i64)> = crate::on_db!(&mut *conn, |db| sqlx::query_as(
        "SELECT provider_id, component, previous, state, at FROM official_component_changes WHERE at >= $1 ORDER BY at, id",
    )
    .bind(since)
    .fetch_all(db).await)
    .context(|| "reading official component history")?;
    let incidents: Vec<IncidentRaw> = crate::on_db!(&mut *conn, |db| sqlx::query_as(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM official_incidents WHERE published_at >= $1 OR resolved_at IS NULL ORDER BY published_at DESC"
    ))
    .bind(since)
    .fetch_all(db).await)
    .context(|| "reading official incidents")?;
    Ok(OfficialRecords {
        sources,
        components: components
            .into_iter()
            .map(|(provider_id, component, s, since)| ComponentRow {
                provider_id,
                component,
                state: state(&s),
                since: ms_to_time(since),
            })
            .collect(),
        changes: changes
            .into_iter()
            .map(
                |(provider_id, component, previous, s, at)| ComponentChange {
                    provider_id,
                    component,
                    previous: previous.as_deref().map(state),
                    state: state(&s),
                    at: ms_to_time(at),
                },
            )
            .collect(),
        incidents: incidents.into_iter().map(Into::into).collect(),
    })
}

impl ReadView {
    /// Official records from `since` on (open incidents whatever their age).
    pub async fn official(&mut self, since: DateTime<Utc>) -> Result<OfficialRecords, StoreError> {
        load(&mut self.tx, since).await
    }
}

/// The models a set of configured components covers.
fn models_of(publisher: &Publisher<'_>, components: &[String]) -> Vec<String> {
    let mut models: Vec<String> = components
        .iter()
        .filter_map(|c| publisher.components.get(c))
        .flatten()
        .cloned()
        .collect();
    models.sort();
    models.dedup();
    models
}

impl Store {
    /// Official records from `since` on (open incidents whatever their age).
    pub async fn official(&self, since: DateTime<Utc>) -> Result<OfficialRecords, StoreError> {
        let mut conn = self.begin_read("reading official records").await?;
        load(&mut conn, since).await
    }

    /// Records a reading of a provider's page at `now`: the page is available, each mapped
    /// component's state (a change is kept in the history), each listed incident (an open
    /// one no longer listed is resolved now: the formats list every open incident). Every
    /// change that concerns a mapped component is announced as `official.changed` in the
    /// same transaction. Returns the events written.
    pub async fn record_official(
        &self,
        publisher: Publisher<'_>,
        observed: &Observed,
        now: DateTime<Utc>,
        keep_since: DateTime<Utc>,
    ) -> Result<Vec<OfficialChange>, StoreError> {
        let at = now.timestamp_millis();
        let provider = publisher.provider_id;
        let mut tx = self
            .begin_write("recording an official status reading")
            .await?;
        set_source(&mut tx, provider, publisher.kind, None, at).await?;
        let mut changes = Vec::new();
        let stored: BTreeMap<String, String> =
            crate::on_db!(&mut *tx, |db| sqlx::query_as::<_, (String, String)>(
                "SELECT component, state FROM official_components WHERE provider_id = $1",
            )
            .bind(provider)
            .fetch_all(db)
            .await)
            .context(|| "reading official components")?
            .into_iter()
            .collect();
        for (component, now_state) in &observed.components {
            let previous = stored.get(component).map(|s| state(s));
            if previous == Some(*now_state) {
                continue;
            }
            crate::on_db!(&mut *tx, |db| sqlx::query(
                "INSERT INTO official_components (provider_id, component, state, since) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (provider_id, component) DO UPDATE SET state = excluded.state, since = excluded.since",
            )
            .bind(provider)
            .bind(component)
            .bind(now_state.as_str())
            .bind(at)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("recording official component {component}"))?;
            crate::on_db!(&mut *tx, |db| sqlx::query(
                "INSERT INTO official_component_changes (provider_id, component, previous, state, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(provider)
            .bind(component)
            .bind(previous.map(ModelState::as_str))
            .bind(now_state.as_str())
            .bind(at)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("recording the history of official component {component}"))?;
            // The first reading is a baseline, not news.
            if let Some(previous) = previous {
                changes.push(OfficialChange {
                    provider: provider.to_string(),
                    provider_name: publisher.provider_name.to_string(),
                    summary: format!(
                        "{}'s status page: {component} {} (was {})",
                        publisher.provider_name,
                        now_state.label().to_lowercase(),
                        previous.label().to_lowercase()
                    ),
                    component: Some(component.clone()),
                    state: Some(*now_state),
                    previous: Some(previous),
                    incident: None,
                    models: models_of(&publisher, std::slice::from_ref(component)),
                });
            }
        }
        let open_before: Vec<(String, String, String, bool, String, Option<String>)> = crate::on_db!(&mut *tx, |db| sqlx::query_as(
            "SELECT incident_id, name, status, maintenance, components_json, url FROM official_incidents WHERE provider_id = $1 AND resolved_at IS NULL",
        )
        .bind(provider)
        .fetch_all(db).await)
        .context(|| "reading open official incidents")?;
        let first_reading = stored.is_empty();
        for (incident, components) in &observed.incidents {
            let published = incident.published_at.unwrap_or(now);
            let resolved_at = incident
                .resolved()
                .then(|| incident.resolved_at.unwrap_or(now).timestamp_millis());
            if published < keep_since && resolved_at.is_some() {
                continue;
            }
            let known: Option<(Option<i64>,)> = crate::on_db!(&mut *tx, |db| sqlx::query_as(
                "SELECT resolved_at FROM official_incidents WHERE provider_id = $1 AND incident_id = $2",
            )
            .bind(provider)
            .bind(&incident.id)
            .fetch_optional(db).await)
            .context(|| "reading an official incident")?;
            upsert_incident(
                &mut tx,
                provider,
                incident,
                components,
                published,
                resolved_at,
                at,
            )
            .await?;
            let news = match known {
                None if resolved_at.is_none() && !first_reading => Some("opened"),
                Some((None,)) if resolved_at.is_some() => Some("resolved"),
                _ => None,
            };
            if let (Some(what), false) = (news, components.is_empty()) {
                changes.push(incident_change(&publisher, incident, components, what));
            }
        }
        // Open incidents the page no longer lists are over.
        for (id, name, status, maintenance, components_json, url) in open_before {
            if observed.incidents.iter().any(|(i, _)| i.id == id) {
                continue;
            }
            crate::on_db!(&mut *tx, |db| sqlx::query(
                "UPDATE official_incidents SET resolved_at = $1, updated_at = $2 WHERE provider_id = $3 AND incident_id = $4",
            )
            .bind(at)
            .bind(at)
            .bind(provider)
            .bind(&id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| "resolving an official incident no longer listed")?;
            let components: Vec<String> =
                serde_json::from_str(&components_json).unwrap_or_default();
            if !components.is_empty() {
                let gone = Incident {
                    id,
                    name,
                    url,
                    status,
                    impact: None,
                    published_at: None,
                    resolved_at: Some(now),
                    finished: true,
                    components: Vec::new(),
                    text: String::new(),
                    maintenance: None,
                };
                let mut change =
                    incident_change(&publisher, &gone, &components, "no longer listed");
                if let Some(i) = change.incident.as_mut() {
                    i.maintenance = maintenance;
                }
                changes.push(change);
            }
        }
        for change in &changes {
            let event = NewEvent {
                provider_id: provider.to_string(),
                model_key: None,
                public: true,
                body: EventBody::OfficialChanged(change.clone()),
            };
            insert_event(&mut tx, &event, None, at).await?;
        }
        crate::on_db!(&mut *tx, |db| sqlx::query("DELETE FROM official_incidents WHERE provider_id = $1 AND published_at < $2 AND resolved_at IS NOT NULL")
            .bind(provider)
            .bind(keep_since.timestamp_millis())
            .execute(db).await.map(crate::store::Done::from))
            .context(|| "forgetting old official incidents")?;
        tx.commit()
            .await
            .context(|| "committing an official status reading")?;
        Ok(changes)
    }

    /// Records that a provider's page could not be read at `now`, and why. What it said
    /// before is kept (and shown as of its time).
    pub async fn record_official_unavailable(
        &self,
        provider: &str,
        kind: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .begin_write("recording an unreadable official page")
            .await?;
        set_source(
            &mut tx,
            provider,
            kind,
            Some(reason),
            now.timestamp_millis(),
        )
        .await?;
        tx.commit()
            .await
            .context(|| "committing an unreadable official page")
    }

    /// The published maintenances of `provider` already made our windows.
    pub async fn adopted_official(&self, provider: &str) -> Result<Vec<String>, StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query_scalar(
            "SELECT incident_id FROM official_incidents WHERE provider_id = $1 AND adopted_window_id IS NOT NULL",
        )
        .bind(provider)
        .fetch_all(db).await)
        .context(|| "reading adopted official maintenances")
    }

    /// Notes that published maintenance `incident_id` became our window `window_id`.
    pub async fn mark_official_adopted(
        &self,
        provider: &str,
        incident_id: &str,
        window_id: i64,
    ) -> Result<(), StoreError> {
        crate::on_db!(&self.pool, |db| sqlx::query("UPDATE official_incidents SET adopted_window_id = $1 WHERE provider_id = $2 AND incident_id = $3")
            .bind(window_id)
            .bind(provider)
            .bind(incident_id)
            .execute(db).await.map(crate::store::Done::from))
            .context(|| "noting an adopted official maintenance")?;
        Ok(())
    }
}

async fn set_source(
    tx: &mut super::Tx,
    provider: &str,
    kind: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    let available = reason.is_none();
    crate::on_db!(&mut **tx, |db| sqlx::query(
        "INSERT INTO official_sources (provider_id, kind, available, reason, checked_at, read_at, changed_at) VALUES ($1, $2, $3, $4, $5, CASE WHEN $3 THEN $5 END, $5) \
         ON CONFLICT (provider_id) DO UPDATE SET kind = excluded.kind, checked_at = excluded.checked_at, \
           read_at = COALESCE(excluded.read_at, official_sources.read_at), \
           changed_at = CASE WHEN official_sources.available IS NOT DISTINCT FROM excluded.available AND official_sources.reason IS NOT DISTINCT FROM excluded.reason THEN official_sources.changed_at ELSE excluded.changed_at END, \
           available = excluded.available, reason = excluded.reason",
    )
    .bind(provider)
    .bind(kind)
    .bind(available)
    .bind(reason)
    .bind(at)
    .execute(db).await.map(crate::store::Done::from))
    .context(|| format!("recording official source {provider}"))?;
    Ok(())
}

async fn upsert_incident(
    tx: &mut super::Tx,
    provider: &str,
    incident: &Incident,
    components: &[String],
    published: DateTime<Utc>,
    resolved_at: Option<i64>,
    at: i64,
) -> Result<(), StoreError> {
    let components_json = serde_json::to_string(components).unwrap_or_else(|_| "[]".into());
    crate::on_db!(&mut **tx, |db| sqlx::query(
        "INSERT INTO official_incidents (provider_id, incident_id, name, url, status, impact, maintenance, components_json, published_at, first_seen_at, resolved_at, starts_at, ends_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (provider_id, incident_id) DO UPDATE SET name = excluded.name, url = excluded.url, status = excluded.status, \
           impact = excluded.impact, components_json = excluded.components_json, \
           resolved_at = COALESCE(official_incidents.resolved_at, excluded.resolved_at), \
           starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = excluded.updated_at",
    )
    .bind(provider)
    .bind(&incident.id)
    .bind(&incident.name)
    .bind(&incident.url)
    .bind(&incident.status)
    .bind(incident.impact.map(ModelState::as_str))
    .bind(incident.maintenance.is_some())
    .bind(components_json)
    .bind(published.timestamp_millis())
    .bind(at)
    .bind(resolved_at)
    .bind(incident.maintenance.map(|(s, _)| s.timestamp_millis()))
    .bind(incident.maintenance.map(|(_, e)| e.timestamp_millis()))
    .bind(at)
    .execute(db).await.map(crate::store::Done::from))
    .context(|| format!("recording official incident {}", incident.id))?;
    Ok(())
}

fn incident_change(
    publisher: &Publisher<'_>,
    incident: &Incident,
    components: &[String],
    what: &str,
) -> OfficialChange {
    let noun = if incident.maintenance.is_some() {
        "maintenance"
    } else {
        "incident"
    };
    OfficialChange {
        provider: publisher.provider_id.to_string(),
        provider_name: publisher.provider_name.to_string(),
        summary: format!(
            "{}'s status page: {noun} \"{}\" {what} ({})",
            publisher.provider_name,
            incident.name,
            components.join(", ")
        ),
        component: None,
        state: incident.impact,
        previous: None,
        incident: Some(OfficialIncidentLink {
            id: incident.id.clone(),
            name: incident.name.clone(),
            status: incident.status.clone(),
            maintenance: incident.maintenance.is_some(),
            url: incident.url.clone(),
        }),
        models: models_of(publisher, components),
    }
}
