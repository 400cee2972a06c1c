//! Incidents and their timelines.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::ms_to_time;
use super::{ReadView, SqlxContext, Store, StoreError};
use crate::vocabulary::event::IncidentChange;
use crate::vocabulary::{EventBody, IncidentStatus};

/// The provider's open incident, as stored.
#[derive(Debug, Clone)]
pub struct OpenIncident {
    pub id: i64,
    pub status: IncidentStatus,
    /// The models impaired at its latest update, which the next update compares against.
    pub affected_now: BTreeSet<String>,
    /// Every model it has affected: a resolved incident is remembered by all of them.
    pub affected_ever: BTreeSet<String>,
    /// The impact of its latest update (Statuspage's words), so a model getting worse
    /// updates it.
    pub impact_now: String,
    /// Its worst impact so far: what the incident is remembered by.
    pub peak_impact: String,
    /// When it moved to monitoring (all recovered), if it has.
    pub monitoring_since: Option<DateTime<Utc>>,
}

/// What the evaluator asks the store to write for a provider's incident (planned by
/// `evaluate::incidents::plan`).
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentAction {
    Open {
        title: String,
        impact: &'static str,
        affected: BTreeSet<String>,
        body: String,
    },
    Update {
        id: i64,
        /// The status the plan was made from: the write applies only if it still holds (an
        /// SRE may have moved or resolved the incident meanwhile).
        from: IncidentStatus,
        status: IncidentStatus,
        /// A new title when the affected models or the worst state changed; `None` keeps it.
        title: Option<String>,
        /// The impact and models impaired now, for this update.
        impact: &'static str,
        affected: BTreeSet<String>,
        /// The incident's worst impact and every model it has affected, this update's
        /// included: what the incident keeps after it is resolved.
        peak_impact: &'static str,
        affected_ever: BTreeSet<String>,
        body: String,
    },
    Resolve {
        id: i64,
        /// As for `Update`.
        from: IncidentStatus,
        body: String,
    },
}

/// An incident with its timeline, newest update last.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Incident {
    pub id: i64,
    pub provider_id: String,
    pub title: String,
    pub status: String,
    pub impact: String,
    pub affected: Vec<String>,
    pub automatic: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updates: Vec<IncidentUpdate>,
    /// When an SRE acknowledged it (shown publicly as "acknowledged").
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it: for the admin surface only, never published.
    #[serde(skip)]
    pub acknowledged_by: Option<String>,
    /// A link to the postmortem, http(s) only.
    pub postmortem_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IncidentUpdate {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub status: String,
    pub impact: String,
    pub body: String,
    pub affected: Vec<String>,
    /// Whether subscribers were told of this update.
    pub notified: bool,
}

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: i64,
    provider_id: String,
    title: String,
    status: String,
    impact: String,
    affected_json: String,
    affected_now_json: String,
    impact_now: String,
    automatic: bool,
    created_at: i64,
    updated_at: i64,
    monitoring_since: Option<i64>,
    resolved_at: Option<i64>,
    acknowledged_at: Option<i64>,
    acknowledged_by: Option<String>,
    postmortem_url: Option<String>,
}

#[derive(sqlx::FromRow)]
struct UpdateRow {
    id: i64,
    at: i64,
    status: String,
    impact: String,
    body: String,
    affected_json: String,
    notified: bool,
}

const INCIDENT_COLUMNS: &str = "SELECT id, provider_id, title, status, impact, affected_json, affected_now_json, impact_now, automatic, created_at, updated_at, monitoring_since, resolved_at, acknowledged_at, acknowledged_by, postmortem_url FROM incidents";

