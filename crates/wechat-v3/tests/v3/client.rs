//! Calls against a local stub that answers like WeChat (signed with the fixture platform key):
//! the exact request sent, the answer's verification, and every documented error mapping.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use paygate_core::{
    AppId, CreatePayment, ManualClock, Money, OutRefundNo, OutTradeNo, PaySignType, PaymentRef,
    Prepay, PrepayId, Provider, ProviderError, RefundRequest, RefundState, TradeState, TradeType,
    VerifyFailure,
};
use paygate_wechat_v3::FixedNonce;
use serde_json::json;
use time::Duration;
use time::macros::datetime;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const NOW: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| panic!("fixture id {s:?}"))
}

fn payment(trade_type: TradeType) -> CreatePayment {
    CreatePayment {
        appid: parse("wxd678efh567hg6787"),
        out_trade_no: parse("1217752501201407033233368018"),
        description: "Image形象店-深圳腾大-QQ公仔".into(),
        amount: Money::from_fen(100).unwrap_or_default(),
        attach: Some("自定义数据".into()),
        trade_type,
        payer_client_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        time_expire: Some(datetime!(2024-01-01 01:00:00 UTC)),
        notify_url: parse("https://example.com/notify/v3/tenant-1"),
    }
}

fn jsapi() -> TradeType {
    TradeType::Jsapi {
        payer: parse("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
    }
}

async fn setup() -> (MockServer, ManualClock) {
    (MockServer::start().await, ManualClock::at_unix(NOW))
}

async fn only_request(server: &MockServer) -> wiremock::Request {
    let mut all = server.received_requests().await.unwrap_or_default();
    assert_eq!(all.len(), 1, "exactly one request");
    all.remove(0)
}

#[tokio::test]
async fn v3_pay_sign_via_request_payment() {
    let clock = ManualClock::at_unix(1_490_840_662);
    let p = provider("http://127.0.0.1:9", &clock, &credentials(Mode::PublicKey))
        .with_nonce_source(Arc::new(FixedNonce(
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".into(),
        )));
    let appid: AppId = parse("wxd678efh567hg6787");
    let prepay: PrepayId = parse("wx2017033010242291fcfe0db70013231072");
    let rp = p
        .request_payment(&appid, &prepay)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rp.time_stamp, "1490840662");
    assert_eq!(rp.nonce_str, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
    assert_eq!(rp.package, s("v3_pay_sign", "package"));
    assert_eq!(rp.sign_type, PaySignType::Rsa);
    assert_eq!(rp.pay_sign, s("v3_pay_sign", "paySign"));
}

#[tokio::test]
async fn jsapi_prepay_sends_the_exact_request() {
    let (server, clock) = setup().await;
    let answer = Signed::json(
        200,
        r#"{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}"#,
        &clock,
    );
    Mock::given(method("POST"))
        .and(path("/v3/pay/transactions/jsapi"))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let prepay = p.create_payment(payment(jsapi())).await;
    assert_eq!(
        prepay,
        Ok(Prepay::Jsapi {
            prepay_id: parse("wx26112221580621e9b071c00d9e093b0000"),
            expires_at: datetime!(2024-01-01 01:00:00 UTC),
        })
    );
    let req = only_request(&server).await;
    assert_signed_by_merchant(&req, &clock);
    let body: serde_json::Value = req.body_json().unwrap_or_default();
    assert_eq!(
        body,
        json!({
            "appid": "wxd678efh567hg6787",
            "mchid": "1230000109",
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": "1217752501201407033233368018",
            "time_expire": "2024-01-01T09:00:00+08:00",
            "attach": "自定义数据",
            "notify_url": "https://example.com/notify/v3/tenant-1",
            "amount": {"total": 100, "currency": "CNY"},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "scene_info": {"payer_client_ip": "203.0.113.7"},
        })
    );
}

/// V3-RESP through the client: the recorded answer (public-key id `…0006`) is accepted as is.
#[tokio::test]
async fn v3_resp_native_prepay_and_empty_body_close() {
    let server = MockServer::start().await;
    let clock = ManualClock::at_unix(s("v3_resp", "timestamp").parse().unwrap_or_default());
    let recorded = |sig: &str, body: &str, status: u16| {
        ResponseTemplate::new(status)
            .insert_header("Wechatpay-Timestamp", s("v3_resp", "timestamp").as_str())
            .insert_header("Wechatpay-Nonce", s("v3_resp", "nonce").as_str())
            .insert_header("Wechatpay-Serial", s("v3_resp", "serial").as_str())
            .insert_header("Wechatpay-Signature", s("v3_resp", sig).as_str())
            .set_body_bytes(body.as_bytes().to_vec())
    };
    Mock::given(method("POST"))
        .and(path("/v3/pay/transactions/native"))
        .respond_with(recorded("signature", &s("v3_resp", "body"), 200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close",
        ))
        .respond_with(recorded("signature_for_empty_body", "", 204))
        .mount(&server)
        .await;
    let mut creds = credentials(Mode::PublicKey);
    creds.wechatpay_public_key_id = Some(s("v3_resp", "serial"));
    let p = provider(&server.uri(), &clock, &creds);
    let mut req = payment(TradeType::Native);
    req.time_expire = None;
    let prepay = p.create_payment(req).await;
    assert_eq!(
        prepay,
        Ok(Prepay::Native {
            code_url: "weixin://wxpay/bizpayurl?pr=JyC91EIz1".into(),
            expires_at: clock_now(&clock) + Duration::hours(2),
        })
    );
    let no: OutTradeNo = parse("1217752501201407033233368018");
    assert_eq!(p.close_payment(&no).await, Ok(()));
    let sent = server.received_requests().await.unwrap_or_default();
    let native: serde_json::Value = sent[0].body_json().unwrap_or_default();
    assert!(native.get("payer").is_none(), "Native has no payer");
    assert!(native.get("time_expire").is_none());
    assert_eq!(sent[1].body, br#"{"mchid":"1230000109"}"#);
    for r in &sent {
        assert_signed_by_merchant(r, &clock);
    }
}

fn clock_now(clock: &ManualClock) -> time::OffsetDateTime {
    use paygate_core::Clock;
    clock.now()
}

const TX_NOTPAY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","trade_type":"JSAPI","trade_state":"NOTPAY","trade_state_desc":"订单未支付","amount":{"total":100,"currency":"CNY"}}"#;
const TX_PAID: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2024-01-01T08:30:00+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":90,"currency":"CNY","payer_currency":"CNY"},"promotion_detail":[]}"#;

#[tokio::test]
async fn query_by_out_trade_no_and_by_transaction_id() {
    let (server, clock) = setup().await;
    Mock::given(method("GET"))
        .and(path(
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018",
        ))
        .and(query_param("mchid", "1230000109"))
        .respond_with(Signed::json(200, TX_NOTPAY, &clock))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/pay/transactions/id/4200000000000000000000000001"))
        .and(query_param("mchid", "1230000109"))
        .respond_with(Signed::json(200, TX_PAID, &clock))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let unpaid = p
        .query_payment(&PaymentRef::OutTradeNo(parse(
            "1217752501201407033233368018",
        )))
        .await;
    let unpaid = unpaid.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unpaid.trade_state, TradeState::NotPay);
    assert_eq!(
        (unpaid.transaction_id, unpaid.payer, unpaid.success_time),
        (None, None, None)
    );
    let paid = p
        .query_payment(&PaymentRef::TransactionId(parse(
            "4200000000000000000000000001",
        )))
        .await;
    let paid = paid.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paid.trade_state, TradeState::Success);
    assert_eq!(paid.payer_total, Money::from_fen(90).ok());
    assert_eq!(paid.success_time, Some(datetime!(2024-01-01 00:30:00 UTC)));
    let sent = server.received_requests().await.unwrap_or_default();
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert!(r.body.is_empty());
        assert_signed_by_merchant(r, &clock);
    }
}

