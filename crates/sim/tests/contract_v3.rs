//! Contract: paygate's own v3 provider against the simulator, in each verification mode, end
//! to end, and under faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::listener::Listener;
use common::*;
use paygate_core::state::RefundState;
use paygate_core::{
    CreatePayment, Money, Notification, PaymentRef, Prepay, Provider, ProviderError, RefundRequest,
    TradeState, TradeType, VerifyFailure,
};
use paygate_sim::{MerchantSpec, PlatformInfo, RunningSim, VerifyMode};
use paygate_wechat_v3::{V3Config, V3Credentials, WechatV3Provider};
use serde_json::json;

struct World {
    sim: RunningSim,
    provider: Arc<WechatV3Provider>,
    listener: Listener,
    openid: String,
    platform: PlatformInfo,
}

async fn world(mode: VerifyMode, probes: bool) -> World {
    let sim = spawn_with_app(vec![]).await;
    let platform = sim
        .sim()
        .register_merchant(MerchantSpec {
            mch_id: fixture_key("mchid"),
            v2_key: "192006250b4c09247ec02edce69f6a2d".into(),
            v3_key: fixture_key("apiv3_key"),
            merchant_cert_pem: fixture_key("merchant_cert_pem"),
            mode,
            appids: vec![],
            signtest_probes: probes,
            platform_private_key_pem: None,
        })
        .unwrap();
    assert_eq!(platform.merchant_serial, fixture_key("merchant_serial"));
    let openid = sim.sim().create_user(APPID, None, None).unwrap();
    let config = V3Config { base_url: sim.base_url().to_owned(), ..V3Config::default() };
    // Each mode gives the merchant what WeChat would give it: the public key and its id, or
    // nothing (certificates are downloaded from /v3/certificates), or both.
    let mut creds = json!({
        "mchid": fixture_key("mchid"),
        "merchant_private_key_pem": fixture_key("merchant_private_key_pkcs8"),
        "merchant_certificate_pem": fixture_key("merchant_cert_pem"),
        "apiv3_key": fixture_key("apiv3_key"),
    });
    if mode != VerifyMode::PublicKey {
        creds["platform_certificates_pem"] = json!([platform.platform_certificate_pem]);
    }
    if mode != VerifyMode::PlatformCert {
        creds["wechatpay_public_key_pem"] = json!(platform.public_key_pem);
        creds["wechatpay_public_key_id"] = json!(platform.public_key_id);
    }
    let creds = V3Credentials::from_json(&creds.to_string()).unwrap();
    let provider = Arc::new(WechatV3Provider::new(&config, &creds, Arc::new(sim.sim().clock.clone())).unwrap());
    let listener = Listener::start(provider.clone()).await;
    World { sim, provider, listener, openid, platform }
}

fn payment(w: &World, out_trade_no: &str, fen: i64) -> CreatePayment {
    CreatePayment {
        appid: APPID.parse().unwrap(),
        out_trade_no: out_trade_no.parse().unwrap(),
        description: "paygate v3 test".into(),
        amount: Money::from_fen(fen).unwrap(),
        attach: None,
        trade_type: TradeType::Jsapi { payer: w.openid.parse().unwrap() },
        payer_client_ip: "127.0.0.1".parse().unwrap(),
        time_expire: None,
        notify_url: w.listener.payment_url(),
    }
}

async fn pay(w: &World, prepay_id: &paygate_core::PrepayId) -> (u16, serde_json::Value) {
    let rp = w.provider.request_payment(&APPID.parse().unwrap(), prepay_id).unwrap();
    let mut body = serde_json::to_value(&rp).unwrap();
    body["appid"] = json!(APPID);
    body["openid"] = json!(w.openid);
    body["result"] = json!("success");
    post_json(&format!("{}/sim/request-payment", w.sim.base_url()), &body).await
}

