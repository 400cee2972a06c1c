//! Wiring: builds the [`Application`] from a configuration and runs it until shutdown.
//!
//! Every process serves; the one that leads also runs the `Duties` (scheduler, writer,
//! evaluator, dispatcher, pager, official pollers, maintenance): at once on SQLite, and on
//! PostgreSQL while it holds the leader lock (see [`crate::replica`]).
//!
//! Order of shutdown matters for "nothing finished is lost": the scheduler stops starting
//! probes and finishes the ones in hand, then the result channel closes, then the writer
//! drains every result into the database, then the other duties, the publisher and the
//! HTTP server stop; a leader releases its lock last.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{error, info};

use crate::clock::Clock;
use crate::config::{Config, Database};
use crate::evaluate::engine::routing::RoutingTable;
use crate::evaluate::{self, engine::Engine};
use crate::metrics::Metrics;
use crate::notify::dispatcher::Dispatcher;
use crate::notify::email::Mailer;
use crate::notify::paging::Pager;
use crate::notify::secrets::SecretBox;
use crate::probe::{http_client, prober_for};
use crate::replica::{mirror, Lease};
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
    /// The evaluator, read at build on SQLite (this process leads); on PostgreSQL it is read
    /// when this replica becomes the leader, from what the previous leader left.
    engine: Option<Engine>,
    /// On PostgreSQL, the leader lock when it was free at build (the first replica, or the
    /// only one, leads from its first request on); `None`: a standby, or SQLite.
    lease: Option<Lease>,
}

impl Application {
    /// Opens the database (applying migrations), binds the configured address (a default
    /// public URL then names the bound one), loads the secret key and the mailer and reads
    /// the evaluator's state.
    pub async fn build(mut config: Config, clock: Clock) -> anyhow::Result<Application> {
        let store = Store::open_database(&config.server.database)
            .await
            .with_context(|| format!("opening the database {}", config.server.database))?;
        let key_env = config
            .notify
            .secret_key_env
            .as_ref()
            .and_then(|name| std::env::var(name).ok());
        let secrets = match (key_env.as_deref(), config.server.database.key_file()) {
            (Some(key), _) => SecretBox::load(Some(key), Path::new("")),
            (None, Some(key_file)) => SecretBox::load(None, &key_file),
            (None, None) => anyhow::bail!(
                "with a PostgreSQL database, [notify] secret_key_env must name an environment variable holding the key that protects webhook secrets (32 bytes, base64; e.g. `openssl rand -base64 32`): every replica must use the same key"
            ),
        }
        .context("loading the key that protects webhook secrets")?;
        let mailer = Mailer::from_config(&config.notify).context("setting up email")?;
        let lease = match &config.server.database {
            Database::Sqlite(_) => None,
            Database::Postgres { url, shown } => Lease::try_acquire(url.expose(), shown)
                .await
                .context("asking for the leader lock")?,
        };
        let leads = matches!(config.server.database, Database::Sqlite(_)) || lease.is_some();
        let engine = if leads {
            Some(
                Engine::new(store.clone(), &config, clock.now())
                    .await
                    .context("loading the evaluator's state")?,
            )
        } else {
            None
        };
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
            lease,
        })
    }

    /// The bound port (tests listen on port 0 and ask).
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs probing, storage and the HTTP server until `shutdown` resolves, then stops in
    /// order. On PostgreSQL this replica serves at once and leads only once it holds the
    /// leader lock (see [`crate::replica`]); losing that lock stops it with an error.
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
            engine,
            lease,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let announced = Arc::new(tokio::sync::Notify::new());
        let stored = Arc::new(tokio::sync::Notify::new());
        let scheduler_stats = Arc::new(crate::metrics::SchedulerStats::default());
        let metrics = Arc::new(Metrics::new(Arc::clone(&scheduler_stats), clock));

        // One routing table for every handler and the publisher: the evaluator's on the
        // leader, the database's on a standby.
        let initial = match &engine {
            Some(engine) => engine.subscribe().borrow().clone(),
            None => {
                scheduler_stats.standby.store(true, Ordering::Relaxed);
                Arc::new(
                    mirror::read_table(&store, &config, clock.now())
                        .await
                        .context("reading the routing table")?,
                )
            }
        };
        let (routing_tx, routing) = watch::channel(initial);
        let mut publisher = Publisher::new(
            store.clone(),
            Arc::clone(&config),
            routing.clone(),
            clock,
            renderers(),
        );
        let (intake, traffic) =
            crate::web::traffic::Intake::new(store.clone(), clock, Arc::clone(&metrics), &config);
        let duties = Duties {
            config: Arc::clone(&config),
            store: store.clone(),
            clock,
            secrets: secrets.clone(),
            mailer: mailer.clone(),
            metrics: Arc::clone(&metrics),
            scheduler_stats: Arc::clone(&scheduler_stats),
            announced: Arc::clone(&announced),
            stored: Arc::clone(&stored),
            republish: publisher.trigger(),
            routing: routing_tx.clone(),
            traffic_queue: intake.queue(),
            traffic,
        };
        let leading = match (engine, lease) {
            // SQLite: this process leads.
            (Some(engine), None) => {
                let duties = duties.start(engine, stop_rx.clone());
                tokio::spawn(async move { duties.join().await })
            }
            // PostgreSQL, the lock taken at build.
            (Some(engine), Some(lease)) => {
                tokio::spawn(lead(duties, engine, lease, stop_rx.clone()))
            }
            // PostgreSQL, another replica leads.
            (None, _) => tokio::spawn(replicate(duties, stop_rx.clone())),
        };
        info!(models = config.model_count(), listen = %local_addr, config = %config.path.display(), "modelwatch running");

        // The first site is published before the server answers, so no request sees an empty one.
        publisher.publish().await;
        let site = publisher.handle();
        let republish = publisher.trigger();
        let publishing = publisher.spawn(stop_rx.clone());
        let notify = Arc::new(NotifyState::new(
            store.clone(),
            &config,
            secrets,
            mailer,
            clock,
        ));
        let front_door: crate::web::server::FrontDoor = {
            let site = site.clone();
            Arc::new(move |request| crate::web::front_door::answer(&site, request))
        };
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
            stored,
            clock,
        });
        let mut server_stop = stop_rx.clone();
        let limits = config.server.http;
        let server = tokio::spawn(crate::web::server::serve(
            listener,
            app,
            Some(front_door),
            limits,
            async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            },
        ));

        // The leading task ends early only when this replica cannot lead any more.
        let mut leading = leading;
        let lost = tokio::select! {
            _ = shutdown => {
                info!("shutting down: finishing probes in hand and writing their results");
                None
            }
            ended = &mut leading => Some(ended),
        };
        let _ = stop_tx.send(true);
        let led = match lost {
            None => leading.await.context("the leading task ended abnormally")?,
            Some(ended) => ended.context("the leading task ended abnormally")?,
        };
        publishing.await.context("the publisher ended abnormally")?;
        server
            .await
            .context("the HTTP server task ended abnormally")?;
        led?;
        info!("stopped cleanly");
        Ok(())
    }
}

