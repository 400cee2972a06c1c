//! Fan-out: which subscriptions an event reaches. Pure; the store runs it inside the
//! transaction that reads the outbox and the subscriptions together (see
//! [`crate::store::Store::fan_out`]), so a subscription committed before an event is always
//! seen with it.

use crate::store::deliveries::OutboxEvent;
use crate::store::subscriptions::Subscription;
use crate::vocabulary::event::OPT_IN_EVENTS;
use crate::vocabulary::{Event, Filter, Kind};

use super::formats;

/// Whether an event of `kind` about `provider` (and `model`, if it is about one) matches
/// `filter`. Empty lists mean "all", except that an empty `events` list leaves out the
/// opt-in types ([`OPT_IN_EVENTS`]). Incident and maintenance events carry no model: they
/// match a model filter when one of their `affected` models is in it.
pub fn filter_matches(
    filter: &Filter,
    kind: &str,
    provider: Option<&str>,
    model: Option<&str>,
    affected: &[String],
) -> bool {
    let event_ok = if filter.events.is_empty() {
        !OPT_IN_EVENTS.contains(&kind)
    } else {
        filter.events.iter().any(|e| e == kind)
    };
    let provider_ok = filter.providers.is_empty()
        || provider.is_some_and(|p| filter.providers.iter().any(|x| x == p));
    let model_ok = filter.models.is_empty()
        || model.is_some_and(|m| filter.models.iter().any(|x| x == m))
        || (model.is_none() && affected.iter().any(|a| filter.models.contains(a)));
    event_ok && provider_ok && model_ok
}

