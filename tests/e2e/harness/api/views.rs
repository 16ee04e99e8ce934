//! Read-only views (orders, refunds, events, stats, alerts, audit log) and the operations
//! endpoints.

use reqwest::Method;

use crate::harness::{Response, TestApp};

impl TestApp {
    // ---- read-only views ----

    /// `GET /admin/v1/tenants/{tenant}/{what}{query}` for the per-tenant lists (`orders`,
    /// `refunds`, `notifications`, `events`, `webhook-deliveries`).
    pub async fn tenant_view(
        &self,
        token: &str,
        tenant: &str,
        what: &str,
        query: &str,
    ) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/{what}{query}");
        self.req(Method::GET, &path).bearer(token).send().await
    }

    pub async fn get_order(&self, token: &str, tenant: &str, order: &str) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/orders/{order}");
        self.req(Method::GET, &path).bearer(token).send().await
    }

    pub async fn stats(&self, token: &str, query: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/stats{query}"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn alerts(&self, token: &str, query: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/alerts{query}"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn audit_log(&self, token: &str, query: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/audit-log{query}"))
            .bearer(token)
            .send()
            .await
    }

    // ---- operations ----

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await
    }
}
