//! What a tenant integrates with: API keys, the tenant API and the webhook endpoint.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::fixtures::unique;
use crate::harness::{Response, TestApp};

impl TestApp {
    // ---- API keys and the tenant API ----

    pub async fn list_api_keys(&self, token: &str, tenant: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/tenants/{tenant}/api-keys"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn create_api_key(&self, token: &str, tenant: &str, body: &Value) -> Response {
        self.req(
            Method::POST,
            &format!("/admin/v1/tenants/{tenant}/api-keys"),
        )
        .bearer(token)
        .json(body)
        .send()
        .await
    }

    pub async fn revoke_api_key(&self, token: &str, tenant: &str, key: &str) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/api-keys/{key}");
        self.req(Method::DELETE, &path).bearer(token).send().await
    }

    /// A new API key with every scope (as the admin); returns `(key id, secret)`.
    pub async fn new_api_key(&self, tenant: &str) -> (String, String) {
        let response = self
            .create_api_key(
                &self.admin.token,
                tenant,
                &json!({ "name": unique("key"), "scopes": ["orders:write", "refunds:write", "read"] }),
            )
            .await;
        let body = response.expect(201);
        let secret = body["secret"].as_str().expect("secret").to_owned();
        self.issued("API key secret", &response, &secret);
        (body["id"].as_str().expect("key id").to_owned(), secret)
    }

    /// `GET /v1/me` with an API key.
    pub async fn me(&self, api_key: &str) -> Response {
        self.req(Method::GET, "/v1/me").bearer(api_key).send().await
    }

    // ---- webhook ----

    pub async fn get_webhook(&self, token: &str, tenant: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/tenants/{tenant}/webhook"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn put_webhook(&self, token: &str, tenant: &str, url: &str) -> Response {
        self.req(Method::PUT, &format!("/admin/v1/tenants/{tenant}/webhook"))
            .bearer(token)
            .json(&json!({ "url": url }))
            .send()
            .await
    }

    pub async fn rotate_webhook_secret(&self, token: &str, tenant: &str) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/webhook/rotate-secret");
        self.req(Method::POST, &path).bearer(token).send().await
    }
}
