//! Operator authentication and authorisation: every way a token can be wrong (with the
//! documented codes), roles, revocation by disabling, and the login rate limit.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, both_backends};

both_backends!(
    bad_tokens_are_refused,
    expired_tokens_are_refused,
    viewers_read_but_never_write,
    disabling_an_operator_revokes_its_tokens,
    failed_logins_are_rate_limited,
    retry_after_is_long_enough
);

/// Claims as paygate issues them, for `operator` at the server's current time.
fn claims(app: &TestApp, operator: &str) -> Value {
    let now = paygate_core::Clock::now(&app.clock).unix_timestamp();
    json!({
        "iss": "paygate", "aud": "paygate-admin", "sub": operator,
        "iat": now, "exp": now + 600, "tv": 0,
    })
}

fn sign(app: &TestApp, alg: Algorithm, claims: &Value) -> String {
    let key = EncodingKey::from_secret(app.jwt_secret.as_bytes());
    jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("sign")
}

async fn tenants_with(app: &TestApp, authorization: &str) -> crate::harness::Response {
    app.req(Method::GET, "/admin/v1/tenants")
        .header("authorization", authorization)
        .send()
        .await
}

async fn bad_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.operator_id.clone();

    let missing = app.req(Method::GET, "/admin/v1/tenants").send().await;
    missing.expect_error(401, "missing_token");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));

    for garbled in [
        "Bearer garbage",
        "Bearer a.b.c",
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ] {
        tenants_with(&app, garbled)
            .await
            .expect_error(401, "invalid_token");
    }

    // A correctly signed token is accepted: the forgeries below differ in one thing each.
    let good = sign(&app, Algorithm::HS256, &claims(&app, &admin));
    app.secret("forged token", &good);
    tenants_with(&app, &format!("Bearer {good}"))
        .await
        .expect(200);

    let (head_and_payload, signature) = good.rsplit_once('.').expect("three parts");
    let mut flipped: Vec<char> = signature.chars().collect();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == 'A' { 'B' } else { 'A' };
    let tampered = format!("{head_and_payload}.{}", flipped.iter().collect::<String>());
    tenants_with(&app, &format!("Bearer {tampered}"))
        .await
        .expect_error(401, "invalid_token");

    let payload = good.split('.').nth(1).expect("payload");
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    tenants_with(&app, &format!("Bearer {none_header}.{payload}."))
        .await
        .expect_error(401, "invalid_token");

    let hs512 = sign(&app, Algorithm::HS512, &claims(&app, &admin));
    tenants_with(&app, &format!("Bearer {hs512}"))
        .await
        .expect_error(401, "invalid_token");

    for (claim, value) in [("aud", "paygate-tenant"), ("iss", "someone-else")] {
        let mut foreign = claims(&app, &admin);
        foreign[claim] = json!(value);
        let token = sign(&app, Algorithm::HS256, &foreign);
        tenants_with(&app, &format!("Bearer {token}"))
            .await
            .expect_error(401, "invalid_token");
    }

    let other_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&app, &admin),
        &EncodingKey::from_secret(b"not-the-server-secret-not-the-server-secret"),
    )
    .expect("sign");
    tenants_with(&app, &format!("Bearer {other_secret}"))
        .await
        .expect_error(401, "invalid_token");

    // Validly signed, for an operator that does not exist (or an older token version).
    let ghost = sign(
        &app,
        Algorithm::HS256,
        &claims(&app, "op_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    );
    tenants_with(&app, &format!("Bearer {ghost}"))
        .await
        .expect_error(401, "token_revoked");
    let mut stale = claims(&app, &admin);
    stale["tv"] = json!(7);
    let stale = sign(&app, Algorithm::HS256, &stale);
    tenants_with(&app, &format!("Bearer {stale}"))
        .await
        .expect_error(401, "token_revoked");

    app.finish().await;
}

async fn expired_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.login(&app.admin.username, &app.admin.password).await;
    let body = login.expect(200);
    let token = body["token"].as_str().expect("token").to_owned();
    app.issued("second operator token", &login, &token);
    let expires_at = time::OffsetDateTime::parse(
        body["expires_at"].as_str().expect("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let ttl = expires_at - paygate_core::Clock::now(&app.clock);
    assert!(
        ttl <= time::Duration::minutes(15) && ttl > time::Duration::minutes(14),
        "the default lifetime is 15 minutes, got {ttl}"
    );

    app.list_tenants(&token, "").await.expect(200);
    app.clock.set(expires_at);
    app.list_tenants(&token, "")
        .await
        .expect_error(401, "token_expired");
    // Logging in again works at the new time.
    let fresh = app.login_ok(&app.admin.username, &app.admin.password).await;
    app.list_tenants(&fresh, "").await.expect(200);

    app.finish().await;
}

async fn viewers_read_but_never_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tid = app.new_tenant().await;
    let viewer = app.new_operator("viewer").await;

    app.list_tenants(&viewer.token, "").await.expect(200);
    app.get_tenant(&viewer.token, &tid).await.expect(200);
    app.list_channels(&viewer.token, &tid).await.expect(200);
    app.audit_log(&viewer.token, "").await.expect(200);
    app.list_operators(&viewer.token).await.expect(200);

    let writes = [
        app.create_tenant(&viewer.token, &json!({ "name": "nope" }))
            .await,
        app.suspend_tenant(&viewer.token, &tid).await,
        app.create_api_key(
            &viewer.token,
            &tid,
            &json!({ "name": "k", "scopes": ["read"] }),
        )
        .await,
        app.put_webhook(&viewer.token, &tid, "https://example.com/hook")
            .await,
        app.create_operator(
            &viewer.token,
            &json!({ "username": "sneaky", "password": "a-long-password", "role": "admin" }),
        )
        .await,
    ];
    for response in &writes {
        response.expect_error(403, "forbidden");
    }
    let tenants = app.list_tenants(&app.admin.token, "").await.expect(200);
    assert_eq!(
        tenants["data"].as_array().map(Vec::len),
        Some(1),
        "{tenants}"
    );
    assert_eq!(tenants["data"][0]["status"], "active");

    app.finish().await;
}

async fn disabling_an_operator_revokes_its_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let other = app.new_operator("admin").await;
    app.list_tenants(&other.token, "").await.expect(200);

    app.update_operator(&admin, &app.admin.operator_id, &json!({ "disabled": true }))
        .await
        .expect_error(409, "cannot_modify_self");

    let disabled = app
        .update_operator(&admin, &other.operator_id, &json!({ "disabled": true }))
        .await
        .expect(200);
    assert_eq!(disabled["disabled"], true);
    app.list_tenants(&other.token, "")
        .await
        .expect_error(401, "token_revoked");
    app.login(&other.username, &other.password)
        .await
        .expect_error(401, "invalid_credentials");

    // Re-enabling lets it log in again, but the old token stays dead.
    app.update_operator(&admin, &other.operator_id, &json!({ "disabled": false }))
        .await
        .expect(200);
    app.list_tenants(&other.token, "")
        .await
        .expect_error(401, "token_revoked");
    let fresh = app.login_ok(&other.username, &other.password).await;
    app.list_tenants(&fresh, "").await.expect(200);

    app.finish().await;
}

