//! The provider against a local HTTP stub (wiremock): the exact request sent (path, XML
//! fields, signature checked with the key) and every documented error mapping.

use std::time::Duration;

use paygate_core::{
    CreatePayment, NotifyUrl, OutRefundNo, OutTradeNo, PaymentRef, Prepay, Provider, ProviderError,
    RefundState, TradeState, TradeType, VerifyFailure,
};
use paygate_wechat_v2::sign::{ApiKey, SignType, verify};
use paygate_wechat_v2::xml::{self, Fields};
use paygate_wechat_v2::{V2Config, WechatV2Provider};
use time::macros::datetime;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

pub fn jsapi_request() -> CreatePayment {
    CreatePayment {
        appid: parse(APPID),
        out_trade_no: parse("1409811653"),
        description: "腾讯充值中心-QQ会员充值".into(),
        amount: fen(888),
        attach: Some("支付测试".into()),
        trade_type: TradeType::Jsapi {
            payer: parse("oUpF8uMEb4qRXf22hE3X68TekukE"),
        },
        payer_client_ip: parse("203.0.113.7"),
        time_expire: Some(datetime!(2014-09-03 06:15:40 UTC)),
        notify_url: parse::<NotifyUrl>("https://pay.example.com/notify/ch_1/payment"),
    }
}

async fn stub(route: &str, body: String) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/xml")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    server
}

/// The one request the stub received, decoded, with its signature checked.
async fn sent(server: &MockServer, t: SignType) -> Fields {
    let reqs = server.received_requests().await.unwrap_or_default();
    assert_eq!(reqs.len(), 1, "exactly one request");
    let fields = xml::decode(&reqs[0].body).unwrap_or_else(|e| panic!("request XML: {e}"));
    assert_eq!(
        verify(&fields, &ApiKey::new(KEY), t),
        Ok(()),
        "request signature"
    );
    assert_eq!(fields["appid"], APPID);
    assert_eq!(fields["mch_id"], MCH_ID);
    assert_eq!(fields["nonce_str"], NONCE);
    assert_eq!(fields["sign_type"], t.as_str());
    fields
}

#[tokio::test]
async fn unifiedorder_jsapi_sends_exactly_the_documented_fields() {
    for t in [SignType::Md5, SignType::HmacSha256] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/pay/unifiedorder"))
            .and(header("content-type", "text/xml; charset=utf-8"))
            .respond_with(ResponseTemplate::new(200).set_body_string(ok_response(
                &[
                    ("trade_type", "JSAPI"),
                    ("prepay_id", "wx201411101639507cbf6ffd8b0779950874"),
                ],
                t,
            )))
            .expect(1)
            .mount(&server)
            .await;
        let provider = fixture_provider(&server.uri(), t);
        let prepay = provider
            .create_payment(jsapi_request())
            .await
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        // time_expire (14:15:40 Beijing) is earlier than now + 2 h, so it bounds the prepay.
        assert_eq!(
            prepay,
            Prepay::Jsapi {
                prepay_id: parse("wx201411101639507cbf6ffd8b0779950874"),
                expires_at: datetime!(2014-09-03 06:15:40 UTC),
            }
        );
        let got = sent(&server, t).await;
        let mut expected = f(&[
            ("appid", APPID),
            ("attach", "支付测试"),
            ("body", "腾讯充值中心-QQ会员充值"),
            ("fee_type", "CNY"),
            ("mch_id", MCH_ID),
            ("nonce_str", NONCE),
            ("notify_url", "https://pay.example.com/notify/ch_1/payment"),
            ("openid", "oUpF8uMEb4qRXf22hE3X68TekukE"),
            ("out_trade_no", "1409811653"),
            ("sign_type", t.as_str()),
            ("spbill_create_ip", "203.0.113.7"),
            ("time_expire", "20140903141540"),
            ("total_fee", "888"),
            ("trade_type", "JSAPI"),
        ]);
        expected.insert("sign".into(), got["sign"].clone());
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn unifiedorder_native_sends_product_id_and_returns_code_url() {
    let server = stub(
        "/pay/unifiedorder",
        ok_response(
            &[
                ("trade_type", "NATIVE"),
                ("code_url", "weixin://wxpay/bizpayurl?pr=abc123"),
            ],
            SignType::Md5,
        ),
    )
    .await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let req = CreatePayment {
        trade_type: TradeType::Native,
        time_expire: None,
        attach: None,
        ..jsapi_request()
    };
    let prepay = provider
        .create_payment(req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        prepay,
        Prepay::Native {
            code_url: "weixin://wxpay/bizpayurl?pr=abc123".into(),
            expires_at: datetime!(2014-09-03 07:15:40 UTC),
        }
    );
    let got = sent(&server, SignType::Md5).await;
    assert_eq!(got["trade_type"], "NATIVE");
    assert_eq!(got["product_id"], "1409811653");
    assert!(
        !got.contains_key("openid")
            && !got.contains_key("time_expire")
            && !got.contains_key("attach")
    );
}

#[tokio::test]
async fn orderquery_maps_the_payment() {
    let server = stub(
        "/pay/orderquery",
        ok_response(
            &[
                ("trade_state", "SUCCESS"),
                ("out_trade_no", "1409811653"),
                ("transaction_id", "1004400740201409030005092168"),
                ("total_fee", "888"),
                ("cash_fee", "800"),
                ("openid", "oUpF8uMEb4qRXf22hE3X68TekukE"),
                ("time_end", "20140903131540"),
                ("trade_state_desc", "支付成功"),
                ("coupon_fee_0", "88"),
            ],
            SignType::Md5,
        ),
    )
    .await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let status = provider
        .query_payment(&PaymentRef::OutTradeNo(parse("1409811653")))
        .await;
    let status = status.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.trade_state, TradeState::Success);
    assert_eq!(status.total, Some(fen(888)));
    assert_eq!(status.payer_total, Some(fen(800)));
    assert_eq!(
        status.success_time,
        Some(datetime!(2014-09-03 05:15:40 UTC))
    );
    let got = sent(&server, SignType::Md5).await;
    assert_eq!(got["out_trade_no"], "1409811653");
    assert!(!got.contains_key("transaction_id"));

    let server = stub(
        "/pay/orderquery",
        ok_response(
            &[("trade_state", "NOTPAY"), ("out_trade_no", "1409811653")],
            SignType::Md5,
        ),
    )
    .await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let by = PaymentRef::TransactionId(parse("1004400740201409030005092168"));
    let status = provider
        .query_payment(&by)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (status.trade_state, status.total, status.transaction_id),
        (TradeState::NotPay, None, None)
    );
    assert_eq!(
        sent(&server, SignType::Md5).await["transaction_id"],
        "1004400740201409030005092168"
    );
}

