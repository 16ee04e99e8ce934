//! The simulator's own records over HTTP (`GET /sim/orders`, `GET /sim/refunds`): what a crash
//! test reconciles against must say exactly which orders were paid, for how much, and page
//! through every record once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use paygate_core::{CreatePayment, Money, Prepay, Provider, RefundRequest, TradeType};
use paygate_sim::{MerchantSpec, RunningSim, VerifyMode};
use paygate_wechat_v3::{V3Config, V3Credentials, WechatV3Provider};
use serde_json::{Value, json};

async fn world() -> (RunningSim, Arc<WechatV3Provider>, String) {
    let sim = spawn_with_app(vec![]).await;
    let platform = sim
        .sim()
        .register_merchant(MerchantSpec {
            mch_id: fixture_key("mchid"),
            v2_key: "192006250b4c09247ec02edce69f6a2d".into(),
            v3_key: fixture_key("apiv3_key"),
            merchant_cert_pem: fixture_key("merchant_cert_pem"),
            mode: VerifyMode::PublicKey,
            appids: vec![],
            signtest_probes: false,
            platform_private_key_pem: None,
        })
        .unwrap();
    let openid = sim.sim().create_user(APPID, None, None).unwrap();
    let creds = V3Credentials::from_json(
        &json!({
            "mchid": fixture_key("mchid"),
            "merchant_private_key_pem": fixture_key("merchant_private_key_pkcs8"),
            "merchant_certificate_pem": fixture_key("merchant_cert_pem"),
            "apiv3_key": fixture_key("apiv3_key"),
            "wechatpay_public_key_pem": platform.public_key_pem,
            "wechatpay_public_key_id": platform.public_key_id,
        })
        .to_string(),
    )
    .unwrap();
    let config = V3Config {
        base_url: sim.base_url().to_owned(),
        ..V3Config::default()
    };
    let provider = Arc::new(
        WechatV3Provider::new(&config, &creds, Arc::new(sim.sim().clock.clone())).unwrap(),
    );
    (sim, provider, openid)
}

async fn place(
    sim: &RunningSim,
    provider: &WechatV3Provider,
    openid: &str,
    no: &str,
    fen: i64,
) -> paygate_core::PrepayId {
    let Prepay::Jsapi { prepay_id, .. } = provider
        .create_payment(CreatePayment {
            appid: APPID.parse().unwrap(),
            out_trade_no: no.parse().unwrap(),
            description: "records test".into(),
            amount: Money::from_fen(fen).unwrap(),
            attach: None,
            trade_type: TradeType::Jsapi {
                payer: openid.parse().unwrap(),
            },
            payer_client_ip: "127.0.0.1".parse().unwrap(),
            time_expire: None,
            notify_url: format!("{}/nowhere", sim.base_url()).parse().unwrap(),
        })
        .await
        .unwrap()
    else {
        panic!("a JSAPI order has a prepay id")
    };
    prepay_id
}

async fn pay(
    sim: &RunningSim,
    provider: &WechatV3Provider,
    openid: &str,
    p: &paygate_core::PrepayId,
) {
    let rp = provider
        .request_payment(&APPID.parse().unwrap(), p)
        .unwrap();
    let mut body = serde_json::to_value(&rp).unwrap();
    body["appid"] = json!(APPID);
    body["openid"] = json!(openid);
    body["result"] = json!("success");
    let (s, v) = post_json(&format!("{}/sim/request-payment", sim.base_url()), &body).await;
    assert_eq!(s, 200, "{v}");
}

fn by_no<'a>(orders: &'a [Value], no: &str) -> &'a Value {
    orders
        .iter()
        .find(|o| o["out_trade_no"] == no)
        .unwrap_or_else(|| panic!("{no} missing from {orders:?}"))
}

#[tokio::test]
async fn orders_and_refunds_are_listed_as_wechat_holds_them() {
    let (sim, provider, openid) = world().await;
    let paid = place(&sim, &provider, &openid, "rec-order-1", 1234).await;
    place(&sim, &provider, &openid, "rec-order-2", 50).await;
    let failed = place(&sim, &provider, &openid, "rec-order-3", 77).await;
    pay(&sim, &provider, &openid, &paid).await;
    let rp = provider
        .request_payment(&APPID.parse().unwrap(), &failed)
        .unwrap();
    let mut body = serde_json::to_value(&rp).unwrap();
    body["appid"] = json!(APPID);
    body["openid"] = json!(openid);
    body["result"] = json!("fail");
    post_json(&format!("{}/sim/request-payment", sim.base_url()), &body).await;
    provider
        .refund(RefundRequest {
            out_trade_no: "rec-order-1".parse().unwrap(),
            out_refund_no: "rec-refund-1".parse().unwrap(),
            total: Money::from_fen(1234).unwrap(),
            refund: Money::from_fen(34).unwrap(),
            reason: None,
            notify_url: format!("{}/nowhere", sim.base_url()).parse().unwrap(),
        })
        .await
        .unwrap();

    let page = get_json(&format!("{}/sim/orders", sim.base_url())).await;
    let orders = page["data"].as_array().unwrap();
    assert_eq!(orders.len(), 3);
    assert_eq!(page["next"], Value::Null);
    let o1 = by_no(orders, "rec-order-1");
    // A refund in progress turns the order's trade_state to REFUND: still settled (paid).
    assert_eq!(o1["trade_state"], "REFUND");
    assert_eq!(o1["paid"], true);
    assert_eq!(o1["total"], 1234);
    assert_eq!(o1["mch_id"], fixture_key("mchid"));
    assert_eq!(o1["api"], "v3");
    assert!(o1["transaction_id"].as_str().unwrap().starts_with("4200"));
    assert!(o1["success_time"].is_string());
    let o2 = by_no(orders, "rec-order-2");
    assert_eq!(o2["trade_state"], "NOTPAY");
    assert_eq!(o2["paid"], false);
    assert_eq!(o2["transaction_id"], Value::Null);
    assert_eq!(o2["success_time"], Value::Null);
    let o3 = by_no(orders, "rec-order-3");
    assert_eq!(o3["trade_state"], "PAYERROR");
    assert_eq!(o3["paid"], false);

    let refunds = get_json(&format!("{}/sim/refunds", sim.base_url())).await;
    let r = &refunds["data"][0];
    assert_eq!(r["out_refund_no"], "rec-refund-1");
    assert_eq!(r["out_trade_no"], "rec-order-1");
    assert_eq!(r["refund"], 34);
    assert_eq!(r["total"], 1234);
    assert_eq!(r["status"], "PROCESSING");
    assert_eq!(r["transaction_id"], o1["transaction_id"]);

    // Paging one at a time walks the same three orders once, in out_trade_no order.
    let mut after = String::new();
    let mut walked = Vec::new();
    loop {
        let url = if after.is_empty() {
            format!("{}/sim/orders?limit=1", sim.base_url())
        } else {
            format!("{}/sim/orders?limit=1&after={after}", sim.base_url())
        };
        let p = get_json(&url).await;
        walked.extend(
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["out_trade_no"].clone()),
        );
        match p["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(walked, vec!["rec-order-1", "rec-order-2", "rec-order-3"]);

    // Another merchant's filter sees nothing; a foreign cursor is a 400 in the sim's envelope.
    let none = get_json(&format!("{}/sim/orders?mch_id=1900000000", sim.base_url())).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    let r = client()
        .get(format!("{}/sim/orders?after=garbage", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "bad_request");
    sim.shutdown().await;
}
