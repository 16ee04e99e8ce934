//! [`PayApp`]: paygate in demo mode — the WeChat simulator in-process, every upstream pointed
//! at it, `public_url` on the bound port so WeChat's notifications reach the server — with
//! the seeded demo tenant as tenant A, and [`PayApp::second_tenant`] to set up a tenant B
//! through the admin API (its own app and merchant registered with the simulator).
//!
//! The simulator's control API is driven over HTTP, exactly as a tester would: users, login
//! codes, paying, scanning, settling refunds, delivering notifications, faults, its clock.
//! The demo simulator delivers notifications from a background ticker too; both paths take
//! the same delivery lock, so [`PayApp::deliver`] returns only after every notification due
//! at that moment has been attempted — no waiting, no sleeping.

use std::ops::Deref;
use std::time::Duration;

use paygate_cli::config::{Config, Mode};
use serde_json::json;

use super::fixtures::{self, random_appid, random_text, unique};
use super::{Backend, TestApp};

/// One tenant with everything a payment needs.
#[derive(Debug, Clone)]
pub struct PayTenant {
    pub id: String,
    pub appid: String,
    /// An API key with every scope.
    pub api_key: String,
    pub mch_id: String,
    pub v2_channel: String,
    pub v3_channel: String,
}

impl PayTenant {
    /// The channel of `kind` (`"v2"` or `"v3"`).
    pub fn channel(&self, kind: Kind) -> &str {
        match kind {
            Kind::V2 => &self.v2_channel,
            Kind::V3 => &self.v3_channel,
        }
    }
}

/// WeChat Pay API version of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    V2,
    V3,
}

/// A logged-in mini-program user.
#[derive(Debug, Clone)]
pub struct User {
    pub openid: String,
    pub token: String,
}

/// paygate in demo mode plus the simulator's control API.
pub struct PayApp {
    pub app: TestApp,
    /// `http://127.0.0.1:PORT` of the simulator.
    pub sim_url: String,
    /// The seeded demo tenant.
    pub a: PayTenant,
    /// `upstream.timeout_ms` of the server, for providers the harness builds itself.
    pub upstream_timeout: Duration,
}

impl Deref for PayApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl PayApp {
    /// Starts paygate with the simulator on `backend`; tenant A is the seeded demo tenant.
    pub async fn spawn(backend: Backend) -> PayApp {
        PayApp::spawn_with(backend, |_| {}).await
    }

    /// [`Self::spawn`] with the configuration adjusted by `configure` first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> PayApp {
        let mut upstream_timeout = Duration::ZERO;
        // The worker runs only when a test says so (`reconcile`), never behind its back.
        let app = TestApp::spawn_with(backend, Mode::Demo, |config| {
            config.reconcile.enabled = false;
            configure(config);
            upstream_timeout = config.upstream.timeout();
        })
        .await;
        let running = app.running();
        let sim_url = running
            .sim()
            .expect("demo mode runs the simulator")
            .base_url();
        let info = running
            .demo()
            .expect("demo mode seeds the demo")
            .info()
            .clone();
        app.secret("demo app secret", &info.app_secret);
        app.secret("demo API key", &info.api_key);
        app.secret("demo operator password", &info.operator.password);
        app.secret("demo admin token", &info.admin_token);
        app.secret("demo webhook secret", &info.webhook.secret);
        // The demo merchant's keys are public test values, but paygate must still never
        // echo or log them.
        app.secret("demo APIv2 key", "192006250b4c09247ec02edce69f6a2d");
        app.secret("demo APIv3 key", "pAyGaTeTeStApIv3KeY0123456789AbC");
        app.secret(
            "merchant private key",
            &fixtures::pem_body_line(fixtures::V2_KEY_PEM),
        );
        let a = PayTenant {
            id: info.tenant_id.clone(),
            appid: info.appid.clone(),
            api_key: info.api_key.clone(),
            mch_id: info.mch_id.clone(),
            v2_channel: info.channels.wechat_v2.clone(),
            v3_channel: info.channels.wechat_v3.clone(),
        };
        PayApp {
            sim_url: sim_url.to_owned(),
            app,
            a,
            upstream_timeout,
        }
    }

    /// Stops everything and runs the leak check.
    pub async fn finish(self) {
        self.app.finish().await;
    }

    /// Tenant B, set up as an operator would: tenant, app (also registered with the
    /// simulator), a merchant of its own at the simulator, a v2 and a v3 channel, an API key.
    pub async fn second_tenant(&self) -> PayTenant {
        let tenant = self.new_tenant().await;
        let appid = random_appid();
        let app_secret = random_text(32);
        self.secret("tenant B app secret", &app_secret);
        self.create_app(
            &self.admin.token,
            &tenant,
            &json!({ "appid": appid, "name": unique("app"), "secret": app_secret }),
        )
        .await
        .expect(201);
        self.sim_post(
            "/sim/apps",
            &json!({ "appid": appid, "secret": app_secret }),
        )
        .await
        .expect(201);

        // Another merchant number with the fixture certificate: the simulator only checks
        // signatures against the certificate, and paygate does not tie the two together.
        let mch_id = format!("19{:08}", rand::random::<u32>() % 100_000_000);
        let v2_key = self.new_api_v2_key();
        let v3_key = self.new_apiv3_key();
        let platform = self
            .sim_post(
                "/sim/merchants",
                &json!({
                    "mch_id": mch_id,
                    "v2_key": v2_key,
                    "v3_key": v3_key,
                    "merchant_cert_pem": fixtures::V2_CERT_PEM,
                    "mode": "public_key",
                }),
            )
            .await
            .expect(201);
        let v2 = self
            .create_channel(
                &self.admin.token,
                &tenant,
                &json!({
                    "kind": "wechat-v2",
                    "mch_id": mch_id,
                    "name": unique("b-v2"),
                    "credentials": {
                        "mch_id": mch_id,
                        "appid": appid,
                        "api_key": v2_key,
                        "sign_type": "HMAC-SHA256",
                        "client_cert_pem": fixtures::V2_CERT_PEM,
                        "client_key_pem": fixtures::V2_KEY_PEM,
                    },
                }),
            )
            .await
            .expect(201);
        let v3 = self
            .create_channel(
                &self.admin.token,
                &tenant,
                &json!({
                    "kind": "wechat-v3",
                    "mch_id": mch_id,
                    "name": unique("b-v3"),
                    "credentials": {
                        "mchid": mch_id,
                        "merchant_private_key_pem": fixtures::V2_KEY_PEM,
                        "merchant_certificate_pem": fixtures::V2_CERT_PEM,
                        "apiv3_key": v3_key,
                        "wechatpay_public_key_pem": platform["public_key_pem"],
                        "wechatpay_public_key_id": platform["public_key_id"],
                    },
                }),
            )
            .await
            .expect(201);
        let v3_channel = v3["id"].as_str().expect("channel id").to_owned();
        self.update_tenant(
            &self.admin.token,
            &tenant,
            &json!({ "default_channel_id": v3_channel }),
        )
        .await
        .expect(200);
        let (_, api_key) = self.new_api_key(&tenant).await;
        PayTenant {
            id: tenant,
            appid,
            api_key,
            mch_id,
            v2_channel: v2["id"].as_str().expect("channel id").to_owned(),
            v3_channel,
        }
    }
}
