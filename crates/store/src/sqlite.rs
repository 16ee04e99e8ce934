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
//!   behind an async mutex. A [`SqliteTx`] holds it from its start to commit or drop, so
//!   writers queue in the mutex (fair, no busy-sleeping) instead of in SQLite's busy
//!   handler, and the writer's page cache stays warm. The busy timeout still covers other
//!   processes (e.g. `paygate admin …`) writing the same file.
//! - **Group commit.** The first store transaction of a group begins the writer's transaction;
//!   each later one runs in a savepoint inside it, so that it can be undone alone. When a
//!   transaction commits while another is queued for the writer, it releases its work into
//!   the group, hands the writer on and waits; the last of the queue commits them all with
//!   one `COMMIT` (see [`SqliteTx::commit`]). Under load this writes each hot page to the WAL once per group
//!   instead of once per transaction. Nothing returns before its `COMMIT`; a failed `COMMIT`
//!   fails every member; a transaction dropped without committing undoes only its own work.
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, watch};

use crate::db::Arg;
use crate::error::{StoreError, sqlite_err};

/// How long a writer waits for another process's lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection; paygate has fewer distinct statements than this.
const STATEMENT_CACHE: usize = 256;
/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 8;
/// A reader's page cache, in KiB (SQLite's default is 2,000 KiB per connection). A reader
/// starting a transaction after any commit by another connection discards its whole cache
/// (WAL mode), so under paygate's steady writes a reader's cache only ever serves the one
/// transaction it is in, and a bigger one is memory that fills up slowly and never pays off:
/// measured at 150 payments/s, the server's RSS climbed for 30 minutes (44.7 → 62.6 MB at
/// most, 286 KiB/min over the second half) with the default, and was flat after the first
/// minute (41 KiB/min over 10 minutes) with this, at the same CPU. The writer keeps the
/// default: its cache stays valid across its own commits.
const READER_CACHE_KIB: i64 = 256;
/// Most transactions waiting on one group commit. The writer's queue bounds a group already
/// (see [`SqliteTx::commit`]); this only caps how long the first member can wait.
const MAX_GROUP: usize = 128;
/// The savepoint each transaction of a group runs in.
const SAVEPOINT: &str = "paygate_tx";

/// A row type the SQLite engine can decode (see `db_row!`, which derives it from field names).
pub(crate) trait SqliteDecode: Sized {
    fn decode(row: &Row<'_>) -> rusqlite::Result<Self>;
}

/// Reads a row's columns by name, expecting them in the order the fields are read (as
/// `db_row!` structs and their `SELECT`s list them): each name is checked against the column
/// after the last one read, and only a mismatch falls back to rusqlite's search. rusqlite's
/// `row.get("name")` compares against every column's name through the C API on each call
/// (measured: ~3 % of the server's CPU decoding 20-column order rows). A `SELECT` naming two
/// columns alike could be read at either; the store's queries alias every column uniquely.
pub(crate) struct Columns<'r, 's> {
    row: &'r Row<'s>,
    next: std::cell::Cell<usize>,
}

impl<'r, 's> Columns<'r, 's> {
    pub(crate) fn new(row: &'r Row<'s>) -> Self {
        Columns {
            row,
            next: std::cell::Cell::new(0),
        }
    }

