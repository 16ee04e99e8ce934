//! The embedded SQLite engine: rusqlite connections driven inline on the calling task.
//!
//! Why not a connection pool with a thread per connection (what sqlx-sqlite does): every
//! statement would be a round trip to that thread, and on a small machine those wake-ups cost
//! more CPU than SQLite itself (measured by `paygate bench`: about half of the server's CPU per
//! payment went to futex wake-ups and context switches). A SQLite statement on a warm page
//! cache takes microseconds, so it runs right here, on the async worker, like any other short
//! computation.
//!
//! - **One writer.** SQLite serialises writers anyway; paygate keeps one write connection
//!   behind an async mutex. A [`SqliteTx`] holds it from `BEGIN IMMEDIATE` to commit or drop,
//!   so writers queue in the mutex (fair, no busy-sleeping) instead of in SQLite's busy
//!   handler, and the writer's page cache stays warm. The busy timeout still covers other
//!   processes (e.g. `paygate admin …`) writing the same file.
//! - **Readers.** `SELECT`s outside a transaction run on `query_only` reader connections, kept
//!   in a small free list (WAL: readers never block the writer). Reading on the writer when it
//!   is idle (its page cache is always current) measured 10–15 % more CPU per payment (A/B,
//!   alternated runs), probably because such reads make transactions wait for the writer. An in-memory database has no
//!   readers: every connection to `:memory:` would be a different database.
//! - **Never** hold a [`SqliteTx`] and then write through the pool on the same task: the
//!   writer mutex is not re-entrant (a pool write waits for the transaction forever). Reads
//!   are fine.
//! - Migrations are sqlx's embedded set, applied here and recorded in sqlx's own
//!   `_sqlx_migrations` table, so a database migrated by either stays usable by the other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::db::Arg;
use crate::error::{StoreError, sqlite_err};

/// How long a writer waits for another process's lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection; paygate has fewer distinct statements than this.
const STATEMENT_CACHE: usize = 256;
/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// A row type the SQLite engine can decode (see `db_row!`, which derives it from field names).
pub(crate) trait SqliteDecode: Sized {
    fn decode(row: &Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! tuple_decode {
    ($($t:ident $i:tt),+) => {
        impl<$($t: rusqlite::types::FromSql),+> SqliteDecode for ($($t,)+) {
            fn decode(row: &Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $t>($i)?,)+))
            }
        }
    };
}
tuple_decode!(A 0);
tuple_decode!(A 0, B 1);
tuple_decode!(A 0, B 1, C 2);
tuple_decode!(A 0, B 1, C 2, D 3);

/// Where the database lives.
#[derive(Debug, Clone)]
enum Location {
    File(PathBuf),
    Memory,
}

/// The SQLite side of [`crate::db::Pool`].
pub(crate) struct SqliteDb {
    location: Location,
    writer: Arc<AsyncMutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Set by [`SqliteDb::close`]: every later use fails, as a closed sqlx pool does.
    closed: AtomicBool,
    /// Dropping it stops the checkpoint thread (file databases only).
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens `file` (created with its directory if missing), or an in-memory database when
    /// `file` is empty or `:memory:`.
    pub(crate) fn open(file: &Path) -> Result<SqliteDb, StoreError> {
        let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
        let location = if in_memory {
            Location::Memory
        } else {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Location::File(file.to_path_buf())
        };
        let writer = open_connection(&location, false).map_err(sqlite_err)?;
        let checkpointer = match &location {
            Location::File(_) => {
                // Only a backstop now: the checkpoint thread keeps the WAL far below it.
                writer
                    .pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_BACKSTOP_PAGES)
                    .map_err(sqlite_err)?;
                Some(spawn_checkpointer(location.clone())?)
            }
            Location::Memory => None,
        };
        Ok(SqliteDb {
            location,
            writer: Arc::new(AsyncMutex::new(writer)),
            readers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            _checkpointer: checkpointer,
        })
    }

    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Database(Box::new(sqlx::Error::PoolClosed)));
        }
        Ok(())
    }

    /// Runs `f` on a connection that may only read: a reader, or the writer for an in-memory
    /// database.
    pub(crate) async fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ensure_open()?;
        if matches!(self.location, Location::Memory) {
            return f(&*self.writer.lock().await);
        }
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.location, true).map_err(sqlite_err)?,
        };
        let result = f(&conn);
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        result
    }

    /// Runs `f` on the writer, outside any transaction (autocommit).
    pub(crate) async fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ensure_open()?;
        let conn = self.writer.lock().await;
        self.ensure_open()?;
        f(&conn)
    }

    /// Takes the writer and opens a write transaction (`BEGIN IMMEDIATE`).
    pub(crate) async fn begin(&self) -> Result<SqliteTx, StoreError> {
        self.ensure_open()?;
        let conn = Arc::clone(&self.writer).lock_owned().await;
        self.ensure_open()?;
        if !conn.is_autocommit() {
            // Only a bug could leave a transaction open (drop rolls back); never build on it.
            conn.execute_batch("ROLLBACK").map_err(sqlite_err)?;
        }
        conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
        Ok(SqliteTx { conn })
    }

    /// Refuses further use, drops idle readers and waits for a running transaction to finish.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        drop(self.writer.lock().await);
    }

    /// Applies `migrator`'s migrations that are not yet recorded (see the module docs).
    pub(crate) async fn migrate(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<(), StoreError> {
        let conn = self.writer.lock().await;
        crate::sqlite_migrate::run(&conn, migrator)
    }
}

