//! Known-answer vectors of the protocol reference §5.1–5.2 (loaded from
//! `fixtures/wechatpay/test-vectors.json`), each at the level of the public function a caller
//! uses: `sign`/`verify`, the provider's `request_payment`, `parse_notification`, a
//! unifiedorder served by a stub, `decrypt_req_info`.

use std::sync::Arc;

use paygate_core::{
    AppId, ManualClock, Notification, NotificationKind, NotificationRequest, OpenId, PaySignType,
    Prepay, PrepayId, Provider, RefundState, TradeState, VerifyFailure,
};
use paygate_wechat_v2::refund_notify::{decrypt_req_info, encrypt_req_info};
use paygate_wechat_v2::sign::{ApiKey, SignType, sign, string_to_sign, verify};
use paygate_wechat_v2::xml::{self};
use paygate_wechat_v2::{V2Config, WechatV2Provider};
use time::macros::datetime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

#[test]
fn v2_sign_official_md5_and_hmac() {
    let v = vector("v2_sign_official");
    let key = ApiKey::new(s(&v["key"]));
    let f = fields_of(&v["fields"]);
    assert_eq!(
        string_to_sign(&f, &key),
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
    );
    assert_eq!(sign(&f, &key, SignType::Md5), s(&v["md5"]));
    assert_eq!(sign(&f, &key, SignType::HmacSha256), s(&v["hmac_sha256"]));

    let mut signed = f.clone();
    signed.insert("sign".into(), s(&v["md5"]).to_owned());
    assert_eq!(verify(&signed, &key, SignType::Md5), Ok(()));
    assert_eq!(
        verify(&signed, &key, SignType::HmacSha256),
        Err(VerifyFailure::BadSignature)
    );
    signed.insert("sign".into(), s(&v["hmac_sha256"]).to_owned());
    assert_eq!(verify(&signed, &key, SignType::HmacSha256), Ok(()));
}

#[test]
fn v2_sign_wechatpy() {
    let v = vector("v2_sign_wechatpy");
    let key = ApiKey::new(s(&v["key"]));
    let f = fields_of(&v["fields"]);
    assert_eq!(sign(&f, &key, SignType::Md5), s(&v["md5"]));
    assert_eq!(sign(&f, &key, SignType::HmacSha256), s(&v["hmac_sha256"]));
}

/// V2-PAYSIGN-OFFICIAL through `Provider::request_payment`, time and nonce pinned by seams.
#[test]
fn v2_paysign_official_via_provider() {
    let v = vector("v2_paysign_official");
    let fields = &v["fields"];
    let clock = ManualClock::at_unix(parse::<i64>(s(&fields["timeStamp"])));
    let appid: AppId = parse(s(&fields["appId"]));
    let prepay: PrepayId = parse(s(&fields["package"]).trim_start_matches("prepay_id="));
    for (t, want) in [
        (SignType::Md5, s(&v["paySign"])),
        (
            SignType::HmacSha256,
            s(&v["paySign_if_signType_HMAC-SHA256"]),
        ),
    ] {
        let json = creds_json("1230000109", appid.as_str(), s(&v["key"]), t, &[]);
        let nonce = s(&fields["nonceStr"]).to_owned();
        let provider =
            WechatV2Provider::from_json(&V2Config::default(), &json, Arc::new(clock.clone()))
                .unwrap_or_else(|e| panic!("{e}"))
                .with_nonce_source(move || nonce.clone());
        let rp = provider
            .request_payment(&appid, &prepay)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rp.app_id, appid);
        assert_eq!(rp.time_stamp, s(&fields["timeStamp"]));
        assert_eq!(rp.nonce_str, s(&fields["nonceStr"]));
        assert_eq!(rp.package, s(&fields["package"]));
        assert_eq!(rp.sign_type, t.pay_sign_type());
        assert_eq!(rp.pay_sign, want, "{t}");
        assert_eq!(
            paygate_wechat_v2::pay_sign::verify_request_payment(&rp, &ApiKey::new(s(&v["key"]))),
            Ok(())
        );
    }
    let json = serde_json::to_value(PaySignType::HmacSha256).unwrap_or_default();
    assert_eq!(json, "HMAC-SHA256");
}