    pub(crate) fn get<T: rusqlite::types::FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        let stmt: &rusqlite::Statement<'_> = self.row.as_ref();
        let guess = self.next.get();
        let index = match stmt.column_name(guess) {
            // Case-insensitive, as rusqlite's own lookup.
            Ok(found) if found.eq_ignore_ascii_case(name) => guess,
            _ => stmt.column_index(name)?,
        };
        self.next.set(index + 1);
        self.row.get(index)
    }
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

/// The outcome of a group's `COMMIT`, as its members learn it.
type GroupOutcome = Result<(), Arc<str>>;

/// A group commit failed (or its transaction was lost); every member of the group gets this.
#[derive(Debug, thiserror::Error)]
#[error("sqlite: the group commit this transaction joined failed: {0}")]
pub(crate) struct GroupCommitFailed(Arc<str>);

/// The write transaction open on the writer connection and shared by a group of store
/// transactions (see [`SqliteTx::commit`]).
struct Group {
    id: u64,
    /// Store transactions released into the group and waiting for its `COMMIT`.
    waiting: usize,
    outcome: watch::Sender<Option<GroupOutcome>>,
}

impl Drop for Group {
    fn drop(&mut self) {
        // Never leave a member waiting: a group dropped without an outcome did not commit.
        self.outcome.send_if_modified(|o| {
            if o.is_some() {
                return false;
            }
            *o = Some(Err("the group transaction was abandoned".into()));
            true
        });
    }
}

/// The writer connection and the group transaction open on it, if any. Invariant: `group` is
/// `Some` exactly when a transaction is open on `conn`.
pub(crate) struct Writer {
    conn: Connection,
    group: Option<Group>,
    next_group: u64,
    /// Physical `COMMIT`s (read by tests).
    commits: u64,
}

impl Writer {
    /// Commits the open group, if any, and tells its members the outcome.
    fn finish_group(&mut self) -> Result<(), StoreError> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let result = if self.conn.is_autocommit() {
            // SQLite rolled the whole transaction back by itself (disk full, I/O error).
            Err(StoreError::Database(Box::new(GroupCommitFailed(
                "the transaction was rolled back by SQLite".into(),
            ))))
        } else {
            self.conn.execute_batch("COMMIT").map_err(sqlite_err)
        };
        match &result {
            Ok(()) => {
                self.commits += 1;
                tracing::debug!(target: "paygate_store::sql", members = group.waiting + 1,
                    "sqlite: group committed");
                group.outcome.send_replace(Some(Ok(())));
            }
            Err(e) => {
                // A failed COMMIT leaves the transaction open: nothing of it may stay.
                self.rollback_open();
                tracing::error!(error = %e, members = group.waiting + 1,
                    "sqlite: group commit failed; every member fails");
                group.outcome.send_replace(Some(Err(e.to_string().into())));
            }
        }
        result
    }

    /// Rolls back the transaction open on the writer, if any (a failure is logged: `begin`
    /// rolls back again before building on the connection).
    fn rollback_open(&self) {
        if !self.conn.is_autocommit()
            && let Err(err) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %err, "sqlite rollback failed");
        }
    }

    /// Abandons the open group: rolls it back and fails its members.
    fn fail_group(&mut self, why: &str) {
        if let Some(group) = self.group.take() {
            self.rollback_open();
            if group.waiting > 0 {
                tracing::error!(
                    reason = why,
                    members = group.waiting,
                    "sqlite: group transaction lost; its waiting members fail"
                );
            }
            group.outcome.send_replace(Some(Err(why.into())));
        }
    }
}

