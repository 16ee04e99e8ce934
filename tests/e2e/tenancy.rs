//! Two tenants side by side: neither an API key nor a session of one tenant can see or touch
//! the other's orders (404, never 403: existence is not disclosed); a session pays only its
//! own user's orders and can never create orders or refunds.

use serde_json::json;

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};
use crate::harness::pay_flow::order_body;

both_backends!(tenants_cannot_see_each_other, sessions_are_limited);

async fn tenants_cannot_see_each_other(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let b = app.second_tenant().await;
    let a_user = app.user(&a).await;
    let b_user = app.user(&b).await;

    // B pays on its own merchant, through both channel kinds.
    let b_v2 = app.paid_order(&b, Kind::V2, &b_user, 500).await;
    let b_v3 = app.paid_order(&b, Kind::V3, &b_user, 600).await;
    let a_order = app.new_order(&a, Kind::V3, 700).await;
    let a_id = a_order["id"].as_str().unwrap();

    for b_id in [&b_v2, &b_v3] {
        for bearer in [&a.api_key, &a_user.token] {
            app.order(bearer, b_id)
                .await
                .expect_error(404, "order_not_found");
            app.pay(bearer, b_id, "jsapi")
                .await
                .expect_error(404, "order_not_found");
        }
        app.close_order(&a.api_key, b_id)
            .await
            .expect_error(404, "order_not_found");
        app.refund(&a.api_key, b_id, &json!({ "amount": 1 }))
            .await
            .expect_error(404, "order_not_found");
        let still = app.order_of(&b, b_id).await;
        assert_eq!(still["state"], "PAID", "{still}");
        assert_eq!(still["refunded_amount"], 0);
    }
    // B's refunds are B's: B refunds (and settles) its v2 order; A cannot read the refund.
    let b_refund = app.new_refund(&b, &b_v2, 100).await;
    app.settle_refund_ok(&b, &b_refund).await;
    let b_refund_id = b_refund["id"].as_str().unwrap();
    app.get_refund(&a.api_key, b_refund_id)
        .await
        .expect_error(404, "refund_not_found");
    // Sessions read no refunds at all (not even their own).
    app.get_refund(&a_user.token, b_refund_id)
        .await
        .expect_error(403, "session_not_allowed");
    assert_eq!(app.order_of(&b, &b_v2).await["refunded_amount"], 100);

    // And the other way round.
    app.order(&b.api_key, a_id)
        .await
        .expect_error(404, "order_not_found");
    app.order(&b_user.token, a_id)
        .await
        .expect_error(404, "order_not_found");

    // Lists hold only the caller's own orders.
    let listed = app.orders(&a.api_key, "").await.expect(200);
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a_id], "{listed}");
    let listed = app.orders(&b.api_key, "").await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");

    // A's session cannot log in on B's app with a code of B's app user through A's appid.
    let code = app.login_code(&b.appid, &b_user.openid).await;
    let wrong = app.create_session(&a.appid, &code).await;
    assert!(
        [401, 422].contains(&wrong.status),
        "a code of another app must be refused: {} {}",
        wrong.status,
        wrong.text
    );

    // B's order cannot be created on A's channel.
    let mut body = order_body(&b, Kind::V3, 100);
    body["channel_id"] = json!(a.v3_channel);
    let response = app.create_order(&b.api_key, &body).await;
    assert!(
        [404, 422].contains(&response.status),
        "another tenant's channel: {} {}",
        response.status,
        response.text
    );
    assert_eq!(
        app.orders(&b.api_key, "").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.finish().await;
}

async fn sessions_are_limited(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let alice = app.user(&a).await;
    let bob = app.user(&a).await;

    // Alice's order: bound to her when she pays.
    let order = app.new_order(&a, Kind::V3, 900).await;
    let id = order["id"].as_str().unwrap();
    app.pay_jsapi(&alice, id).await;
    app.pay(&bob.token, id, "jsapi")
        .await
        .expect_error(403, "order_not_yours");
    app.order(&bob.token, id)
        .await
        .expect_error(404, "order_not_found");
    let listed = app.orders(&bob.token, "").await.expect(200);
    assert_eq!(listed["data"], json!([]), "{listed}");
    let seen = app.order(&alice.token, id).await.expect(200);
    assert_eq!(seen["payer_openid"], alice.openid.as_str());

    // An order created for Bob cannot be paid by Alice.
    let mut body = order_body(&a, Kind::V2, 100);
    body["payer_openid"] = json!(bob.openid);
    let bobs = app.create_order(&a.api_key, &body).await.expect(201);
    let bobs_id = bobs["id"].as_str().unwrap();
    app.pay(&alice.token, bobs_id, "jsapi")
        .await
        .expect_error(403, "order_not_yours");
    assert_eq!(app.order_of(&a, bobs_id).await["state"], "CREATED");

    // A session sets no amounts: no orders, no refunds.
    app.create_order(&alice.token, &order_body(&a, Kind::V3, 1))
        .await
        .expect_error(403, "session_not_allowed");
    let paid = app.paid_order(&a, Kind::V3, &alice, 400).await;
    app.refund(&alice.token, &paid, &json!({ "amount": 400 }))
        .await
        .expect_error(403, "session_not_allowed");
    let order = app.order_of(&a, &paid).await;
    assert_eq!(order["state"], "PAID");
    assert_eq!(order["refunded_amount"], 0);
    let listed = app.orders(&a.api_key, "").await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");

    // A forged session (right shape, wrong key) is refused.
    let forged = format!("{}x", alice.token);
    assert_eq!(app.order(&forged, &paid).await.status, 401);
    app.finish().await;
}
