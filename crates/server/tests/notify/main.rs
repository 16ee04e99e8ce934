//! Notifications and reconciliation end to end, in process: the simulator pays and posts real
//! v2 / v3 notifications to paygate's notify URLs; the worker's `run_once` is driven by the
//! `ManualClock`.

// Helpers outside #[test] functions may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reconcile;
mod support;
mod upstream;
mod worker_alerts;

use paygate_core::OrderState;
use paygate_sim::{FaultKind, FaultSpec};
use support::{APPID_A, APPID_B, Env, MCH, OrderSpec};

fn event_types(events: &[paygate_store::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

fn alert_kinds(alerts: &[paygate_store::Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.kind.as_str()).collect()
}

async fn paid_once(env: &Env, channel: &paygate_core::ChannelId, out_trade_no: &str) {
    let spec = OrderSpec::new(&env.tenant_a, channel, APPID_A, out_trade_no);
    let (order, code_url) = env.pending_order(spec).await;
    env.pay(&code_url);
    assert_eq!(env.deliver().await, 1);
    env.assert_acknowledged();

    let detail = env.order(&order).await;
    assert_eq!(detail.order.state, OrderState::Paid);
    assert!(detail.order.transaction_id.is_some());
    let to_paid: Vec<_> = detail
        .history
        .iter()
        .filter(|t| t.to == OrderState::Paid)
        .collect();
    assert_eq!(to_paid.len(), 1);
    assert_eq!(to_paid[0].cause, "notify");
    let events = env.events(&env.tenant_a).await;
    assert_eq!(event_types(&events), ["payment.succeeded"]);
    let payload = &events[0].payload;
    assert_eq!(payload["id"], order.id.as_str());
    assert_eq!(payload["amount"], 100);
    assert_eq!(payload["state"], "PAID");
    // The payload is the order exactly as stored (on PostgreSQL it is built before the
    // statement that stores it, from the order as that statement will leave it).
    let stored = paygate_server::admin::view_models::OrderView::from(detail.order.clone());
    assert_eq!(payload, &serde_json::to_value(stored).unwrap());
    assert!(env.alerts(&env.tenant_a).await.is_empty());
    assert_eq!(env.notifications(&env.tenant_a).await, 1);
}

#[tokio::test]
async fn a_v3_notification_marks_the_order_paid_once() {
    let env = Env::sqlite().await;
    paid_once(&env, &env.v3, "V3PAID0001").await;
}

#[tokio::test]
async fn on_postgres_a_v3_notification_marks_the_order_paid_once() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    paid_once(&env, &env.v3, "PGPAID00001").await;
    env.finish().await;
}

#[tokio::test]
async fn a_v2_notification_marks_the_order_paid_once() {
    let env = Env::sqlite().await;
    paid_once(&env, &env.v2, "V2PAID0001").await;
}

#[tokio::test]
async fn a_duplicate_delivery_is_acknowledged_and_changes_nothing() {
    duplicates_change_nothing(&Env::sqlite().await).await;
}

#[tokio::test]
async fn on_postgres_a_duplicate_delivery_is_acknowledged_and_changes_nothing() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    duplicates_change_nothing(&env).await;
    env.finish().await;
}