/// How often the checkpoint thread copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The writer checkpoints by itself only when the WAL reaches this many pages (~40 MiB), i.e.
/// when the checkpoint thread has fallen far behind.
const AUTOCHECKPOINT_BACKSTOP_PAGES: i64 = 10_000;

/// Checkpoints the WAL off the request path. SQLite's automatic checkpoint runs inside the
/// commit that crosses the threshold, with its fsyncs, while that commit holds the writer:
/// measured, a 340 ms stall of every writer under load. A `PASSIVE` checkpoint on its own
/// connection and thread takes no write lock, so writers go on appending meanwhile.
fn spawn_checkpointer(location: Location) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let conn = open_connection(&location, false).map_err(sqlite_err)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || {
            // Ends when the database handle (the sender) is dropped.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %err, "sqlite: background checkpoint failed");
                }
            }
        })?;
    Ok(stop)
}

/// An open write transaction on the writer connection; dropping it rolls back.
pub(crate) struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
}

impl std::fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteTx")
    }
}

impl SqliteTx {
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn commit(self) -> Result<(), StoreError> {
        // On failure the transaction stays open and `drop` rolls it back.
        self.conn.execute_batch("COMMIT").map_err(sqlite_err)
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            // A failed rollback leaves the transaction open; `begin` rolls back before reuse.
            if let Err(err) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %err, "sqlite rollback failed");
            }
        }
    }
}

fn open_connection(location: &Location, reader: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match location {
        Location::File(path) => Connection::open_with_flags(path, flags)?,
        Location::Memory => Connection::open_in_memory_with_flags(flags)?,
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if matches!(location, Location::File(_)) {
        // WAL makes NORMAL durable against application crashes (kill -9); only an OS crash
        // can lose the last transactions, never corrupt the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    if reader {
        // A write that reached a reader by mistake fails loudly instead of taking the lock.
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(conn)
}

/// Prepares (cached) and binds `sql`'s `$n` placeholders by number, whatever their order.
fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    args: &[Arg],
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    // For counting statements per request (`RUST_LOG=info,paygate_store::sql=debug`); never
    // the arguments, which may be ciphertexts.
    tracing::debug!(target: "paygate_store::sql", statement = sql);
    let mut stmt = conn.prepare_cached(sql).map_err(sqlite_err)?;
    for index in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=args.len()).contains(n))
            .ok_or_else(|| {
                StoreError::Corrupt(format!("placeholder {index} of {sql:?} has no argument"))
            })?;
        let bound = match &args[n - 1] {
            Arg::Text(v) => stmt.raw_bind_parameter(index, v.as_deref()),
            Arg::Int(v) => stmt.raw_bind_parameter(index, v),
            Arg::Bool(v) => stmt.raw_bind_parameter(index, v),
            Arg::Blob(v) => stmt.raw_bind_parameter(index, v.as_slice()),
        };
        bound.map_err(sqlite_err)?;
    }
    Ok(stmt)
}

/// Every row of `sql`.
pub(crate) fn all<T: SqliteDecode>(
    conn: &Connection,
    sql: &str,
    args: &[Arg],
) -> Result<Vec<T>, StoreError> {
    let mut stmt = prepare(conn, sql, args)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err)? {
        out.push(T::decode(row).map_err(sqlite_err)?);
    }
    Ok(out)
}

/// The first row of `sql`, if any. (SQLite makes all of an `UPDATE … RETURNING`'s changes
/// on the first step, so stopping after one row loses no write.)
pub(crate) fn optional<T: SqliteDecode>(
    conn: &Connection,
    sql: &str,
    args: &[Arg],
) -> Result<Option<T>, StoreError> {
    let mut stmt = prepare(conn, sql, args)?;
    let mut rows = stmt.raw_query();
    let first = match rows.next().map_err(sqlite_err)? {
        Some(row) => Some(T::decode(row).map_err(sqlite_err)?),
        None => None,
    };
    Ok(first)
}

/// Runs `sql`; returns the number of rows it changed.
pub(crate) fn execute(conn: &Connection, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
    let mut stmt = prepare(conn, sql, args)?;
    let changed = stmt.raw_execute().map_err(sqlite_err)?;
    Ok(changed as u64)
}

