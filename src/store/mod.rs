//! SQLite storage: raw probe results, per-minute/hour/day rollups, retention.
//!
//! One file, WAL mode, a small pool. Queries are sqlx *runtime* queries (no database is
//! needed at build time); the schema lives in `migrations/` and is applied by [`Store::open`].
//!
//! - [`results`]: batched inserts and reads of raw results;
//! - [`rollups`]: rollup types and queries; `rollup_job` computes them exactly, driven by
//!   watermarks;
//! - [`retention`]: bounded deletes of old data (never of raw data not yet rolled up);
//! - [`writer`]: the background tasks that batch writes and run maintenance;
//! - [`evaluations`], [`incidents`], [`subscriptions`], [`deliveries`]: the evaluator's and
//!   the notifier's tables;
//! - [`traffic`]: the application's traffic, one row per model, source and minute.
//!
//! Times are stored as unix milliseconds UTC in `INTEGER` columns.

pub mod agents;
pub mod deliveries;
pub mod evaluations;
pub mod events;
pub mod incident_ops;
pub mod incidents;
pub mod maintenances;
pub mod official;
pub mod overrides;
pub mod results;
pub mod retention;
mod rollup_job;
pub mod rollups;
pub mod round;
pub mod subscriptions;
pub mod traffic;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use results::StoredResult;
pub use retention::RetentionReport;
pub use rollup_job::minute_rollups_of;
pub use rollups::{Granularity, Rollup};

/// A handle on the database; cheap to clone (it is a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Reads that must agree with one another (a page's figures, a snapshot of every model):
/// one SQLite read transaction, so every query sees the same commit however many writes
/// land meanwhile (WAL readers keep their snapshot until the transaction ends). Dropping it
/// ends the transaction. The one-off read methods on [`Store`] use one each.
pub struct ReadView {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
}

/// Why a store operation failed; every variant says what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{context}: {error}")]
    Sqlx { context: String, error: sqlx::Error },
    #[error("{context}: {error}")]
    Migrate {
        context: String,
        error: sqlx::migrate::MigrateError,
    },
    #[error("creating database directory {}: {error}", path.display())]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A stored row holds a value the code cannot represent (e.g. an unknown outcome name).
    #[error("{table} row {row}: {problem}")]
    Corrupt {
        table: &'static str,
        row: String,
        problem: String,
    },
}

/// Attaches "what was being done" to sqlx results: `.context(|| format!(...))`.
pub(crate) trait SqlxContext<T> {
    fn context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T, StoreError>;
}

impl<T> SqlxContext<T> for Result<T, sqlx::Error> {
    fn context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Sqlx {
            context: context().into(),
            error,
        })
    }
}

/// Writers wait this long for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// One writer, readers for the API and maintenance: SQLite serializes writes anyway.
const MAX_CONNECTIONS: u32 = 4;

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL lets the API read while the writer writes; NORMAL is durable across
            // process crashes (only an OS crash can lose the last transactions).
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Rows cross from SQLite's worker thread one by one; a deeper buffer lets the
            // worker run ahead instead of waking the reader for every row (rollups read
            // hundreds of thousands of rows a day).
            .row_buffer_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .context(|| format!("opening database {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migrate {
                context: format!("applying migrations to database {}", path.display()),
                error,
            })?;
        Ok(Store { pool })
    }

    /// The underlying pool, for queries this module does not offer (and for tests).
    /// Starts a consistent read (see [`ReadView`]).
    pub async fn read_view(&self) -> Result<ReadView, StoreError> {
        let tx = self
            .pool
            .begin()
            .await
            .context(|| "starting a read transaction")?;
        Ok(ReadView { tx })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction that takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction upgrading from read to write can fail with SQLITE_BUSY
    /// without waiting for the busy timeout.
    pub(crate) async fn begin_write(
        &self,
        what: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context(|| format!("beginning transaction for {what}"))
    }
}

/// A stored time (milliseconds since the epoch) as a time; out of range reads as the epoch.
pub(crate) fn ms_to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
}

/// Milliseconds of a std duration, saturating (retention periods may be configured huge).
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
