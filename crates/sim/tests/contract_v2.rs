//! Contract: paygate's own v2 provider against the simulator, end to end, and under faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::listener::Listener;
use common::*;
use paygate_core::state::RefundState;
use paygate_core::{
    CreatePayment, Money, Notification, PaymentRef, Prepay, Provider, ProviderError, RefundRequest,
    TradeState, TradeType,
};
use paygate_sim::{MerchantSpec, RunningSim, VerifyMode};
use paygate_wechat_v2::{V2Config, WechatV2Provider};
use serde_json::json;

const V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

struct World {
    sim: RunningSim,
    provider: Arc<WechatV2Provider>,
    listener: Listener,
    openid: String,
}

async fn world(sign_type: &str) -> World {
    let sim = spawn_with_app(vec![]).await;
    sim.sim()
        .register_merchant(MerchantSpec {
            mch_id: fixture_key("mchid"),
            v2_key: V2_KEY.into(),
            v3_key: fixture_key("apiv3_key"),
            merchant_cert_pem: fixture_key("merchant_cert_pem"),
            mode: VerifyMode::PlatformCert,
            appids: vec![APPID.into()],
            signtest_probes: false,
            platform_private_key_pem: Some(fixture_key("platform_private_key_pkcs8")),
        })
        .unwrap();
    let openid = sim.sim().create_user(APPID, None, None).unwrap();
    let config = V2Config {
        base_url: sim.base_url().to_owned(),
        secapi_base_url: Some(sim.tls_base_url().to_owned()),
        extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
        timeout: std::time::Duration::from_secs(5),
    };
    let creds = json!({
        "mch_id": fixture_key("mchid"),
        "appid": APPID,
        "api_key": V2_KEY,
        "sign_type": sign_type,
        "client_cert_pem": fixture_key("merchant_cert_pem"),
        "client_key_pem": fixture_key("merchant_private_key_pkcs8"),
    });
    let provider = WechatV2Provider::from_json(
        &config,
        &creds.to_string(),
        Arc::new(sim.sim().clock.clone()),
    )
    .unwrap();
    let provider = Arc::new(provider);
    let listener = Listener::start(provider.clone()).await;
    World {
        sim,
        provider,
        listener,
        openid,
    }
}

fn payment(w: &World, out_trade_no: &str, fen: i64) -> CreatePayment {
    CreatePayment {
        appid: APPID.parse().unwrap(),
        out_trade_no: out_trade_no.parse().unwrap(),
        description: "paygate test".into(),
        amount: Money::from_fen(fen).unwrap(),
        attach: Some("a=1".into()),
        trade_type: TradeType::Jsapi {
            payer: w.openid.parse().unwrap(),
        },
        payer_client_ip: "127.0.0.1".parse().unwrap(),
        time_expire: None,
        notify_url: w.listener.payment_url(),
    }
}

async fn pay(
    w: &World,
    prepay_id: &paygate_core::PrepayId,
    result: &str,
) -> (u16, serde_json::Value) {
    let rp = w
        .provider
        .request_payment(&APPID.parse().unwrap(), prepay_id)
        .unwrap();
    let mut body = serde_json::to_value(&rp).unwrap();
    body["appid"] = json!(APPID);
    body["openid"] = json!(w.openid);
    body["result"] = json!(result);
    post_json(&format!("{}/sim/request-payment", w.sim.base_url()), &body).await
}

