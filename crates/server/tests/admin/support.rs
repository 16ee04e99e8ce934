//! An in-process paygate: SQLite in a temp dir, the real v2/v3 credential validators, a
//! `ManualClock`, and two seeded operators (`admin` / `viewer`). Requests go through
//! `tower::ServiceExt::oneshot` on the complete router, middleware included.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use paygate_core::{ManualClock, ProviderKind, ProviderRegistry};
use paygate_server::{AppState, JwtSettings, ServerSettings, password};
use paygate_store::{Audit, MasterKey, Role, Store};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const VIEWER_PASSWORD: &str = "viewer password 123";
/// 2026-01-01T00:00:00Z.
pub const START: i64 = 1_767_225_600;

pub struct Harness {
    pub app: Router,
    pub store: Store,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut ServerSettings)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_unix(START);
        let url = format!("sqlite:{}", dir.path().join("paygate.db").display());
        let store = Store::connect(&url, MasterKey::generate(1), Arc::new(clock.clone()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.verify_master_key().await.unwrap();

        let mut registry = ProviderRegistry::new(100);
        registry.register(
            ProviderKind::WechatV2,
            paygate_wechat_v2::constructor(paygate_wechat_v2::V2Config::default()),
            paygate_wechat_v2::credentials_validator(),
        );
        registry.register(
            ProviderKind::WechatV3,
            paygate_wechat_v3::constructor(
                paygate_wechat_v3::V3Config::default(),
                Arc::new(clock.clone()),
            ),
            paygate_wechat_v3::credentials_validator(),
        );

        let mut settings = ServerSettings::new(JwtSettings::new(SecretString::from(
            "test-jwt-secret-test-jwt-secret-0123",
        )));
        configure(&mut settings);
        settings.validate().unwrap();
        let state = AppState::new(
            store.clone(),
            Arc::new(registry),
            Arc::new(clock.clone()),
            settings,
        );
        let peer = SocketAddr::from(([203, 0, 113, 7], 40_000));
        let app = paygate_server::router(state).layer(MockConnectInfo(peer));

        for (name, pw, role) in [
            ("admin", ADMIN_PASSWORD, Role::Admin),
            ("viewer", VIEWER_PASSWORD, Role::Viewer),
        ] {
            let hash = password::hash(SecretString::from(pw)).await.unwrap();
            store
                .operators()
                .create(&Audit::cli(), name, &SecretString::from(hash), role)
                .await
                .unwrap();
        }
        Harness {
            app,
            store,
            clock,
            _dir: dir,
        }
    }

    /// Sends a request; `body` is sent as JSON when present.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 8 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/admin/v1/login",
            None,
            Some(json!({ "username": username, "password": password })),
        )
        .await
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    pub async fn viewer_token(&self) -> String {
        self.token("viewer", VIEWER_PASSWORD).await
    }

    async fn token(&self, user: &str, pw: &str) -> String {
        let r = self.login(user, pw).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// Creates a tenant and returns its id.
    pub async fn tenant(&self, token: &str, name: &str) -> String {
        let r = self
            .post("/admin/v1/tenants", token, json!({ "name": name }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

impl Reply {
    /// Asserts the error envelope's status and code.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert!(self.body["message"].is_string(), "{}", self.text);
    }
}

/// The fixture v2 credentials document (merchant 1230000109, the test client certificate).
pub fn v2_credentials() -> Value {
    json!({
        "mch_id": "1230000109",
        "appid": "wxd678efh567hg6787",
        "api_key": "192006250b4c09247ec02edce69f6a2d",
        "sign_type": "MD5",
        "client_cert_pem": include_str!("../../../../fixtures/wechatpay/v2/apiclient_cert.pem"),
        "client_key_pem": include_str!("../../../../fixtures/wechatpay/v2/apiclient_key.pem"),
    })
}

/// The fixture v3 credentials document (merchant 1230000109, platform certificate mode).
pub fn v3_credentials() -> Value {
    let vectors: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/wechatpay/test-vectors.json"
    ))
    .unwrap();
    let k = &vectors["fixture_keys"];
    json!({
        "mchid": k["mchid"],
        "merchant_private_key_pem": k["merchant_private_key_pkcs8"],
        "merchant_certificate_pem": k["merchant_cert_pem"],
        "apiv3_key": k["apiv3_key"],
        "platform_certificates_pem": [k["platform_cert_pem"]],
    })
}

/// The fixture's merchant certificate serial.
pub fn v3_merchant_serial() -> String {
    let vectors: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/wechatpay/test-vectors.json"
    ))
    .unwrap();
    vectors["fixture_keys"]["merchant_serial"]
        .as_str()
        .unwrap()
        .to_owned()
}
