//! One throw-away database per test: a SQLite file in a fresh temporary directory, or a fresh
//! PostgreSQL database created on `PAYGATE_TEST_POSTGRES_URL` and dropped when the test ends
//! (even when it panics).
//!
//! [`both_backends!`] turns one `async fn name(backend: Backend)` into the tests
//! `name::sqlite` and `name::postgres`. The PostgreSQL variant is skipped, with the reason
//! printed, when the variable is unset, unless `PAYGATE_REQUIRE_POSTGRES=1`: then it fails.

use paygate_cli::config::{Config, DatabaseUrl};
use rand::Rng;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const POSTGRES_URL_VAR: &str = "PAYGATE_TEST_POSTGRES_URL";
const REQUIRE_POSTGRES_VAR: &str = "PAYGATE_REQUIRE_POSTGRES";

/// Which database engine a test runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// `admin_url` names an existing database we may create and drop databases from.
    Postgres {
        admin_url: String,
    },
}

impl Backend {
    /// The PostgreSQL backend, or `None` (with the reason on stderr) when it is not configured
    /// and not required.
    pub fn postgres() -> Option<Backend> {
        let required = std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v == "1");
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(admin_url) if !admin_url.is_empty() => Some(Backend::Postgres { admin_url }),
            _ if required => panic!(
                "{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is unset: the PostgreSQL \
                 variant of every end-to-end test must run"
            ),
            _ => {
                eprintln!("skipping the PostgreSQL variant: {POSTGRES_URL_VAR} is not set");
                None
            }
        }
    }
}

/// A database that exists for one test. Dropping it removes it.
#[derive(Debug)]
pub struct TestDb {
    /// Holds the SQLite file (and, for both backends, the data directory).
    dir: tempfile::TempDir,
    database_url: DatabaseUrl,
    postgres: Option<PgDatabase>,
}

#[derive(Debug)]
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl TestDb {
    pub async fn create(backend: &Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temporary data directory");
        match backend {
            Backend::Sqlite => TestDb {
                database_url: DatabaseUrl::sqlite_in(dir.path()),
                dir,
                postgres: None,
            },
            Backend::Postgres { admin_url } => {
                let name = format!("paygate_e2e_{:016x}", rand::rng().random::<u64>());
                let mut admin = PgConnection::connect(admin_url).await.unwrap_or_else(|e| {
                    panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}")
                });
                // The name is ours (letters, digits, underscore): safe to splice.
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("CREATE DATABASE");
                let _ = admin.close().await;
                TestDb {
                    database_url: DatabaseUrl::parse(&with_database(admin_url, &name))
                        .expect("PostgreSQL URL"),
                    dir,
                    postgres: Some(PgDatabase {
                        admin_url: admin_url.clone(),
                        name,
                    }),
                }
            }
        }
    }

    /// paygate's defaults pointed at this database, on an ephemeral port, with no key set:
    /// the caller decides the master key and JWT secret.
    pub fn config(&self) -> Config {
        let mut config = Config::defaults_in(self.dir.path());
        config.listen = "127.0.0.1:0".parse().expect("socket address");
        config.database_url = self.database_url.clone();
        config
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(pg) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any async context we could borrow (and possibly while unwinding),
        // so the DROP gets its own thread and runtime. FORCE ends connections a failed test
        // left open.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&pg.admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    pg.name
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test database: {e}"),
            Err(_) => eprintln!("the thread dropping the test database panicked"),
        }
    }
}

/// The same server URL naming database `name` (any query string kept).
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("PAYGATE_TEST_POSTGRES_URL is not a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// `both_backends!(a, b, …)`: for each `async fn a(backend: Backend)` in the current module,
/// the tests `a::sqlite` and `a::postgres`. Attributes before a name (`#[ignore = "…"]`)
/// apply to both.
macro_rules! both_backends {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        mod $name {
            $(#[$meta])*
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await;
            }

            $(#[$meta])*
            #[tokio::test]
            async fn postgres() {
                if let Some(backend) = $crate::harness::Backend::postgres() {
                    super::$name(backend).await;
                }
            }
        }
    )+};
}
pub(crate) use both_backends;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_replaces_the_path_only() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x_1"),
            "postgres://postgres@127.0.0.1:5432/x_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db/test?sslmode=disable", "x_1"),
            "postgres://u:p@db/x_1?sslmode=disable"
        );
    }
}
