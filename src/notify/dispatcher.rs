//! The dispatcher: delivers every public event to every matching subscriber, at least once.
//!
//! Each pass: fan pending outbox rows out into deliveries (one transaction), then attempt the
//! due deliveries. Attempts run concurrently up to `delivery_concurrency`, but at most one per
//! subscription at a time, so a receiver that hangs holds one slot for one timeout and never
//! delays the others. A failed attempt is retried with exponential backoff and jitter until
//! the retry period (at least 24 hours) is over; every attempt of a delivery carries the same
//! `webhook-id`. An endpoint failing every delivery for `disable_after` is disabled and its
//! owner told by email. Tests drive [`Dispatcher::run_once`] directly.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn, Instrument};

use super::email::{self, Links, Mailer};
use super::formats;
use super::secrets::SecretBox;
use super::signing::signature_header;
use super::ssrf::AddressGuard;
use super::webhook;
use crate::clock::Clock;
use crate::config::{NotifyConfig, Secret};
use crate::metrics::{DeliveryResult, Metrics};
use crate::store::deliveries::{AfterAttempt, AttemptRecord, DueDelivery};
use crate::store::subscriptions::Subscription;
use crate::store::{Store, StoreError};
use crate::vocabulary::{Event, Kind, Status};

/// First retry delay; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The delay before retry number `attempts` (1 = after the first failure), with ±20% jitter
/// so many deliveries failing together do not retry together.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(
        1u32.checked_shl(attempts.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX),
    );
    let base = exp.min(MAX_BACKOFF);
    base.mul_f64(1.0 + jitter.clamp(-0.2, 0.2))
}

/// What the dispatcher needs; cheap to clone into attempt tasks.
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    config: Arc<NotifyConfig>,
    guard: AddressGuard,
    secrets: SecretBox,
    mailer: Mailer,
    base_url: String,
    clock: Clock,
    limit: Arc<Semaphore>,
    /// Subscriptions with an attempt in flight (one at a time per endpoint).
    busy: Arc<Mutex<HashSet<String>>>,
    /// Counts attempts by result for `/metrics` (absent in tests that build a bare dispatcher).
    metrics: Option<Arc<Metrics>>,
}

