//! Refunds: reserve the amount in one transaction under the order's lock (the store checks
//! paid − (PROCESSING + SUCCESS) with `paygate_core::check_refund`), commit, then ask WeChat,
//! then converge WeChat's answer through [`converge::apply_refund_status`].
//!
//! Because the reservation commits before WeChat is called, concurrent refunds can never add
//! up to more than was paid. A refusal by WeChat closes the refund (releasing its amount); an
//! unknown outcome (timeout, busy) leaves it `PROCESSING` for the reconciliation worker to
//! query. The same `out_refund_no` and amount on the same order is an idempotent repeat.

use paygate_core::{Money, OrderId, OutRefundNo, ProviderError, RefundRequest, RefundState};
use paygate_store::{Audit, NewRefund, Refund, RefundChange, RefundCreated, Tenant};
use rand::Rng;
use time::OffsetDateTime;

use super::orders::{load_order, map_provider_error, provider_for};
use super::rules;
use crate::error::{ApiError, PaymentError};
use crate::payments::converge::{self, RefundTarget};
use crate::state::AppState;

/// WeChat v3's limit on a refund reason (v2 allows more).
pub const MAX_REASON_CHARS: usize = 80;

/// A refund request as the API received it.
#[derive(Debug, Clone)]
pub struct CreateRefund {
    pub amount: i64,
    pub reason: Option<String>,
    pub out_refund_no: Option<OutRefundNo>,
}

pub fn check_reason(reason: Option<&str>) -> Result<(), ApiError> {
    match reason {
        Some(r) if r.trim().is_empty() || r.chars().count() > MAX_REASON_CHARS => {
            Err(ApiError::invalid_field(
                "reason",
                format!("must be 1 to {MAX_REASON_CHARS} characters, not blank"),
            ))
        }
        Some(r) if r.chars().any(char::is_control) => Err(ApiError::invalid_field(
            "reason",
            "must not contain control characters",
        )),
        _ => Ok(()),
    }
}

/// A fresh 32-character `out_refund_no`: `rf`, Unix milliseconds, 17 random `[0-9a-z]`.
pub fn generate_out_refund_no(
    now: OffsetDateTime,
    rng: &mut impl Rng,
) -> Result<OutRefundNo, ApiError> {
    let trade = rules::generate_out_trade_no(now, rng)?;
    format!("rf{}", &trade.as_str()[2..])
        .parse()
        .map_err(|e| ApiError::internal(format!("generated out_refund_no: {e}")))
}

/// Whether WeChat definitely did not accept the refund (so its amount can be released).
fn definitely_refused(e: &ProviderError) -> bool {
    !matches!(
        e,
        ProviderError::RateLimited { .. }
            | ProviderError::Unavailable { .. }
            | ProviderError::Transport(_)
            | ProviderError::Verification(_)
            | ProviderError::Malformed(_)
    )
}

/// `POST /v1/orders/{order_id}/refunds`: the refund, and whether it was created now (`false`
/// for an idempotent repeat of the same `out_refund_no`).
pub async fn create_refund(
    state: &AppState,
    tenant: &Tenant,
    audit: &Audit,
    order_id: &OrderId,
    req: CreateRefund,
) -> Result<(Refund, bool), ApiError> {
    let amount: Money = rules::check_amount(req.amount)?;
    check_reason(req.reason.as_deref())?;
    let order = load_order(state, tenant, order_id).await?;
    let notify_url = state
        .settings()
        .refund_notify_url(&order.channel_id)
        .ok_or(ApiError::Payment(PaymentError::PaymentsNotConfigured))?;
    let (_, provider) = provider_for(state, tenant, &order.channel_id).await?;
    let out_refund_no = match req.out_refund_no {
        Some(n) => n,
        None => generate_out_refund_no(state.clock().now(), &mut rand::rng())?,
    };
    let new = NewRefund {
        out_refund_no: out_refund_no.clone(),
        amount,
        reason: req.reason.clone(),
    };
    let mut tx = state.store().begin().await?;
    let created = tx.create_refund(audit, &tenant.id, order_id, &new).await?;
    tx.commit().await?;
    let refund = match created {
        RefundCreated::Existing(existing) => return Ok((existing, false)),
        RefundCreated::New(refund) => refund,
    };

    let answer = provider
        .refund(RefundRequest {
            out_trade_no: order.out_trade_no.clone(),
            out_refund_no,
            total: order.amount,
            refund: amount,
            reason: req.reason,
            notify_url,
        })
        .await;
    let target = RefundTarget {
        order,
        refund: refund.clone(),
    };
    match answer {
        // Accepted and not settled yet: the refund is PROCESSING already.
        Ok(status) if status.state == RefundState::Processing => {}
        Ok(status) => {
            converge::apply_refund_status(state.store(), &target, &status, "refund", None)
                .await
                .map_err(|e| ApiError::internal(format!("refund converge: {e}")))?;
        }
        Err(e) if definitely_refused(&e) => {
            let mut tx = state.store().begin().await?;
            tx.transition_refund(
                &tenant.id,
                &refund.id,
                RefundState::Closed,
                &RefundChange::default(),
            )
            .await?;
            tx.commit().await?;
            return Err(map_provider_error(e));
        }
        Err(e) => {
            // Outcome unknown: the refund stays PROCESSING and the worker queries it.
            tracing::warn!(refund_id = %refund.id, error = %e, "refund outcome unknown");
        }
    }
    Ok((
        state.store().refunds().get(&tenant.id, &refund.id).await?,
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn reasons_and_generated_numbers() {
        assert!(check_reason(None).is_ok());
        assert!(check_reason(Some("damaged")).is_ok());
        assert!(check_reason(Some(&"字".repeat(80))).is_ok());
        assert!(check_reason(Some(&"字".repeat(81))).is_err());
        assert!(check_reason(Some(" ")).is_err());
        let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let n = generate_out_refund_no(now, &mut rng).unwrap();
        assert_eq!(n.as_str().len(), 32);
        assert!(n.as_str().starts_with("rf1767225600000"));
    }

    #[test]
    fn only_unknown_outcomes_keep_a_refund_processing() {
        assert!(definitely_refused(&ProviderError::InsufficientBalance));
        assert!(definitely_refused(&ProviderError::Rejected {
            code: "PARAM_ERROR".into(),
            message: String::new()
        }));
        assert!(!definitely_refused(&ProviderError::Transport("t".into())));
        assert!(!definitely_refused(&ProviderError::RateLimited {
            query_before_retry: true
        }));
    }
}
