//! The HTTP surface. One route table in [`router`]; handlers read shared [`AppState`].
//!
//! Public bodies (pages, `/api/v2`, `/api/v1`, feeds, badges) are rendered once per snapshot
//! by the renderers listed in [`renderers`] (each model's own page and API bodies by
//! [`model_renderers`], on first request) and served from the [`site::Site`] by the
//! fallback handler; only a few live endpoints are handled directly.
//!
//! - [`snapshot`]: what the public sees, read from the store in one go; [`figure_cache`]:
//!   the figures it keeps between rebuilds, read incrementally;
//! - [`publisher`]: rebuilds and swaps the site; [`site`]: bodies, compression, ETags;
//!   [`model_bodies`]: a model's own bodies, rendered when first asked for;
//! - renderers: [`pages`] (HTML), [`statuspage`] (`/api/v2`), [`api_v1`], [`feeds`], [`badges`];
//! - live handlers: [`subscriptions`] (the subscription API) and [`subscribe_pages`], which
//!   share [`notify_state`]; the admin pages and API in [`admin`];
//! - [`http`]: what public and admin handlers share (the JSON error, rejections, rate
//!   limits, credentials), so that neither imports the other.

pub mod admin;
pub mod agents;
pub mod api_v1;
pub mod badges;
pub mod client_ip;
pub mod feeds;
pub mod figure_cache;
pub mod front_door;
pub mod heap;
pub mod http;
pub mod metrics;
pub mod model_bodies;
pub mod notify_state;
pub mod pages;
pub mod publisher;
pub mod server;
pub mod site;
pub mod snapshot;
#[cfg(test)]
mod snapshot_tests;
pub mod statuspage;
pub mod subscribe_pages;
pub mod subscriptions;
pub mod traffic;
pub mod uptime;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::engine::RoutingTable;
use crate::metrics::Metrics;
use crate::store::Store;
use site::{Renderer, SiteHandle};

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration the service runs on.
    pub config: Arc<Config>,
    /// The database, for handlers that read history.
    pub store: Store,
    /// The routing table, replaced by the evaluator after every committed change.
    pub routing: watch::Receiver<Arc<RoutingTable>>,
    /// The rendered public site, replaced by the publisher.
    pub site: SiteHandle,
    /// Subscriptions: store, secrets, mailer, address guard, rate limiter.
    pub notify: Arc<notify_state::NotifyState>,
    /// Operational metrics (`/metrics`) and the scheduler figures `/readyz` checks.
    pub metrics: Arc<Metrics>,
    /// Rebuilds the public site at once (after an SRE changes an incident).
    pub republish: Arc<tokio::sync::Notify>,
    /// Wakes the dispatcher after events were written outside the evaluator.
    pub announced: Arc<tokio::sync::Notify>,
    /// Where the application's own traffic comes in (observations API, OTLP).
    pub intake: Arc<traffic::Intake>,
    /// Wakes the evaluator after agents' results are stored.
    pub stored: Arc<tokio::sync::Notify>,
    /// The one clock every layer reads: handlers stamp what they write with the same time
    /// the evaluator and dispatcher see, and tests move it.
    pub clock: Clock,
}

