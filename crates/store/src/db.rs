//! The backend seam: one enum of pools, one enum of transactions, and a handful of query
//! helpers that compile every SQL string for both drivers with their native types.
//!
//! Queries are runtime strings (no compile-time macros), written once in the portable subset
//! both backends accept (see the crate docs for the rules). Arguments travel as [`Arg`], which
//! is bound with each driver's own encoders, and rows decode through `sqlx::FromRow`
//! implementations that are generic over the row type. Nothing here knows a table.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{FromRow, Postgres, Sqlite, Transaction};
use time::OffsetDateTime;

use crate::error::{StoreError, db_err};

/// Which database a [`crate::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a SQLite writer waits for the lock before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Pool {
    pub(crate) async fn connect(url: &str) -> Result<Pool, StoreError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(db_err)?;
            Ok(Pool::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    async fn connect_sqlite(url: &str) -> Result<Pool, StoreError> {
        let opts: SqliteConnectOptions = url.parse().map_err(db_err)?;
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL durable against application crashes; only an OS crash can lose
            // the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let file = opts.get_filename().to_path_buf();
        let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
        let mut pool = SqlitePoolOptions::new().max_connections(8);
        if in_memory {
            // Every connection to `:memory:` is a separate database: keep exactly one, forever.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Pool::Sqlite(pool.connect_with(opts).await.map_err(db_err)?))
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Pool::Sqlite(p) => SQLITE_MIGRATOR.run(p).await?,
            Pool::Postgres(p) => POSTGRES_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            // Every store transaction writes; taking the write lock up front avoids SQLite's
            // read-to-write upgrade deadlock, which busy_timeout cannot resolve.
            Pool::Sqlite(p) => Ok(Tx::Sqlite(
                p.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?,
            )),
            Pool::Postgres(p) => Ok(Tx::Postgres(p.begin().await.map_err(db_err)?)),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// An open write transaction. Dropping it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(db_err)
    }
}

/// The one place where the SQL text differs by backend: row locks (`FOR UPDATE`, and `FOR
/// UPDATE SKIP LOCKED` for reconciliation claims). SQLite has no row locks and needs none:
/// every store transaction is `BEGIN IMMEDIATE`, which serialises writers, and a single
/// `UPDATE … RETURNING` is atomic. Callers pass both texts, identical but for the lock clause.
pub(crate) fn dialect(
    backend: Backend,
    sqlite: &'static str,
    postgres: &'static str,
) -> &'static str {
    match backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    }
}

/// One bound argument. Nullable kinds carry an `Option` so NULL keeps its SQL type (PostgreSQL
/// needs it to plan `$n IS NULL OR col = $n`).
#[derive(Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Blob(Vec<u8>),
}

// Arguments may be ciphertexts or digests; never print them.
impl std::fmt::Debug for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Arg(..)")
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Blob(v)
    }
}
impl From<OffsetDateTime> for Arg {
    fn from(v: OffsetDateTime) -> Self {
        Arg::Int(Some(to_ms(v)))
    }
}
impl From<Option<OffsetDateTime>> for Arg {
    fn from(v: Option<OffsetDateTime>) -> Self {
        Arg::Int(v.map(to_ms))
    }
}

/// Builds a `Vec<Arg>` from values of any type [`Arg`] converts from.
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Arg::from($v)),*] };
}
pub(crate) use args;

/// A row type both drivers can decode (derive `sqlx::FromRow`; its impl is generic).
pub(crate) trait Decode:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Decode for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Expands the same query code once per driver: `$exec` is the pool or the transaction's
/// connection, typed natively in each arm.
macro_rules! on_pool {
    ($pool:expr, |$exec:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($exec) => $body,
            Pool::Postgres($exec) => $body,
        }
    };
}

macro_rules! on_tx {
    ($tx:expr, |$exec:ident| $body:expr) => {
        match $tx {
            Tx::Sqlite(t) => {
                let $exec = &mut **t;
                $body
            }
            Tx::Postgres(t) => {
                let $exec = &mut **t;
                $body
            }
        }
    };
}

impl Pool {
    pub(crate) async fn all<T: Decode>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError> {
        on_pool!(self, |p| bind_all!(sqlx::query_as(sql), args)
            .fetch_all(p)
            .await)
        .map_err(db_err)
    }

    pub(crate) async fn optional<T: Decode>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Option<T>, StoreError> {
        on_pool!(self, |p| bind_all!(sqlx::query_as(sql), args)
            .fetch_optional(p)
            .await)
        .map_err(db_err)
    }

    pub(crate) async fn one<T: Decode>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        on_pool!(self, |p| bind_all!(sqlx::query_as(sql), args)
            .fetch_one(p)
            .await)
        .map_err(db_err)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, |p| bind_all!(sqlx::query(sql), args)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_err)
    }
}

impl Tx {
    pub(crate) async fn all<T: Decode>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError> {
        on_tx!(self, |c| bind_all!(sqlx::query_as(sql), args)
            .fetch_all(c)
            .await)
        .map_err(db_err)
    }

    pub(crate) async fn optional<T: Decode>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Option<T>, StoreError> {
        on_tx!(self, |c| bind_all!(sqlx::query_as(sql), args)
            .fetch_optional(c)
            .await)
        .map_err(db_err)
    }

    pub(crate) async fn one<T: Decode>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        on_tx!(self, |c| bind_all!(sqlx::query_as(sql), args)
            .fetch_one(c)
            .await)
        .map_err(db_err)
    }

    pub(crate) async fn execute(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        on_tx!(self, |c| bind_all!(sqlx::query(sql), args)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_err)
    }
}

/// Milliseconds since the Unix epoch: the one time representation in the database.
pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    // i128 nanoseconds / 10^6 fits i64 for every year `time` can represent.
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

pub(crate) fn from_ms_opt(ms: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    ms.map(from_ms).transpose()
}

/// Parses a stored string into a typed value, reporting a bad row as corrupt.
pub(crate) fn parse_col<T: std::str::FromStr>(
    column: &'static str,
    value: &str,
) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
}

/// `"...".parse()` for nullable columns.
pub(crate) fn parse_opt<T: std::str::FromStr>(
    column: &'static str,
    value: Option<&str>,
) -> Result<Option<T>, StoreError> {
    value.map(|v| parse_col(column, v)).transpose()
}
