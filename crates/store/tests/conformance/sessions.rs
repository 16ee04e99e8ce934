//! Mini-program users, Idempotency-Key claims, and the notify path's channel lookups.

use paygate_core::{AppId, ChannelId, OpenId};
use paygate_store::{Claim, StoreError};
use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use crate::fixtures::{self, CREDENTIALS};
use crate::harness::Ctx;

pub async fn users_upsert_and_stay_in_their_tenant(ctx: Ctx) {
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let users = ctx.store.users();
    let openid: OpenId = "oUser0000001".parse().expect("openid");
    let first = users
        .upsert(
            &a.tenant,
            &a.appid,
            &openid,
            Some("uUnion1"),
            &SecretString::from("sk-one"),
        )
        .await
        .expect("upsert");
    assert_eq!(
        (first.unionid.as_deref(), &first.openid),
        (Some("uUnion1"), &openid)
    );
    ctx.clock.advance(Duration::minutes(1));
    let second = users
        .upsert(
            &a.tenant,
            &a.appid,
            &openid,
            None,
            &SecretString::from("sk-two"),
        )
        .await
        .expect("again");
    assert_eq!(
        second.unionid.as_deref(),
        Some("uUnion1"),
        "a login without unionid keeps it"
    );
    assert_eq!(second.created_at, first.created_at);
    assert!(second.updated_at > first.updated_at);
    let key = users
        .session_key(&a.tenant, &a.appid, &openid)
        .await
        .expect("key");
    assert_eq!(key.expose_secret(), "sk-two");
    let stored = ctx
        .scalar("SELECT COUNT(*) FROM users WHERE session_key IS NOT NULL")
        .await;
    assert_eq!(stored, 1);

    // Another tenant can neither read this user nor write into this app.
    let err = users
        .get(&b.tenant, &a.appid, &openid)
        .await
        .expect_err("get");
    assert_eq!(err.code(), "not_found");
    let err = users
        .session_key(&b.tenant, &a.appid, &openid)
        .await
        .expect_err("key");
    assert_eq!(err.code(), "not_found");
    let err = users
        .upsert(&b.tenant, &a.appid, &openid, None, &SecretString::from("x"))
        .await
        .expect_err("foreign app");
    assert_eq!(err.code(), "not_found");
    let unknown: AppId = "wxnone".parse().expect("appid");
    let err = users
        .get(&a.tenant, &unknown, &openid)
        .await
        .expect_err("app");
    assert_eq!(err.code(), "not_found");
    assert_eq!(
        users.get(&a.tenant, &a.appid, &openid).await.expect("get"),
        second
    );
}

