//! One helper per endpoint (they return the raw [`Response`], so tests assert on failures as
//! easily as on successes), plus a few `new_…` shortcuts that arrange data as the admin and
//! insist on success.

use reqwest::Method;
use serde_json::{Value, json};

use super::fixtures::{random_appid, random_text, unique};
use super::{Response, TestApp};

mod access;
mod channels;
mod tenant_v1;
mod views;

/// A logged-in operator.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub token: String,
    pub operator_id: String,
    pub username: String,
    pub password: String,
}

impl TestApp {
    // ---- auth and operators ----

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.req(Method::POST, "/admin/v1/login")
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
    }

    /// Logs in and returns the token (a secret: only the login response may show it).
    pub async fn login_ok(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        let body = response.expect(200);
        let token = body["token"].as_str().expect("token").to_owned();
        assert_eq!(body["token_type"], "Bearer");
        self.issued("operator token", &response, &token);
        token
    }

    pub async fn list_operators(&self, token: &str) -> Response {
        self.req(Method::GET, "/admin/v1/operators")
            .bearer(token)
            .send()
            .await
    }

    pub async fn create_operator(&self, token: &str, body: &Value) -> Response {
        self.req(Method::POST, "/admin/v1/operators")
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    pub async fn update_operator(&self, token: &str, id: &str, body: &Value) -> Response {
        self.req(Method::PATCH, &format!("/admin/v1/operators/{id}"))
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    /// Creates an operator of `role` over HTTP as the admin, and logs it in.
    pub async fn new_operator(&self, role: &str) -> Session {
        let username = unique(role);
        let password = random_text(20);
        self.secret(&format!("{role} password"), &password);
        let created = self
            .create_operator(
                &self.admin.token,
                &json!({ "username": username, "password": password, "role": role }),
            )
            .await
            .expect(201);
        assert_eq!(created["role"], role);
        let token = self.login_ok(&username, &password).await;
        Session {
            token,
            operator_id: created["id"].as_str().expect("id").to_owned(),
            username,
            password,
        }
    }

    // ---- tenants ----

    pub async fn list_tenants(&self, token: &str, query: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/tenants{query}"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn create_tenant(&self, token: &str, body: &Value) -> Response {
        self.req(Method::POST, "/admin/v1/tenants")
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    pub async fn get_tenant(&self, token: &str, id: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/tenants/{id}"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn update_tenant(&self, token: &str, id: &str, body: &Value) -> Response {
        self.req(Method::PATCH, &format!("/admin/v1/tenants/{id}"))
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    pub async fn suspend_tenant(&self, token: &str, id: &str) -> Response {
        self.req(Method::POST, &format!("/admin/v1/tenants/{id}/suspend"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn resume_tenant(&self, token: &str, id: &str) -> Response {
        self.req(Method::POST, &format!("/admin/v1/tenants/{id}/resume"))
            .bearer(token)
            .send()
            .await
    }

    /// A new tenant (as the admin); returns its id.
    pub async fn new_tenant(&self) -> String {
        let body = self
            .create_tenant(&self.admin.token, &json!({ "name": unique("tenant") }))
            .await
            .expect(201);
        body["id"].as_str().expect("tenant id").to_owned()
    }

    // ---- apps ----

    pub async fn list_apps(&self, token: &str, tenant: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/tenants/{tenant}/apps"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn create_app(&self, token: &str, tenant: &str, body: &Value) -> Response {
        self.req(Method::POST, &format!("/admin/v1/tenants/{tenant}/apps"))
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    /// Registers a new app with a fresh appid and secret (as the admin); returns the appid.
    pub async fn new_app(&self, tenant: &str) -> String {
        let appid = random_appid();
        let secret = random_text(32);
        self.secret("app secret", &secret);
        let body = json!({ "appid": appid, "name": unique("app"), "secret": secret });
        self.create_app(&self.admin.token, tenant, &body)
            .await
            .expect(201);
        appid
    }
}