/// What the leader runs, and what it needs to: everything but serving.
struct Duties {
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    secrets: SecretBox,
    mailer: Mailer,
    metrics: Arc<Metrics>,
    scheduler_stats: Arc<crate::metrics::SchedulerStats>,
    announced: Arc<tokio::sync::Notify>,
    stored: Arc<tokio::sync::Notify>,
    republish: Arc<tokio::sync::Notify>,
    routing: watch::Sender<Arc<RoutingTable>>,
    traffic_queue: mpsc::Sender<Vec<crate::vocabulary::Observation>>,
    traffic: mpsc::Receiver<Vec<crate::vocabulary::Observation>>,
}

/// The leader's running tasks, joined in the order that loses nothing finished.
struct Running {
    scheduler: schedule::SchedulerHandle,
    writer: tokio::task::JoinHandle<()>,
    simulated_traffic: Option<tokio::task::JoinHandle<()>>,
    evaluator: tokio::task::JoinHandle<()>,
    forwarding: tokio::task::JoinHandle<()>,
    dispatching: tokio::task::JoinHandle<()>,
    paging: tokio::task::JoinHandle<()>,
    official: tokio::task::JoinHandle<()>,
    maintenance: tokio::task::JoinHandle<()>,
}

impl Duties {
    /// Starts the scheduler, writer, evaluator, dispatcher, pager, official pollers and
    /// maintenance; they stop when `stop` turns true.
    fn start(self, mut engine: Engine, stop: watch::Receiver<bool>) -> Running {
        let Duties {
            config,
            store,
            clock,
            secrets,
            mailer,
            metrics,
            scheduler_stats,
            announced,
            stored,
            republish,
            routing,
            traffic_queue,
            traffic,
        } = self;
        scheduler_stats.standby.store(false, Ordering::Relaxed);
        let (results_tx, results_rx) = mpsc::channel(config.server.write_batch * 4);
        engine.on_announce(Arc::clone(&announced));
        engine.on_public_change(Arc::clone(&republish));
        let requests = engine.probe_requests();
        let forwarding = forward(engine.subscribe(), routing.clone(), stop.clone());
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
            stop.clone(),
        );
        let client = http_client();
        // With `agents.probe_locally = false` agents do all the probing.
        let mut planned = if config.agents.probe_locally {
            schedule::plan(&config, &clock, |p| prober_for(p.kind, &client, clock))
        } else {
            Vec::new()
        };
        schedule::attach(&mut planned, &requests);
        let scheduler = schedule::spawn_observed(
            planned,
            clock,
            results_tx,
            stop.clone(),
            scheduler_stats,
            Some(Arc::clone(&metrics)),
        );
        let evaluator = evaluate::engine::spawn(engine, clock, stored, Some(traffic), stop.clone());
        // The demo's simulated application traffic, when configured.
        let simulated_traffic = config.traffic.simulate.as_ref().map(|_| {
            crate::probe::simulated_traffic::spawn(
                Arc::clone(&config),
                routing.subscribe(),
                clock,
                traffic_queue,
                stop.clone(),
            )
        });
        let dispatcher = Dispatcher::new(
            store.clone(),
            &config.notify,
            secrets,
            mailer,
            &config.server.public_url,
            clock,
        )
        .with_metrics(metrics);
        let dispatching = dispatcher.spawn(Arc::clone(&announced), stop.clone());
        // Providers' own pages: shown beside ours, never waited on.
        let official = crate::official::poller::spawn(
            Arc::clone(&config),
            store.clone(),
            clock,
            vec![republish, Arc::clone(&announced)],
            stop.clone(),
        );
        let paging = Pager::new(
            store,
            &config.paging,
            &config.notify,
            &config.server.public_url,
        )
        .spawn(clock, stop);
        Running {
            scheduler,
            writer,
            simulated_traffic,
            evaluator,
            forwarding,
            dispatching,
            paging,
            official,
            maintenance,
        }
    }
}

