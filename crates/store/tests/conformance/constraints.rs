//! Unique constraints surface as `Conflict` with their declared name on both backends, and
//! no tenant can reach another tenant's rows.

use paygate_core::ProviderKind;
use paygate_store::{ChannelUpdate, OrderFilter, Page, Role, StoreError, TenantUpdate};
use secrecy::SecretString;

use crate::fixtures::{self, APP_SECRET};
use crate::harness::Ctx;
use crate::seed;

fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict { constraint }) => constraint,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn unique_constraints_are_named_conflicts(ctx: Ctx) {
    let audit = ctx.audit();
    let store = &ctx.store;
    let hash = SecretString::from("$argon2id$v=19$m=15000,t=2,p=1$c2FsdA$aGFzaA");
    store
        .operators()
        .create(&audit, "alice", &hash, Role::Admin)
        .await
        .expect("operator");
    let dup = store
        .operators()
        .create(&audit, "alice", &hash, Role::Viewer)
        .await;
    assert_eq!(conflict(dup), "operators_username_key");

    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::tenant(&ctx, "B").await;
    let dup = store
        .apps()
        .create(
            &audit,
            &b,
            &a.appid,
            "Copy",
            &SecretString::from(APP_SECRET),
        )
        .await;
    assert_eq!(conflict(dup), "apps_appid_key");

    let dup = store
        .channels()
        .create(
            &audit,
            &a.tenant,
            &fixtures::new_channel(ProviderKind::WechatV2),
        )
        .await;
    assert_eq!(conflict(dup), "channels_tenant_kind_mch_key");
    // The same merchant under another kind, or in another tenant, is fine.
    store
        .channels()
        .create(
            &audit,
            &a.tenant,
            &fixtures::new_channel(ProviderKind::WechatV3),
        )
        .await
        .expect("other kind");
    store
        .channels()
        .create(&audit, &b, &fixtures::new_channel(ProviderKind::WechatV2))
        .await
        .expect("other tenant");

    let order = fixtures::order(&ctx, &a, "T20260301001", 100).await;
    let dup = store
        .orders()
        .create(
            &audit,
            &a.tenant,
            &fixtures::new_order(&a, "T20260301001", 200),
        )
        .await;
    assert_eq!(conflict(dup), "orders_tenant_out_trade_no_key");

    store
        .api_keys()
        .create(&audit, &a.tenant, "k", &[paygate_store::Scope::Read])
        .await
        .expect("key");
    store
        .webhooks()
        .put_url(&audit, &a.tenant, "https://a.example/hook")
        .await
        .expect("hook");
    seed::refund(&ctx, &a.tenant, &order, "R1", 10, "PROCESSING").await;
    seed::notification(&ctx, &a.tenant, &a.channel, "tx-1")
        .await
        .expect("notification");
    let event = seed::event(&ctx, &a.tenant).await;
    seed::delivery(&ctx, &a.tenant, &event, "pending").await;
    seed::alert(&ctx, Some(&a.tenant), false).await;
    ctx.exec(&format!(
        "INSERT INTO users (tenant_id, appid, openid, created_at, updated_at) \
         VALUES ('{}', 'wxaaaa', 'o1', 0, 0)",
        a.tenant
    ))
    .await
    .expect("user");

    // Each statement duplicates exactly one key of an existing row.
    let dup_rows: &[(&str, &str)] = &[
        (
            "meta_pkey",
            "INSERT INTO meta (key, value) SELECT key, 'x' FROM meta",
        ),
        (
            "operators_pkey",
            "INSERT INTO operators SELECT id, 'bob', password_hash, role, disabled, \
             token_version, created_at, updated_at FROM operators",
        ),
        (
            "tenants_pkey",
            "INSERT INTO tenants SELECT * FROM tenants WHERE name = 'A'",
        ),
        (
            "channels_pkey",
            "INSERT INTO channels SELECT id, (SELECT id FROM tenants WHERE name = 'B'), kind, \
             '999', name, status, current_version, created_at, updated_at FROM channels \
             WHERE kind = 'wechat-v3'",
        ),
        (
            "channel_credentials_pkey",
            "INSERT INTO channel_credentials SELECT * FROM channel_credentials \
             WHERE merchant_serial = 'SERIAL1' AND channel_id = (SELECT MIN(id) FROM channels)",
        ),
        (
            "api_keys_pkey",
            "INSERT INTO api_keys SELECT id, tenant_id, name, prefix, 'other-digest', scopes, \
             created_at, last_used_at, revoked_at FROM api_keys",
        ),
        (
            "api_keys_digest_key",
            "INSERT INTO api_keys SELECT 'key_dup', tenant_id, name, prefix, digest, scopes, \
             created_at, last_used_at, revoked_at FROM api_keys",
        ),
        (
            "webhook_endpoints_pkey",
            "INSERT INTO webhook_endpoints SELECT * FROM webhook_endpoints",
        ),
        (
            "users_appid_openid_key",
            "INSERT INTO users SELECT * FROM users",
        ),
        (
            "orders_pkey",
            "INSERT INTO orders SELECT id, (SELECT id FROM tenants WHERE name = 'B'), appid, \
             channel_id, 'OTHER0001', amount, \
             currency, description, attach, trade_type, state, payer_openid, prepay_id, \
             prepay_expires_at, code_url, transaction_id, client_ip, expires_at, paid_at, \
             refunded_amount, created_at, updated_at, claimed_until FROM orders",
        ),
        (
            "refunds_pkey",
            "INSERT INTO refunds SELECT id, tenant_id, order_id, 'R2', amount, reason, state, \
             refund_id, created_at, updated_at, succeeded_at, claimed_until FROM refunds",
        ),
        (
            "refunds_tenant_out_refund_no_key",
            "INSERT INTO refunds SELECT 'ref_dup', tenant_id, order_id, out_refund_no, amount, \
             reason, state, refund_id, created_at, updated_at, succeeded_at, claimed_until FROM refunds",
        ),
        (
            "notifications_pkey",
            "INSERT INTO notifications SELECT id, tenant_id, channel_id, kind, 'tx-2', \
             verified, outcome, raw_body, received_at FROM notifications",
        ),
        (
            "notifications_dedupe_key",
            "INSERT INTO notifications SELECT 'ntf_dup', tenant_id, channel_id, kind, \
             dedupe_key, verified, outcome, raw_body, received_at FROM notifications",
        ),
        (
            "events_pkey",
            "INSERT INTO events (id, tenant_id, event_type, payload, created_at, order_id) \
             SELECT id, (SELECT id FROM tenants WHERE name = 'B'), \
             event_type, payload, created_at, order_id FROM events",
        ),
        (
            "webhook_deliveries_pkey",
            "INSERT INTO webhook_deliveries SELECT * FROM webhook_deliveries",
        ),
        ("alerts_pkey", "INSERT INTO alerts SELECT * FROM alerts"),
        (
            "audit_log_pkey",
            "INSERT INTO audit_log SELECT * FROM audit_log WHERE action = 'order.create'",
        ),
    ];
    for (name, sql) in dup_rows {
        assert_eq!(conflict(ctx.exec(sql).await), *name, "{sql}");
    }
}

