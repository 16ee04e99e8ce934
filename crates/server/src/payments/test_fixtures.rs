//! Values shared by the unit tests of the payment rules.

use paygate_core::{Money, OrderState, PlatformId};
use paygate_store::{Order, OrderTradeType};
use time::OffsetDateTime;

pub const NOW: i64 = 1_767_225_600;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

/// A `CREATED` order of 100 fen, unbound, expiring in two hours.
pub fn order() -> Order {
    Order {
        id: paygate_core::OrderId::from_parts(1, 1),
        tenant_id: paygate_core::TenantId::from_parts(1, 1),
        appid: "wx1111111111111111".parse().unwrap(),
        channel_id: "ch_1".parse().unwrap(),
        out_trade_no: "order-0001".parse().unwrap(),
        amount: Money::from_fen(100).unwrap(),
        currency: "CNY".into(),
        description: "x".into(),
        attach: None,
        trade_type: OrderTradeType::Jsapi,
        state: OrderState::Created,
        payer_openid: None,
        prepay_id: None,
        prepay_expires_at: None,
        code_url: None,
        transaction_id: None,
        client_ip: None,
        expires_at: Some(now() + time::Duration::hours(2)),
        paid_at: None,
        refunded_amount: Money::ZERO,
        created_at: now(),
        updated_at: now(),
    }
}
