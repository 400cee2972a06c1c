//! Several `serve` replicas on one PostgreSQL database: which one leads.
//!
//! Every replica serves the pages and APIs. Exactly one, the *leader*, also runs what must
//! run once: the scheduler, the evaluator, the dispatcher, the pager, the official status
//! pollers and the maintenance loop. The others are *standbys*: their routing table and
//! pages follow what the leader writes ([`mirror`]).
//!
//! Leadership is a PostgreSQL session advisory lock ([`LOCK_KEY`]) held on a connection of
//! its own, outside the pool. The server releases such a lock the moment the session ends,
//! so a leader that dies (kill -9, crash, its machine gone) hands over as soon as a standby
//! next asks, within [`TRY_EVERY`], with nothing to expire first. A leader checks every
//! [`CHECK_EVERY`] that its session still holds the lock; when it cannot (the connection
//! broke, the server restarted), it stops leading at once and the process exits with an
//! error for its supervisor to restart it as a standby: a replica never acts as leader
//! without the lock it can prove. What a leader did not commit before it died, its
//! successor recomputes from the database (the evaluator rebuilds from stored results; the
//! outbox keeps undelivered events), so delivery stays at-least-once.
//!
//! SQLite has no second process to hand over to: with a SQLite file the one process leads.

pub mod mirror;

use std::time::Duration;

use sqlx::Connection;
use tokio::sync::watch;
use tracing::{info, warn};

/// The advisory lock's key ("modelwat" in ASCII); advisory locks are per database, so two
/// deployments on one server do not contend.
pub const LOCK_KEY: i64 = 0x6d6f_6465_6c77_6174;

/// How often a standby asks for the lock.
pub const TRY_EVERY: Duration = Duration::from_secs(1);

/// How often a leader proves it still holds the lock.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How long one check or attempt may take before it counts as failed.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The lock held: dropping it (or the process dying) releases it.
pub struct Lease {
    connection: sqlx::PgConnection,
}

/// Why a lease was lost.
#[derive(Debug, thiserror::Error)]
#[error("lost the leader lock: {0}")]
pub struct LeaseLost(String);

impl Lease {
    /// Waits until this replica holds the lock, asking every [`TRY_EVERY`]; `None` when
    /// `stop` turns true first. Connection failures are logged once per change and retried.
    pub async fn acquire(url: &str, shown: &str, mut stop: watch::Receiver<bool>) -> Option<Lease> {
        let mut last_problem: Option<String> = None;
        let mut connection: Option<sqlx::PgConnection> = None;
        loop {
            if *stop.borrow() {
                return None;
            }
            let attempt = async {
                let conn = match connection.take() {
                    Some(conn) => conn,
                    None => sqlx::PgConnection::connect(url).await?,
                };
                let conn = connection.insert(conn);
                sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(conn)
                    .await
            };
            match tokio::time::timeout(QUERY_TIMEOUT, attempt).await {
                Ok(Ok(true)) => {
                    info!(database = shown, "this replica leads");
                    return connection.map(|connection| Lease { connection });
                }
                Ok(Ok(false)) => last_problem = None,
                Ok(Err(e)) => {
                    connection = None;
                    let problem = e.to_string();
                    if last_problem.as_deref() != Some(problem.as_str()) {
                        warn!(database = shown, error = %problem, "cannot ask for the leader lock; retrying");
                    }
                    last_problem = Some(problem);
                }
                Err(_) => {
                    connection = None;
                    warn!(
                        database = shown,
                        "asking for the leader lock timed out; retrying"
                    );
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TRY_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Asks for the lock once: `Some` when this replica now leads.
    pub async fn try_acquire(url: &str, shown: &str) -> Result<Option<Lease>, sqlx::Error> {
        let mut connection = sqlx::PgConnection::connect(url).await?;
        let got = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut connection)
            .await?;
        if got {
            info!(database = shown, "this replica leads");
            Ok(Some(Lease { connection }))
        } else {
            let _ = connection.close().await;
            Ok(None)
        }
    }

    /// Checks that this session still holds the lock.
    pub async fn check(&mut self) -> Result<(), LeaseLost> {
        let held = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND pid = pg_backend_pid() AND granted AND objsubid = 1 \
             AND ((classid::bigint << 32) | objid::bigint) = $1)",
        )
        .bind(LOCK_KEY)
        .fetch_one(&mut self.connection);
        match tokio::time::timeout(QUERY_TIMEOUT, held).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(LeaseLost("the session no longer holds it".into())),
            Ok(Err(e)) => Err(LeaseLost(format!("checking it failed: {e}"))),
            Err(_) => Err(LeaseLost(format!(
                "checking it took over {} s",
                QUERY_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Checks every [`CHECK_EVERY`] until the lock is lost (returns why) or `stop` turns
    /// true (returns `Ok`, still holding it: the caller releases it once its tasks stopped).
    pub async fn hold(&mut self, mut stop: watch::Receiver<bool>) -> Result<(), LeaseLost> {
        loop {
            if *stop.borrow_and_update() {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(CHECK_EVERY) => self.check().await?,
                changed = stop.changed() => if changed.is_err() { return Ok(()) },
            }
        }
    }

    /// Releases the lock by ending the session.
    pub async fn release(self) {
        let _ = self.connection.close().await;
    }
}
