//! The evaluator's rows: each model's state (what it resumes from) and the history of
//! state changes. A round writes them (see `store::round`).

use chrono::{DateTime, Utc};

use super::{ms_to_time, ReadView, SqlxContext, Store, StoreError};
use crate::vocabulary::{Evidence, ModelState, Tracker};

/// A model's persisted evaluator state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModelState {
    pub model_key: String,
    pub tracker: Tracker,
    pub enabled: bool,
    pub reasons: Vec<String>,
    pub evidence: Evidence,
    pub evaluated_at: DateTime<Utc>,
}

/// What the routing table needs of a model's stored decision (a standby reads every
/// model's each second, so not the evidence).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDecision {
    pub model_key: String,
    pub state: ModelState,
    pub enabled: bool,
    pub since: DateTime<Utc>,
    /// The first reason: what the routing table shows.
    pub headline: Option<String>,
}

/// One state change, for the model's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StateChange {
    pub model_key: String,
    pub at: DateTime<Utc>,
    pub from: ModelState,
    pub to: ModelState,
    pub enabled: bool,
    pub reasons: Vec<String>,
    pub evidence: Evidence,
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing our own plain data types cannot fail; an empty object is a safe fallback.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

#[derive(sqlx::FromRow)]
struct StateRow {
    model_key: String,
    state: String,
    enabled: bool,
    since: i64,
    reasons_json: String,
    evidence_json: String,
    evaluated_at: i64,
}

impl StateRow {
    fn into_state(self) -> Result<StoredModelState, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            table: "model_states",
            row: self.model_key.clone(),
            problem,
        };
        let state = self.state.parse::<ModelState>().map_err(corrupt)?;
        let reasons = serde_json::from_str(&self.reasons_json)
            .map_err(|e| corrupt(format!("reasons_json: {e}")))?;
        let evidence = serde_json::from_str(&self.evidence_json)
            .map_err(|e| corrupt(format!("evidence_json: {e}")))?;
        Ok(StoredModelState {
            tracker: Tracker {
                state,
                since: ms_to_time(self.since),
            },
            enabled: self.enabled,
            reasons,
            evidence,
            evaluated_at: ms_to_time(self.evaluated_at),
            model_key: self.model_key,
        })
    }
}

impl Store {
    /// Every model's persisted state (the evaluator resumes from these at start).
    pub async fn load_model_states(&self) -> Result<Vec<StoredModelState>, StoreError> {
        self.read_view().await?.load_model_states().await
    }

