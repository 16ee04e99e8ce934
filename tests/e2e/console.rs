//! The operator console (issue 9): `GET /admin/v1/me` for each role and without a token, and
//! the embedded single-page app served by the real server at `/admin/` with its security
//! headers, next to (not instead of) the admin API under `/admin/v1`.

use reqwest::Method;

use crate::harness::{Backend, TestApp, both_backends};

both_backends!(me_names_the_calling_operator, console_is_served_by_paygate);

async fn me_names_the_calling_operator(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let me = app
        .req(Method::GET, "/admin/v1/me")
        .bearer(&app.admin.token)
        .send()
        .await
        .expect(200);
    assert_eq!(me["id"], app.admin.operator_id.as_str(), "{me}");
    assert_eq!(me["username"], app.admin.username.as_str(), "{me}");
    assert_eq!(me["role"], "admin", "{me}");
    let keys: Vec<&String> = me
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 3, "only id, username and role: {me}");

    let viewer = app.new_operator("viewer").await;
    let me = app
        .req(Method::GET, "/admin/v1/me")
        .bearer(&viewer.token)
        .send()
        .await
        .expect(200);
    assert_eq!(me["id"], viewer.operator_id.as_str(), "{me}");
    assert_eq!(me["username"], viewer.username.as_str(), "{me}");
    assert_eq!(me["role"], "viewer", "{me}");

    app.req(Method::GET, "/admin/v1/me")
        .send()
        .await
        .expect_error(401, "missing_token");
    app.req(Method::GET, "/admin/v1/me")
        .bearer("garbage")
        .send()
        .await
        .expect_error(401, "invalid_token");

    app.finish().await;
}

async fn console_is_served_by_paygate(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let index = app.req(Method::GET, "/admin/").send().await;
    assert_eq!(index.status, 200, "{}", index.text);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = index.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("default-src 'self'; script-src 'self';"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(index.header("referrer-policy"), Some("no-referrer"));
    assert!(
        index.header("x-request-id").is_some(),
        "the middleware stack applies"
    );
    assert!(
        index.text.contains(r#"<script src="app.js""#),
        "{}",
        index.text
    );

    let js = app.req(Method::GET, "/admin/app.js").send().await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // The bundle talks to the public admin API, and to nothing outside paygate.
    assert!(js.text.contains("/admin/v1"));
    let etag = js.header("etag").expect("etag").to_owned();
    let again = app
        .req(Method::GET, "/admin/app.js")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);

    let css = app.req(Method::GET, "/admin/app.css").send().await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    // `/admin` redirects (308, checked in the server's unit tests); the client follows it.
    let bare = app.req(Method::GET, "/admin").send().await;
    assert_eq!(bare.status, 200, "{}", bare.text);
    assert_eq!(bare.text, index.text);

    app.req(Method::GET, "/admin/missing.js")
        .send()
        .await
        .expect_error(404, "not_found");
    // The API next to it is untouched.
    app.req(Method::GET, "/admin/v1/tenants")
        .send()
        .await
        .expect_error(401, "missing_token");

    app.finish().await;
}
