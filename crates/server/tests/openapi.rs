//! The committed `openapi/openapi.json` must be exactly what [`paygate_server::openapi`]
//! generates. `UPDATE_OPENAPI=1 cargo test -p paygate-server --test openapi` rewrites it.

// Helpers outside #[test] functions may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json")
}

fn generated() -> String {
    let mut json = paygate_server::openapi()
        .to_pretty_json()
        .expect("the document serializes");
    json.push('\n');
    json
}

#[test]
fn committed_openapi_document_is_up_to_date() {
    let path = committed_path();
    let fresh = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("write openapi/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "openapi/openapi.json is stale; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p paygate-server --test openapi` and commit the result"
    );
}

#[test]
fn every_operation_is_named_after_its_handler_and_documents_errors() {
    let doc: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{method} {path}: operationId {id:?}"
            );
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            // OpenAPI 3.1 requires a description on every response object.
            for (status, response) in op["responses"].as_object().unwrap() {
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}: no description"
                );
            }
            let secured = op.get("security").is_some();
            // WeChat's notify endpoints authenticate by the provider's signature, not HTTP auth.
            let public = ["/healthz", "/readyz", "/metrics", "/admin/v1/login"]
                .contains(&path.as_str())
                || path.starts_with("/notify/");
            assert_eq!(secured, !public, "{method} {path}: security");
        }
    }
    for expected in [
        "/admin/v1/tenants/{tenant_id}/channels/{channel_id}/credentials/{version}",
        "/admin/v1/tenants/{tenant_id}/webhook/rotate-secret",
        "/admin/v1/audit-log",
        "/v1/me",
    ] {
        assert!(paths.contains_key(expected), "{expected} missing");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["operator_jwt"]["scheme"], "bearer");
    assert_eq!(schemes["tenant_api_key"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}