const REFUND: &str = r#"{"refund_id":"50000000000000000000000000001","out_refund_no":"R20240101000001","transaction_id":"4200000000000000000000000001","out_trade_no":"1217752501201407033233368018","channel":"ORIGINAL","user_received_account":"支付用户零钱","create_time":"2024-01-01T08:00:00+08:00","status":"PROCESSING","funds_account":"AVAILABLE","amount":{"total":100,"refund":40,"payer_total":100,"payer_refund":40,"settlement_refund":40,"settlement_total":100,"discount_refund":0,"currency":"CNY"}}"#;

fn refund_request() -> RefundRequest {
    RefundRequest {
        out_trade_no: parse("1217752501201407033233368018"),
        out_refund_no: parse("R20240101000001"),
        total: Money::from_fen(100).unwrap_or_default(),
        refund: Money::from_fen(40).unwrap_or_default(),
        reason: Some("商品已售完".into()),
        notify_url: parse("https://example.com/notify/v3/tenant-1/refund"),
    }
}

#[tokio::test]
async fn refund_and_refund_query() {
    let (server, clock) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v3/refund/domestic/refunds"))
        .respond_with(Signed::json(200, REFUND, &clock))
        .mount(&server)
        .await;
    let success = REFUND.replace("PROCESSING", "SUCCESS").replace(
        r#""create_time""#,
        r#""success_time":"2024-01-01T08:01:00+08:00","create_time""#,
    );
    Mock::given(method("GET"))
        .and(path("/v3/refund/domestic/refunds/R20240101000001"))
        .respond_with(Signed::json(200, &success, &clock))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let created = p
        .refund(refund_request())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.state, RefundState::Processing);
    assert_eq!(created.refund, Money::from_fen(40).ok());
    let queried = p
        .query_refund(&parse::<OutRefundNo>("R20240101000001"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queried.state, RefundState::Success);
    assert_eq!(
        queried.success_time,
        Some(datetime!(2024-01-01 00:01:00 UTC))
    );
    let sent = server.received_requests().await.unwrap_or_default();
    let body: serde_json::Value = sent[0].body_json().unwrap_or_default();
    assert_eq!(
        body,
        json!({
            "out_trade_no": "1217752501201407033233368018",
            "out_refund_no": "R20240101000001",
            "reason": "商品已售完",
            "notify_url": "https://example.com/notify/v3/tenant-1/refund",
            "amount": {"refund": 40, "total": 100, "currency": "CNY"},
        })
    );
    for r in &sent {
        assert_signed_by_merchant(r, &clock);
    }
}