/// An endpoint claimed by one delivery task: released when dropped, however the task ends
/// (a panic included), so an endpoint is never pinned as busy until restart.
struct BusyClaim {
    busy: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl BusyClaim {
    /// Claims `id`, or `None` when a task already holds it.
    fn take(busy: &Arc<Mutex<HashSet<String>>>, id: &str) -> Option<BusyClaim> {
        let claimed = busy
            .lock()
            .map(|mut b| b.insert(id.to_string()))
            .unwrap_or(false);
        claimed.then(|| BusyClaim {
            busy: Arc::clone(busy),
            id: id.to_string(),
        })
    }
}

impl Drop for BusyClaim {
    fn drop(&mut self) {
        // A poisoned lock still holds the set: release the claim all the same.
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.remove(&self.id);
    }
}

/// Counts of one pass, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub fanned_out: usize,
    pub attempted: usize,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        config: &NotifyConfig,
        secrets: SecretBox,
        mailer: Mailer,
        base_url: &str,
        clock: Clock,
    ) -> Dispatcher {
        Dispatcher {
            store,
            guard: AddressGuard::new(config.allow_internal_targets.clone()),
            limit: Arc::new(Semaphore::new(config.delivery_concurrency.max(1))),
            config: Arc::new(config.clone()),
            secrets,
            mailer,
            base_url: base_url.trim_end_matches('/').to_string(),
            clock,
            busy: Arc::new(Mutex::new(HashSet::new())),
            metrics: None,
        }
    }

    /// Records every delivery attempt's result in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Dispatcher {
        self.metrics = Some(metrics);
        self
    }

    /// One pass: fan out, then start attempts for due deliveries (returns once started; use
    /// [`Dispatcher::run_until_idle`] to also wait for them).
    pub async fn run_once(&self, attempts: &mut JoinSet<()>) -> Result<Pass, StoreError> {
        let now = self.clock.now();
        let mut pass = Pass::default();
        loop {
            let n = self
                .store
                .fan_out(now, 500, super::fan_out::recipients)
                .await?;
            pass.fanned_out += n;
            if n < 500 {
                break;
            }
        }
        // Read after the fan-out, so every subscription it queued for is known here.
        let active = self.store.subscriptions_with_status(Status::Active).await?;
        let due = self.store.due_deliveries(now, 1000).await?;
        // One task per endpoint works through that endpoint's due deliveries in order: a
        // burst reaches a healthy receiver at its own pace, and a hanging receiver only ever
        // holds its own task (and one concurrency permit at a time).
        // Grouped by subscription id in the order each first falls due; deliveries of a
        // subscription no longer active are left alone.
        let active: HashMap<&str, &Subscription> =
            active.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut order: Vec<&Subscription> = Vec::new();
        let mut per_subscription: HashMap<&str, Vec<DueDelivery>> = HashMap::new();
        for delivery in due {
            let Some(sub) = active.get(delivery.subscription_id.as_str()).copied() else {
                continue;
            };
            let list = per_subscription.entry(sub.id.as_str()).or_default();
            if list.is_empty() {
                order.push(sub);
            }
            list.push(delivery);
        }
        for sub in order {
            let deliveries = per_subscription.remove(sub.id.as_str()).unwrap_or_default();
            let sub = sub.clone();
            let Some(claim) = BusyClaim::take(&self.busy, &sub.id) else {
                continue;
            };
            pass.attempted += deliveries.len();
            let this = self.clone();
            let span = tracing::info_span!("deliveries", subscription = %sub.id);
            attempts.spawn(
                async move {
                    for delivery in deliveries {
                        let permit = this.limit.clone().acquire_owned().await;
                        let failed = match this.attempt(&sub, &delivery).await {
                            Ok(ok) => !ok,
                            Err(e) => {
                                warn!(error = %e, message_id = %delivery.message_id, "recording a delivery attempt failed; it will be retried");
                                true
                            }
                        };
                        drop(permit);
                        // After a failure the endpoint waits for its backoff; the rest of its
                        // queue is tried on a later pass, so a dead receiver is not hammered.
                        if failed {
                            break;
                        }
                    }
                    // Released here, or while unwinding if an attempt panicked.
                    drop(claim);
                }
                .instrument(span),
            );
        }
        Ok(pass)
    }

    /// Runs passes until nothing is due and every attempt has finished (tests).
    pub async fn run_until_idle(&self) -> Result<Pass, StoreError> {
        let mut total = Pass::default();
        loop {
            let mut attempts = JoinSet::new();
            let pass = self.run_once(&mut attempts).await?;
            while attempts.join_next().await.is_some() {}
            total.fanned_out += pass.fanned_out;
            total.attempted += pass.attempted;
            if pass.fanned_out == 0 && pass.attempted == 0 {
                return Ok(total);
            }
        }
    }

    /// One attempt of one delivery, recorded. `Ok(true)` when it was delivered.
    async fn attempt(
        &self,
        sub: &Subscription,
        delivery: &DueDelivery,
    ) -> Result<bool, StoreError> {
        let event = match Event::parse(&delivery.payload_json) {
            Ok(event) => event,
            Err(e) => return self.give_up_unreadable(delivery, &e).await,
        };
        let record = match sub.kind {
            Kind::Webhook => self.attempt_webhook(sub, delivery, &event).await,
            Kind::Email => self.attempt_email(sub, &event).await,
        };
        let now = self.clock.now();
        let ok = record.error.is_none();
        let retry_until = delivery.created_at
            + chrono::Duration::from_std(self.config.retry_for).unwrap_or_default();
        let after = if ok {
            AfterAttempt::Succeeded
        } else {
            let jitter = rand::thread_rng().gen_range(-0.2..=0.2);
            let next = now
                + chrono::Duration::from_std(backoff(delivery.attempts + 1, jitter))
                    .unwrap_or_default();
            if next > retry_until {
                AfterAttempt::Dead
            } else {
                AfterAttempt::RetryAt(next)
            }
        };
        let endpoint = (sub.kind == Kind::Webhook).then_some(sub.id.as_str());
        let failing_since = self
            .store
            .record_attempt(delivery.id, &record, after, endpoint, now)
            .await?;
        if let Some(metrics) = &self.metrics {
            metrics.delivery(match after {
                AfterAttempt::Succeeded => DeliveryResult::Succeeded,
                AfterAttempt::RetryAt(_) => DeliveryResult::Failed,
                AfterAttempt::Dead => DeliveryResult::Dead,
            });
        }
        if !ok {
            info!(
                attempt = delivery.attempts + 1,
                error = record.error.as_deref().unwrap_or(""),
                ?after,
                "delivery attempt failed"
            );
        }
        if let Some(since) = failing_since {
            if now - since
                >= chrono::Duration::from_std(self.config.disable_after).unwrap_or_default()
            {
                self.disable(sub, since, now).await?;
            }
        }
        Ok(ok)
    }

    /// A stored event that cannot be read will never be deliverable: the delivery is dead at
    /// once, with the reason, instead of sending `null` or retrying for a day. It is our
    /// fault, not the endpoint's, so it counts nothing against the endpoint's health and the
    /// endpoint's queue goes on (`Ok(true)`).
    async fn give_up_unreadable(
        &self,
        delivery: &DueDelivery,
        error: &serde_json::Error,
    ) -> Result<bool, StoreError> {
        let record = AttemptRecord {
            status_code: None,
            duration_ms: 0,
            error: Some(format!(
                "the stored event {} cannot be read ({error}); it will not be sent",
                delivery.event_id
            )),
        };
        warn!(message_id = %delivery.message_id, event = delivery.event_id, %error, "a stored event payload cannot be read; its delivery is given up");
        self.store
            .record_attempt(
                delivery.id,
                &record,
                AfterAttempt::Dead,
                None,
                self.clock.now(),
            )
            .await?;
        if let Some(metrics) = &self.metrics {
            metrics.delivery(DeliveryResult::Dead);
        }
        Ok(true)
    }

    async fn attempt_webhook(
        &self,
        sub: &Subscription,
        delivery: &DueDelivery,
        event: &Event,
    ) -> AttemptRecord {
        let failed = |error: String| AttemptRecord {
            status_code: None,
            duration_ms: 0,
            error: Some(error),
        };
        let Some(url) = &sub.url else {
            return failed("the subscription has no URL".into());
        };
        let secrets = match self.signing_secrets(sub) {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        let routing_key = secrets.first();
        let Some(payload) = formats::build(sub.format, event, &self.base_url, routing_key) else {
            // The format does not carry this event type: nothing to send is a success.
            return AttemptRecord {
                status_code: None,
                duration_ms: 0,
                error: None,
            };
        };
        let timestamp = self.clock.now().timestamp();
        let mut headers = vec![
            ("webhook-id".to_string(), delivery.message_id.clone()),
            ("webhook-timestamp".to_string(), timestamp.to_string()),
        ];
        if sub.format == crate::vocabulary::Format::Native {
            let refs: Vec<&Secret> = secrets.iter().collect();
            match signature_header(&refs, &delivery.message_id, timestamp, &payload.body) {
                Ok(sig) => headers.push(("webhook-signature".to_string(), sig)),
                Err(e) => return failed(e.to_string()),
            }
        }
        let attempt = webhook::post(
            &self.guard,
            url,
            &headers,
            payload.content_type,
            &payload.body,
            self.config.attempt_timeout,
        )
        .await;
        AttemptRecord {
            status_code: attempt.status_code,
            duration_ms: attempt.duration_ms,
            error: attempt.error,
        }
    }

    /// The current secret, plus the previous one while its rotation grace lasts.
    fn signing_secrets(&self, sub: &Subscription) -> Result<Vec<Secret>, String> {
        let mut secrets = Vec::new();
        if let Some(enc) = &sub.secret_enc {
            secrets.push(self.secrets.open(enc).map_err(|e| e.to_string())?);
        }
        if let (Some(enc), Some(until)) = (&sub.previous_secret_enc, sub.previous_secret_until) {
            if until > self.clock.now() {
                secrets.push(self.secrets.open(enc).map_err(|e| e.to_string())?);
            }
        }
        Ok(secrets)
    }

    async fn attempt_email(&self, sub: &Subscription, event: &Event) -> AttemptRecord {
        let started = std::time::Instant::now();
        let Some(to) = &sub.email else {
            return AttemptRecord {
                status_code: None,
                duration_ms: 0,
                error: Some("the subscription has no address".into()),
            };
        };
        let result =
            match email::notification(&self.config.email_from, to, event, &self.links_for(sub)) {
                Ok(message) => self.mailer.send(message).await,
                Err(e) => Err(e),
            };
        AttemptRecord {
            status_code: None,
            duration_ms: started.elapsed().as_millis().min(u32::MAX as u128) as u32,
            error: result.err().map(|e| e.to_string()),
        }
    }

    /// Links for messages to `sub`, signed so they work without any stored token.
    pub fn links_for(&self, sub: &Subscription) -> Links {
        links(&self.base_url, &self.secrets, &sub.id)
    }

    async fn disable(
        &self,
        sub: &Subscription,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let hours = (now - since).num_hours();
        let reason = format!("every delivery failed for {hours} hours");
        warn!(subscription = %sub.id, %reason, "disabling a failing webhook endpoint");
        self.store
            .set_subscription_status(&sub.id, Status::Disabled, Some(&reason), now)
            .await?;
        if let (Some(owner), Some(url)) = (&sub.email, &sub.url) {
            let sent = match email::endpoint_disabled(
                &self.config.email_from,
                owner,
                url,
                &reason,
                &self.links_for(sub),
            ) {
                Ok(message) => self.mailer.send(message).await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                warn!(subscription = %sub.id, error = %e, "could not tell the owner that the endpoint was disabled");
            }
        }
        Ok(())
    }

    /// Runs passes every second, and at once when `wake` is notified (new events), until
    /// shutdown; attempts in flight finish.
    pub fn spawn(
        self,
        wake: Arc<tokio::sync::Notify>,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut attempts = JoinSet::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = wake.notified() => {}
                    _ = shutdown.changed() => break,
                }
                while attempts.try_join_next().is_some() {}
                if let Err(e) = self.run_once(&mut attempts).await {
                    warn!(error = %e, "a dispatch pass failed; retrying next second");
                }
            }
            // Attempts in hand finish (each bounded by the attempt timeout) and are recorded.
            while attempts.join_next().await.is_some() {}
        })
    }
}

