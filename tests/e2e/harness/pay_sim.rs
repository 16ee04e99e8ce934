//! The simulator's control API as [`PayApp`] helpers: users and login codes, paying and
//! scanning as the WeChat client, settling refunds, delivering notifications, faults, clocks —
//! plus one run of the reconciliation worker on paygate's side of the clock.

use std::sync::Arc;

use paygate_cli::providers::{self, ProviderEndpoints};
use paygate_core::Clock;
use paygate_server::workers::reconcile::{self, ReconcileReport, ReconcileSettings};
use paygate_server::{AppState, JwtSettings, ServerSettings};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::Response;
use super::pay::{PayApp, PayTenant, User};

impl PayApp {
    // ---- the simulator's control API ----

    pub async fn sim_post(&self, path: &str, body: &Value) -> Response {
        let url = format!("{}{path}", self.sim_url);
        self.req_url(Method::POST, &url).json(body).send().await
    }

    pub async fn sim_get(&self, path: &str) -> Response {
        let url = format!("{}{path}", self.sim_url);
        self.req_url(Method::GET, &url).send().await
    }

    /// A new simulated user of `appid`; returns the openid.
    pub async fn sim_user(&self, appid: &str) -> String {
        let body = self
            .sim_post(&format!("/sim/apps/{appid}/users"), &json!({}))
            .await
            .expect(201);
        body["openid"].as_str().expect("openid").to_owned()
    }

    /// A one-time `wx.login` code for the user.
    pub async fn login_code(&self, appid: &str, openid: &str) -> String {
        let body = self
            .sim_post(
                &format!("/sim/apps/{appid}/users/{openid}/login-code"),
                &json!({}),
            )
            .await
            .expect(200);
        body["code"].as_str().expect("code").to_owned()
    }

    /// A new user of `tenant`'s app, logged in through paygate.
    pub async fn user(&self, tenant: &PayTenant) -> User {
        let openid = self.sim_user(&tenant.appid).await;
        let code = self.login_code(&tenant.appid, &openid).await;
        let response = self.create_session(&tenant.appid, &code).await;
        let body = response.expect(201);
        assert_eq!(body["openid"], openid.as_str(), "{}", response.text);
        let token = body["session_token"]
            .as_str()
            .expect("session_token")
            .to_owned();
        self.issued("session token", &response, &token);
        // The session_key WeChat handed paygate stays server-side (encrypted) for good.
        let session_key = self.running().sim().expect("simulator").sim().world().apps
            [&tenant.appid]
            .users[&openid]
            .session_key
            .clone();
        self.secret("session_key", &session_key);
        User { openid, token }
    }

    /// `POST /sim/request-payment` with the fields `pay` returned, as the WeChat client.
    pub async fn request_payment(
        &self,
        appid: &str,
        openid: &str,
        request_payment: &Value,
        result: &str,
    ) -> Response {
        let mut body = request_payment.clone();
        body["appid"] = json!(appid);
        body["openid"] = json!(openid);
        body["result"] = json!(result);
        self.sim_post("/sim/request-payment", &body).await
    }

    /// `POST /sim/scan`: a user scans a Native `code_url`.
    pub async fn scan(&self, code_url: &str, openid: &str, result: &str) -> Response {
        self.sim_post(
            "/sim/scan",
            &json!({ "code_url": code_url, "openid": openid, "result": result }),
        )
        .await
    }

    /// Settles a PROCESSING refund at the simulator (`success`, `abnormal`, `closed`).
    pub async fn settle(&self, mch_id: &str, out_refund_no: &str, result: &str) -> Response {
        self.sim_post(
            &format!("/sim/refunds/{out_refund_no}/settle"),
            &json!({ "result": result, "mch_id": mch_id }),
        )
        .await
    }

    /// Settles a refund as SUCCESS. The demo simulator also settles refunds by itself after
    /// five seconds; on a loaded machine it may have got there first, which is the same end.
    pub async fn settle_success(&self, mch_id: &str, out_refund_no: &str) {
        let response = self.settle(mch_id, out_refund_no, "success").await;
        if response.status == 409 {
            return;
        }
        let body = response.expect(200);
        assert_eq!(body["status"], "SUCCESS", "{}", response.text);
    }

    /// Sends every notification due now and waits for the replies; returns how many
    /// requests this call sent. The demo simulator also delivers from a 100 ms ticker, so a
    /// due notification may already be gone: assert on its effect, not on this count.
    pub async fn deliver(&self) -> u64 {
        let body = self
            .sim_post("/sim/notifications/deliver", &json!({}))
            .await
            .expect(200);
        body["sent"].as_u64().expect("sent")
    }

    /// The simulator's notification log for one merchant.
    pub async fn sim_notifications(&self, mch_id: &str) -> Vec<Value> {
        let body = self
            .sim_get(&format!("/sim/notifications?mch_id={mch_id}"))
            .await
            .expect(200);
        body.as_array().expect("a list").clone()
    }

    /// Injects a fault (`kind`, optional `endpoint`, for `mch_id`).
    pub async fn fault(&self, kind: &str, mch_id: &str, endpoint: Option<&str>) {
        let mut spec = json!({ "kind": kind, "mch_id": mch_id });
        if let Some(endpoint) = endpoint {
            spec["endpoint"] = json!(endpoint);
        }
        self.sim_post("/sim/faults", &spec).await.expect(201);
    }

    /// One run of the reconciliation worker on paygate's store and clock, with providers
    /// built as the server builds them (pointed at the simulator). `Running` does not expose
    /// the server's own state, so the worker gets a state of its own over the same store.
    pub async fn reconcile(&self) -> ReconcileReport {
        let sim = self.running().sim().expect("demo mode runs the simulator");
        let endpoints = ProviderEndpoints {
            wechatpay_base_url: sim.base_url().to_owned(),
            wechatpay_secapi_base_url: Some(sim.tls_base_url().to_owned()),
            extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
            timeout: self.upstream_timeout,
        };
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let registry = Arc::new(providers::registry(&endpoints, clock.clone()));
        let jwt = JwtSettings::new(SecretString::from(self.jwt_secret.clone()));
        let mut settings = ServerSettings::new(jwt);
        // As the demo server: WeChat notifies paygate's own address (a refund sent again
        // carries it).
        settings.public_url = Some(self.base_url.parse().expect("base URL"));
        settings.allow_insecure_public_url = true;
        let state = AppState::new(self.store().clone(), registry, clock, settings);
        reconcile::run_once(&state, &ReconcileSettings::default()).await
    }

    /// Moves paygate's clock past the reconciliation worker's `pending_age` (the simulator's
    /// too, see [`Self::advance_both`]).
    pub async fn age_past_pending(&self) {
        let age = ReconcileSettings::default().pending_age;
        let age = time::Duration::try_from(age).expect("a sane pending age");
        self.advance_both(age + time::Duration::seconds(1)).await;
    }

    /// Moves paygate's and the simulator's clocks forward together (whole seconds): v3
    /// signatures carry a timestamp that must stay within five minutes of the verifier's
    /// clock, both ways.
    pub async fn advance_both(&self, by: time::Duration) {
        self.clock.advance(by);
        self.sim_advance(by.whole_seconds()).await;
    }

    /// Moves the simulator's clock forward.
    pub async fn sim_advance(&self, seconds: i64) {
        self.sim_post("/sim/clock", &json!({ "advance_seconds": seconds }))
            .await
            .expect(200);
    }
}