impl Store {
    /// Open (unresolved) automatic incidents per provider, as the incident planner needs
    /// them. Incidents opened by hand are the SREs' own: the planner never touches them.
    pub async fn open_incidents(&self) -> Result<Vec<(String, OpenIncident)>, StoreError> {
        let rows: Vec<IncidentRow> = crate::on_db!(&self.pool, |db| sqlx::query_as(&format!(
            "{INCIDENT_COLUMNS} WHERE resolved_at IS NULL AND automatic = TRUE ORDER BY id"
        ))
        .fetch_all(db)
        .await)
        .context(|| "reading open incidents")?;
        rows.into_iter()
            .map(|r| {
                let status =
                    IncidentStatus::parse(&r.status).ok_or_else(|| StoreError::Corrupt {
                        table: "incidents",
                        row: r.id.to_string(),
                        problem: format!("status {}", r.status),
                    })?;
                let set = |json: &str| -> BTreeSet<String> {
                    serde_json::from_str(json).unwrap_or_default()
                };
                Ok((
                    r.provider_id,
                    OpenIncident {
                        id: r.id,
                        status,
                        affected_now: set(&r.affected_now_json),
                        affected_ever: set(&r.affected_json),
                        impact_now: r.impact_now,
                        peak_impact: r.impact,
                        monitoring_since: r.monitoring_since.map(ms_to_time),
                    },
                ))
            })
            .collect()
    }

    /// The newest `limit` incidents with their timelines, newest first.
    pub async fn incidents(&self, limit: i64) -> Result<Vec<Incident>, StoreError> {
        self.read_view().await?.incidents(limit).await
    }

    /// One incident with its timeline, if it exists.
    pub async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        self.read_view().await?.incident(id).await
    }
}

