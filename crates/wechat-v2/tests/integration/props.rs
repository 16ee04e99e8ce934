//! Property tests: sign/verify and encode/decode round trips over arbitrary Unicode values,
//! with `]]>`, `&`, `<`, `\r` and Chinese text mixed in on purpose.

use paygate_core::VerifyFailure;
use paygate_wechat_v2::sign::{ApiKey, SignType, sign, verify};
use paygate_wechat_v2::xml::{Fields, decode, encode};
use proptest::prelude::*;

/// Values: arbitrary Unicode (NUL cannot exist in XML at all) interleaved with the
/// characters that break naive XML writers.
fn value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[^\u{0}]{0,12}",
        Just("]]>".to_owned()),
        Just("]]".to_owned()),
        Just("&amp;".to_owned()),
        Just("&".to_owned()),
        Just("<".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("\r\n".to_owned()),
        Just("支付测试".to_owned()),
        Just(" ".to_owned()),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

fn fields() -> impl Strategy<Value = Fields> {
    prop::collection::btree_map("[a-z][a-z0-9_]{0,15}", value(), 0..8).prop_map(|mut m| {
        m.remove("sign");
        m
    })
}

fn sign_type() -> impl Strategy<Value = SignType> {
    prop_oneof![Just(SignType::Md5), Just(SignType::HmacSha256)]
}

proptest! {
    #[test]
    fn xml_round_trips(f in fields()) {
        prop_assert_eq!(decode(encode(&f).as_bytes()), Ok(f));
    }

    #[test]
    fn signatures_survive_the_wire(mut f in fields(), t in sign_type(), key in "[0-9A-Za-z]{32}") {
        let key = ApiKey::new(key);
        let s = sign(&f, &key, t);
        prop_assert_eq!(s.len(), if t == SignType::Md5 { 32 } else { 64 });
        prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        f.insert("sign".into(), s);
        let received = decode(encode(&f).as_bytes()).unwrap_or_default();
        prop_assert_eq!(verify(&received, &key, t), Ok(()));
    }

    #[test]
    fn any_change_to_a_signed_value_is_detected(
        mut f in fields(), t in sign_type(), extra in "[^\u{0}]{1,8}",
    ) {
        let key = ApiKey::new("192006250b4c09247ec02edce69f6a2d");
        let name = f.keys().find(|k| !f[*k].is_empty()).cloned();
        prop_assume!(name.is_some());
        let name = name.unwrap_or_default();
        let s = sign(&f, &key, t);
        f.insert("sign".into(), s);
        let changed = format!("{}{}", f[&name], extra);
        f.insert(name, changed);
        prop_assert_eq!(verify(&f, &key, t), Err(VerifyFailure::BadSignature));
    }

    #[test]
    fn empty_fields_do_not_change_the_signature(f in fields(), t in sign_type(), name in "[a-z]{1,8}") {
        let key = ApiKey::new("192006250b4c09247ec02edce69f6a2d");
        let mut with_empty = f.clone();
        with_empty.entry(name).or_default();
        if with_empty.len() > f.len() {
            prop_assert_eq!(sign(&with_empty, &key, t), sign(&f, &key, t));
        }
    }
}

#[test]
fn a_different_key_fails() {
    let mut f: Fields = [("a".to_owned(), "1".to_owned())].into();
    let s = sign(&f, &ApiKey::new("k1"), SignType::Md5);
    f.insert("sign".into(), s);
    assert_eq!(
        verify(&f, &ApiKey::new("k2"), SignType::Md5),
        Err(VerifyFailure::BadSignature)
    );
    f.insert("sign".into(), String::new());
    assert_eq!(
        verify(&f, &ApiKey::new("k1"), SignType::Md5),
        Err(VerifyFailure::Missing)
    );
}
