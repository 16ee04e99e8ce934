//! Tenant CRUD, filters, pagination, input errors and the audit trail.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn tenant_lifecycle() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let r = h
        .post(
            "/admin/v1/tenants",
            &admin,
            json!({ "name": "  Acme Coffee ", "contact_email": "ops@acme.example" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Coffee");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["created_at"], "2026-01-01T00:00:00Z");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ten_"), "{id}");

    let path = format!("/admin/v1/tenants/{id}");
    assert_eq!(h.get(&path, &admin).await.body["name"], "Acme Coffee");

    let r = h
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "name": "Acme Tea", "contact_email": null })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Tea");
    assert_eq!(r.body["contact_email"], json!(null));

    let r = h.post(&format!("{path}/suspend"), &admin, json!({})).await;
    assert_eq!(r.body["status"], "suspended", "{}", r.text);
    let suspended = h.get("/admin/v1/tenants?status=suspended", &admin).await;
    assert_eq!(suspended.body["data"].as_array().unwrap().len(), 1);
    let active = h.get("/admin/v1/tenants?status=active", &admin).await;
    assert_eq!(active.body["data"], json!([]));
    let r = h.post(&format!("{path}/resume"), &admin, json!({})).await;
    assert_eq!(r.body["status"], "active", "{}", r.text);
}

#[tokio::test]
async fn search_and_pages() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    for name in ["Alpha Foods", "Beta Books", "Gamma Foods"] {
        h.tenant(&admin, name).await;
        // Ids are time-ordered; give each its own millisecond.
        h.clock.advance(time::Duration::milliseconds(5));
    }
    let r = h.get("/admin/v1/tenants?q=foods", &admin).await;
    let names: Vec<_> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Gamma Foods", "Alpha Foods"], "newest first");

    let first = h.get("/admin/v1/tenants?limit=2", &admin).await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = h
        .get(
            &format!("/admin/v1/tenants?limit=2&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!(second.body["data"][0]["name"], "Alpha Foods");
    assert_eq!(second.body["next_cursor"], json!(null));

    let r = h.get("/admin/v1/tenants?limit=many", &admin).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(r.body["details"]["field"], "limit");
    assert!(r.body["details"]["reason"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn bad_input_gets_the_envelope_with_the_field() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;

    h.get("/admin/v1/tenants/ten_00000000000000000000000000", &admin)
        .await
        .assert_error(StatusCode::NOT_FOUND, "tenant_not_found");
    let r = h.get("/admin/v1/tenants/not-a-tenant", &admin).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(r.body["details"]["field"], "tenant_id");

    let r = h.post("/admin/v1/tenants", &admin, json!({})).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert!(r.text.contains("name"), "{}", r.text);

    let r = h
        .post("/admin/v1/tenants", &admin, json!({ "name": "   " }))
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "name");

    let r = h
        .post(
            "/admin/v1/tenants",
            &admin,
            json!({ "name": "X", "contact_email": "nope" }),
        )
        .await;
    assert_eq!(r.body["details"]["field"], "contact_email", "{}", r.text);

    // A wrong type names the field but never echoes the value.
    let r = h
        .post(
            "/admin/v1/tenants",
            &admin,
            json!({ "name": "s3cr3t-value-xyz" , "contact_email": 42 }),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "contact_email");
    let r = h
        .post(
            "/admin/v1/tenants",
            &admin,
            json!({ "name": ["s3cr3t-value-xyz"] }),
        )
        .await;
    assert!(!r.text.contains("s3cr3t"), "{}", r.text);

    let raw = |body: &'static str, content_type: &'static str| {
        Request::post("/admin/v1/tenants")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    h.send(raw("{\"name\": ", "application/json"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    h.send(raw("name=x", "application/x-www-form-urlencoded"))
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let ch = "ch_00000000000000000000000000";
    let id = h.tenant(&admin, "Delta").await;
    let r = h
        .call(
            Method::PATCH,
            &format!("/admin/v1/tenants/{id}"),
            Some(&admin),
            Some(json!({ "default_channel_id": ch })),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(r.body["details"]["field"], "default_channel_id");
}

#[tokio::test]
async fn writes_are_audited_with_the_operator_and_request_id() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let req = Request::post("/admin/v1/tenants")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("x-request-id", "audit-me-42")
        .body(Body::from(json!({ "name": "Audited" }).to_string()))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.headers["x-request-id"], "audit-me-42");
    let tenant_id = r.body["id"].as_str().unwrap().to_owned();

    let log = h
        .get(
            &format!("/admin/v1/audit-log?tenant_id={tenant_id}"),
            &admin,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let entry = &log.body["data"][0];
    assert_eq!(entry["action"], "tenant.create");
    assert_eq!(entry["request_id"], "audit-me-42");
    assert!(
        entry["actor"].as_str().unwrap().starts_with("op_"),
        "{entry}"
    );
}
