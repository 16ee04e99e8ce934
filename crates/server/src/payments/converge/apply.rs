//! Carrying out convergence decisions, one transaction each.
//!
//! The order is read and locked inside the transaction (PostgreSQL `FOR UPDATE`; SQLite
//! transactions hold the write lock from `BEGIN IMMEDIATE`), the decision is taken on that
//! state, and the compare-and-set transition, its history row, the outbox event and the
//! notification's dedupe row commit together. Concurrent callers therefore serialise per
//! order, and the loser decides on the winner's result (usually: nothing left to do).
//!
//! On PostgreSQL the common case of a payment notification (new, and its transition applies
//! to the order as the caller read it) is one statement instead ([`notified_in_one`]); it
//! commits only what this module would have committed, or nothing, and then the general
//! path runs.

use paygate_core::{OrderState, PaymentStatus, RefundStatus, Transition};
use paygate_store::{
    AlertSeverity, Channel, NewAlert, NewNotification, Order, OrderChange, Recorded, Refund,
    RefundChange, Store, StoreError, StoreTx,
};

use super::{
    Mismatch, PaymentDecision, RefundDecision, alert_kind, check_payment, decide_payment,
    decide_refund, event_type,
};
use crate::admin::view_models::{OrderView, RefundView};

/// What convergence did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvergeOutcome {
    /// The notification was seen before: nothing was done again.
    Duplicate,
    /// Nothing to change (already there, or WeChat's report is not final).
    Unchanged,
    /// The order (or refund) moved from `from` to `to` and `event` was appended.
    Transitioned {
        from: &'static str,
        to: &'static str,
        event: &'static str,
    },
    /// WeChat's report could not be applied; an alert of `kind` was committed.
    Alerted { kind: &'static str },
    /// WeChat's report could not be applied, for a reason already alerted (the same finding
    /// on a re-query): no new alert.
    AlreadyAlerted { kind: &'static str },
}

impl ConvergeOutcome {
    /// The metrics label and stored notification outcome.
    pub fn label(&self) -> &'static str {
        match self {
            ConvergeOutcome::Duplicate => "duplicate",
            ConvergeOutcome::Unchanged => "unchanged",
            ConvergeOutcome::Transitioned { .. } => APPLIED,
            ConvergeOutcome::Alerted { kind } | ConvergeOutcome::AlreadyAlerted { kind } => kind,
        }
    }
}

/// Why convergence could not commit; the caller must not acknowledge a notification.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not build an event payload: {0}")]
    Payload(#[from] serde_json::Error),
}

impl ConvergeError {
    pub fn code(&self) -> &'static str {
        match self {
            ConvergeError::Store(e) => e.code(),
            ConvergeError::Payload(_) => "event_payload",
        }
    }
}

/// A notification stored in the open transaction, with the outcome it was stored with.
struct Stored {
    id: paygate_core::NotificationId,
    outcome: &'static str,
}

/// Opens the transaction and records the notification first, with `expected` as its outcome
/// (what the caller will most likely make of it; [`finish`] corrects it otherwise, before
/// the commit, so the stored outcome is always the final one). `None` means a duplicate.
async fn open(
    store: &Store,
    notification: Option<&NewNotification>,
    expected: &'static str,
) -> Result<Option<(StoreTx, Option<Stored>)>, StoreError> {
    let mut tx = store.begin().await?;
    let stored = match notification {
        None => None,
        Some(n) => {
            let n = NewNotification {
                outcome: expected.to_owned(),
                ..n.clone()
            };
            match tx.record_notification(&n).await? {
                Recorded::Duplicate => return Ok(None),
                Recorded::Inserted(id) => Some(Stored {
                    id,
                    outcome: expected,
                }),
            }
        }
    };
    Ok(Some((tx, stored)))
}

