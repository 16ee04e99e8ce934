//! A throw-away PostgreSQL database per test, from `PAYGATE_TEST_POSTGRES_URL` (skipped when
//! unset, unless `PAYGATE_REQUIRE_POSTGRES=1`).

use rand::Rng;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> Option<TestDatabase> {
        let required = std::env::var("PAYGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Ok(admin_url) = std::env::var("PAYGATE_TEST_POSTGRES_URL") else {
            assert!(
                !required,
                "PAYGATE_REQUIRE_POSTGRES=1 but PAYGATE_TEST_POSTGRES_URL is unset"
            );
            eprintln!("skipping: PAYGATE_TEST_POSTGRES_URL is not set");
            return None;
        };
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if !required => {
                eprintln!("skipping: cannot reach PostgreSQL: {e}");
                return None;
            }
            Err(e) => panic!("PAYGATE_REQUIRE_POSTGRES=1 and PostgreSQL is unreachable: {e}"),
        };
        let name = format!("paygate_cli_{:016x}", rand::rng().random::<u64>());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &name);
        Some(TestDatabase {
            url,
            admin_url,
            name,
        })
    }

    pub async fn drop(self) {
        let mut admin = PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
    }
}

/// The same server URL naming database `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}
