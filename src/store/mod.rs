//! Storage: raw probe results, per-minute/hour/day rollups, retention, and every table of
//! the evaluator, the notifier and the admin side, in SQLite (the default: one file, WAL
//! mode, a small pool) or PostgreSQL (`database = "postgres://…"`, for several replicas).
//!
//! Queries are sqlx *runtime* queries (no database is needed at build time). The schema
//! lives in `migrations/` (SQLite) and `migrations/postgres/` (its twin, kept in step by a
//! test) and is applied by [`Store::open`] / [`Store::connect_postgres`].
//!
//! **One SQL for both.** Each query runs through [`on_db!`](crate::on_db), which compiles it
//! once per database, each with its own driver and types. So the SQL must mean the same on
//! both: numbered `$1` placeholders (SQLite reads them too), upserts as `ON CONFLICT … DO
//! UPDATE` with the target table named where a column could be ambiguous, `CASE` instead of
//! SQLite's two-argument `min`/`max`, `IS NOT DISTINCT FROM` instead of `IS`, `TRUE`/`FALSE`
//! for the flags PostgreSQL stores as booleans, and integers bound as `i64` (PostgreSQL has
//! no unsigned types). Where the dialects must differ, the query says why.
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
//! Times are stored as unix milliseconds UTC in integer (`BIGINT`) columns.

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

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};

pub use results::StoredResult;
pub use retention::RetentionReport;
pub use rollup_job::minute_rollups_of;
pub use rollups::{Granularity, Rollup};

/// A handle on the database; cheap to clone (it is a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

/// One of the two databases, or something of one of them (a pool, a transaction, a
/// connection): what [`on_db!`](crate::on_db) matches on to run the same code on either.
#[derive(Debug, Clone)]
pub enum Db<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// The connection pool of a store.
pub type Pool = Db<SqlitePool, PgPool>;

/// A transaction of either database. Code writes `&mut *tx` for it as it would for a sqlx
/// transaction (see [`IntoDb`]).
pub struct Tx(TxOf);

/// What a [`Tx`] holds.
pub type TxOf = Db<sqlx::Transaction<'static, Sqlite>, sqlx::Transaction<'static, Postgres>>;