impl AppState {
    /// Now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// Every renderer of the public site.
pub fn renderers() -> Vec<Renderer> {
    vec![
        pages::render,
        statuspage::render,
        api_v1::render,
        feeds::render,
        badges::render,
    ]
}

/// Every renderer of a model's own bodies, rendered when first asked for
/// ([`model_bodies`]).
pub fn model_renderers() -> Vec<model_bodies::ModelRenderer> {
    vec![pages::render_model, api_v1::render_model]
}

/// The paths [`model_renderers`] serve a model's bodies at (without their `period` query).
pub fn model_paths(m: &snapshot::ModelView) -> Vec<String> {
    let api = api_v1::model_path(m);
    vec![
        pages::model_href(&m.provider_id, &m.model_id),
        format!("{api}/history"),
        api,
    ]
}

/// The route table.
///
/// Everything under `/api/v1` is one router mounted as a service behind
/// [`http::rejections::json_errors`], so that every refusal there, including the ones axum
/// answers by itself (a method a route does not have), is the documented JSON error.
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn;
    use axum::routing::{any, any_service, post};
    let site = state.site.clone();
    let site_origin = http::origin::SiteOrigin::from_public_url(&state.config.server.public_url);
    // Only the routes that key on the client's address pay for resolving it; the public
    // site (the hot path under outage traffic) does not.
    let trusted: Arc<[ipnet::IpNet]> = state.config.server.trusted_proxies.clone().into();
    let resolve_client = axum::middleware::from_fn_with_state(trusted, client_ip::resolve);
    let admin = admin::routes(state.clone());
    let subscription_api = Router::new()
        .route("/api/v1/subscriptions", post(subscriptions::create))
        .route(
            "/api/v1/subscriptions/{id}",
            get(subscriptions::show).delete(subscriptions::delete),
        )
        .route(
            "/api/v1/subscriptions/{id}/rotate-secret",
            post(subscriptions::rotate),
        )
        .route(
            "/api/v1/subscriptions/{id}/deliveries",
            get(subscriptions::deliveries),
        )
        .route(
            "/api/v1/subscriptions/{id}/deliveries/{delivery}/redeliver",
            post(subscriptions::redeliver),
        )
        .with_state(Arc::clone(&state.notify))
        .layer(resolve_client.clone())
        .layer(from_fn(subscriptions::private_responses))
        // Subscribing needs no credentials: an oversized body is refused before anything.
        .layer(from_fn(http::rejections::body_limit));
    let subscription_pages = Router::new()
        .route("/subscriptions/new", post(subscribe_pages::form))
        .route(
            "/subscriptions/confirm",
            get(subscribe_pages::confirm_page).post(subscribe_pages::confirm),
        )
        .route(
            "/subscriptions/{id}/unsubscribe",
            get(subscribe_pages::unsubscribe_page).post(subscribe_pages::unsubscribe),
        )
        .route(
            "/subscriptions/{id}/manage",
            get(subscribe_pages::manage_page).post(subscribe_pages::manage),
        )
        .with_state(Arc::clone(&state.notify))
        .layer(resolve_client.clone())
        .layer(from_fn(subscriptions::private_responses));
    let (observations, otlp) = traffic::routes(Arc::clone(&state.intake));
    let agent_results = agents::routes(
        &state.config,
        state.store.clone(),
        state.clock,
        Arc::clone(&state.stored),
    );
    let api = Router::new()
        .route("/api/v1/routing", get(routing))
        .with_state(state.clone())
        .merge(observations)
        .merge(agent_results)
        .merge(subscription_api)
        .merge(admin.api.layer(resolve_client.clone()))
        // The read API's bodies are rendered per snapshot and served by the site.
        .fallback_service(any(site::serve).with_state(site.clone()));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
        .merge(subscription_pages)
        .merge(otlp)
        .merge(admin.pages.layer(resolve_client))
        .nest_service(
            "/api/v1",
            any_service(api).layer(from_fn(http::rejections::json_errors)),
        )
        .fallback_service(any(site::serve).with_state(site))
        .layer(http::security::GuardLayer::new(site_origin))
}

/// Liveness: the process is up and answering.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The routing table: per model its state, whether it is enabled, and what to use instead.
/// Served live from the evaluator's table so clients see a change the moment it commits.
/// `?region=` answers as that region's vantages see each model (see [`crate::evaluate::quorum`]).
async fn routing(
    State(state): State<AppState>,
    Query(query): Query<RoutingQuery>,
) -> Result<axum::response::Response, http::ApiError> {
    let table = state.routing.borrow().clone();
    let table = match query.region.as_deref() {
        None => table,
        Some(region) if !crate::config::agents::valid_name(region) => {
            return Err(http::ApiError::status(
                axum::http::StatusCode::BAD_REQUEST,
                format!("`region` = {region:?} must be 1 to 63 of a-z, 0-9, '.', '_', '-'"),
            ));
        }
        // Agents' vantages are judged in the leader's memory only: a standby has no region's
        // table, and answering with the table for everyone would route a region's clients to
        // a model that fails from there. Like the traffic endpoints, it asks to be retried.
        Some(_) if state.metrics.scheduler().standby.load(Ordering::Relaxed) => {
            return Ok(http::retry_later(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                1,
                "this replica is a standby and per-region tables are the leader's: ask the leader (the reference proxy configuration retries the next replica), or ask without `region` for the table for everyone",
            )
            .into_response());
        }
        Some(region) => match table.regions.get(region) {
            Some(regional) => Arc::clone(regional),
            None => {
                let known: Vec<&str> = table.regions.keys().map(String::as_str).collect();
                return Err(http::ApiError::status(
                    axum::http::StatusCode::NOT_FOUND,
                    if known.is_empty() {
                        format!("no region `{region}`: no agent reports from any region")
                    } else {
                        format!(
                            "no region `{region}`; regions probed from: {}",
                            known.join(", ")
                        )
                    },
                ));
            }
        },
    };
    let body = serde_json::to_vec(&*table).unwrap_or_else(|_| b"{}".to_vec());
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/routing` query.
#[derive(Debug, serde::Deserialize)]
struct RoutingQuery {
    region: Option<String>,
}
