//! Retries are safe: an `Idempotency-Key` replays the first answer to the same request and
//! refuses a different one; out_trade_no and out_refund_no are unique per tenant, and a
//! repeated refund of the same amount is the same refund.

use paygate_core::TenantId;
use paygate_server::payments::idempotency::{derived_reference, request_hash};
use paygate_server::tenant_api::orders::CreateOrderRequest;
use paygate_server::tenant_api::refunds::CreateRefundRequest;
use paygate_store::Claim;
use serde_json::{Value, json};

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};
use crate::harness::pay_flow::order_body;

both_backends!(
    order_idempotency_key,
    key_in_progress,
    refund_retries,
    crashed_requests_rerun_after_the_lease
);

async fn order_idempotency_key(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let body = order_body(&a, Kind::V3, 1234);

    let first = app.create_order_idem(&a.api_key, "key-1", &body).await;
    let created = first.expect(201);
    let replay = app.create_order_idem(&a.api_key, "key-1", &body).await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_eq!(replay.json(), created, "the stored answer, replayed");
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    // The same key for another request.
    let mut other = body.clone();
    other["amount"] = json!(999);
    app.create_order_idem(&a.api_key, "key-1", &other)
        .await
        .expect_error(422, "idempotency_key_reused");

    // Another key, the same out_trade_no: the order already exists.
    app.create_order_idem(&a.api_key, "key-2", &body)
        .await
        .expect_error(409, "duplicate_out_trade_no");
    // A failed request does not hold its key: the key works for a valid request.
    let mut fresh = order_body(&a, Kind::V3, 50);
    let second = app.create_order_idem(&a.api_key, "key-2", &fresh).await;
    let second = second.expect(201);
    // Without a key, a retry is a conflict on out_trade_no rather than a second order.
    app.create_order(&a.api_key, &fresh)
        .await
        .expect_error(409, "duplicate_out_trade_no");
    fresh["out_trade_no"] = json!("a".repeat(33));
    app.create_order_idem(&a.api_key, "key-3", &fresh)
        .await
        .expect_error(422, "invalid_request");

    // Keys are per tenant: tenant B may use "key-1" for its own order.
    let b = app.second_tenant().await;
    let b_body = order_body(&b, Kind::V3, 1234);
    let b_order = app
        .create_order_idem(&b.api_key, "key-1", &b_body)
        .await
        .expect(201);
    assert_ne!(b_order["id"], created["id"]);

    let listed = app.orders(&a.api_key, "").await.expect(200);
    let ids: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["id"])
        .collect();
    assert_eq!(ids, vec![&second["id"], &created["id"]], "{listed}");
    app.finish().await;
}

/// A request still running holds its key: the same request again gets 409 until it is done
/// (or gave the key back). The running request is played by a claim taken in the store,
/// exactly as the server takes it.
async fn key_in_progress(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let body = order_body(&a, Kind::V2, 42);
    let parsed: CreateOrderRequest = serde_json::from_value(body.clone()).unwrap();
    let hash = request_hash("create_order", &serde_json::to_value(&parsed).unwrap());
    let tenant: TenantId = a.id.parse().unwrap();
    let claims = app.store().idempotency();
    assert!(matches!(
        claims.claim(&tenant, "busy", &hash).await.unwrap(),
        Claim::New
    ));
    app.create_order_idem(&a.api_key, "busy", &body)
        .await
        .expect_error(409, "idempotency_key_in_progress");
    let mut other = body.clone();
    other["amount"] = json!(43);
    app.create_order_idem(&a.api_key, "busy", &other)
        .await
        .expect_error(422, "idempotency_key_reused");
    let listed = app.orders(&a.api_key, "").await.expect(200);
    assert_eq!(listed["data"], json!([]), "{listed}");

    // The holder failed and released it: the retry runs.
    claims.release(&tenant, "busy").await.unwrap();
    let order = app
        .create_order_idem(&a.api_key, "busy", &body)
        .await
        .expect(201);
    assert_eq!(order["amount"], 42);
    app.finish().await;
}

