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
    let config = V3Config {
        base_url: sim.base_url().to_owned(),
        ..V3Config::default()
    };
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
    let provider = Arc::new(
        WechatV3Provider::new(&config, &creds, Arc::new(sim.sim().clock.clone())).unwrap(),
    );
    let listener = Listener::start(provider.clone()).await;
    World {
        sim,
        provider,
        listener,
        openid,
        platform,
    }
}

fn payment(w: &World, out_trade_no: &str, fen: i64) -> CreatePayment {
    CreatePayment {
        appid: APPID.parse().unwrap(),
        out_trade_no: out_trade_no.parse().unwrap(),
        description: "paygate v3 test".into(),
        amount: Money::from_fen(fen).unwrap(),
        attach: None,
        trade_type: TradeType::Jsapi {
            payer: w.openid.parse().unwrap(),
        },
        payer_client_ip: "127.0.0.1".parse().unwrap(),
        time_expire: None,
        notify_url: w.listener.payment_url(),
    }
}

async fn pay(w: &World, prepay_id: &paygate_core::PrepayId) -> (u16, serde_json::Value) {
    let rp = w
        .provider
        .request_payment(&APPID.parse().unwrap(), prepay_id)
        .unwrap();
    let mut body = serde_json::to_value(&rp).unwrap();
    body["appid"] = json!(APPID);
    body["openid"] = json!(w.openid);
    body["result"] = json!("success");
    post_json(&format!("{}/sim/request-payment", w.sim.base_url()), &body).await
}

