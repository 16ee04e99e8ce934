//! Bad input to the payment API: wrong types, amounts that are not a positive number of fen,
//! malformed out_trade_no, unknown channels and apps, bodies that are not JSON or too large.
//! Each gets a clear error envelope, and nothing changes (the order list is re-read).

use serde_json::{Value, json};

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp, PayTenant};
use crate::harness::pay_flow::order_body;

both_backends!(bad_orders_are_refused, bad_pay_and_refund_requests);

/// Order bodies that must be refused, with the status they get.
fn bad_orders(a: &PayTenant) -> Vec<(&'static str, Value, u16)> {
    let with = |field: &str, value: Value| {
        let mut body = order_body(a, Kind::V3, 100);
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = order_body(a, Kind::V3, 100);
        body.as_object_mut().unwrap().remove(field);
        body
    };
    vec![
        ("amount as a string", with("amount", json!("100")), 422),
        ("zero amount", with("amount", json!(0)), 422),
        ("negative amount", with("amount", json!(-5)), 422),
        ("fractional amount", with("amount", json!(1.5)), 422),
        ("amount beyond i64", with("amount", json!(1e20)), 422),
        ("no amount", without("amount"), 422),
        ("no description", without("description"), 422),
        (
            "out_trade_no too short",
            with("out_trade_no", json!("12345")),
            422,
        ),
        (
            "out_trade_no too long",
            with("out_trade_no", json!("a".repeat(33))),
            422,
        ),
        (
            "out_trade_no with a space",
            with("out_trade_no", json!("order 123")),
            422,
        ),
        (
            "out_trade_no with #",
            with("out_trade_no", json!("order#123")),
            422,
        ),
        (
            "out_trade_no as a number",
            with("out_trade_no", json!(123_456_789)),
            422,
        ),
        ("a body that is an array", json!([1, 2]), 422),
    ]
}

async fn bad_orders_are_refused(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    for (what, body, status) in bad_orders(&a) {
        let response = app.create_order(&a.api_key, &body).await;
        let error = response.expect_error(status, "invalid_request");
        assert!(
            !error["message"].as_str().unwrap_or_default().is_empty(),
            "{what}"
        );
    }

    // Not JSON at all.
    app.req(reqwest::Method::POST, "/v1/orders")
        .bearer(&a.api_key)
        .raw("application/json", "{\"amount\": 1,")
        .send()
        .await
        .expect_error(400, "invalid_request");
    app.req(reqwest::Method::POST, "/v1/orders")
        .bearer(&a.api_key)
        .raw("text/plain", "amount=1")
        .send()
        .await
        .expect_error(415, "unsupported_media_type");

    // Ids that do not exist, or are not ids.
    let mut body = order_body(&a, Kind::V3, 100);
    body["channel_id"] = json!("ch_01JZZZZZZZZZZZZZZZZZZZZZZZ");
    let response = app.create_order(&a.api_key, &body).await;
    assert!(
        [404, 422].contains(&response.status),
        "unknown channel: {} {}",
        response.status,
        response.text
    );
    body["channel_id"] = json!("not-a-channel");
    let response = app.create_order(&a.api_key, &body).await;
    assert!(
        [400, 404, 422].contains(&response.status),
        "malformed channel id: {} {}",
        response.status,
        response.text
    );
    let mut body = order_body(&a, Kind::V3, 100);
    body["appid"] = json!("wx0000000000000000");
    let response = app.create_order(&a.api_key, &body).await;
    assert!(
        [404, 422].contains(&response.status),
        "unknown appid: {} {}",
        response.status,
        response.text
    );

    // A body far over any sensible size.
    let mut body = order_body(&a, Kind::V3, 100);
    body["description"] = json!("x".repeat(4 * 1024 * 1024));
    app.create_order(&a.api_key, &body)
        .await
        .expect_error(413, "payload_too_large");

    // No key, a wrong key.
    assert_eq!(
        app.create_order("", &order_body(&a, Kind::V3, 100))
            .await
            .status,
        401
    );
    app.create_order("pk_nope", &order_body(&a, Kind::V3, 100))
        .await
        .expect_error(401, "invalid_api_key");

    let listed = app.orders(&a.api_key, "").await.expect(200);
    assert_eq!(listed["data"], json!([]), "nothing was created: {listed}");
    app.finish().await;
}

async fn bad_pay_and_refund_requests(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let order = app.new_order(&a, Kind::V2, 500).await;
    let id = order["id"].as_str().unwrap();

    let response = app.pay(&user.token, id, "h5").await;
    assert!(
        [400, 422].contains(&response.status),
        "unknown trade_type: {}",
        response.text
    );
    app.order(&a.api_key, "ord_01JZZZZZZZZZZZZZZZZZZZZZZZ")
        .await
        .expect_error(404, "order_not_found");
    let response = app.order(&a.api_key, "42").await;
    assert!([400, 404].contains(&response.status), "{}", response.text);
    assert_eq!(app.order_of(&a, id).await["state"], "CREATED");

    // Refunds of an unpaid order, and bad refund amounts on a paid one.
    app.refund(&a.api_key, id, &json!({ "amount": 100 }))
        .await
        .expect_error(409, "order_not_refundable");
    let paid = app.paid_order(&a, Kind::V2, &user, 500).await;
    for (what, body) in [
        ("zero", json!({ "amount": 0 })),
        ("negative", json!({ "amount": -1 })),
        ("fractional", json!({ "amount": 0.5 })),
        ("string", json!({ "amount": "5" })),
        (
            "bad out_refund_no",
            json!({ "amount": 5, "out_refund_no": "r#1" }),
        ),
        (
            "long out_refund_no",
            json!({ "amount": 5, "out_refund_no": "r".repeat(65) }),
        ),
    ] {
        let response = app.refund(&a.api_key, &paid, &body).await;
        assert_eq!(response.status, 422, "{what}: {}", response.text);
        assert_eq!(response.json()["code"], "invalid_request", "{what}");
    }
    app.get_refund(&a.api_key, "ref_01JZZZZZZZZZZZZZZZZZZZZZZZ")
        .await
        .expect_error(404, "refund_not_found");
    let order = app.order_of(&a, &paid).await;
    assert_eq!(order["state"], "PAID");
    assert_eq!(order["refunded_amount"], 0);
    let refunds = app
        .tenant_view(&app.admin.token, &a.id, "refunds", "")
        .await
        .expect(200);
    assert_eq!(refunds["data"], json!([]), "{refunds}");
    app.finish().await;
}