fn notify_provider(t: SignType) -> WechatV2Provider {
    fixture_provider("http://127.0.0.1:9", t)
}

async fn parse_payment(
    p: &WechatV2Provider,
    body: String,
) -> Result<Notification, paygate_core::ProviderError> {
    let req = NotificationRequest {
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.into_bytes(),
    };
    p.parse_notification(NotificationKind::Payment, &req).await
}

/// V2-NOTIFY-FIXTURE: the XML as WeChat would send it, through `parse_notification`.
#[tokio::test]
async fn v2_notify_fixture_md5_normalises() {
    let v = vector("v2_notify_fixture");
    assert_eq!(s(&v["key"]), KEY);
    let mut fields = fields_of(&v["fields"]);
    assert_eq!(
        sign(&fields, &ApiKey::new(KEY), SignType::Md5),
        s(&v["md5"])
    );
    fields.insert("sign".into(), s(&v["md5"]).to_owned());
    let body = xml::encode(&fields);

    let got = parse_payment(&notify_provider(SignType::Md5), body)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Notification::Payment(ev) = got else {
        panic!("not a payment: {got:?}")
    };
    assert_eq!(ev.event_id, "1004400740201409030005092168");
    let p = ev.payment;
    assert_eq!(p.appid.as_str(), "wx2421b1c4370ec43b");
    assert_eq!(p.mch_id.as_str(), "10000100");
    assert_eq!(p.out_trade_no.as_str(), "1409811653");
    assert_eq!(
        p.transaction_id.map(|t| t.into_string()).as_deref(),
        Some("1004400740201409030005092168")
    );
    assert_eq!(p.trade_state, TradeState::Success);
    assert_eq!(p.total, Some(fen(1)));
    assert_eq!(p.payer_total, Some(fen(1)));
    assert_eq!(
        p.payer,
        Some(parse::<OpenId>("oUpF8uMEb4qRXf22hE3X68TekukE"))
    );
    assert_eq!(p.success_time, Some(datetime!(2014-09-03 13:15:40 +8)));
    assert_eq!(p.attach.as_deref(), Some("支付测试"));
}

/// The HMAC variant carries `sign_type`, which decides even for an MD5-configured channel.
#[tokio::test]
async fn v2_notify_fixture_hmac_with_sign_type_field() {
    let v = vector("v2_notify_fixture");
    let mut fields = fields_of(&v["fields"]);
    fields.insert("sign_type".into(), "HMAC-SHA256".into());
    fields.insert(
        "sign".into(),
        s(&v["hmac_sha256_with_sign_type_field"]).to_owned(),
    );
    let body = xml::encode(&fields);
    for configured in [SignType::Md5, SignType::HmacSha256] {
        let got = parse_payment(&notify_provider(configured), body.clone()).await;
        assert!(
            matches!(got, Ok(Notification::Payment(_))),
            "{configured}: {got:?}"
        );
    }
    // The sign_type field is signed: claiming MD5 for an HMAC signature fails.
    fields.insert("sign_type".into(), "MD5".into());
    let got = parse_payment(&notify_provider(SignType::HmacSha256), xml::encode(&fields)).await;
    assert_eq!(
        got.err(),
        Some(paygate_core::ProviderError::Verification(
            VerifyFailure::BadSignature
        ))
    );
}

