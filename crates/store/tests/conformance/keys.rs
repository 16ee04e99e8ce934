//! Migrations, the master key fingerprint, rotation, and ciphertexts bound to their rows.

use paygate_core::{PlatformId, TenantId};
use paygate_store::{Backend, MasterKey, StoreError};
use secrecy::{ExposeSecret, SecretString};

use crate::fixtures::{self, APP_SECRET, CREDENTIALS};
use crate::harness::{Ctx, master};

const TABLES: &[&str] = &[
    "meta",
    "operators",
    "tenants",
    "apps",
    "channels",
    "channel_credentials",
    "api_keys",
    "webhook_endpoints",
    "users",
    "orders",
    "order_transitions",
    "refunds",
    "notifications",
    "events",
    "webhook_deliveries",
    "alerts",
    "audit_log",
];

pub async fn migrations_apply(ctx: Ctx) {
    // Applying again is a no-op, and every table exists (and is empty but for meta).
    ctx.store.migrate().await.expect("second migrate");
    ctx.store.ping().await.expect("ping");
    for table in TABLES {
        let n = ctx.scalar(&format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, i64::from(*table == "meta"), "{table}");
    }
    let expected = if ctx.url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(ctx.backend(), expected);
}

pub async fn foreign_keys_are_enforced(ctx: Ctx) {
    let orphan = ctx
        .exec(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, digest, scopes, created_at) \
             VALUES ('key_x', 'ten_00000000000000000000000000', 'x', 'x', 'x', 'read', 0)",
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::Database(_))), "{orphan:?}");
}

pub async fn a_different_master_key_is_refused(ctx: Ctx) {
    let stored = ctx
        .text("SELECT value FROM meta WHERE key = 'master_key_fingerprint'")
        .await;
    assert_eq!(stored, master().fingerprint());

    let other = ctx.reopen(MasterKey::generate(1)).await;
    let err = other
        .verify_master_key()
        .await
        .expect_err("other key refused");
    assert_eq!(err.code(), "master_key_mismatch");
    assert!(err.to_string().contains(&stored), "{err}");

    let same = ctx.reopen(master()).await;
    same.verify_master_key().await.expect("same key accepted");
    other.close().await;
    same.close().await;
}

pub async fn rotation_rewraps_data_keys(ctx: Ctx) {
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::tenant(&ctx, "B").await;
    let (_, hook_secret) = ctx
        .store
        .webhooks()
        .put_url(&ctx.audit(), &b, "https://b.example/hook")
        .await
        .expect("webhook");
    let hook_secret = hook_secret.expect("first put returns the secret");
    let secrets_before = ctx
        .scalar("SELECT COUNT(*) FROM apps WHERE secret IS NOT NULL")
        .await;

    let new = MasterKey::generate(2);
    let new_hex = new.to_hex();
    let rotated = ctx
        .store
        .rotate_master_key(&ctx.audit(), new)
        .await
        .expect("rotate");
    assert_eq!(rotated, 2);
    assert_eq!(
        ctx.scalar("SELECT COUNT(*) FROM tenants WHERE master_key_version = 2")
            .await,
        2
    );
    assert_eq!(
        ctx.scalar("SELECT COUNT(*) FROM apps WHERE secret IS NOT NULL")
            .await,
        secrets_before
    );

    // A fresh process with the new key reads every secret; with the old key it is refused,
    // and even bypassing the fingerprint check the old key cannot unwrap anything.
    let new_key = || MasterKey::from_hex(2, new_hex.expose_secret()).expect("hex");
    let fresh = ctx.reopen(new_key()).await;
    fresh.verify_master_key().await.expect("new key verified");
    let secret = fresh.apps().app_secret(&a.tenant, &a.appid).await;
    assert_eq!(secret.expect("app secret").expose_secret(), APP_SECRET);
    let (version, doc) = fresh
        .channels()
        .current_credentials(&a.tenant, &a.channel)
        .await
        .expect("credentials");
    assert_eq!((version, doc.expose_secret()), (1, CREDENTIALS));
    let hook = fresh.webhooks().signing_secret(&b).await.expect("hook");
    assert_eq!(hook.expose_secret(), hook_secret.expose_secret());

    let old = ctx.reopen(master()).await;
    assert_eq!(
        old.verify_master_key().await.map_err(|e| e.code()),
        Err("master_key_mismatch")
    );
    let err = old
        .apps()
        .app_secret(&a.tenant, &a.appid)
        .await
        .expect_err("old key cannot unwrap");
    assert_eq!(err.code(), "secret_undecryptable");

    // The rotating handle itself switched keys.
    let same = ctx.store.apps().app_secret(&a.tenant, &a.appid).await;
    assert_eq!(same.expect("still readable").expose_secret(), APP_SECRET);
    let audit = ctx.store.audit_log().list(None, &Default::default()).await;
    assert_eq!(audit.expect("audit").data[0].action, "master_key.rotate");
    fresh.close().await;
    old.close().await;
}

