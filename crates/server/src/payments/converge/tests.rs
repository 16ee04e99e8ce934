use paygate_core::{AppId, MchId, OrderState as O, OutTradeNo, RefundState as R, TradeState as T};
use paygate_store::OrderTradeType;
use time::OffsetDateTime;

use super::*;

const ALL_TRADE: [TradeState; 8] = [
    T::Success,
    T::Refund,
    T::NotPay,
    T::Closed,
    T::Revoked,
    T::UserPaying,
    T::PayError,
    T::Accept,
];

fn fen(n: i64) -> Money {
    Money::from_fen(n).unwrap()
}

fn order(amount: i64) -> Order {
    let at = OffsetDateTime::UNIX_EPOCH;
    Order {
        id: "ord_01JD2Z6V3KQ8X4M7R9T0B1C2D3".parse().unwrap(),
        tenant_id: "ten_01JD2Z6V3KQ8X4M7R9T0B1C2D3".parse().unwrap(),
        appid: "wx1111111111111111".parse().unwrap(),
        channel_id: "ch_01JD2Z6V3KQ8X4M7R9T0B1C2D3".parse().unwrap(),
        out_trade_no: "ORDER20240001".parse().unwrap(),
        amount: fen(amount),
        currency: "CNY".into(),
        description: "d".into(),
        attach: None,
        trade_type: OrderTradeType::Native,
        state: O::Pending,
        payer_openid: None,
        prepay_id: None,
        prepay_expires_at: None,
        code_url: None,
        transaction_id: None,
        client_ip: None,
        expires_at: None,
        paid_at: None,
        refunded_amount: Money::ZERO,
        created_at: at,
        updated_at: at,
    }
}

fn status(appid: &str, mch_id: &str, total: Option<i64>, trade: TradeState) -> PaymentStatus {
    PaymentStatus {
        appid: appid.parse::<AppId>().unwrap(),
        mch_id: mch_id.parse::<MchId>().unwrap(),
        out_trade_no: "ORDER20240001".parse::<OutTradeNo>().unwrap(),
        transaction_id: None,
        trade_state: trade,
        total: total.map(fen),
        payer_total: None,
        payer: None,
        success_time: None,
        attach: None,
    }
}

const APPID: &str = "wx1111111111111111";
const MCH: &str = "1230000109";

#[test]
fn a_matching_report_passes_the_checks() {
    let o = order(100);
    assert_eq!(
        check_payment(&o, MCH, &status(APPID, MCH, Some(100), T::Success)),
        Ok(())
    );
    // Unpaid reports may omit the total.
    assert_eq!(
        check_payment(&o, MCH, &status(APPID, MCH, None, T::NotPay)),
        Ok(())
    );
}

#[test]
fn each_mismatch_has_its_alert_kind() {
    let o = order(100);
    let kind = |s: &PaymentStatus| check_payment(&o, MCH, s).unwrap_err().kind;
    assert_eq!(
        kind(&status("wx2222222222222222", MCH, Some(100), T::Success)),
        alert_kind::APPID_MISMATCH
    );
    assert_eq!(
        kind(&status(APPID, "1230000110", Some(100), T::Success)),
        alert_kind::MCHID_MISMATCH
    );
    assert_eq!(
        kind(&status(APPID, MCH, Some(99), T::Success)),
        alert_kind::AMOUNT_MISMATCH
    );
    assert_eq!(
        kind(&status(APPID, MCH, Some(101), T::NotPay)),
        alert_kind::AMOUNT_MISMATCH
    );
    // A success without a total cannot prove the amount.
    assert_eq!(
        kind(&status(APPID, MCH, None, T::Success)),
        alert_kind::AMOUNT_MISMATCH
    );
}

fn expected(current: OrderState, trade: TradeState) -> PaymentDecision {
    use PaymentDecision::{Conflict, Nothing, Transition};
    let to_paid = Transition {
        to: O::Paid,
        event: event_type::PAYMENT_SUCCEEDED,
    };
    let to_closed = Transition {
        to: O::Closed,
        event: event_type::ORDER_CLOSED,
    };
    let paid = matches!(current, O::Paid | O::PartiallyRefunded | O::Refunded);
    match (trade, current) {
        (T::NotPay | T::UserPaying | T::Accept, _) => Nothing,
        (T::Success | T::Refund, O::Created | O::Pending | O::PayError) => to_paid,
        (T::Success | T::Refund, O::Closed) => Conflict,
        (T::Success | T::Refund, _) => Nothing,
        (T::Closed | T::Revoked, O::Created | O::Pending | O::PayError) => to_closed,
        (T::Closed | T::Revoked, O::Closed) => Nothing,
        (T::Closed | T::Revoked, _) => Conflict,
        (T::PayError, O::Pending) => Transition {
            to: O::PayError,
            event: event_type::PAYMENT_FAILED,
        },
        (T::PayError, _) if paid => Conflict,
        (T::PayError, _) => Nothing,
    }
}

#[test]
fn every_trade_state_against_every_order_state() {
    for current in OrderState::ALL {
        for trade in ALL_TRADE {
            let got = decide_payment(current, trade);
            assert_eq!(got, expected(current, trade), "{current:?} × {trade:?}");
            // Whatever is decided must be a legal move of the order state machine.
            if let PaymentDecision::Transition { to, .. } = got {
                assert_eq!(
                    current.transition_to(to),
                    Ok(paygate_core::Transition::Applied),
                    "{current:?} → {to:?}"
                );
            }
        }
    }
}

#[test]
fn refund_decisions() {
    use RefundDecision::{Conflict, Nothing, Transition};
    assert_eq!(
        decide_refund(R::Processing, R::Success),
        Transition {
            to: R::Success,
            event: event_type::REFUND_SUCCEEDED
        }
    );
    for failed in [R::Abnormal, R::Closed] {
        assert_eq!(
            decide_refund(R::Processing, failed),
            Transition {
                to: failed,
                event: event_type::REFUND_FAILED
            }
        );
    }
    for current in RefundState::ALL {
        assert_eq!(decide_refund(current, current), Nothing);
        if current != R::Processing {
            assert_eq!(decide_refund(current, R::Processing), Nothing);
        }
    }
    assert_eq!(decide_refund(R::Success, R::Closed), Conflict);
    assert_eq!(decide_refund(R::Closed, R::Success), Conflict);
    assert_eq!(
        decide_refund(R::Abnormal, R::Success),
        Transition {
            to: R::Success,
            event: event_type::REFUND_SUCCEEDED
        }
    );
}

#[test]
fn refunded_amount_moves_the_order() {
    assert_eq!(refunded_order_state(fen(100), Money::ZERO), O::Paid);
    assert_eq!(refunded_order_state(fen(100), fen(1)), O::PartiallyRefunded);
    assert_eq!(
        refunded_order_state(fen(100), fen(99)),
        O::PartiallyRefunded
    );
    assert_eq!(refunded_order_state(fen(100), fen(100)), O::Refunded);
}