/// Counts a task waiting for the writer while it exists (dropped on cancel too).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Queued(counter)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The SQLite side of [`crate::db::Pool`].
pub(crate) struct SqliteDb {
    location: Location,
    writer: Arc<AsyncMutex<Writer>>,
    /// Tasks waiting for the writer to open a transaction or write: a committing transaction
    /// that sees one joins a group commit instead of committing alone.
    queued: Arc<AtomicUsize>,
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
        let conn = open_connection(&location, false).map_err(sqlite_err)?;
        if matches!(location, Location::File(_)) {
            // Only a backstop now: the checkpoint thread keeps the WAL far below it.
            conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_BACKSTOP_PAGES)
                .map_err(sqlite_err)?;
        }
        let writer = Arc::new(AsyncMutex::new(Writer {
            conn,
            group: None,
            next_group: 0,
            commits: 0,
        }));
        let checkpointer = match &location {
            Location::File(_) => Some(spawn_checkpointer(&location, Arc::clone(&writer))?),
            Location::Memory => None,
        };
        Ok(SqliteDb {
            location,
            writer,
            queued: Arc::new(AtomicUsize::new(0)),
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

    /// The writer, counted in `queued` while waiting for it (so that a committing
    /// transaction knows to group).
    async fn lock_writer(&self) -> OwnedMutexGuard<Writer> {
        let _queued = Queued::new(&self.queued);
        Arc::clone(&self.writer).lock_owned().await
    }

    /// The writer with no group open: a waiting group is committed first, so what follows
    /// neither joins it nor sees its work before it is durable.
    async fn writer_alone(&self) -> OwnedMutexGuard<Writer> {
        let mut w = self.lock_writer().await;
        // A failure is the group's members' to report; what follows runs on its own.
        let _ = w.finish_group();
        w
    }

    /// Runs `f` on a connection that may only read: a reader, or the writer for an in-memory
    /// database.
    pub(crate) async fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ensure_open()?;
        if matches!(self.location, Location::Memory) {
            return f(&self.writer_alone().await.conn);
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
        let w = self.writer_alone().await;
        self.ensure_open()?;
        f(&w.conn)
    }

    /// Opens a store transaction: when no group is open, a new group transaction
    /// (`BEGIN IMMEDIATE`) of which it is the first member; else a savepoint in the open one.
    /// The first member needs no savepoint: undoing it alone is undoing the group, and a
    /// savepoint costs a copy of every page it dirties (its sub-journal; measured ~1.3 % of
    /// the server's CPU at saturation, where most groups have one member).
    pub(crate) async fn begin(&self) -> Result<SqliteTx, StoreError> {
        self.ensure_open()?;
        let mut w = self.lock_writer().await;
        self.ensure_open()?;
        if w.group.is_some() && w.conn.is_autocommit() {
            w.fail_group("the transaction was rolled back by SQLite");
        }
        let first = w.group.is_none();
        if first {
            if !w.conn.is_autocommit() {
                // Only a bug could leave a transaction open outside a group; never build on it.
                w.conn.execute_batch("ROLLBACK").map_err(sqlite_err)?;
            }
            w.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(sqlite_err)?;
            w.next_group += 1;
        }
        let id = w.next_group;
        let group = w.group.get_or_insert_with(|| Group {
            id,
            waiting: 0,
            outcome: watch::channel(None).0,
        });
        let (group_id, outcome) = (group.id, group.outcome.subscribe());
        if !first && let Err(e) = w.conn.execute_batch(&format!("SAVEPOINT {SAVEPOINT}")) {
            if w.group.as_ref().is_some_and(|g| g.waiting == 0) {
                w.fail_group("opening the savepoint failed");
            }
            return Err(sqlite_err(e));
        }
        Ok(SqliteTx {
            writer: Some(w),
            savepoint: !first,
            lock: Arc::clone(&self.writer),
            queued: Arc::clone(&self.queued),
            group_id,
            outcome,
        })
    }

    /// Refuses further use, drops idle readers, waits for a running transaction to finish and
    /// commits a waiting group.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        drop(self.writer_alone().await);
    }

    /// Applies `migrator`'s migrations that are not yet recorded (see the module docs).
    pub(crate) async fn migrate(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<(), StoreError> {
        let w = self.writer_alone().await;
        crate::sqlite_migrate::run(&w.conn, migrator)
    }

    /// Physical `COMMIT`s so far.
    #[cfg(test)]
    async fn commits(&self) -> u64 {
        self.writer.lock().await.commits
    }
}

/// How often the checkpoint thread copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The writer checkpoints by itself only when the WAL reaches this many pages (~40 MiB), i.e.
/// when the checkpoint thread has fallen far behind.
const AUTOCHECKPOINT_BACKSTOP_PAGES: i64 = 10_000;
/// From this many pages in the WAL (~8 MiB) the checkpoint thread finishes a pass while
/// holding the writer, so that the next write starts the WAL over.
const RESTART_AT_PAGES: i64 = 2_000;

/// Checkpoints the WAL off the request path. SQLite's automatic checkpoint runs inside the
/// commit that crosses the threshold, with its fsyncs, while that commit holds the writer:
/// measured, a 340 ms stall of every writer under load. A `PASSIVE` checkpoint on its own
/// connection and thread takes no write lock, so writers go on appending meanwhile.
///
/// Under steady writes that alone never lets the WAL start over: a writer restarts it only
/// when every frame has been copied, and new frames arrive during every pass. The WAL then
/// grew to the backstop every couple of seconds and the writer checkpointed inline after
/// all (measured at 190 payments/s: a 40–80 ms stall of every write about every 2 s, the
/// p99 of order creation). So once the WAL holds [`RESTART_AT_PAGES`], the thread follows its
/// pass with a second one while holding paygate's writer (between transactions): it only
/// copies what arrived during the first pass, and afterwards the next write restarts the WAL.
fn spawn_checkpointer(
    location: &Location,
    writer: Arc<AsyncMutex<Writer>>,
) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let conn = open_connection(location, false).map_err(sqlite_err)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || {
            // Ends when the database handle (the sender) is dropped.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(err) = checkpoint_pass(&conn, &writer) {
                    tracing::warn!(error = %err, "sqlite: background checkpoint failed");
                }
            }
        })?;
    Ok(stop)
}