/// The manage and unsubscribe links of subscription `id` (HMAC-signed).
pub fn links(base_url: &str, secrets: &SecretBox, id: &str) -> Links {
    Links {
        confirm: None,
        manage: format!(
            "{base_url}/subscriptions/{id}/manage?token={}",
            secrets.link_token("manage", id)
        ),
        unsubscribe: format!(
            "{base_url}/subscriptions/{id}/unsubscribe?token={}",
            secrets.link_token("unsubscribe", id)
        ),
        page: base_url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_covers_a_day() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(30, 0.0), MAX_BACKOFF);
        assert!(backoff(3, 0.2) > backoff(3, 0.0) && backoff(3, -0.2) < backoff(3, 0.0));
        let total: Duration = (1..=35).map(|n| backoff(n, 0.0)).sum();
        assert!(
            total >= Duration::from_secs(24 * 3600),
            "35 attempts span {total:?}"
        );
    }

    #[test]
    fn an_endpoint_claim_is_released_even_when_its_task_panics() {
        let busy = Arc::new(Mutex::new(HashSet::new()));
        let claim = BusyClaim::take(&busy, "sub_a").expect("free");
        assert!(BusyClaim::take(&busy, "sub_a").is_none(), "held once");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = claim;
            panic!("an attempt panicked");
        }));
        assert!(panicked.is_err());
        assert!(
            BusyClaim::take(&busy, "sub_a").is_some(),
            "the endpoint is free again after the panic"
        );
    }
}