/// The subscriptions (of `active`) that get a delivery of `event`.
///
/// - Only public events reach subscribers.
/// - A subscriber hears about what happens after it started listening (an email address
///   once confirmed), never the past, however late fan-out runs.
/// - One change, one message for people: a state change that comes with `model.disabled`
///   (or restored, or degraded) in the same round is left to that event, unless they asked
///   for state changes by name. Programs (native webhooks) get both, as documented.
/// - A webhook format that does not carry the event type (PagerDuty only opens and closes
///   alerts) gets nothing.
///
/// An event whose stored body cannot be read still reaches its subscribers (matched on its
/// columns): the dispatcher then records the delivery as dead with the reason, where
/// leaving it out would lose the failure silently.
pub fn recipients<'a>(event: &OutboxEvent, active: &'a [Subscription]) -> Vec<&'a Subscription> {
    if !event.public {
        return Vec::new();
    }
    let affected = Event::parse(&event.payload_json)
        .map(|e| e.affected_models().to_vec())
        .unwrap_or_default();
    active
        .iter()
        .filter(|s| s.listening_since() <= event.occurred_at)
        .filter(|s| {
            filter_matches(
                &s.filter,
                &event.kind,
                event.provider_id.as_deref(),
                event.model_key.as_deref(),
                &affected,
            )
        })
        .filter(|s| !(event.covered && s.format.for_people() && s.filter.events.is_empty()))
        .filter(|s| s.kind != Kind::Webhook || formats::carries(s.format, &event.kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_by_event_provider_and_model() {
        let matches = filter_matches;
        let all = Filter::default();
        assert!(matches(&all, "model.disabled", Some("a"), Some("a/x"), &[]));
        let f = Filter {
            models: vec!["a/x".into()],
            providers: vec![],
            events: vec!["model.disabled".into(), "incident.created".into()],
        };
        assert!(matches(&f, "model.disabled", Some("a"), Some("a/x"), &[]));
        assert!(!matches(&f, "model.disabled", Some("a"), Some("a/y"), &[]));
        assert!(!matches(&f, "model.restored", Some("a"), Some("a/x"), &[]));
        assert!(matches(
            &f,
            "incident.created",
            Some("a"),
            None,
            &["a/x".into()]
        ));
        assert!(!matches(
            &f,
            "incident.created",
            Some("a"),
            None,
            &["a/y".into()]
        ));
        let p = Filter {
            providers: vec!["b".into()],
            ..Filter::default()
        };
        assert!(!matches(&p, "model.disabled", Some("a"), Some("a/x"), &[]));
        assert!(matches(&p, "incident.resolved", Some("b"), None, &[]));
    }

    /// What a provider's page says reaches only those who asked for it by name: a filter
    /// without `events` ("everything") leaves it out, and a model filter still applies.
    #[test]
    fn official_changes_reach_only_subscribers_who_name_them() {
        let matches = filter_matches;
        let affected = ["a/x".to_string()];
        assert!(!matches(
            &Filter::default(),
            "official.changed",
            Some("a"),
            None,
            &affected
        ));
        let named = Filter {
            events: vec!["official.changed".into()],
            ..Filter::default()
        };
        assert!(matches(
            &named,
            "official.changed",
            Some("a"),
            None,
            &affected
        ));
        let other_model = Filter {
            events: vec!["official.changed".into()],
            models: vec!["a/y".into()],
            ..Filter::default()
        };
        assert!(!matches(
            &other_model,
            "official.changed",
            Some("a"),
            None,
            &affected
        ));
    }

    fn subscription(id: &str, models: &[&str]) -> Subscription {
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        Subscription {
            id: id.into(),
            kind: Kind::Webhook,
            format: crate::vocabulary::Format::Native,
            url: Some("https://example.com/hook".into()),
            email: None,
            filter: Filter {
                models: models.iter().map(|m| m.to_string()).collect(),
                ..Filter::default()
            },
            status: crate::vocabulary::Status::Active,
            secret_enc: None,
            previous_secret_enc: None,
            previous_secret_until: None,
            created_at: at,
            confirmed_at: None,
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
        }
    }

    /// Events without a model of their own reach the subscribers of the models they name:
    /// an incident's affected models, a maintenance window's models.
    #[test]
    fn incidents_and_windows_reach_the_subscribers_of_their_models() {
        use crate::vocabulary::event::{IncidentChange, MaintenanceChange};
        use crate::vocabulary::{EventBody, IncidentStatus, Window, WindowStatus};
        let at = chrono::Utc::now();
        let window = Window {
            id: 1,
            title: "t".into(),
            body: String::new(),
            models: vec!["a/x".into()],
            starts_at: at,
            ends_at: at,
            status: WindowStatus::Scheduled,
        };
        let incident = IncidentChange::new(
            "a",
            1,
            "t",
            IncidentStatus::Investigating,
            "minor",
            vec!["a/x".into()],
            "",
        );
        let subs = [
            subscription("x", &["a/x"]),
            subscription("y", &["a/y"]),
            subscription("all", &[]),
        ];
        for body in [
            EventBody::MaintenanceScheduled(MaintenanceChange::of(&window)),
            EventBody::IncidentCreated(incident),
        ] {
            let event = Event::new(at, true, body);
            let outbox = OutboxEvent {
                outbox_id: 1,
                event_id: 1,
                kind: event.kind().into(),
                provider_id: Some("a".into()),
                model_key: None,
                public: true,
                payload_json: event.to_json(),
                occurred_at: at,
                covered: false,
            };
            let ids: Vec<&str> = recipients(&outbox, &subs)
                .iter()
                .map(|s| s.id.as_str())
                .collect();
            assert_eq!(ids, ["x", "all"], "{}", event.kind());
            let private = OutboxEvent {
                public: false,
                ..outbox
            };
            assert!(recipients(&private, &subs).is_empty());
        }
    }
}

/// Fan-out end to end over a real SQLite file: the rule above, run in the store's
/// transaction.
#[cfg(test)]
mod with_store {
    use chrono::Duration;

    use super::*;
    use crate::store::events::NewEvent;
    use crate::store::round::Round;
    use crate::store::subscriptions::NewSubscription;
    use crate::store::Store;
    use crate::vocabulary::event::{Decision, ModelChange};
    use crate::vocabulary::{EventBody, Format, ModelState, Status};
    use chrono::{DateTime, Utc};

    fn subscription(id: &str, kind: Kind, status: Status, at: DateTime<Utc>) -> NewSubscription {
        NewSubscription {
            id: id.into(),
            kind,
            format: Format::Native,
            url: (kind == Kind::Webhook).then(|| "https://example.com/hook".into()),
            email: (kind == Kind::Email).then(|| "me@example.com".into()),
            filter: Filter::default(),
            status,
            secret_enc: None,
            manage_token_hash: format!("manage-{id}"),
            confirm_token_hash: Some(format!("confirm-{id}")),
            client_addr: None,
            created_at: at,
        }
    }

    /// A `acme/m-1` model event of type `variant`.
    fn event(variant: fn(ModelChange) -> EventBody) -> NewEvent {
        NewEvent {
            provider_id: "acme".into(),
            model_key: Some("acme/m-1".into()),
            public: true,
            body: variant(ModelChange {
                model: "acme/m-1".into(),
                model_name: "M 1".into(),
                provider: "acme".into(),
                from: ModelState::Operational,
                to: ModelState::PartialOutage,
                decision: Decision::Disabled,
                enabled: false,
                fallback: None,
                reasons: vec!["error rate 60%".into()],
                manual_override: None,
                incident: None,
            }),
        }
    }

    async fn fan_out(store: &Store) -> usize {
        store.fan_out(Utc::now(), 100, recipients).await.unwrap()
    }

    async fn event_at(store: &Store, at: DateTime<Utc>) {
        let round = Round {
            at,
            events: vec![event(EventBody::ModelDisabled)],
            ..Round::default()
        };
        store.commit_round(&round).await.unwrap();
    }

    async fn queued_for(store: &Store, id: &str) -> usize {
        store.delivery_log(id, 100).await.unwrap().len()
    }

    /// Nothing that happened before an address was confirmed is ever sent to it, even when
    /// the outbox is worked through only after the click.
    #[tokio::test]
    async fn an_email_hears_only_what_happened_after_its_confirmation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.db")).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(10);
        store
            .insert_subscription(&subscription("sub_hook", Kind::Webhook, Status::Active, t0))
            .await
            .unwrap();
        store
            .insert_subscription(&subscription("sub_mail", Kind::Email, Status::Pending, t0))
            .await
            .unwrap();
        event_at(&store, t0 + Duration::minutes(1)).await;
        store
            .confirm_subscription("confirm-sub_mail", t0 + Duration::minutes(2))
            .await
            .unwrap()
            .unwrap();
        event_at(&store, t0 + Duration::minutes(3)).await;

        let active = store
            .subscriptions_with_status(Status::Active)
            .await
            .unwrap();
        assert_eq!(active.len(), 2);
        let fanned = fan_out(&store).await;
        assert_eq!(fanned, 2, "both outbox rows worked through");
        assert_eq!(
            queued_for(&store, "sub_hook").await,
            2,
            "the webhook hears both"
        );
        assert_eq!(
            queued_for(&store, "sub_mail").await,
            1,
            "the address hears only the event after its confirmation"
        );
    }

    /// People get one message per change; programs get every event.
    #[tokio::test]
    async fn a_state_change_with_a_disable_is_one_message_for_people() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.db")).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(10);
        let mut native = subscription("sub_native", Kind::Webhook, Status::Active, t0);
        native.format = Format::Native;
        let mut slack = subscription("sub_slack", Kind::Webhook, Status::Active, t0);
        slack.format = Format::Slack;
        let mut mail = subscription("sub_mail", Kind::Email, Status::Active, t0);
        mail.format = Format::Email;
        let mut asked = subscription("sub_asked", Kind::Webhook, Status::Active, t0);
        asked.format = Format::Discord;
        asked.filter.events = vec!["model.state_changed".into()];
        for s in [&native, &slack, &mail, &asked] {
            store.insert_subscription(s).await.unwrap();
        }
        // One round: the state change and the disable it caused; a later round: a state
        // change alone (partial to major outage, still disabled).
        for (at, kinds) in [
            (
                1,
                vec![
                    EventBody::ModelStateChanged as fn(_) -> _,
                    EventBody::ModelDisabled,
                ],
            ),
            (2, vec![EventBody::ModelStateChanged as fn(_) -> _]),
        ] {
            let round = Round {
                at: t0 + Duration::minutes(at),
                events: kinds.into_iter().map(event).collect(),
                ..Round::default()
            };
            store.commit_round(&round).await.unwrap();
        }
        fan_out(&store).await;
        assert_eq!(
            queued_for(&store, "sub_native").await,
            3,
            "programs: every event"
        );
        assert_eq!(
            queued_for(&store, "sub_slack").await,
            2,
            "disable + lone change"
        );
        assert_eq!(
            queued_for(&store, "sub_mail").await,
            2,
            "disable + lone change"
        );
        assert_eq!(
            queued_for(&store, "sub_asked").await,
            2,
            "both state changes"
        );
    }
}
