//! Credentials validation: each failure is typed and names its field; secrets never leak.

use paygate_core::{ChannelSpec, ManualClock, ProviderKind};
use paygate_wechat_v3::{CredentialsError, V3Config, V3Credentials, constructor, validate};
use secrecy::SecretString;
use std::sync::Arc;

use crate::common::*;

fn field_of(c: &V3Credentials) -> Option<&'static str> {
    validate(c).err().map(|e| e.field())
}

#[test]
fn fixture_credentials_validate_and_derive_the_serial() {
    for mode in [Mode::PublicKey, Mode::Certificate, Mode::Both] {
        let v = validate(&credentials(mode)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.merchant_serial, key("merchant_serial"));
    }
}

#[test]
fn each_failure_names_its_field() {
    let mut c = credentials(Mode::PublicKey);
    c.merchant_private_key_pem =
        SecretString::from("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert_eq!(field_of(&c), Some("merchant_private_key_pem"));

    let mut c = credentials(Mode::PublicKey);
    c.merchant_certificate_pem = key("platform_public_key");
    assert_eq!(field_of(&c), Some("merchant_certificate_pem"));

    let mut c = credentials(Mode::PublicKey);
    c.merchant_certificate_pem = key("platform_cert_pem");
    assert!(matches!(
        validate(&c),
        Err(CredentialsError::CertificateKeyMismatch)
    ));

    let mut c = credentials(Mode::PublicKey);
    c.apiv3_key = SecretString::from("testMchAPIv3Key0");
    assert_eq!(
        validate(&c).err(),
        Some(CredentialsError::ApiV3KeyLength(16))
    );

    let mut c = credentials(Mode::Certificate);
    c.platform_certificates_pem.push("garbage".into());
    assert!(matches!(
        validate(&c),
        Err(CredentialsError::PlatformCertificate { index: 1, .. })
    ));

    let mut c = credentials(Mode::PublicKey);
    c.wechatpay_public_key_pem = Some(key("merchant_private_key_pkcs8"));
    assert_eq!(field_of(&c), Some("wechatpay_public_key_pem"));

    let mut c = credentials(Mode::PublicKey);
    c.wechatpay_public_key_id = None;
    assert_eq!(field_of(&c), Some("wechatpay_public_key_id"));

    let mut c = credentials(Mode::PublicKey);
    c.wechatpay_public_key_id = Some("7A1B2C3D".into());
    assert_eq!(field_of(&c), Some("wechatpay_public_key_id"));

    let mut c = credentials(Mode::PublicKey);
    c.wechatpay_public_key_pem = None;
    c.wechatpay_public_key_id = None;
    assert_eq!(
        validate(&c).err(),
        Some(CredentialsError::NoVerificationKey)
    );
}

#[test]
fn pkcs1_private_keys_are_accepted() {
    // The same merchant key re-wrapped as PKCS#1 (`RSA PRIVATE KEY`): strip the PKCS#8 header.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pkcs8 = key("merchant_private_key_pkcs8");
    let body: String = pkcs8.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = b64.decode(body).unwrap_or_default();
    // PKCS#8 v1 for RSA: a 26-byte prefix (SEQUENCE, version, AlgorithmIdentifier, OCTET STRING header).
    let pkcs1 = &der[26..];
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        b64.encode(pkcs1)
    );
    let mut c = credentials(Mode::PublicKey);
    c.merchant_private_key_pem = SecretString::from(pem);
    let v = validate(&c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.merchant_serial, key("merchant_serial"));
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let c = credentials(Mode::Both);
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("MII") && !shown.contains(&key("apiv3_key")),
        "{shown}"
    );
    let v = validate(&c).unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{v:?}");
    assert!(
        !shown.contains("MII") && !shown.contains(&key("apiv3_key")),
        "{shown}"
    );
}

#[test]
fn documents_round_trip_and_unknown_fields_are_refused() {
    let c = credentials(Mode::Both);
    let json = serde_json::to_string(&c).unwrap_or_default();
    assert!(V3Credentials::from_json(&json).is_ok());
    let mut doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    doc["platform_certificate_pem"] = serde_json::json!([]);
    let err = V3Credentials::from_json(&doc.to_string()).err();
    assert_eq!(err.map(|e| e.field()), Some("credentials"));
}

#[test]
fn constructor_checks_the_channel_mchid() {
    let clock = Arc::new(ManualClock::at_unix(1_704_067_200));
    let build = constructor(V3Config::default(), clock);
    let json = serde_json::to_string(&credentials(Mode::PublicKey)).unwrap_or_default();
    let spec = |mch: &str| ChannelSpec {
        channel_id: "ch_1".parse().unwrap_or_else(|_| unreachable!()),
        kind: ProviderKind::WechatV3,
        mch_id: mch.parse().unwrap_or_else(|_| unreachable!()),
        credentials_version: 1,
        credentials: SecretString::from(json.clone()),
    };
    let ok = build(&spec("1230000109"));
    assert_eq!(ok.map(|p| p.kind()).ok(), Some(ProviderKind::WechatV3));
    let wrong = build(&spec("1230000110")).err();
    assert_eq!(wrong.map(|e| e.code()), Some("channel_credentials_invalid"));
}

#[test]
fn registry_validator_summarises_and_names_fields() {
    let validator = paygate_wechat_v3::credentials_validator();
    let doc = serde_json::to_string(&credentials(Mode::PublicKey)).unwrap_or_default();
    let summary = validator(&SecretString::from(doc.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.mch_id.as_str(), key("mchid"));
    assert_eq!(summary.merchant_serial, Some(key("merchant_serial")));
    assert!(summary.certificate_not_after.is_some());

    let short = doc.replace(&key("apiv3_key"), "too-short");
    let fault = validator(&SecretString::from(short)).err();
    let fault = fault.unwrap_or_else(|| panic!("a short APIv3 key must be refused"));
    assert_eq!(fault.field, "apiv3_key");
    assert!(!fault.message.starts_with("apiv3_key"), "{}", fault.message);
    assert!(!fault.message.contains("too-short"), "{}", fault.message);
}
