//! One evaluation round, written whole: model states, state changes, override and
//! maintenance steps, incident actions, events and their outbox rows, in one transaction.

use chrono::{DateTime, Utc};

use super::evaluations::{StateChange, StoredModelState};
use super::events::NewEvent;
use super::incidents::IncidentAction;
use super::overrides::OpsWrite;
use super::{SqlxContext, Store, StoreError};

/// Everything one evaluation round decided.
#[derive(Debug, Default)]
pub struct Round {
    /// When the round ran (the engine's clock); every row of the round carries it.
    pub at: DateTime<Utc>,
    pub states: Vec<StoredModelState>,
    pub changes: Vec<StateChange>,
    pub events: Vec<NewEvent>,
    /// (provider id, action)
    pub incidents: Vec<(String, IncidentAction)>,
    /// Overrides ended and maintenance windows moved on by this round.
    pub ops: Vec<OpsWrite>,
}

impl Store {
    /// Writes a round: states, changes, incident actions, events and their outbox rows, in
    /// one transaction. Nothing of a round is visible unless all of it is.
    pub async fn commit_round(&self, round: &Round) -> Result<(), StoreError> {
        let at = round.at.timestamp_millis();
        let mut tx = self.begin_write("an evaluation round").await?;
        super::evaluations::write_states(&mut tx, &round.states, &round.changes).await?;
        for e in &round.events {
            super::events::insert_event(&mut tx, e, None, at).await?;
        }
        super::overrides::apply_ops(&mut tx, &round.ops, at).await?;
        for (provider_id, action) in &round.incidents {
            let Some((incident_id, body)) =
                super::incidents::apply_action(&mut tx, provider_id, action, at).await?
            else {
                tracing::info!(provider = %provider_id, "an incident changed by hand since it was read; the evaluator leaves it and plans again");
                continue;
            };
            let event = NewEvent {
                provider_id: provider_id.clone(),
                model_key: None,
                public: true,
                body,
            };
            super::events::insert_event(&mut tx, &event, Some(incident_id), at).await?;
        }
        tx.commit()
            .await
            .context(|| "committing an evaluation round")
    }
}
