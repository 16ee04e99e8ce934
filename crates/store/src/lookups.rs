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

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use paygate_core::{AppId, ChannelId, TenantId};

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
type CandidatesKey = (TenantId, Option<ChannelId>, Option<ChannelId>);
/// Which apps `Apps::order_candidates` looked for: tenant, requested.
type AppCandidatesKey = (TenantId, Option<AppId>);

/// The cached lookups of one [`crate::Store`].
pub(crate) struct Lookups {
    generation: AtomicU64,
    /// `None` when caching is off (a time to live of zero).
    caches: Option<Caches>,
}

struct Caches {
    /// By the key's SHA-256 digest (hex): the secret itself is never a cache key.
    keys: moka::sync::Cache<String, (u64, Authenticated)>,
    channels: moka::sync::Cache<ChannelId, (u64, Channel)>,
    candidates: moka::sync::Cache<CandidatesKey, (u64, Vec<Channel>)>,
    apps: moka::sync::Cache<AppCandidatesKey, (u64, Vec<App>)>,
}

fn cache<K, V>(ttl: Duration) -> moka::sync::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(ttl)
        .build()
}

impl Lookups {
    pub(crate) fn new(ttl: Duration) -> Lookups {
        Lookups {
            generation: AtomicU64::new(0),
            caches: (!ttl.is_zero()).then(|| Caches {
                keys: cache(ttl),
                channels: cache(ttl),
                candidates: cache(ttl),
                apps: cache(ttl),
            }),
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

    fn current<V: Clone>(&self, entry: Option<(u64, V)>) -> Option<V> {
        entry
            .filter(|(generation, _)| *generation == self.generation())
            .map(|(_, value)| value)
    }

    pub(crate) fn key(&self, digest: &str) -> Option<Authenticated> {
        let caches = self.caches.as_ref()?;
        self.current(caches.keys.get(digest))
    }

    pub(crate) fn keep_key(&self, generation: u64, digest: String, found: &Authenticated) {
        if let Some(caches) = &self.caches {
            caches.keys.insert(digest, (generation, found.clone()));
        }
    }

    pub(crate) fn channel(&self, id: &ChannelId) -> Option<Channel> {
        let caches = self.caches.as_ref()?;
        self.current(caches.channels.get(id))
    }

    pub(crate) fn keep_channel(&self, generation: u64, found: &Channel) {
        if let Some(caches) = &self.caches {
            caches
                .channels
                .insert(found.id.clone(), (generation, found.clone()));
        }
    }

    pub(crate) fn candidates(&self, key: &CandidatesKey) -> Option<Vec<Channel>> {
        let caches = self.caches.as_ref()?;
        self.current(caches.candidates.get(key))
    }

    pub(crate) fn keep_candidates(&self, generation: u64, key: CandidatesKey, found: &[Channel]) {
        if let Some(caches) = &self.caches {
            caches.candidates.insert(key, (generation, found.to_vec()));
        }
    }

    pub(crate) fn app_candidates(&self, key: &AppCandidatesKey) -> Option<Vec<App>> {
        let caches = self.caches.as_ref()?;
        self.current(caches.apps.get(key))
    }

    pub(crate) fn keep_app_candidates(
        &self,
        generation: u64,
        key: AppCandidatesKey,
        found: &[App],
    ) {
        if let Some(caches) = &self.caches {
            caches.apps.insert(key, (generation, found.to_vec()));
        }
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
        assert_eq!(lookups.channel(&ch.id), None);
        lookups.keep_channel(lookups.generation(), &ch);
        assert_eq!(lookups.channel(&ch.id), Some(ch.clone()));
        lookups.invalidate();
        assert_eq!(lookups.channel(&ch.id), None);
    }

    #[test]
    fn a_copy_read_before_a_change_but_kept_after_it_is_never_used() {
        let lookups = Lookups::new(Duration::from_secs(60));
        let ch = channel();
        let before = lookups.generation();
        lookups.invalidate(); // the change commits while the read is under way
        lookups.keep_channel(before, &ch);
        assert_eq!(lookups.channel(&ch.id), None);
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let lookups = Lookups::new(Duration::ZERO);
        let ch = channel();
        lookups.keep_channel(lookups.generation(), &ch);
        assert_eq!(lookups.channel(&ch.id), None);
    }

    #[test]
    fn copies_expire_after_their_time_to_live() {
        let lookups = Lookups::new(Duration::from_millis(50));
        let ch = channel();
        lookups.keep_channel(lookups.generation(), &ch);
        assert_eq!(lookups.channel(&ch.id), Some(ch.clone()));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(lookups.channel(&ch.id), None);
    }
}
