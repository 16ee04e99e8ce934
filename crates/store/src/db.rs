//! The backend seam: one enum of pools, one enum of transactions, and a handful of query
//! helpers that run every SQL string on either engine with its native types — sqlx for
//! PostgreSQL, rusqlite driven inline for SQLite (see [`crate::sqlite`] for why).
//!
//! Queries are runtime strings (no compile-time macros), written once in the portable subset
//! both backends accept (see the crate docs for the rules). Arguments travel as [`Arg`], which
//! is bound with each driver's own encoders, and rows decode through the two impls [`db_row!`]
//! derives from a struct's field names. Nothing here knows a table.

use std::sync::Arc;

use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteConnectOptions;
use time::OffsetDateTime;

use crate::error::{StoreError, db_err};
use crate::pg::{PgPool, PgTx};
use crate::sqlite::{self, SqliteDb, SqliteDecode, SqliteTx};

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
    Sqlite(Arc<SqliteDb>),
    Postgres(PgPool),
}

pub(crate) static SQLITE_MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

impl Pool {
    pub(crate) async fn connect(url: &str) -> Result<Pool, StoreError> {
        if url.starts_with("sqlite:") {
            // sqlx parses the URL (the same `sqlite:` forms as always); rusqlite runs it.
            let opts: SqliteConnectOptions = url.parse().map_err(db_err)?;
            Ok(Pool::Sqlite(Arc::new(SqliteDb::open(opts.get_filename())?)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPool::connect(url).await.map_err(db_err)?;
            Ok(Pool::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Pool::Sqlite(db) => db.migrate(&SQLITE_MIGRATOR).await?,
            Pool::Postgres(p) => p.migrate(&POSTGRES_MIGRATOR).await?,
        }
        Ok(())
    }

    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            // Every store transaction writes; taking the write lock up front avoids SQLite's
            // read-to-write upgrade deadlock, which busy_timeout cannot resolve.
            Pool::Sqlite(db) => Ok(Tx::Sqlite(db.begin().await?)),
            Pool::Postgres(p) => Ok(Tx::Postgres(PgTx::begin(p).await.map_err(db_err)?)),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(db) => db.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// An open write transaction. Dropping it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(PgTx),
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
            Tx::Postgres(tx) => tx.commit().await.map_err(db_err),
        }
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

/// A row type both engines can decode: sqlx's `FromRow` for PostgreSQL, [`SqliteDecode`]
/// for SQLite. Declare row structs with [`db_row!`], which derives both from the field names.
pub(crate) trait Decode: for<'r> FromRow<'r, PgRow> + SqliteDecode + Send + Unpin {}
impl<T> Decode for T where T: for<'r> FromRow<'r, PgRow> + SqliteDecode + Send + Unpin {}

/// Declares a row struct whose fields are named after its columns, decodable by both engines.
macro_rules! db_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(sqlx::FromRow)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        impl $crate::sqlite::SqliteDecode for $name {
            fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                let columns = $crate::sqlite::Columns::new(row);
                Ok(Self {
                    $($field: columns.get(stringify!($field))?),*
                })
            }
        }
    };
}
pub(crate) use db_row;

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

/// Runs one statement outside a transaction: on PostgreSQL through the pool, on SQLite on a
/// reader (a `SELECT`) or the writer (anything else).
macro_rules! on_pool {
    ($pool:expr, $sql:expr, $args:expr, sqlite: $lite:path, pg: |$p:ident, $a:ident| $pg:expr) => {
        match $pool {
            Pool::Sqlite(db) => {
                if crate::sqlite::is_read_only($sql) {
                    db.read(|c| $lite(c, $sql, &$args)).await
                } else {
                    db.write(|c| $lite(c, $sql, &$args)).await
                }
            }
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(db_err)?;
                let $p = conn.start().map_err(db_err)?;
                let $a = $args;
                let result = $pg;
                conn.finish(&result);
                result.map_err(db_err)
            }
        }
    };
}

macro_rules! on_tx {
    ($tx:expr, $sql:expr, $args:expr, sqlite: $lite:path, pg: |$c:ident, $a:ident| $pg:expr) => {
        match $tx {
            Tx::Sqlite(t) => $lite(t.conn()?, $sql, &$args),
            Tx::Postgres(t) => {
                let conn = t.conn();
                let $c = conn.start().map_err(db_err)?;
                let $a = $args;
                let result = $pg;
                conn.finish(&result);
                result.map_err(db_err)
            }
        }
    };
}

fn required<T>(row: Option<T>) -> Result<T, StoreError> {
    row.ok_or_else(|| StoreError::Database(Box::new(sqlx::Error::RowNotFound)))
}

impl Pool {
    pub(crate) async fn all<T: Decode>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError> {
        on_pool!(self, sql, args, sqlite: sqlite::all, pg: |p, a| {
            bind_all!(sqlx::query_as(sql), a).fetch_all(p).await
        })
    }

    pub(crate) async fn optional<T: Decode>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Option<T>, StoreError> {
        on_pool!(self, sql, args, sqlite: sqlite::optional, pg: |p, a| {
            bind_all!(sqlx::query_as(sql), a).fetch_optional(p).await
        })
    }

    pub(crate) async fn one<T: Decode>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        required(self.optional(sql, args).await?)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, sql, args, sqlite: sqlite::execute, pg: |p, a| {
            bind_all!(sqlx::query(sql), a).execute(p).await.map(|r| r.rows_affected())
        })
    }
}

impl Tx {
    pub(crate) async fn all<T: Decode>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError> {
        on_tx!(self, sql, args, sqlite: sqlite::all, pg: |c, a| {
            bind_all!(sqlx::query_as(sql), a).fetch_all(c).await
        })
    }

    pub(crate) async fn optional<T: Decode>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Option<T>, StoreError> {
        on_tx!(self, sql, args, sqlite: sqlite::optional, pg: |c, a| {
            bind_all!(sqlx::query_as(sql), a).fetch_optional(c).await
        })
    }

    pub(crate) async fn one<T: Decode>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        required(self.optional(sql, args).await?)
    }

    pub(crate) async fn execute(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        on_tx!(self, sql, args, sqlite: sqlite::execute, pg: |c, a| {
            bind_all!(sqlx::query(sql), a).execute(c).await.map(|r| r.rows_affected())
        })
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