/// Stores what was made of the notification, unless it was stored with that outcome already
/// (the common case: one statement fewer), then commits.
async fn finish(
    mut tx: StoreTx,
    order: &Order,
    notification: Option<Stored>,
    outcome: ConvergeOutcome,
) -> Result<ConvergeOutcome, ConvergeError> {
    if let Some(stored) = notification
        && stored.outcome != outcome.label()
    {
        tx.set_notification_outcome(&order.tenant_id, &stored.id, outcome.label())
            .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// The outcome label of a transition (see [`ConvergeOutcome::label`]).
const APPLIED: &str = "applied";
/// The outcome label stored before anything is decided.
const RECEIVED: &str = "received";

/// Applies WeChat's report on a payment to `order`, recording `notification` (if any) in the
/// same transaction. `cause` goes to the history row (`notify`, `query`, `reconcile`).
///
/// `channel` is the one the caller holds (the notification's, or the one it queried through):
/// WeChat's `mch_id` is checked against it when it is the order's channel, which it almost
/// always is; otherwise the order's own channel is read.
pub async fn apply_payment_status(
    store: &Store,
    order: &Order,
    channel: &Channel,
    status: &PaymentStatus,
    cause: &str,
    notification: Option<&NewNotification>,
) -> Result<ConvergeOutcome, ConvergeError> {
    let read;
    let channel = if channel.tenant_id == order.tenant_id && channel.id == order.channel_id {
        channel
    } else {
        read = store
            .channels()
            .lookup(&order.tenant_id, &order.channel_id)
            .await?;
        &read
    };
    let checked = check_payment(order, channel.mch_id.as_str(), status);
    let decision = decide_payment(order.state, status.trade_state);
    let change = OrderChange {
        cause: cause.to_owned(),
        transaction_id: status
            .transaction_id
            .as_ref()
            .map(|t| t.as_str().to_owned()),
        paid_at: status.success_time,
        payer_openid: status.payer.clone(),
    };
    let expected = match (&checked, decision, notification) {
        (Ok(()), PaymentDecision::Transition { to, event }, Some(n)) => {
            if let Some(done) = notified_in_one(store, order, to, event, &change, n).await? {
                return Ok(done);
            }
            APPLIED
        }
        (Ok(()), PaymentDecision::Transition { .. }, None) => APPLIED,
        _ => RECEIVED,
    };
    let Some((mut tx, recorded)) = open(store, notification, expected).await? else {
        return Ok(ConvergeOutcome::Duplicate);
    };
    // A query finds the same thing on every re-query; a notification is deduplicated by its
    // own key already.
    let finding = |kind: &str| {
        notification
            .is_none()
            .then(|| format!("{kind}:{}:{:?}", order.id, status.trade_state))
    };
    if let Err(mismatch) = checked {
        let outcome = raise(&mut tx, order, &mismatch, finding(mismatch.kind)).await?;
        return finish(tx, order, recorded, outcome).await;
    }
    // The order as the caller read it is almost always the order as it is: when it calls for
    // a transition, the compare-and-set from its state proves that without reading the row
    // again. Only a lost race (the state moved meanwhile) decides again on the locked row.
    if let PaymentDecision::Transition { to, event } = decision {
        match transition(&mut tx, order, to, &change, event).await {
            Err(ConvergeError::Store(StoreError::StateMismatch { .. })) => {}
            done => return finish(tx, order, recorded, done?).await,
        }
    }
    let current = tx.lock_order(&order.tenant_id, &order.id).await?;
    let outcome = match decide_payment(current.state, status.trade_state) {
        PaymentDecision::Nothing => ConvergeOutcome::Unchanged,
        PaymentDecision::Conflict => {
            let mismatch = Mismatch {
                kind: alert_kind::STATE_CONFLICT,
                message: format!(
                    "WeChat reports {:?} for an order that is {}",
                    status.trade_state,
                    current.state.as_str()
                ),
            };
            raise(&mut tx, order, &mismatch, finding(mismatch.kind)).await?
        }
        PaymentDecision::Transition { to, event } => {
            transition(&mut tx, &current, to, &change, event).await?
        }
    };
    finish(tx, order, recorded, outcome).await
}

/// The common case of a payment notification on PostgreSQL: a new notification whose
/// transition applies to the order exactly as the caller read it is stored, applied, and its
/// event appended in one statement (see the store's `Orders::apply_notified`). `None`:
/// nothing was written (SQLite, a duplicate, or a row that moved or changed), and the general
/// path decides as always.
async fn notified_in_one(
    store: &Store,
    order: &Order,
    to: OrderState,
    event: &'static str,
    change: &OrderChange,
    notification: &NewNotification,
) -> Result<Option<ConvergeOutcome>, ConvergeError> {
    let orders = store.orders();
    let Some(plan) = orders.plan_notified(order, to, change)? else {
        return Ok(None);
    };
    let payload = serde_json::to_value(OrderView::from(plan.after.clone()))?;
    let notification = NewNotification {
        outcome: APPLIED.to_owned(),
        ..notification.clone()
    };
    if !orders
        .apply_notified(&plan, &notification, event, &payload)
        .await?
    {
        return Ok(None);
    }
    Ok(Some(ConvergeOutcome::Transitioned {
        from: order.state.as_str(),
        to: to.as_str(),
        event,
    }))
}

/// Closes an order locally (after WeChat closed it, or it never reached WeChat), with
/// `order.closed`. An order that moved on meanwhile (e.g. became `PAID`) is left alone.
pub async fn close_locally(
    store: &Store,
    order: &Order,
    cause: &str,
) -> Result<ConvergeOutcome, ConvergeError> {
    let mut tx = store.begin().await?;
    let current = tx.lock_order(&order.tenant_id, &order.id).await?;
    if current.state.transition_to(OrderState::Closed) != Ok(Transition::Applied) {
        return Ok(ConvergeOutcome::Unchanged);
    }
    let change = OrderChange::cause(cause);
    let outcome = transition(
        &mut tx,
        &current,
        OrderState::Closed,
        &change,
        event_type::ORDER_CLOSED,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The compare-and-set from `current`'s state (the locked order, or on the optimistic path the
/// order as the caller read it), and its event with the order as it now is.
async fn transition(
    tx: &mut StoreTx,
    current: &Order,
    to: OrderState,
    change: &OrderChange,
    event: &'static str,
) -> Result<ConvergeOutcome, ConvergeError> {
    let Some(after) = tx
        .transition_order_returning(&current.tenant_id, &current.id, current.state, to, change)
        .await?
    else {
        return Ok(ConvergeOutcome::Unchanged);
    };
    let payload = serde_json::to_value(OrderView::from(after))?;
    tx.append_event(&current.tenant_id, event, &payload, Some(&current.id))
        .await?;
    Ok(ConvergeOutcome::Transitioned {
        from: current.state.as_str(),
        to: to.as_str(),
        event,
    })
}

/// Raises the alert of `mismatch` unless `dedupe_key` was alerted before; logs (and lets the
/// caller count) only a new one.
async fn raise(
    tx: &mut StoreTx,
    order: &Order,
    mismatch: &Mismatch,
    dedupe_key: Option<String>,
) -> Result<ConvergeOutcome, StoreError> {
    let raised = tx
        .raise_alert(&NewAlert {
            tenant_id: Some(order.tenant_id.clone()),
            kind: mismatch.kind.to_owned(),
            severity: AlertSeverity::Critical,
            message: mismatch.message.clone(),
            details: serde_json::json!({
                "order_id": order.id.as_str(),
                "out_trade_no": order.out_trade_no.as_str(),
            }),
            dedupe_key,
        })
        .await?;
    let kind = mismatch.kind;
    if raised.is_none() {
        return Ok(ConvergeOutcome::AlreadyAlerted { kind });
    }
    tracing::warn!(
        alert = kind,
        tenant_id = %order.tenant_id,
        order_id = %order.id,
        "{}", mismatch.message
    );
    Ok(ConvergeOutcome::Alerted { kind })
}

/// What a refund report is about.
#[derive(Debug, Clone)]
pub struct RefundTarget {
    pub order: Order,
    pub refund: Refund,
}

/// Applies WeChat's report on a refund. On SUCCESS the store adds the amount to the order's
/// refunded amount and moves the order to `PARTIALLY_REFUNDED` / `REFUNDED` in the same
/// transaction.
pub async fn apply_refund_status(
    store: &Store,
    target: &RefundTarget,
    status: &RefundStatus,
    cause: &str,
    notification: Option<&NewNotification>,
) -> Result<ConvergeOutcome, ConvergeError> {
    let RefundTarget { order, refund } = target;
    let Some((mut tx, recorded)) = open(store, notification, RECEIVED).await? else {
        return Ok(ConvergeOutcome::Duplicate);
    };
    let finding = |kind: &str| {
        notification
            .is_none()
            .then(|| format!("{kind}:{}:{}", refund.id, status.state.as_str()))
    };
    if let Some(amount) = status.refund
        && amount != refund.amount
    {
        let mismatch = Mismatch {
            kind: alert_kind::AMOUNT_MISMATCH,
            message: format!(
                "WeChat reports a refund of {} fen for refund {} of {} fen",
                amount.fen(),
                refund.out_refund_no,
                refund.amount.fen()
            ),
        };
        let outcome = raise(&mut tx, order, &mismatch, finding(mismatch.kind)).await?;
        return finish(tx, order, recorded, outcome).await;
    }
    // Locks the order first (the store's lock order: order row, then refund row).
    tx.lock_order(&order.tenant_id, &order.id).await?;
    // With the order locked no other writer can move its refunds: this read is current.
    // Read through the transaction: a pool read would wait on this transaction's own lock
    // under SQLite.
    let current = tx.get_refund(&order.tenant_id, &refund.id).await?;
    let outcome = match decide_refund(current.state, status.state) {
        RefundDecision::Nothing => ConvergeOutcome::Unchanged,
        RefundDecision::Conflict => {
            let mismatch = Mismatch {
                kind: alert_kind::STATE_CONFLICT,
                message: format!(
                    "WeChat reports refund {} as {} but it is {}",
                    refund.out_refund_no,
                    status.state.as_str(),
                    current.state.as_str()
                ),
            };
            raise(&mut tx, order, &mismatch, finding(mismatch.kind)).await?
        }
        RefundDecision::Transition { to, event } => {
            let change = RefundChange {
                refund_id: status.refund_id.as_ref().map(|r| r.as_str().to_owned()),
                succeeded_at: status.success_time,
            };
            match tx
                .transition_refund(&order.tenant_id, &refund.id, to, &change)
                .await?
            {
                Transition::NoOp => ConvergeOutcome::Unchanged,
                Transition::Applied => {
                    tracing::info!(refund_id = %refund.id, to = to.as_str(), cause, "refund converged");
                    // The payload is the stored row, exactly as `GET /v1/refunds/{id}` shows it
                    // (UTC, millisecond times), not WeChat's report.
                    let after = tx.get_refund(&order.tenant_id, &refund.id).await?;
                    let payload = serde_json::to_value(RefundView::from(after))?;
                    tx.append_event(&order.tenant_id, event, &payload, Some(&order.id))
                        .await?;
                    ConvergeOutcome::Transitioned {
                        from: current.state.as_str(),
                        to: to.as_str(),
                        event,
                    }
                }
            }
        }
    };
    finish(tx, order, recorded, outcome).await
}