/// V2-RESPONSE-FIXTURE: served verbatim (with its precomputed sign) by a stub, accepted.
#[tokio::test]
async fn v2_response_fixture_is_accepted_from_a_stub() {
    let v: serde_json::Value = serde_json::from_str(RESPONSE_FIXTURE).unwrap_or_default();
    let mut fields = fields_of(&v["fields"]);
    fields.insert("sign".into(), s(&v["md5"]).to_owned());
    // Pretty-printed like WeChat's own answers: one element per line, CDATA mixed with text.
    let mut body = String::from("<xml>\n");
    for (k, val) in &fields {
        body.push_str(&format!("  <{k}><![CDATA[{val}]]></{k}>\n"));
    }
    body.push_str("</xml>\n");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/pay/unifiedorder"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .expect(1)
        .mount(&server)
        .await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let prepay = provider
        .create_payment(paygate_core::CreatePayment {
            time_expire: None,
            ..crate::client::jsapi_request()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Prepay::Jsapi {
        prepay_id,
        expires_at,
    } = prepay
    else {
        panic!("not JSAPI: {prepay:?}")
    };
    assert_eq!(prepay_id.as_str(), "wx201411101639507cbf6ffd8b0779950874");
    // Two hours from the (manual) clock.
    assert_eq!(expires_at.unix_timestamp(), NOW_UNIX + 7200);
}

#[test]
fn v2_refund_req_info_decrypts_to_the_exact_fields() {
    let v = vector("v2_refund_req_info");
    let key = ApiKey::new(s(&v["api_key"]));
    let got = decrypt_req_info(s(&v["req_info"]), &key).unwrap_or_else(|e| panic!("{e}"));
    for (k, want) in fields_of(&v["expect"]) {
        assert_eq!(got.get(&k), Some(&want), "{k}");
    }
    // The reference lists every decrypted field (§5.2); nothing more, nothing less.
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "out_refund_no",
            "out_trade_no",
            "refund_account",
            "refund_fee",
            "refund_id",
            "refund_recv_accout",
            "refund_request_source",
            "refund_status",
            "settlement_refund_fee",
            "settlement_total_fee",
            "success_time",
            "total_fee",
            "transaction_id"
        ]
    );
    assert_eq!(got["refund_account"], "REFUND_SOURCE_RECHARGE_FUNDS");
    assert_eq!(got["refund_request_source"], "API");

    // Our encryption is decryptable by the same rule (the simulator relies on it).
    let again = encrypt_req_info(&got, &key);
    assert_eq!(decrypt_req_info(&again, &key).as_ref(), Ok(&got));
}

/// V2-REFUND-REQINFO through `parse_notification`: the outer XML of the wechatpy test.
#[tokio::test]
async fn v2_refund_notification_normalises() {
    let v = vector("v2_refund_req_info");
    let outer = f(&[
        ("return_code", "SUCCESS"),
        ("appid", "wx4f4bc4dec97d474b"),
        ("mch_id", "12345678"),
        ("nonce_str", "c1c237efc87ee8dfcb3f9124b63a4d94"),
        ("req_info", s(&v["req_info"])),
    ]);
    let json = creds_json(
        "12345678",
        "wx4f4bc4dec97d474b",
        s(&v["api_key"]),
        SignType::Md5,
        &[],
    );
    let provider = provider_for(&V2Config::default(), &json, &ManualClock::at_unix(NOW_UNIX));
    let req = NotificationRequest {
        headers: vec![],
        body: xml::encode(&outer).into_bytes(),
    };
    let got = provider
        .parse_notification(NotificationKind::Refund, &req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Notification::Refund(ev) = got else {
        panic!("not a refund: {got:?}")
    };
    assert_eq!(ev.mch_id.as_str(), "12345678");
    assert_eq!(ev.event_id, "50300103182020010413419046597:SUCCESS");
    let r = ev.refund;
    assert_eq!(r.out_refund_no.as_str(), "1234");
    assert_eq!(
        r.refund_id.map(|x| x.into_string()).as_deref(),
        Some("50300103182020010413419046597")
    );
    assert_eq!(
        r.out_trade_no.map(|x| x.into_string()).as_deref(),
        Some("2020010418301551404339261814")
    );
    assert_eq!(
        r.transaction_id.map(|x| x.into_string()).as_deref(),
        Some("4200000483202001042069747825")
    );
    assert_eq!(r.state, RefundState::Success);
    assert_eq!(r.refund, Some(fen(1)));
    assert_eq!(r.total, Some(fen(1)));
    assert_eq!(r.success_time, Some(datetime!(2020-01-04 18:34:24 +8)));
}
