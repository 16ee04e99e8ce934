//! Notification negatives and the reply: tampering, wrong keys, missing signs, non-integer
//! amounts, another merchant's notifications, refund states.

use paygate_core::{
    ManualClock, Notification, NotificationKind, NotificationOutcome, NotificationRequest,
    Provider, ProviderError, RefundState, VerifyFailure,
};
use paygate_wechat_v2::V2Config;
use paygate_wechat_v2::refund_notify::encrypt_req_info;
use paygate_wechat_v2::sign::{ApiKey, SignType};
use paygate_wechat_v2::xml::{self, Fields};

use crate::common::*;

fn notify_fields() -> Fields {
    fields_of(&vector("v2_notify_fixture")["fields"])
}

async fn parse_with(
    t: SignType,
    kind: NotificationKind,
    body: String,
) -> Result<Notification, ProviderError> {
    let p = fixture_provider("http://127.0.0.1:9", t);
    p.parse_notification(
        kind,
        &NotificationRequest {
            headers: vec![],
            body: body.into_bytes(),
        },
    )
    .await
}

#[tokio::test]
async fn payment_notification_negatives() {
    let good = signed_xml(notify_fields(), KEY, SignType::Md5);
    assert!(
        parse_with(SignType::Md5, NotificationKind::Payment, good.clone())
            .await
            .is_ok()
    );

    let tampered = good.replace("<total_fee><![CDATA[1]]>", "<total_fee><![CDATA[100]]>");
    assert_ne!(tampered, good);
    let wrong_key = signed_xml(
        notify_fields(),
        "00000000000000000000000000000000",
        SignType::Md5,
    );
    let unsigned = xml::encode(&notify_fields());
    let mut lower = notify_fields();
    lower.insert("sign_type".into(), "md5".into());
    let lowercase_type = signed_xml(lower, KEY, SignType::Md5);
    for (name, body, want) in [
        ("tampered", tampered, VerifyFailure::BadSignature),
        ("wrong key", wrong_key, VerifyFailure::BadSignature),
        ("missing sign", unsigned, VerifyFailure::Missing),
        ("sign_type md5", lowercase_type, VerifyFailure::BadSignature),
    ] {
        let got = parse_with(SignType::Md5, NotificationKind::Payment, body).await;
        assert_eq!(got.err(), Some(ProviderError::Verification(want)), "{name}");
    }
}

#[tokio::test]
async fn amounts_must_be_integer_fen() {
    for bad in ["1.00", "-1", "abc", " 1", "1e2"] {
        let mut fields = notify_fields();
        fields.insert("total_fee".into(), bad.into());
        let got = parse_with(
            SignType::Md5,
            NotificationKind::Payment,
            signed_xml(fields, KEY, SignType::Md5),
        )
        .await;
        assert!(
            matches!(&got, Err(ProviderError::Malformed(m)) if m.starts_with("total_fee")),
            "{bad}: {got:?}"
        );
    }
    let mut fields = notify_fields();
    fields.remove("total_fee");
    let got = parse_with(
        SignType::Md5,
        NotificationKind::Payment,
        signed_xml(fields, KEY, SignType::Md5),
    )
    .await;
    assert!(matches!(got, Err(ProviderError::Malformed(_))), "{got:?}");
}

#[tokio::test]
async fn g10_without_sign_type_the_other_algorithm_is_accepted_with_the_same_key() {
    // HMAC-signed, no sign_type field, channel configured MD5 (and the reverse).
    for (signed_with, configured) in [
        (SignType::HmacSha256, SignType::Md5),
        (SignType::Md5, SignType::HmacSha256),
    ] {
        let body = signed_xml(notify_fields(), KEY, signed_with);
        let got = parse_with(configured, NotificationKind::Payment, body).await;
        assert!(
            got.is_ok(),
            "{signed_with} on a {configured} channel: {got:?}"
        );
    }
    let body = signed_xml(
        notify_fields(),
        "00000000000000000000000000000000",
        SignType::HmacSha256,
    );
    let got = parse_with(SignType::Md5, NotificationKind::Payment, body).await;
    assert_eq!(
        got.err(),
        Some(ProviderError::Verification(VerifyFailure::BadSignature))
    );
}

#[tokio::test]
async fn another_merchants_notification_is_refused_even_when_signed() {
    let mut fields = notify_fields();
    fields.insert("mch_id".into(), "10000101".into());
    let got = parse_with(
        SignType::Md5,
        NotificationKind::Payment,
        signed_xml(fields, KEY, SignType::Md5),
    )
    .await;
    assert!(
        matches!(&got, Err(ProviderError::Malformed(m)) if m.contains("mch_id")),
        "{got:?}"
    );
    let mut fields = notify_fields();
    fields.insert("appid".into(), "wxd678efh567hg6787".into());
    let got = parse_with(
        SignType::Md5,
        NotificationKind::Payment,
        signed_xml(fields, KEY, SignType::Md5),
    )
    .await;
    assert!(
        matches!(&got, Err(ProviderError::Malformed(m)) if m.contains("appid")),
        "{got:?}"
    );
}