impl Running {
    /// Waits for every task once `stop` turned true: the scheduler finishes the probes in
    /// hand, the writer drains their results, then the rest.
    async fn join(self) -> anyhow::Result<()> {
        self.scheduler.join().await;
        self.writer
            .await
            .context("the result writer ended abnormally")?;
        if let Some(t) = self.simulated_traffic {
            t.await.context("the simulated traffic ended abnormally")?;
        }
        self.evaluator
            .await
            .context("the evaluator ended abnormally")?;
        self.forwarding
            .await
            .context("the routing forwarder ended abnormally")?;
        self.dispatching
            .await
            .context("the dispatcher ended abnormally")?;
        self.paging.await.context("the pager ended abnormally")?;
        self.official
            .await
            .context("the official status pollers ended abnormally")?;
        self.maintenance
            .await
            .context("the maintenance loop ended abnormally")?;
        Ok(())
    }
}

/// Copies every table the evaluator publishes into the one the service serves.
fn forward(
    mut from: watch::Receiver<Arc<RoutingTable>>,
    to: watch::Sender<Arc<RoutingTable>>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            to.send_replace(from.borrow_and_update().clone());
            tokio::select! {
                changed = from.changed() => if changed.is_err() { return },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}

/// A replica on PostgreSQL: a standby (following the database) until it holds the leader
/// lock, then the leader until `stop`, or until the lock is lost (an error: the process
/// must stop leading at once).
async fn replicate(duties: Duties, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let Database::Postgres { url, shown } = &duties.config.server.database else {
        anyhow::bail!("replicas need a PostgreSQL database");
    };
    let (mirror_stop_tx, mirror_stop) = watch::channel(false);
    let following = mirror::spawn(
        duties.store.clone(),
        Arc::clone(&duties.config),
        duties.clock,
        duties.routing.clone(),
        mirror_stop,
    );
    info!(database = %shown, "standby: serving what the leader decides until this replica holds the leader lock");
    let lease = Lease::acquire(url.expose(), shown, stop.clone()).await;
    let _ = mirror_stop_tx.send(true);
    following
        .await
        .context("the standby's mirror ended abnormally")?;
    let Some(lease) = lease else {
        return Ok(());
    };
    let engine = Engine::new(duties.store.clone(), &duties.config, duties.clock.now())
        .await
        .context("loading the evaluator's state on taking over")?;
    lead(duties, engine, lease, stop).await
}

/// The leader's duties while `lease` holds: until `stop`, or until the lock is lost (an
/// error: the process must stop leading at once).
async fn lead(
    duties: Duties,
    engine: Engine,
    mut lease: Lease,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    info!("leading: the scheduler, evaluator and dispatcher run here");
    // The duties stop on shutdown or as soon as the lock is lost, whichever comes first.
    let (stop_duties, duties_stop) = watch::channel(false);
    let running = duties.start(engine, duties_stop);
    let held = lease.hold(stop).await;
    if let Err(lost) = &held {
        error!(error = %lost, "this replica cannot prove it leads: stopping");
    }
    let _ = stop_duties.send(true);
    // The lock is released only after every task stopped, so a successor never overlaps.
    running.join().await?;
    lease.release().await;
    held.map_err(anyhow::Error::from)
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
