//! The simulator side of the fixture: the merchant, its credentials documents, and the
//! provider registry pointed at the simulator.

use std::sync::Arc;

use paygate_core::{Clock, ProviderKind, ProviderRegistry};
use paygate_sim::{MerchantSpec, PlatformInfo, RunningSim, VerifyMode};
use secrecy::SecretString;
use serde_json::json;

pub const MCH: &str = "1230000109";
pub const APPID_A: &str = "wxd678efh567hg6787";
pub const APPID_B: &str = "wxb2222222222222bb";
const CERT: &str = include_str!("../../../../fixtures/wechatpay/v2/apiclient_cert.pem");
const KEY: &str = include_str!("../../../../fixtures/wechatpay/v2/apiclient_key.pem");
const V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const V3_KEY: &str = "pAyGaTeTeStApIv3KeY0123456789AbC";

pub fn registry(sim: &RunningSim, clock: Arc<dyn Clock>) -> ProviderRegistry {
    let mut registry = ProviderRegistry::new(100);
    let v2 = paygate_wechat_v2::V2Config {
        base_url: sim.base_url().to_owned(),
        secapi_base_url: Some(sim.tls_base_url().to_owned()),
        extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
        ..paygate_wechat_v2::V2Config::default()
    };
    registry.register(
        ProviderKind::WechatV2,
        paygate_wechat_v2::constructor_with_clock(v2, clock.clone()),
        paygate_wechat_v2::credentials_validator(),
    );
    let v3 = paygate_wechat_v3::V3Config {
        base_url: sim.base_url().to_owned(),
        extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
        ..paygate_wechat_v3::V3Config::default()
    };
    registry.register(
        ProviderKind::WechatV3,
        paygate_wechat_v3::constructor(v3, clock),
        paygate_wechat_v3::credentials_validator(),
    );
    registry
}

/// The v2 credentials document of merchant [`MCH`] for app A.
pub fn v2_credentials() -> SecretString {
    SecretString::from(
        json!({
            "mch_id": MCH, "appid": APPID_A, "api_key": V2_KEY, "sign_type": "MD5",
            "client_cert_pem": CERT, "client_key_pem": KEY,
        })
        .to_string(),
    )
}

/// A v3 credentials document of merchant [`MCH`] trusting `platform`'s public key.
pub fn v3_credentials(platform: &PlatformInfo) -> SecretString {
    SecretString::from(
        json!({
            "mchid": MCH,
            "merchant_private_key_pem": KEY,
            "merchant_certificate_pem": CERT,
            "apiv3_key": V3_KEY,
            "wechatpay_public_key_pem": platform.public_key_pem,
            "wechatpay_public_key_id": platform.public_key_id,
        })
        .to_string(),
    )
}

/// Registers a merchant at the simulator (our fixture certificate); its platform key is new.
pub async fn register_merchant(sim: &RunningSim, mch_id: &str) -> PlatformInfo {
    let handle = sim.sim().clone();
    let mch_id = mch_id.to_owned();
    tokio::task::spawn_blocking(move || {
        handle.register_merchant(MerchantSpec {
            mch_id,
            v2_key: V2_KEY.to_owned(),
            v3_key: V3_KEY.to_owned(),
            merchant_cert_pem: CERT.to_owned(),
            mode: VerifyMode::PublicKey,
            appids: Vec::new(),
            signtest_probes: false,
            platform_private_key_pem: None,
        })
    })
    .await
    .unwrap()
    .unwrap()
}