#[tokio::test]
async fn accepted_202_is_not_an_error_for_refund_and_close() {
    let (server, clock) = setup().await;
    Mock::given(method("POST"))
        .respond_with(Signed::json(202, "", &clock))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let r = p
        .refund(refund_request())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.state, RefundState::Processing);
    assert_eq!(
        p.close_payment(&parse("1217752501201407033233368018"))
            .await,
        Ok(())
    );
}

fn error_body(code: &str) -> String {
    json!({"code": code, "message": "msg", "detail": {"field": "x", "location": "body"}})
        .to_string()
}

/// Every documented mapping, through the call it belongs to. Error bodies are not signed.
#[tokio::test]
async fn error_answers_map_to_provider_errors() {
    let server = MockServer::start().await;
    let clock = ManualClock::at_unix(NOW);
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let unavailable = |code: &str| ProviderError::Unavailable {
        code: code.into(),
        message: "msg".into(),
    };
    let auth = |code: &str| ProviderError::UpstreamAuth {
        code: code.into(),
        message: "msg".into(),
    };
    let cases: Vec<(&str, u16, &str, ProviderError)> = vec![
        ("prepay", 500, "SYSTEM_ERROR", unavailable("SYSTEM_ERROR")),
        (
            "prepay",
            503,
            "SERVICE_UNAVAILABLE",
            unavailable("SERVICE_UNAVAILABLE"),
        ),
        (
            "prepay",
            429,
            "RATELIMIT_EXCEEDED",
            ProviderError::RateLimited {
                query_before_retry: false,
            },
        ),
        (
            "refund",
            429,
            "FREQUENCY_LIMITED",
            ProviderError::RateLimited {
                query_before_retry: true,
            },
        ),
        ("prepay", 401, "SIGN_ERROR", auth("SIGN_ERROR")),
        ("prepay", 403, "NO_AUTH", auth("NO_AUTH")),
        (
            "prepay",
            400,
            "APPID_MCHID_NOT_MATCH",
            auth("APPID_MCHID_NOT_MATCH"),
        ),
        ("refund", 400, "MCH_NOT_EXISTS", auth("MCH_NOT_EXISTS")),
        (
            "query",
            404,
            "ORDER_NOT_EXIST",
            ProviderError::OrderNotFound,
        ),
        (
            "close",
            404,
            "ORDER_NOT_EXIST",
            ProviderError::OrderNotFound,
        ),
        (
            "refund",
            404,
            "RESOURCE_NOT_EXISTS",
            ProviderError::OrderNotFound,
        ),
        (
            "refund_query",
            404,
            "RESOURCE_NOT_EXISTS",
            ProviderError::RefundNotFound,
        ),
        ("close", 400, "ORDERPAID", ProviderError::OrderPaid),
        ("prepay", 400, "ORDER_CLOSED", ProviderError::OrderClosed),
        (
            "prepay",
            403,
            "OUT_TRADE_NO_USED",
            ProviderError::OutTradeNoUsed,
        ),
        (
            "refund",
            403,
            "NOT_ENOUGH",
            ProviderError::InsufficientBalance,
        ),
        (
            "prepay",
            400,
            "PARAM_ERROR",
            ProviderError::Rejected {
                code: "PARAM_ERROR".into(),
                message: "msg".into(),
            },
        ),
    ];
    for (call, status, code, expected) in cases {
        server.reset().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(status).set_body_string(error_body(code)))
            .mount(&server)
            .await;
        let got = match call {
            "prepay" => p.create_payment(payment(jsapi())).await.err(),
            "query" => p
                .query_payment(&PaymentRef::OutTradeNo(parse(
                    "1217752501201407033233368018",
                )))
                .await
                .err(),
            "close" => p
                .close_payment(&parse("1217752501201407033233368018"))
                .await
                .err(),
            "refund" => p.refund(refund_request()).await.err(),
            _ => p.query_refund(&parse("R20240101000001")).await.err(),
        };
        assert_eq!(got, Some(expected.clone()), "{call} {status} {code}");
        if matches!(expected, ProviderError::Unavailable { .. }) {
            assert!(expected.is_retryable());
        }
    }
}

