use axum::http::{Method, StatusCode};
use paygate_store::{Audit, TenantStatus};
use serde_json::json;

use crate::support::{APPID, World};

async fn login(w: &World, appid: &str, code: &str) -> crate::support::Reply {
    w.call(
        Method::POST,
        &format!("/v1/apps/{appid}/sessions"),
        None,
        &[],
        Some(json!({ "code": code }).to_string()),
    )
    .await
}

#[tokio::test]
async fn a_login_code_becomes_a_two_hour_session() {
    let w = World::new().await;
    let openid = w.sim.sim().create_user(APPID, None, None).unwrap();
    let code = w.sim.sim().login_code(APPID, &openid).unwrap();
    let r = login(&w, APPID, &code).await;
    let body = r.assert_status(StatusCode::CREATED);
    assert_eq!(body["openid"], openid.as_str());
    let expires = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let now = w.now().replace_nanosecond(0).unwrap();
    assert_eq!(expires, now + time::Duration::hours(2));
    assert!(!r.bytes.windows(11).any(|win| win == b"session_key"));
    // The user was stored, and the token works on the tenant API.
    let user = w
        .store
        .users()
        .get(&w.tenant, &w.appid, &openid.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(user.openid.as_str(), openid);
    let token = body["session_token"].as_str().unwrap();
    let list = w.get("/v1/orders", token).await;
    assert_eq!(list.assert_status(StatusCode::OK)["data"], json!([]));

    // A code is single-use.
    login(&w, APPID, &code)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_login_code");
    // An expired session is refused.
    w.clock.advance(time::Duration::hours(2));
    w.get("/v1/orders", token)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "token_expired");
}

#[tokio::test]
async fn bad_logins_get_clear_codes() {
    let w = World::new().await;
    login(&w, "wx0000000000000000", "abc")
        .await
        .assert_error(StatusCode::NOT_FOUND, "app_not_found");
    login(&w, APPID, "not-a-real-code")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_login_code");
    let r = login(&w, APPID, "").await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "code");
    let r = login(&w, "not-an-appid", "abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test]
async fn logins_are_rate_limited_per_client_ip() {
    let w = World::with(|s| {
        s.tenant_limits.login_per_ip = paygate_server::settings::RateLimit {
            per_second: 1.0,
            burst: 2,
        };
    })
    .await;
    for _ in 0..2 {
        login(&w, APPID, "bogus")
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_login_code");
    }
    let r = login(&w, APPID, "bogus").await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
    w.clock.advance(time::Duration::seconds(1));
    let (_, _) = w.session().await;
}

#[tokio::test]
async fn the_tenant_request_rate_is_limited() {
    let w = World::with(|s| {
        s.tenant_limits.per_tenant = paygate_server::settings::RateLimit {
            per_second: 1.0,
            burst: 3,
        };
    })
    .await;
    for _ in 0..3 {
        w.get("/v1/orders", &w.key)
            .await
            .assert_status(StatusCode::OK);
    }
    let r = w.get("/v1/orders", &w.read_key).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
    w.clock.advance(time::Duration::seconds(1));
    w.get("/v1/orders", &w.key)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_for_keys_and_sessions() {
    let w = World::new().await;
    let (_, session) = w.session().await;
    w.store
        .tenants()
        .set_status(&Audit::cli(), &w.tenant, TenantStatus::Suspended)
        .await
        .unwrap();
    w.get("/v1/orders", &w.key)
        .await
        .assert_error(StatusCode::FORBIDDEN, "tenant_suspended");
    w.get("/v1/orders", &session)
        .await
        .assert_error(StatusCode::FORBIDDEN, "tenant_suspended");
    let openid = w.sim.sim().create_user(APPID, None, None).unwrap();
    let code = w.sim.sim().login_code(APPID, &openid).unwrap();
    login(&w, APPID, &code)
        .await
        .assert_error(StatusCode::FORBIDDEN, "tenant_suspended");
}

#[tokio::test]
async fn sessions_cannot_set_amounts_and_garbage_tokens_are_refused() {
    let w = World::new().await;
    let (_, session) = w.session().await;
    w.post(
        "/v1/orders",
        &session,
        json!({ "amount": 1, "description": "x", "channel_id": w.v3 }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "session_not_allowed");
    let order = w.order(&w.v3, 100).await;
    let id = order["id"].as_str().unwrap();
    w.post(
        &format!("/v1/orders/{id}/refunds"),
        &session,
        json!({ "amount": 1 }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "session_not_allowed");
    w.post(&format!("/v1/orders/{id}/close"), &session, json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "session_not_allowed");
    w.get("/v1/orders", "not-a-token")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    w.get("/v1/orders", "pk_not_a_key")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn wxacode_is_a_png_for_the_tenants_app() {
    let w = World::new().await;
    let r = w
        .post(
            &format!("/v1/apps/{APPID}/wxacode"),
            &w.key,
            json!({ "scene": "order=42", "page": "pages/pay/index", "width": 430 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "image/png");
    assert_eq!(&r.bytes[..4], b"\x89PNG");
    let r = w
        .post(
            &format!("/v1/apps/{APPID}/wxacode"),
            &w.key,
            json!({ "scene": "" }),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "scene");
    w.post(
        "/v1/apps/wx0000000000000000/wxacode",
        &w.key,
        json!({ "scene": "a" }),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "app_not_found");
}
