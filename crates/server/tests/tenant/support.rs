//! An in-process paygate wired to a running simulator: SQLite in a temp dir, the real v2/v3
//! providers pointed at the simulator, a `ManualClock` at the simulator's (frozen) time, one
//! tenant with one app (known to the simulator), a v2 and a v3 channel of the same merchant,
//! and API keys. Requests go through `oneshot` on the complete router.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use paygate_core::{
    AppId, ChannelId, Clock, ManualClock, ProviderKind, ProviderRegistry, TenantId,
};
use paygate_server::{AppState, JwtSettings, ServerSettings};
use paygate_sim::{AppSpec, MerchantSpec, RunningSim, SimConfig, Simulator, VerifyMode};
use paygate_store::{Audit, MasterKey, NewChannel, Scope, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const APPID: &str = "wxd678efh567hg6787";
pub const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const MCH_ID: &str = "1230000109";
const V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const V3_KEY: &str = "pAyGaTeTeStApIv3KeY0123456789AbC";
const CERT: &str = include_str!("../../../../fixtures/wechatpay/v2/apiclient_cert.pem");
const KEY: &str = include_str!("../../../../fixtures/wechatpay/v2/apiclient_key.pem");

pub struct World {
    pub app: Router,
    pub store: Store,
    pub clock: ManualClock,
    pub sim: RunningSim,
    pub tenant: TenantId,
    pub appid: AppId,
    pub v2: ChannelId,
    pub v3: ChannelId,
    /// All three scopes.
    pub key: String,
    /// `read` only.
    pub read_key: String,
    pub registry: Arc<ProviderRegistry>,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
    }

    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        &self.body
    }
}