#[tokio::test]
async fn orderquery_rejects_non_integer_amounts() {
    for bad in ["1.00", "-1", "abc"] {
        let server = stub(
            "/pay/orderquery",
            ok_response(
                &[
                    ("trade_state", "SUCCESS"),
                    ("out_trade_no", "1409811653"),
                    ("total_fee", bad),
                ],
                SignType::Md5,
            ),
        )
        .await;
        let provider = fixture_provider(&server.uri(), SignType::Md5);
        let got = provider
            .query_payment(&PaymentRef::OutTradeNo(parse("1409811653")))
            .await;
        assert!(
            matches!(&got, Err(ProviderError::Malformed(m)) if m.starts_with("total_fee")),
            "{bad}: {got:?}"
        );
    }
}

#[tokio::test]
async fn closeorder_and_refundquery() {
    let server = stub("/pay/closeorder", ok_response(&[], SignType::Md5)).await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let no: OutTradeNo = parse("1409811653");
    assert_eq!(provider.close_payment(&no).await, Ok(()));
    assert_eq!(
        sent(&server, SignType::Md5).await["out_trade_no"],
        "1409811653"
    );

    let server = stub(
        "/pay/refundquery",
        ok_response(
            &[
                ("out_trade_no", "1409811653"),
                ("total_fee", "888"),
                ("refund_count", "2"),
                ("out_refund_no_0", "R1"),
                ("refund_status_0", "SUCCESS"),
                ("refund_fee_0", "100"),
                ("out_refund_no_1", "R2"),
                ("refund_id_1", "50000000382019052709732678859"),
                ("refund_status_1", "CHANGE"),
                ("refund_fee_1", "200"),
                ("refund_success_time_1", "2019-05-27 15:06:00"),
            ],
            SignType::Md5,
        ),
    )
    .await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let r = provider
        .query_refund(&parse::<OutRefundNo>("R2"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.state, RefundState::Abnormal);
    assert_eq!(r.refund, Some(fen(200)));
    assert_eq!(r.total, Some(fen(888)));
    assert_eq!(
        r.refund_id.map(|x| x.into_string()).as_deref(),
        Some("50000000382019052709732678859")
    );
    assert_eq!(r.success_time, Some(datetime!(2019-05-27 15:06:00 +8)));
    assert_eq!(sent(&server, SignType::Md5).await["out_refund_no"], "R2");
    // A refund number the answer does not list is not found.
    let missing = provider.query_refund(&parse::<OutRefundNo>("R3")).await;
    assert_eq!(missing, Err(ProviderError::RefundNotFound));
}

fn fail_response(err_code: &str) -> String {
    let fields = f(&[
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "x"),
        ("result_code", "FAIL"),
        ("err_code", err_code),
        ("err_code_des", "描述"),
    ]);
    signed_xml(fields, KEY, SignType::Md5)
}

