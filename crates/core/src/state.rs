//! Order and refund state machines, as explicit transition tables, and the refundable rule.
//!
//! A transition is asked for by its target state. The answer is [`Transition::Applied`] when the
//! table allows it, [`Transition::NoOp`] when the order is already there (WeChat repeats
//! notifications and a query may race a notification: repeating a transition must change
//! nothing), and [`IllegalTransition`] otherwise — for example a `PAID` notification for an order
//! that was `CLOSED`, which the server turns into an alert rather than a state change.

use serde::{Deserialize, Serialize};

use crate::Money;

/// Whether a requested transition changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state changes; record it in the history.
    Applied,
    /// Already in the target state; nothing to record, nothing to emit.
    NoOp,
}

/// A transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} transition from {from} to {to}")]
pub struct IllegalTransition {
    pub machine: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

/// The life of an order in paygate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    /// Created by the tenant; no prepay yet.
    Created,
    /// A prepay (or code_url) exists; the user may be paying.
    Pending,
    /// WeChat confirmed the payment.
    Paid,
    /// Closed before payment (by the tenant, or on expiry).
    Closed,
    /// WeChat reported the payment failed (e.g. the bank refused); the user may try again.
    PayError,
    /// Paid, and part of the amount refunded.
    PartiallyRefunded,
    /// Paid, and the whole amount refunded.
    Refunded,
}

use OrderState as O;

/// Every allowed `(from, to)` pair of orders. Anything absent is illegal.
const ORDER_TRANSITIONS: &[(OrderState, OrderState)] = &[
    (O::Created, O::Pending),
    (O::Created, O::Closed),
    // A query or notification can prove payment before paygate saw its own prepay succeed
    // (e.g. the prepay response was lost after WeChat created the order).
    (O::Created, O::Paid),
    (O::Pending, O::Paid),
    (O::Pending, O::Closed),
    (O::Pending, O::PayError),
    (O::PayError, O::Pending),
    (O::PayError, O::Paid),
    (O::PayError, O::Closed),
    (O::Paid, O::PartiallyRefunded),
    (O::Paid, O::Refunded),
    (O::PartiallyRefunded, O::Refunded),
];

impl OrderState {
    pub const ALL: [OrderState; 7] = [
        O::Created,
        O::Pending,
        O::Paid,
        O::Closed,
        O::PayError,
        O::PartiallyRefunded,
        O::Refunded,
    ];

