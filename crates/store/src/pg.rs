//! The PostgreSQL connection pool: sqlx connections, checked out and back in without a round
//! trip.
//!
//! Why not sqlx's `PgPool`: it hands every released connection to a spawned task that pings
//! the server (a `Sync` and its `ReadyForQuery`) before the connection may be reused, so each
//! checkout costs one more round trip and one more task than its statements need (measured by
//! `paygate bench`: ~9 % of the server's samples; this pool cut CPU per payment by ~12 %). Here a
//! connection goes back to the idle list when its checkout is dropped, synchronously, unless
//! its state is in doubt:
//! - an operation on it was cancelled midway (the future dropped between sending and reading
//!   the reply): closed, never reused;
//! - an operation failed other than by the server refusing a statement (I/O, protocol,
//!   decoding, or a `FATAL` that ended the session): closed, so that a server restart does
//!   not leave dead connections in the pool;
//! - a transaction is still open on it (a [`PgTx`] dropped without commit): a spawned task
//!   sends `ROLLBACK` at once (its row locks must not wait for the connection's next
//!   checkout, which may never come while others wait on those locks) and then returns it.
//!
//! A connection idle for longer than [`PING_AFTER_IDLE`] is pinged before use: a restarted
//! server leaves dead connections behind, and a busy pool should not pay for finding out.
//! What this pool must never do: hand out a connection with a transaction open, or one whose
//! protocol state it cannot vouch for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSeverity};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections open at most.
const MAX_CONNECTIONS: usize = 10;
/// How long a checkout waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle connection older than this is pinged before use.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// A pool of PostgreSQL connections (cheap to clone: a handle).
#[derive(Clone)]
pub(crate) struct PgPool {
    inner: Arc<Inner>,
}

struct Inner {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    closed: AtomicBool,
}

struct Idle {
    conn: PgConnection,
    since: Instant,
}

impl Inner {
    /// Takes a connection back into the idle list (or closes it when the pool closed). The
    /// list needs no bound of its own: every connection holds one of `MAX_CONNECTIONS`
    /// permits until it is back.
    fn put_back(&self, conn: PgConnection) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Idle {
                conn,
                since: Instant::now(),
            });
    }
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The options hold the password: never print them.
        f.debug_struct("PgPool")
            .field("idle", &self.idle_count())
            .finish_non_exhaustive()
    }
}

impl PgPool {
    /// Parses `url` and opens one connection, so that a wrong URL or a server that is down
    /// fails at startup rather than on the first request.
    pub(crate) async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPool {
            inner: Arc::new(Inner {
                options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
                closed: AtomicBool::new(false),
            }),
        };
        let first = pool.acquire().await?;
        drop(first);
        Ok(pool)
    }

    /// A connection of its own until the returned checkout is dropped.
    pub(crate) async fn acquire(&self) -> Result<PgConn, sqlx::Error> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let permit =
            tokio::time::timeout(ACQUIRE_TIMEOUT, Arc::clone(&inner.permits).acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let idle = inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(mut idle) = idle else {
                let conn = PgConnection::connect_with(&inner.options).await?;
                return Ok(PgConn::new(conn, Arc::clone(inner), permit));
            };
            // A dead idle connection is dropped and the next one tried.
            if idle.since.elapsed() > PING_AFTER_IDLE && idle.conn.ping().await.is_err() {
                continue;
            }
            return Ok(PgConn::new(idle.conn, Arc::clone(inner), permit));
        }
    }

    /// Applies `migrator`'s pending migrations, on a connection of their own (sqlx's migrator
    /// takes its own kind of pool; startup pays for one more connection, once).
    pub(crate) async fn migrate(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<(), sqlx::migrate::MigrateError> {
        let once = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.inner.options.clone())
            .await?;
        let result = migrator.run(&once).await;
        once.close().await;
        result
    }

    /// Refuses further checkouts and closes the idle connections; checked-out ones close when
    /// returned.
    pub(crate) async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.permits.close();
        let idle = std::mem::take(
            &mut *self
                .inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for i in idle {
            // Best effort: the server drops a vanished client's session anyway.
            let _ = i.conn.close().await;
        }
    }

    fn idle_count(&self) -> usize {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A checked-out connection. Run each operation between [`PgConn::start`] and
/// [`PgConn::finish`], so that the pool knows whether the connection is fit to reuse.
pub(crate) struct PgConn {
    conn: Option<PgConnection>,
    pool: Arc<Inner>,
    /// Held until the connection is back in the idle list (or closed).
    permit: Option<OwnedSemaphorePermit>,
    /// An operation started and has not finished: if this is still set when the checkout is
    /// dropped, the operation was cancelled midway.
    busy: bool,
    /// The connection failed in a way that leaves its state unknown.
    broken: bool,
    /// A transaction is open on it.
    in_tx: bool,
}

impl PgConn {
    fn new(conn: PgConnection, pool: Arc<Inner>, permit: OwnedSemaphorePermit) -> PgConn {
        PgConn {
            conn: Some(conn),
            pool,
            permit: Some(permit),
            busy: false,
            broken: false,
            in_tx: false,
        }
    }

    /// The connection, for one operation; call [`PgConn::finish`] with its result. (A
    /// checkout holds its connection until dropped; the error cannot happen.)
    pub(crate) fn start(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.busy = true;
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Records how the operation begun by [`PgConn::start`] ended.
    pub(crate) fn finish<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.busy = false;
        self.broken |= !result.as_ref().err().is_none_or(leaves_connection_usable);
    }

    /// Runs a statement that opens or closes a transaction, and tracks which.
    async fn control(&mut self, sql: &'static str, opens: bool) -> Result<(), sqlx::Error> {
        let result = match self.start() {
            Ok(conn) => sqlx::raw_sql(sql).execute(conn).await.map(drop),
            Err(e) => Err(e),
        };
        self.finish(&result);
        if result.is_ok() {
            self.in_tx = opens;
        }
        result
    }
}

/// Whether the connection can serve another statement after `e`: the server refused a
/// statement (constraint, syntax, serialization) and said so in the protocol, or a row was
/// missing. A `FATAL` or `PANIC` from the server ended the session (a restart or
/// `pg_terminate_backend` says so before closing the socket); anything else (I/O, protocol,
/// decoding, TLS) leaves the connection in doubt.
fn leaves_connection_usable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::RowNotFound => true,
        sqlx::Error::Database(db) => !db
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        _ => false,
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.busy || self.broken {
            // Dropping the connection closes its socket; the server ends the session and
            // rolls back anything open on it.
            return;
        }
        if !self.in_tx {
            self.pool.put_back(conn);
            return;
        }
        // Outside a runtime, closing the socket is the rollback.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = Arc::clone(&self.pool);
        let permit = self.permit.take();
        runtime.spawn(async move {
            if sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.is_ok() {
                pool.put_back(conn);
            }
            drop(permit);
        });
    }
}