impl World {
    pub async fn new() -> World {
        World::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut ServerSettings)) -> World {
        // Internal errors are logged, not returned: show them in failing tests' output.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let sim = Simulator::spawn(SimConfig::for_tests()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(sim.now());
        let url = format!("sqlite:{}", dir.path().join("paygate.db").display());
        let store = Store::connect(&url, MasterKey::generate(1), Arc::new(clock.clone()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.verify_master_key().await.unwrap();

        let mut registry = ProviderRegistry::new(100);
        let v2 = paygate_wechat_v2::V2Config {
            base_url: sim.base_url().to_owned(),
            secapi_base_url: Some(sim.tls_base_url().to_owned()),
            extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
            ..paygate_wechat_v2::V2Config::default()
        };
        registry.register(
            ProviderKind::WechatV2,
            paygate_wechat_v2::constructor_with_clock(v2, Arc::new(clock.clone())),
            paygate_wechat_v2::credentials_validator(),
        );
        let v3 = paygate_wechat_v3::V3Config {
            base_url: sim.base_url().to_owned(),
            extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
            ..paygate_wechat_v3::V3Config::default()
        };
        registry.register(
            ProviderKind::WechatV3,
            paygate_wechat_v3::constructor(v3, Arc::new(clock.clone())),
            paygate_wechat_v3::credentials_validator(),
        );

        let mut settings = ServerSettings::new(JwtSettings::new(SecretString::from(
            "test-jwt-secret-test-jwt-secret-0123",
        )));
        settings.public_url = Some("http://127.0.0.1:9/".parse().unwrap());
        settings.allow_insecure_public_url = true;
        settings.miniprogram_base_url = sim.base_url().to_owned();
        configure(&mut settings);
        settings.validate().unwrap();

        // The simulator's merchant and app.
        sim.sim()
            .register_app(AppSpec {
                appid: APPID.into(),
                secret: APP_SECRET.into(),
                pages: vec!["pages/pay/index".into()],
            })
            .unwrap();
        let handle = sim.sim().clone();
        let platform = tokio::task::spawn_blocking(move || {
            handle.register_merchant(MerchantSpec {
                mch_id: MCH_ID.into(),
                v2_key: V2_KEY.into(),
                v3_key: V3_KEY.into(),
                merchant_cert_pem: CERT.into(),
                mode: VerifyMode::PublicKey,
                appids: Vec::new(),
                signtest_probes: false,
                platform_private_key_pem: None,
            })
        })
        .await
        .unwrap()
        .unwrap();

        // The tenant, its app, two channels (v2 and v3 of the same merchant) and API keys.
        let audit = Audit::cli();
        let tenant = store.tenants().create(&audit, "Shop", None).await.unwrap();
        let appid: AppId = APPID.parse().unwrap();
        store
            .apps()
            .create(
                &audit,
                &tenant.id,
                &appid,
                "Shop app",
                &SecretString::from(APP_SECRET),
            )
            .await
            .unwrap();
        let v2_doc = json!({
            "mch_id": MCH_ID, "appid": APPID, "api_key": V2_KEY, "sign_type": "MD5",
            "client_cert_pem": CERT, "client_key_pem": KEY,
        });
        let v3_doc = json!({
            "mchid": MCH_ID, "merchant_private_key_pem": KEY, "merchant_certificate_pem": CERT,
            "apiv3_key": V3_KEY, "wechatpay_public_key_pem": platform.public_key_pem,
            "wechatpay_public_key_id": platform.public_key_id,
        });
        let mut channels = Vec::new();
        for (kind, doc) in [
            (ProviderKind::WechatV2, v2_doc),
            (ProviderKind::WechatV3, v3_doc),
        ] {
            let credentials = SecretString::from(doc.to_string());
            let summary = registry.validate_credentials(kind, &credentials).unwrap();
            let new = NewChannel {
                kind,
                mch_id: MCH_ID.parse().unwrap(),
                name: kind.as_str().into(),
                credentials,
                summary,
            };
            let created = store
                .channels()
                .create(&audit, &tenant.id, &new)
                .await
                .unwrap();
            channels.push(created.channel.id);
        }
        let all = [Scope::OrdersWrite, Scope::RefundsWrite, Scope::Read];
        let key = store
            .api_keys()
            .create(&audit, &tenant.id, "all", &all)
            .await
            .unwrap();
        let read = store
            .api_keys()
            .create(&audit, &tenant.id, "read", &[Scope::Read])
            .await
            .unwrap();

        let registry = Arc::new(registry);
        let state = AppState::new(
            store.clone(),
            registry.clone(),
            Arc::new(clock.clone()),
            settings,
        );
        let peer = SocketAddr::from(([203, 0, 113, 7], 40_000));
        let app = paygate_server::router(state).layer(MockConnectInfo(peer));
        World {
            app,
            store,
            clock,
            sim,
            tenant: tenant.id,
            appid,
            v2: channels[0].clone(),
            v3: channels[1].clone(),
            key: key.secret.expose_secret().to_owned(),
            read_key: read.secret.expose_secret().to_owned(),
            registry,
            _dir: dir,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        };
        let response = self.app.clone().oneshot(req.unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 8 << 20)
            .await
            .unwrap()
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            bytes,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), &[], None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), &[], Some(body.to_string()))
            .await
    }

    /// A new simulator user of the app, logged in: (openid, session token).
    pub async fn session(&self) -> (String, String) {
        let openid = self.sim.sim().create_user(APPID, None, None).unwrap();
        let code = self.sim.sim().login_code(APPID, &openid).unwrap();
        let r = self
            .call(
                Method::POST,
                &format!("/v1/apps/{APPID}/sessions"),
                None,
                &[],
                Some(json!({ "code": code }).to_string()),
            )
            .await;
        let body = r.assert_status(StatusCode::CREATED);
        assert_eq!(body["openid"], openid.as_str());
        (openid, body["session_token"].as_str().unwrap().to_owned())
    }

    /// Creates an order on `channel` with the full key; returns its JSON.
    pub async fn order(&self, channel: &ChannelId, amount: i64) -> Value {
        let r = self
            .post(
                "/v1/orders",
                &self.key,
                json!({ "amount": amount, "description": "Coffee", "channel_id": channel }),
            )
            .await;
        r.assert_status(StatusCode::CREATED).clone()
    }

    /// Pays `order_id` as the user: pay (JSAPI) with the session, then hand the signed fields
    /// to the simulated WeChat client, which checks `paySign` and pays.
    pub async fn pay_as(&self, order_id: &str, openid: &str, session: &str) -> Value {
        let r = self
            .post(
                &format!("/v1/orders/{order_id}/pay"),
                session,
                json!({ "trade_type": "jsapi" }),
            )
            .await;
        let pay = r.assert_status(StatusCode::OK).clone();
        let rp = &pay["request_payment"];
        let body = paygate_sim::RequestPaymentBody {
            appid: APPID.into(),
            openid: openid.into(),
            time_stamp: rp["timeStamp"].as_str().unwrap().into(),
            nonce_str: rp["nonceStr"].as_str().unwrap().into(),
            package: rp["package"].as_str().unwrap().into(),
            sign_type: rp["signType"].as_str().unwrap().into(),
            pay_sign: rp["paySign"].as_str().unwrap().into(),
            result: paygate_sim::PayResult::Success,
        };
        let outcome = self.sim.sim().request_payment(&body);
        assert!(
            outcome.is_ok(),
            "the simulator refused the payment: {outcome:?}"
        );
        pay
    }

    /// What the reconciliation worker would do for a paid order whose notification is late:
    /// query WeChat and converge.
    pub async fn settle(&self, order_id: &str) -> Value {
        let id: paygate_core::OrderId = order_id.parse().unwrap();
        let order = self
            .store
            .orders()
            .get(&self.tenant, &id)
            .await
            .unwrap()
            .order;
        let (channel, provider) = paygate_server::payments::channel::channel_provider(
            &self.store,
            &self.registry,
            &self.tenant,
            &order.channel_id,
        )
        .await
        .unwrap();
        let status = provider
            .query_payment(&paygate_core::PaymentRef::OutTradeNo(
                order.out_trade_no.clone(),
            ))
            .await
            .unwrap();
        paygate_server::payments::converge::apply_payment_status(
            &self.store,
            &order,
            &channel,
            &status,
            "query",
            None,
        )
        .await
        .unwrap();
        let r = self.get(&format!("/v1/orders/{order_id}"), &self.key).await;
        r.assert_status(StatusCode::OK).clone()
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