async fn refund_retries(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let paid = app.paid_order(&a, Kind::V3, &user, 1000).await;

    let body = json!({ "amount": 300, "out_refund_no": "R-retry-1" });
    let first = app.refund(&a.api_key, &paid, &body).await;
    let first = first.expect(201);
    // The same out_refund_no and amount: the same refund, not a second one.
    let again = app.refund(&a.api_key, &paid, &body).await;
    assert!([200, 201].contains(&again.status), "{}", again.text);
    assert_eq!(again.json()["id"], first["id"]);
    // Another amount under the same out_refund_no.
    app.refund(
        &a.api_key,
        &paid,
        &json!({ "amount": 301, "out_refund_no": "R-retry-1" }),
    )
    .await
    .expect_error(409, "out_refund_no_reused");

    // With an Idempotency-Key: replayed, and refused for another body.
    let keyed = json!({ "amount": 100, "out_refund_no": "R-retry-2" });
    let k1 = app.refund_idem(&a.api_key, &paid, "rk-1", &keyed).await;
    let k1 = k1.expect(201);
    let k2 = app.refund_idem(&a.api_key, &paid, "rk-1", &keyed).await;
    assert_eq!(k2.status, 201, "{}", k2.text);
    assert_eq!(k2.json()["id"], k1["id"]);
    app.refund_idem(
        &a.api_key,
        &paid,
        "rk-1",
        &json!({ "amount": 101, "out_refund_no": "R-retry-3" }),
    )
    .await
    .expect_error(422, "idempotency_key_reused");

    let refunds = app
        .tenant_view(&app.admin.token, &a.id, "refunds", "")
        .await
        .expect(200);
    assert_eq!(refunds["data"].as_array().unwrap().len(), 2, "{refunds}");
    // 400 of 1000 is committed (PROCESSING): at most 600 more.
    app.refund(&a.api_key, &paid, &json!({ "amount": 601 }))
        .await
        .expect_error(422, "refund_exceeds_available");
    app.finish().await;
}

/// A request whose server died after committing but before answering: its claim is never
/// completed nor released. The client's retry gets 409 while the claim's lease runs, then runs
/// again — and, its merchant reference being derived from the key, finds the order (or the
/// refund) the first run committed instead of creating a second one. The dead run is played by
/// a claim taken in the store plus the order/refund it committed, made under the derived
/// reference exactly as the first run would have.
async fn crashed_requests_rerun_after_the_lease(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let tenant: TenantId = a.id.parse().unwrap();
    let claims = app.store().idempotency();

    // The order: no out_trade_no of its own.
    let mut body = order_body(&a, Kind::V2, 777);
    body.as_object_mut().unwrap().remove("out_trade_no");
    let parsed: CreateOrderRequest = serde_json::from_value(body.clone()).unwrap();
    let request = serde_json::to_value(&parsed).unwrap();
    let hash = request_hash("create_order", &request);
    let derived = derived_reference("pk", &tenant, "crash-1", "create_order", &request);
    assert!(matches!(
        claims.claim(&tenant, "crash-1", &hash).await.unwrap(),
        Claim::New
    ));
    let mut committed = body.clone();
    committed["out_trade_no"] = json!(derived);
    let committed = app.create_order(&a.api_key, &committed).await.expect(201);

    app.create_order_idem(&a.api_key, "crash-1", &body)
        .await
        .expect_error(409, "idempotency_key_in_progress");
    app.advance_both(time::Duration::minutes(2)).await;
    let rerun = app
        .create_order_idem(&a.api_key, "crash-1", &body)
        .await
        .expect(201);
    assert_eq!(
        rerun["id"], committed["id"],
        "the committed order, not a second one"
    );
    assert_eq!(rerun["out_trade_no"], json!(derived));
    let listed = app.orders(&a.api_key, "").await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    // Now completed: replayed as any finished request.
    let replay = app.create_order_idem(&a.api_key, "crash-1", &body).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json()["id"], committed["id"]);

    // The refund: no out_refund_no of its own.
    let user = app.user(&a).await;
    let paid = app.paid_order(&a, Kind::V2, &user, 1000).await;
    let refund_body = json!({ "amount": 250 });
    let parsed: CreateRefundRequest = serde_json::from_value(refund_body.clone()).unwrap();
    let request = json!({ "order_id": paid, "body": serde_json::to_value(&parsed).unwrap() });
    let hash = request_hash("create_refund", &request);
    let derived = derived_reference("rk", &tenant, "crash-2", "create_refund", &request);
    assert!(matches!(
        claims.claim(&tenant, "crash-2", &hash).await.unwrap(),
        Claim::New
    ));
    let first = app
        .refund(
            &a.api_key,
            &paid,
            &json!({ "amount": 250, "out_refund_no": derived }),
        )
        .await
        .expect(201);
    app.refund_idem(&a.api_key, &paid, "crash-2", &refund_body)
        .await
        .expect_error(409, "idempotency_key_in_progress");
    app.advance_both(time::Duration::minutes(2)).await;
    let rerun = app
        .refund_idem(&a.api_key, &paid, "crash-2", &refund_body)
        .await;
    assert!([200, 201].contains(&rerun.status), "{}", rerun.text);
    assert_eq!(
        rerun.json()["id"],
        first["id"],
        "the committed refund, not a second one"
    );
    let refunds = app
        .tenant_view(&app.admin.token, &a.id, "refunds", "")
        .await
        .expect(200);
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
    app.finish().await;
}
