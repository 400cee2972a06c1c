//! [`NotifyState`]: what the public subscription handlers (the JSON API in
//! [`super::subscriptions`] and the forms in [`super::subscribe_pages`]) share, built once at
//! start-up. The admin handlers reach the same state through [`super::AppState::notify`].

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;

use crate::clock::Clock;
use crate::config::{Config, NotifyConfig};
use crate::notify::email::Mailer;
use crate::notify::secrets::SecretBox;
use crate::notify::ssrf::AddressGuard;
use crate::store::Store;
use crate::web::http::RateLimiter;

/// What the subscription handlers share.
pub struct NotifyState {
    /// Subscriptions and their delivery logs.
    pub store: Store,
    /// Seals webhook secrets at rest and signs the tokened links sent by email.
    pub secrets: SecretBox,
    /// Sends confirmation emails.
    pub mailer: Mailer,
    /// Refuses webhook URLs that resolve inside our own network.
    pub guard: AddressGuard,
    /// The `[notify]` configuration (sender address, limits).
    pub config: NotifyConfig,
    /// The service's public URL, for links in emails.
    pub base_url: String,
    /// Configured `provider/model` ids and provider ids, for validating filters.
    pub models: HashSet<String>,
    pub providers: HashSet<String>,
    /// Subscription requests per client address per hour.
    pub limiter: RateLimiter,
    /// The service's clock (see [`crate::web::AppState::clock`]).
    pub clock: Clock,
}

impl NotifyState {
    /// Now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    pub fn new(
        store: Store,
        config: &Config,
        secrets: SecretBox,
        mailer: Mailer,
        clock: Clock,
    ) -> NotifyState {
        NotifyState {
            clock,
            store,
            secrets,
            mailer,
            guard: AddressGuard::new(config.notify.allow_internal_targets.clone()),
            limiter: RateLimiter::new(config.notify.subscribe_per_hour, Duration::from_secs(3600)),
            config: config.notify.clone(),
            base_url: config.server.public_url.clone(),
            models: config
                .models()
                .map(|(p, m)| format!("{}/{}", p.id, m.id))
                .collect(),
            providers: config.providers.iter().map(|p| p.id.clone()).collect(),
        }
    }
}
