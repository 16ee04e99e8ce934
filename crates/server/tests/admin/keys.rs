//! API keys end to end (create → authenticate on `/v1/me` → revoke), suspension, apps and
//! webhooks: every secret appears once and only where documented.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn api_key_create_authenticate_revoke() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let keys = format!("/admin/v1/tenants/{tenant}/api-keys");

    let r = h
        .post(
            &keys,
            &admin,
            json!({ "name": "backend", "scopes": ["read", "orders:write"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let key_id = r.body["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pk_"), "{secret}");
    assert!(secret.starts_with(r.body["prefix"].as_str().unwrap()));

    let me = h.get("/v1/me", &secret).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["tenant_id"], tenant.as_str());
    assert_eq!(me.body["key_id"], key_id.as_str());
    assert_eq!(me.body["scopes"], json!(["orders:write", "read"]));

    let list = h.get(&keys, &admin).await;
    assert_eq!(list.body["data"][0]["id"], key_id.as_str());
    assert!(!list.text.contains(&secret), "the list never shows secrets");

    // An operator token is not an API key, and vice versa.
    h.get("/v1/me", &admin)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    h.get("/admin/v1/tenants", &secret)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_token");

    let r = h
        .call(
            Method::DELETE,
            &format!("{keys}/{key_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["revoked_at"].is_string());
    h.get("/v1/me", &secret)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn api_key_input_and_missing_keys() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let keys = format!("/admin/v1/tenants/{tenant}/api-keys");
    for scopes in [json!(["read", "admin:all"]), json!([])] {
        let r = h
            .post(&keys, &admin, json!({ "name": "k", "scopes": scopes }))
            .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
        assert_eq!(r.body["details"]["field"], "scopes");
    }
    h.call(Method::GET, "/v1/me", None, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "missing_token");
    h.get("/v1/me", "pk_notarealkeyatall")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    h.call(
        Method::DELETE,
        &format!("{keys}/key_00000000000000000000000000"),
        Some(&admin),
        None,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "api_key_not_found");
}

#[tokio::test]
async fn a_suspended_tenants_keys_are_refused() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let r = h
        .post(
            &format!("/admin/v1/tenants/{tenant}/api-keys"),
            &admin,
            json!({ "name": "k", "scopes": ["read"] }),
        )
        .await;
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    h.post(
        &format!("/admin/v1/tenants/{tenant}/suspend"),
        &admin,
        json!({}),
    )
    .await;
    h.get("/v1/me", &secret)
        .await
        .assert_error(StatusCode::FORBIDDEN, "tenant_suspended");
    h.post(
        &format!("/admin/v1/tenants/{tenant}/resume"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(h.get("/v1/me", &secret).await.status, StatusCode::OK);
}

#[tokio::test]
async fn appids_are_global_and_app_secrets_are_never_returned() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let a = h.tenant(&admin, "A").await;
    let b = h.tenant(&admin, "B").await;
    let app = json!({ "appid": "wxd678efh567hg6787", "name": "Shop", "secret": "0123456789abcdef0123456789abcdef" });
    let r = h
        .post(&format!("/admin/v1/tenants/{a}/apps"), &admin, app.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains("0123456789abcdef"));
    let list = h.get(&format!("/admin/v1/tenants/{a}/apps"), &admin).await;
    assert_eq!(list.body["data"][0]["appid"], "wxd678efh567hg6787");
    assert!(!list.text.contains("0123456789abcdef"));

    h.post(&format!("/admin/v1/tenants/{b}/apps"), &admin, app)
        .await
        .assert_error(StatusCode::CONFLICT, "appid_taken");
    let r = h
        .post(
            &format!("/admin/v1/tenants/{b}/apps"),
            &admin,
            json!({ "appid": "not an appid!", "name": "x", "secret": "s" }),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "appid");
}

#[tokio::test]
async fn webhook_secret_is_shown_on_creation_and_rotation_only() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let hook = format!("/admin/v1/tenants/{tenant}/webhook");
    h.get(&hook, &admin)
        .await
        .assert_error(StatusCode::NOT_FOUND, "webhook_not_found");

    let put = |url: &'static str| {
        h.call(
            Method::PUT,
            &hook,
            Some(&admin),
            Some(json!({ "url": url })),
        )
    };
    put("http://merchant.example.com/hook")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    let first = put("https://merchant.example.com/hook").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let secret = first.body["signing_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let second = put("https://merchant.example.com/hook2").await;
    assert_eq!(second.body["url"], "https://merchant.example.com/hook2");
    assert!(
        second.body.get("signing_secret").is_none(),
        "{}",
        second.text
    );
    assert!(
        h.get(&hook, &admin)
            .await
            .body
            .get("signing_secret")
            .is_none()
    );

    let rotated = h
        .post(&format!("{hook}/rotate-secret"), &admin, json!({}))
        .await;
    let new = rotated.body["signing_secret"].as_str().unwrap();
    assert!(
        new.starts_with("whsec_") && new != secret,
        "{}",
        rotated.text
    );
}

#[tokio::test]
async fn the_demo_may_allow_http_webhooks() {
    let h = Harness::with(|s| s.allow_insecure_webhook_urls = true).await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let r = h
        .call(
            Method::PUT,
            &format!("/admin/v1/tenants/{tenant}/webhook"),
            Some(&admin),
            Some(json!({ "url": "http://127.0.0.1:9000/hook" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
