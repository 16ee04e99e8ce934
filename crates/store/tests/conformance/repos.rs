//! Operators, tenants, and the audit trail every write leaves.

use paygate_store::{
    ChannelStatus, OperatorUpdate, Page, Role, Scope, TenantFilter, TenantStatus, TenantUpdate,
};
use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use crate::fixtures::{self, APP_SECRET, CREDENTIALS};
use crate::harness::Ctx;

const HASH: &str = "$argon2id$v=19$m=15000,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

pub async fn operators_lifecycle(ctx: Ctx) {
    let ops = ctx.store.operators();
    let audit = ctx.audit();
    assert_eq!(ops.count().await.expect("count"), 0);
    let alice = ops
        .create(&audit, "alice", &SecretString::from(HASH), Role::Admin)
        .await
        .expect("create");
    assert_eq!(
        (alice.role, alice.disabled, alice.token_version),
        (Role::Admin, false, 0)
    );
    assert_eq!(ops.count().await.expect("count"), 1);
    let login = ops
        .find_by_username("alice")
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(login.password_hash.expose_secret(), HASH);
    assert!(!format!("{login:?}").contains("argon2id"));
    assert!(
        ops.find_by_username("nobody")
            .await
            .expect("find")
            .is_none()
    );

    // A no-op update keeps tokens valid; role change and disabling each bump the version.
    let same = ops
        .update(&audit, &alice.id, &OperatorUpdate::default())
        .await
        .expect("noop");
    assert_eq!(same.token_version, 0);
    let viewer = OperatorUpdate {
        role: Some(Role::Viewer),
        disabled: None,
    };
    assert_eq!(
        ops.update(&audit, &alice.id, &viewer)
            .await
            .expect("role")
            .token_version,
        1
    );
    let disable = OperatorUpdate {
        role: None,
        disabled: Some(true),
    };
    let disabled = ops
        .update(&audit, &alice.id, &disable)
        .await
        .expect("disable");
    assert_eq!((disabled.disabled, disabled.token_version), (true, 2));
    ops.set_password_hash(&audit, &alice.id, &SecretString::from("$argon2id$new"))
        .await
        .expect("password");
    assert_eq!(ops.get(&alice.id).await.expect("get").token_version, 3);
    let bob = ops
        .create(&audit, "bob", &SecretString::from(HASH), Role::Viewer)
        .await
        .expect("bob");
    let listed = ops.list(&Page::first()).await.expect("list");
    assert_eq!(listed.data.len(), 2);
    assert!(listed.data.iter().any(|o| o.id == bob.id));
    assert_eq!(
        ops.create(&audit, "  ", &SecretString::from(HASH), Role::Admin)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
}

pub async fn tenants_lifecycle(ctx: Ctx) {
    let tenants = ctx.store.tenants();
    let audit = ctx.audit();
    let acme = tenants
        .create(&audit, "Acme 50%_Off", None)
        .await
        .expect("acme");
    assert_eq!(acme.status, TenantStatus::Active);
    let other = fixtures::tenant(&ctx, "Other").await;

    let by_name = |needle: &str| TenantFilter {
        status: None,
        name_contains: Some(needle.to_owned()),
    };
    let page = Page::first();
    let found = tenants.list(&by_name("acme"), &page).await.expect("list");
    assert_eq!(
        found.data.iter().map(|t| &t.id).collect::<Vec<_>>(),
        vec![&acme.id]
    );
    // Wildcards in the needle are literal.
    assert_eq!(
        tenants
            .list(&by_name("50%_"), &page)
            .await
            .expect("l")
            .data
            .len(),
        1
    );
    assert_eq!(
        tenants
            .list(&by_name("0%o"), &page)
            .await
            .expect("l")
            .data
            .len(),
        0
    );
    assert_eq!(
        tenants
            .list(&by_name("_"), &page)
            .await
            .expect("l")
            .data
            .len(),
        1
    );

    ctx.clock.advance(Duration::seconds(5));
    let suspended = tenants
        .set_status(&audit, &other, TenantStatus::Suspended)
        .await
        .expect("suspend");
    assert_eq!(suspended.status, TenantStatus::Suspended);
    assert!(suspended.updated_at > suspended.created_at);
    tenants
        .set_status(&audit, &other, TenantStatus::Suspended)
        .await
        .expect("again");
    let suspends = ctx
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.suspend'")
        .await;
    assert_eq!(suspends, 1, "a repeated suspend writes nothing");
    let filter = TenantFilter {
        status: Some(TenantStatus::Suspended),
        name_contains: None,
    };
    let only = tenants.list(&filter, &page).await.expect("list");
    assert_eq!(only.data.len(), 1);
    assert_eq!(only.data[0].id, other);

    let channel = fixtures::channel(&ctx, &acme.id).await;
    let update = TenantUpdate {
        name: Some("Acme".into()),
        contact_email: Some(Some("pay@acme.example".into())),
        default_channel_id: Some(Some(channel.clone())),
    };
    let updated = tenants
        .update(&audit, &acme.id, &update)
        .await
        .expect("update");
    assert_eq!(updated.name, "Acme");
    assert_eq!(updated.contact_email.as_deref(), Some("pay@acme.example"));
    assert_eq!(updated.default_channel_id.as_ref(), Some(&channel));
    // Disabling (soft-deleting) the default channel clears the default.
    let gone = ctx
        .store
        .channels()
        .delete(&audit, &acme.id, &channel)
        .await
        .expect("delete");
    assert_eq!(gone.status, ChannelStatus::Disabled);
    assert_eq!(
        tenants.get(&acme.id).await.expect("get").default_channel_id,
        None
    );
    let blank = TenantUpdate {
        name: Some(String::new()),
        ..TenantUpdate::default()
    };
    assert_eq!(
        tenants
            .update(&audit, &acme.id, &blank)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
}

pub async fn writes_are_audited_without_secrets(ctx: Ctx) {
    let audit = ctx.audit();
    let store = &ctx.store;
    store
        .operators()
        .create(&audit, "alice", &SecretString::from(HASH), Role::Admin)
        .await
        .expect("operator");
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let key = store
        .api_keys()
        .create(&audit, &shop.tenant, "k", &[Scope::Read])
        .await
        .expect("key");
    let (_, hook) = store
        .webhooks()
        .put_url(&audit, &shop.tenant, "https://a.example/hook")
        .await
        .expect("hook");
    let rotated = store
        .webhooks()
        .rotate_secret(&audit, &shop.tenant)
        .await
        .expect("rotate");
    store
        .channels()
        .add_credentials_version(
            &audit,
            &shop.tenant,
            &shop.channel,
            &SecretString::from("{\"apiv3_key\":\"SECRET-v3-key\"}"),
            &fixtures::summary("S2"),
        )
        .await
        .expect("v2");
    fixtures::order(&ctx, &shop, "T20260301001", 100).await;

    let entries = store
        .audit_log()
        .list(None, &Page::first())
        .await
        .expect("audit")
        .data;
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    for expected in [
        "operator.create",
        "tenant.create",
        "app.create",
        "channel.create",
        "api_key.create",
        "webhook.put",
        "webhook.rotate_secret",
        "channel.add_credentials",
        "order.create",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let hook = hook.expect("secret");
    let secrets = [
        APP_SECRET,
        CREDENTIALS,
        "SECRET-v3-key",
        key.secret.expose_secret(),
        hook.expose_secret(),
        rotated.expose_secret(),
        HASH,
    ];
    for e in &entries {
        assert_eq!(e.actor, "op_test");
        assert_eq!(e.request_id.as_deref(), Some("req-1"));
        let text = e.summary.to_string();
        for s in secrets {
            assert!(!text.contains(s), "{} leaks a secret: {text}", e.action);
        }
    }
    // Tenant writes carry the tenant; platform writes do not.
    let op = entries
        .iter()
        .find(|e| e.action == "operator.create")
        .expect("op");
    assert!(op.tenant_id.is_none());
    let app = entries
        .iter()
        .find(|e| e.action == "app.create")
        .expect("app");
    assert_eq!(app.tenant_id.as_ref(), Some(&shop.tenant));
    let only = store
        .audit_log()
        .list(Some(&shop.tenant), &Page::first())
        .await
        .expect("t");
    assert!(
        only.data
            .iter()
            .all(|e| e.tenant_id.as_ref() == Some(&shop.tenant))
    );
    assert_eq!(only.data.len(), entries.len() - 1);
}
