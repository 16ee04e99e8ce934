//! Whole payments through the simulator, on a v2 and on a v3 channel: login, order, JSAPI pay,
//! the user pays, the notification makes the order PAID (history, `payment.succeeded`), then a
//! partial and a final refund settle through refund notifications; and Native pay by scanning.

use serde_json::json;

use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};
use crate::harness::{Backend, Response};

both_backends!(
    jsapi_payment_and_refunds_v2,
    jsapi_payment_and_refunds_v3,
    native_payment_by_scanning,
    closing_orders,
    failed_refund_releases_its_amount,
);

async fn jsapi_payment_and_refunds_v2(backend: Backend) {
    jsapi_payment_and_refunds(backend, Kind::V2).await;
}

async fn jsapi_payment_and_refunds_v3(backend: Backend) {
    jsapi_payment_and_refunds(backend, Kind::V3).await;
}

async fn jsapi_payment_and_refunds(backend: Backend, kind: Kind) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;

    let order = app.new_order(&a, kind, 1000).await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ord_"), "{order}");
    assert_eq!(order["channel_id"], a.channel(kind));

    let rp = app.pay_jsapi(&user, &id).await;
    assert_eq!(rp["appId"], a.appid.as_str());
    match kind {
        Kind::V2 => assert_ne!(rp["signType"], "RSA", "{rp}"),
        Kind::V3 => assert_eq!(rp["signType"], "RSA", "{rp}"),
    }
    let pending = app.order(&user.token, &id).await.expect(200);
    assert_eq!(pending["state"], "PENDING", "{pending}");
    assert_eq!(pending["payer_openid"], user.openid.as_str());
    // Paying again while the prepay is valid reuses it (the same package, freshly signed).
    let again = app.pay_jsapi(&user, &id).await;
    assert_eq!(again["package"], rp["package"]);

    let paid = app
        .request_payment(&a.appid, &user.openid, &rp, "success")
        .await
        .expect(200);
    assert_eq!(paid["trade_state"], "SUCCESS", "{paid}");
    // The demo simulator's ticker may have sent it already; PAID below proves it arrived.
    app.deliver().await;
    let order = app.order(&user.token, &id).await.expect(200);
    assert_eq!(order["state"], "PAID", "{order}");
    assert_eq!(order["transaction_id"], paid["transaction_id"]);
    assert!(order["paid_at"].is_string(), "{order}");
    assert_eq!(order["refunded_amount"], 0);
    let history = app.history(&a, &id).await;
    assert!(
        history.contains(&("CREATED".into(), "PENDING".into()))
            && history.contains(&("PENDING".into(), "PAID".into())),
        "{history:?}"
    );
    assert_eq!(app.order_events(&a, "payment.succeeded", &id).await, 1);
    let acked = app.sim_notifications(&a.mch_id).await;
    assert!(
        acked.iter().all(|n| n["acknowledged"] == true),
        "paygate acknowledged every notification: {acked:?}"
    );

    // A partial refund, settled.
    let first = app.new_refund(&a, &id, 300).await;
    assert_eq!(first["order_id"], id.as_str());
    app.settle_refund_ok(&a, &first).await;
    let order = app.order_of(&a, &id).await;
    assert_eq!(order["state"], "PARTIALLY_REFUNDED", "{order}");
    assert_eq!(order["refunded_amount"], 300);

    // More than what is left is refused, and changes nothing.
    app.refund(&a.api_key, &id, &json!({ "amount": 701 }))
        .await
        .expect_error(422, "refund_exceeds_available");
    assert_eq!(app.order_of(&a, &id).await["refunded_amount"], 300);

    // The rest.
    let rest = app.new_refund(&a, &id, 700).await;
    app.settle_refund_ok(&a, &rest).await;
    let order = app.order_of(&a, &id).await;
    assert_eq!(order["state"], "REFUNDED", "{order}");
    assert_eq!(order["refunded_amount"], 1000);
    assert_eq!(app.order_events(&a, "refund.succeeded", &id).await, 2);
    // Fully refunded: nothing more to refund.
    app.refund(&a.api_key, &id, &json!({ "amount": 1 }))
        .await
        .expect_error(409, "order_not_refundable");
    let history = app.history(&a, &id).await;
    assert!(
        history.contains(&("PAID".into(), "PARTIALLY_REFUNDED".into()))
            && history.contains(&("PARTIALLY_REFUNDED".into(), "REFUNDED".into())),
        "{history:?}"
    );
    app.finish().await;
}