pub async fn ciphertexts_cannot_move(ctx: Ctx) {
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let a2 = fixtures::app(&ctx, &a.tenant, "wxaaab").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let store = &ctx.store;
    store
        .apps()
        .set_secret(&ctx.audit(), &a.tenant, &a2, &SecretString::from("other"))
        .await
        .expect("set secret");

    // Same tenant, another row.
    ctx.exec(
        "UPDATE apps SET secret = (SELECT secret FROM apps WHERE appid = 'wxaaaa') \
         WHERE appid = 'wxaaab'",
    )
    .await
    .expect("copy within tenant");
    let err = store
        .apps()
        .app_secret(&a.tenant, &a2)
        .await
        .expect_err("moved");
    assert_eq!(err.code(), "secret_undecryptable");

    // Another tenant.
    ctx.exec(
        "UPDATE apps SET secret = (SELECT secret FROM apps WHERE appid = 'wxaaaa') \
         WHERE appid = 'wxbbbb'",
    )
    .await
    .expect("copy across tenants");
    let err = store
        .apps()
        .app_secret(&b.tenant, &b.appid)
        .await
        .expect_err("moved across tenants");
    assert_eq!(err.code(), "secret_undecryptable");

    // A credentials document copied onto another version of the same channel.
    store
        .channels()
        .add_credentials_version(
            &ctx.audit(),
            &a.tenant,
            &a.channel,
            &SecretString::from("{\"v\":2}"),
            &fixtures::summary("SERIAL2"),
        )
        .await
        .expect("v2");
    ctx.exec(
        "UPDATE channel_credentials SET document = (SELECT document FROM channel_credentials \
         WHERE version = 1 AND tenant_id = (SELECT tenant_id FROM apps WHERE appid = 'wxaaaa')) \
         WHERE version = 2",
    )
    .await
    .expect("copy version");
    let err = store
        .channels()
        .current_credentials(&a.tenant, &a.channel)
        .await
        .expect_err("moved version");
    assert_eq!(err.code(), "secret_undecryptable");

    // A data key swapped between tenants does not open either.
    ctx.exec(&format!(
        "UPDATE tenants SET wrapped_data_key = (SELECT wrapped_data_key FROM tenants \
         WHERE id = '{}') WHERE id = '{}'",
        a.tenant, b.tenant
    ))
    .await
    .expect("swap data key");
    let fresh = ctx.reopen(master()).await;
    let err = fresh
        .apps()
        .app_secret(&b.tenant, &b.appid)
        .await
        .expect_err("swapped key");
    assert_eq!(err.code(), "secret_undecryptable");
    fresh.close().await;
}

pub async fn unknown_tenants_are_not_found(ctx: Ctx) {
    let ghost = TenantId::from_parts(1, 1);
    let err = ctx
        .store
        .apps()
        .app_secret(&ghost, &"wxghost".parse().expect("appid"))
        .await
        .expect_err("no tenant");
    assert_eq!(err.code(), "not_found");
    let err = ctx
        .store
        .api_keys()
        .create(&ctx.audit(), &ghost, "k", &[paygate_store::Scope::Read])
        .await
        .expect_err("no tenant");
    assert_eq!(err.code(), "not_found");
}

/// Migration 0005: a payment writes no index it does not need. The unused delivery-schedule
/// index is gone and the payment-time index holds paid orders only — and the stats query still
/// finds them through it (`orders::stats_sum_per_day` checks the sums).
pub async fn payment_time_index_holds_paid_orders_only(ctx: Ctx) {
    let (definition, gone) = match ctx.backend() {
        Backend::Sqlite => (
            "SELECT sql FROM sqlite_master WHERE name = 'orders_paid_at_idx'",
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'webhook_deliveries_due_idx'",
        ),
        Backend::Postgres => (
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'orders_paid_at_idx'",
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'webhook_deliveries_due_idx'",
        ),
    };
    let definition = ctx.text(definition).await;
    assert!(
        definition
            .replace(['(', ')'], "")
            .contains("WHERE paid_at IS NOT NULL"),
        "{definition}"
    );
    assert_eq!(ctx.scalar(gone).await, 0);
}
