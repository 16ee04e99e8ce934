//! Operations endpoints: health, readiness, metrics, the OpenAPI document and Swagger UI.

use crate::harness::{Backend, TestApp, both_backends};

both_backends!(
    health_and_readiness,
    metrics_count_requests,
    openapi_and_docs
);

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz").await.expect(200)["status"], "ok");
    assert_eq!(app.get("/readyz").await.expect(200)["status"], "ok");
    let missing = app.get("/no/such/route").await;
    missing.expect_error(404, "not_found");
    app.finish().await;
}

async fn metrics_count_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/healthz").await.expect(200);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        metrics.headers
    );
    let healthz_line = metrics
        .text
        .lines()
        .find(|l| l.starts_with("http_requests_total") && l.contains("/healthz"))
        .unwrap_or_else(|| {
            panic!(
                "no http_requests_total sample for /healthz:\n{}",
                metrics.text
            )
        });
    let count: f64 = healthz_line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unparseable sample: {healthz_line}"));
    assert!(count >= 1.0, "{healthz_line}");
    app.finish().await;
}

async fn openapi_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = app.get("/openapi.json").await.expect(200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/admin/v1/login",
        "/admin/v1/operators",
        "/admin/v1/tenants",
        "/admin/v1/tenants/{tenant_id}",
        "/admin/v1/tenants/{tenant_id}/apps",
        "/admin/v1/tenants/{tenant_id}/channels",
        "/admin/v1/tenants/{tenant_id}/channels/{channel_id}/credentials",
        "/admin/v1/tenants/{tenant_id}/api-keys",
        "/admin/v1/tenants/{tenant_id}/webhook",
        "/admin/v1/audit-log",
        "/v1/me",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            paths.contains_key(path),
            "the OpenAPI document lacks {path}"
        );
    }

    let docs = app.req(reqwest::Method::GET, "/docs/").send().await;
    assert_eq!(docs.status, 200, "{}", docs.text);
    assert!(
        docs.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        docs.headers
    );
    assert!(docs.text.to_lowercase().contains("<html"), "{}", docs.text);
    for external in ["https://", "http://", "//cdn", "unpkg.com", "jsdelivr"] {
        assert!(
            !docs.text.contains(external),
            "/docs refers to an external resource ({external}): it must work offline"
        );
    }
    app.finish().await;
}
