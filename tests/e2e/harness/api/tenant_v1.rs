//! The tenant payment API (`/v1`) and WeChat's notify endpoints, one helper per endpoint.
//! `bearer` is an API key (`pk_…`) or a mini-program session token.

use reqwest::Method;
use serde_json::Value;

use crate::harness::{Response, TestApp};

impl TestApp {
    /// `POST /v1/apps/{appid}/sessions {code}`.
    pub async fn create_session(&self, appid: &str, code: &str) -> Response {
        self.req(Method::POST, &format!("/v1/apps/{appid}/sessions"))
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await
    }

    /// `POST /v1/orders`.
    pub async fn create_order(&self, bearer: &str, body: &Value) -> Response {
        self.req(Method::POST, "/v1/orders")
            .bearer(bearer)
            .json(body)
            .send()
            .await
    }

    /// `POST /v1/orders` with an `Idempotency-Key`.
    pub async fn create_order_idem(&self, bearer: &str, key: &str, body: &Value) -> Response {
        self.req(Method::POST, "/v1/orders")
            .bearer(bearer)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
    }

    /// `GET /v1/orders/{id}`.
    pub async fn order(&self, bearer: &str, id: &str) -> Response {
        self.req(Method::GET, &format!("/v1/orders/{id}"))
            .bearer(bearer)
            .send()
            .await
    }

    /// `GET /v1/orders{query}`.
    pub async fn orders(&self, bearer: &str, query: &str) -> Response {
        self.req(Method::GET, &format!("/v1/orders{query}"))
            .bearer(bearer)
            .send()
            .await
    }

    /// `POST /v1/orders/{id}/pay {trade_type}`.
    pub async fn pay(&self, bearer: &str, id: &str, trade_type: &str) -> Response {
        self.req(Method::POST, &format!("/v1/orders/{id}/pay"))
            .bearer(bearer)
            .json(&serde_json::json!({ "trade_type": trade_type }))
            .send()
            .await
    }

    /// `POST /v1/orders/{id}/close`.
    pub async fn close_order(&self, bearer: &str, id: &str) -> Response {
        self.req(Method::POST, &format!("/v1/orders/{id}/close"))
            .bearer(bearer)
            .send()
            .await
    }

    /// `POST /v1/orders/{id}/refunds`.
    pub async fn refund(&self, bearer: &str, order: &str, body: &Value) -> Response {
        self.req(Method::POST, &format!("/v1/orders/{order}/refunds"))
            .bearer(bearer)
            .json(body)
            .send()
            .await
    }

    /// `POST /v1/orders/{id}/refunds` with an `Idempotency-Key`.
    pub async fn refund_idem(
        &self,
        bearer: &str,
        order: &str,
        key: &str,
        body: &Value,
    ) -> Response {
        self.req(Method::POST, &format!("/v1/orders/{order}/refunds"))
            .bearer(bearer)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
    }

    /// `GET /v1/refunds/{id}`.
    pub async fn get_refund(&self, bearer: &str, id: &str) -> Response {
        self.req(Method::GET, &format!("/v1/refunds/{id}"))
            .bearer(bearer)
            .send()
            .await
    }

    /// `POST /notify/{channel}/{kind}` with a raw body and headers, as WeChat (or a forger).
    pub async fn notify(
        &self,
        channel: &str,
        kind: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Response {
        let mut req = self.req(Method::POST, &format!("/notify/{channel}/{kind}"));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.raw(content_type, body).send().await
    }
}
