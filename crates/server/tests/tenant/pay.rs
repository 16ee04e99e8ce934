use axum::http::{Method, StatusCode};
use paygate_sim::{FaultKind, FaultSpec};
use serde_json::json;

use crate::support::World;

#[tokio::test]
async fn jsapi_on_v2_and_v3_gives_fields_the_wechat_client_accepts() {
    let w = World::new().await;
    let (openid, session) = w.session().await;
    for (channel, sign_type) in [(&w.v2, "MD5"), (&w.v3, "RSA")] {
        let order = w.order(channel, 1999).await;
        let id = order["id"].as_str().unwrap();
        let pay = w.pay_as(id, &openid, &session).await;
        assert_eq!(pay["trade_type"], "jsapi");
        assert_eq!(pay["request_payment"]["appId"], w.appid.as_str());
        assert_eq!(pay["request_payment"]["signType"], sign_type);
        assert!(
            pay["request_payment"]["package"]
                .as_str()
                .unwrap()
                .starts_with("prepay_id=")
        );
        let pending = w.get(&format!("/v1/orders/{id}"), &w.key).await;
        let pending = pending.assert_status(StatusCode::OK);
        assert_eq!(pending["state"], "PENDING");
        assert_eq!(pending["trade_type"], "JSAPI");
        assert_eq!(pending["payer_openid"], openid.as_str());
        assert_eq!(w.settle(id).await["state"], "PAID");
        w.post(
            &format!("/v1/orders/{id}/pay"),
            &session,
            json!({ "trade_type": "jsapi" }),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "order_already_paid");
    }
}

#[tokio::test]
async fn a_valid_prepay_is_reused_without_calling_wechat_and_renewed_after_expiry() {
    let w = World::new().await;
    let (openid, session) = w.session().await;
    let expires = (w.now() + time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = w
        .post(
            "/v1/orders",
            &w.key,
            json!({ "amount": 50, "description": "x", "channel_id": w.v3, "expires_at": expires }),
        )
        .await;
    let id = r.assert_status(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/orders/{id}/pay");
    let first = w
        .post(&path, &session, json!({ "trade_type": "jsapi" }))
        .await;
    let first = first.assert_status(StatusCode::OK).clone();
    // Any call to WeChat's prepay endpoint from now on fails; reuse must not make one.
    w.sim.sim().faults.add(FaultSpec {
        kind: FaultKind::SystemError,
        mch_id: None,
        endpoint: Some("/v3/pay/transactions/jsapi".into()),
        count: 1,
        delay_ms: 0,
    });
    let second = w
        .post(&path, &session, json!({ "trade_type": "jsapi" }))
        .await;
    let second = second.assert_status(StatusCode::OK).clone();
    assert_eq!(
        second["request_payment"]["package"],
        first["request_payment"]["package"]
    );
    assert_eq!(
        w.sim.sim().faults.list().len(),
        1,
        "no upstream call was made"
    );

    // After the prepay expires, paying again goes to WeChat: here it is busy (retryable) …
    w.clock.advance(time::Duration::hours(3));
    w.sim.advance(time::Duration::hours(3));
    // (The two-hour session expired too: the user logs in again.)
    let code = w
        .sim
        .sim()
        .login_code(crate::support::APPID, &openid)
        .unwrap();
    let login = w
        .call(
            Method::POST,
            &format!("/v1/apps/{}/sessions", crate::support::APPID),
            None,
            &[],
            Some(json!({ "code": code }).to_string()),
        )
        .await;
    let session = login.assert_status(StatusCode::CREATED)["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let busy = w
        .post(&path, &session, json!({ "trade_type": "jsapi" }))
        .await;
    busy.assert_error(StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable");
    assert_eq!(busy.body["details"]["retryable"], true);
    assert!(w.sim.sim().faults.list().is_empty());
    // … then the prepay is renewed, and the WeChat client accepts it.
    let renewed = w.pay_as(&id, &openid, &session).await;
    assert_ne!(
        renewed["request_payment"]["package"],
        first["request_payment"]["package"]
    );
    assert_eq!(w.settle(&id).await["state"], "PAID");
}

#[tokio::test]
async fn another_users_order_is_not_yours() {
    let w = World::new().await;
    let (alice, alice_s) = w.session().await;
    let (_, bob_s) = w.session().await;
    let order = w.order(&w.v2, 100).await;
    let id = order["id"].as_str().unwrap();
    w.pay_as(id, &alice, &alice_s).await;
    w.post(
        &format!("/v1/orders/{id}/pay"),
        &bob_s,
        json!({ "trade_type": "jsapi" }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "order_not_yours");
    // An order created for a payer is bound from the start.
    let r = w
        .post(
            "/v1/orders",
            &w.key,
            json!({ "amount": 1, "description": "x", "channel_id": w.v3, "payer_openid": alice }),
        )
        .await;
    let bound = r.assert_status(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.post(
        &format!("/v1/orders/{bound}/pay"),
        &bob_s,
        json!({ "trade_type": "jsapi" }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "order_not_yours");
}

#[tokio::test]
async fn native_payments_give_a_code_url_or_a_png() {
    let w = World::new().await;
    for channel in [&w.v2, &w.v3] {
        let order = w.order(channel, 100).await;
        let id = order["id"].as_str().unwrap();
        let r = w
            .post(
                &format!("/v1/orders/{id}/pay"),
                &w.key,
                json!({ "trade_type": "native" }),
            )
            .await;
        let body = r.assert_status(StatusCode::OK);
        assert_eq!(body["trade_type"], "native");
        assert!(
            body["code_url"].as_str().unwrap().starts_with("weixin://"),
            "{body}"
        );
        let png = w
            .call(
                Method::POST,
                &format!("/v1/orders/{id}/pay?format=png"),
                Some(&w.key),
                &[],
                Some(json!({ "trade_type": "native" }).to_string()),
            )
            .await;
        assert_eq!(png.status, StatusCode::OK);
        assert_eq!(png.headers["content-type"], "image/png");
        assert_eq!(&png.bytes[..4], b"\x89PNG");
    }
}

#[tokio::test]
async fn bad_pay_requests() {
    let w = World::new().await;
    let order = w.order(&w.v3, 100).await;
    let id = order["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/pay");
    // An API key paying JSAPI for an unbound order: who pays?
    let r = w
        .post(&path, &w.key, json!({ "trade_type": "jsapi" }))
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "payer_openid");
    let r = w.post(&path, &w.key, json!({ "trade_type": "card" })).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "trade_type");
    w.post(&path, &w.read_key, json!({ "trade_type": "native" }))
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    // Nothing was sent or stored.
    let got = w.get(&format!("/v1/orders/{id}"), &w.key).await;
    assert_eq!(got.assert_status(StatusCode::OK)["state"], "CREATED");
    // An order past its expiry cannot be paid, even before the worker closes it.
    w.clock.advance(time::Duration::hours(2));
    w.post(&path, &w.key, json!({ "trade_type": "native" }))
        .await
        .assert_error(StatusCode::CONFLICT, "order_expired");
}