async fn full_flow(mode: VerifyMode) {
    let w = world(mode, false).await;
    let Prepay::Jsapi { prepay_id, .. } = w
        .provider
        .create_payment(payment(&w, "v3order-01", 888))
        .await
        .unwrap()
    else {
        panic!()
    };
    let (s, v) = pay(&w, &prepay_id).await;
    assert_eq!(s, 200, "{v}");
    w.sim.deliver_due_notifications().await;
    let got = w.listener.take();
    let Ok(Notification::Payment(ev)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(ev.payment.total, Some(Money::from_fen(888).unwrap()));
    assert_eq!(ev.payment.trade_state, TradeState::Success);
    assert!(w.sim.notifications()[0].acknowledged);
    let by_no = w
        .provider
        .query_payment(&PaymentRef::OutTradeNo("v3order-01".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(by_no.trade_state, TradeState::Success);
    let tx = by_no.transaction_id.clone().unwrap();
    let by_id = w
        .provider
        .query_payment(&PaymentRef::TransactionId(tx))
        .await
        .unwrap();
    assert_eq!(by_id, by_no);
    let req = RefundRequest {
        out_trade_no: "v3order-01".parse().unwrap(),
        out_refund_no: "v3refund-1".parse().unwrap(),
        total: Money::from_fen(888).unwrap(),
        refund: Money::from_fen(88).unwrap(),
        reason: Some("test".into()),
        notify_url: w.listener.refund_url(),
    };
    assert_eq!(
        w.provider.refund(req).await.unwrap().state,
        RefundState::Processing
    );
    w.sim
        .sim()
        .settle_refund("v3refund-1", None, "success")
        .unwrap();
    w.sim.deliver_due_notifications().await;
    let got = w.listener.take();
    let Ok(Notification::Refund(ev)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(ev.refund.state, RefundState::Success);
    assert_eq!(ev.refund.refund, Some(Money::from_fen(88).unwrap()));
    let q = w
        .provider
        .query_refund(&"v3refund-1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(q.state, RefundState::Success);
    // Close an unpaid order: 204, then paying it is refused.
    let c = payment(&w, "v3order-02", 1);
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(c.clone()).await.unwrap()
    else {
        panic!()
    };
    w.provider.close_payment(&c.out_trade_no).await.unwrap();
    assert_eq!(pay(&w, &prepay_id).await.0, 400);
    assert_eq!(
        w.provider.create_payment(c).await.unwrap_err(),
        ProviderError::OrderClosed
    );
    let serials: Vec<_> = w
        .sim
        .notifications()
        .iter()
        .flat_map(|n| n.attempts.iter().filter_map(|a| a.serial.clone()))
        .collect();
    match mode {
        VerifyMode::PlatformCert => {
            assert!(serials.iter().all(|s| *s == w.platform.platform_serial))
        }
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
    fault(
        &w,
        json!({"kind": "system_error", "endpoint": "/v3/pay/transactions/jsapi"}),
    )
    .await;
    assert!(
        w.provider
            .create_payment(p.clone())
            .await
            .unwrap_err()
            .is_retryable()
    );
    fault(
        &w,
        json!({"kind": "drop_connection", "endpoint": "/v3/pay/transactions/jsapi"}),
    )
    .await;
    assert!(matches!(
        w.provider.create_payment(p.clone()).await.unwrap_err(),
        ProviderError::Transport(_)
    ));
    fault(
        &w,
        json!({"kind": "signtest", "endpoint": "/v3/pay/transactions/jsapi"}),
    )
    .await;
    let e = w.provider.create_payment(p.clone()).await.unwrap_err();
    assert_eq!(e, ProviderError::Verification(VerifyFailure::Probe));
    let Prepay::Jsapi { prepay_id, .. } = w.provider.create_payment(p.clone()).await.unwrap()
    else {
        panic!()
    };
    pay(&w, &prepay_id).await;
    // The probe goes first and is refused; the real notification is accepted.
    assert_eq!(w.sim.deliver_due_notifications().await, 2);
    let got = w.listener.take();
    assert_eq!(
        got[0],
        Err(ProviderError::Verification(VerifyFailure::Probe))
    );
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
    let config = V3Config {
        base_url: w.sim.base_url().to_owned(),
        ..V3Config::default()
    };
    let p = WechatV3Provider::new(&config, &creds, Arc::new(skewed)).unwrap();
    let e = p
        .query_payment(&PaymentRef::OutTradeNo("v3order-x1".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::UpstreamAuth { ref code, .. } if code == "SIGN_ERROR"),
        "{e:?}"
    );
    // No Authorization at all.
    let r = client()
        .get(format!(
            "{}/v3/pay/transactions/out-trade-no/abcdef?mchid={}",
            w.sim.base_url(),
            fixture_key("mchid")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "SIGN_ERROR");
}

#[tokio::test]
async fn native_pay_by_scanning() {
    let w = world(VerifyMode::PlatformCert, false).await;
    let mut p = payment(&w, "v3native-1", 50);
    p.trade_type = TradeType::Native;
    let Prepay::Native { code_url, .. } = w.provider.create_payment(p).await.unwrap() else {
        panic!()
    };
    assert!(code_url.starts_with("weixin://wxpay/bizpayurl?pr="));
    let url = format!("{}/sim/scan", w.sim.base_url());
    let (s, _) = post_json(
        &url,
        &json!({"code_url": code_url, "openid": "stranger", "result": "success"}),
    )
    .await;
    assert_eq!(s, 400, "the scanning user must exist under the appid");
    let (s, v) = post_json(
        &url,
        &json!({"code_url": code_url, "openid": w.openid, "result": "success"}),
    )
    .await;
    assert_eq!((s, v["trade_state"].as_str()), (200, Some("SUCCESS")));
    w.sim.deliver_due_notifications().await;
    let got = w.listener.take();
    let Ok(Notification::Payment(ev)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(
        ev.payment.payer.as_ref().map(|p| p.as_str()),
        Some(w.openid.as_str())
    );
}

/// Sends a signed v3 request as the merchant would, with any body.
async fn signed(w: &World, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    use paygate_wechat_v3::sign::{MerchantSigner, RsaSigner};
    let signer = MerchantSigner {
        mchid: fixture_key("mchid"),
        serial_no: fixture_key("merchant_serial"),
        signer: RsaSigner::from_pkcs8_pem(&fixture_key("merchant_private_key_pkcs8")).unwrap(),
    };
    let ts = w.sim.now().unix_timestamp().to_string();
    let auth = signer
        .authorization(method, path, &ts, "nonce123", body.as_bytes())
        .unwrap();
    let url = format!("{}{path}", w.sim.base_url());
    let req = if method == "GET" {
        client().get(url)
    } else {
        client().post(url).body(body.to_owned())
    };
    let r = req
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().contains_key("Wechatpay-Signature"),
        "every answer is signed"
    );
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn v3_parameter_rules() {
    let w = world(VerifyMode::PublicKey, false).await;
    let mchid = fixture_key("mchid");
    let good = json!({
        "appid": APPID, "mchid": mchid, "description": "d", "out_trade_no": "v3rules-1",
        "notify_url": "http://127.0.0.1:1/notify", "amount": {"total": 1, "currency": "CNY"},
        "payer": {"openid": w.openid},
    });
    let (s, v) = signed(&w, "POST", "/v3/pay/transactions/jsapi", &good.to_string()).await;
    assert_eq!(s, 200, "{v}");
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (json!({"description": null}), 400, "PARAM_ERROR"),
        (json!({"description": ""}), 400, "PARAM_ERROR"),
        (json!({"amount": {"total": 1.5}}), 400, "PARAM_ERROR"),
        (json!({"amount": {"total": "1"}}), 400, "PARAM_ERROR"),
        (json!({"amount": {"total": 0}}), 400, "PARAM_ERROR"),
        (json!({"out_trade_no": "12345"}), 400, "PARAM_ERROR"),
        (
            json!({"notify_url": "https://x.example/n?a=1"}),
            400,
            "PARAM_ERROR",
        ),
        (json!({"payer": {"openid": "nobody"}}), 400, "PARAM_ERROR"),
        (json!({"time_expire": "20300101000000"}), 400, "PARAM_ERROR"),
        (json!({"mchid": "1900000000"}), 400, "PARAM_ERROR"),
        (json!({"amount": {"total": 2}}), 403, "OUT_TRADE_NO_USED"),
    ];
    for (patch, status, code) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let (s, v) = signed(&w, "POST", "/v3/pay/transactions/jsapi", &body.to_string()).await;
        assert_eq!(
            (s, v["code"].as_str().unwrap_or_default()),
            (status, code),
            "{patch}"
        );
    }
    let (s, v) = signed(&w, "GET", "/v3/pay/transactions/out-trade-no/v3rules-1", "").await;
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "mchid query parameter is required"
    );
    let (s, v) = signed(
        &w,
        "GET",
        &format!("/v3/pay/transactions/out-trade-no/nosuch1?mchid={mchid}"),
        "",
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("ORDER_NOT_EXIST")));
    let (s, v) = signed(&w, "GET", "/v3/certificates", "").await;
    assert_eq!(
        (s, v["code"].as_str()),
        (404, Some("RESOURCE_NOT_EXISTS")),
        "public-key merchants have no certificates"
    );
    // The body that was signed must be the body that was sent.
    let ts = w.sim.now().unix_timestamp().to_string();
    let signer = paygate_wechat_v3::sign::MerchantSigner {
        mchid: mchid.clone(),
        serial_no: fixture_key("merchant_serial"),
        signer: paygate_wechat_v3::sign::RsaSigner::from_pkcs8_pem(&fixture_key(
            "merchant_private_key_pkcs8",
        ))
        .unwrap(),
    };
    let auth = signer
        .authorization("POST", "/v3/pay/transactions/jsapi", &ts, "n", b"{}")
        .unwrap();
    let r = client()
        .post(format!("{}/v3/pay/transactions/jsapi", w.sim.base_url()))
        .header("Authorization", auth)
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn merchants_are_registered_over_http() {
    let sim = spawn().await;
    let base = sim.base_url();
    let spec = json!({
        "mch_id": "1900000109",
        "v2_key": "k".repeat(32),
        "v3_key": fixture_key("apiv3_key"),
        "merchant_cert_pem": fixture_key("merchant_cert_pem"),
        "mode": "both",
    });
    let (s, created) = post_json(&format!("{base}/sim/merchants"), &spec).await;
    assert_eq!(s, 201, "{created}");
    let got = get_json(&format!("{base}/sim/merchants/1900000109/platform")).await;
    assert_eq!(got, created);
    assert_eq!(
        got["merchant_serial"],
        fixture_key("merchant_serial").as_str()
    );
    assert_eq!(got["mode"], "both");
    let id = got["public_key_id"].as_str().unwrap();
    assert!(id.starts_with("PUB_KEY_ID_") && id.len() == 39, "{id}");
    let serial = got["platform_serial"].as_str().unwrap();
    let info = paygate_wechat_v3::cert::parse_certificate_pem(
        got["platform_certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(info.serial, serial);
    // The public key is a different key from the certificate's, as at WeChat.
    let pk = pem::parse(got["public_key_pem"].as_str().unwrap()).unwrap();
    assert_ne!(pk.contents(), info.spki_der.as_slice());
    let (s, _) = post_json(
        &format!("{base}/sim/merchants"),
        &json!({"mch_id": "1", "v2_key": "k", "v3_key": "short", "merchant_cert_pem": "x"}),
    )
    .await;
    assert_eq!(s, 400);
    let r = client()
        .get(format!("{base}/sim/merchants/404/platform"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