async fn full_flow(sign_type: &str) {
    let w = world(sign_type).await;
    let Prepay::Jsapi { prepay_id, .. } = w
        .provider
        .create_payment(payment(&w, "order-0001", 1234))
        .await
        .unwrap()
    else {
        panic!("JSAPI gives a prepay id")
    };
    let (status, paid) = pay(&w, &prepay_id, "success").await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(w.sim.deliver_due_notifications().await, 1);
    let got = w.listener.take();
    let Ok(Notification::Payment(ev)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(ev.payment.trade_state, TradeState::Success);
    assert_eq!(ev.payment.total, Some(Money::from_fen(1234).unwrap()));
    assert_eq!(ev.payment.out_trade_no.as_str(), "order-0001");
    assert!(
        w.sim.notifications()[0].acknowledged,
        "the provider's reply acknowledges"
    );

    let q = w
        .provider
        .query_payment(&PaymentRef::OutTradeNo("order-0001".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(q.trade_state, TradeState::Success);
    assert_eq!(q.transaction_id, ev.payment.transaction_id);
    assert_eq!(
        paid["transaction_id"].as_str(),
        q.transaction_id.as_ref().map(|t| t.as_str())
    );

    let refund = RefundRequest {
        out_trade_no: "order-0001".parse().unwrap(),
        out_refund_no: "refund-1".parse().unwrap(),
        total: Money::from_fen(1234).unwrap(),
        refund: Money::from_fen(234).unwrap(),
        reason: None,
        notify_url: w.listener.refund_url(),
    };
    let r = w.provider.refund(refund.clone()).await.unwrap();
    assert_eq!(r.state, RefundState::Processing);
    // More than what is left is refused.
    let mut too_much = refund.clone();
    too_much.out_refund_no = "refund-2".parse().unwrap();
    too_much.refund = Money::from_fen(1001).unwrap();
    assert!(matches!(
        w.provider.refund(too_much).await,
        Err(ProviderError::Rejected { .. })
    ));

    w.sim
        .sim()
        .settle_refund("refund-1", None, "success")
        .unwrap();
    w.sim.deliver_due_notifications().await;
    let got = w.listener.take();
    let Ok(Notification::Refund(ev)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(ev.refund.state, RefundState::Success);
    assert_eq!(ev.refund.refund, Some(Money::from_fen(234).unwrap()));
    let q = w
        .provider
        .query_refund(&"refund-1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(q.state, RefundState::Success);
}

#[tokio::test]
async fn md5_prepay_pay_notify_query_refund() {
    full_flow("MD5").await;
}

#[tokio::test]
async fn hmac_prepay_pay_notify_query_refund() {
    full_flow("HMAC-SHA256").await;
}

#[tokio::test]
async fn business_rules_reach_the_provider_typed() {
    let w = world("MD5").await;
    let p = payment(&w, "order-rules", 100);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p.clone()).await.unwrap()
    else {
        panic!()
    };
    // The same request again returns the same prepay id; other parameters are refused.
    let Prepay::Jsapi {
        prepay_id: again, ..
    } = w.provider.create_payment(p.clone()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(prepay_id, again);
    let mut other = p.clone();
    other.amount = Money::from_fen(101).unwrap();
    assert_eq!(
        w.provider.create_payment(other).await.unwrap_err(),
        ProviderError::OutTradeNoUsed
    );
    // Failed payment: PAYERROR, no notification.
    let (s, v) = pay(&w, &prepay_id, "fail").await;
    assert_eq!((s, v["trade_state"].as_str()), (200, Some("PAYERROR")));
    assert_eq!(w.sim.deliver_due_notifications().await, 0);
    let q = w
        .provider
        .query_payment(&PaymentRef::OutTradeNo("order-rules".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(q.trade_state, TradeState::PayError);
    pay(&w, &prepay_id, "success").await;
    assert_eq!(
        w.provider.create_payment(p.clone()).await.unwrap_err(),
        ProviderError::OrderPaid
    );
    assert_eq!(
        w.provider.close_payment(&p.out_trade_no).await.unwrap_err(),
        ProviderError::OrderPaid
    );
    // A closed order cannot be paid (v2 closes only after five minutes).
    let c = payment(&w, "order-close", 100);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(c.clone()).await.unwrap()
    else {
        panic!()
    };
    assert!(
        w.provider.close_payment(&c.out_trade_no).await.is_err(),
        "too young to close"
    );
    w.sim.advance(time::Duration::minutes(5));
    w.provider.close_payment(&c.out_trade_no).await.unwrap();
    let (s, v) = pay(&w, &prepay_id, "success").await;
    assert_eq!((s, v["code"].as_str()), (400, Some("ORDERCLOSED")));
    assert_eq!(
        w.provider.create_payment(c).await.unwrap_err(),
        ProviderError::OrderClosed
    );
    // Prepay ids expire after two hours.
    let e = payment(&w, "order-expire", 100);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(e.clone()).await.unwrap()
    else {
        panic!()
    };
    w.sim.advance(time::Duration::hours(2));
    let (s, v) = pay(&w, &prepay_id, "success").await;
    assert_eq!((s, v["code"].as_str()), (400, Some("PREPAY_ID_EXPIRED")));
    let Prepay::Jsapi {
        prepay_id: fresh, ..
    } = w.provider.create_payment(e).await.unwrap()
    else {
        panic!()
    };
    assert_ne!(fresh, prepay_id);
    assert_eq!(pay(&w, &fresh, "success").await.0, 200);
    assert_eq!(
        w.provider
            .query_payment(&PaymentRef::OutTradeNo("nosuchorder".parse().unwrap()))
            .await
            .unwrap_err(),
        ProviderError::OrderNotFound
    );
}

#[tokio::test]
async fn refund_needs_the_client_certificate() {
    let w = world("MD5").await;
    // Plain HTTP (no certificate) is refused before WeChat reads the body.
    let r = client()
        .post(format!("{}/secapi/pay/refund", w.sim.base_url()))
        .body("<xml></xml>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A TLS client without a certificate cannot even connect.
    let ca = reqwest::Certificate::from_pem(w.sim.ca_pem().as_bytes()).unwrap();
    let anonymous = reqwest::Client::builder()
        .tls_certs_merge([ca])
        .build()
        .unwrap();
    assert!(
        anonymous
            .post(format!("{}/secapi/pay/refund", w.sim.tls_base_url()))
            .body("<xml/>")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn wrong_key_is_a_signature_error() {
    let w = world("MD5").await;
    let config = V2Config {
        base_url: w.sim.base_url().to_owned(),
        secapi_base_url: None,
        extra_root_ca_pem: None,
        timeout: std::time::Duration::from_secs(5),
    };
    let creds =
        json!({ "mch_id": fixture_key("mchid"), "appid": APPID, "api_key": "0".repeat(32) });
    let bad = WechatV2Provider::from_json(
        &config,
        &creds.to_string(),
        Arc::new(w.sim.sim().clock.clone()),
    )
    .unwrap();
    let err = bad
        .create_payment(payment(&w, "order-badkey", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::UpstreamAuth { .. }), "{err:?}");
    // DOCTYPE is refused as malformed XML.
    let r = client()
        .post(format!("{}/pay/orderquery", w.sim.base_url()))
        .body("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><mch_id>&e;</mch_id></xml>")
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("FAIL") && text.contains("XML"), "{text}");
}

async fn fault(w: &World, body: serde_json::Value) {
    let (s, _) = post_json(&format!("{}/sim/faults", w.sim.base_url()), &body).await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn faults_give_retryable_errors_and_never_a_wrong_state() {
    let w = world("MD5").await;
    let p = payment(&w, "order-faults", 500);
    fault(
        &w,
        json!({"kind": "system_error", "endpoint": "/pay/unifiedorder"}),
    )
    .await;
    let e = w.provider.create_payment(p.clone()).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    fault(
        &w,
        json!({"kind": "http_500", "endpoint": "/pay/unifiedorder"}),
    )
    .await;
    let e = w.provider.create_payment(p.clone()).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    // Dropped after processing: the retry with the same parameters gets the same prepay id.
    fault(
        &w,
        json!({"kind": "drop_connection", "endpoint": "/pay/unifiedorder"}),
    )
    .await;
    let e = w.provider.create_payment(p.clone()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Transport(_)), "{e:?}");
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p.clone()).await.unwrap()
    else {
        panic!()
    };
    // A lost notification: nothing arrives, the query still tells the truth.
    fault(&w, json!({"kind": "notification_lost"})).await;
    pay(&w, &prepay_id, "success").await;
    assert_eq!(w.sim.deliver_due_notifications().await, 0);
    assert!(w.listener.take().is_empty());
    let q = w
        .provider
        .query_payment(&PaymentRef::OutTradeNo(p.out_trade_no.clone()))
        .await
        .unwrap();
    assert_eq!(q.trade_state, TradeState::Success);
    // A duplicated notification arrives twice, identical.
    fault(&w, json!({"kind": "notification_duplicate"})).await;
    let d = payment(&w, "order-dup", 300);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(d).await.unwrap() else {
        panic!()
    };
    pay(&w, &prepay_id, "success").await;
    assert_eq!(w.sim.deliver_due_notifications().await, 2);
    let got = w.listener.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], got[1]);
    // A refund whose answer is lost: querying shows it was accepted; the retry with the same
    // out_refund_no returns the same refund instead of refunding twice.
    fault(
        &w,
        json!({"kind": "drop_connection", "endpoint": "/secapi/pay/refund"}),
    )
    .await;
    let req = RefundRequest {
        out_trade_no: p.out_trade_no.clone(),
        out_refund_no: "refund-dropped".parse().unwrap(),
        total: Money::from_fen(500).unwrap(),
        refund: Money::from_fen(500).unwrap(),
        reason: None,
        notify_url: w.listener.refund_url(),
    };
    assert!(
        w.provider
            .refund(req.clone())
            .await
            .unwrap_err()
            .is_retryable()
    );
    let q = w.provider.query_refund(&req.out_refund_no).await.unwrap();
    assert_eq!(q.state, RefundState::Processing);
    let again = w.provider.refund(req).await.unwrap();
    assert_eq!(again.refund_id, q.refund_id);
}

/// A notify endpoint that never acknowledges: HTTP 200 with a FAIL body, like a merchant
/// whose database is down.
async fn refusing_listener() -> String {
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(|| async {
            "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[db down]]></return_msg></xml>"
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

#[tokio::test]
async fn notifications_retry_on_the_official_schedule() {
    let w = world("MD5").await;
    let mut p = payment(&w, "order-retry", 100);
    p.notify_url = refusing_listener().await.parse().unwrap();
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p).await.unwrap() else {
        panic!()
    };
    pay(&w, &prepay_id, "success").await;
    let start = w.sim.now().unix_timestamp();
    let mut expected = vec![start];
    for secs in paygate_sim::notify::RETRY_SCHEDULE_SECS {
        expected.push(expected.last().unwrap() + secs);
    }
    assert_eq!(w.sim.deliver_due_notifications().await, 1);
    for window in expected.windows(2) {
        let gap = window[1] - window[0];
        w.sim.advance(time::Duration::seconds(gap - 1));
        assert_eq!(
            w.sim.deliver_due_notifications().await,
            0,
            "not due one second early"
        );
        w.sim.advance(time::Duration::seconds(1));
        assert_eq!(w.sim.deliver_due_notifications().await, 1);
    }
    let n = &w.sim.notifications()[0];
    let times: Vec<i64> = n.attempts.iter().map(|a| a.at_unix).collect();
    assert_eq!(times, expected, "1 + 15 attempts over 24 h 4 min");
    assert!(!n.acknowledged);
    assert_eq!(
        n.next_attempt_unix, None,
        "WeChat gives up after the last retry"
    );
    assert!(
        n.attempts
            .iter()
            .all(|a| a.status == Some(200) && !a.acknowledged)
    );
    w.sim.advance(time::Duration::days(1));
    assert_eq!(w.sim.deliver_due_notifications().await, 0);
}

#[tokio::test]
async fn at_most_fifty_refunds_and_never_more_than_paid() {
    let w = world("HMAC-SHA256").await;
    let p = payment(&w, "order-50", 100);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p.clone()).await.unwrap()
    else {
        panic!()
    };
    pay(&w, &prepay_id, "success").await;
    let req = |n: usize, fen: i64| RefundRequest {
        out_trade_no: p.out_trade_no.clone(),
        out_refund_no: format!("r50-{n}").parse().unwrap(),
        total: Money::from_fen(100).unwrap(),
        refund: Money::from_fen(fen).unwrap(),
        reason: None,
        notify_url: w.listener.refund_url(),
    };
    for n in 0..50 {
        w.provider.refund(req(n, 1)).await.unwrap();
    }
    let e = w.provider.refund(req(50, 1)).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { ref code, .. } if code == "ERROR"),
        "{e:?}"
    );
    // A closed refund releases its amount; 50 remain the cap all the same.
    w.sim.sim().settle_refund("r50-0", None, "closed").unwrap();
    assert!(w.provider.refund(req(51, 1)).await.is_err());

    let q = payment(&w, "order-left", 100);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(q.clone()).await.unwrap()
    else {
        panic!()
    };
    pay(&w, &prepay_id, "success").await;
    let req2 = |n: &str, fen: i64| {
        RefundRequest {
            out_trade_no: q.out_trade_no.clone(),
            ..req(0, fen)
        }
        .with_no(n)
    };
    w.provider.refund(req2("left-1", 60)).await.unwrap();
    assert!(
        w.provider.refund(req2("left-2", 41)).await.is_err(),
        "60 + 41 > 100"
    );
    w.sim
        .sim()
        .settle_refund("left-1", None, "abnormal")
        .unwrap();
    w.provider.refund(req2("left-3", 40)).await.unwrap();
    // Same out_refund_no, same amount: the same refund, not a second one.
    let a = w.provider.refund(req2("left-3", 40)).await.unwrap();
    let b = w
        .provider
        .query_refund(&"left-3".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(a.refund_id, b.refund_id);
    assert!(
        w.provider.refund(req2("left-3", 39)).await.is_err(),
        "same number, other amount"
    );
}

trait WithNo {
    fn with_no(self, n: &str) -> Self;
}

impl WithNo for RefundRequest {
    fn with_no(mut self, n: &str) -> Self {
        self.out_refund_no = n.parse().unwrap();
        self
    }
}

#[tokio::test]
async fn time_expire_and_pay_sign_rules() {
    let w = world("HMAC-SHA256").await;
    let mut p = payment(&w, "order-texp", 100);
    p.time_expire = Some(w.sim.now() + time::Duration::minutes(10));
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p.clone()).await.unwrap()
    else {
        panic!()
    };
    let rp = w
        .provider
        .request_payment(&APPID.parse().unwrap(), &prepay_id)
        .unwrap();
    let base = serde_json::to_value(&rp).unwrap();
    let send = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut b = base.clone();
        b["appid"] = json!(APPID);
        b["openid"] = json!(w.openid);
        b["result"] = json!("success");
        edit(&mut b);
        let url = format!("{}/sim/request-payment", w.sim.base_url());
        async move { post_json(&url, &b).await }
    };
    // signType must be the order's (HMAC-SHA256), exactly spelled; the signature must hold.
    let (s, v) = send(&|b| b["signType"] = json!("MD5")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("SIGN_ERROR")), "{v}");
    let (s, v) = send(&|b| b["signType"] = json!("hmac-sha256")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("SIGN_TYPE_ERROR")));
    let (s, _) = send(&|b| b["nonceStr"] = json!("tampered")).await;
    assert_eq!(s, 400);
    let (s, v) = send(&|b| b["openid"] = json!("someone-else")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("OPENID_MISMATCH")));
    let (s, v) = send(&|b| b["appid"] = json!("wxotherapp")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("APPID_MISMATCH")));
    // time_expire is honoured.
    w.sim.advance(time::Duration::minutes(10));
    let (s, v) = send(&|_| {}).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("ORDER_EXPIRED")));
    // v2 times are Beijing time: a time_expire already past in Beijing time is refused.
    let mut late = payment(&w, "order-late", 100);
    late.time_expire = Some(w.sim.now() - time::Duration::minutes(1));
    assert!(w.provider.create_payment(late).await.is_err());
}

#[tokio::test]
async fn a_reordered_notification_is_overtaken() {
    let w = world("MD5").await;
    fault(
        &w,
        json!({"kind": "notification_reorder", "delay_ms": 10_000}),
    )
    .await;
    for no in ["order-first", "order-second"] {
        let Prepay::Jsapi { prepay_id, .. } = w
            .provider
            .create_payment(payment(&w, no, 10))
            .await
            .unwrap()
        else {
            panic!()
        };
        pay(&w, &prepay_id, "success").await;
    }
    assert_eq!(w.sim.deliver_due_notifications().await, 1);
    w.sim.advance(time::Duration::seconds(10));
    assert_eq!(w.sim.deliver_due_notifications().await, 1);
    let order: Vec<String> = w
        .listener
        .take()
        .into_iter()
        .map(|n| match n {
            Ok(Notification::Payment(ev)) => ev.payment.out_trade_no.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(order, ["order-second", "order-first"]);
}