#[tokio::test]
async fn transport_failure_is_typed() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let clock = ManualClock::at_unix(NOW);
    let p = provider("http://127.0.0.1:9", &clock, &credentials(Mode::PublicKey));
    let e = p.query_refund(&parse("R20240101000001")).await.err();
    assert!(matches!(e, Some(ProviderError::Transport(_))), "{e:?}");
}

#[tokio::test]
async fn unsigned_tampered_or_stale_answers_are_refused() {
    let (server, clock) = setup().await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let no: OutRefundNo = parse("R20240101000001");
    let query = || p.query_refund(&no);

    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(REFUND))
        .mount(&server)
        .await;
    assert_eq!(
        query().await.err(),
        Some(ProviderError::Verification(VerifyFailure::Missing))
    );

    server.reset().await;
    let mut tampered = ResponseTemplate::new(200).set_body_string(REFUND.replace("40", "41"));
    for (k, v) in signed_headers(REFUND.as_bytes(), NOW, "n", PUB_KEY_ID) {
        tampered = tampered.insert_header(k.as_str(), v.as_str());
    }
    Mock::given(method("GET"))
        .respond_with(tampered)
        .mount(&server)
        .await;
    assert_eq!(
        query().await.err(),
        Some(ProviderError::Verification(VerifyFailure::BadSignature))
    );

    server.reset().await;
    let mut stale = ResponseTemplate::new(200).set_body_string(REFUND);
    for (k, v) in signed_headers(REFUND.as_bytes(), NOW - 300, "n", PUB_KEY_ID) {
        stale = stale.insert_header(k.as_str(), v.as_str());
    }
    Mock::given(method("GET"))
        .respond_with(stale)
        .mount(&server)
        .await;
    assert_eq!(
        query().await.err(),
        Some(ProviderError::Verification(VerifyFailure::StaleTimestamp))
    );

    server.reset().await;
    let non_integer = REFUND.replace("\"refund\":40", "\"refund\":40.5");
    Mock::given(method("GET"))
        .respond_with(Signed::json(200, &non_integer, &clock))
        .mount(&server)
        .await;
    assert!(matches!(
        query().await.err(),
        Some(ProviderError::Malformed(_))
    ));
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let (server, clock) = setup().await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let mut req = payment(jsapi());
    req.description = String::new();
    assert!(matches!(
        p.create_payment(req).await,
        Err(ProviderError::InvalidRequest {
            field: "description",
            ..
        })
    ));
    let mut req = payment(jsapi());
    req.time_expire = Some(datetime!(2023-12-31 00:00:00 UTC));
    assert!(matches!(
        p.create_payment(req).await,
        Err(ProviderError::InvalidRequest {
            field: "time_expire",
            ..
        })
    ));
    let mut r = refund_request();
    r.refund = Money::from_fen(101).unwrap_or_default();
    assert!(matches!(
        p.refund(r).await,
        Err(ProviderError::InvalidRequest {
            field: "refund",
            ..
        })
    ));
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// V3-CERTS-FIXTURE: the recorded download is decrypted, its signature checked with the
/// certificate it carries, and the certificate trusted from then on.
#[tokio::test]
async fn v3_certs_fixture_download_is_accepted() {
    let server = MockServer::start().await;
    let clock = ManualClock::at_unix(
        s("v3_certs_fixture", "timestamp")
            .parse()
            .unwrap_or_default(),
    );
    let recorded = ResponseTemplate::new(200)
        .insert_header(
            "Wechatpay-Timestamp",
            s("v3_certs_fixture", "timestamp").as_str(),
        )
        .insert_header("Wechatpay-Nonce", s("v3_certs_fixture", "nonce").as_str())
        .insert_header("Wechatpay-Serial", s("v3_certs_fixture", "serial").as_str())
        .insert_header(
            "Wechatpay-Signature",
            s("v3_certs_fixture", "signature").as_str(),
        )
        .set_body_string(s("v3_certs_fixture", "body"));
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(recorded)
        .expect(1)
        .mount(&server)
        .await;
    // A public-key merchant has no certificates until it downloads them.
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    assert!(p.platform_serials().is_empty());
    assert_eq!(p.refresh_certificates().await, Ok(1));
    assert_eq!(p.platform_serials(), vec![key("platform_serial")]);
    assert_signed_by_merchant(&only_request(&server).await, &clock);
}