pub async fn tenants_cannot_reach_each_other(ctx: Ctx) {
    let audit = ctx.audit();
    let store = &ctx.store;
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let order = fixtures::order(&ctx, &a, "T20260301001", 100).await;
    let key = store
        .api_keys()
        .create(&audit, &a.tenant, "k", &[paygate_store::Scope::Read])
        .await
        .expect("key")
        .key;
    store
        .webhooks()
        .put_url(&audit, &a.tenant, "https://a.example/hook")
        .await
        .expect("hook");
    let event = seed::event(&ctx, &a.tenant).await;
    seed::delivery(&ctx, &a.tenant, &event, "failed").await;
    seed::refund(&ctx, &a.tenant, &order, "R1", 10, "PROCESSING").await;
    let ntf = seed::notification(&ctx, &a.tenant, &a.channel, "tx")
        .await
        .expect("notification");

    let code = |e: StoreError| e.code();
    let t = &b.tenant;
    assert_eq!(
        store.apps().get(t, &a.appid).await.map_err(code).err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .apps()
            .app_secret(t, &a.appid)
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .channels()
            .get(t, &a.channel)
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .channels()
            .credentials(t, &a.channel, 1)
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .channels()
            .update(&audit, t, &a.channel, &ChannelUpdate::default())
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert_eq!(
        store.api_keys().get(t, &key.id).await.map_err(code).err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .api_keys()
            .revoke(&audit, t, &key.id)
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert_eq!(
        store.orders().get(t, &order).await.map_err(code).err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .orders()
            .transition(
                t,
                &order,
                paygate_core::OrderState::Created,
                paygate_core::OrderState::Pending,
                "x"
            )
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert_eq!(
        store
            .activity()
            .notification_body(t, &ntf)
            .await
            .map_err(code)
            .err(),
        Some("not_found")
    );
    assert!(store.webhooks().get(t).await.expect("get").is_none());
    let page = Page::first();
    assert_eq!(store.apps().list(t).await.expect("apps").len(), 1);
    assert_eq!(
        store
            .channels()
            .list(t, &page)
            .await
            .expect("ch")
            .data
            .len(),
        1
    );
    assert!(
        store
            .api_keys()
            .list(t, &page)
            .await
            .expect("keys")
            .data
            .is_empty()
    );
    assert!(
        store
            .orders()
            .list(t, &OrderFilter::default(), &page)
            .await
            .expect("orders")
            .data
            .is_empty()
    );
    let activity = store.activity();
    assert!(
        activity
            .refunds(t, None, &page)
            .await
            .expect("r")
            .data
            .is_empty()
    );
    assert!(
        activity
            .notifications(t, &page)
            .await
            .expect("n")
            .data
            .is_empty()
    );
    assert!(activity.events(t, &page).await.expect("e").data.is_empty());
    assert!(
        activity
            .deliveries(t, None, &page)
            .await
            .expect("d")
            .data
            .is_empty()
    );
    assert!(
        store
            .audit_log()
            .list(Some(t), &page)
            .await
            .expect("audit")
            .data
            .iter()
            .all(|e| e.tenant_id.as_ref() == Some(t))
    );

    // Cross-tenant references are refused: default channel, and orders on A's app/channel.
    let steal = TenantUpdate {
        default_channel_id: Some(Some(a.channel.clone())),
        ..TenantUpdate::default()
    };
    let err = store
        .tenants()
        .update(&audit, t, &steal)
        .await
        .expect_err("foreign channel");
    assert_eq!(err.code(), "invalid");
    let mut foreign = fixtures::new_order(&b, "T20260301002", 100);
    foreign.appid = a.appid.clone();
    let err = store
        .orders()
        .create(&audit, t, &foreign)
        .await
        .expect_err("foreign app");
    assert_eq!(err.code(), "not_found");
    let mut foreign = fixtures::new_order(&b, "T20260301002", 100);
    foreign.channel_id = a.channel.clone();
    let err = store
        .orders()
        .create(&audit, t, &foreign)
        .await
        .expect_err("foreign channel");
    assert_eq!(err.code(), "not_found");
    // Even raw SQL cannot point B's order at A's channel: the composite key refuses it.
    let raw = ctx
        .exec(&format!(
            "UPDATE orders SET tenant_id = '{}' WHERE id = '{order}'",
            b.tenant
        ))
        .await;
    assert!(matches!(raw, Err(StoreError::Database(_))), "{raw:?}");
}
