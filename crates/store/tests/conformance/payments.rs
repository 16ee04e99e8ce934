//! The payment transaction (`StoreTx`): notification dedupe, transitions with their facts,
//! outbox events and alerts committed together or not at all; prepay and payer binding.

use paygate_core::{Clock, OpenId, OrderState, Transition};
use paygate_store::{
    AlertFilter, AlertSeverity, NewAlert, NotificationKind, OrderChange, OrderTradeType, Page,
    Prepay, Recorded, StoreError,
};
use time::Duration;
use time::macros::datetime;

use crate::fixtures::{self, payment_notification as notification};
use crate::harness::Ctx;

pub async fn notify_transaction_commits_together(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let other = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let id = fixtures::order(&ctx, &shop, "T20260301001", 100).await;
    let t = &shop.tenant;
    let paid_at = datetime!(2026-03-01 07:59:30 UTC);

    let mut tx = ctx.store.begin().await.expect("begin");
    let locked = tx.lock_order(t, &id).await.expect("lock");
    assert_eq!(locked.state, OrderState::Created);
    let Recorded::Inserted(nid) = tx
        .record_notification(&notification(&shop, "evt-1"))
        .await
        .expect("record")
    else {
        panic!("first notification is new");
    };
    let change = OrderChange {
        cause: "notify".into(),
        transaction_id: Some("4200000001".into()),
        paid_at: Some(paid_at),
        payer_openid: None,
    };
    let step = tx
        .transition_order(t, &id, OrderState::Created, OrderState::Paid, &change)
        .await;
    assert_eq!(step.expect("paid"), Transition::Applied);
    // A stale expectation is an error that leaves the transaction usable.
    let stale = tx
        .transition_order(t, &id, OrderState::Created, OrderState::Closed, &change)
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), "state_mismatch");
    let payload = serde_json::json!({ "order_id": id.as_str(), "amount": 100 });
    tx.append_event(t, "payment.succeeded", &payload, Some(&id))
        .await
        .expect("event");
    let alert = NewAlert {
        tenant_id: Some(t.clone()),
        kind: "amount_mismatch".into(),
        severity: AlertSeverity::Critical,
        message: "amount differs".into(),
        details: serde_json::json!({ "expected": 100, "got": 99 }),
        dedupe_key: None,
    };
    assert!(tx.raise_alert(&alert).await.expect("alert").is_some());
    tx.set_notification_outcome(t, &nid, "paid")
        .await
        .expect("outcome");
    let foreign = tx
        .set_notification_outcome(&other.tenant, &nid, "x")
        .await
        .expect_err("other tenant");
    assert_eq!(foreign.code(), "not_found");
    tx.commit().await.expect("commit");

    let detail = ctx.store.orders().get(t, &id).await.expect("order");
    assert_eq!(detail.order.state, OrderState::Paid);
    assert_eq!(detail.order.paid_at, Some(paid_at));
    assert_eq!(detail.order.transaction_id.as_deref(), Some("4200000001"));
    assert_eq!(
        detail.history.last().map(|h| h.cause.as_str()),
        Some("notify")
    );
    let activity = ctx.store.activity();
    let page = Page::first();
    let notes = activity.notifications(t, &page).await.expect("notes").data;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].id.clone(), notes[0].outcome.as_str()),
        (nid, "paid")
    );
    let events = activity.events(t, &page).await.expect("events").data;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload, payload);
    let filter = AlertFilter {
        tenant: Some(t.clone()),
        unresolved_only: true,
    };
    let alerts = activity.alerts(&filter, &page).await.expect("alerts").data;
    assert_eq!(
        (alerts.len(), alerts[0].details.clone()),
        (1, alert.details)
    );

    // WeChat retries: the duplicate is reported, and the same transaction still commits.
    let mut tx = ctx.store.begin().await.expect("begin");
    let dup = tx
        .record_notification(&notification(&shop, "evt-1"))
        .await
        .expect("dup");
    assert_eq!(dup, Recorded::Duplicate);
    let again = tx
        .transition_order(t, &id, OrderState::Created, OrderState::Paid, &change)
        .await;
    assert_eq!(again.expect("repeat"), Transition::NoOp);
    tx.append_event(t, "probe", &serde_json::json!({}), None)
        .await
        .expect("tx still usable after a duplicate");
    tx.commit().await.expect("commit after duplicate");
    assert_eq!(
        activity
            .notifications(t, &page)
            .await
            .expect("n")
            .data
            .len(),
        1
    );
    assert_eq!(activity.events(t, &page).await.expect("e").data.len(), 2);

    // The dedupe key is per channel and kind.
    let mut refund_kind = notification(&shop, "evt-1");
    refund_kind.kind = NotificationKind::Refund;
    let mut elsewhere = notification(&other, "evt-1");
    elsewhere.tenant_id = other.tenant.clone();
    let mut tx = ctx.store.begin().await.expect("begin");
    for n in [&refund_kind, &elsewhere] {
        let r = tx.record_notification(n).await.expect("record");
        assert!(matches!(r, Recorded::Inserted(_)), "{r:?}");
    }
    tx.commit().await.expect("commit");

    // Dropped without commit: nothing stays.
    let mut tx = ctx.store.begin().await.expect("begin");
    tx.record_notification(&notification(&shop, "evt-2"))
        .await
        .expect("record");
    tx.append_event(t, "lost", &serde_json::json!({}), Some(&id))
        .await
        .expect("event");
    drop(tx);
    assert_eq!(
        activity
            .notifications(t, &page)
            .await
            .expect("n")
            .data
            .len(),
        2
    );
    assert_eq!(activity.events(t, &page).await.expect("e").data.len(), 2);

    // Another tenant cannot lock or move this order.
    let mut tx = ctx.store.begin().await.expect("begin");
    let err = tx.lock_order(&other.tenant, &id).await.expect_err("lock");
    assert_eq!(err.code(), "not_found");
    let err = tx
        .transition_order(
            &other.tenant,
            &id,
            OrderState::Paid,
            OrderState::Refunded,
            &change,
        )
        .await
        .expect_err("move");
    assert_eq!(err.code(), "not_found");
}