#[tokio::test]
async fn tampered_certificate_download_is_refused() {
    let (server, clock) = setup().await;
    let body =
        s("v3_certs_fixture", "body").replace("\"ciphertext\":\"hAsj", "\"ciphertext\":\"hBsj");
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(Signed::json(200, &body, &clock).serial(&key("platform_serial")))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    assert_eq!(
        p.refresh_certificates().await,
        Err(ProviderError::Verification(VerifyFailure::Decrypt))
    );
    assert!(p.platform_serials().is_empty());
}

#[tokio::test]
async fn certificates_are_refreshed_periodically() {
    let (server, clock) = setup().await;
    let certs =
        Signed::json(200, &s("v3_certs_fixture", "body"), &clock).serial(&key("platform_serial"));
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(certs)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/refund/domestic/refunds/R20240101000001"))
        .respond_with(Signed::json(200, REFUND, &clock).serial(&key("platform_serial")))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::Certificate));
    let count = |path: &'static str| {
        let server = &server;
        async move {
            server
                .received_requests()
                .await
                .unwrap_or_default()
                .iter()
                .filter(|r| r.url.path() == path)
                .count()
        }
    };
    assert!(p.query_refund(&parse("R20240101000001")).await.is_ok());
    assert_eq!(count("/v3/certificates").await, 0, "fresh at start");
    clock.advance(Duration::hours(12));
    assert!(p.query_refund(&parse("R20240101000001")).await.is_ok());
    assert_eq!(count("/v3/certificates").await, 1, "due after the interval");
    assert!(p.query_refund(&parse("R20240101000001")).await.is_ok());
    assert_eq!(count("/v3/certificates").await, 1, "not again right away");
}

#[tokio::test]
async fn sensitive_fields_are_encrypted_to_the_public_key_or_certificate() {
    use paygate_wechat_v3::oaep::{OaepPrivateKey, decrypt};
    let clock = ManualClock::at_unix(NOW);
    let platform = OaepPrivateKey::from_pem(&key("platform_private_key_pkcs8"))
        .unwrap_or_else(|e| panic!("{e}"));
    for (mode, serial) in [
        (Mode::PublicKey, PUB_KEY_ID.to_owned()),
        (Mode::Certificate, key("platform_serial")),
    ] {
        let p = provider("http://127.0.0.1:9", &clock, &credentials(mode));
        let field = p
            .encrypt_sensitive("张三")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(field.wechatpay_serial, serial);
        assert_eq!(
            decrypt(&platform, &field.ciphertext).as_deref(),
            Ok("张三".as_bytes())
        );
    }
}
