//! The reconciliation worker (`run_once`, called directly after moving paygate's clock):
//! notifications that never arrive are recovered by querying WeChat, and expired orders are
//! closed upstream and locally (`order.closed`). Young rows are left alone; a second run
//! changes nothing.

use paygate_core::Clock;
use serde_json::json;

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};
use crate::harness::pay_flow::order_body;

both_backends!(
    lost_notifications_recovered_by_reconciliation,
    expired_orders_are_closed,
);

async fn lost_notifications_recovered_by_reconciliation(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let mut lost_orders = Vec::new();
    for kind in [Kind::V2, Kind::V3] {
        let (id, rp) = app.pending_order(&a, kind, &user).await;
        app.pay_losing_notification(&user, &rp).await;
        assert_eq!(app.order_of(&a, &id).await["state"], "PENDING");
        lost_orders.push(id);
    }
    // A payment whose notification is held back for ten minutes (v2: its signature has no
    // timestamp to go stale): the worker gets there first, the notification comes late.
    let (late, rp) = app.pending_order(&a, Kind::V2, &user).await;
    app.sim_post(
        "/sim/faults",
        &json!({ "kind": "notification_reorder", "mch_id": a.mch_id, "delay_ms": 600_000 }),
    )
    .await
    .expect(201);
    app.request_payment(&a.appid, &user.openid, &rp, "success")
        .await
        .expect(200);
    assert_eq!(app.deliver().await, 0, "held back");
    lost_orders.push(late.clone());

    // A refund whose notification is lost, too.
    let paid = app.paid_order(&a, Kind::V3, &user, 500).await;
    let refund = app.new_refund(&a, &paid, 200).await;
    app.fault("notification_lost", &a.mch_id, None).await;
    app.settle_success(&a.mch_id, refund["out_refund_no"].as_str().unwrap())
        .await;
    app.deliver().await;
    let refund_id = refund["id"].as_str().unwrap();
    assert_eq!(
        app.get_refund(&a.api_key, refund_id).await.expect(200)["state"],
        "PROCESSING"
    );

    // Too young: the worker leaves them alone.
    let early = app.reconcile().await;
    assert_eq!(early.orders_changed, 0, "{early:?}");
    assert_eq!(app.order_of(&a, &lost_orders[0]).await["state"], "PENDING");

    app.age_past_pending().await;
    let report = app.reconcile().await;
    assert!(report.orders_changed >= 3, "{report:?}");
    for id in &lost_orders {
        let order = app.order_of(&a, id).await;
        assert_eq!(order["state"], "PAID", "{order}");
        assert!(order["transaction_id"].is_string());
        assert_eq!(app.order_events(&a, "payment.succeeded", id).await, 1);
    }
    let refund = app.get_refund(&a.api_key, refund_id).await.expect(200);
    assert_eq!(refund["state"], "SUCCESS", "{refund}");
    let order = app.order_of(&a, &paid).await;
    assert_eq!(order["refunded_amount"], 200);
    assert_eq!(order["state"], "PARTIALLY_REFUNDED");

    // The held-back notification finally arrives: acknowledged, nothing new.
    app.sim_advance(600).await;
    // Sent now or by the simulator's own ticker: either way the log below shows it answered.
    app.deliver().await;
    let log = app.sim_notifications(&a.mch_id).await;
    assert!(
        log.iter()
            .all(|n| n["lost"] == true || n["acknowledged"] == true),
        "{log:?}"
    );
    assert_eq!(app.order_events(&a, "payment.succeeded", &late).await, 1);
    let history = app.history(&a, &late).await;
    assert_eq!(
        history.iter().filter(|(_, to)| to == "PAID").count(),
        1,
        "{history:?}"
    );

    // Running again changes nothing.
    let again = app.reconcile().await;
    assert_eq!(again.orders_changed + again.refunds_changed, 0, "{again:?}");
    assert_eq!(
        app.order_events(&a, "payment.succeeded", &lost_orders[0])
            .await,
        1
    );
    app.finish().await;
}

async fn expired_orders_are_closed(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let expires_at = app.clock.now() + time::Duration::minutes(10);
    let expires_at = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut expiring = Vec::new();
    for kind in [Kind::V2, Kind::V3] {
        // One never paid for (CREATED), one with a prepay (PENDING).
        for pay in [false, true] {
            let mut body = order_body(&a, kind, 100);
            body["expires_at"] = json!(expires_at);
            let order = app.create_order(&a.api_key, &body).await.expect(201);
            let id = order["id"].as_str().unwrap().to_owned();
            if pay {
                app.pay_jsapi(&user, &id).await;
            }
            expiring.push(id);
        }
    }
    let lasting = app.new_order(&a, Kind::V3, 100).await;

    // Not expired yet.
    app.reconcile().await;
    for id in &expiring {
        assert_ne!(app.order_of(&a, id).await["state"], "CLOSED");
    }

    app.advance_both(time::Duration::minutes(11)).await;
    let report = app.reconcile().await;
    assert_eq!(report.closed, 4, "{report:?}");
    for id in &expiring {
        let order = app.order_of(&a, id).await;
        assert_eq!(order["state"], "CLOSED", "{order}");
        assert_eq!(app.order_events(&a, "order.closed", id).await, 1);
        app.pay(&user.token, id, "jsapi")
            .await
            .expect_error(409, "order_closed");
    }
    assert_eq!(
        app.order_of(&a, lasting["id"].as_str().unwrap()).await["state"],
        "CREATED"
    );
    let again = app.reconcile().await;
    assert_eq!(again.closed, 0, "{again:?}");
    app.finish().await;
}
