//! Credentials documents: validation names the failing field; PEM pairs and PKCS#12 (legacy
//! and AES) open; secrets never show in Debug.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paygate_core::{ChannelSpec, ProviderError, ProviderKind};
use paygate_wechat_v2::sign::SignType;
use paygate_wechat_v2::{V2Config, V2Credentials, constructor, credentials::validate_json};
use secrecy::SecretString;

use crate::common::*;

fn json(extra: &[(&str, &str)]) -> String {
    creds_json(CERT_MCH_ID, APPID, KEY, SignType::HmacSha256, extra)
}

fn field_of(doc: &str) -> Option<&'static str> {
    validate_json(doc).err().map(|e| e.field)
}

#[test]
fn a_plain_document_validates_and_defaults_to_md5() {
    let v = validate_json(&json(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.sign_type, SignType::HmacSha256);
    assert!(v.identity.is_none());
    let doc = format!(r#"{{"mch_id":"{CERT_MCH_ID}","appid":"{APPID}","api_key":"{KEY}"}}"#);
    assert_eq!(
        validate_json(&doc).map(|v| v.sign_type).ok(),
        Some(SignType::Md5)
    );
}

#[test]
fn api_key_must_be_32_characters() {
    for bad in [
        "",
        "short",
        "192006250b4c09247ec02edce69f6a2",
        "192006250b4c09247ec02edce69f6a2d0",
        "192006250b4c09247ec02edce69f6a 2",
    ] {
        let doc = creds_json(CERT_MCH_ID, APPID, bad, SignType::Md5, &[]);
        assert_eq!(field_of(&doc), Some("api_key"), "{bad:?}");
    }
}

#[test]
fn document_shape_errors_name_the_field() {
    assert_eq!(field_of("{"), Some("credentials"));
    let err = validate_json(&json(&[("api_secret", "x")]))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown field `api_secret`"), "{err}");
    let doc = format!(
        r#"{{"mch_id":"{CERT_MCH_ID}","appid":"{APPID}","api_key":"{KEY}","sign_type":"md5"}}"#
    );
    let err = validate_json(&doc)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("credentials:") && !err.contains(KEY),
        "{err}"
    );
    let doc = format!(r#"{{"mch_id":"12ab","appid":"{APPID}","api_key":"{KEY}"}}"#);
    assert_eq!(field_of(&doc), Some("credentials"));
}

#[test]
fn pem_pair_validates_and_mismatches_are_named() {
    let ok = validate_json(&json(&[
        ("client_cert_pem", CLIENT_CERT_PEM),
        ("client_key_pem", CLIENT_KEY_PEM),
    ]));
    assert!(ok.as_ref().is_ok_and(|v| v.identity.is_some()), "{ok:?}");

    let mismatch = validate_json(&json(&[
        ("client_cert_pem", CLIENT_CERT_PEM),
        ("client_key_pem", OTHER_KEY_PEM),
    ]))
    .err();
    assert_eq!(
        mismatch.as_ref().map(|e| (e.field, e.reason.as_str())),
        Some(("client_key_pem", "does not match the certificate"))
    );

    assert_eq!(
        field_of(&json(&[("client_cert_pem", CLIENT_CERT_PEM)])),
        Some("client_key_pem")
    );
    assert_eq!(
        field_of(&json(&[("client_key_pem", CLIENT_KEY_PEM)])),
        Some("client_cert_pem")
    );
    assert_eq!(
        field_of(&json(&[
            ("client_cert_pem", "garbage"),
            ("client_key_pem", CLIENT_KEY_PEM)
        ])),
        Some("client_cert_pem")
    );
    assert_eq!(
        field_of(&json(&[
            ("client_cert_pem", CLIENT_CERT_PEM),
            ("client_key_pem", "garbage")
        ])),
        Some("client_key_pem")
    );
    // A certificate where the key should be.
    assert_eq!(
        field_of(&json(&[
            ("client_cert_pem", CLIENT_CERT_PEM),
            ("client_key_pem", CLIENT_CERT_PEM)
        ])),
        Some("client_key_pem")
    );
}

#[test]
fn pkcs12_legacy_and_aes_open_with_the_mch_id() {
    for (name, der) in [
        ("legacy RC2-40/3DES", P12_LEGACY),
        ("AES-256/PBKDF2", P12_AES),
    ] {
        let b64 = STANDARD.encode(der);
        let v = validate_json(&json(&[("pkcs12_base64", &b64)]));
        assert!(
            v.as_ref().is_ok_and(|v| v.identity.is_some()),
            "{name}: {v:?}"
        );
        // Line-wrapped base64 (as `base64` prints it) is fine too.
        let wrapped: String = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect();
        assert!(
            validate_json(&json(&[("pkcs12_base64", &wrapped)])).is_ok(),
            "{name} wrapped"
        );
    }
}

#[test]
fn pkcs12_failures_are_typed() {
    // Opened with another mch_id as password.
    let doc = creds_json(
        "1230000110",
        APPID,
        KEY,
        SignType::Md5,
        &[("pkcs12_base64", &STANDARD.encode(P12_LEGACY))],
    );
    let err = validate_json(&doc).err();
    assert_eq!(
        err.as_ref().map(|e| (e.field, e.reason.as_str())),
        Some((
            "pkcs12_base64",
            "cannot be opened with the mch_id as password"
        ))
    );
    // A scheme p12-keystore cannot read (RC4-128): a clear error pointing at the PEM pair.
    let err = validate_json(&json(&[("pkcs12_base64", &STANDARD.encode(P12_RC4))])).err();
    assert_eq!(err.as_ref().map(|e| e.field), Some("pkcs12_base64"));
    assert!(
        err.as_ref().is_some_and(
            |e| e.reason.contains("cannot read") && e.reason.contains("apiclient_key.pem")
        ),
        "{err:?}"
    );
    // Not base64 / not PKCS#12.
    assert_eq!(
        field_of(&json(&[("pkcs12_base64", "!!!")])),
        Some("pkcs12_base64")
    );
    assert_eq!(
        field_of(&json(&[("pkcs12_base64", &STANDARD.encode(b"not a p12"))])),
        Some("pkcs12_base64")
    );
}

#[test]
fn debug_never_shows_secrets() {
    let doc = json(&[
        ("client_cert_pem", CLIENT_CERT_PEM),
        ("client_key_pem", CLIENT_KEY_PEM),
        ("pkcs12_base64", &STANDARD.encode(P12_AES)),
    ]);
    let creds = V2Credentials::from_json(&doc).unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{creds:?}");
    assert!(
        !shown.contains(KEY) && !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
        "{shown}"
    );
    let valid = creds.validate().unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{valid:?}");
    assert!(
        !shown.contains(KEY) && !shown.contains("PRIVATE KEY"),
        "{shown}"
    );
    let provider = fixture_provider("http://127.0.0.1:9", SignType::Md5);
    assert!(!format!("{provider:?}").contains(KEY));
    // to_json is the deliberate way back, and it round-trips.
    let again = V2Credentials::from_json(secrecy::ExposeSecret::expose_secret(&creds.to_json()));
    assert!(again.is_ok_and(|c| c.validate().is_ok()));
}

#[test]
fn the_registry_constructor_checks_kind_and_mch_id() {
    let ctor = constructor(V2Config::default());
    let spec = |kind, mch: &str, doc: String| ChannelSpec {
        channel_id: parse("ch_1"),
        kind,
        mch_id: parse(mch),
        credentials_version: 1,
        credentials: SecretString::from(doc),
    };
    let built = ctor(&spec(ProviderKind::WechatV2, CERT_MCH_ID, json(&[])));
    assert!(
        built
            .as_ref()
            .is_ok_and(|p| p.kind() == ProviderKind::WechatV2),
        "{built:?}"
    );
    assert!(matches!(
        ctor(&spec(ProviderKind::WechatV2, "1230000110", json(&[]))),
        Err(ProviderError::Credentials(_))
    ));
    assert!(matches!(
        ctor(&spec(ProviderKind::WechatV3, CERT_MCH_ID, json(&[]))),
        Err(ProviderError::Unsupported(_))
    ));
    let bad = ctor(&spec(
        ProviderKind::WechatV2,
        CERT_MCH_ID,
        creds_json(CERT_MCH_ID, APPID, "short", SignType::Md5, &[]),
    ));
    assert!(
        matches!(&bad, Err(ProviderError::Credentials(m)) if m.starts_with("api_key")),
        "{bad:?}"
    );
}

#[test]
fn registry_validator_summarises_and_names_fields() {
    let validator = paygate_wechat_v2::credentials_validator();
    let summary = validator(&SecretString::from(json(&[]))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.mch_id.as_str(), CERT_MCH_ID);
    assert_eq!(summary.appid.as_ref().map(|a| a.as_str()), Some(APPID));
    let bad = json(&[]).replace(KEY, "short");
    let fault = validator(&SecretString::from(bad)).err();
    assert_eq!(fault.map(|f| f.field), Some("api_key".to_owned()));
}
