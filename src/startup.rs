//! Wiring: builds the [`Application`] from a configuration and runs it until shutdown.
//!
//! Order of shutdown matters for "nothing finished is lost": the scheduler stops starting
//! probes and finishes the ones in hand, then the result channel closes, then the writer
//! drains every result into SQLite, then the maintenance loop and the HTTP server stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::{self, engine::Engine};
use crate::metrics::Metrics;
use crate::notify::dispatcher::Dispatcher;
use crate::notify::email::Mailer;
use crate::notify::paging::Pager;
use crate::notify::secrets::SecretBox;
use crate::probe::{http_client, prober_for};
use crate::schedule;
use crate::store::writer::{spawn_maintenance, spawn_writer_notifying};
use crate::store::Store;
use crate::web::notify_state::NotifyState;
use crate::web::publisher::Publisher;
use crate::web::{renderers, router, AppState};

/// How often rollups and retention run.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// A built, not yet running service. Everything that can fail has been done: the database
/// is open and migrated, the address bound, the key that protects webhook secrets loaded,
/// the mail transport set up and the evaluator's state read. [`Application::run_until_stopped`]
/// only starts tasks, so a bad setting never leaves half a service running.
pub struct Application {
    listener: TcpListener,
    /// The bound address, read once here so that nothing after the tasks start can fail.
    local_addr: std::net::SocketAddr,
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    secrets: SecretBox,
    mailer: Mailer,
    engine: Engine,
}

impl Application {
    /// Opens the database (applying migrations), binds the configured address (a default
    /// public URL then names the bound one), loads the secret key and the mailer and reads
    /// the evaluator's state.
    pub async fn build(mut config: Config, clock: Clock) -> anyhow::Result<Application> {
        let store = Store::open(&config.server.database)
            .await
            .with_context(|| {
                format!("opening the database {}", config.server.database.display())
            })?;
        let key_file = config.server.database.with_file_name("modelwatch.key");
        let key_env = config
            .notify
            .secret_key_env
            .as_ref()
            .and_then(|name| std::env::var(name).ok());
        let secrets = SecretBox::load(key_env.as_deref(), &key_file)
            .context("loading the key that protects webhook secrets")?;
        let mailer = Mailer::from_config(&config.notify).context("setting up email")?;
        let engine = Engine::new(store.clone(), &config, clock.now())
            .await
            .context("loading the evaluator's state")?;
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("binding {}", config.server.listen))?;
        let local_addr = listener.local_addr().context("reading the bound address")?;
        config.server.bound_to(local_addr);
        Ok(Application {
            listener,
            local_addr,
            config: Arc::new(config),
            store,
            clock,
            secrets,
            mailer,
            engine,
        })
    }

    /// The bound port (tests listen on port 0 and ask).
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs probing, storage and the HTTP server until `shutdown` resolves, then stops in order.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            local_addr,
            config,
            store,
            clock,
            secrets,
            mailer,
            mut engine,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (results_tx, results_rx) = mpsc::channel(config.server.write_batch * 4);

        let announced = Arc::new(tokio::sync::Notify::new());
        engine.on_announce(Arc::clone(&announced));
        let requests = engine.probe_requests();
        let stored = Arc::new(tokio::sync::Notify::new());
        let writer = spawn_writer_notifying(
            store.clone(),
            results_rx,
            config.server.write_batch,
            Some(Arc::clone(&stored)),
        );
        let maintenance = spawn_maintenance(
            store.clone(),
            config.retention.clone(),
            clock,
            MAINTENANCE_EVERY,
            stop_rx.clone(),
        );
        let client = http_client();
        // With `agents.probe_locally = false` agents do all the probing.
        let mut planned = if config.agents.probe_locally {
            schedule::plan(&config, &clock, |p| prober_for(p.kind, &client, clock))
        } else {
            Vec::new()
        };
        schedule::attach(&mut planned, &requests);
        let scheduler_stats = Arc::new(crate::metrics::SchedulerStats::default());
        let metrics = Arc::new(Metrics::new(Arc::clone(&scheduler_stats), clock));
        let scheduler = schedule::spawn_observed(
            planned,
            clock,
            results_tx,
            stop_rx.clone(),
            scheduler_stats,
            Some(Arc::clone(&metrics)),
        );
        let routing = engine.subscribe();
        let mut publisher = Publisher::new(
            store.clone(),
            Arc::clone(&config),
            routing.clone(),
            clock,
            renderers(),
        );
        engine.on_public_change(publisher.trigger());
        let (intake, traffic) =
            crate::web::traffic::Intake::new(store.clone(), clock, Arc::clone(&metrics), &config);
        let agent_stored = Arc::clone(&stored);
        let evaluator =
            evaluate::engine::spawn(engine, clock, stored, Some(traffic), stop_rx.clone());
        // The demo's simulated application traffic, when configured.
        let simulated_traffic = config.traffic.simulate.as_ref().map(|_| {
            crate::probe::simulated_traffic::spawn(
                Arc::clone(&config),
                routing.clone(),
                clock,
                intake.queue(),
                stop_rx.clone(),
            )
        });
        info!(models = config.model_count(), listen = %local_addr, config = %config.path.display(), "modelwatch running");

        // The first site is published before the server answers, so no request sees an empty one.
        publisher.publish().await;
        let site = publisher.handle();
        let republish = publisher.trigger();
        let publishing = publisher.spawn(stop_rx.clone());
        let dispatcher = Dispatcher::new(
            store.clone(),
            &config.notify,
            secrets.clone(),
            mailer.clone(),
            &config.server.public_url,
            clock,
        )
        .with_metrics(Arc::clone(&metrics));
        let dispatching = dispatcher.spawn(Arc::clone(&announced), stop_rx.clone());
        // Providers' own pages: shown beside ours, never waited on.
        let official = crate::official::poller::spawn(
            Arc::clone(&config),
            store.clone(),
            clock,
            vec![Arc::clone(&republish), Arc::clone(&announced)],
            stop_rx.clone(),
        );
        let paging = Pager::new(
            store.clone(),
            &config.paging,
            &config.notify,
            &config.server.public_url,
        )
        .spawn(clock, stop_rx.clone());
        let notify = Arc::new(NotifyState::new(
            store.clone(),
            &config,
            secrets,
            mailer,
            clock,
        ));
        let app = router(AppState {
            config: Arc::clone(&config),
            store: store.clone(),
            routing,
            site,
            notify,
            metrics,
            republish,
            announced,
            intake,
            stored: agent_stored,
            clock,
        });
        let mut server_stop = stop_rx.clone();
        let limits = config.server.http;
        let server = tokio::spawn(crate::web::server::serve(
            listener,
            app,
            limits,
            async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            },
        ));

        shutdown.await;
        info!("shutting down: finishing probes in hand and writing their results");
        let _ = stop_tx.send(true);
        scheduler.join().await;
        writer.await.context("the result writer ended abnormally")?;
        if let Some(t) = simulated_traffic {
            t.await.context("the simulated traffic ended abnormally")?;
        }
        evaluator.await.context("the evaluator ended abnormally")?;
        publishing.await.context("the publisher ended abnormally")?;
        dispatching
            .await
            .context("the dispatcher ended abnormally")?;
        paging.await.context("the pager ended abnormally")?;
        official
            .await
            .context("the official status pollers ended abnormally")?;
        maintenance
            .await
            .context("the maintenance loop ended abnormally")?;
        server
            .await
            .context("the HTTP server task ended abnormally")?;
        info!("stopped cleanly");
        Ok(())
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