fn jsapi(prepay_id: &str, ctx: &Ctx) -> Prepay {
    Prepay {
        trade_type: OrderTradeType::Jsapi,
        prepay_id: Some(prepay_id.to_owned()),
        code_url: None,
        prepay_expires_at: ctx.clock.now() + Duration::hours(2),
        client_ip: Some("198.51.100.1".into()),
    }
}

fn openid(s: &str) -> OpenId {
    s.parse().expect("openid")
}

pub async fn prepay_and_payer_rules(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let other = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let orders = ctx.store.orders();
    let t = &shop.tenant;
    let mut unbound = fixtures::new_order(&shop, "T000001", 100);
    unbound.payer_openid = None;
    let id = orders
        .create(&ctx.audit(), t, &unbound)
        .await
        .expect("order")
        .id;
    let (alice, bob) = (openid("oAlice000000"), openid("oBob00000000"));

    let err = orders
        .set_prepay(t, &id, &jsapi("wx1", &ctx), None)
        .await
        .expect_err("JSAPI needs a payer");
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "payer_openid",
                ..
            }
        ),
        "{err:?}"
    );
    let mut no_id = jsapi("wx1", &ctx);
    no_id.prepay_id = None;
    let err = orders.set_prepay(t, &id, &no_id, Some(&alice)).await;
    assert!(
        matches!(
            err,
            Err(StoreError::Invalid {
                field: "prepay_id",
                ..
            })
        ),
        "{err:?}"
    );
    let err = orders
        .set_prepay(&other.tenant, &id, &jsapi("wx1", &ctx), Some(&alice))
        .await;
    assert_eq!(err.map_err(|e| e.code()).err(), Some("not_found"));
    assert_eq!(
        orders.get(t, &id).await.expect("get").order.payer_openid,
        None
    );

    let pending = orders
        .set_prepay(t, &id, &jsapi("wx1", &ctx), Some(&alice))
        .await
        .expect("prepay");
    assert_eq!(pending.state, OrderState::Pending);
    assert_eq!(pending.payer_openid.as_ref(), Some(&alice));
    assert_eq!(pending.prepay_id.as_deref(), Some("wx1"));
    assert_eq!(
        pending.prepay_expires_at,
        Some(ctx.clock.now() + Duration::hours(2))
    );
    assert_eq!(pending.client_ip.as_deref(), Some("198.51.100.1"));

    // Renewing keeps PENDING and writes no history; the same payer is a no-op.
    ctx.clock.advance(Duration::hours(3));
    let renewed = orders
        .set_prepay(t, &id, &jsapi("wx2", &ctx), Some(&alice))
        .await
        .expect("renew");
    assert_eq!(
        (renewed.state, renewed.prepay_id.as_deref()),
        (OrderState::Pending, Some("wx2"))
    );
    let err = orders
        .set_prepay(t, &id, &jsapi("wx3", &ctx), Some(&bob))
        .await
        .expect_err("someone else's order");
    assert!(matches!(err, StoreError::PayerMismatch), "{err:?}");
    assert_eq!(err.code(), "payer_mismatch");
    let err = orders.bind_payer(t, &id, &bob).await.expect_err("bob");
    assert!(matches!(err, StoreError::PayerMismatch));
    let same = orders
        .bind_payer(t, &id, &alice)
        .await
        .expect("alice again");
    assert_eq!(same.prepay_id.as_deref(), Some("wx2"));

    // NATIVE needs a code_url, and may be paid after a failure (PAY_ERROR → PENDING).
    let mut native = jsapi("unused", &ctx);
    native.trade_type = OrderTradeType::Native;
    native.prepay_id = None;
    let err = orders.set_prepay(t, &id, &native, None).await;
    assert!(
        matches!(
            err,
            Err(StoreError::Invalid {
                field: "code_url",
                ..
            })
        ),
        "{err:?}"
    );
    orders
        .transition(t, &id, OrderState::Pending, OrderState::PayError, "notify")
        .await
        .expect("pay error");
    native.code_url = Some("weixin://wxpay/bizpayurl?pr=abc".into());
    let retried = orders
        .set_prepay(t, &id, &native, None)
        .await
        .expect("native");
    assert_eq!(
        (retried.state, retried.trade_type),
        (OrderState::Pending, OrderTradeType::Native)
    );
    assert_eq!(
        retried.code_url.as_deref(),
        Some("weixin://wxpay/bizpayurl?pr=abc")
    );
    let history = orders.get(t, &id).await.expect("get").history;
    let steps: Vec<_> = history
        .iter()
        .map(|h| (h.from, h.to, h.cause.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (OrderState::Created, OrderState::Pending, "prepay"),
            (OrderState::Pending, OrderState::PayError, "notify"),
            (OrderState::PayError, OrderState::Pending, "prepay"),
        ]
    );

    // A paid order takes no prepay.
    orders
        .transition(t, &id, OrderState::Pending, OrderState::Paid, "notify")
        .await
        .expect("paid");
    let err = orders
        .set_prepay(t, &id, &native, None)
        .await
        .expect_err("paid");
    assert!(
        matches!(
            err,
            StoreError::StateMismatch {
                actual: OrderState::Paid,
                ..
            }
        ),
        "{err:?}"
    );

    // bind_payer binds an unbound order once; other tenants cannot bind.
    let mut fresh = fixtures::new_order(&shop, "T000002", 100);
    fresh.payer_openid = None;
    let id2 = orders
        .create(&ctx.audit(), t, &fresh)
        .await
        .expect("order")
        .id;
    let err = orders
        .bind_payer(&other.tenant, &id2, &bob)
        .await
        .expect_err("foreign");
    assert_eq!(err.code(), "not_found");
    let bound = orders.bind_payer(t, &id2, &bob).await.expect("bind");
    assert_eq!(
        (bound.payer_openid, bound.state),
        (Some(bob), OrderState::Created)
    );
}

