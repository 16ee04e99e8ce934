use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::World;

/// A paid order of `amount` fen on the v3 channel (or v2 when `v2`).
async fn paid_order(w: &World, amount: i64, v2: bool) -> String {
    let (openid, session) = w.session().await;
    let order = w.order(if v2 { &w.v2 } else { &w.v3 }, amount).await;
    let id = order["id"].as_str().unwrap().to_owned();
    w.pay_as(&id, &openid, &session).await;
    assert_eq!(w.settle(&id).await["state"], "PAID");
    id
}

#[tokio::test]
async fn refunds_never_exceed_what_is_left() {
    let w = World::new().await;
    for v2 in [false, true] {
        let id = paid_order(&w, 1000, v2).await;
        let path = format!("/v1/orders/{id}/refunds");
        let r = w
            .post(&path, &w.key, json!({ "amount": 300, "reason": "damaged" }))
            .await;
        let refund = r.assert_status(StatusCode::CREATED).clone();
        assert_eq!(refund["state"], "PROCESSING");
        assert_eq!(refund["amount"], 300);
        assert_eq!(refund["order_id"], id.as_str());
        let r = w.post(&path, &w.key, json!({ "amount": 800 })).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_available");
        assert_eq!(r.body["details"]["available_amount"], 700);
        let rid = refund["id"].as_str().unwrap();
        let got = w.get(&format!("/v1/refunds/{rid}"), &w.read_key).await;
        assert_eq!(got.assert_status(StatusCode::OK)["id"], rid);
        let list = w.get(&path, &w.read_key).await;
        assert_eq!(
            list.assert_status(StatusCode::OK)["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // The audit log names the API key that refunded.
        let page = paygate_store::Page::new(Some(200), None);
        let audit = w
            .store
            .audit_log()
            .list(Some(&w.tenant), &page)
            .await
            .unwrap();
        let entry = audit
            .data
            .iter()
            .find(|e| e.action == "refund.create" && e.target == rid)
            .expect("an audit row for the refund");
        assert!(entry.actor.starts_with("key_"), "{}", entry.actor);
    }
}

#[tokio::test]
async fn out_refund_no_makes_refunds_idempotent() {
    let w = World::new().await;
    let id = paid_order(&w, 500, false).await;
    let path = format!("/v1/orders/{id}/refunds");
    let body = json!({ "amount": 100, "out_refund_no": "rf-0001" });
    let first = w.post(&path, &w.key, body.clone()).await;
    let first = first.assert_status(StatusCode::CREATED).clone();
    let again = w.post(&path, &w.key, body).await;
    assert_eq!(again.assert_status(StatusCode::OK)["id"], first["id"]);
    w.post(
        &path,
        &w.key,
        json!({ "amount": 200, "out_refund_no": "rf-0001" }),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "out_refund_no_reused");
    // Idempotency-Key works on refunds too.
    let a = call(&w, &path, "r-1", json!({ "amount": 50 })).await;
    let a = a.assert_status(StatusCode::CREATED).clone();
    let b = call(&w, &path, "r-1", json!({ "amount": 50 })).await;
    assert_eq!(b.assert_status(StatusCode::CREATED), &a);
    assert_eq!(b.headers["idempotent-replayed"], "true");
    call(&w, &path, "r-1", json!({ "amount": 51 }))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    let list = w.get(&path, &w.key).await;
    assert_eq!(
        list.assert_status(StatusCode::OK)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn call(w: &World, path: &str, key: &str, body: Value) -> crate::support::Reply {
    w.call(
        Method::POST,
        path,
        Some(&w.key),
        &[("idempotency-key", key)],
        Some(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn bad_refunds() {
    let w = World::new().await;
    let unpaid = w.order(&w.v3, 100).await;
    let uid = unpaid["id"].as_str().unwrap();
    w.post(
        &format!("/v1/orders/{uid}/refunds"),
        &w.key,
        json!({ "amount": 1 }),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "order_not_refundable");
    let id = paid_order(&w, 100, false).await;
    let path = format!("/v1/orders/{id}/refunds");
    for (body, field) in [
        (json!({ "amount": 0 }), "amount"),
        (json!({ "amount": 1.5 }), "amount"),
        (json!({ "amount": 1, "reason": "" }), "reason"),
        (
            json!({ "amount": 1, "out_refund_no": "no spaces" }),
            "out_refund_no",
        ),
    ] {
        let r = w.post(&path, &w.key, body.clone()).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
        assert_eq!(r.body["details"]["field"], field, "{body}");
    }
    w.post(&path, &w.read_key, json!({ "amount": 1 }))
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    let list = w.get(&path, &w.key).await;
    assert_eq!(list.assert_status(StatusCode::OK)["data"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refunds_never_exceed_the_paid_amount() {
    let w = World::new().await;
    let id = paid_order(&w, 1000, false).await;
    let path = format!("/v1/orders/{id}/refunds");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let app = w.app.clone();
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri(&path)
            .header("authorization", format!("Bearer {}", w.key))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json!({ "amount": 300 }).to_string()))
            .unwrap();
        tasks.spawn(async move {
            use tower::ServiceExt;
            let response = app.oneshot(req).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        });
    }
    let replies = tasks.join_all().await;
    let created = replies
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(
        created, 3,
        "3 × 300 fit in 1000, a fourth does not: {replies:?}"
    );
    for (status, body) in replies.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "refund_exceeds_available", "{body}");
    }
    let detail = w.get(&format!("/v1/orders/{id}/refunds"), &w.key).await;
    let total: i64 = detail.assert_status(StatusCode::OK)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 900);
}