pub async fn idempotency_claims(ctx: Ctx) {
    let a = fixtures::tenant(&ctx, "A").await;
    let b = fixtures::tenant(&ctx, "B").await;
    let idem = ctx.store.idempotency();

    assert_eq!(idem.claim(&a, "k1", "h1").await.expect("claim"), Claim::New);
    let busy = idem.claim(&a, "k1", "h1").await.expect("claim");
    assert_eq!(
        busy,
        Claim::InProgress {
            request_hash: "h1".into()
        }
    );
    assert_eq!(
        idem.claim(&b, "k1", "h9").await.expect("other tenant"),
        Claim::New
    );
    idem.complete(&a, "k1", 201, b"{\"id\":1}")
        .await
        .expect("complete");
    let done = Claim::Completed {
        request_hash: "h1".into(),
        status: 201,
        body: b"{\"id\":1}".to_vec(),
    };
    assert_eq!(idem.claim(&a, "k1", "h2").await.expect("replay"), done);
    let err = idem.complete(&a, "k1", 500, b"").await.expect_err("twice");
    assert_eq!(err.code(), "not_found");
    idem.release(&a, "k1")
        .await
        .expect("release keeps completed keys");
    assert_eq!(idem.claim(&a, "k1", "h1").await.expect("replay"), done);

    // A failed request releases its claim; a retry runs again.
    assert_eq!(idem.claim(&a, "k2", "h1").await.expect("claim"), Claim::New);
    idem.release(&a, "k2").await.expect("release");
    assert_eq!(idem.claim(&a, "k2", "h3").await.expect("retry"), Claim::New);
    idem.release(&a, "missing").await.expect("absent key");

    // After 24 hours the key is free again, whatever it held.
    ctx.clock
        .advance(Duration::hours(24) - Duration::milliseconds(1));
    assert_eq!(idem.claim(&a, "k1", "h2").await.expect("still"), done);
    ctx.clock.advance(Duration::milliseconds(1));
    assert_eq!(
        idem.claim(&a, "k1", "h2").await.expect("expired"),
        Claim::New
    );
    let busy = idem.claim(&a, "k1", "h1").await.expect("claim");
    assert_eq!(
        busy,
        Claim::InProgress {
            request_hash: "h2".into()
        }
    );

    let err = idem.claim(&a, "", "h").await.expect_err("blank");
    assert_eq!(err.code(), "invalid");
    let err = idem
        .claim(&a, &"k".repeat(256), "h")
        .await
        .expect_err("long");
    assert_eq!(err.code(), "invalid");
    let err = idem.complete(&a, "k2", 42, b"").await.expect_err("status");
    assert_eq!(err.code(), "invalid");
    let err = idem
        .complete(&b, "k2", 200, b"")
        .await
        .expect_err("other tenant's key");
    assert_eq!(err.code(), "not_found");

    // A claim neither completed nor released (its server was killed mid-request) holds its key
    // for the lease only; a completed key is kept for the whole TTL.
    assert_eq!(idem.claim(&a, "k4", "h4").await.expect("claim"), Claim::New);
    ctx.clock
        .advance(Duration::minutes(2) - Duration::milliseconds(1));
    assert_eq!(
        idem.claim(&a, "k4", "h4").await.expect("leased"),
        Claim::InProgress {
            request_hash: "h4".into()
        }
    );
    ctx.clock.advance(Duration::milliseconds(1));
    assert_eq!(
        idem.claim(&a, "k4", "h4").await.expect("lapsed"),
        Claim::New
    );
    idem.complete(&a, "k4", 201, b"{}").await.expect("complete");
    ctx.clock.advance(Duration::minutes(10));
    assert_eq!(
        idem.claim(&a, "k4", "h4").await.expect("kept"),
        Claim::Completed {
            request_hash: "h4".into(),
            status: 201,
            body: b"{}".to_vec(),
        }
    );

    // Of concurrent claims of one key exactly one wins.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (store, a) = (ctx.store.clone(), a.clone());
            tokio::spawn(async move { store.idempotency().claim(&a, "k3", "h").await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.expect("join").expect("claim") {
            Claim::New => winners += 1,
            Claim::InProgress { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

pub async fn notify_channel_lookups(ctx: Ctx) {
    let audit = ctx.audit();
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let channels = ctx.store.channels();

    let found = channels.find(&a.channel).await.expect("find");
    assert_eq!(
        (found.id.clone(), found.tenant_id.clone()),
        (a.channel.clone(), a.tenant.clone())
    );
    let unknown: ChannelId = paygate_core::new_channel_id(1, 1);
    let err = channels.find(&unknown).await.expect_err("unknown");
    assert_eq!(err.code(), "not_found");

    for doc in ["{\"v\":2}", "{\"v\":3}"] {
        channels
            .add_credentials_version(
                &audit,
                &a.tenant,
                &a.channel,
                &SecretString::from(doc),
                &fixtures::summary("S"),
            )
            .await
            .expect("version");
    }
    channels
        .retire_version(&audit, &a.tenant, &a.channel, 2)
        .await
        .expect("retire v2");
    let all = channels
        .all_credentials(&a.tenant, &a.channel)
        .await
        .expect("all");
    let all: Vec<_> = all.iter().map(|(v, d)| (*v, d.expose_secret())).collect();
    assert_eq!(all, vec![(3, "{\"v\":3}"), (1, CREDENTIALS)]);
    let err = channels
        .all_credentials(&b.tenant, &a.channel)
        .await
        .expect_err("foreign");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}
