//! The lookup cache: API keys (with their tenant), channels and the apps and channels a new
//! order may go to are answered from short-lived copies. A change made through the store is
//! seen at once; a change made by another instance within the time to live.

use std::sync::Arc;
use std::time::Duration;

use paygate_core::ProviderKind;
use paygate_store::{
    Channel, ChannelStatus, ChannelUpdate, Scope, Store, StoreOptions, TenantStatus, TenantUpdate,
};
use secrecy::SecretString;

use crate::fixtures;
use crate::harness::{Ctx, master};

async fn key_secret(
    ctx: &Ctx,
    tenant: &paygate_core::TenantId,
) -> (paygate_core::ApiKeyId, SecretString) {
    let created = ctx
        .store
        .api_keys()
        .create(&ctx.audit(), tenant, "server", &[Scope::OrdersWrite])
        .await
        .expect("key");
    (created.key.id, created.secret)
}

/// The key's tenant and key as authentication answers them; the key must be known.
async fn known(ctx: &Ctx, secret: &SecretString) -> paygate_store::Authenticated {
    ctx.store
        .api_keys()
        .authenticate(secret)
        .await
        .expect("auth")
        .expect("known")
}

/// The shop's channel as each payment path reads it: `lookup` (pay), `find` (notifications).
async fn seen_by_payments(ctx: &Ctx, shop: &fixtures::Shop) -> [Channel; 2] {
    let channels = ctx.store.channels();
    [
        channels
            .lookup(&shop.tenant, &shop.channel)
            .await
            .expect("lookup"),
        channels.find(&shop.channel).await.expect("find"),
    ]
}

/// How many apps a new order of the shop's tenant may go to (at most two are looked for).
async fn app_candidates(ctx: &Ctx, shop: &fixtures::Shop) -> usize {
    ctx.store
        .apps()
        .order_candidates(&shop.tenant, None)
        .await
        .expect("apps")
        .len()
}

/// Every cached read, then every change through the store, then the same reads: each shows
/// the change at once.
pub async fn cached_lookups_follow_changes_made_through_the_store(ctx: Ctx) {
    let audit = ctx.audit();
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let keys = ctx.store.api_keys();
    let channels = ctx.store.channels();
    let (key_id, secret) = key_secret(&ctx, &shop.tenant).await;

    // Fill the cache.
    let auth = known(&ctx, &secret).await;
    assert_eq!(auth.tenant.status, TenantStatus::Active);
    for channel in seen_by_payments(&ctx, &shop).await {
        assert_eq!(channel.current_version, 1);
    }
    let candidates = channels
        .order_candidates(&shop.tenant, None, None)
        .await
        .expect("candidates");
    assert_eq!(candidates.len(), 1);
    assert_eq!(app_candidates(&ctx, &shop).await, 1);

    // A suspended tenant is seen by the next authentication.
    ctx.store
        .tenants()
        .set_status(&audit, &shop.tenant, TenantStatus::Suspended)
        .await
        .expect("suspend");
    let auth = known(&ctx, &secret).await;
    assert_eq!(auth.tenant.status, TenantStatus::Suspended);
    ctx.store
        .tenants()
        .set_status(&audit, &shop.tenant, TenantStatus::Active)
        .await
        .expect("resume");

    // A new default channel, a rotated credentials version, a second channel and a second
    // app are all seen by the payment paths at once.
    let second = channels
        .create(
            &audit,
            &shop.tenant,
            &fixtures::new_channel(ProviderKind::WechatV3),
        )
        .await
        .expect("second channel")
        .channel
        .id;
    let candidates = channels
        .order_candidates(&shop.tenant, None, None)
        .await
        .expect("candidates");
    assert_eq!(candidates.len(), 2, "the new channel is a candidate");
    ctx.store
        .tenants()
        .update(
            &audit,
            &shop.tenant,
            &TenantUpdate {
                default_channel_id: Some(Some(second.clone())),
                ..TenantUpdate::default()
            },
        )
        .await
        .expect("default channel");
    let auth = known(&ctx, &secret).await;
    assert_eq!(auth.tenant.default_channel_id, Some(second.clone()));
    channels
        .add_credentials_version(
            &audit,
            &shop.tenant,
            &shop.channel,
            &SecretString::from("{\"v\":2}"),
            &fixtures::summary("S2"),
        )
        .await
        .expect("rotate");
    for channel in seen_by_payments(&ctx, &shop).await {
        assert_eq!(channel.current_version, 2);
    }
    fixtures::app(&ctx, &shop.tenant, "wxbbbb").await;
    assert_eq!(app_candidates(&ctx, &shop).await, 2);

    // A disabled channel stops being a candidate and is seen disabled.
    channels
        .update(
            &audit,
            &shop.tenant,
            &shop.channel,
            &ChannelUpdate {
                name: None,
                status: Some(ChannelStatus::Disabled),
            },
        )
        .await
        .expect("disable");
    for channel in seen_by_payments(&ctx, &shop).await {
        assert_eq!(channel.status, ChannelStatus::Disabled);
    }
    let candidates = channels
        .order_candidates(&shop.tenant, None, Some(&second))
        .await
        .expect("candidates");
    assert_eq!(
        candidates.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![second.clone()]
    );

    // A revoked key fails its very next authentication.
    keys.revoke(&audit, &shop.tenant, &key_id)
        .await
        .expect("revoke");
    assert!(!authenticates(&ctx.store, &secret).await);
}

/// A cached channel is still only its own tenant's.
pub async fn cached_channels_stay_in_their_tenant(ctx: Ctx) {
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let channels = ctx.store.channels();
    channels.lookup(&a.tenant, &a.channel).await.expect("own");
    channels.find(&a.channel).await.expect("find");
    let err = channels
        .lookup(&b.tenant, &a.channel)
        .await
        .expect_err("foreign");
    assert_eq!(err.code(), "not_found");
}

/// Whether `store` accepts the key.
async fn authenticates(store: &Store, secret: &SecretString) -> bool {
    store
        .api_keys()
        .authenticate(secret)
        .await
        .expect("auth")
        .is_some()
}

/// Another instance (here: a second store on the same database) keeps its copy for its
/// time to live, then reads the change; with a time to live of zero it reads every time.
pub async fn other_instances_see_changes_within_the_time_to_live(ctx: Ctx) {
    const TTL: Duration = Duration::from_secs(2);
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let (key_id, secret) = key_secret(&ctx, &shop.tenant).await;
    let other = |ttl| {
        Store::connect_with(
            &ctx.url,
            master(),
            Arc::new(ctx.clock.clone()),
            StoreOptions { lookup_ttl: ttl },
        )
    };
    let cached = other(TTL).await.expect("second instance");
    let uncached = other(Duration::ZERO).await.expect("third instance");
    assert!(authenticates(&cached, &secret).await);
    assert!(authenticates(&uncached, &secret).await);

    ctx.store
        .api_keys()
        .revoke(&ctx.audit(), &shop.tenant, &key_id)
        .await
        .expect("revoke");
    assert!(
        !authenticates(&uncached, &secret).await,
        "without a cache the revocation is seen at once"
    );
    assert!(
        authenticates(&cached, &secret).await,
        "the copy answers until it expires (this proves the cache is used)"
    );
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    assert!(
        !authenticates(&cached, &secret).await,
        "after the time to live the revocation is seen"
    );
    cached.close().await;
    uncached.close().await;
}
