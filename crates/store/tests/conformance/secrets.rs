//! Channel credentials versions, API keys and webhook secrets: the repositories that hand
//! out or hold secrets.

use paygate_core::{Clock, ProviderKind};
use paygate_store::{Page, Scope, StoreError};
use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use crate::fixtures::{self, CREDENTIALS};
use crate::harness::Ctx;

pub async fn channel_versions(ctx: Ctx) {
    let audit = ctx.audit();
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let channels = ctx.store.channels();
    let (t, ch) = (&shop.tenant, &shop.channel);

    let err = channels
        .retire_version(&audit, t, ch, 1)
        .await
        .expect_err("current");
    assert!(
        matches!(err, StoreError::RetireCurrentVersion { version: 1 }),
        "{err:?}"
    );

    let v2 = channels
        .add_credentials_version(
            &audit,
            t,
            ch,
            &SecretString::from("{\"v\":2}"),
            &fixtures::summary("SERIAL2"),
        )
        .await
        .expect("v2");
    assert_eq!((v2.version, v2.is_current), (2, true));
    assert_eq!(v2.merchant_serial.as_deref(), Some("SERIAL2"));
    let (current, doc) = channels.current_credentials(t, ch).await.expect("current");
    assert_eq!((current, doc.expose_secret()), (2, "{\"v\":2}"));
    let old = channels.credentials(t, ch, 1).await.expect("v1");
    assert_eq!(old.expose_secret(), CREDENTIALS);

    let retired = channels
        .retire_version(&audit, t, ch, 1)
        .await
        .expect("retire v1");
    assert!(retired.retired_at.is_some() && !retired.is_current);
    ctx.clock.advance(Duration::minutes(1));
    let again = channels
        .retire_version(&audit, t, ch, 1)
        .await
        .expect("idempotent");
    assert_eq!(again.retired_at, retired.retired_at);
    assert_eq!(
        channels
            .retire_version(&audit, t, ch, 9)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("not_found")
    );
    let err = channels
        .retire_version(&audit, t, ch, 2)
        .await
        .expect_err("current");
    assert_eq!(err.code(), "retire_current_version");

    let detail = channels.get(t, ch).await.expect("detail");
    assert_eq!(detail.channel.current_version, 2);
    let flags: Vec<_> = detail
        .versions
        .iter()
        .map(|v| (v.version, v.is_current))
        .collect();
    assert_eq!(flags, vec![(2, true), (1, false)]);

    // Credentials for another merchant number are refused.
    let mut wrong = fixtures::summary("S");
    wrong.mch_id = "999".parse().expect("mch");
    let err = channels
        .add_credentials_version(&audit, t, ch, &SecretString::from("{}"), &wrong)
        .await
        .expect_err("mch mismatch");
    assert_eq!(err.code(), "invalid");
    let mut new = fixtures::new_channel(ProviderKind::WechatV3);
    new.summary = wrong;
    assert_eq!(
        channels
            .create(&audit, t, &new)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
}

pub async fn api_keys_lifecycle(ctx: Ctx) {
    let audit = ctx.audit();
    let t = fixtures::tenant(&ctx, "A").await;
    let keys = ctx.store.api_keys();
    let created = keys
        .create(&audit, &t, "server", &[Scope::Read, Scope::OrdersWrite])
        .await
        .expect("create");
    let secret = created.secret.expose_secret().to_owned();
    assert!(secret.starts_with("pk_") && secret.len() >= 35);
    assert!(secret.starts_with(&created.key.prefix) && created.key.prefix.len() == 12);
    assert_eq!(created.key.scopes, vec![Scope::OrdersWrite, Scope::Read]);
    let stored = ctx.text("SELECT digest FROM api_keys").await;
    assert_ne!(stored, secret);
    assert_eq!(stored.len(), 64);

    let auth = keys
        .authenticate(&SecretString::from(secret.clone()))
        .await
        .expect("auth")
        .expect("known");
    assert_eq!(
        (auth.key.id.clone(), auth.tenant.id.clone()),
        (created.key.id.clone(), t.clone())
    );
    let first_use = keys
        .get(&t, &created.key.id)
        .await
        .expect("get")
        .last_used_at;
    assert_eq!(first_use, Some(ctx.clock.now()));
    // Within a minute, no write; after it, the time moves.
    ctx.clock.advance(Duration::seconds(30));
    keys.authenticate(&SecretString::from(secret.clone()))
        .await
        .expect("auth");
    assert_eq!(
        keys.get(&t, &created.key.id)
            .await
            .expect("get")
            .last_used_at,
        first_use
    );
    ctx.clock.advance(Duration::seconds(31));
    keys.authenticate(&SecretString::from(secret.clone()))
        .await
        .expect("auth");
    assert_eq!(
        keys.get(&t, &created.key.id)
            .await
            .expect("get")
            .last_used_at,
        Some(ctx.clock.now())
    );

    for bad in ["", "pk_", "sk_nope", &format!("{secret}x")] {
        let none = keys
            .authenticate(&SecretString::from(bad))
            .await
            .expect("auth");
        assert!(none.is_none(), "{bad}");
    }
    let revoked = keys
        .revoke(&audit, &t, &created.key.id)
        .await
        .expect("revoke");
    assert!(revoked.revoked_at.is_some());
    keys.revoke(&audit, &t, &created.key.id)
        .await
        .expect("idempotent");
    assert_eq!(
        ctx.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'api_key.revoke'")
            .await,
        1
    );
    assert!(
        keys.authenticate(&SecretString::from(secret))
            .await
            .expect("auth")
            .is_none()
    );
    assert_eq!(
        keys.create(&audit, &t, "none", &[])
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
    assert_eq!(
        keys.list(&t, &Page::first())
            .await
            .expect("list")
            .data
            .len(),
        1
    );
}

pub async fn webhooks_lifecycle(ctx: Ctx) {
    let audit = ctx.audit();
    let t = fixtures::tenant(&ctx, "A").await;
    let hooks = ctx.store.webhooks();
    assert!(hooks.get(&t).await.expect("get").is_none());
    assert_eq!(
        hooks
            .rotate_secret(&audit, &t)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("not_found")
    );
    let (endpoint, secret) = hooks
        .put_url(&audit, &t, "https://a.example/1")
        .await
        .expect("put");
    let secret = secret.expect("first put creates the secret");
    assert!(secret.expose_secret().starts_with("whsec_"));
    assert!(!endpoint.paused);
    let (endpoint, again) = hooks
        .put_url(&audit, &t, "https://a.example/2")
        .await
        .expect("put");
    assert!(again.is_none());
    assert_eq!(endpoint.url, "https://a.example/2");
    let stored = hooks.signing_secret(&t).await.expect("secret");
    assert_eq!(stored.expose_secret(), secret.expose_secret());
    let rotated = hooks.rotate_secret(&audit, &t).await.expect("rotate");
    assert_ne!(rotated.expose_secret(), secret.expose_secret());
    assert_eq!(
        hooks
            .signing_secret(&t)
            .await
            .expect("secret")
            .expose_secret(),
        rotated.expose_secret()
    );
    assert!(
        hooks
            .set_paused(&audit, &t, true)
            .await
            .expect("pause")
            .paused
    );
    assert_eq!(
        hooks
            .put_url(&audit, &t, " ")
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
}