async fn full_flow(mode: VerifyMode) {
    let w = world(mode, false).await;
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(payment(&w, "v3order-01", 888)).await.unwrap()
    else {
        panic!()
    };
    let (s, v) = pay(&w, &prepay_id).await;
    assert_eq!(s, 200, "{v}");
    w.sim.deliver_due_notifications().await;
    let got = w.listener.take();
    let Ok(Notification::Payment(ev)) = &got[0] else { panic!("{got:?}") };
    assert_eq!(ev.payment.total, Some(Money::from_fen(888).unwrap()));
    assert_eq!(ev.payment.trade_state, TradeState::Success);
    assert!(w.sim.notifications()[0].acknowledged);
    let by_no = w.provider.query_payment(&PaymentRef::OutTradeNo("v3order-01".parse().unwrap())).await.unwrap();
    assert_eq!(by_no.trade_state, TradeState::Success);
    let tx = by_no.transaction_id.clone().unwrap();
    let by_id = w.provider.query_payment(&PaymentRef::TransactionId(tx)).await.unwrap();
    assert_eq!(by_id, by_no);
    let req = RefundRequest {
        out_trade_no: "v3order-01".parse().unwrap(),
        out_refund_no: "v3refund-1".parse().unwrap(),
        total: Money::from_fen(888).unwrap(),
        refund: Money::from_fen(88).unwrap(),
        reason: Some("test".into()),
        notify_url: w.listener.refund_url(),
    };
    assert_eq!(w.provider.refund(req).await.unwrap().state, RefundState::Processing);
    w.sim.sim().settle_refund("v3refund-1", None, "success").unwrap();
    w.sim.deliver_due_notifications().await;
    let got = w.listener.take();
    let Ok(Notification::Refund(ev)) = &got[0] else { panic!("{got:?}") };
    assert_eq!(ev.refund.state, RefundState::Success);
    assert_eq!(ev.refund.refund, Some(Money::from_fen(88).unwrap()));
    let q = w.provider.query_refund(&"v3refund-1".parse().unwrap()).await.unwrap();
    assert_eq!(q.state, RefundState::Success);
    // Close an unpaid order: 204, then paying it is refused.
    let c = payment(&w, "v3order-02", 1);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(c.clone()).await.unwrap() else { panic!() };
    w.provider.close_payment(&c.out_trade_no).await.unwrap();
    assert_eq!(pay(&w, &prepay_id).await.0, 400);
    assert_eq!(w.provider.create_payment(c).await.unwrap_err(), ProviderError::OrderClosed);
    let serials: Vec<_> = w.sim.notifications().iter().flat_map(|n| n.attempts.iter().filter_map(|a| a.serial.clone())).collect();
    match mode {
        VerifyMode::PlatformCert => assert!(serials.iter().all(|s| *s == w.platform.platform_serial)),
        VerifyMode::PublicKey => assert!(serials.iter().all(|s| *s == w.platform.public_key_id)),
        VerifyMode::Both => {}
    }
}

#[tokio::test]
async fn platform_certificate_mode() {
    full_flow(VerifyMode::PlatformCert).await;
}

#[tokio::test]
async fn public_key_mode() {
    full_flow(VerifyMode::PublicKey).await;
}

#[tokio::test]
async fn both_keys_during_migration() {
    full_flow(VerifyMode::Both).await;
}

async fn fault(w: &World, body: serde_json::Value) {
    let (s, _) = post_json(&format!("{}/sim/faults", w.sim.base_url()), &body).await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn faults_and_probes() {
    let w = world(VerifyMode::PublicKey, true).await;
    let p = payment(&w, "v3order-faults", 100);
    fault(&w, json!({"kind": "system_error", "endpoint": "/v3/pay/transactions/jsapi"})).await;
    assert!(w.provider.create_payment(p.clone()).await.unwrap_err().is_retryable());
    fault(&w, json!({"kind": "drop_connection", "endpoint": "/v3/pay/transactions/jsapi"})).await;
    assert!(matches!(w.provider.create_payment(p.clone()).await.unwrap_err(), ProviderError::Transport(_)));
    fault(&w, json!({"kind": "signtest", "endpoint": "/v3/pay/transactions/jsapi"})).await;
    let e = w.provider.create_payment(p.clone()).await.unwrap_err();
    assert_eq!(e, ProviderError::Verification(VerifyFailure::Probe));
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p.clone()).await.unwrap() else { panic!() };
    pay(&w, &prepay_id).await;
    // The probe goes first and is refused; the real notification is accepted.
    assert_eq!(w.sim.deliver_due_notifications().await, 2);
    let got = w.listener.take();
    assert_eq!(got[0], Err(ProviderError::Verification(VerifyFailure::Probe)));
    assert!(matches!(got[1], Ok(Notification::Payment(_))));
    let log = w.sim.notifications();
    assert!(log[0].probe && !log[0].acknowledged && log[0].next_attempt_unix.is_none());
    assert!(log[1].acknowledged);
}

#[tokio::test]
async fn request_signature_errors_are_401() {
    let w = world(VerifyMode::PlatformCert, false).await;
    // A provider whose clock is 10 minutes off is refused (skew check on the sim's clock).
    let creds = V3Credentials::from_json(
        &json!({
            "mchid": fixture_key("mchid"),
            "merchant_private_key_pem": fixture_key("merchant_private_key_pkcs8"),
            "merchant_certificate_pem": fixture_key("merchant_cert_pem"),
            "apiv3_key": fixture_key("apiv3_key"),
            "platform_certificates_pem": [w.platform.platform_certificate_pem],
        })
        .to_string(),
    )
    .unwrap();
    let skewed = paygate_core::ManualClock::new(w.sim.now() - time::Duration::minutes(10));
    let config = V3Config { base_url: w.sim.base_url().to_owned(), ..V3Config::default() };
    let p = WechatV3Provider::new(&config, &creds, Arc::new(skewed)).unwrap();
    let e = p.query_payment(&PaymentRef::OutTradeNo("v3order-x1".parse().unwrap())).await.unwrap_err();
    assert!(matches!(e, ProviderError::UpstreamAuth { ref code, .. } if code == "SIGN_ERROR"), "{e:?}");
    // No Authorization at all.
    let r = client()
        .get(format!("{}/v3/pay/transactions/out-trade-no/abcdef?mchid={}", w.sim.base_url(), fixture_key("mchid")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "SIGN_ERROR");
}