/// Whether `sql` can only read, so it may run on a reader connection.
pub(crate) fn is_read_only(sql: &str) -> bool {
    let head = sql.trim_start();
    head.get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("SELECT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db_with_counter() -> (tempfile::TempDir, Arc<SqliteDb>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SqliteDb::open(&dir.path().join("t.db")).unwrap());
        db.write(|c| {
            execute(
                c,
                "CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)",
                &[],
            )?;
            execute(
                c,
                "INSERT INTO counter (id, n) VALUES ($1, $2)",
                &[Arg::from(1i64), Arg::from(0i64)],
            )
        })
        .await
        .unwrap();
        (dir, db)
    }

    async fn count(db: &SqliteDb) -> i64 {
        let (n,): (i64,) = db
            .read(|c| optional(c, "SELECT n FROM counter WHERE id = 1", &[]))
            .await
            .unwrap()
            .unwrap();
        n
    }

    #[tokio::test]
    async fn placeholders_bind_by_number_not_position() {
        let (_dir, db) = db_with_counter().await;
        let row: Option<(String, i64)> = db
            .read(|c| optional(c, "SELECT $2, $1", &[Arg::from(7i64), Arg::from("seven")]))
            .await
            .unwrap();
        assert_eq!(row, Some(("seven".to_owned(), 7)));
        let missing = db
            .read(|c| optional::<(i64,)>(c, "SELECT $2", &[Arg::from(1i64)]))
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::Corrupt(_)), "{missing:?}");
    }

    #[tokio::test]
    async fn a_dropped_transaction_rolls_back_and_frees_the_writer() {
        let (_dir, db) = db_with_counter().await;
        let tx = db.begin().await.unwrap();
        execute(tx.conn(), "UPDATE counter SET n = 5 WHERE id = 1", &[]).unwrap();
        drop(tx);
        assert_eq!(count(&db).await, 0);
        let tx = db.begin().await.unwrap();
        execute(tx.conn(), "UPDATE counter SET n = 6 WHERE id = 1", &[]).unwrap();
        // Readers see only committed data.
        assert_eq!(count(&db).await, 0);
        tx.commit().unwrap();
        assert_eq!(count(&db).await, 6);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transactions_queue_for_the_writer_and_lose_no_update() {
        let (_dir, db) = db_with_counter().await;
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    let tx = db.begin().await.unwrap();
                    let (n,): (i64,) = optional(tx.conn(), "SELECT n FROM counter", &[])
                        .unwrap()
                        .unwrap();
                    // Another task runs here; the open transaction must keep it out.
                    tokio::task::yield_now().await;
                    execute(tx.conn(), "UPDATE counter SET n = $1", &[Arg::from(n + 1)]).unwrap();
                    tx.commit().unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(count(&db).await, 64);
    }

    #[tokio::test]
    async fn readers_refuse_writes() {
        let (_dir, db) = db_with_counter().await;
        // A transaction holds the writer: the read surely runs on a reader connection.
        let tx = db.begin().await.unwrap();
        let err = db
            .read(|c| execute(c, "UPDATE counter SET n = 9", &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        drop(tx);
        assert_eq!(count(&db).await, 0);
    }

    #[tokio::test]
    async fn a_closed_database_refuses_every_use() {
        let (_dir, db) = db_with_counter().await;
        db.close().await;
        assert!(
            db.read(|c| all::<(i64,)>(c, "SELECT n FROM counter", &[]))
                .await
                .is_err()
        );
        assert!(
            db.write(|c| execute(c, "UPDATE counter SET n = 1", &[]))
                .await
                .is_err()
        );
        assert!(db.begin().await.is_err());
    }

    #[tokio::test]
    async fn the_checkpoint_thread_moves_committed_pages_into_the_database_file() {
        let (dir, db) = db_with_counter().await;
        db.write(|c| {
            execute(c, "CREATE TABLE blob (b BLOB NOT NULL)", &[])?;
            for _ in 0..64 {
                execute(
                    c,
                    "INSERT INTO blob (b) VALUES ($1)",
                    &[Arg::from(vec![7u8; 8192])],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
        // 512 KiB committed, far below the writer's own checkpoint threshold: only the
        // background thread can have copied it out of the WAL.
        let file = dir.path().join("t.db");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() < 512 * 1024 {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn only_selects_count_as_read_only() {
        assert!(is_read_only("SELECT 1"));
        assert!(is_read_only("  select id FROM t"));
        assert!(!is_read_only("UPDATE t SET a = 1 RETURNING a"));
        assert!(!is_read_only("INSERT INTO t SELECT 1"));
        assert!(!is_read_only("WITH x AS (SELECT 1) DELETE FROM t"));
        assert!(!is_read_only("SEL"));
    }

    #[tokio::test]
    async fn an_in_memory_database_is_one_database() {
        let db = SqliteDb::open(Path::new(":memory:")).unwrap();
        db.write(|c| execute(c, "CREATE TABLE t (a BIGINT)", &[]))
            .await
            .unwrap();
        // A reader on a separate connection would see no table `t`.
        let rows: Vec<(i64,)> = db.read(|c| all(c, "SELECT a FROM t", &[])).await.unwrap();
        assert!(rows.is_empty());
    }
}
