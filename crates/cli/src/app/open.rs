//! Opening the store the way every command does: secrets first (generated only for SQLite),
//! then connect, migrate and check the master key against the database.

use std::sync::Arc;
use std::time::Duration;

use paygate_core::Clock;
use paygate_store::{Store, StoreOptions};
use secrecy::SecretString;

use super::StartError;
use crate::config::{Backend, Config, SecretSource};
use crate::keyfile::{self, Origin};

/// The store, opened, migrated and checked against the master key, and the JWT secret.
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    pub jwt_secret: SecretString,
    pub master_origin: Origin,
    pub jwt_origin: Origin,
}

/// Loads the secrets (generating missing key files for SQLite only), connects, migrates and
/// verifies the master key. Shared by `serve`, `migrate` and the `admin` commands.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> Result<Opened, StartError> {
    // SQLite keeps everything under data_dir and may create it; PostgreSQL creates nothing.
    let local = config.database_url.backend() == Backend::Sqlite;
    if local {
        keyfile::create_private_dir(&config.data_dir)?;
    }
    let (master_key, master_origin) = keyfile::master_key(&config.master_key, local)
        .map_err(|e| missing_or(e, "master key", "PAYGATE_MASTER_KEY", "master_key"))?;
    let (jwt_secret, jwt_origin) = keyfile::jwt_secret(&config.jwt_secret, local)
        .map_err(|e| missing_or(e, "JWT secret", "PAYGATE_JWT_SECRET", "jwt_secret"))?;
    let options = StoreOptions {
        lookup_ttl: Duration::from_millis(config.lookup_cache_ttl_ms),
    };
    let store =
        Store::connect_with(config.database_url.expose(), master_key, clock, options).await?;
    store.migrate().await?;
    if let Err(e) = store.verify_master_key().await {
        // A key generated a moment ago for a database that already has one would only be in
        // the way of putting the right key back.
        if let (Origin::Created, SecretSource::File(path)) = (master_origin, &config.master_key) {
            let _ = std::fs::remove_file(path);
        }
        store.close().await;
        return Err(e.into());
    }
    Ok(Opened {
        store,
        jwt_secret,
        master_origin,
        jwt_origin,
    })
}

fn missing_or(
    e: keyfile::KeyFileError,
    what: &'static str,
    env: &'static str,
    key: &'static str,
) -> StartError {
    match e {
        keyfile::KeyFileError::Missing { .. } => StartError::MissingSecret { what, env, key },
        other => StartError::KeyFile(other),
    }
}
