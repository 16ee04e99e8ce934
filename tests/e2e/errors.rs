//! Malformed requests get paygate's `{code, message, details}` envelope with the field at
//! fault, never a framework's bare text: bad JSON, wrong types, unknown fields, bad ids in
//! paths, wrong methods, oversized bodies.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Backend, TestApp, both_backends};

both_backends!(
    malformed_bodies_and_paths_get_the_envelope,
    path_errors_name_the_parameter,
    unknown_fields_are_refused
);

async fn malformed_bodies_and_paths_get_the_envelope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let post_tenant = || app.req(Method::POST, "/admin/v1/tenants").bearer(&admin);

    post_tenant()
        .raw("application/json", "{\"name\": ")
        .send()
        .await
        .expect_error(400, "invalid_request");
    post_tenant()
        .raw("text/plain", "name=acme")
        .send()
        .await
        .expect_error(415, "unsupported_media_type");
    let wrong_type = post_tenant()
        .json(&json!({ "name": 42 }))
        .send()
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(wrong_type["details"]["field"], "name", "{wrong_type}");
    post_tenant()
        .json(&json!({}))
        .send()
        .await
        .expect_error(422, "invalid_request");
    let blank = post_tenant()
        .json(&json!({ "name": "   " }))
        .send()
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(blank["details"]["field"], "name", "{blank}");
    let email = post_tenant()
        .json(&json!({ "name": "ok", "contact_email": "not-an-email" }))
        .send()
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(email["details"]["field"], "contact_email", "{email}");
    let role = app
        .create_operator(
            &admin,
            &json!({ "username": "x-user", "password": "long-enough-password", "role": "root" }),
        )
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(role["details"]["field"], "role", "{role}");
    let short = app
        .create_operator(
            &admin,
            &json!({ "username": "x-user", "password": "short", "role": "viewer" }),
        )
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(short["details"]["field"], "password", "{short}");

    let oversized = "x".repeat(300 * 1024);
    post_tenant()
        .json(&json!({ "name": oversized }))
        .send()
        .await
        .expect_error(413, "payload_too_large");

    // Ids in paths are parsed: garbage is 400 naming the parameter; a well-formed id that
    // names nothing is the resource's own 404.
    for bad in ["not-a-tenant", "op_01ARZ3NDEKTSV4RRFFQ69G5FAV"] {
        app.get_tenant(&admin, bad)
            .await
            .expect_error(400, "invalid_request");
    }
    app.get_tenant(&admin, "ten_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .expect_error(404, "tenant_not_found");
    let tid = app.new_tenant().await;
    app.retire_credentials_raw(&admin, &tid, "ch_x", "latest")
        .await
        .expect_error(400, "invalid_request");
    app.get_channel(&admin, "garbage", "ch_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .expect_error(400, "invalid_request");
    app.get_channel(&admin, &tid, "ch_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .expect_error(404, "channel_not_found");
    app.revoke_api_key(&admin, &tid, "key_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .expect_error(404, "api_key_not_found");
    app.update_operator(
        &admin,
        "op_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &json!({ "disabled": true }),
    )
    .await
    .expect_error(404, "operator_not_found");
    let bad_audit_filter = app
        .audit_log(&admin, "?tenant_id=nope")
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(
        bad_audit_filter["details"]["field"], "tenant_id",
        "{bad_audit_filter}"
    );

    let wrong_method = app
        .req(Method::DELETE, "/admin/v1/tenants")
        .bearer(&admin)
        .send()
        .await;
    wrong_method.expect_error(405, "method_not_allowed");
    assert!(
        wrong_method.header("allow").is_some(),
        "{:?}",
        wrong_method.headers
    );

    app.finish().await;
}

async fn path_errors_name_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let tid = app.new_tenant().await;
    let cases = [
        (app.get_tenant(&admin, "not-a-tenant").await, "tenant_id"),
        (
            app.get_channel(&admin, "garbage", "ch_01ARZ3NDEKTSV4RRFFQ69G5FAV")
                .await,
            "tenant_id",
        ),
        (
            app.revoke_api_key(&admin, &tid, "not-a-key").await,
            "key_id",
        ),
        (
            app.retire_credentials_raw(&admin, &tid, "ch_x", "latest")
                .await,
            "version",
        ),
    ];
    for (response, field) in &cases {
        let body = response.expect_error(400, "invalid_request");
        assert_names(&body, field);
    }
    app.finish().await;
}

/// The error names `field`: in `details.field` when present, else in the message.
#[track_caller]
fn assert_names(body: &serde_json::Value, field: &str) {
    match body["details"]["field"].as_str() {
        Some(named) => assert_eq!(named, field, "{body}"),
        None => assert!(
            body["message"].as_str().is_some_and(|m| m.contains(field)),
            "the error does not name {field}: {body}"
        ),
    }
}

async fn unknown_fields_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();

    // A typo must not be silently ignored: `contact_mail` would drop the e-mail on the floor.
    let typo = app
        .create_tenant(
            &admin,
            &json!({ "name": "acme", "contact_mail": "ops@acme.example" }),
        )
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(typo["details"]["field"], "contact_mail", "{typo}");
    let tenants = app.list_tenants(&admin, "").await.expect(200);
    assert_eq!(tenants["data"], json!([]), "nothing created");

    let tid = app.new_tenant().await;
    let patch = app
        .update_tenant(&admin, &tid, &json!({ "status": "suspended" }))
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(patch["details"]["field"], "status", "{patch}");
    app.create_api_key(
        &admin,
        &tid,
        &json!({ "name": "k", "scopes": ["read"], "expires_in": 3600 }),
    )
    .await
    .expect_error(422, "invalid_request");

    app.finish().await;
}
