//! Shared fixtures and builders. Nothing here reads outside the repository.

use std::sync::Arc;

use paygate_core::{ManualClock, Money};
use paygate_wechat_v2::sign::{ApiKey, SignType, sign};
use paygate_wechat_v2::xml::{self, Fields};
use paygate_wechat_v2::{V2Config, WechatV2Provider};
use serde_json::Value;

pub const VECTORS: &str = include_str!("../../../../fixtures/wechatpay/test-vectors.json");
pub const RESPONSE_FIXTURE: &str =
    include_str!("../../../../fixtures/wechatpay/v2/response-fixture.json");
pub const CA_PEM: &str = include_str!("../../../../fixtures/wechatpay/v2/ca.pem");
pub const SERVER_CERT_PEM: &str = include_str!("../../../../fixtures/wechatpay/v2/server_cert.pem");
pub const SERVER_KEY_PEM: &str = include_str!("../../../../fixtures/wechatpay/v2/server_key.pem");
pub const CLIENT_CERT_PEM: &str =
    include_str!("../../../../fixtures/wechatpay/v2/apiclient_cert.pem");
pub const CLIENT_KEY_PEM: &str =
    include_str!("../../../../fixtures/wechatpay/v2/apiclient_key.pem");
pub const OTHER_KEY_PEM: &str = include_str!("../../../../fixtures/wechatpay/v2/other_key.pem");
pub const P12_LEGACY: &[u8] =
    include_bytes!("../../../../fixtures/wechatpay/v2/apiclient_cert_legacy.p12");
pub const P12_AES: &[u8] =
    include_bytes!("../../../../fixtures/wechatpay/v2/apiclient_cert_aes.p12");
pub const P12_RC4: &[u8] =
    include_bytes!("../../../../fixtures/wechatpay/v2/apiclient_cert_rc4.p12");
/// The mch_id of the fixture client certificate (and the PKCS#12 password).
pub const CERT_MCH_ID: &str = "1230000109";

/// The merchant of V2-SIGN-OFFICIAL / V2-NOTIFY-FIXTURE / V2-RESPONSE-FIXTURE.
pub const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
pub const MCH_ID: &str = "10000100";
pub const APPID: &str = "wx2421b1c4370ec43b";
pub const NONCE: &str = "IITRi8Iabbblz1Jc";
/// 2014-09-03 13:15:40 Beijing.
pub const NOW_UNIX: i64 = 1_409_721_340;

pub fn vector(name: &str) -> Value {
    let all: Value = serde_json::from_str(VECTORS).unwrap_or(Value::Null);
    assert!(all[name].is_object(), "vector {name} missing");
    all[name].clone()
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

pub fn fields_of(v: &Value) -> Fields {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .iter()
        .map(|(k, v)| (k.clone(), s(v).to_owned()))
        .collect()
}

pub fn f(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn fen(n: i64) -> Money {
    Money::from_fen(n).unwrap_or_else(|e| panic!("{e}"))
}

pub fn parse<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e:?}"))
}

/// A credentials JSON document.
pub fn creds_json(
    mch_id: &str,
    appid: &str,
    key: &str,
    sign_type: SignType,
    extra: &[(&str, &str)],
) -> String {
    let mut doc = serde_json::json!({
        "mch_id": mch_id, "appid": appid, "api_key": key, "sign_type": sign_type.as_str(),
    });
    for (k, v) in extra {
        doc[*k] = Value::String((*v).to_owned());
    }
    doc.to_string()
}

/// A provider for the V2 fixture merchant, on a manual clock and a fixed nonce.
pub fn provider_for(config: &V2Config, json: &str, clock: &ManualClock) -> WechatV2Provider {
    WechatV2Provider::from_json(config, json, Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("provider: {e}"))
        .with_nonce_source(|| NONCE.to_owned())
}

pub fn fixture_provider(base_url: &str, sign_type: SignType) -> WechatV2Provider {
    let config = V2Config {
        base_url: base_url.to_owned(),
        ..V2Config::default()
    };
    provider_for(
        &config,
        &creds_json(MCH_ID, APPID, KEY, sign_type, &[]),
        &ManualClock::at_unix(NOW_UNIX),
    )
}

/// Signs `fields` with the fixture key and encodes them.
pub fn signed_xml(mut fields: Fields, key: &str, t: SignType) -> String {
    let sig = sign(&fields, &ApiKey::new(key), t);
    fields.insert("sign".into(), sig);
    xml::encode(&fields)
}

/// A successful, signed response envelope for the fixture merchant plus `extra` fields.
pub fn ok_response(extra: &[(&str, &str)], t: SignType) -> String {
    let mut fields = f(&[
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("result_code", "SUCCESS"),
    ]);
    for (k, v) in extra {
        fields.insert((*k).to_owned(), (*v).to_owned());
    }
    signed_xml(fields, KEY, t)
}
