use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::World;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn orders_on_v2_and_v3_channels_take_the_same_path() {
    let w = World::new().await;
    for channel in [&w.v2, &w.v3] {
        let order = w.order(channel, 1999).await;
        assert_eq!(order["state"], "CREATED");
        assert_eq!(order["amount"], 1999);
        assert_eq!(order["currency"], "CNY");
        assert_eq!(order["channel_id"], channel.as_str());
        assert_eq!(order["appid"], w.appid.as_str());
        let out_trade_no = order["out_trade_no"].as_str().unwrap();
        assert_eq!(out_trade_no.len(), 32, "{out_trade_no}");
        let expires = now_plus(&w, time::Duration::hours(2));
        assert_eq!(order["expires_at"], rfc3339(expires));
        let id = order["id"].as_str().unwrap();
        let got = w.get(&format!("/v1/orders/{id}"), &w.read_key).await;
        assert_eq!(got.assert_status(StatusCode::OK)["id"], id);
    }
    let list = w.get("/v1/orders?state=CREATED", &w.read_key).await;
    assert_eq!(
        list.assert_status(StatusCode::OK)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

fn now_plus(w: &World, d: time::Duration) -> time::OffsetDateTime {
    (w.now() + d).replace_nanosecond(0).unwrap()
}

#[tokio::test]
async fn bad_orders_are_refused_with_the_field_and_nothing_is_stored() {
    let w = World::new().await;
    let past = rfc3339(w.now() - time::Duration::minutes(1));
    let far = rfc3339(w.now() + time::Duration::days(8));
    let ch = w.v3.as_str();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "amount": 1.5, "description": "x", "channel_id": ch }),
            "amount",
        ),
        (
            json!({ "amount": "100", "description": "x", "channel_id": ch }),
            "amount",
        ),
        (
            json!({ "amount": 0, "description": "x", "channel_id": ch }),
            "amount",
        ),
        (
            json!({ "amount": -5, "description": "x", "channel_id": ch }),
            "amount",
        ),
        (
            json!({ "amount": 10_000_000_001_i64, "description": "x", "channel_id": ch }),
            "amount",
        ),
        (json!({ "description": "x", "channel_id": ch }), "amount"),
        (
            json!({ "amount": 1, "description": "", "channel_id": ch }),
            "description",
        ),
        (
            json!({ "amount": 1, "description": "x".repeat(128), "channel_id": ch }),
            "description",
        ),
        (
            json!({ "amount": 1, "description": "x", "currency": "USD", "channel_id": ch }),
            "currency",
        ),
        (
            json!({ "amount": 1, "description": "x", "expires_at": past, "channel_id": ch }),
            "expires_at",
        ),
        (
            json!({ "amount": 1, "description": "x", "expires_at": far, "channel_id": ch }),
            "expires_at",
        ),
        (
            json!({ "amount": 1, "description": "x", "expires_at": "tomorrow", "channel_id": ch }),
            "expires_at",
        ),
        (
            json!({ "amount": 1, "description": "x", "out_trade_no": "a b", "channel_id": ch }),
            "out_trade_no",
        ),
        (
            json!({ "amount": 1, "description": "x", "attach": "a".repeat(128), "channel_id": ch }),
            "attach",
        ),
        (
            json!({ "amount": 1, "description": "x", "amout": 2, "channel_id": ch }),
            "amout",
        ),
    ];
    for (body, field) in cases {
        let r = w.post("/v1/orders", &w.key, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["code"], "invalid_request", "{body}");
        let named = r.body["details"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let message = r.body["message"].as_str().unwrap_or_default().to_owned();
        assert!(
            named == field || message.contains(field),
            "{body}: {}",
            r.body
        );
    }
    // Two active channels and no default: the tenant must choose.
    w.post(
        "/v1/orders",
        &w.key,
        json!({ "amount": 1, "description": "x" }),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "no_channel");
    w.post(
        "/v1/orders",
        &w.key,
        json!({ "amount": 1, "description": "x", "channel_id": "ch_nope" }),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "channel_not_found");
    w.post(
        "/v1/orders",
        &w.read_key,
        json!({ "amount": 1, "description": "x", "channel_id": ch }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    let list = w.get("/v1/orders", &w.key).await;
    assert_eq!(list.assert_status(StatusCode::OK)["data"], json!([]));
}

#[tokio::test]
async fn duplicate_out_trade_no_is_a_conflict() {
    let w = World::new().await;
    let body =
        json!({ "amount": 5, "description": "x", "out_trade_no": "shop-0001", "channel_id": w.v2 });
    w.post("/v1/orders", &w.key, body.clone())
        .await
        .assert_status(StatusCode::CREATED);
    w.post("/v1/orders", &w.key, body)
        .await
        .assert_error(StatusCode::CONFLICT, "duplicate_out_trade_no");
}

async fn with_key(w: &World, key: &str, body: &Value) -> crate::support::Reply {
    w.call(
        Method::POST,
        "/v1/orders",
        Some(&w.key),
        &[("idempotency-key", key)],
        Some(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn idempotency_keys_replay_or_refuse() {
    let w = World::new().await;
    let body = json!({ "amount": 100, "description": "Tea", "channel_id": w.v3 });
    let first = with_key(&w, "k-1", &body).await;
    let created = first.assert_status(StatusCode::CREATED).clone();
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Same key, same request (keys in another order): the same answer, replayed.
    let reordered = format!(
        r#"{{"channel_id":"{}","description":"Tea","amount":100}}"#,
        w.v3.as_str()
    );
    let again = w
        .call(
            Method::POST,
            "/v1/orders",
            Some(&w.key),
            &[("idempotency-key", "k-1")],
            Some(reordered),
        )
        .await;
    assert_eq!(again.assert_status(StatusCode::CREATED), &created);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // Same key, another request.
    let other = json!({ "amount": 101, "description": "Tea", "channel_id": w.v3 });
    with_key(&w, "k-1", &other)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    // A failed request releases its key: fixing the body and retrying works.
    let bad = json!({ "amount": 1, "description": "x", "out_trade_no": created["out_trade_no"], "channel_id": w.v3 });
    with_key(&w, "k-2", &bad)
        .await
        .assert_error(StatusCode::CONFLICT, "duplicate_out_trade_no");
    with_key(&w, "k-2", &other)
        .await
        .assert_status(StatusCode::CREATED);
    // A key claimed by a request still running: the same request waits (409), another is
    // refused (422).
    let hash = paygate_server::payments::idempotency::request_hash("create_order", &body);
    let claim = w
        .store
        .idempotency()
        .claim(&w.tenant, "k-3", &hash)
        .await
        .unwrap();
    assert_eq!(claim, paygate_store::Claim::New);
    with_key(&w, "k-3", &body)
        .await
        .assert_error(StatusCode::CONFLICT, "idempotency_key_in_progress");
    with_key(&w, "k-3", &other)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    let list = w.get("/v1/orders", &w.key).await;
    assert_eq!(
        list.assert_status(StatusCode::OK)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Keys are remembered 24 hours.
    w.clock.advance(time::Duration::hours(25));
    with_key(&w, "k-1", &other)
        .await
        .assert_status(StatusCode::CREATED);
}

/// A retry is answered by its key before its body is checked again: a finished request is
/// replayed even when its body would no longer pass (here an expiry now too close), and a key
/// held by another request is 409/422 as before, while an invalid request on a free key is
/// refused without holding the key.
#[tokio::test]
async fn held_keys_are_answered_before_the_body_is_checked() {
    let w = World::new().await;
    let expires = rfc3339(now_plus(&w, time::Duration::minutes(3)));
    let body =
        json!({ "amount": 100, "description": "Tea", "channel_id": w.v3, "expires_at": expires });
    let created = with_key(&w, "k-exp", &body).await;
    let created = created.assert_status(StatusCode::CREATED).clone();
    w.clock.advance(time::Duration::minutes(5));
    w.post("/v1/orders", &w.key, body.clone())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    let replay = with_key(&w, "k-exp", &body).await;
    assert_eq!(replay.assert_status(StatusCode::CREATED), &created);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.headers["content-type"], "application/json");
    // Another invalid request under the finished key: the key's answer, reused.
    let bad = json!({ "amount": 0, "description": "Tea", "channel_id": w.v3 });
    with_key(&w, "k-exp", &bad)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    // A key held by a running request: an invalid request with it is still 409 or 422.
    let hash = paygate_server::payments::idempotency::request_hash("create_order", &bad);
    w.store
        .idempotency()
        .claim(&w.tenant, "k-run", &hash)
        .await
        .unwrap();
    with_key(&w, "k-run", &bad)
        .await
        .assert_error(StatusCode::CONFLICT, "idempotency_key_in_progress");
    // On a free key the invalid request is refused, and holds nothing.
    with_key(&w, "k-free", &bad)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    let ok = json!({ "amount": 5, "description": "Tea", "channel_id": w.v3 });
    with_key(&w, "k-free", &ok)
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn closing_is_idempotent_and_closed_orders_cannot_be_paid() {
    let w = World::new().await;
    let order = w.order(&w.v3, 100).await;
    let id = order["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/close");
    let closed = w.post(&path, &w.key, json!({})).await;
    assert_eq!(closed.assert_status(StatusCode::OK)["state"], "CLOSED");
    let again = w.post(&path, &w.key, json!({})).await;
    assert_eq!(again.assert_status(StatusCode::OK)["state"], "CLOSED");
    w.post(
        &format!("/v1/orders/{id}/pay"),
        &w.key,
        json!({ "trade_type": "native" }),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "order_closed");
    w.post(&path, &w.read_key, json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    w.post(
        "/v1/orders/ord_01JD2Z6V3KQ8X4M7R9T0B1C2D3/close",
        &w.key,
        json!({}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "order_not_found");
}

#[tokio::test]
async fn a_pending_order_is_closed_upstream_and_a_paid_one_refuses() {
    let w = World::new().await;
    let (openid, session) = w.session().await;
    let order = w.order(&w.v2, 300).await;
    let id = order["id"].as_str().unwrap();
    w.post(
        &format!("/v1/orders/{id}/pay"),
        &session,
        json!({ "trade_type": "jsapi" }),
    )
    .await
    .assert_status(StatusCode::OK);
    // WeChat refuses to close an order in its first five minutes; its code is passed on.
    let early = w
        .post(&format!("/v1/orders/{id}/close"), &w.key, json!({}))
        .await;
    early.assert_error(StatusCode::BAD_GATEWAY, "upstream_rejected");
    assert_eq!(early.body["details"]["upstream_code"], "TRADE_STATE_ERROR");
    w.clock.advance(time::Duration::minutes(5));
    w.sim.advance(time::Duration::minutes(5));
    let closed = w
        .post(&format!("/v1/orders/{id}/close"), &w.key, json!({}))
        .await;
    assert_eq!(closed.assert_status(StatusCode::OK)["state"], "CLOSED");

    let paid = w.order(&w.v3, 300).await;
    let pid = paid["id"].as_str().unwrap();
    w.pay_as(pid, &openid, &session).await;
    assert_eq!(w.settle(pid).await["state"], "PAID");
    w.post(&format!("/v1/orders/{pid}/close"), &w.key, json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "order_already_paid");
}

#[tokio::test]
async fn sessions_see_only_their_own_orders() {
    let w = World::new().await;
    let (alice, alice_s) = w.session().await;
    let (_, bob_s) = w.session().await;
    let order = w.order(&w.v3, 100).await;
    let id = order["id"].as_str().unwrap();
    w.get(&format!("/v1/orders/{id}"), &alice_s)
        .await
        .assert_error(StatusCode::NOT_FOUND, "order_not_found");
    w.pay_as(id, &alice, &alice_s).await;
    let mine = w.get(&format!("/v1/orders/{id}"), &alice_s).await;
    assert_eq!(
        mine.assert_status(StatusCode::OK)["payer_openid"],
        alice.as_str()
    );
    w.get(&format!("/v1/orders/{id}"), &bob_s)
        .await
        .assert_error(StatusCode::NOT_FOUND, "order_not_found");
    let alice_list = w.get("/v1/orders", &alice_s).await;
    assert_eq!(
        alice_list.assert_status(StatusCode::OK)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bob_list = w.get("/v1/orders", &bob_s).await;
    assert_eq!(bob_list.assert_status(StatusCode::OK)["data"], json!([]));
}
