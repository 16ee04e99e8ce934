//! Runs one async case against a fresh SQLite file and a fresh PostgreSQL database.
//!
//! PostgreSQL comes from `PAYGATE_TEST_POSTGRES_URL`: each case creates its own database on
//! that server and drops it afterwards, even when the case panics. Without the variable the
//! PostgreSQL variant is skipped with a printed reason — unless `PAYGATE_REQUIRE_POSTGRES=1`,
//! in which case it fails, as it does when the server cannot be reached.

use std::future::Future;
use std::io::Write;
use std::panic::resume_unwind;
use std::sync::{Arc, Once};
use std::time::Duration;

use paygate_core::ManualClock;
use paygate_store::{Audit, Backend, MasterKey, Store, StoreError};
use rand::Rng;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use time::macros::datetime;

pub const MASTER_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub fn master() -> MasterKey {
    MasterKey::from_hex(1, MASTER_HEX).expect("fixed master key parses")
}

/// Everything a case needs: a migrated, verified store on a manual clock, and a side door
/// for raw SQL (to corrupt rows on purpose or insert rows no API writes yet).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub store: Store,
    pub clock: ManualClock,
    pub url: String,
    raw: Raw,
}

#[derive(Debug, Clone)]
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Ctx {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub fn audit(&self) -> Audit {
        Audit {
            actor: "op_test".into(),
            request_id: Some("req-1".into()),
        }
    }

    /// Another handle on the same database with another master key (not verified).
    pub async fn reopen(&self, key: MasterKey) -> Store {
        Store::connect(&self.url, key, Arc::new(self.clock.clone()))
            .await
            .expect("reconnect")
    }

    /// Executes raw SQL (tests only), returning the mapped store error on failure.
    pub async fn exec(&self, sql: &str) -> Result<u64, StoreError> {
        let done = match &self.raw {
            Raw::Sqlite(p) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Raw::Postgres(p) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        };
        done.map_err(StoreError::from)
    }

    /// Runs a query returning one BIGINT.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.raw {
            Raw::Sqlite(p) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(p)
                    .await
            }
            Raw::Postgres(p) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(p)
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a query returning one TEXT.
    pub async fn text(&self, sql: &str) -> String {
        match &self.raw {
            Raw::Sqlite(p) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(p)
                    .await
            }
            Raw::Postgres(p) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(p)
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// A migrated store with the fixed master key recorded, on a manual clock.
async fn prepare(url: &str) -> (Store, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-03-01 08:00 UTC));
    let store = Store::connect(url, master(), Arc::new(clock.clone()))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
        .verify_master_key()
        .await
        .expect("first key is recorded");
    (store, clock)
}

async fn run_case<F, Fut>(ctx: Ctx, case: F) -> Result<(), tokio::task::JoinError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // A spawned task turns a panic into a JoinError, so cleanup still runs.
    tokio::spawn(case(ctx)).await
}

pub async fn sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    // A nested, missing directory: connect must create it.
    let url = format!("sqlite:{}/nested/paygate.db", dir.path().display());
    let (store, clock) = prepare(&url).await;
    let raw = SqlitePool::connect(&url).await.expect("raw sqlite");
    let ctx = Ctx {
        store: store.clone(),
        clock,
        url,
        raw: Raw::Sqlite(raw),
    };
    let outcome = run_case(ctx, case).await;
    store.close().await;
    if let Err(e) = outcome {
        resume_unwind(e.into_panic());
    }
}

pub async fn postgres<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let required = std::env::var("PAYGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Ok(base) = std::env::var("PAYGATE_TEST_POSTGRES_URL") else {
        assert!(
            !required,
            "PAYGATE_REQUIRE_POSTGRES=1 but PAYGATE_TEST_POSTGRES_URL is not set"
        );
        skip("PAYGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let admin = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(5))
        .connect(&base)
        .await;
    let admin = match admin {
        Ok(p) => p,
        Err(e) if !required => {
            skip(&format!("cannot reach {base}: {e}"));
            return;
        }
        Err(e) => panic!("PAYGATE_REQUIRE_POSTGRES=1 and PostgreSQL is unreachable: {e}"),
    };
    let name = format!("paygate_t_{:016x}", rand::rng().random::<u64>());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create test database");
    let url = with_database(&base, &name);
    let raw = PgPool::connect(&url).await.expect("raw postgres");
    let (store, clock) = prepare(&url).await;
    let ctx = Ctx {
        store: store.clone(),
        clock,
        url,
        raw: Raw::Postgres(raw.clone()),
    };
    let outcome = run_case(ctx, case).await;
    store.close().await;
    raw.close().await;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .expect("drop test database");
    admin.close().await;
    if let Err(e) = outcome {
        resume_unwind(e.into_panic());
    }
}

/// Says once per run, past the test harness's output capture, why PostgreSQL was skipped.
fn skip(reason: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping the PostgreSQL variants of the store conformance suite: {reason} \
             (set PAYGATE_REQUIRE_POSTGRES=1 to make this an error)"
        );
    });
}

/// The same server URL naming another database.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

/// Generates a SQLite and a PostgreSQL test for each case function.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::sqlite(crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::postgres(crate::$module::$case).await;
                }
            )*
        }
    };
}
pub(crate) use conformance;

#[test]
fn database_names_are_swapped_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