/// One pass of the checkpoint thread (see [`spawn_checkpointer`]).
fn checkpoint_pass(conn: &Connection, writer: &AsyncMutex<Writer>) -> rusqlite::Result<()> {
    let (log, copied) = passive_checkpoint(conn)?;
    tracing::debug!(log, copied, "sqlite: checkpoint pass");
    // Even when it copied everything (`copied == log`), frames committed during the pass
    // keep the WAL from starting over. One more pass without the writer first copies most
    // of those, so that what is left to copy while holding it is what arrived during a
    // short pass.
    if log >= RESTART_AT_PAGES {
        passive_checkpoint(conn)?;
        catch_up_under_writer(conn, writer)?;
    }
    Ok(())
}

/// Copies the frames a pass missed while holding paygate's writer, so that none arrive
/// meanwhile and the next write transaction starts the WAL over (unless a reader is still
/// reading an older snapshot at that moment: then a later pass does it).
fn catch_up_under_writer(conn: &Connection, writer: &AsyncMutex<Writer>) -> rusqlite::Result<()> {
    // A plain thread, not a runtime worker: blocking here is what it is for.
    let held = writer.blocking_lock();
    let since = std::time::Instant::now();
    // A group transaction still open between its members is not ours to wait for.
    if held.group.is_none() {
        let (log, copied) = passive_checkpoint(conn)?;
        let held_ms = since.elapsed().as_millis();
        tracing::debug!(
            log,
            copied,
            held_ms,
            "sqlite: checkpoint pass holding the writer"
        );
    }
    drop(held);
    Ok(())
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: the pages in the WAL and how many of them are copied.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// A store transaction: the first member of a group transaction or a savepoint in it, holding
/// the writer until it commits or is dropped (which rolls back its own work only).
pub(crate) struct SqliteTx {
    /// `Some` until [`SqliteTx::commit`] takes it.
    writer: Option<OwnedMutexGuard<Writer>>,
    /// It runs in a savepoint (it is not its group's first member).
    savepoint: bool,
    lock: Arc<AsyncMutex<Writer>>,
    queued: Arc<AtomicUsize>,
    group_id: u64,
    outcome: watch::Receiver<Option<GroupOutcome>>,
}

impl std::fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteTx")
    }
}

impl SqliteTx {
    /// The writer, which the transaction holds until it ends (`commit` consumes it, so this
    /// cannot fail in practice; an error rather than a panic all the same).
    pub(crate) fn conn(&self) -> Result<&Connection, StoreError> {
        match &self.writer {
            Some(w) => Ok(&w.conn),
            None => Err(ended()),
        }
    }

