//! Shared helpers: the known-answer vectors of `fixtures/wechatpay/test-vectors.json`, fixture
//! credentials, and a wiremock responder that signs like WeChat (with the fixture platform key).

use std::sync::Arc;

use paygate_core::{Clock, ManualClock, NotificationRequest};
use paygate_wechat_v3::aead::{self, ApiV3Key};
use paygate_wechat_v3::sign::{RsaSigner, parse_authorization, signature_message};
use paygate_wechat_v3::verify::{RsaVerifier, response_message};
use paygate_wechat_v3::{V3Config, V3Credentials, WechatV3Provider};
use serde_json::Value;
use wiremock::{Request, Respond, ResponseTemplate};

pub const VECTORS: &str = include_str!("../../../../fixtures/wechatpay/test-vectors.json");

pub fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap_or(Value::Null)
}

/// A string field at `section.field`, or an empty string (the test then fails visibly).
pub fn s(section: &str, field: &str) -> String {
    vectors()[section][field]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn key(field: &str) -> String {
    s("fixture_keys", field)
}

pub const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

/// Which verification keys a test merchant is configured with.
pub enum Mode {
    PublicKey,
    Certificate,
    Both,
}

pub fn credentials(mode: Mode) -> V3Credentials {
    let (certs, pubkey) = match mode {
        Mode::PublicKey => (false, true),
        Mode::Certificate => (true, false),
        Mode::Both => (true, true),
    };
    let doc = serde_json::json!({
        "mchid": key("mchid"),
        "merchant_private_key_pem": key("merchant_private_key_pkcs8"),
        "merchant_certificate_pem": key("merchant_cert_pem"),
        "apiv3_key": key("apiv3_key"),
        "platform_certificates_pem": if certs { vec![key("platform_cert_pem")] } else { vec![] },
        "wechatpay_public_key_pem": pubkey.then(|| key("platform_public_key")),
        "wechatpay_public_key_id": pubkey.then_some(PUB_KEY_ID),
    });
    V3Credentials::from_json(&doc.to_string())
        .unwrap_or_else(|e| panic!("fixture credentials: {e}"))
}

pub fn config(base_url: &str) -> V3Config {
    V3Config {
        base_url: base_url.to_owned(),
        ..V3Config::default()
    }
}

pub fn provider(
    base_url: &str,
    clock: &ManualClock,
    credentials: &V3Credentials,
) -> WechatV3Provider {
    WechatV3Provider::new(&config(base_url), credentials, Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("provider: {e}"))
}

pub fn platform_signer() -> RsaSigner {
    RsaSigner::from_pkcs8_pem(&key("platform_private_key_pkcs8")).unwrap_or_else(|e| panic!("{e}"))
}

pub fn apiv3_key() -> ApiV3Key {
    ApiV3Key::new(key("apiv3_key").as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// Headers WeChat would send with `body`, signed with the platform key.
pub fn signed_headers(
    body: &[u8],
    timestamp: i64,
    nonce: &str,
    serial: &str,
) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    let signature = platform_signer().sign(&response_message(&ts, nonce, body));
    vec![
        ("Wechatpay-Timestamp".into(), ts),
        ("Wechatpay-Nonce".into(), nonce.into()),
        ("Wechatpay-Signature".into(), signature),
        ("Wechatpay-Serial".into(), serial.into()),
        (
            "Wechatpay-Signature-Type".into(),
            "WECHATPAY2-SHA256-RSA2048".into(),
        ),
    ]
}

/// A notification built like WeChat builds one: `plaintext` sealed under the fixture APIv3 key,
/// wrapped in the envelope, signed by the platform key at `timestamp`.
pub fn notification(
    event_type: &str,
    plaintext: &str,
    timestamp: i64,
    serial: &str,
) -> NotificationRequest {
    let ciphertext = aead::encrypt(
        &apiv3_key(),
        b"0a1b2c3d4e5f",
        b"transaction",
        plaintext.as_bytes(),
    )
    .unwrap_or_default();
    let body = serde_json::json!({
        "id": "EV-test-1",
        "create_time": "2024-01-01T12:00:05+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "test",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": "transaction",
            "nonce": "0a1b2c3d4e5f",
        },
    })
    .to_string()
    .into_bytes();
    signed_request(body, timestamp, serial)
}

pub fn signed_request(body: Vec<u8>, timestamp: i64, serial: &str) -> NotificationRequest {
    NotificationRequest {
        headers: signed_headers(&body, timestamp, "nonce-0123456789", serial),
        body,
    }
}

/// A fixture notification (`v3_notify_pubkey` / `v3_notify_cert`) exactly as recorded.
pub fn fixture_notification(section: &str) -> NotificationRequest {
    NotificationRequest {
        headers: vec![
            ("Wechatpay-Timestamp".into(), s(section, "timestamp")),
            ("Wechatpay-Nonce".into(), s(section, "nonce")),
            ("Wechatpay-Signature".into(), s(section, "signature")),
            ("Wechatpay-Serial".into(), s(section, "serial")),
            (
                "Wechatpay-Signature-Type".into(),
                "WECHATPAY2-SHA256-RSA2048".into(),
            ),
        ],
        body: s(section, "body").into_bytes(),
    }
}

/// Answers like WeChat: `status` with `body`, signed by the platform key at the clock's time.
#[derive(Clone)]
pub struct Signed {
    pub status: u16,
    pub body: Vec<u8>,
    pub serial: String,
    pub clock: ManualClock,
}

impl Signed {
    pub fn json(status: u16, body: &str, clock: &ManualClock) -> Self {
        Signed {
            status,
            body: body.as_bytes().to_vec(),
            serial: PUB_KEY_ID.into(),
            clock: clock.clone(),
        }
    }

    pub fn serial(mut self, serial: &str) -> Self {
        self.serial = serial.to_owned();
        self
    }
}

impl Respond for Signed {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status).set_body_bytes(self.body.clone());
        for (k, v) in signed_headers(
            &self.body,
            self.clock.unix_seconds(),
            "stub-nonce-42",
            &self.serial,
        ) {
            t = t.insert_header(k.as_str(), v.as_str());
        }
        if !self.body.is_empty() {
            t = t.insert_header("Content-Type", "application/json");
        }
        t
    }
}

/// Checks a request as WeChat does: the Authorization header parses, names the fixture mchid
/// and merchant serial, its timestamp is the clock's, and its signature over
/// method, path+query, timestamp, nonce and body verifies with the merchant public key.
pub fn assert_signed_by_merchant(req: &Request, clock: &ManualClock) {
    let header = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Authorization header"));
    let p = parse_authorization(header).unwrap_or_else(|e| panic!("{e}: {header}"));
    assert_eq!(p.mchid, key("mchid"));
    assert_eq!(p.serial_no, key("merchant_serial"));
    assert_eq!(p.timestamp_seconds(), Some(clock.unix_seconds()));
    assert_eq!(p.nonce_str.len(), 32);
    let canonical = match req.url.query() {
        Some(q) => format!("{}?{q}", req.url.path()),
        None => req.url.path().to_owned(),
    };
    let message = signature_message(
        req.method.as_str(),
        &canonical,
        &p.timestamp,
        &p.nonce_str,
        &req.body,
    );
    let merchant = RsaVerifier::from_public_key_pem(&key("merchant_public_key"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        merchant.verify(&message, &p.signature),
        Ok(()),
        "request signature"
    );
    assert_eq!(
        req.headers.get("accept").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert!(req.headers.get("user-agent").is_some());
    if !req.body.is_empty() {
        assert_eq!(
            req.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
    }
}
