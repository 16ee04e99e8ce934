//! WeChat misbehaving, through the simulator's fault injection: a busy, broken, slow or
//! disconnecting prepay endpoint (a clear 503/502, nothing changed, then success on retry), a
//! slow or disconnecting refund endpoint (the refund stays PROCESSING until the worker
//! settles it), duplicated and reordered notifications (one effect each), a failed payment
//! (never PAID).

use serde_json::json;

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};

both_backends!(
    prepay_failures_change_nothing,
    slow_or_cut_prepay_is_retryable,
    slow_or_cut_refund_is_settled_by_the_worker,
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

/// A short `upstream.timeout_ms`, and a simulator delay well beyond it.
const TIMEOUT_MS: u64 = 400;
const DELAY_MS: u64 = 1_500;

async fn spawn_with_short_timeout(backend: Backend) -> PayApp {
    PayApp::spawn_with(backend, |config| config.upstream.timeout_ms = TIMEOUT_MS).await
}

/// The refund endpoint of a channel kind, as the simulator names it for faults.
fn refund_endpoint(kind: Kind) -> &'static str {
    match kind {
        Kind::V2 => "/secapi/pay/refund",
        Kind::V3 => "/v3/refund/domestic/refunds",
    }
}

/// Injects `kind` (`delay` or `drop_connection`) on `endpoint` of the merchant, once.
async fn slow_or_cut(app: &PayApp, kind: &str, endpoint: &str) {
    let spec = json!({
        "kind": kind,
        "mch_id": app.a.mch_id,
        "endpoint": endpoint,
        "delay_ms": DELAY_MS,
    });
    app.sim_post("/sim/faults", &spec).await.expect(201);
}

async fn slow_or_cut_prepay_is_retryable(backend: Backend) {
    let app = spawn_with_short_timeout(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        for fault in ["delay", "drop_connection"] {
            let order = app.new_order(&a, kind, 130).await;
            let id = order["id"].as_str().unwrap();
            slow_or_cut(&app, fault, prepay_endpoint(kind)).await;
            let started = std::time::Instant::now();
            app.pay(&user.token, id, "jsapi")
                .await
                .expect_error(503, "upstream_unavailable");
            // The configured timeout, not the default 10 s, ended the call.
            assert!(
                started.elapsed() < std::time::Duration::from_millis(DELAY_MS),
                "{kind:?} {fault}: took {:?}",
                started.elapsed()
            );
            let unchanged = app.order_of(&a, id).await;
            assert_eq!(
                unchanged["state"], "CREATED",
                "{kind:?} {fault}: {unchanged}"
            );
            let stored = app
                .store()
                .orders()
                .get(&a_id(&a), &id.parse().unwrap())
                .await;
            let stored = stored.unwrap().order;
            assert!(stored.prepay_id.is_none(), "{kind:?} {fault}: {stored:?}");

            // The retry goes through (WeChat may have made the prepay: same order, same
            // answer) and the user can pay.
            let rp = app.pay_jsapi(&user, id).await;
            app.request_payment(&a.appid, &user.openid, &rp, "success")
                .await
                .expect(200);
            app.deliver().await;
            assert_eq!(
                app.order_of(&a, id).await["state"],
                "PAID",
                "{kind:?} {fault}"
            );
        }
    }
    app.finish().await;
}

async fn slow_or_cut_refund_is_settled_by_the_worker(backend: Backend) {
    let app = spawn_with_short_timeout(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let mut paid = Vec::new();
    for kind in [Kind::V2, Kind::V3] {
        for fault in ["delay", "drop_connection"] {
            paid.push((kind, fault, app.paid_order(&a, kind, &user, 300).await));
        }
    }
    // From here on only the worker can learn how the refunds end.
    let lost = json!({ "kind": "notification_lost", "mch_id": a.mch_id, "count": paid.len() });
    app.sim_post("/sim/faults", &lost).await.expect(201);
    let mut pending = Vec::new();
    for (kind, fault, order) in paid {
        slow_or_cut(&app, fault, refund_endpoint(kind)).await;
        // The outcome is unknown: accepted as PROCESSING, neither failed nor closed.
        let refund = app.new_refund(&a, &order, 100).await;
        pending.push((kind, fault, order, refund));
    }
    // A cut reply came after WeChat took the refund; a slow request may never have reached
    // it. The worker sends those again (same out_refund_no), so WeChat has all four.
    app.age_past_pending().await;
    let first = app.reconcile().await;
    assert_eq!((first.refunds, first.errors), (4, 0), "{first:?}");
    // (The simulator may settle a refund by itself once its clock moved.)
    for (_, _, _, refund) in &pending {
        let no = refund["out_refund_no"].as_str().unwrap();
        app.settle_success(&a.mch_id, no).await;
    }
    app.age_past_pending().await;
    let second = app.reconcile().await;
    let changed = first.refunds_changed + second.refunds_changed;
    assert_eq!((changed, second.errors), (4, 0), "{first:?} {second:?}");
    for (kind, fault, order, refund) in &pending {
        let id = refund["id"].as_str().unwrap();
        let now = app.get_refund(&a.api_key, id).await.expect(200);
        assert_eq!(now["state"], "SUCCESS", "{kind:?} {fault}: {now}");
        let order = app.order_of(&a, order).await;
        assert_eq!(order["refunded_amount"], 100, "{kind:?} {fault}: {order}");
        assert_eq!(order["state"], "PARTIALLY_REFUNDED");
    }
    app.finish().await;
}

fn a_id(a: &crate::harness::pay::PayTenant) -> paygate_core::TenantId {
    a.id.parse().unwrap()
}

async fn duplicate_notification_counts_once(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for (round, kind) in [Kind::V2, Kind::V3].into_iter().enumerate() {
        let order = app.new_order(&a, kind, 330).await;
        let id = order["id"].as_str().unwrap();
        let rp = app.pay_jsapi(&user, id).await;
        app.fault("notification_duplicate", &a.mch_id, None).await;
        app.request_payment(&a.appid, &user.openid, &rp, "success")
            .await
            .expect(200);
        // The simulator's own ticker may have sent it already; `deliver` sends what is left
        // and returns once every due notification was attempted. Read the log, not the count.
        app.deliver().await;
        let duplicated = app
            .sim_notifications(&a.mch_id)
            .await
            .iter()
            .filter(|n| n["duplicated"] == true && n["acknowledged"] == true)
            .count();
        assert_eq!(duplicated, round + 1, "the notification went out twice");
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
