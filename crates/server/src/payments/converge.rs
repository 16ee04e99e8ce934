//! Convergence: the ONE idempotent path by which what WeChat says about a payment or a refund
//! becomes paygate's state. Notifications, upstream queries and the reconciliation worker all
//! call [`apply_payment_status`] / [`apply_refund_status`], so the three can race on one order
//! and still end in a single consistent state: every change is a compare-and-set transition in
//! one transaction with its history row, its outbox event and (for notifications) the
//! notification's dedupe row.
//!
//! The decisions (what to do given the stored order and WeChat's report) are plain functions
//! ([`check_payment`], [`decide_payment`], [`decide_refund`]) with exhaustive unit tests; the
//! `apply_*` functions only carry them out. This module must never mark an order `PAID` whose
//! appid, mch_id or amount disagree with WeChat's report: a mismatch is an alert, nothing else.

use paygate_core::{Money, OrderState, PaymentStatus, RefundState, TradeState};
use paygate_store::Order;

mod apply;

pub use apply::{
    ConvergeError, ConvergeOutcome, RefundTarget, apply_payment_status, apply_refund_status,
    close_locally,
};

/// Outbox event types emitted by convergence.
pub mod event_type {
    pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
    pub const PAYMENT_FAILED: &str = "payment.failed";
    pub const ORDER_CLOSED: &str = "order.closed";
    pub const REFUND_SUCCEEDED: &str = "refund.succeeded";
    pub const REFUND_FAILED: &str = "refund.failed";
}

/// Alert kinds raised by convergence and by the notification handler.
pub mod alert_kind {
    pub const AMOUNT_MISMATCH: &str = "amount_mismatch";
    pub const APPID_MISMATCH: &str = "appid_mismatch";
    pub const MCHID_MISMATCH: &str = "mchid_mismatch";
    pub const UNKNOWN_ORDER: &str = "unknown_order";
    pub const UNKNOWN_REFUND: &str = "unknown_refund";
    /// WeChat reports a state the order's state machine cannot reach (e.g. paid after close).
    pub const STATE_CONFLICT: &str = "state_conflict";
    pub const UNVERIFIED_NOTIFICATION: &str = "unverified_notification";
}

/// Why WeChat's report cannot be applied to this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// One of [`alert_kind`]'s mismatch kinds.
    pub kind: &'static str,
    pub message: String,
}

/// Checks WeChat's report against the stored order: same appid, same merchant (the channel's
/// `mch_id`), and — when WeChat states one — the same total.
pub fn check_payment(
    order: &Order,
    channel_mch_id: &str,
    status: &PaymentStatus,
) -> Result<(), Mismatch> {
    if status.appid != order.appid {
        return Err(Mismatch {
            kind: alert_kind::APPID_MISMATCH,
            message: format!(
                "WeChat reports appid {} for an order of appid {}",
                status.appid.as_str(),
                order.appid.as_str()
            ),
        });
    }
    if status.mch_id.as_str() != channel_mch_id {
        return Err(Mismatch {
            kind: alert_kind::MCHID_MISMATCH,
            message: format!(
                "WeChat reports mch_id {} for a channel of mch_id {channel_mch_id}",
                status.mch_id.as_str()
            ),
        });
    }
    // A paid report must state its total; an unpaid one may omit it.
    let total = match (status.total, status.trade_state) {
        (Some(total), _) => Some(total),
        (None, TradeState::Success) => Some(Money::ZERO),
        (None, _) => None,
    };
    if let Some(total) = total
        && total != order.amount
    {
        return Err(Mismatch {
            kind: alert_kind::AMOUNT_MISMATCH,
            message: format!(
                "WeChat reports a total of {} fen for an order of {} fen",
                total.fen(),
                order.amount.fen()
            ),
        });
    }
    Ok(())
}

/// What to do with an order given WeChat's `trade_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentDecision {
    /// Nothing to record: the order is already there, or the report is not final.
    Nothing,
    /// Move the order to `to` and emit `event`.
    Transition { to: OrderState, event: &'static str },
    /// WeChat's report contradicts a final local state: alert, change nothing.
    Conflict,
}

/// The mapping `TradeState` × `OrderState` → decision.
///
/// `SUCCESS` (and `REFUND`, which implies the payment happened) → `PAID`; `CLOSED`/`REVOKED` →
/// `CLOSED`; `PAYERROR` → `PAY_ERROR` (from `PENDING` only: a `CREATED` order had no attempt
/// paygate knows of, so it waits for a final report); `NOTPAY`/`USERPAYING`/`ACCEPT` → nothing.
pub fn decide_payment(current: OrderState, trade: TradeState) -> PaymentDecision {
    use OrderState as O;
    use PaymentDecision::{Conflict, Nothing, Transition};
    let paid = current.is_paid();
    match trade {
        TradeState::NotPay | TradeState::UserPaying | TradeState::Accept => Nothing,
        TradeState::Success | TradeState::Refund => match current {
            _ if paid => Nothing,
            O::Closed => Conflict,
            _ => Transition {
                to: O::Paid,
                event: event_type::PAYMENT_SUCCEEDED,
            },
        },
        TradeState::Closed | TradeState::Revoked => match current {
            O::Closed => Nothing,
            _ if paid => Conflict,
            _ => Transition {
                to: O::Closed,
                event: event_type::ORDER_CLOSED,
            },
        },
        TradeState::PayError => match current {
            O::Pending => Transition {
                to: O::PayError,
                event: event_type::PAYMENT_FAILED,
            },
            _ if paid => Conflict,
            _ => Nothing,
        },
    }
}

/// What to do with a refund given WeChat's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundDecision {
    Nothing,
    /// Move the refund to `to` and emit `event`.
    Transition {
        to: RefundState,
        event: &'static str,
    },
    Conflict,
}

/// The refund mapping: `SUCCESS` → `refund.succeeded`; `ABNORMAL`/`CLOSED` → `refund.failed`
/// (both release the amount); a report of `PROCESSING` is no news.
pub fn decide_refund(current: RefundState, reported: RefundState) -> RefundDecision {
    match current.transition_to(reported) {
        Ok(paygate_core::Transition::NoOp) => RefundDecision::Nothing,
        Ok(paygate_core::Transition::Applied) => RefundDecision::Transition {
            to: reported,
            event: match reported {
                RefundState::Success => event_type::REFUND_SUCCEEDED,
                _ => event_type::REFUND_FAILED,
            },
        },
        // PROCESSING reported for a refund already final: WeChat's view lags; not a conflict.
        Err(_) if reported == RefundState::Processing => RefundDecision::Nothing,
        Err(_) => RefundDecision::Conflict,
    }
}

/// The order state after its SUCCESS refunds add up to `refunded` of `amount`.
pub fn refunded_order_state(amount: Money, refunded: Money) -> OrderState {
    if refunded >= amount {
        OrderState::Refunded
    } else if refunded.is_zero() {
        OrderState::Paid
    } else {
        OrderState::PartiallyRefunded
    }
}

#[cfg(test)]
mod stale_snapshot_tests;
#[cfg(test)]
mod tests;