    /// The stable name used in storage and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            O::Created => "CREATED",
            O::Pending => "PENDING",
            O::Paid => "PAID",
            O::Closed => "CLOSED",
            O::PayError => "PAY_ERROR",
            O::PartiallyRefunded => "PARTIALLY_REFUNDED",
            O::Refunded => "REFUNDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Decides a transition to `to` by the table.
    pub fn transition_to(self, to: OrderState) -> Result<Transition, IllegalTransition> {
        if self == to {
            return Ok(Transition::NoOp);
        }
        if ORDER_TRANSITIONS.contains(&(self, to)) {
            Ok(Transition::Applied)
        } else {
            Err(IllegalTransition {
                machine: "order",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }

    /// Money has moved for this order (it may be refunded).
    pub fn is_paid(self) -> bool {
        matches!(self, O::Paid | O::PartiallyRefunded | O::Refunded)
    }

    /// No transition leaves this state.
    pub fn is_terminal(self) -> bool {
        !ORDER_TRANSITIONS.iter().any(|(from, _)| *from == self)
    }
}

/// The life of one refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundState {
    /// Accepted by WeChat; money not yet moved. Counts against what is left to refund.
    Processing,
    /// Money returned.
    Success,
    /// Returning failed (e.g. the user's card was cancelled); needs manual handling.
    Abnormal,
    /// Closed without moving money.
    Closed,
}

use RefundState as R;

/// Every allowed `(from, to)` pair of refunds.
const REFUND_TRANSITIONS: &[(RefundState, RefundState)] = &[
    (R::Processing, R::Success),
    (R::Processing, R::Abnormal),
    (R::Processing, R::Closed),
    // An abnormal refund can still be completed by hand in the merchant portal, after which
    // WeChat reports SUCCESS; or it is given up and closed.
    (R::Abnormal, R::Success),
    (R::Abnormal, R::Closed),
];

impl RefundState {
    pub const ALL: [RefundState; 4] = [R::Processing, R::Success, R::Abnormal, R::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            R::Processing => "PROCESSING",
            R::Success => "SUCCESS",
            R::Abnormal => "ABNORMAL",
            R::Closed => "CLOSED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn transition_to(self, to: RefundState) -> Result<Transition, IllegalTransition> {
        if self == to {
            return Ok(Transition::NoOp);
        }
        if REFUND_TRANSITIONS.contains(&(self, to)) {
            Ok(Transition::Applied)
        } else {
            Err(IllegalTransition {
                machine: "refund",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }

    /// Whether this refund's amount is reserved against the order (PROCESSING) or spent
    /// (SUCCESS). ABNORMAL and CLOSED release it.
    pub fn holds_amount(self) -> bool {
        matches!(self, R::Processing | R::Success)
    }
}

/// Why a refund of a given amount cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundableError {
    #[error("the order is not paid")]
    NotPaid,
    #[error("a refund must be at least 1 fen")]
    Zero,
    #[error("refund of {requested} exceeds the {available} still refundable")]
    Exceeds { requested: Money, available: Money },
}

/// What is left to refund: `paid − Σ(SUCCESS) − Σ(PROCESSING)`; ABNORMAL and CLOSED release.
///
/// Returns `None` when the existing refunds already exceed the paid amount (corrupt data; the
/// caller must refuse and alert rather than guess).
pub fn refundable_amount(
    paid: Money,
    refunds: impl IntoIterator<Item = (RefundState, Money)>,
) -> Option<Money> {
    refunds
        .into_iter()
        .filter(|(state, _)| state.holds_amount())
        .try_fold(paid, |left, (_, amount)| left.checked_sub(amount))
}

/// Checks that `requested` may be refunded from an order in `state` paid `paid`, given its
/// existing refunds. The caller runs this inside the transaction that inserts the refund.
pub fn check_refund(
    state: OrderState,
    paid: Money,
    refunds: impl IntoIterator<Item = (RefundState, Money)>,
    requested: Money,
) -> Result<(), RefundableError> {
    if !matches!(state, O::Paid | O::PartiallyRefunded) {
        return Err(RefundableError::NotPaid);
    }
    if requested.is_zero() {
        return Err(RefundableError::Zero);
    }
    let available = refundable_amount(paid, refunds).unwrap_or(Money::ZERO);
    if requested > available {
        return Err(RefundableError::Exceeds {
            requested,
            available,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(fen: i64) -> Money {
        Money::from_fen(fen).unwrap_or_default()
    }

    #[test]
    fn the_order_table_is_exactly_this() {
        let mut allowed = Vec::new();
        for from in OrderState::ALL {
            for to in OrderState::ALL {
                if from.transition_to(to) == Ok(Transition::Applied) {
                    allowed.push(format!("{}->{}", from.as_str(), to.as_str()));
                }
            }
        }
        assert_eq!(
            allowed,
            [
                "CREATED->PENDING",
                "CREATED->PAID",
                "CREATED->CLOSED",
                "PENDING->PAID",
                "PENDING->CLOSED",
                "PENDING->PAY_ERROR",
                "PAID->PARTIALLY_REFUNDED",
                "PAID->REFUNDED",
                "PAY_ERROR->PENDING",
                "PAY_ERROR->PAID",
                "PAY_ERROR->CLOSED",
                "PARTIALLY_REFUNDED->REFUNDED",
            ]
        );
    }

    #[test]
    fn repeats_are_no_ops_and_illegal_is_typed() {
        for s in OrderState::ALL {
            assert_eq!(s.transition_to(s), Ok(Transition::NoOp));
        }
        assert_eq!(
            O::Closed.transition_to(O::Paid),
            Err(IllegalTransition {
                machine: "order",
                from: "CLOSED",
                to: "PAID"
            })
        );
        assert!(O::Paid.transition_to(O::Closed).is_err());
        assert!(O::Refunded.transition_to(O::Paid).is_err());
        assert!(O::Closed.is_terminal() && O::Refunded.is_terminal());
        assert!(!O::Paid.is_terminal());
    }

    #[test]
    fn refund_table() {
        assert_eq!(
            R::Processing.transition_to(R::Success),
            Ok(Transition::Applied)
        );
        assert_eq!(R::Success.transition_to(R::Success), Ok(Transition::NoOp));
        assert!(R::Success.transition_to(R::Processing).is_err());
        assert!(R::Closed.transition_to(R::Success).is_err());
        assert!(R::Success.transition_to(R::Closed).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        for s in RefundState::ALL {
            assert_eq!(RefundState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn refundable_rule() {
        let refunds = [
            (R::Success, m(30)),
            (R::Processing, m(20)),
            (R::Abnormal, m(10)),
            (R::Closed, m(15)),
        ];
        assert_eq!(refundable_amount(m(100), refunds), Some(m(50)));
        assert_eq!(refundable_amount(m(100), []), Some(m(100)));
        assert_eq!(refundable_amount(m(10), [(R::Success, m(11))]), None);

        assert_eq!(check_refund(O::Paid, m(100), refunds, m(50)), Ok(()));
        assert_eq!(
            check_refund(O::Paid, m(100), refunds, m(51)),
            Err(RefundableError::Exceeds {
                requested: m(51),
                available: m(50)
            })
        );
        assert_eq!(
            check_refund(O::Pending, m(100), [], m(1)),
            Err(RefundableError::NotPaid)
        );
        assert_eq!(
            check_refund(O::Refunded, m(100), [], m(1)),
            Err(RefundableError::NotPaid)
        );
        assert_eq!(
            check_refund(O::Paid, m(100), [], m(0)),
            Err(RefundableError::Zero)
        );
    }

    fn refund_state() -> impl Strategy<Value = RefundState> {
        prop::sample::select(RefundState::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn accepted_refunds_never_exceed_paid(
            paid in 0i64..10_000,
            requests in prop::collection::vec((1i64..5_000, refund_state()), 0..30),
        ) {
            let mut refunds: Vec<(RefundState, Money)> = Vec::new();
            for (amount, settles_as) in requests {
                if check_refund(O::Paid, m(paid), refunds.iter().copied(), m(amount)).is_ok() {
                    refunds.push((settles_as, m(amount)));
                }
            }
            let held: i64 = refunds.iter().filter(|(s, _)| s.holds_amount()).map(|(_, a)| a.fen()).sum();
            prop_assert!(held <= paid);
        }
    }
}
