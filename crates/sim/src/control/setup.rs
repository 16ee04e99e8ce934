//! Set-up operations: merchants (with their generated platform keys), apps, users, codes, clock.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::SimError;
use crate::keys::{MerchantKeys, PlatformKeys};
use crate::state::{App, LoginCode, Merchant, PhoneCode, Sim, User, VerifyMode};

/// `POST /sim/merchants`.
#[derive(Debug, Clone, Deserialize)]
pub struct MerchantSpec {
    pub mch_id: String,
    pub v2_key: String,
    /// 32 ASCII characters.
    pub v3_key: String,
    /// The merchant API certificate (`apiclient_cert.pem`): its serial and public key are what
    /// requests, RSA `paySign`s and the mutual-TLS handshake are checked against.
    pub merchant_cert_pem: String,
    #[serde(default = "default_mode")]
    pub mode: VerifyMode,
    /// Apps bound to the merchant; empty = every registered app.
    #[serde(default)]
    pub appids: Vec<String>,
    #[serde(default)]
    pub signtest_probes: bool,
    /// Use this PKCS#8 key as the platform key instead of generating one (fixtures, speed).
    #[serde(default)]
    pub platform_private_key_pem: Option<String>,
}

fn default_mode() -> VerifyMode {
    VerifyMode::PlatformCert
}

/// `GET /sim/merchants/{mch_id}/platform`: what a merchant downloads from WeChat to verify it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformInfo {
    pub mch_id: String,
    pub mode: VerifyMode,
    pub merchant_serial: String,
    pub platform_serial: String,
    pub platform_certificate_pem: String,
    pub public_key_id: String,
    pub public_key_pem: String,
}

/// `POST /sim/apps`.
#[derive(Debug, Clone, Deserialize)]
pub struct AppSpec {
    pub appid: String,
    pub secret: String,
    /// Published pages for `getwxacodeunlimit`'s `check_path`; empty = any page.
    #[serde(default)]
    pub pages: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UserSpec {
    pub openid: Option<String>,
    pub unionid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PhoneSpec {
    pub phone_number: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ClockMove {
    /// Seconds to move forward (negative: back).
    pub advance_seconds: Option<i64>,
    /// An absolute RFC 3339 time.
    pub set: Option<String>,
}

impl Sim {
    /// Registers (or replaces) a merchant and generates its platform keys.
    pub fn register_merchant(&self, spec: MerchantSpec) -> Result<PlatformInfo, SimError> {
        if spec.mch_id.is_empty() || !spec.mch_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SimError::BadRequest("mch_id must be digits".into()));
        }
        if spec.v3_key.len() != 32 {
            return Err(SimError::BadRequest("v3_key must be 32 bytes".into()));
        }
        if spec.v2_key.is_empty() {
            return Err(SimError::BadRequest("v2_key must not be empty".into()));
        }
        let keys = MerchantKeys::from_cert_pem(&spec.merchant_cert_pem)?;
        let mut serial = self.random_bytes(20);
        if let Some(first) = serial.first_mut() {
            // Positive and without a leading zero byte, so the hex serial has 40 digits.
            *first = (*first & 0x7f).max(0x10);
        }
        let public_key_id = format!("PUB_KEY_ID_{}", self.random_digits(28));
        let platform = PlatformKeys::generate(
            spec.platform_private_key_pem.as_deref(),
            &serial,
            public_key_id,
            self.now() - Duration::days(1),
        )?;
        let merchant = Merchant {
            mch_id: spec.mch_id.clone(),
            v2_key: spec.v2_key,
            v3_key: spec.v3_key,
            keys,
            platform,
            mode: spec.mode,
            appids: spec.appids,
            signtest_probes: spec.signtest_probes,
            signed_count: 0,
        };
        let info = platform_info(&merchant);
        self.world().merchants.insert(spec.mch_id, merchant);
        Ok(info)
    }

    pub fn platform_info(&self, mch_id: &str) -> Result<PlatformInfo, SimError> {
        self.world()
            .merchants
            .get(mch_id)
            .map(platform_info)
            .ok_or_else(|| SimError::NotFound(format!("merchant {mch_id}")))
    }

    pub fn register_app(&self, spec: AppSpec) -> Result<(), SimError> {
        if spec.appid.is_empty() || !spec.appid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SimError::BadRequest(
                "appid must be letters and digits".into(),
            ));
        }
        if spec.secret.is_empty() {
            return Err(SimError::BadRequest("secret must not be empty".into()));
        }
        let mut world = self.world();
        let app = world.apps.entry(spec.appid.clone()).or_insert_with(|| App {
            appid: spec.appid.clone(),
            secret: String::new(),
            pages: Vec::new(),
            users: Default::default(),
            login_codes: Default::default(),
            phone_codes: Default::default(),
            tokens: Vec::new(),
            stable_tokens: Vec::new(),
            stable_force_refreshes: Vec::new(),
        });
        app.secret = spec.secret;
        app.pages = spec.pages;
        Ok(())
    }

    /// Creates a user of an app (a fresh openid unless one is given); returns the openid.
    pub fn create_user(
        &self,
        appid: &str,
        openid: Option<String>,
        unionid: Option<String>,
    ) -> Result<String, SimError> {
        let openid = openid.unwrap_or_else(|| format!("o{}", self.random_alnum(27)));
        if openid.is_empty()
            || !openid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(SimError::BadRequest(
                "openid may only contain letters, digits, _ and -".into(),
            ));
        }
        let mut world = self.world();
        let app = world
            .apps
            .get_mut(appid)
            .ok_or_else(|| SimError::NotFound(format!("app {appid}")))?;
        app.users.entry(openid.clone()).or_insert_with(|| User {
            openid: openid.clone(),
            unionid,
            session_key: String::new(),
            login_calls: Vec::new(),
        });
        Ok(openid)
    }

    /// A one-time `wx.login` code for the user, valid five minutes.
    pub fn login_code(&self, appid: &str, openid: &str) -> Result<String, SimError> {
        let code = self.random_alnum(32);
        let now = self.now();
        let mut world = self.world();
        let app = world
            .apps
            .get_mut(appid)
            .ok_or_else(|| SimError::NotFound(format!("app {appid}")))?;
        if !app.users.contains_key(openid) {
            return Err(SimError::NotFound(format!("user {openid}")));
        }
        app.login_codes.insert(
            code.clone(),
            LoginCode {
                openid: openid.to_owned(),
                expires_at: now + Duration::minutes(5),
                used: false,
            },
        );
        Ok(code)
    }

    /// A one-time phone-number code for the user, valid five minutes.
    pub fn phone_code(
        &self,
        appid: &str,
        openid: &str,
        phone: Option<String>,
    ) -> Result<String, SimError> {
        let code = self.random_from(b"0123456789abcdef", 64);
        let phone = phone.unwrap_or_else(|| format!("138{}", self.random_digits(8)));
        let now = self.now();
        let mut world = self.world();
        let app = world
            .apps
            .get_mut(appid)
            .ok_or_else(|| SimError::NotFound(format!("app {appid}")))?;
        if !app.users.contains_key(openid) {
            return Err(SimError::NotFound(format!("user {openid}")));
        }
        app.phone_codes.insert(
            code.clone(),
            PhoneCode {
                openid: openid.to_owned(),
                phone,
                expires_at: now + Duration::minutes(5),
                used: false,
            },
        );
        Ok(code)
    }
}

