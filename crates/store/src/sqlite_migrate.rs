//! Applies sqlx's embedded SQLite migrations over a rusqlite connection, keeping sqlx's own
//! bookkeeping (`_sqlx_migrations`, same columns, same checksums), so a database migrated by
//! sqlx (paygate before the rusqlite engine, or `sqlx migrate`) is recognised, and the other
//! way round. The same checks as sqlx's migrator: a failed earlier migration, an applied
//! migration missing from this build, or an applied migration whose text changed stops here.

use rusqlite::{Connection, OptionalExtension};
use sqlx::migrate::{MigrateError, Migrator};

use crate::error::{StoreError, sqlite_err};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

pub(crate) fn run(conn: &Connection, migrator: &Migrator) -> Result<(), StoreError> {
    conn.execute_batch(CREATE_TABLE).map_err(sqlite_err)?;
    let dirty: Option<i64> = conn
        .query_row(
            "SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(sqlite_err)?;
    if let Some(version) = dirty {
        return Err(MigrateError::Dirty(version).into());
    }
    let applied: Vec<(i64, Vec<u8>)> = {
        let mut stmt = conn
            .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
            .map_err(sqlite_err)?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sqlite_err)?
            .collect::<Result<_, _>>()
            .map_err(sqlite_err)?
    };
    for (version, _) in &applied {
        if !migrator.version_exists(*version) {
            return Err(MigrateError::VersionMissing(*version).into());
        }
    }
    for migration in migrator.iter() {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        if let Some((_, checksum)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if checksum.as_slice() != &*migration.checksum {
                return Err(MigrateError::VersionMismatch(migration.version).into());
            }
            continue;
        }
        let failed = |err: rusqlite::Error| -> StoreError {
            MigrateError::Source(format!("migration {} failed: {err}", migration.version).into())
                .into()
        };
        // The script and its bookkeeping row commit together, so a migration never runs twice.
        if !migration.no_tx {
            conn.execute_batch("BEGIN IMMEDIATE").map_err(failed)?;
        }
        let applied = conn
            .execute_batch(migration.sql.as_str())
            .and_then(|()| {
                conn.execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                     execution_time) VALUES (?1, ?2, TRUE, ?3, -1)",
                    rusqlite::params![
                        migration.version,
                        &*migration.description,
                        &*migration.checksum
                    ],
                )
            })
            .and_then(|_| {
                if migration.no_tx {
                    Ok(())
                } else {
                    conn.execute_batch("COMMIT")
                }
            });
        if let Err(err) = applied {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            return Err(failed(err));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;
    use crate::db::SQLITE_MIGRATOR;

    fn rows(conn: &Connection) -> Vec<(i64, bool, Vec<u8>)> {
        let mut stmt = conn
            .prepare("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn expected() -> Vec<(i64, bool, Vec<u8>)> {
        SQLITE_MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, true, m.checksum.to_vec()))
            .collect()
    }

    async fn sqlx_migrate(path: &std::path::Path) -> Result<(), MigrateError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        let result = SQLITE_MIGRATOR.run(&pool).await;
        pool.close().await;
        result
    }

    #[tokio::test]
    async fn a_database_migrated_by_sqlx_is_recognised_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        sqlx_migrate(&path).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        let before = rows(&conn);
        assert_eq!(before, expected());
        run(&conn, &SQLITE_MIGRATOR).unwrap();
        assert_eq!(rows(&conn), before);
    }

    #[tokio::test]
    async fn sqlx_recognises_a_database_migrated_here() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let conn = Connection::open(&path).unwrap();
            run(&conn, &SQLITE_MIGRATOR).unwrap();
            assert_eq!(rows(&conn), expected());
            // The schema is really there, not only the bookkeeping.
            let tables: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(tables, 1);
        }
        sqlx_migrate(&path).await.unwrap();
        assert_eq!(rows(&Connection::open(&path).unwrap()), expected());
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let conn = Connection::open_in_memory().unwrap();
        run(&conn, &SQLITE_MIGRATOR).unwrap();
        run(&conn, &SQLITE_MIGRATOR).unwrap();
        assert_eq!(rows(&conn), expected());
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        run(&conn, &SQLITE_MIGRATOR).unwrap();
        let first = expected()[0].0;
        conn.execute(
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = ?1",
            [first],
        )
        .unwrap();
        let err = run(&conn, &SQLITE_MIGRATOR).unwrap_err();
        assert!(
            matches!(err, StoreError::Migrate(MigrateError::VersionMismatch(v)) if v == first),
            "{err:?}"
        );
    }

    #[test]
    fn a_half_applied_or_unknown_migration_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        run(&conn, &SQLITE_MIGRATOR).unwrap();
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99999999999999, 'later', TRUE, x'00', -1)",
            [],
        )
        .unwrap();
        let err = run(&conn, &SQLITE_MIGRATOR).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Migrate(MigrateError::VersionMissing(99999999999999))
            ),
            "{err:?}"
        );
        conn.execute(
            "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 99999999999999",
            [],
        )
        .unwrap();
        let err = run(&conn, &SQLITE_MIGRATOR).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Migrate(MigrateError::Dirty(99999999999999))
            ),
            "{err:?}"
        );
    }
}