/// Every documented err_code, through a real call.
#[tokio::test]
async fn err_codes_map_to_typed_errors() {
    let auth = |code: &str| ProviderError::UpstreamAuth {
        code: code.into(),
        message: "描述".into(),
    };
    let cases: Vec<(&str, ProviderError)> = vec![
        (
            "SYSTEMERROR",
            ProviderError::Unavailable {
                code: "SYSTEMERROR".into(),
                message: "描述".into(),
            },
        ),
        (
            "BIZERR_NEED_RETRY",
            ProviderError::Unavailable {
                code: "BIZERR_NEED_RETRY".into(),
                message: "描述".into(),
            },
        ),
        ("ORDERPAID", ProviderError::OrderPaid),
        ("ORDERCLOSED", ProviderError::OrderClosed),
        ("ORDERNOTEXIST", ProviderError::OrderNotFound),
        ("REFUNDNOTEXIST", ProviderError::RefundNotFound),
        ("OUT_TRADE_NO_USED", ProviderError::OutTradeNoUsed),
        ("NOTENOUGH", ProviderError::InsufficientBalance),
        ("SIGNERROR", auth("SIGNERROR")),
        ("NOAUTH", auth("NOAUTH")),
        ("APPID_MCHID_NOT_MATCH", auth("APPID_MCHID_NOT_MATCH")),
        ("MCHID_NOT_EXIST", auth("MCHID_NOT_EXIST")),
        ("APPID_NOT_EXIST", auth("APPID_NOT_EXIST")),
        (
            "FREQUENCY_LIMITED",
            ProviderError::RateLimited {
                query_before_retry: false,
            },
        ),
        (
            "INVALID_REQ_TOO_MUCH",
            ProviderError::RateLimited {
                query_before_retry: false,
            },
        ),
        (
            "PARAM_ERROR",
            ProviderError::Rejected {
                code: "PARAM_ERROR".into(),
                message: "描述".into(),
            },
        ),
        (
            "TRADE_OVERDUE",
            ProviderError::Rejected {
                code: "TRADE_OVERDUE".into(),
                message: "描述".into(),
            },
        ),
    ];
    for (code, want) in cases {
        let server = stub("/pay/unifiedorder", fail_response(code)).await;
        let provider = fixture_provider(&server.uri(), SignType::Md5);
        let got = provider.create_payment(jsapi_request()).await;
        assert_eq!(got.as_ref().err(), Some(&want), "{code}");
        assert_eq!(
            want.is_retryable(),
            matches!(
                code,
                "SYSTEMERROR" | "BIZERR_NEED_RETRY" | "FREQUENCY_LIMITED" | "INVALID_REQ_TOO_MUCH"
            ),
            "{code}"
        );
    }
    // ORDERPAID is "already paid", not a failure code.
    assert_eq!(ProviderError::OrderPaid.code(), "order_already_paid");
}

#[tokio::test]
async fn return_code_fail_maps_by_message() {
    for (msg, want_auth) in [
        ("签名错误", true),
        ("XML格式错误", false),
        ("invalid sign", true),
        ("参数格式校验错误", false),
    ] {
        let body = xml::encode(&f(&[("return_code", "FAIL"), ("return_msg", msg)]));
        let server = stub("/pay/closeorder", body).await;
        let provider = fixture_provider(&server.uri(), SignType::Md5);
        let got = provider.close_payment(&parse("1409811653")).await.err();
        let want = if want_auth {
            ProviderError::UpstreamAuth {
                code: "FAIL".into(),
                message: msg.into(),
            }
        } else {
            ProviderError::Rejected {
                code: "FAIL".into(),
                message: msg.into(),
            }
        };
        assert_eq!(got, Some(want), "{msg}");
    }
}

