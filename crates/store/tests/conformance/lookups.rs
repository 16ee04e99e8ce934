//! The lookup cache: API keys (with their tenant), channels and the apps and channels a new
//! order may go to are answered from short-lived copies. A change made through the store is
//! seen at once; a change made by another instance within the time to live.

use std::sync::Arc;
use std::time::Duration;

use paygate_core::ProviderKind;
use paygate_store::{
    ChannelStatus, ChannelUpdate, Scope, Store, StoreOptions, TenantStatus, TenantUpdate,
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

/// Every cached read, then every change through the store, then the same reads: each shows
/// the change at once.
pub async fn cached_lookups_follow_changes_made_through_the_store(ctx: Ctx) {
    let audit = ctx.audit();
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let keys = ctx.store.api_keys();
    let channels = ctx.store.channels();
    let apps = ctx.store.apps();
    let (key_id, secret) = key_secret(&ctx, &shop.tenant).await;

    // Fill the cache.
    let auth = keys
        .authenticate(&secret)
        .await
        .expect("auth")
        .expect("known");
    assert_eq!(auth.tenant.status, TenantStatus::Active);
    assert_eq!(
        channels
            .lookup(&shop.tenant, &shop.channel)
            .await
            .expect("lookup")
            .current_version,
        1
    );
    channels.find(&shop.channel).await.expect("find");
    let candidates = channels
        .order_candidates(&shop.tenant, None, None)
        .await
        .expect("candidates");
    assert_eq!(candidates.len(), 1);
    assert_eq!(
        apps.order_candidates(&shop.tenant, None)
            .await
            .expect("apps")
            .len(),
        1
    );

    // A suspended tenant is seen by the next authentication.
    ctx.store
        .tenants()
        .set_status(&audit, &shop.tenant, TenantStatus::Suspended)
        .await
        .expect("suspend");
    let auth = keys
        .authenticate(&secret)
        .await
        .expect("auth")
        .expect("known");
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
    let auth = keys
        .authenticate(&secret)
        .await
        .expect("auth")
        .expect("known");
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
    assert_eq!(
        channels
            .lookup(&shop.tenant, &shop.channel)
            .await
            .expect("lookup")
            .current_version,
        2
    );
    assert_eq!(
        channels
            .find(&shop.channel)
            .await
            .expect("find")
            .current_version,
        2
    );
    fixtures::app(&ctx, &shop.tenant, "wxbbbb").await;
    assert_eq!(
        apps.order_candidates(&shop.tenant, None)
            .await
            .expect("apps")
            .len(),
        2
    );

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
    assert_eq!(
        channels
            .lookup(&shop.tenant, &shop.channel)
            .await
            .expect("lookup")
            .status,
        ChannelStatus::Disabled
    );
    assert_eq!(
        channels.find(&shop.channel).await.expect("find").status,
        ChannelStatus::Disabled
    );
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
    assert!(keys.authenticate(&secret).await.expect("auth").is_none());
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
    assert!(
        cached
            .api_keys()
            .authenticate(&secret)
            .await
            .expect("auth")
            .is_some()
    );
    assert!(
        uncached
            .api_keys()
            .authenticate(&secret)
            .await
            .expect("auth")
            .is_some()
    );

    ctx.store
        .api_keys()
        .revoke(&ctx.audit(), &shop.tenant, &key_id)
        .await
        .expect("revoke");
    assert!(
        uncached
            .api_keys()
            .authenticate(&secret)
            .await
            .expect("auth")
            .is_none(),
        "without a cache the revocation is seen at once"
    );
    assert!(
        cached
            .api_keys()
            .authenticate(&secret)
            .await
            .expect("auth")
            .is_some(),
        "the copy answers until it expires (this proves the cache is used)"
    );
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    assert!(
        cached
            .api_keys()
            .authenticate(&secret)
            .await
            .expect("auth")
            .is_none(),
        "after the time to live the revocation is seen"
    );
    cached.close().await;
    uncached.close().await;
}
