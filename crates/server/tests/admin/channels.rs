//! Channels with real v2/v3 fixture credentials: validation before storage, public facts only
//! in responses, versions, retirement.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, v2_credentials, v3_credentials, v3_merchant_serial};

#[tokio::test]
async fn v2_channel_is_created_and_never_shows_its_secrets() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let creds = v2_credentials();
    let r = h
        .post(
            &format!("/admin/v1/tenants/{tenant}/channels"),
            &admin,
            json!({ "kind": "wechat-v2", "mch_id": "1230000109", "credentials": creds }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["kind"], "wechat-v2");
    assert_eq!(r.body["name"], "wechat-v2 1230000109");
    assert_eq!(r.body["current_version"], 1);
    assert_eq!(r.body["versions"][0]["appid"], "wxd678efh567hg6787");
    assert_eq!(r.body["versions"][0]["current"], true);
    let channel = r.body["id"].as_str().unwrap().to_owned();

    let shown = h
        .get(
            &format!("/admin/v1/tenants/{tenant}/channels/{channel}"),
            &admin,
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    for secret in [
        "192006250b4c09247ec02edce69f6a2d",
        "PRIVATE KEY",
        "CERTIFICATE",
    ] {
        assert!(!r.text.contains(secret) && !shown.text.contains(secret));
    }
    let list = h
        .get(&format!("/admin/v1/tenants/{tenant}/channels"), &admin)
        .await;
    assert_eq!(list.body["data"][0]["id"], channel.as_str());

    // Same kind and merchant twice in one tenant.
    h.post(
        &format!("/admin/v1/tenants/{tenant}/channels"),
        &admin,
        json!({ "kind": "wechat-v2", "mch_id": "1230000109", "credentials": v2_credentials() }),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "channel_exists");
}

#[tokio::test]
async fn v3_channel_versions_rotate_and_retire() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let base = format!("/admin/v1/tenants/{tenant}/channels");
    let r = h
        .post(
            &base,
            &admin,
            json!({ "kind": "wechat-v3", "mch_id": "1230000109", "name": "Main", "credentials": v3_credentials() }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["versions"][0]["merchant_serial"],
        v3_merchant_serial()
    );
    assert!(r.body["versions"][0]["certificate_not_after"].is_string());
    let channel = format!("{base}/{}", r.body["id"].as_str().unwrap());

    let v2 = h
        .post(
            &format!("{channel}/credentials"),
            &admin,
            json!({ "credentials": v3_credentials() }),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text);
    assert_eq!(v2.body["version"], 2);
    assert_eq!(v2.body["current"], true);

    h.call(
        Method::DELETE,
        &format!("{channel}/credentials/2"),
        Some(&admin),
        None,
    )
    .await
    .assert_error(StatusCode::CONFLICT, "credentials_version_current");
    let retired = h
        .call(
            Method::DELETE,
            &format!("{channel}/credentials/1"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.text);
    assert!(retired.body["retired_at"].is_string());
    h.call(
        Method::DELETE,
        &format!("{channel}/credentials/9"),
        Some(&admin),
        None,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "credentials_version_not_found");

    let detail = h.get(&channel, &admin).await;
    assert_eq!(detail.body["current_version"], 2);
    assert_eq!(detail.body["versions"].as_array().unwrap().len(), 2);

    let r = h
        .call(
            Method::PATCH,
            &channel,
            Some(&admin),
            Some(json!({ "name": "Renamed", "status": "disabled" })),
        )
        .await;
    assert_eq!(r.body["name"], "Renamed", "{}", r.text);
    assert_eq!(r.body["status"], "disabled");
    let r = h.call(Method::DELETE, &channel, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "disabled");
}

#[tokio::test]
async fn bad_credentials_are_refused_before_storage_naming_the_field() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    let base = format!("/admin/v1/tenants/{tenant}/channels");

    let mut creds = v3_credentials();
    creds["apiv3_key"] = json!("too-short-key-value-zz");
    let r = h
        .post(
            &base,
            &admin,
            json!({ "kind": "wechat-v3", "mch_id": "1230000109", "credentials": creds }),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_channel_credentials",
    );
    assert_eq!(r.body["details"]["field"], "credentials.apiv3_key");
    assert!(!r.text.contains("too-short-key-value-zz"), "{}", r.text);

    let mut creds = v2_credentials();
    creds["client_key_pem"] = json!(null);
    let r = h
        .post(
            &base,
            &admin,
            json!({ "kind": "wechat-v2", "mch_id": "1230000109", "credentials": creds }),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_channel_credentials",
    );
    assert_eq!(r.body["details"]["field"], "credentials.client_key_pem");

    let r = h
        .post(
            &base,
            &admin,
            json!({ "kind": "wechat-v3", "mch_id": "1900000001", "credentials": v3_credentials() }),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_channel_credentials",
    );
    assert_eq!(r.body["details"]["field"], "mch_id");

    h.post(
        &base,
        &admin,
        json!({ "kind": "alipay", "mch_id": "1230000109", "credentials": {} }),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_channel_kind");

    let r = h
        .post(
            &base,
            &admin,
            json!({ "kind": "wechat-v3", "mch_id": "1230000109", "credentials": "a string" }),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "credentials");

    // Nothing was stored by any of the refusals.
    let list = h.get(&base, &admin).await;
    assert_eq!(list.body["data"], json!([]), "{}", list.text);
}

#[tokio::test]
async fn channels_of_another_tenant_are_not_found() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let a = h.tenant(&admin, "A").await;
    let b = h.tenant(&admin, "B").await;
    let r = h
        .post(
            &format!("/admin/v1/tenants/{a}/channels"),
            &admin,
            json!({ "kind": "wechat-v3", "mch_id": "1230000109", "credentials": v3_credentials() }),
        )
        .await;
    let channel = r.body["id"].as_str().unwrap();
    h.get(&format!("/admin/v1/tenants/{b}/channels/{channel}"), &admin)
        .await
        .assert_error(StatusCode::NOT_FOUND, "channel_not_found");
    let r = h
        .call(
            Method::PATCH,
            &format!("/admin/v1/tenants/{b}"),
            Some(&admin),
            Some(json!({ "default_channel_id": channel })),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    let r = h
        .call(
            Method::PATCH,
            &format!("/admin/v1/tenants/{a}"),
            Some(&admin),
            Some(json!({ "default_channel_id": channel })),
        )
        .await;
    assert_eq!(r.body["default_channel_id"], channel, "{}", r.text);
}