#[tokio::test]
async fn responses_are_verified_before_use() {
    // Tampered: signed, then the prepay id swapped.
    let tampered = ok_response(
        &[("trade_type", "JSAPI"), ("prepay_id", "wx1")],
        SignType::Md5,
    )
    .replace("wx1", "wx2");
    // Signed with another key.
    let mut fields = f(&[
        ("return_code", "SUCCESS"),
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("result_code", "SUCCESS"),
        ("prepay_id", "wx1"),
    ]);
    let wrong_key = signed_xml(
        fields.clone(),
        "00000000000000000000000000000000",
        SignType::Md5,
    );
    // No sign at all.
    fields.insert("trade_type".into(), "JSAPI".into());
    let unsigned = xml::encode(&fields);
    // MD5-signed answer to an HMAC channel.
    let wrong_alg = ok_response(
        &[("trade_type", "JSAPI"), ("prepay_id", "wx1")],
        SignType::Md5,
    );
    for (name, body, t, want) in [
        (
            "tampered",
            tampered,
            SignType::Md5,
            VerifyFailure::BadSignature,
        ),
        (
            "wrong key",
            wrong_key,
            SignType::Md5,
            VerifyFailure::BadSignature,
        ),
        ("unsigned", unsigned, SignType::Md5, VerifyFailure::Missing),
        (
            "wrong algorithm",
            wrong_alg,
            SignType::HmacSha256,
            VerifyFailure::BadSignature,
        ),
    ] {
        let server = stub("/pay/unifiedorder", body).await;
        let provider = fixture_provider(&server.uri(), t);
        let got = provider.create_payment(jsapi_request()).await.err();
        assert_eq!(got, Some(ProviderError::Verification(want)), "{name}");
    }
}

#[tokio::test]
async fn a_signed_answer_for_another_merchant_is_refused() {
    let mut fields = f(&[
        ("return_code", "SUCCESS"),
        ("appid", APPID),
        ("mch_id", "99999999"),
        ("result_code", "SUCCESS"),
    ]);
    fields.insert("nonce_str".into(), "n".into());
    let server = stub("/pay/closeorder", signed_xml(fields, KEY, SignType::Md5)).await;
    let provider = fixture_provider(&server.uri(), SignType::Md5);
    let got = provider.close_payment(&parse("1409811653")).await;
    assert!(
        matches!(got, Err(ProviderError::Malformed(ref m)) if m.contains("mch_id")),
        "{got:?}"
    );
}

#[tokio::test]
async fn http_failures_are_typed() {
    // 5xx → Unavailable (retryable).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let got = fixture_provider(&server.uri(), SignType::Md5)
        .close_payment(&parse("1409811653"))
        .await;
    assert!(
        matches!(&got, Err(e @ ProviderError::Unavailable { code, .. }) if code == "HTTP_502" && e.is_retryable()),
        "{got:?}"
    );

    // A body that is not XML, and one over the size limit.
    for body in [
        "<html>busy</html".to_owned(),
        format!("<xml><a>{}</a></xml>", "x".repeat(xml::MAX_BODY)),
    ] {
        let server = stub("/pay/closeorder", body).await;
        let got = fixture_provider(&server.uri(), SignType::Md5)
            .close_payment(&parse("1409811653"))
            .await;
        assert!(matches!(got, Err(ProviderError::Malformed(_))), "{got:?}");
    }

    // No answer in time → Transport (retryable; outcome unknown).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let config = V2Config {
        base_url: server.uri(),
        timeout: Duration::from_millis(200),
        ..V2Config::default()
    };
    let provider = provider_for(
        &config,
        &creds_json(MCH_ID, APPID, KEY, SignType::Md5, &[]),
        &paygate_core::ManualClock::at_unix(NOW_UNIX),
    );
    let got = provider.close_payment(&parse("1409811653")).await;
    assert!(
        matches!(&got, Err(e @ ProviderError::Transport(m)) if m.contains("timed out") && e.is_retryable()),
        "{got:?}"
    );

    // Nobody listening → Transport.
    let got = fixture_provider("http://127.0.0.1:9", SignType::Md5)
        .close_payment(&parse("1409811653"))
        .await;
    assert!(matches!(got, Err(ProviderError::Transport(_))), "{got:?}");
}

#[tokio::test]
async fn invalid_requests_never_leave_the_process() {
    let provider: WechatV2Provider = fixture_provider("http://127.0.0.1:9", SignType::Md5);
    let other_app = CreatePayment {
        appid: parse("wxd678efh567hg6787"),
        ..jsapi_request()
    };
    assert!(matches!(
        provider.create_payment(other_app).await,
        Err(ProviderError::InvalidRequest { field: "appid", .. })
    ));
    let zero = CreatePayment {
        amount: fen(0),
        ..jsapi_request()
    };
    assert!(matches!(
        provider.create_payment(zero).await,
        Err(ProviderError::InvalidRequest {
            field: "amount",
            ..
        })
    ));
    let empty = CreatePayment {
        description: String::new(),
        ..jsapi_request()
    };
    assert!(matches!(
        provider.create_payment(empty).await,
        Err(ProviderError::InvalidRequest {
            field: "description",
            ..
        })
    ));
}