#[tokio::test]
async fn hostile_notification_bodies_are_refused() {
    let doctype = format!(
        "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        signed_xml(notify_fields(), KEY, SignType::Md5)
    );
    let got = parse_with(SignType::Md5, NotificationKind::Payment, doctype).await;
    assert!(
        matches!(got, Err(ProviderError::Malformed(ref m)) if m.contains("DOCTYPE")),
        "{got:?}"
    );
    let got = parse_with(SignType::Md5, NotificationKind::Payment, "not xml <".into()).await;
    assert!(matches!(got, Err(ProviderError::Malformed(_))), "{got:?}");
}

fn refund_inner(status: &str) -> Fields {
    f(&[
        ("out_refund_no", "R20240101"),
        ("out_trade_no", "1409811653"),
        ("refund_fee", "50"),
        ("total_fee", "100"),
        ("refund_id", "50300103182020010413419046597"),
        ("transaction_id", "1004400740201409030005092168"),
        ("refund_status", status),
        ("success_time", "2024-01-01 12:00:00"),
        ("refund_recv_accout", "支付用户零钱"),
    ])
}

fn refund_outer(mch_id: &str, appid: &str, req_info: &str) -> String {
    xml::encode(&f(&[
        ("return_code", "SUCCESS"),
        ("appid", appid),
        ("mch_id", mch_id),
        ("nonce_str", "n"),
        ("req_info", req_info),
    ]))
}

#[tokio::test]
async fn refund_notification_states_and_channel_checks() {
    let key = ApiKey::new(KEY);
    for (raw, want) in [
        ("SUCCESS", RefundState::Success),
        ("CHANGE", RefundState::Abnormal),
        ("REFUNDCLOSE", RefundState::Closed),
    ] {
        let body = refund_outer(MCH_ID, APPID, &encrypt_req_info(&refund_inner(raw), &key));
        let got = parse_with(SignType::Md5, NotificationKind::Refund, body).await;
        let Ok(Notification::Refund(ev)) = got else {
            panic!("{raw}: {got:?}")
        };
        assert_eq!(ev.refund.state, want);
        assert_eq!(ev.refund.refund, Some(fen(50)));
        assert_eq!(
            ev.event_id,
            format!("50300103182020010413419046597:{}", want.as_str())
        );
    }
    let good = encrypt_req_info(&refund_inner("SUCCESS"), &key);
    // Another merchant's / app's notification is refused before decryption.
    for (mch, app) in [("10000101", APPID), (MCH_ID, "wxd678efh567hg6787")] {
        let got = parse_with(
            SignType::Md5,
            NotificationKind::Refund,
            refund_outer(mch, app, &good),
        )
        .await;
        assert!(
            matches!(got, Err(ProviderError::Malformed(_))),
            "{mch} {app}: {got:?}"
        );
    }
    // Encrypted under another key → a verification failure.
    let foreign = encrypt_req_info(
        &refund_inner("SUCCESS"),
        &ApiKey::new("OF4Ne3znh8KqL0V4NqmALQa0uXMYKcEk"),
    );
    let got = parse_with(
        SignType::Md5,
        NotificationKind::Refund,
        refund_outer(MCH_ID, APPID, &foreign),
    )
    .await;
    assert_eq!(
        got.err(),
        Some(ProviderError::Verification(VerifyFailure::Decrypt))
    );
    // Not base64, and a truncated ciphertext.
    for bad in ["%%%".to_owned(), good[..good.len() - 8].to_owned()] {
        let got = parse_with(
            SignType::Md5,
            NotificationKind::Refund,
            refund_outer(MCH_ID, APPID, &bad),
        )
        .await;
        assert!(
            matches!(
                got,
                Err(ProviderError::Malformed(_) | ProviderError::Verification(_))
            ),
            "{got:?}"
        );
    }
    // A refund amount that is not integer fen.
    let mut inner = refund_inner("SUCCESS");
    inner.insert("refund_fee".into(), "0.50".into());
    let body = refund_outer(MCH_ID, APPID, &encrypt_req_info(&inner, &key));
    let got = parse_with(SignType::Md5, NotificationKind::Refund, body).await;
    assert!(
        matches!(&got, Err(ProviderError::Malformed(m)) if m.starts_with("refund_fee")),
        "{got:?}"
    );
}

#[test]
fn replies_are_http_200_xml() {
    let p = provider_for(
        &V2Config::default(),
        &creds_json(MCH_ID, APPID, KEY, SignType::Md5, &[]),
        &ManualClock::at_unix(0),
    );
    let done = p.notification_reply(&NotificationOutcome::Done);
    assert_eq!(done.status, 200);
    assert!(done.content_type.starts_with("text/xml"));
    assert_eq!(
        String::from_utf8_lossy(&done.body),
        "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    );
    let retry = p.notification_reply(&NotificationOutcome::Retry {
        message: "数据库繁忙".into(),
    });
    assert_eq!(
        retry.status, 200,
        "FAIL is said in the body, never with a status"
    );
    assert_eq!(
        xml::decode(&retry.body),
        Ok(f(&[("return_code", "FAIL"), ("return_msg", "数据库繁忙")]))
    );
}
