//! Channels and their credentials versions.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::fixtures::{self, random_text, unique};
use crate::harness::{Response, TestApp};

/// A channel created by [`TestApp::new_v3_channel`] / [`TestApp::new_v2_channel`].
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub id: String,
    pub body: Value,
}

impl TestApp {
    // ---- channels and credentials ----

    pub async fn list_channels(&self, token: &str, tenant: &str) -> Response {
        self.req(Method::GET, &format!("/admin/v1/tenants/{tenant}/channels"))
            .bearer(token)
            .send()
            .await
    }

    pub async fn create_channel(&self, token: &str, tenant: &str, body: &Value) -> Response {
        self.req(
            Method::POST,
            &format!("/admin/v1/tenants/{tenant}/channels"),
        )
        .bearer(token)
        .json(body)
        .send()
        .await
    }

    pub async fn get_channel(&self, token: &str, tenant: &str, channel: &str) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/channels/{channel}");
        self.req(Method::GET, &path).bearer(token).send().await
    }

    pub async fn update_channel(
        &self,
        token: &str,
        tenant: &str,
        channel: &str,
        body: &Value,
    ) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/channels/{channel}");
        self.req(Method::PATCH, &path)
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    pub async fn delete_channel(&self, token: &str, tenant: &str, channel: &str) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/channels/{channel}");
        self.req(Method::DELETE, &path).bearer(token).send().await
    }

    pub async fn add_credentials(
        &self,
        token: &str,
        tenant: &str,
        channel: &str,
        document: &Value,
    ) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/channels/{channel}/credentials");
        self.req(Method::POST, &path)
            .bearer(token)
            .json(&json!({ "credentials": document }))
            .send()
            .await
    }

    pub async fn retire_credentials(
        &self,
        token: &str,
        tenant: &str,
        channel: &str,
        version: i64,
    ) -> Response {
        self.retire_credentials_raw(token, tenant, channel, &version.to_string())
            .await
    }

    /// [`Self::retire_credentials`] with any text as the version (to test path parsing).
    pub async fn retire_credentials_raw(
        &self,
        token: &str,
        tenant: &str,
        channel: &str,
        version: &str,
    ) -> Response {
        let path = format!("/admin/v1/tenants/{tenant}/channels/{channel}/credentials/{version}");
        self.req(Method::DELETE, &path).bearer(token).send().await
    }

    /// A fresh APIv3 key, registered as a secret.
    pub fn new_apiv3_key(&self) -> String {
        let key = random_text(32);
        self.secret("APIv3 key", &key);
        key
    }

    /// A fresh APIv2 key, registered as a secret.
    pub fn new_api_v2_key(&self) -> String {
        let key = random_text(32);
        self.secret("APIv2 key", &key);
        key
    }

    /// A v3 channel with the fixture keys and a fresh APIv3 key (as the admin).
    pub async fn new_v3_channel(&self, tenant: &str) -> NewChannel {
        self.secret(
            "v3 merchant private key",
            &fixtures::pem_body_line(&fixtures::v3_keys().merchant_private_key_pem),
        );
        let document = fixtures::v3_document(&self.new_apiv3_key());
        let request = json!({
            "kind": "wechat-v3",
            "mch_id": fixtures::v3_keys().mchid,
            "name": unique("v3"),
            "credentials": document,
        });
        let body = self
            .create_channel(&self.admin.token, tenant, &request)
            .await
            .expect(201);
        NewChannel {
            id: body["id"].as_str().expect("channel id").to_owned(),
            body,
        }
    }

    /// A v2 channel for `appid` with the fixture certificate and a fresh APIv2 key.
    pub async fn new_v2_channel(&self, tenant: &str, appid: &str) -> NewChannel {
        self.secret(
            "v2 client key",
            &fixtures::pem_body_line(fixtures::V2_KEY_PEM),
        );
        let document = fixtures::v2_document(appid, &self.new_api_v2_key());
        let pkcs12 = document["pkcs12_base64"].as_str().expect("pkcs12");
        self.secret("v2 PKCS#12", &pkcs12[pkcs12.len() / 2..][..64]);
        let request = json!({
            "kind": "wechat-v2",
            "mch_id": fixtures::V2_MCH_ID,
            "credentials": document,
        });
        let body = self
            .create_channel(&self.admin.token, tenant, &request)
            .await
            .expect(201);
        NewChannel {
            id: body["id"].as_str().expect("channel id").to_owned(),
            body,
        }
    }
}
