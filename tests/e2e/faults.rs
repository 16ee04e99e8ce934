//! WeChat misbehaving, through the simulator's fault injection: a busy or broken prepay
//! endpoint (a clear 503/502, nothing changed, then success on retry), duplicated and
//! reordered notifications (one effect each), a failed payment (never PAID).

use serde_json::json;

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};

both_backends!(
    prepay_failures_change_nothing,
    duplicate_notification_counts_once,
    reordered_refund_notifications,
    failed_payment_is_not_paid,
);

/// The prepay endpoint of a channel kind, as the simulator names it for faults.
fn prepay_endpoint(kind: Kind) -> &'static str {
    match kind {
        Kind::V2 => "/pay/unifiedorder",
        Kind::V3 => "/v3/pay/transactions/jsapi",
    }
}

async fn prepay_failures_change_nothing(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        for fault in ["system_error", "http_500"] {
            let order = app.new_order(&a, kind, 120).await;
            let id = order["id"].as_str().unwrap();
            app.fault(fault, &a.mch_id, Some(prepay_endpoint(kind)))
                .await;
            let failed = app.pay(&user.token, id, "jsapi").await;
            assert!(
                [502, 503].contains(&failed.status),
                "{kind:?} {fault}: {} {}",
                failed.status,
                failed.text
            );
            let body = failed.json();
            assert!(
                ["upstream_unavailable", "upstream_rejected"]
                    .contains(&body["code"].as_str().unwrap_or_default()),
                "{kind:?} {fault}: {}",
                failed.text
            );
            let unchanged = app.order_of(&a, id).await;
            assert_eq!(
                unchanged["state"], "CREATED",
                "{kind:?} {fault}: {unchanged}"
            );

            // The fault is spent: the retry goes through and the user can pay.
            let rp = app.pay_jsapi(&user, id).await;
            app.request_payment(&a.appid, &user.openid, &rp, "success")
                .await
                .expect(200);
            app.deliver().await;
            assert_eq!(app.order_of(&a, id).await["state"], "PAID");
        }
    }
    app.finish().await;
}

async fn duplicate_notification_counts_once(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        let order = app.new_order(&a, kind, 330).await;
        let id = order["id"].as_str().unwrap();
        let rp = app.pay_jsapi(&user, id).await;
        app.fault("notification_duplicate", &a.mch_id, None).await;
        app.request_payment(&a.appid, &user.openid, &rp, "success")
            .await
            .expect(200);
        assert!(app.deliver().await >= 2, "the notification went out twice");
        assert_eq!(app.order_of(&a, id).await["state"], "PAID");
        assert_eq!(app.order_events(&a, "payment.succeeded", id).await, 1);
        let history = app.history(&a, id).await;
        let paid = history.iter().filter(|(_, to)| to == "PAID").count();
        assert_eq!(paid, 1, "{history:?}");
    }
    app.finish().await;
}

async fn reordered_refund_notifications(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        let id = app.paid_order(&a, kind, &user, 1000).await;
        let first = app.new_refund(&a, &id, 400).await;
        let second = app.new_refund(&a, &id, 600).await;

        // The first refund's notification is held back; the second's overtakes it.
        app.fault("notification_reorder", &a.mch_id, None).await;
        let first_no = first["out_refund_no"].as_str().unwrap();
        let second_no = second["out_refund_no"].as_str().unwrap();
        app.settle_success(&a.mch_id, first_no).await;
        app.settle_success(&a.mch_id, second_no).await;
        app.deliver().await;
        let second_now = app
            .get_refund(&a.api_key, second["id"].as_str().unwrap())
            .await
            .expect(200);
        assert_eq!(second_now["state"], "SUCCESS", "{second_now}");
        let order = app.order_of(&a, &id).await;
        assert_eq!(order["refunded_amount"], 600, "{order}");
        assert_eq!(order["state"], "PARTIALLY_REFUNDED");

        // The late one arrives.
        app.sim_advance(31).await;
        app.deliver().await;
        let order = app.order_of(&a, &id).await;
        assert_eq!(order["state"], "REFUNDED", "{order}");
        assert_eq!(order["refunded_amount"], 1000);
        assert_eq!(app.order_events(&a, "refund.succeeded", &id).await, 2);
    }
    app.finish().await;
}

async fn failed_payment_is_not_paid(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        let order = app.new_order(&a, kind, 77).await;
        let id = order["id"].as_str().unwrap();
        let rp = app.pay_jsapi(&user, id).await;
        let outcome = app
            .request_payment(&a.appid, &user.openid, &rp, "fail")
            .await
            .expect(200);
        assert_ne!(outcome["trade_state"], "SUCCESS", "{outcome}");
        app.deliver().await;
        let order = app.order_of(&a, id).await;
        assert_ne!(order["state"], "PAID", "{order}");
        assert!(order["transaction_id"].is_null(), "{order}");
        assert_eq!(app.order_events(&a, "payment.succeeded", id).await, 0);
        app.refund(&a.api_key, id, &json!({ "amount": 77 }))
            .await
            .expect_error(409, "order_not_refundable");
    }
    app.finish().await;
}