/// Five failed logins for `user` from this address; returns the refused right-password
/// response that follows.
async fn lock_out(app: &TestApp, username: &str, password: &str) -> crate::harness::Response {
    for _ in 0..5 {
        app.login(username, "wrong-password-123")
            .await
            .expect_error(401, "invalid_credentials");
    }
    app.login(username, password).await
}

async fn failed_logins_are_rate_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.new_operator("viewer").await;

    app.login("nobody-at-all", "wrong-password-123")
        .await
        .expect_error(401, "invalid_credentials");
    // Limited: even the right password is refused, with a hint of when to retry.
    let limited = lock_out(&app, &user.username, &user.password).await;
    let body = limited.expect_error(429, "too_many_login_attempts");
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert_eq!(body["details"]["retry_after_seconds"], retry);
    app.login(&user.username, &user.password)
        .await
        .expect_error(429, "too_many_login_attempts");
    // The limit is per user and address: another operator on the same address is unaffected.
    app.login_ok(&app.admin.username, &app.admin.password).await;

    // Once the 15-minute window has passed, the right password works again.
    app.clock.advance(time::Duration::minutes(15));
    let token = app.login_ok(&user.username, &user.password).await;
    app.list_tenants(&token, "").await.expect(200);

    app.finish().await;
}

async fn retry_after_is_long_enough(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.new_operator("viewer").await;
    let limited = lock_out(&app, &user.username, &user.password).await;
    limited.expect_error(429, "too_many_login_attempts");
    let retry: i64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    // A client that waits exactly as long as it was told must get in.
    app.clock.advance(time::Duration::seconds(retry));
    app.login_ok(&user.username, &user.password).await;

    app.finish().await;
}