    /// Makes the transaction's work durable, and returns only when it is.
    ///
    /// **Group commit.** A `COMMIT` writes every page the transaction dirtied to the WAL; under
    /// load, consecutive transactions dirty the same pages (the tail of each table and index),
    /// and committing them one by one wrote those pages again and again (measured: commits were
    /// 20 % of the server's CPU per payment). So when another transaction is already queued
    /// for the writer, this one leaves its work in the open group transaction (releasing its
    /// savepoint, if it has one), hands the writer on and waits: the last transaction of the
    /// queue commits the whole group at once. A waiting member that gets the writer back
    /// before anyone committed commits the group itself, so a group never outlives its queue. Nothing returns before its group's
    /// `COMMIT` succeeded; if that `COMMIT` fails, every member gets the error and none of
    /// their work stays. With nobody queued (light load) a transaction commits alone, at once.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let mut w = self.writer.take().ok_or_else(ended)?;
        if self.savepoint
            && let Err(e) = w.conn.execute_batch(&format!("RELEASE {SAVEPOINT}"))
        {
            abandon(&mut w);
            return Err(sqlite_err(e));
        }
        let queued = self.queued.load(Ordering::Acquire);
        let Some(group) = w
            .group
            .as_mut()
            .filter(|g| queued > 0 && g.waiting < MAX_GROUP)
        else {
            // Nobody to group with (or the group is full): commit now.
            return w.finish_group();
        };
        group.waiting += 1;
        drop(w);
        let mut on_cancel = FinishOnCancel {
            lock: Some(Arc::clone(&self.lock)),
            group_id: self.group_id,
        };
        let mut outcome_rx = self.outcome.clone();
        let outcome = tokio::select! {
            biased;
            known = outcome_rx.wait_for(Option::is_some) => known.ok().and_then(|o| o.clone()),
            mut w = Arc::clone(&self.lock).lock_owned() => {
                if w.group.as_ref().is_some_and(|g| g.id == self.group_id) {
                    on_cancel.lock = None;
                    return w.finish_group();
                }
                // The group was finished while this waited: its outcome is in the channel.
                self.outcome.borrow().clone()
            }
        };
        on_cancel.lock = None;
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(StoreError::Database(Box::new(GroupCommitFailed(why)))),
            None => Err(StoreError::Database(Box::new(GroupCommitFailed(
                "the group ended without an outcome".into(),
            )))),
        }
    }
}

fn ended() -> StoreError {
    StoreError::Database(Box::new(GroupCommitFailed(
        "the transaction has already ended".into(),
    )))
}

