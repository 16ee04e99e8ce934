//! Health, readiness, metrics, request ids, docs and the envelope of framework-level errors.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn health_readiness_and_docs() {
    let h = Harness::new().await;
    let r = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (r.status, &r.body),
        (StatusCode::OK, &json!({ "status": "ok" }))
    );
    assert_eq!(
        h.call(Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );

    let doc = h.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(
        doc.body,
        serde_json::to_value(paygate_server::openapi()).unwrap()
    );
    let ui = h.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(
        ui.text.contains("swagger"),
        "{}",
        &ui.text[..ui.text.len().min(200)]
    );

    // The database goes away: ready no more, alive still.
    h.store.close().await;
    h.call(Method::GET, "/readyz", None, None)
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(
        h.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let h = Harness::new().await;
    let admin = h.admin_token().await;
    let tenant = h.tenant(&admin, "Acme").await;
    h.get(&format!("/admin/v1/tenants/{tenant}"), &admin).await;
    h.call(Method::GET, "/nowhere", None, None).await;
    let r = h.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let t = &r.text;
    assert!(t.contains(
        "http_requests_total{method=\"GET\",route=\"/admin/v1/tenants/{tenant_id}\",status=\"200\"} 1\n"
    ), "{t}");
    assert!(
        t.contains(
            "http_requests_total{method=\"POST\",route=\"/admin/v1/login\",status=\"200\"} 1\n"
        ),
        "{t}"
    );
    assert!(t.contains("route=\"unmatched\",status=\"404\"} 1\n"), "{t}");
    assert!(!t.contains(&tenant), "ids never become labels");
    assert!(t.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/admin/v1/tenants/{tenant_id}\",le=\"+Inf\"} 1\n"), "{t}");
    assert!(t.contains("paygate_build_info{version=\""), "{t}");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let h = Harness::new().await;
    let with = |id: &'static str| {
        Request::get("/healthz")
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    let r = h.send(with("abc-123")).await;
    assert_eq!(r.headers["x-request-id"], "abc-123");
    let r = h.send(with("no spaces allowed")).await;
    let generated = r.headers["x-request-id"].to_str().unwrap();
    assert!(generated.starts_with("req_"), "{generated}");
    let r = h.call(Method::GET, "/nowhere", None, None).await;
    assert!(r.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn framework_errors_use_the_envelope() {
    let h = Harness::with(|s| s.body_limit_bytes = 1024).await;
    h.call(Method::GET, "/nowhere", None, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = h.call(Method::DELETE, "/admin/v1/login", None, None).await;
    r.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(r.headers.contains_key("allow"));

    let big = json!({ "username": "a".repeat(4096), "password": "x" });
    h.call(Method::POST, "/admin/v1/login", None, Some(big))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}
