//! Login, tokens, roles, revocation and the login rate limit.

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use time::Duration;

use crate::support::{ADMIN_PASSWORD, Harness, START, VIEWER_PASSWORD};

#[tokio::test]
async fn login_returns_a_bearer_token_that_opens_the_admin_api() {
    let h = Harness::new().await;
    let r = h.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    // 15 minutes after the clock's start (2026-01-01T00:00:00Z).
    assert_eq!(r.body["expires_at"], "2026-01-01T00:15:00Z");
    let token = r.body["token"].as_str().unwrap();
    let list = h.get("/admin/v1/tenants", token).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["data"], json!([]));
    assert_eq!(list.body["next_cursor"], json!(null));
}

#[tokio::test]
async fn every_wrong_combination_is_the_same_401() {
    let h = Harness::new().await;
    let wrong_password = h.login("admin", "not the password at all").await;
    let unknown_user = h.login("nobody", ADMIN_PASSWORD).await;
    for r in [&wrong_password, &unknown_user] {
        r.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    assert_eq!(wrong_password.body, unknown_user.body);

    // A disabled operator with the right password gets the same answer.
    let admin = h.admin_token().await;
    let viewer_id = operator_id(&h, &admin, "viewer").await;
    let r = h
        .call(
            Method::PATCH,
            &format!("/admin/v1/operators/{viewer_id}"),
            Some(&admin),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    h.login("viewer", VIEWER_PASSWORD)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

async fn operator_id(h: &Harness, token: &str, username: &str) -> String {
    let r = h.get("/admin/v1/operators", token).await;
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["username"] == username)
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn bad_tokens_have_distinct_codes() {
    let h = Harness::new().await;
    let token = h.admin_token().await;
    let path = "/admin/v1/tenants";
    h.call(Method::GET, path, None, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "missing_token");
    h.get(path, "garbage")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_token");

    // Tampered payload: flip the token version, keep the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let forged = URL_SAFE_NO_PAD.encode(payload.replace("\"tv\":0", "\"tv\":7"));
    assert_ne!(forged, parts[1]);
    h.get(path, &format!("{}.{forged}.{}", parts[0], parts[2]))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_token");

    // alg "none", unsigned.
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    h.get(path, &format!("{none}.{}.", parts[1]))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_token");

    // A Basic credential is not a bearer token.
    let r = h
        .send(
            axum::http::Request::get(path)
                .header("authorization", "Basic YWRtaW46cGFzcw==")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    r.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");

    h.clock.advance(Duration::minutes(15));
    h.get(path, &token)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "token_expired");
}

#[tokio::test]
async fn viewers_read_but_cannot_write() {
    let h = Harness::new().await;
    let viewer = h.viewer_token().await;
    assert_eq!(
        h.get("/admin/v1/tenants", &viewer).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/admin/v1/operators", &viewer).await.status,
        StatusCode::OK
    );
    h.post("/admin/v1/tenants", &viewer, json!({ "name": "Acme" }))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    h.post(
        "/admin/v1/operators",
        &viewer,
        json!({ "username": "x", "password": "long enough password", "role": "admin" }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn role_changes_revoke_tokens_and_admins_cannot_lock_themselves_out() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let viewer = h.viewer_token().await;
    let viewer_id = operator_id(&h, &admin, "viewer").await;
    let admin_id = operator_id(&h, &admin, "admin").await;

    let r = h
        .call(
            Method::PATCH,
            &format!("/admin/v1/operators/{viewer_id}"),
            Some(&admin),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(r.body["role"], "admin", "{}", r.text);
    // The old token carried the old token version.
    h.get("/admin/v1/tenants", &viewer)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "token_revoked");
    // A fresh login works and now may write.
    let promoted = h.viewer_token().await;
    assert_eq!(
        h.post("/admin/v1/tenants", &promoted, json!({ "name": "Acme" }))
            .await
            .status,
        StatusCode::CREATED
    );

    for change in [json!({ "disabled": true }), json!({ "role": "viewer" })] {
        h.call(
            Method::PATCH,
            &format!("/admin/v1/operators/{admin_id}"),
            Some(&admin),
            Some(change),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "cannot_modify_self");
    }
    h.call(
        Method::PATCH,
        "/admin/v1/operators/op_00000000000000000000000000",
        Some(&admin),
        Some(json!({ "disabled": true })),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "operator_not_found");
}

#[tokio::test]
async fn operators_are_created_with_password_rules_and_unique_names() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let r = h
        .post(
            "/admin/v1/operators",
            &admin,
            json!({ "username": "carol", "password": "short", "role": "viewer" }),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "password");

    let r = h
        .post(
            "/admin/v1/operators",
            &admin,
            json!({ "username": "carol", "password": "a long enough password", "role": "viewer" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["role"], "viewer");
    assert!(!r.text.contains("password"), "{}", r.text);
    assert_eq!(
        h.login("carol", "a long enough password").await.status,
        StatusCode::OK
    );

    h.post(
        "/admin/v1/operators",
        &admin,
        json!({ "username": "carol", "password": "another long password", "role": "admin" }),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "username_taken");

    let r = h
        .post(
            "/admin/v1/operators",
            &admin,
            json!({ "username": "dave", "password": "a long enough password", "role": "root" }),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "role");
}

#[tokio::test]
async fn repeated_failures_are_throttled_until_the_window_passes() {
    let h = Harness::new().await;
    for _ in 0..5 {
        h.login("admin", "wrong password!!")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // Blocked even with the right password, without revealing whether it was right.
    let r = h.login("admin", ADMIN_PASSWORD).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_login_attempts");
    assert_eq!(r.headers["retry-after"], "900");
    assert_eq!(r.body["details"]["retry_after_seconds"], 900);

    h.clock.advance(Duration::minutes(10));
    let r = h.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.headers["retry-after"], "300");

    h.clock.advance(Duration::minutes(5));
    let r = h.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let expected_exp = time::OffsetDateTime::from_unix_timestamp(START + 15 * 60 + 15 * 60)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(r.body["expires_at"], expected_exp);
}