fn platform_info(m: &Merchant) -> PlatformInfo {
    PlatformInfo {
        mch_id: m.mch_id.clone(),
        mode: m.mode,
        merchant_serial: m.keys.serial.clone(),
        platform_serial: m.platform.serial.clone(),
        platform_certificate_pem: m.platform.cert_pem.clone(),
        public_key_id: m.platform.public_key_id.clone(),
        public_key_pem: m.platform.public_key_pem.clone(),
    }
}

pub async fn create_merchant(
    State(sim): State<Sim>,
    Json(spec): Json<MerchantSpec>,
) -> Result<Response, SimError> {
    // RSA key generation takes a moment: keep it off the async workers.
    let info = tokio::task::spawn_blocking(move || sim.register_merchant(spec))
        .await
        .map_err(|e| SimError::Internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

pub async fn platform(
    State(sim): State<Sim>,
    Path(mch_id): Path<String>,
) -> Result<Json<PlatformInfo>, SimError> {
    sim.platform_info(&mch_id).map(Json)
}

pub async fn create_app(
    State(sim): State<Sim>,
    Json(spec): Json<AppSpec>,
) -> Result<Response, SimError> {
    let appid = spec.appid.clone();
    sim.register_app(spec)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "appid": appid })),
    )
        .into_response())
}

pub async fn create_user(
    State(sim): State<Sim>,
    Path(appid): Path<String>,
    body: Option<Json<UserSpec>>,
) -> Result<Response, SimError> {
    let spec = body.map(|b| b.0).unwrap_or_default();
    let openid = sim.create_user(&appid, spec.openid, spec.unionid)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "appid": appid, "openid": openid })),
    )
        .into_response())
}

pub async fn login_code(
    State(sim): State<Sim>,
    Path((appid, openid)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, SimError> {
    let code = sim.login_code(&appid, &openid)?;
    Ok(Json(serde_json::json!({ "code": code, "expires_in": 300 })))
}

pub async fn phone_code(
    State(sim): State<Sim>,
    Path((appid, openid)): Path<(String, String)>,
    body: Option<Json<PhoneSpec>>,
) -> Result<Json<serde_json::Value>, SimError> {
    let phone = body.and_then(|b| b.0.phone_number);
    let code = sim.phone_code(&appid, &openid, phone)?;
    Ok(Json(serde_json::json!({ "code": code, "expires_in": 300 })))
}

fn clock_json(now: OffsetDateTime) -> serde_json::Value {
    serde_json::json!({
        "now": paygate_core::time_fmt::to_utc_rfc3339(now),
        "unix": now.unix_timestamp(),
    })
}

pub async fn move_clock(
    State(sim): State<Sim>,
    body: Option<Json<ClockMove>>,
) -> Result<Json<serde_json::Value>, SimError> {
    let m = body.map(|b| b.0).unwrap_or_default();
    if let Some(s) = m.set.as_deref() {
        let t = paygate_core::time_fmt::from_rfc3339(s)
            .ok_or_else(|| SimError::BadRequest("set must be an RFC 3339 time".into()))?;
        sim.clock.set(t);
    }
    if let Some(secs) = m.advance_seconds {
        sim.clock.advance(Duration::seconds(secs));
    }
    Ok(Json(clock_json(sim.now())))
}

pub async fn read_clock(State(sim): State<Sim>) -> Json<serde_json::Value> {
    Json(clock_json(sim.now()))
}
