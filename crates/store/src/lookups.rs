//! Short-lived copies of the rows that every tenant request reads and that only an
//! administrator changes: API keys with their tenant, channels, and the apps and channels a
//! new order may go to.
//!
//! A payment reads its API key three times and its channel three times (create, pay, the
//! notification), and its app once; on PostgreSQL each read is a round trip. Here a copy is kept for at most
//! the configured time to live (`lookup_cache_ttl_ms`, default 1 s), so the database is read
//! about once per second per key and channel instead.
//!
//! What it must never do is keep a revoked key, a suspended tenant or a disabled channel
//! alive on the instance that made the change. Every change of those rows through the store
//! bumps a generation counter *after* its commit, and a copy is used only while its
//! generation is current. A copy made from a read that raced with the change carries the old
//! generation, so it is never used. Other instances (several servers on one PostgreSQL) see
//! the change when their copy expires: at most one time to live later.
//!
//! Only found rows are kept: an unknown API key costs a database read every time, so guessing
//! keys cannot fill the cache, and a key created elsewhere works at once.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use paygate_core::{AppId, ChannelId, TenantId};

use crate::error::StoreError;
use crate::repo::api_keys::Authenticated;
use crate::repo::apps::App;
use crate::repo::channels::Channel;

/// `lookup_cache_ttl_ms` when none is configured, in milliseconds.
pub const DEFAULT_LOOKUP_TTL_MS: u64 = 1_000;
/// [`DEFAULT_LOOKUP_TTL_MS`] as a duration.
pub const DEFAULT_LOOKUP_TTL: Duration = Duration::from_millis(DEFAULT_LOOKUP_TTL_MS);
/// Entries per kind; enough for every key and channel of a large platform.
const CAPACITY: u64 = 20_000;

/// Which channels `Channels::order_candidates` looked for: tenant, requested, default.
pub(crate) type ChannelCandidatesKey = (TenantId, Option<ChannelId>, Option<ChannelId>);
/// Which apps `Apps::order_candidates` looked for: tenant, requested.
pub(crate) type AppCandidatesKey = (TenantId, Option<AppId>);

/// The cached lookups of one [`crate::Store`]: one [`Copies`] per kind of lookup, all under
/// one generation.
pub(crate) struct Lookups {
    generation: AtomicU64,
    /// By the key's SHA-256 digest (hex): the secret itself is never a cache key.
    pub(crate) keys: Copies<String, Authenticated>,
    pub(crate) channels: Copies<ChannelId, Channel>,
    pub(crate) channel_candidates: Copies<ChannelCandidatesKey, Vec<Channel>>,
    pub(crate) app_candidates: Copies<AppCandidatesKey, Vec<App>>,
}

/// Copies of one kind of lookup's answers, each stamped with the generation it was read in;
/// no cache at all when the time to live is zero.
pub(crate) struct Copies<K, V>(Option<moka::sync::Cache<K, (u64, V)>>);

impl<K, V> Copies<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(ttl: Duration) -> Self {
        Copies((!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build()
        }))
    }
}

impl Lookups {
    pub(crate) fn new(ttl: Duration) -> Lookups {
        Lookups {
            generation: AtomicU64::new(0),
            keys: Copies::new(ttl),
            channels: Copies::new(ttl),
            channel_candidates: Copies::new(ttl),
            app_candidates: Copies::new(ttl),
        }
    }

    /// The generation to stamp on a copy: read it *before* reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes every copy made so far unusable. Call after committing a change of an API key,
    /// a tenant, a channel or an app.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The copy kept for `key`, if it is of the current generation.
    pub(crate) fn get<K, V, Q>(&self, copies: &Copies<K, V>, key: &Q) -> Option<V>
    where
        K: Borrow<Q> + Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
        Q: Hash + Eq + ?Sized,
    {
        copies
            .0
            .as_ref()?
            .get(key)
            .filter(|(generation, _)| *generation == self.generation())
            .map(|(_, value)| value)
    }

    /// Keeps `value`, read in `generation`, for `key`.
    pub(crate) fn keep<K, V>(&self, copies: &Copies<K, V>, generation: u64, key: K, value: &V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(cache) = &copies.0 {
            cache.insert(key, (generation, value.clone()));
        }
    }

    /// The current copy for `key`, else what `read` finds in the database (kept).
    pub(crate) async fn get_or_read<K, V, F>(
        &self,
        copies: &Copies<K, V>,
        key: K,
        read: F,
    ) -> Result<V, StoreError>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
        F: Future<Output = Result<V, StoreError>>,
    {
        if let Some(found) = self.get(copies, &key) {
            return Ok(found);
        }
        let generation = self.generation();
        let found = read.await?;
        self.keep(copies, generation, key, &found);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> Channel {
        use paygate_core::PlatformId;
        Channel {
            id: paygate_core::new_channel_id(1, 1),
            tenant_id: TenantId::from_parts(1, 1),
            kind: paygate_core::ProviderKind::WechatV2,
            mch_id: "1900000109".parse().expect("mch id"),
            name: "main".to_owned(),
            status: crate::ChannelStatus::Active,
            current_version: 1,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_copy_is_used_until_a_change_and_never_after() {
        let lookups = Lookups::new(Duration::from_secs(60));
        let ch = channel();
        assert_eq!(lookups.get(&lookups.channels, &ch.id), None);
        lookups.keep(&lookups.channels, lookups.generation(), ch.id.clone(), &ch);
        assert_eq!(lookups.get(&lookups.channels, &ch.id), Some(ch.clone()));
        lookups.invalidate();
        assert_eq!(lookups.get(&lookups.channels, &ch.id), None);
    }

    #[test]
    fn a_copy_read_before_a_change_but_kept_after_it_is_never_used() {
        let lookups = Lookups::new(Duration::from_secs(60));
        let ch = channel();
        let before = lookups.generation();
        lookups.invalidate(); // the change commits while the read is under way
        lookups.keep(&lookups.channels, before, ch.id.clone(), &ch);
        assert_eq!(lookups.get(&lookups.channels, &ch.id), None);
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let lookups = Lookups::new(Duration::ZERO);
        let ch = channel();
        lookups.keep(&lookups.channels, lookups.generation(), ch.id.clone(), &ch);
        assert_eq!(lookups.get(&lookups.channels, &ch.id), None);
    }

    #[test]
    fn copies_expire_after_their_time_to_live() {
        let lookups = Lookups::new(Duration::from_millis(50));
        let ch = channel();
        lookups.keep(&lookups.channels, lookups.generation(), ch.id.clone(), &ch);
        assert_eq!(lookups.get(&lookups.channels, &ch.id), Some(ch.clone()));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(lookups.get(&lookups.channels, &ch.id), None);
    }
}