/// Rolls back the work of the transaction holding `w`: only its savepoint when others wait on
/// the group; the whole group transaction otherwise (then it is the group's first member,
/// which runs without a savepoint, or the others are gone).
fn abandon(w: &mut Writer) {
    if w.conn.is_autocommit() {
        w.fail_group("the transaction was rolled back by SQLite");
        return;
    }
    if w.group.as_ref().is_none_or(|g| g.waiting == 0) {
        w.fail_group("rolled back");
        return;
    }
    let undone = w
        .conn
        .execute_batch(&format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"));
    if let Err(err) = undone {
        tracing::warn!(error = %err, "sqlite: rolling back a savepoint failed");
        w.fail_group("rolling back a member's savepoint failed");
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if let Some(mut w) = self.writer.take() {
            abandon(&mut w);
        }
    }
}

/// Commits a group whose member stopped waiting (its future was dropped, e.g. the request timed
/// out) so that the member's work, already released into the group, is not left open.
struct FinishOnCancel {
    lock: Option<Arc<AsyncMutex<Writer>>>,
    group_id: u64,
}

impl Drop for FinishOnCancel {
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return;
        };
        let group_id = self.group_id;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut w = lock.lock().await;
                if w.group.as_ref().is_some_and(|g| g.id == group_id) {
                    let _ = w.finish_group();
                }
            });
        }
        // Without a runtime the next transaction joins the group and commits it.
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
    // Savepoint sub-journals (one per store transaction, see `SqliteTx`) and sorts stay in
    // memory: on disk each was a temporary file created, written and unlinked (measured: 4 %
    // of the server's CPU in openat/close/unlink under load).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if reader {
        // A write that reached a reader by mistake fails loudly instead of taking the lock.
        conn.pragma_update(None, "query_only", true)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
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
        execute(
            tx.conn().unwrap(),
            "UPDATE counter SET n = 5 WHERE id = 1",
            &[],
        )
        .unwrap();
        drop(tx);
        assert_eq!(count(&db).await, 0);
        let tx = db.begin().await.unwrap();
        execute(
            tx.conn().unwrap(),
            "UPDATE counter SET n = 6 WHERE id = 1",
            &[],
        )
        .unwrap();
        // Readers see only committed data.
        assert_eq!(count(&db).await, 0);
        tx.commit().await.unwrap();
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
                    let (n,): (i64,) = optional(tx.conn().unwrap(), "SELECT n FROM counter", &[])
                        .unwrap()
                        .unwrap();
                    // Another task runs here; the open transaction must keep it out.
                    tokio::task::yield_now().await;
                    execute(
                        tx.conn().unwrap(),
                        "UPDATE counter SET n = $1",
                        &[Arg::from(n + 1)],
                    )
                    .unwrap();
                    tx.commit().await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(count(&db).await, 64);
        // The queue formed (each task yields inside its transaction), so transactions that
        // found others queued shared their COMMIT.
        let commits = db.commits().await;
        assert!(commits < 64, "{commits} COMMITs for 64 queued transactions");
    }

    #[tokio::test]
    async fn a_transaction_alone_commits_at_once_and_is_visible_when_commit_returns() {
        let (_dir, db) = db_with_counter().await;
        for n in 1..=3i64 {
            let tx = db.begin().await.unwrap();
            execute(
                tx.conn().unwrap(),
                "UPDATE counter SET n = $1",
                &[Arg::from(n)],
            )
            .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(count(&db).await, n, "a reader sees it once commit returned");
        }
        assert_eq!(db.commits().await, 3);
    }

    /// Waits until `n` tasks are queued for the writer.
    async fn until_queued(db: &SqliteDb, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db.queued.load(Ordering::Acquire) != n {
            assert!(std::time::Instant::now() < deadline, "never {n} queued");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn db_with_items() -> (tempfile::TempDir, Arc<SqliteDb>) {
        let (dir, db) = db_with_counter().await;
        db.write(|c| {
            execute(c, "CREATE TABLE item (name TEXT PRIMARY KEY)", &[])?;
            // Checked only at COMMIT: a way to make a group's COMMIT fail.
            execute(
                c,
                "CREATE TABLE child (parent TEXT NOT NULL REFERENCES item (name) \
                 DEFERRABLE INITIALLY DEFERRED)",
                &[],
            )
        })
        .await
        .unwrap();
        (dir, db)
    }

    async fn items(db: &SqliteDb) -> Vec<String> {
        let rows: Vec<(String,)> = db
            .read(|c| all(c, "SELECT name FROM item ORDER BY name", &[]))
            .await
            .unwrap();
        rows.into_iter().map(|(n,)| n).collect()
    }

    fn insert_item(tx: &SqliteTx, name: &str) {
        execute(
            tx.conn().unwrap(),
            "INSERT INTO item (name) VALUES ($1)",
            &[Arg::from(name)],
        )
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_waits_for_the_group_and_a_later_rollback_undoes_only_its_own_work() {
        let (_dir, db) = db_with_items().await;
        let first = db.begin().await.unwrap();
        insert_item(&first, "a");
        let second = tokio::spawn({
            let db = Arc::clone(&db);
            async move {
                let tx = db.begin().await.unwrap();
                insert_item(&tx, "b");
                tokio::time::sleep(Duration::from_millis(50)).await;
                drop(tx); // rolled back
            }
        });
        until_queued(&db, 1).await;
        let committing = tokio::spawn(first.commit());
        // The queued transaction got the writer: `first` handed it on, having joined the group
        // (someone was queued), and does not return before the group commits.
        until_queued(&db, 0).await;
        assert!(!committing.is_finished());
        assert!(
            items(&db).await.is_empty(),
            "nothing is visible before the COMMIT"
        );
        second.await.unwrap();
        committing.await.unwrap().unwrap();
        assert_eq!(items(&db).await, ["a"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_group_commit_fails_every_member_and_keeps_nothing() {
        let (_dir, db) = db_with_items().await;
        let first = db.begin().await.unwrap();
        insert_item(&first, "a");
        let second = tokio::spawn({
            let db = Arc::clone(&db);
            async move {
                let tx = db.begin().await.unwrap();
                insert_item(&tx, "b");
                // A dangling reference, detected only by the group's COMMIT.
                execute(
                    tx.conn().unwrap(),
                    "INSERT INTO child (parent) VALUES ('nobody')",
                    &[],
                )
                .unwrap();
                tx.commit().await
            }
        });
        until_queued(&db, 1).await;
        let first = tokio::spawn(first.commit());
        let second = second.await.unwrap();
        let first = first.await.unwrap();
        assert!(second.is_err(), "{second:?}");
        let first = first.unwrap_err();
        assert!(first.to_string().contains("group commit"), "{first}");
        assert!(items(&db).await.is_empty());
        // The writer is usable afterwards.
        let tx = db.begin().await.unwrap();
        insert_item(&tx, "c");
        tx.commit().await.unwrap();
        assert_eq!(items(&db).await, ["c"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_that_stops_waiting_still_gets_its_group_committed() {
        let (_dir, db) = db_with_items().await;
        let first = db.begin().await.unwrap();
        insert_item(&first, "a");
        // Takes the writer after `first` and keeps it until aborted.
        let holder = tokio::spawn({
            let db = Arc::clone(&db);
            async move {
                let _tx = db.begin().await.unwrap();
                std::future::pending::<()>().await;
            }
        });
        until_queued(&db, 1).await;
        let committing = tokio::spawn(first.commit());
        // The holder got the writer: `first` joined the group and waits.
        until_queued(&db, 0).await;
        committing.abort();
        assert!(committing.await.unwrap_err().is_cancelled());
        holder.abort();
        let _ = holder.await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while items(&db).await.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the abandoned group was never committed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(items(&db).await, ["a"]);
        assert_eq!(db.queued.load(Ordering::Acquire), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_outside_a_transaction_commits_a_waiting_group_first() {
        let (_dir, db) = db_with_items().await;
        let first = db.begin().await.unwrap();
        insert_item(&first, "a");
        let write = tokio::spawn({
            let db = Arc::clone(&db);
            async move {
                db.write(|c| execute(c, "INSERT INTO item (name) VALUES ('w')", &[]))
                    .await
            }
        });
        until_queued(&db, 1).await;
        first.commit().await.unwrap();
        write.await.unwrap().unwrap();
        assert_eq!(items(&db).await, ["a", "w"]);
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

    crate::db::db_row! {
        #[derive(Debug)]
        struct Named {
            first: String,
            second: i64,
            third: Option<String>,
        }
    }

    /// Fields are found by name whatever the order of the `SELECT`'s columns (the fast path
    /// guesses the next column and checks its name; any mismatch searches), case-insensitive
    /// as rusqlite's own lookup, and a missing column is an error, never a neighbour's value.
    #[tokio::test]
    async fn rows_decode_by_name_in_any_column_order() {
        let (_dir, db) = db_with_counter().await;
        let read = |sql: &'static str| db.read(move |c| optional::<Named>(c, sql, &[]));
        let expected = |row: Option<Named>| {
            let row = row.unwrap();
            assert_eq!((row.first.as_str(), row.second, row.third), ("a", 2, None));
        };
        expected(
            read("SELECT 'a' AS first, 2 AS second, NULL AS third")
                .await
                .unwrap(),
        );
        expected(
            read("SELECT NULL AS third, 'a' AS first, 2 AS second")
                .await
                .unwrap(),
        );
        expected(
            read("SELECT 2 AS second, 'x' AS other, NULL AS third, 'a' AS first")
                .await
                .unwrap(),
        );
        expected(
            read("SELECT 'a' AS FIRST, 2 AS Second, NULL AS third")
                .await
                .unwrap(),
        );
        let missing = read("SELECT 'a' AS first, 'b' AS secnd, NULL AS third").await;
        assert!(
            matches!(missing, Err(StoreError::Database(_))),
            "{missing:?}"
        );
    }

    /// Savepoint sub-journals must never become temporary files (see `open_connection`).
    #[tokio::test]
    async fn temporary_storage_stays_in_memory_on_every_connection() {
        let (_dir, db) = db_with_counter().await;
        let temp_store = |c: &Connection| {
            optional::<(i64,)>(c, "PRAGMA temp_store", &[]).map(|row| row.map(|(n,)| n))
        };
        let tx = db.begin().await.unwrap();
        // 2 = MEMORY (0 would be the compile-time default, a file).
        assert_eq!(temp_store(tx.conn().unwrap()).unwrap(), Some(2));
        assert_eq!(db.read(temp_store).await.unwrap(), Some(2));
        drop(tx);
    }

    /// Readers keep a small page cache, the writer SQLite's default (see `READER_CACHE_KIB`).
    #[tokio::test]
    async fn readers_keep_a_small_page_cache_and_the_writer_the_default() {
        let (_dir, db) = db_with_counter().await;
        let cache_size = |c: &Connection| {
            optional::<(i64,)>(c, "PRAGMA cache_size", &[]).map(|row| row.map(|(n,)| n))
        };
        // Negative: KiB rather than pages.
        assert_eq!(db.read(cache_size).await.unwrap(), Some(-READER_CACHE_KIB));
        let tx = db.begin().await.unwrap();
        assert_eq!(cache_size(tx.conn().unwrap()).unwrap(), Some(-2000));
        drop(tx);
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

    /// Pages in the WAL since it last started over (a `PASSIVE` checkpoint's `log`).
    fn wal_pages(conn: &Connection) -> i64 {
        passive_checkpoint(conn).unwrap().0
    }

    /// Commits `n` transactions of one 4 KiB blob each (at least one WAL page each).
    async fn commit_pages(db: &SqliteDb, n: usize) {
        for _ in 0..n {
            db.write(|c| {
                execute(
                    c,
                    "INSERT INTO blob (b) VALUES ($1)",
                    &[Arg::from(vec![1u8; 4000])],
                )
            })
            .await
            .unwrap();
        }
    }

    /// A pass that could not copy every frame (a reader's snapshot held it back, as commits
    /// during a pass do), then one more commit: the WAL pages after it, with or without the
    /// catch-up under the writer in between. Done well within the background thread's first
    /// wake-up ([`CHECKPOINT_EVERY`] after opening), which would otherwise copy for us.
    async fn wal_after_a_short_pass(catch_up: bool) -> i64 {
        let (dir, db) = db_with_counter().await;
        db.write(|c| execute(c, "CREATE TABLE blob (b BLOB NOT NULL)", &[]))
            .await
            .unwrap();
        let location = Location::File(dir.path().join("t.db"));
        let checkpointer = open_connection(&location, false).unwrap();
        commit_pages(&db, 50).await;
        let reader = open_connection(&location, true).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM blob", [], |r| r.get(0))
            .unwrap();
        commit_pages(&db, 5).await;
        let (log, copied) = passive_checkpoint(&checkpointer).unwrap();
        assert!(copied < log, "the reader's snapshot held the pass back");
        reader.execute_batch("COMMIT").unwrap();
        let checkpointer = if catch_up {
            let writer = Arc::clone(&db.writer);
            tokio::task::spawn_blocking(move || {
                catch_up_under_writer(&checkpointer, &writer).unwrap();
                checkpointer
            })
            .await
            .unwrap()
        } else {
            checkpointer
        };
        commit_pages(&db, 1).await;
        wal_pages(&checkpointer)
    }

    #[tokio::test]
    async fn a_pass_finished_under_the_writer_lets_the_wal_start_over() {
        // Without the catch-up the WAL goes on growing (to the writer's own backstop)...
        let grown = wal_after_a_short_pass(false).await;
        assert!(grown > 50, "{grown} pages");
        // ...with it, the next commit starts it over: only its own pages are in it.
        let restarted = wal_after_a_short_pass(true).await;
        assert!(restarted < 10, "{restarted} pages");
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