/// A transaction on a checked-out connection. Dropping it without [`PgTx::commit`] rolls
/// back: a spawned task sends `ROLLBACK` at once and then returns the connection (see
/// [`PgConn`]'s `Drop`).
pub(crate) struct PgTx {
    conn: PgConn,
}

impl std::fmt::Debug for PgTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTx").finish_non_exhaustive()
    }
}

impl PgTx {
    pub(crate) async fn begin(pool: &PgPool) -> Result<PgTx, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        conn.control("BEGIN", true).await?;
        Ok(PgTx { conn })
    }

    /// The connection the transaction runs on.
    pub(crate) fn conn(&mut self) -> &mut PgConn {
        &mut self.conn
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        // PostgreSQL ends the transaction whether COMMIT succeeds or fails; a COMMIT that
        // never got its answer leaves the connection broken, and it is closed.
        let result = self.conn.control("COMMIT", false).await;
        self.conn.in_tx = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_statement_leaves_the_connection_usable() {
        assert!(leaves_connection_usable(&sqlx::Error::RowNotFound));
        assert!(!leaves_connection_usable(&sqlx::Error::Io(
            std::io::Error::other("reset")
        )));
        assert!(!leaves_connection_usable(&sqlx::Error::Protocol(
            "bad".into()
        )));
        assert!(!leaves_connection_usable(&sqlx::Error::PoolTimedOut));
    }

    /// A pool on `PAYGATE_TEST_POSTGRES_URL`, or `None` (with the reason printed) when it is
    /// unset or unreachable and `PAYGATE_REQUIRE_POSTGRES=1` is not set.
    async fn pool() -> Option<PgPool> {
        let required = std::env::var("PAYGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Ok(url) = std::env::var("PAYGATE_TEST_POSTGRES_URL") else {
            assert!(
                !required,
                "PAYGATE_REQUIRE_POSTGRES=1 but PAYGATE_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipped: PAYGATE_TEST_POSTGRES_URL is not set");
            return None;
        };
        match PgPool::connect(&url).await {
            Ok(pool) => Some(pool),
            Err(e) if !required => {
                eprintln!("skipped: cannot reach PostgreSQL: {e}");
                None
            }
            Err(e) => panic!("PAYGATE_REQUIRE_POSTGRES=1 and PostgreSQL is unreachable: {e}"),
        }
    }

    async fn query_i64(conn: &mut PgConn, sql: &'static str) -> Result<i64, sqlx::Error> {
        let result = sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(conn.start().unwrap())
            .await;
        conn.finish(&result);
        result
    }

    /// Runs a statement without parameters, as the store runs one (start, finish).
    async fn run(conn: &mut PgConn, sql: &'static str) -> Result<(), sqlx::Error> {
        let result = sqlx::raw_sql(sql)
            .execute(conn.start().unwrap())
            .await
            .map(drop);
        conn.finish(&result);
        result
    }

    async fn backend_pid(pool: &PgPool) -> i64 {
        let mut conn = pool.acquire().await.unwrap();
        query_i64(&mut conn, "SELECT pg_backend_pid()::int8")
            .await
            .unwrap()
    }

    /// Waits (bounded) until `n` connections are idle: a rollback returns its connection
    /// from a spawned task.
    async fn wait_for_idle(pool: &PgPool, n: usize) {
        for _ in 0..200 {
            if pool.idle_count() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} idle connections, expected {n}", pool.idle_count());
    }

    #[tokio::test]
    async fn an_abandoned_transaction_releases_its_locks_at_once() {
        let Some(pool) = pool().await else { return };
        let key: i64 = rand::random();
        let mut tx = PgTx::begin(&pool).await.unwrap();
        let locked = sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(tx.conn().start().unwrap())
            .await;
        tx.conn().finish(&locked);
        locked.unwrap();
        // Another session waits for the lock while the transaction is dropped; nothing
        // checks the abandoned connection out again, so only a prompt rollback frees it.
        let mut waiter = pool.acquire().await.unwrap();
        drop(tx);
        let waited = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(waiter.start().unwrap()),
        )
        .await
        .expect("the abandoned transaction still holds its lock");
        waiter.finish(&waited);
        waited.unwrap();
        drop(waiter);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_returned_connection_is_reused_without_reconnecting() {
        let Some(pool) = pool().await else { return };
        let first = backend_pid(&pool).await;
        assert_eq!(
            backend_pid(&pool).await,
            first,
            "the same session serves again"
        );
        assert_eq!(pool.idle_count(), 1);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_is_rolled_back_before_reuse() {
        let Some(pool) = pool().await else { return };
        // A temporary table lives in one session: finding it again proves the reuse.
        let mut conn = pool.acquire().await.unwrap();
        run(&mut conn, "CREATE TEMP TABLE t (x int)").await.unwrap();
        drop(conn);

        let mut tx = PgTx::begin(&pool).await.unwrap();
        run(tx.conn(), "INSERT INTO t VALUES (1)").await.unwrap();
        drop(tx);
        wait_for_idle(&pool, 1).await;

        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(
            query_i64(&mut conn, "SELECT count(*) FROM t")
                .await
                .unwrap(),
            0
        );
        // No transaction that wrote is open on the session any more.
        assert_eq!(
            query_i64(
                &mut conn,
                "SELECT (txid_current_if_assigned() IS NULL)::int::int8"
            )
            .await
            .unwrap(),
            1
        );
        drop(conn);

        let mut tx = PgTx::begin(&pool).await.unwrap();
        run(tx.conn(), "INSERT INTO t VALUES (2)").await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(
            query_i64(&mut conn, "SELECT sum(x)::int8 FROM t")
                .await
                .unwrap(),
            2
        );
        drop(conn);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_refused_statement_keeps_the_connection() {
        let Some(pool) = pool().await else { return };
        let first = backend_pid(&pool).await;
        let mut conn = pool.acquire().await.unwrap();
        assert!(matches!(
            query_i64(&mut conn, "SELECT 1 / 0").await,
            Err(sqlx::Error::Database(_))
        ));
        drop(conn);
        assert_eq!(backend_pid(&pool).await, first);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_cancelled_operation_closes_the_connection() {
        let Some(pool) = pool().await else { return };
        let first = backend_pid(&pool).await;
        let mut conn = pool.acquire().await.unwrap();
        let slow = sqlx::raw_sql("SELECT pg_sleep(5)").execute(conn.start().unwrap());
        assert!(
            tokio::time::timeout(Duration::from_millis(100), slow)
                .await
                .is_err()
        );
        drop(conn);
        assert_eq!(pool.idle_count(), 0, "a connection in doubt is not kept");
        assert_ne!(backend_pid(&pool).await, first, "a new session serves");
        pool.close().await;
    }

    #[tokio::test]
    async fn a_connection_the_server_ended_is_replaced() {
        let Some(pool) = pool().await else { return };
        let victim = backend_pid(&pool).await;
        // Hold the idle one (the victim) and end its session from a second connection.
        let mut doomed = pool.acquire().await.unwrap();
        let mut killer = pool.acquire().await.unwrap();
        let killed = sqlx::query_scalar::<_, bool>("SELECT pg_terminate_backend($1::int4)")
            .bind(victim)
            .fetch_one(killer.start().unwrap())
            .await;
        killer.finish(&killed);
        assert!(killed.unwrap());
        drop(killer);
        let failed = query_i64(&mut doomed, "SELECT 1::int8").await;
        assert!(failed.is_err());
        drop(doomed);
        for _ in 0..3 {
            assert_ne!(backend_pid(&pool).await, victim);
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn a_closed_pool_refuses_checkouts() {
        let Some(pool) = pool().await else { return };
        pool.close().await;
        assert!(matches!(pool.acquire().await, Err(sqlx::Error::PoolClosed)));
    }
}
