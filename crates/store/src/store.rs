//! [`Store`]: the handle every caller holds — connection pool, master key, clock, a small
//! cache of unwrapped tenant data keys and the lookup cache of the payment paths (see
//! `lookups`) — plus the master-key lifecycle (fingerprint check, rotation).
//!
//! The master key never touches the database; only its fingerprint does, so an instance
//! started with the wrong key stops before writing anything. Unwrapped data keys live only in
//! memory, in a bounded cache.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use paygate_core::{Clock, PlatformId, TenantId};
use rand::Rng;
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{Backend, Pool, Tx, args};
use crate::envelope::{DataKey, MasterKey, rewrap};
use crate::error::StoreError;
use crate::lookups::{DEFAULT_LOOKUP_TTL, Lookups};

const FINGERPRINT_KEY: &str = "master_key_fingerprint";

/// How a [`Store`] behaves beyond its database URL, master key and clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long a copy of an API key (with its tenant) or a channel may answer instead of
    /// the database (see the `lookups` module); zero reads the database every time. A change
    /// made through this store is seen at once; one made by another instance within this time.
    pub lookup_ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            lookup_ttl: DEFAULT_LOOKUP_TTL,
        }
    }
}

/// The persistence layer. Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    master: RwLock<Arc<MasterKey>>,
    clock: Arc<dyn Clock>,
    data_keys: moka::sync::Cache<String, Arc<DataKey>>,
    lookups: Lookups,
    /// The last id's (milliseconds, random bits), to keep ids strictly increasing.
    last_id: Mutex<(u64, u128)>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `sqlite:path/to/file.db` (the file and its directory are created if missing;
    /// WAL, foreign keys and a busy timeout are switched on) or `postgres://…`.
    ///
    /// Does not migrate or check the master key: call [`Store::migrate`] then
    /// [`Store::verify_master_key`] before serving.
    pub async fn connect(
        database_url: &str,
        master_key: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        Store::connect_with(database_url, master_key, clock, StoreOptions::default()).await
    }

    /// [`Store::connect`] with options other than the defaults.
    pub async fn connect_with(
        database_url: &str,
        master_key: MasterKey,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let pool = Pool::connect(database_url).await?;
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                master: RwLock::new(Arc::new(master_key)),
                clock,
                data_keys: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_idle(Duration::from_secs(3600))
                    .build(),
                lookups: Lookups::new(options.lookup_ttl),
                last_id: Mutex::new((0, 0)),
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.pool.backend()
    }

    /// Applies the embedded migrations for this backend (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.pool.migrate().await
    }

    /// One round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool()
            .one::<(i64,)>("SELECT CAST(1 AS BIGINT)", args![])
            .await?;
        Ok(())
    }

    /// Closes the pool (waits for checked-out connections to return).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// On first use records the master key's fingerprint; afterwards refuses a different key
    /// with [`StoreError::MasterKeyMismatch`].
    pub async fn verify_master_key(&self) -> Result<(), StoreError> {
        let configured = self.master().fingerprint();
        // ON CONFLICT DO NOTHING makes two instances starting at once agree on the first key.
        self.pool()
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                args![FINGERPRINT_KEY, configured.as_str()],
            )
            .await?;
        let (stored,): (String,) = self
            .pool()
            .one(
                "SELECT value FROM meta WHERE key = $1",
                args![FINGERPRINT_KEY],
            )
            .await?;
        if stored == configured {
            Ok(())
        } else {
            Err(StoreError::MasterKeyMismatch { stored, configured })
        }
    }

    /// Re-wraps every tenant's data key under `new` and records its fingerprint, in one
    /// transaction; the secrets themselves are untouched. Returns the number of tenants.
    ///
    /// This handle uses `new` afterwards. Other running instances still hold the old key and
    /// must be restarted with the new one (they fail closed: unwrapping fails).
    pub async fn rotate_master_key(
        &self,
        audit: &Audit,
        new: MasterKey,
    ) -> Result<u64, StoreError> {
        self.verify_master_key().await?;
        let old = self.master();
        let mut tx = self.write_tx().await?;
        let rows: Vec<(String, Vec<u8>)> = tx
            .all(
                "SELECT id, wrapped_data_key FROM tenants ORDER BY id",
                args![],
            )
            .await?;
        let now = self.now_ms();
        for (id, wrapped) in &rows {
            let rewrapped = rewrap(&old, &new, id, wrapped)?;
            tx.execute(
                "UPDATE tenants SET wrapped_data_key = $1, master_key_version = $2, \
                 updated_at = $3 WHERE id = $4",
                args![rewrapped, i64::from(new.version()), now, id],
            )
            .await?;
        }
        tx.execute(
            "UPDATE meta SET value = $1 WHERE key = $2",
            args![new.fingerprint(), FINGERPRINT_KEY],
        )
        .await?;
        let count = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        AuditRecord::platform("master_key.rotate", "master_key")
            .summary(serde_json::json!({
                "tenants": count,
                "old_fingerprint": old.fingerprint(),
                "new_fingerprint": new.fingerprint(),
                "new_version": new.version(),
            }))
            .write(self, &mut tx, audit)
            .await?;
        tx.commit().await?;
        *self
            .inner
            .master
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
        Ok(count)
    }

    // ---- crate-internal plumbing shared by the repositories ----

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    pub(crate) async fn write_tx(&self) -> Result<Tx, StoreError> {
        self.inner.pool.begin().await
    }

    pub(crate) fn lookups(&self) -> &Lookups {
        &self.inner.lookups
    }

    pub(crate) fn master(&self) -> Arc<MasterKey> {
        Arc::clone(
            &self
                .inner
                .master
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        crate::db::to_ms(self.now())
    }

    /// The time and random parts of the next id. Ids made by one process strictly increase
    /// (monotonic ULIDs): within one millisecond, or if the clock steps back, the previous
    /// random part is incremented instead of drawn, so "newest first" is exact write order.
    fn next_id_parts(&self) -> (u64, u128) {
        const RANDOM_MAX: u128 = (1 << 80) - 1;
        let now = u64::try_from(self.now_ms()).unwrap_or(0);
        let mut last = self
            .inner
            .last_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let next = if now > last.0 {
            // Leave headroom so increments within this millisecond cannot overflow.
            (now, rand::rng().random::<u128>() & (RANDOM_MAX >> 1))
        } else if last.1 < RANDOM_MAX {
            (last.0, last.1 + 1)
        } else {
            (last.0 + 1, 0)
        };
        *last = next;
        next
    }

    /// A new platform id stamped with the store's clock.
    pub(crate) fn new_id<T: PlatformId>(&self) -> T {
        let (ms, random) = self.next_id_parts();
        T::from_parts(ms, random)
    }

    pub(crate) fn new_channel_id(&self) -> paygate_core::ChannelId {
        let (ms, random) = self.next_id_parts();
        paygate_core::new_channel_id(ms, random)
    }

    pub(crate) fn remember_data_key(&self, tenant: &TenantId, key: DataKey) -> Arc<DataKey> {
        let key = Arc::new(key);
        self.inner
            .data_keys
            .insert(tenant.as_str().to_owned(), Arc::clone(&key));
        key
    }

    /// The tenant's data key, unwrapped once and cached. Call it before opening a transaction:
    /// on a single-connection SQLite pool a lookup inside one would wait for itself.
    pub(crate) async fn data_key(&self, tenant: &TenantId) -> Result<Arc<DataKey>, StoreError> {
        if let Some(key) = self.inner.data_keys.get(tenant.as_str()) {
            return Ok(key);
        }
        let row: Option<(Vec<u8>,)> = self
            .pool()
            .optional(
                "SELECT wrapped_data_key FROM tenants WHERE id = $1",
                args![tenant.as_str()],
            )
            .await?;
        let (wrapped,) = row.ok_or(StoreError::not_found("tenant"))?;
        let key = self.master().unwrap(tenant.as_str(), &wrapped)?;
        Ok(self.remember_data_key(tenant, key))
    }
}
