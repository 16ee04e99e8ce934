//! [`apply_payment_status`] against a real store when the caller's copy of the order is out of
//! date: the optimistic compare-and-set from the copy's state must never apply a transition
//! the current row would not allow, and must fall back to deciding on the locked row.

use std::sync::Arc;

use paygate_core::{
    AppId, CredentialsSummary, MchId, Money, OrderState, OutTradeNo, PaymentStatus, ProviderKind,
    SystemClock, TradeState,
};
use paygate_store::{
    Audit, Channel, MasterKey, NewChannel, NewOrder, Order, OrderTradeType, Store,
};
use secrecy::SecretString;

use super::*;

const APPID: &str = "wx1111111111111111";
const MCH: &str = "1230000109";

struct Shop {
    _dir: tempfile::TempDir,
    store: Store,
    channel: Channel,
    order: Order,
}

fn audit() -> Audit {
    Audit {
        actor: "system".into(),
        request_id: None,
    }
}

/// A tenant with one app and one v2 channel, and a `CREATED` order of 100 fen.
async fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("t.db").display());
    let store = Store::connect(&url, MasterKey::generate(1), Arc::new(SystemClock))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let tenant = store
        .tenants()
        .create(&audit(), "Shop", None)
        .await
        .unwrap();
    let appid: AppId = APPID.parse().unwrap();
    store
        .apps()
        .create(
            &audit(),
            &tenant.id,
            &appid,
            "App",
            &SecretString::from("s"),
        )
        .await
        .unwrap();
    let mch_id: MchId = MCH.parse().unwrap();
    let channel = store
        .channels()
        .create(
            &audit(),
            &tenant.id,
            &NewChannel {
                kind: ProviderKind::WechatV2,
                mch_id: mch_id.clone(),
                name: "Main".into(),
                credentials: SecretString::from("{}"),
                summary: CredentialsSummary {
                    mch_id,
                    appid: None,
                    merchant_serial: None,
                    certificate_not_after: None,
                },
            },
        )
        .await
        .unwrap()
        .channel;
    let order = store
        .orders()
        .create(
            &audit(),
            &tenant.id,
            &NewOrder {
                appid,
                channel_id: channel.id.clone(),
                out_trade_no: "ORDER-1".parse::<OutTradeNo>().unwrap(),
                amount: Money::from_fen(100).unwrap(),
                description: "Coffee".into(),
                attach: None,
                trade_type: OrderTradeType::Native,
                payer_openid: None,
                client_ip: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    Shop {
        _dir: dir,
        store,
        channel,
        order,
    }
}

fn paid() -> PaymentStatus {
    PaymentStatus {
        appid: APPID.parse().unwrap(),
        mch_id: MCH.parse().unwrap(),
        out_trade_no: "ORDER-1".parse().unwrap(),
        transaction_id: Some("4200000000000000000000000001".parse().unwrap()),
        trade_state: TradeState::Success,
        total: Some(Money::from_fen(100).unwrap()),
        payer_total: None,
        payer: None,
        success_time: None,
        attach: None,
    }
}

async fn moved(shop: &Shop, from: OrderState, to: OrderState) {
    shop.store
        .orders()
        .transition(&shop.order.tenant_id, &shop.order.id, from, to, "test")
        .await
        .unwrap();
}

async fn state_now(shop: &Shop) -> OrderState {
    shop.store
        .orders()
        .get_order(&shop.order.tenant_id, &shop.order.id)
        .await
        .unwrap()
        .state
}

async fn apply(shop: &Shop, snapshot: &Order) -> ConvergeOutcome {
    apply_payment_status(&shop.store, snapshot, &shop.channel, &paid(), "query", None)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_current_copy_transitions_from_its_own_state() {
    let shop = shop().await;
    let outcome = apply(&shop, &shop.order).await;
    assert_eq!(
        outcome,
        ConvergeOutcome::Transitioned {
            from: "CREATED",
            to: "PAID",
            event: event_type::PAYMENT_SUCCEEDED
        }
    );
    assert_eq!(state_now(&shop).await, OrderState::Paid);
}

#[tokio::test]
async fn a_copy_behind_another_move_decides_on_the_current_row() {
    let shop = shop().await;
    moved(&shop, OrderState::Created, OrderState::Pending).await;
    // The copy still says CREATED: the transition is recorded from the real state.
    let outcome = apply(&shop, &shop.order).await;
    assert_eq!(
        outcome,
        ConvergeOutcome::Transitioned {
            from: "PENDING",
            to: "PAID",
            event: event_type::PAYMENT_SUCCEEDED
        }
    );
    assert_eq!(state_now(&shop).await, OrderState::Paid);
}

#[tokio::test]
async fn a_copy_behind_the_same_transition_changes_nothing() {
    let shop = shop().await;
    moved(&shop, OrderState::Created, OrderState::Paid).await;
    assert_eq!(apply(&shop, &shop.order).await, ConvergeOutcome::Unchanged);
    assert_eq!(state_now(&shop).await, OrderState::Paid);
}

#[tokio::test]
async fn a_copy_behind_a_close_raises_the_conflict_and_moves_nothing() {
    let shop = shop().await;
    moved(&shop, OrderState::Created, OrderState::Closed).await;
    assert_eq!(
        apply(&shop, &shop.order).await,
        ConvergeOutcome::Alerted {
            kind: alert_kind::STATE_CONFLICT
        }
    );
    assert_eq!(state_now(&shop).await, OrderState::Closed);
}

/// A payment notification from WeChat, as the notify path records it.
fn notification(key: &str, shop: &Shop) -> paygate_store::NewNotification {
    paygate_store::NewNotification {
        tenant_id: shop.order.tenant_id.clone(),
        channel_id: shop.channel.id.clone(),
        kind: paygate_store::NotificationKind::Payment,
        dedupe_key: key.into(),
        verified: true,
        outcome: "received".into(),
        raw_body: b"<xml/>".to_vec(),
    }
}

/// The outcome stored for the notification `key`.
async fn stored_outcome(shop: &Shop, key: &str) -> String {
    let page = shop
        .store
        .activity()
        .notifications(&shop.order.tenant_id, &paygate_store::Page::first())
        .await
        .unwrap();
    let found: Vec<_> = page.data.iter().filter(|n| n.dedupe_key == key).collect();
    assert_eq!(found.len(), 1, "one notification {key}");
    found[0].outcome.clone()
}

async fn notify(
    shop: &Shop,
    snapshot: &Order,
    status: &PaymentStatus,
    key: &str,
) -> ConvergeOutcome {
    let n = notification(key, shop);
    apply_payment_status(
        &shop.store,
        snapshot,
        &shop.channel,
        status,
        "notify",
        Some(&n),
    )
    .await
    .unwrap()
}

// The notification is stored with the outcome its transition is expected to have; these
// check that the stored outcome is the real one whichever way the decision goes.
#[tokio::test]
async fn an_applied_notification_is_stored_as_applied() {
    let shop = shop().await;
    let outcome = notify(&shop, &shop.order, &paid(), "ev-1").await;
    assert_eq!(outcome.label(), "applied");
    assert_eq!(stored_outcome(&shop, "ev-1").await, "applied");
    // Its redelivery is a duplicate and leaves the stored outcome alone.
    let again = notify(&shop, &shop.order, &paid(), "ev-1").await;
    assert_eq!(again, ConvergeOutcome::Duplicate);
    assert_eq!(stored_outcome(&shop, "ev-1").await, "applied");
}

#[tokio::test]
async fn a_notification_expected_to_apply_but_conflicting_is_stored_as_the_conflict() {
    let shop = shop().await;
    moved(&shop, OrderState::Created, OrderState::Closed).await;
    // The copy says CREATED, so SUCCESS is expected to apply; the row is CLOSED.
    let outcome = notify(&shop, &shop.order, &paid(), "ev-2").await;
    assert_eq!(outcome.label(), alert_kind::STATE_CONFLICT);
    assert_eq!(
        stored_outcome(&shop, "ev-2").await,
        alert_kind::STATE_CONFLICT
    );
}

#[tokio::test]
async fn a_notification_expected_to_apply_but_already_applied_is_stored_as_unchanged() {
    let shop = shop().await;
    moved(&shop, OrderState::Created, OrderState::Paid).await;
    let outcome = notify(&shop, &shop.order, &paid(), "ev-3").await;
    assert_eq!(outcome, ConvergeOutcome::Unchanged);
    assert_eq!(stored_outcome(&shop, "ev-3").await, "unchanged");
}

#[tokio::test]
async fn a_notification_with_the_wrong_amount_is_stored_as_the_mismatch() {
    let shop = shop().await;
    let wrong = PaymentStatus {
        total: Some(Money::from_fen(99).unwrap()),
        ..paid()
    };
    let outcome = notify(&shop, &shop.order, &wrong, "ev-4").await;
    assert_eq!(outcome.label(), alert_kind::AMOUNT_MISMATCH);
    assert_eq!(
        stored_outcome(&shop, "ev-4").await,
        alert_kind::AMOUNT_MISMATCH
    );
    assert_eq!(state_now(&shop).await, OrderState::Created);
}