async fn duplicates_change_nothing(env: &Env) {
    for (channel, no) in [(&env.v3, "DUPV3000001"), (&env.v2, "DUPV2000001")] {
        env.sim.sim().faults.add(FaultSpec {
            kind: FaultKind::NotificationDuplicate,
            mch_id: Some(MCH.to_owned()),
            endpoint: None,
            count: 1,
            delay_ms: 0,
        });
        let spec = OrderSpec::new(&env.tenant_a, channel, APPID_A, no);
        let (order, code_url) = env.pending_order(spec).await;
        env.pay(&code_url);
        env.deliver().await;
        let records = env.sim.notifications();
        let last = records.last().unwrap();
        assert!(last.duplicated);
        assert!(
            last.attempts.iter().all(|a| a.acknowledged),
            "{:?}",
            last.attempts
        );
        let detail = env.order(&order).await;
        assert_eq!(detail.order.state, OrderState::Paid);
        let paid = detail.history.iter().filter(|t| t.to == OrderState::Paid);
        assert_eq!(paid.count(), 1);
    }
    let events = env.events(&env.tenant_a).await;
    assert_eq!(
        event_types(&events),
        ["payment.succeeded", "payment.succeeded"]
    );
    assert_eq!(env.notifications(&env.tenant_a).await, 2);
    let metrics = env.state.metrics().render();
    assert!(
        metrics.contains("paygate_notifications_total{kind=\"payment\",outcome=\"duplicate\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_forged_notification_stores_nothing_but_one_alert() {
    let env = Env::sqlite().await;
    let (order, _) = env.pending("FORGED00001").await;
    let v3_path = format!("/notify/{}/payment", env.v3);
    let headers = [
        (
            "wechatpay-serial",
            "PUB_KEY_ID_0000000000000000000000000000",
        ),
        ("wechatpay-signature", "Zm9yZ2Vk"),
        ("wechatpay-timestamp", "1700000000"),
        ("wechatpay-nonce", "n0nce"),
        ("content-type", "application/json"),
    ];
    let body =
        r#"{"id":"EV-forged","resource":{"ciphertext":"x","nonce":"y","associated_data":"z"}}"#;
    let (status, _) = env.post(&v3_path, &headers, body).await;
    assert!(
        status >= 400,
        "a forged v3 notification must not be acknowledged: {status}"
    );
    // The same again, and a forged v2 one: the alert is rate-limited per channel.
    let (again, _) = env.post(&v3_path, &headers, body).await;
    assert!(again >= 400);
    let v2_path = format!("/notify/{}/payment", env.v2);
    let xml = format!(
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
         <appid>{APPID_A}</appid><mch_id>{MCH}</mch_id><out_trade_no>FORGED00001</out_trade_no>\
         <total_fee>100</total_fee><transaction_id>4200000000</transaction_id>\
         <nonce_str>abc</nonce_str><sign>00000000000000000000000000000000</sign></xml>"
    );
    let (_, reply) = env.post(&v2_path, &[], &xml).await;
    assert!(reply.contains("FAIL"), "{reply}");

    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);
    assert_eq!(env.notifications(&env.tenant_a).await, 0);
    assert!(env.events(&env.tenant_a).await.is_empty());
    let alerts = env.alerts(&env.tenant_a).await;
    assert_eq!(
        alert_kinds(&alerts),
        ["unverified_notification", "unverified_notification"],
        "one per channel"
    );
}

#[tokio::test]
async fn unknown_channels_are_404() {
    let env = Env::sqlite().await;
    let (status, _) = env
        .post(
            "/notify/ch_01JD2Z6V3KQ8X4M7R9T0B1C2D3/payment",
            &[],
            "<xml/>",
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = env.post("/notify/not-a-channel/refund", &[], "{}").await;
    assert_eq!(status, 404);
    let big = "x".repeat(65 * 1024);
    let (status, _) = env
        .post(&format!("/notify/{}/payment", env.v3), &[], &big)
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn an_amount_mismatch_alerts_and_never_pays() {
    let env = Env::sqlite().await;
    let mut spec = OrderSpec::new(&env.tenant_a, &env.v3, APPID_A, "MISMATCH0001");
    spec.upstream_fen = Some(1);
    let (order, code_url) = env.pending_order(spec).await;
    env.pay(&code_url);
    env.deliver().await;
    // The alert is committed with the dedupe row, so WeChat may stop.
    env.assert_acknowledged();
    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);
    assert_eq!(
        alert_kinds(&env.alerts(&env.tenant_a).await),
        ["amount_mismatch"]
    );
    assert!(env.events(&env.tenant_a).await.is_empty());
    let metrics = env.state.metrics().render();
    assert!(metrics.contains("paygate_alerts_total{kind=\"amount_mismatch\"} 1"));
}

#[tokio::test]
async fn another_tenants_order_is_unknown_on_this_channel() {
    let env = Env::sqlite().await;
    // Tenant B's order, but WeChat is told to notify tenant A's channel.
    let mut spec = OrderSpec::new(&env.tenant_b, &env.b_v3, APPID_B, "CROSS000001");
    spec.notify_channel = Some(env.v3.clone());
    let (order, code_url) = env.pending_order(spec).await;
    env.pay(&code_url);
    env.deliver().await;
    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);
    assert_eq!(
        alert_kinds(&env.alerts(&env.tenant_a).await),
        ["unknown_order"]
    );
    assert!(env.alerts(&env.tenant_b).await.is_empty());
    assert!(env.events(&env.tenant_b).await.is_empty());
}

#[tokio::test]
async fn older_credentials_still_verify_during_a_key_rollover() {
    let env = Env::sqlite().await;
    // Both prepaid while the channel trusts the simulator's key.
    let (first, first_url) = env.pending("ROLLOVER001").await;
    let (second, second_url) = env.pending("ROLLOVER002").await;
    // A new current version trusting another platform key; WeChat still signs with the old.
    let other = support::register_merchant(&env.sim, "1230000110").await;
    let doc = support::v3_credentials(&other);
    let summary = env
        .registry
        .validate_credentials(paygate_core::ProviderKind::WechatV3, &doc)
        .unwrap();
    let audit = paygate_store::Audit::cli();
    let channels = env.store.channels();
    channels
        .add_credentials_version(&audit, &env.tenant_a, &env.v3, &doc, &summary)
        .await
        .unwrap();
    env.pay(&first_url);
    env.deliver().await;
    env.assert_acknowledged();
    assert_eq!(env.order(&first).await.order.state, OrderState::Paid);
    assert!(env.alerts(&env.tenant_a).await.is_empty());

    // Once the old version is retired, the same signature no longer verifies.
    channels
        .retire_version(&audit, &env.tenant_a, &env.v3, 1)
        .await
        .unwrap();
    env.pay(&second_url);
    env.deliver().await;
    let records = env.sim.notifications();
    let attempt = records.last().unwrap().attempts.last().unwrap().clone();
    assert!(!attempt.acknowledged, "{attempt:?}");
    assert_eq!(env.order(&second).await.order.state, OrderState::Pending);
    assert_eq!(
        alert_kinds(&env.alerts(&env.tenant_a).await),
        ["unverified_notification"]
    );
}