async fn native_payment_by_scanning(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    for kind in [Kind::V2, Kind::V3] {
        let order = app.new_order(&a, kind, 250).await;
        let id = order["id"].as_str().unwrap();
        let response = app.pay(&a.api_key, id, "native").await;
        let body = response.expect(200);
        assert_eq!(body["trade_type"], "native", "{}", response.text);
        let code_url = body["code_url"].as_str().expect("code_url");
        assert!(code_url.starts_with("weixin://"), "{code_url}");

        let png = png(&app, &a.api_key, id).await;
        assert_eq!(png.status, 200, "{}", png.text);
        assert_eq!(png.header("content-type"), Some("image/png"));

        let openid = app.sim_user(&a.appid).await;
        app.scan(code_url, &openid, "success").await.expect(200);
        app.deliver().await;
        let order = app.order_of(&a, id).await;
        assert_eq!(order["state"], "PAID", "{order}");
        assert_eq!(app.order_events(&a, "payment.succeeded", id).await, 1);
    }
    app.finish().await;
}

async fn closing_orders(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        // Never paid for.
        let order = app.new_order(&a, kind, 210).await;
        let id = order["id"].as_str().unwrap();
        let closed = app.close_order(&a.api_key, id).await.expect(200);
        assert_eq!(closed["state"], "CLOSED", "{closed}");
        assert_eq!(app.order_events(&a, "order.closed", id).await, 1);
        app.pay(&user.token, id, "jsapi")
            .await
            .expect_error(409, "order_closed");

        // Closed while the user had the cashier open: WeChat refuses the payment.
        let (id, rp) = app.pending_order(&a, kind, &user).await;
        let early = app.close_order(&a.api_key, &id).await;
        if kind == Kind::V2 {
            // v2 closeorder refuses orders younger than five minutes: a clear upstream error,
            // and the order is untouched.
            early.expect_error(502, "upstream_rejected");
            assert_eq!(app.order_of(&a, &id).await["state"], "PENDING");
            app.advance_both(time::Duration::minutes(5) + time::Duration::seconds(1))
                .await;
            let closed = app.close_order(&a.api_key, &id).await.expect(200);
            assert_eq!(closed["state"], "CLOSED", "{closed}");
        } else {
            let closed = early.expect(200);
            assert_eq!(closed["state"], "CLOSED", "{closed}");
        }
        let refused = app
            .request_payment(&a.appid, &user.openid, &rp, "success")
            .await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        app.deliver().await;
        assert_eq!(app.order_of(&a, &id).await["state"], "CLOSED");
        assert_eq!(app.order_events(&a, "payment.succeeded", &id).await, 0);

        // A paid order stays paid.
        let paid = app.paid_order(&a, kind, &user, 210).await;
        let response = app.close_order(&a.api_key, &paid).await;
        assert_eq!(response.status, 409, "{}", response.text);
        assert_eq!(app.order_of(&a, &paid).await["state"], "PAID");
    }
    app.finish().await;
}

async fn failed_refund_releases_its_amount(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        let id = app.paid_order(&a, kind, &user, 1000).await;
        let refund = app.new_refund(&a, &id, 1000).await;
        // PROCESSING counts against what is left.
        app.refund(&a.api_key, &id, &json!({ "amount": 1 }))
            .await
            .expect_error(422, "refund_exceeds_available");
        let no = refund["out_refund_no"].as_str().unwrap();
        app.settle(&a.mch_id, no, "abnormal").await.expect(200);
        app.deliver().await;
        let failed = app
            .get_refund(&a.api_key, refund["id"].as_str().unwrap())
            .await
            .expect(200);
        assert_eq!(failed["state"], "ABNORMAL", "{failed}");
        assert_eq!(app.order_events(&a, "refund.failed", &id).await, 1);
        let order = app.order_of(&a, &id).await;
        assert_eq!(order["state"], "PAID", "{order}");
        assert_eq!(order["refunded_amount"], 0);

        // The amount is free again.
        let retry = app.new_refund(&a, &id, 1000).await;
        app.settle_refund_ok(&a, &retry).await;
        let order = app.order_of(&a, &id).await;
        assert_eq!(order["state"], "REFUNDED", "{order}");
        assert_eq!(order["refunded_amount"], 1000);
    }
    app.finish().await;
}

/// `POST /v1/orders/{id}/pay?format=png` for a Native order.
async fn png(app: &PayApp, bearer: &str, id: &str) -> Response {
    app.req(
        reqwest::Method::POST,
        &format!("/v1/orders/{id}/pay?format=png"),
    )
    .bearer(bearer)
    .json(&json!({ "trade_type": "native" }))
    .send()
    .await
}