/// `set_prepay_seen` with the caller's copy of the order: a current copy stores the prepay in
/// one compare-and-set; an out-of-date one is decided on the row as it is, never on the copy.
pub async fn prepay_from_an_out_of_date_copy(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let orders = ctx.store.orders();
    let t = &shop.tenant;
    let (alice, bob) = (openid("oAlice000000"), openid("oBob00000000"));
    // A new unbound order, as the caller reads it when it is created.
    let copy_of_new = async |no: &'static str| {
        let mut new = fixtures::new_order(&shop, no, 100);
        new.payer_openid = None;
        orders.create(&ctx.audit(), t, &new).await.expect("order")
    };

    // Current copy: CREATED → PENDING, bound, one history row.
    let copy = copy_of_new("T000001").await;
    let after = orders
        .set_prepay_seen(&copy, &jsapi("wx1", &ctx), Some(&alice))
        .await
        .expect("prepay");
    assert_eq!(
        (after.state, after.payer_openid.clone()),
        (OrderState::Pending, Some(alice.clone()))
    );
    let history = orders.get(t, &copy.id).await.expect("get").history;
    assert_eq!(history.len(), 1, "{history:?}");

    // The copy says CREATED but the order is PENDING already: a refresh, no second history row.
    let after = orders
        .set_prepay_seen(&copy, &jsapi("wx2", &ctx), Some(&alice))
        .await
        .expect("refresh");
    assert_eq!(
        (after.state, after.prepay_id.as_deref()),
        (OrderState::Pending, Some("wx2"))
    );
    let history = orders.get(t, &copy.id).await.expect("get").history;
    assert_eq!(history.len(), 1, "{history:?}");

    // The copy has no payer but Bob was bound meanwhile: Alice is refused, Bob stays.
    let copy = copy_of_new("T000002").await;
    orders
        .bind_payer(t, &copy.id, &bob)
        .await
        .expect("bind bob");
    let err = orders
        .set_prepay_seen(&copy, &jsapi("wx3", &ctx), Some(&alice))
        .await
        .expect_err("bound to bob");
    assert!(matches!(err, StoreError::PayerMismatch), "{err:?}");
    let now = orders.get(t, &copy.id).await.expect("get").order;
    assert_eq!(
        (now.state, now.payer_openid, now.prepay_id),
        (OrderState::Created, Some(bob.clone()), None)
    );

    // The copy says CREATED but the order was closed meanwhile: refused, nothing stored.
    let copy = copy_of_new("T000003").await;
    orders
        .transition(t, &copy.id, OrderState::Created, OrderState::Closed, "test")
        .await
        .expect("close");
    let err = orders
        .set_prepay_seen(&copy, &jsapi("wx4", &ctx), Some(&alice))
        .await
        .expect_err("closed");
    assert!(
        matches!(
            err,
            StoreError::StateMismatch {
                actual: OrderState::Closed,
                ..
            }
        ),
        "{err:?}"
    );
    let now = orders.get(t, &copy.id).await.expect("get").order;
    assert_eq!(
        (now.state, now.payer_openid, now.prepay_id),
        (OrderState::Closed, None, None)
    );
}