/// Applies one planned action inside the round's transaction. Returns the incident id, the
/// event type and the event payload; `None` when the incident is no longer as the plan read
/// it (an SRE moved or resolved it since): nothing is written for it, and the next round
/// plans again from what is stored.
pub(crate) async fn apply_action(
    tx: &mut super::Tx,
    provider_id: &str,
    action: &IncidentAction,
    at: i64,
) -> Result<Option<(i64, EventBody)>, StoreError> {
    let affected_json =
        |a: &BTreeSet<String>| serde_json::to_string(a).unwrap_or_else(|_| "[]".into());
    let (id, variant, status, impact, body, affected) = match action {
        IncidentAction::Open {
            title,
            impact,
            affected,
            body,
        } => {
            let id: i64 = crate::on_db!(&mut **tx, |db| sqlx::query_scalar(
                "INSERT INTO incidents (provider_id, title, status, impact, impact_now, affected_json, affected_now_json, automatic, created_at, updated_at) \
                 VALUES ($1, $2, 'investigating', $3, $4, $5, $6, TRUE, $7, $8) RETURNING id",
            )
            .bind(provider_id)
            .bind(title)
            .bind(impact)
            .bind(impact)
            .bind(affected_json(affected))
            .bind(affected_json(affected))
            .bind(at)
            .bind(at)
            .fetch_one(db).await)
            .context(|| format!("opening an incident for {provider_id}"))?;
            (
                id,
                EventBody::IncidentCreated as fn(_) -> _,
                IncidentStatus::Investigating,
                *impact,
                body,
                Some(affected),
            )
        }
        IncidentAction::Update {
            id,
            from,
            status,
            title,
            impact,
            affected,
            peak_impact,
            affected_ever,
            body,
        } => {
            let monitoring_since = (*status == IncidentStatus::Monitoring).then_some(at);
            // Monitoring's "none" is no impact of the models: the last one stays for
            // comparison when the problem returns.
            let written = crate::on_db!(&mut **tx, |db| sqlx::query(
                "UPDATE incidents SET status = $1, title = COALESCE($2, title), impact = $3, affected_json = $4, \
                 impact_now = CASE WHEN $5 = 'none' THEN impact_now ELSE $6 END, affected_now_json = $7, updated_at = $8, monitoring_since = $9 \
                 WHERE id = $10 AND status = $11 AND resolved_at IS NULL",
            )
            .bind(status.as_str())
            .bind(title.as_deref())
            .bind(*peak_impact)
            .bind(affected_json(affected_ever))
            .bind(*impact)
            .bind(*impact)
            .bind(affected_json(affected))
            .bind(at)
            .bind(monitoring_since)
            .bind(id)
            .bind(from.as_str())
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("updating incident {id}"))?;
            if written.rows_affected() == 0 {
                return Ok(None);
            }
            (
                *id,
                EventBody::IncidentUpdated as fn(_) -> _,
                *status,
                *impact,
                body,
                Some(affected),
            )
        }
        IncidentAction::Resolve { id, from, body } => {
            let written = crate::on_db!(&mut **tx, |db| sqlx::query(
                "UPDATE incidents SET status = 'resolved', updated_at = $1, resolved_at = $2 \
                 WHERE id = $3 AND status = $4 AND resolved_at IS NULL",
            )
            .bind(at)
            .bind(at)
            .bind(id)
            .bind(from.as_str())
            .execute(db)
            .await
            .map(crate::store::Done::from))
            .context(|| format!("resolving incident {id}"))?;
            if written.rows_affected() == 0 {
                return Ok(None);
            }
            (
                *id,
                EventBody::IncidentResolved as fn(_) -> _,
                IncidentStatus::Resolved,
                "none",
                body,
                None,
            )
        }
    };
    let affected_text = affected.map(affected_json).unwrap_or_else(|| "[]".into());
    crate::on_db!(&mut **tx, |db| sqlx::query("INSERT INTO incident_updates (incident_id, at, status, impact, body, affected_json) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(at)
        .bind(status.as_str())
        .bind(impact)
        .bind(body)
        .bind(&affected_text)
        .execute(db).await.map(crate::store::Done::from))
        .context(|| format!("adding an update to incident {id}"))?;
    let title: String = crate::on_db!(&mut **tx, |db| sqlx::query_scalar(
        "SELECT title FROM incidents WHERE id = $1"
    )
    .bind(id)
    .fetch_one(db)
    .await)
    .context(|| format!("reading incident {id}"))?;
    let change = IncidentChange::new(
        provider_id,
        id,
        &title,
        status,
        impact,
        affected
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default(),
        body,
    );
    Ok(Some((id, variant(change))))
}

impl ReadView {
    /// Incidents, newest first, with their timelines.
    pub async fn incidents(&mut self, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let rows: Vec<IncidentRow> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(&format!(
            "{INCIDENT_COLUMNS} ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(db)
        .await)
        .context(|| "reading incidents")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.with_timeline(r).await?);
        }
        Ok(out)
    }

    /// One incident with its timeline, if it exists.
    pub async fn incident(&mut self, id: i64) -> Result<Option<Incident>, StoreError> {
        let row: Option<IncidentRow> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(&format!(
            "{INCIDENT_COLUMNS} WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(db)
        .await)
        .context(|| format!("reading incident {id}"))?;
        match row {
            Some(r) => Ok(Some(self.with_timeline(r).await?)),
            None => Ok(None),
        }
    }

    async fn with_timeline(&mut self, r: IncidentRow) -> Result<Incident, StoreError> {
        let updates: Vec<UpdateRow> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(
            "SELECT id, at, status, impact, body, affected_json, notified FROM incident_updates WHERE incident_id = $1 ORDER BY at, id",
        )
        .bind(r.id)
        .fetch_all(db).await)
        .context(|| format!("reading the timeline of incident {}", r.id))?;
        Ok(Incident {
            id: r.id,
            provider_id: r.provider_id,
            title: r.title,
            status: r.status,
            impact: r.impact,
            affected: serde_json::from_str(&r.affected_json).unwrap_or_default(),
            automatic: r.automatic,
            created_at: ms_to_time(r.created_at),
            updated_at: ms_to_time(r.updated_at),
            resolved_at: r.resolved_at.map(ms_to_time),
            acknowledged_at: r.acknowledged_at.map(ms_to_time),
            acknowledged_by: r.acknowledged_by,
            postmortem_url: r.postmortem_url,
            updates: updates
                .into_iter()
                .map(|u| IncidentUpdate {
                    id: u.id,
                    at: ms_to_time(u.at),
                    status: u.status,
                    impact: u.impact,
                    body: u.body,
                    affected: serde_json::from_str(&u.affected_json).unwrap_or_default(),
                    notified: u.notified,
                })
                .collect(),
        })
    }
}
