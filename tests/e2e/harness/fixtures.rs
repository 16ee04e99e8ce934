//! Test keys, certificates and credentials documents, plus random values for everything a
//! test registers (so each test's secrets are its own and a leak points at one test).
//!
//! The keys come from the repository's fixtures (`fixtures/wechatpay/`); they belong to
//! nobody.

use std::sync::OnceLock;

use base64::Engine;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

pub const V2_CERT_PEM: &str = include_str!("../../../fixtures/wechatpay/v2/apiclient_cert.pem");
pub const V2_KEY_PEM: &str = include_str!("../../../fixtures/wechatpay/v2/apiclient_key.pem");
/// A key that does not belong to [`V2_CERT_PEM`].
pub const V2_OTHER_KEY_PEM: &str = include_str!("../../../fixtures/wechatpay/v2/other_key.pem");
const V2_PKCS12: &[u8] = include_bytes!("../../../fixtures/wechatpay/v2/apiclient_cert_aes.p12");
/// The merchant number in the v2 certificate (and the PKCS#12 password).
pub const V2_MCH_ID: &str = "1230000109";

const TEST_VECTORS: &str = include_str!("../../../fixtures/wechatpay/test-vectors.json");

/// `fixture_keys` of `test-vectors.json`.
#[derive(Debug)]
pub struct V3Keys {
    pub mchid: String,
    pub merchant_private_key_pem: String,
    pub merchant_certificate_pem: String,
    /// The certificate's serial, as the channel must report it.
    pub merchant_serial: String,
    /// A private key that does not match the merchant certificate.
    pub other_private_key_pem: String,
    pub platform_certificate_pem: String,
    pub wechatpay_public_key_pem: String,
    pub wechatpay_public_key_id: String,
}

pub fn v3_keys() -> &'static V3Keys {
    static KEYS: OnceLock<V3Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let vectors: Value = serde_json::from_str(TEST_VECTORS).expect("test-vectors.json");
        let k = &vectors["fixture_keys"];
        let text = |name: &str| {
            k[name]
                .as_str()
                .unwrap_or_else(|| panic!("fixture_keys.{name}"))
                .to_owned()
        };
        V3Keys {
            mchid: text("mchid"),
            merchant_private_key_pem: text("merchant_private_key_pkcs8"),
            merchant_certificate_pem: text("merchant_cert_pem"),
            merchant_serial: text("merchant_serial"),
            other_private_key_pem: text("platform_private_key_pkcs8"),
            platform_certificate_pem: text("platform_cert_pem"),
            wechatpay_public_key_pem: text("platform_public_key"),
            wechatpay_public_key_id: text("public_key_id"),
        }
    })
}

/// `len` random letters and digits.
pub fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A fresh, valid appid (`wx` + 16 hex digits).
pub fn random_appid() -> String {
    format!("wx{:016x}", rand::rng().random::<u64>())
}

/// A fresh name with a readable prefix.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", random_text(8).to_lowercase())
}

/// A line from the middle of a PEM body: enough to recognise the key if any part of it leaks,
/// and free of the public `-----BEGIN …-----` armour.
pub fn pem_body_line(pem: &str) -> String {
    let lines: Vec<&str> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        .collect();
    assert!(!lines.is_empty(), "not a PEM document");
    lines[lines.len() / 2].to_owned()
}

/// A complete, valid v2 credentials document: PEM pair and PKCS#12.
pub fn v2_document(appid: &str, api_key: &str) -> Value {
    json!({
        "mch_id": V2_MCH_ID,
        "appid": appid,
        "api_key": api_key,
        "sign_type": "HMAC-SHA256",
        "client_cert_pem": V2_CERT_PEM,
        "client_key_pem": V2_KEY_PEM,
        "pkcs12_base64": base64::engine::general_purpose::STANDARD.encode(V2_PKCS12),
    })
}

/// A complete, valid v3 credentials document (platform certificate and public key).
pub fn v3_document(apiv3_key: &str) -> Value {
    let k = v3_keys();
    json!({
        "mchid": k.mchid,
        "merchant_private_key_pem": k.merchant_private_key_pem,
        "merchant_certificate_pem": k.merchant_certificate_pem,
        "apiv3_key": apiv3_key,
        "platform_certificates_pem": [k.platform_certificate_pem],
        "wechatpay_public_key_pem": k.wechatpay_public_key_pem,
        "wechatpay_public_key_id": k.wechatpay_public_key_id,
    })
}