    /// A model's state changes since `since`, oldest first.
    pub async fn state_changes(
        &self,
        model_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StateChange>, StoreError> {
        self.read_view()
            .await?
            .state_changes(model_key, since)
            .await
    }
}

impl Store {
    /// The outcome of each model's most recent probe started at or after `since`.
    pub async fn latest_outcomes(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match self.pool {
            // SQLite returns the bare columns of the row holding max(); that is documented
            // behaviour.
            super::Db::Sqlite(_) => {
                "SELECT model_key, outcome, max(started_at) FROM probe_results \
                 WHERE started_at >= $1 GROUP BY model_key"
            }
            // PostgreSQL refuses bare columns; DISTINCT ON keeps each model's first row.
            super::Db::Postgres(_) => {
                "SELECT DISTINCT ON (model_key) model_key, outcome, started_at FROM probe_results \
                 WHERE started_at >= $1 ORDER BY model_key, started_at DESC"
            }
        };
        let rows: Vec<(String, String, i64)> = crate::on_db!(&self.pool, |db| sqlx::query_as(sql)
            .bind(since.timestamp_millis())
            .fetch_all(db)
            .await)
        .context(|| "reading the latest outcome of every model")?;
        Ok(rows.into_iter().map(|(k, o, _)| (k, o)).collect())
    }
}

/// Saves the round's model states and appends its state changes, in `tx`.
pub(crate) async fn write_states(
    tx: &mut super::Tx,
    states: &[StoredModelState],
    changes: &[StateChange],
) -> Result<(), StoreError> {
    for s in states {
        crate::on_db!(&mut **tx, |db| sqlx::query(
                "INSERT INTO model_states (model_key, state, enabled, since, reasons_json, evidence_json, recent_json, evaluated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (model_key) DO UPDATE SET state = excluded.state, enabled = excluded.enabled, since = excluded.since, \
                 reasons_json = excluded.reasons_json, evidence_json = excluded.evidence_json, recent_json = excluded.recent_json, \
                 evaluated_at = excluded.evaluated_at",
            )
            .bind(&s.model_key)
            .bind(s.tracker.state.as_str())
            .bind(s.enabled)
            .bind(s.tracker.since.timestamp_millis())
            .bind(to_json(&s.reasons))
            .bind(to_json(&s.evidence))
            // The column held the hysteresis streak of the evaluator before it judged every
            // probe; the sequential statistics are rebuilt from the results instead.
            .bind("[]")
            .bind(s.evaluated_at.timestamp_millis())
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("saving the state of {}", s.model_key))?;
    }
    for c in changes {
        crate::on_db!(&mut **tx, |db| sqlx::query(
                "INSERT INTO state_changes (model_key, at, from_state, to_state, enabled, reasons_json, evidence_json) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&c.model_key)
            .bind(c.at.timestamp_millis())
            .bind(c.from.as_str())
            .bind(c.to.as_str())
            .bind(c.enabled)
            .bind(to_json(&c.reasons))
            .bind(to_json(&c.evidence))
            .execute(db).await.map(crate::store::Done::from))
            .context(|| format!("recording the state change of {}", c.model_key))?;
    }
    Ok(())
}

impl ReadView {
    /// Every model's persisted state (the evaluator resumes from these at start).
    /// The state a model entered by its last change before `at`, if it had one.
    pub async fn state_before(
        &mut self,
        model_key: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ModelState>, StoreError> {
        let to: Option<String> = crate::on_db!(&mut *self.tx, |db| sqlx::query_scalar(
            "SELECT to_state FROM state_changes WHERE model_key = $1 AND at < $2 ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(model_key)
        .bind(at.timestamp_millis())
        .fetch_optional(db).await)
        .context(|| format!("reading the state of {model_key} before {at}"))?;
        to.map(|s| {
            s.parse::<ModelState>()
                .map_err(|problem| StoreError::Corrupt {
                    table: "state_changes",
                    row: model_key.to_string(),
                    problem,
                })
        })
        .transpose()
    }

    pub async fn load_model_states(&mut self) -> Result<Vec<StoredModelState>, StoreError> {
        let rows: Vec<StateRow> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(
            "SELECT model_key, state, enabled, since, reasons_json, evidence_json, evaluated_at FROM model_states ORDER BY model_key",
        )
        .fetch_all(db).await)
        .context(|| "reading model states")?;
        rows.into_iter().map(StateRow::into_state).collect()
    }

    /// Every model's stored decision, without the evidence (see [`StoredDecision`]).
    pub async fn decisions(&mut self) -> Result<Vec<StoredDecision>, StoreError> {
        let rows: Vec<(String, String, bool, i64, String)> = crate::on_db!(&mut *self.tx, |db| {
            sqlx::query_as(
                "SELECT model_key, state, enabled, since, reasons_json FROM model_states \
                 ORDER BY model_key",
            )
            .fetch_all(db)
            .await
        })
        .context(|| "reading model decisions")?;
        rows.into_iter()
            .map(|(model_key, state, enabled, since, reasons)| {
                let corrupt = |problem: String| StoreError::Corrupt {
                    table: "model_states",
                    row: model_key.clone(),
                    problem,
                };
                let state = state.parse::<ModelState>().map_err(corrupt)?;
                let reasons: Vec<String> = serde_json::from_str(&reasons)
                    .map_err(|e| corrupt(format!("reasons_json: {e}")))?;
                Ok(StoredDecision {
                    state,
                    enabled,
                    since: ms_to_time(since),
                    headline: reasons.into_iter().next(),
                    model_key,
                })
            })
            .collect()
    }

    /// A model's state changes since `since`, oldest first.
    pub async fn state_changes(
        &mut self,
        model_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StateChange>, StoreError> {
        let rows: Vec<(i64, String, String, bool, String, String)> = crate::on_db!(&mut *self.tx, |db| sqlx::query_as(
            "SELECT at, from_state, to_state, enabled, reasons_json, evidence_json FROM state_changes WHERE model_key = $1 AND at >= $2 ORDER BY at, id",
        )
        .bind(model_key)
        .bind(since.timestamp_millis())
        .fetch_all(db).await)
        .context(|| format!("reading state changes of {model_key}"))?;
        rows.into_iter()
            .map(|(at, from, to, enabled, reasons, evidence)| {
                let corrupt = |problem: String| StoreError::Corrupt {
                    table: "state_changes",
                    row: format!("{model_key} at {at}"),
                    problem,
                };
                Ok(StateChange {
                    model_key: model_key.to_string(),
                    at: ms_to_time(at),
                    from: from.parse().map_err(corrupt)?,
                    to: to.parse().map_err(corrupt)?,
                    enabled,
                    reasons: serde_json::from_str(&reasons).map_err(|e| corrupt(e.to_string()))?,
                    evidence: serde_json::from_str(&evidence)
                        .map_err(|e| corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::store::round::Round;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn round(minute: i64, from: ModelState, to: ModelState) -> Round {
        Round {
            at: at(minute),
            states: vec![StoredModelState {
                model_key: "acme/m".into(),
                tracker: Tracker {
                    state: to,
                    since: at(minute),
                },
                enabled: to == ModelState::Operational,
                reasons: vec![format!("{to} at minute {minute}")],
                evidence: Evidence::default(),
                evaluated_at: at(minute),
            }],
            changes: vec![StateChange {
                model_key: "acme/m".into(),
                at: at(minute),
                from,
                to,
                enabled: to == ModelState::Operational,
                reasons: vec![],
                evidence: Evidence::default(),
            }],
            ..Round::default()
        }
    }

    /// A page reads a model's state and then its history: a round committed in between must
    /// not show up in one and not the other.
    #[tokio::test]
    async fn a_read_view_sees_one_commit_whatever_is_written_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("v.db")).await.unwrap();
        store
            .commit_round(&round(0, ModelState::Unknown, ModelState::Operational))
            .await
            .unwrap();
        let mut view = store.read_view().await.unwrap();
        let before = view.load_model_states().await.unwrap();
        assert_eq!(before[0].tracker.state, ModelState::Operational);

        store
            .commit_round(&round(5, ModelState::Operational, ModelState::MajorOutage))
            .await
            .unwrap();
        // Through the view: still the first commit, state and history alike.
        let history = view.state_changes("acme/m", at(-1)).await.unwrap();
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(
            view.load_model_states().await.unwrap()[0].tracker.state,
            ModelState::Operational
        );
        drop(view);
        // A new read sees the second commit.
        assert_eq!(
            store.state_changes("acme/m", at(-1)).await.unwrap().len(),
            2
        );
        assert_eq!(
            store.load_model_states().await.unwrap()[0].tracker.state,
            ModelState::MajorOutage
        );
    }
}