impl std::ops::Deref for Tx {
    type Target = TxOf;
    fn deref(&self) -> &TxOf {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut TxOf {
        &mut self.0
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.0 {
            Db::Sqlite(tx) => tx.commit().await,
            Db::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Something queries can run on, seen as the executor of its database: a pool by
/// reference, a transaction by mutable reference.
pub trait IntoDb {
    type Sqlite;
    type Postgres;
    fn into_db(self) -> Db<Self::Sqlite, Self::Postgres>;
}

impl<'a> IntoDb for &'a Pool {
    type Sqlite = &'a SqlitePool;
    type Postgres = &'a PgPool;
    fn into_db(self) -> Db<&'a SqlitePool, &'a PgPool> {
        match self {
            Db::Sqlite(p) => Db::Sqlite(p),
            Db::Postgres(p) => Db::Postgres(p),
        }
    }
}

impl<'a> IntoDb for &'a mut TxOf {
    type Sqlite = &'a mut SqliteConnection;
    type Postgres = &'a mut PgConnection;
    fn into_db(self) -> Db<&'a mut SqliteConnection, &'a mut PgConnection> {
        match self {
            Db::Sqlite(tx) => Db::Sqlite(&mut **tx),
            Db::Postgres(tx) => Db::Postgres(&mut **tx),
        }
    }
}

impl<'a> IntoDb for &'a mut Tx {
    type Sqlite = &'a mut SqliteConnection;
    type Postgres = &'a mut PgConnection;
    fn into_db(self) -> Db<&'a mut SqliteConnection, &'a mut PgConnection> {
        (&mut self.0).into_db()
    }
}

/// Runs the same code on whichever database `$db` (a [`Pool`] by reference or a [`Tx`] by
/// mutable reference) is of: `$c` is its sqlx executor. The code is compiled once per
/// database, so each runs with its own driver and types; the SQL must be valid in both
/// (`$1` placeholders, which SQLite reads too; see the module documentation).
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $crate::store::IntoDb::into_db($db) {
            $crate::store::Db::Sqlite($c) => $body,
            $crate::store::Db::Postgres($c) => $body,
        }
    };
}

/// Reads that must agree with one another (a page's figures, a snapshot of every model):
/// one read transaction, so every query sees the same commit however many writes land
/// meanwhile (SQLite's WAL readers keep their snapshot until the transaction ends;
/// PostgreSQL's is `REPEATABLE READ`). Dropping it
/// ends the transaction. The one-off read methods on [`Store`] use one each.
pub struct ReadView {
    tx: Tx,
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
/// PostgreSQL runs reads and writes side by side; replicas share the server's connections.
const PG_MAX_CONNECTIONS: u32 = 8;

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
        Ok(Store {
            pool: Db::Sqlite(pool),
        })
    }

    /// Opens the configured database: a SQLite file or a PostgreSQL database.
    pub async fn open_database(database: &crate::config::Database) -> Result<Store, StoreError> {
        match database {
            crate::config::Database::Sqlite(path) => Store::open(path).await,
            crate::config::Database::Postgres { url, shown } => {
                Store::connect_postgres(url.expose(), shown).await
            }
        }
    }

    /// Connects to the PostgreSQL database at `url` and applies pending migrations (those
    /// of `migrations/postgres/`, kept in step with SQLite's by a test). `shown` is how the
    /// database is named in errors: the URL without its password.
    pub async fn connect_postgres(url: &str, shown: &str) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(PG_MAX_CONNECTIONS)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect(url)
            .await
            .context(|| format!("connecting to database {shown}"))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migrate {
                context: format!("applying migrations to database {shown}"),
                error,
            })?;
        Ok(Store {
            pool: Db::Postgres(pool),
        })
    }

    /// Which database this store is on: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Starts a consistent read (see [`ReadView`]).
    pub async fn read_view(&self) -> Result<ReadView, StoreError> {
        let tx = match &self.pool {
            Db::Sqlite(pool) => pool.begin().await.map(Db::Sqlite),
            // PostgreSQL's default (read committed) takes a new snapshot per statement.
            Db::Postgres(pool) => pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map(Db::Postgres),
        }
        .context(|| "starting a read transaction")?;
        Ok(ReadView { tx: Tx(tx) })
    }

    /// Closes every connection (waiting for those in use to come back).
    pub async fn close(&self) {
        match &self.pool {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// The underlying pool, for queries this module does not offer.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The SQLite pool, for tests and benchmarks that read a SQLite store with their own
    /// SQL. Panics on a PostgreSQL store: nothing in the service calls it.
    #[doc(hidden)]
    pub fn sqlite_pool(&self) -> &SqlitePool {
        match &self.pool {
            Db::Sqlite(pool) => pool,
            Db::Postgres(_) => panic!("sqlite_pool() called on a PostgreSQL store"),
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction upgrading from read to write can fail with
    /// SQLITE_BUSY without waiting for the busy timeout.
    pub(crate) async fn begin_write(&self, what: &str) -> Result<Tx, StoreError> {
        let tx = match &self.pool {
            Db::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await.map(Db::Sqlite),
            Db::Postgres(pool) => pool.begin().await.map(Db::Postgres),
        }
        .context(|| format!("beginning transaction for {what}"))?;
        Ok(Tx(tx))
    }

    /// Begins a plain transaction, for a few statements on one connection that need no
    /// snapshot of their own.
    pub(crate) async fn begin_read(&self, what: &str) -> Result<Tx, StoreError> {
        let tx = match &self.pool {
            Db::Sqlite(pool) => pool.begin().await.map(Db::Sqlite),
            Db::Postgres(pool) => pool.begin().await.map(Db::Postgres),
        }
        .context(|| format!("beginning transaction for {what}"))?;
        Ok(Tx(tx))
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

/// What a statement did, the same on both databases: how many rows it changed.
#[derive(Debug, Clone, Copy)]
pub struct Done(u64);

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.0
    }
}

impl From<sqlx::sqlite::SqliteQueryResult> for Done {
    fn from(r: sqlx::sqlite::SqliteQueryResult) -> Done {
        Done(r.rows_affected())
    }
}

impl From<sqlx::postgres::PgQueryResult> for Done {
    fn from(r: sqlx::postgres::PgQueryResult) -> Done {
        Done(r.rows_affected())
    }
}

/// `rows` groups of `columns` numbered placeholders for a multi-row `VALUES`:
/// `($1, $2), ($3, $4)`. Numbered, because PostgreSQL reads no other kind (SQLite reads these
/// too).
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(row * columns + column + 1).to_string());
        }
        out.push(')');
    }
    out
}
