//! Refunds: creation under the order's lock, state changes that carry the order along, and
//! the reconciliation worker's claims.
//!
//! The invariant kept here: the PROCESSING and SUCCESS refunds of an order never add up to
//! more than it was paid. [`StoreTx::create_refund`] checks it (with
//! `paygate_core::check_refund`) after locking the order row — PostgreSQL `FOR UPDATE`,
//! SQLite's `BEGIN IMMEDIATE` — so concurrent requests are serialised per order. ABNORMAL and
//! CLOSED release their amount. Every SUCCESS adds to the order's `refunded_amount` and moves
//! it PAID → PARTIALLY_REFUNDED → REFUNDED in the same transaction, with history.
//! Lock order is always order row, then refund row, so two writers cannot deadlock.

use paygate_core::{
    Money, OrderId, OrderState, OutRefundNo, RefundRecordId, RefundState, RefundableError,
    TenantId, Transition, check_refund,
};
use time::{Duration, OffsetDateTime};

use super::activity::{Refund, RefundRow};
use super::order_payments::{OrderChange, lock_order_in, transition_in};
use crate::audit::{Audit, AuditRecord};
use crate::db::{Tx, args, dialect};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::store::Store;
use crate::tx::StoreTx;

/// A refund to create (state PROCESSING).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub out_refund_no: OutRefundNo,
    pub amount: Money,
    pub reason: Option<String>,
}

/// The result of [`StoreTx::create_refund`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundCreated {
    /// Inserted as PROCESSING: now ask the provider.
    New(Refund),
    /// The same `out_refund_no` and amount on the same order exists: an idempotent repeat.
    Existing(Refund),
}

/// What a refund transition records besides the state; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundChange {
    /// WeChat's refund id.
    pub refund_id: Option<String>,
    /// When WeChat says the money was returned (SUCCESS only; default: now).
    pub succeeded_at: Option<OffsetDateTime>,
}

macro_rules! refund_columns {
    () => {
        "id, tenant_id, order_id, out_refund_no, amount, reason, state, refund_id, created_at, \
         updated_at, succeeded_at"
    };
}

macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT ", refund_columns!(), " FROM refunds ", $rest)
    };
}

fn parse_refund_state(s: &str) -> Result<RefundState, StoreError> {
    RefundState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("refunds.state = {s:?}")))
}

impl StoreTx {
    /// Reads a refund inside this transaction. Callers that hold a write transaction must read
    /// through it: on SQLite a read from the pool would wait for this very transaction's lock.
    pub async fn get_refund(
        &mut self,
        tenant: &TenantId,
        id: &RefundRecordId,
    ) -> Result<Refund, StoreError> {
        let row: Option<RefundRow> = self
            .tx
            .optional(
                select!("WHERE tenant_id = $1 AND id = $2"),
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("refund"))?.try_into()
    }

    /// Creates a PROCESSING refund of `order` (see the module docs), or returns the existing
    /// one for a repeated `out_refund_no` with the same order and amount. Errors:
    /// `OrderNotRefundable`, `RefundExceedsAvailable`, `Invalid` (zero or a blank reason),
    /// `Conflict { refunds_tenant_out_refund_no_key }` (the number is used otherwise).
    pub async fn create_refund(
        &mut self,
        audit: &Audit,
        tenant: &TenantId,
        order: &OrderId,
        new: &NewRefund,
    ) -> Result<RefundCreated, StoreError> {
        if new.amount.is_zero() {
            return Err(StoreError::invalid("amount", "must be at least 1 fen"));
        }
        let locked = lock_order_in(&mut self.tx, tenant, order).await?;
        if let Some(existing) = by_out_refund_no(&mut self.tx, tenant, &new.out_refund_no).await? {
            return if existing.order_id == *order && existing.amount == new.amount {
                Ok(RefundCreated::Existing(existing))
            } else {
                Err(StoreError::Conflict {
                    constraint: "refunds_tenant_out_refund_no_key".to_owned(),
                })
            };
        }
        let held: Vec<(String, i64)> = self
            .tx
            .all(
                "SELECT state, amount FROM refunds WHERE tenant_id = $1 AND order_id = $2",
                args![tenant.as_str(), order.as_str()],
            )
            .await?;
        let held = held
            .into_iter()
            .map(|(state, fen)| {
                let amount = Money::from_fen(fen)
                    .map_err(|_| StoreError::Corrupt(format!("refunds.amount = {fen}")))?;
                Ok((parse_refund_state(&state)?, amount))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        check_refund(locked.state, locked.amount, held, new.amount).map_err(|e| match e {
            RefundableError::NotPaid => StoreError::OrderNotRefundable {
                state: locked.state,
            },
            RefundableError::Zero => StoreError::invalid("amount", "must be at least 1 fen"),
            RefundableError::Exceeds { available, .. } => {
                StoreError::RefundExceedsAvailable { available }
            }
        })?;
        let id: RefundRecordId = self.store.new_id();
        let now = self.store.now_ms();
        self.tx
            .execute(
                "INSERT INTO refunds (id, tenant_id, order_id, out_refund_no, amount, reason, \
                 state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'PROCESSING', $7, $7)",
                args![
                    id.as_str(),
                    tenant.as_str(),
                    order.as_str(),
                    new.out_refund_no.as_str(),
                    new.amount.fen(),
                    new.reason.clone(),
                    now
                ],
            )
            .await?;
        AuditRecord::tenant(tenant, "refund.create", id.as_str())
            .summary(serde_json::json!({
                "order_id": order.as_str(),
                "out_refund_no": new.out_refund_no.as_str(),
                "amount": new.amount.fen(),
            }))
            .write(&self.store, &mut self.tx, audit)
            .await?;
        let created = by_id(&mut self.tx, tenant, &id).await?;
        Ok(RefundCreated::New(created))
    }

    /// Moves a refund to `to` if the refund state machine allows it from its current state
    /// (`IllegalTransition` otherwise; `NoOp` when already there). On SUCCESS the order's
    /// `refunded_amount` grows and the order moves to PARTIALLY_REFUNDED or REFUNDED; if that
    /// would pass the paid amount (ABNORMAL → SUCCESS after the amount was reused) it is
    /// `RefundExceedsAvailable` and the caller should raise an alert and drop the
    /// transaction.
    pub async fn transition_refund(
        &mut self,
        tenant: &TenantId,
        refund: &RefundRecordId,
        to: RefundState,
        change: &RefundChange,
    ) -> Result<Transition, StoreError> {
        let order_id = by_id(&mut self.tx, tenant, refund).await?.order_id;
        let order = lock_order_in(&mut self.tx, tenant, &order_id).await?;
        let sql = dialect(
            self.tx.backend(),
            select!("WHERE tenant_id = $1 AND id = $2"),
            select!("WHERE tenant_id = $1 AND id = $2 FOR UPDATE"),
        );
        let row: Option<RefundRow> = self
            .tx
            .optional(sql, args![tenant.as_str(), refund.as_str()])
            .await?;
        let current = Refund::try_from(row.ok_or(StoreError::not_found("refund"))?)?;
        if current.state.transition_to(to)? == Transition::NoOp {
            return Ok(Transition::NoOp);
        }
        let now = self.store.now_ms();
        self.tx
            .execute(
                "UPDATE refunds SET state = $1, refund_id = COALESCE($2, refund_id), \
                 succeeded_at = CASE WHEN $1 = 'SUCCESS' THEN COALESCE($3, $4) \
                 ELSE succeeded_at END, updated_at = $4, claimed_until = NULL \
                 WHERE tenant_id = $5 AND id = $6 AND state = $7",
                args![
                    to.as_str(),
                    change.refund_id.clone(),
                    change.succeeded_at,
                    now,
                    tenant.as_str(),
                    refund.as_str(),
                    current.state.as_str()
                ],
            )
            .await?;
        if to == RefundState::Success {
            // Only reachable by ABNORMAL → SUCCESS after the released amount was refunded
            // again: real money beyond the payment, for an operator to sort out.
            let refunded = order
                .refunded_amount
                .checked_add(current.amount)
                .filter(|total| *total <= order.amount)
                .ok_or_else(|| StoreError::RefundExceedsAvailable {
                    available: order
                        .amount
                        .checked_sub(order.refunded_amount)
                        .unwrap_or(Money::ZERO),
                })?;
            self.tx
                .execute(
                    "UPDATE orders SET refunded_amount = $1, updated_at = $2 \
                     WHERE tenant_id = $3 AND id = $4",
                    args![refunded.fen(), now, tenant.as_str(), order_id.as_str()],
                )
                .await?;
            let target = if refunded == order.amount {
                OrderState::Refunded
            } else {
                OrderState::PartiallyRefunded
            };
            let change = OrderChange::cause(&format!("refund {}", refund.as_str()));
            let step = (order.state, target);
            transition_in(&mut self.tx, now, tenant, &order_id, step, &change).await?;
        }
        Ok(Transition::Applied)
    }
}

async fn by_id(tx: &mut Tx, tenant: &TenantId, id: &RefundRecordId) -> Result<Refund, StoreError> {
    let row: Option<RefundRow> = tx
        .optional(
            select!("WHERE tenant_id = $1 AND id = $2"),
            args![tenant.as_str(), id.as_str()],
        )
        .await?;
    row.ok_or(StoreError::not_found("refund"))?.try_into()
}

async fn by_out_refund_no(
    tx: &mut Tx,
    tenant: &TenantId,
    out_refund_no: &OutRefundNo,
) -> Result<Option<Refund>, StoreError> {
    let row: Option<RefundRow> = tx
        .optional(
            select!("WHERE tenant_id = $1 AND out_refund_no = $2"),
            args![tenant.as_str(), out_refund_no.as_str()],
        )
        .await?;
    row.map(Refund::try_from).transpose()
}

/// `store.refunds()`.
#[derive(Debug, Clone, Copy)]
pub struct Refunds<'a> {
    pub(crate) store: &'a Store,
}

impl Refunds<'_> {
    pub async fn get(&self, tenant: &TenantId, id: &RefundRecordId) -> Result<Refund, StoreError> {
        let row: Option<RefundRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND id = $2"),
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("refund"))?.try_into()
    }

    pub async fn find_by_out_refund_no(
        &self,
        tenant: &TenantId,
        out_refund_no: &OutRefundNo,
    ) -> Result<Option<Refund>, StoreError> {
        let row: Option<RefundRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND out_refund_no = $2"),
                args![tenant.as_str(), out_refund_no.as_str()],
            )
            .await?;
        row.map(Refund::try_from).transpose()
    }

    /// A tenant's refunds, newest first; `order` narrows to one order's.
    pub async fn list(
        &self,
        tenant: &TenantId,
        order: Option<&OrderId>,
        page: &Page,
    ) -> Result<Paged<Refund>, StoreError> {
        self.store.activity().refunds(tenant, order, page).await
    }

    /// Claims up to `limit` PROCESSING refunds (all tenants) not updated for `older_than`
    /// and not claimed (or whose claim expired); sets `claimed_until = now + claim_for` in
    /// the same statement. Same rules as `Orders::claim_stale`.
    pub async fn claim_processing(
        &self,
        now: OffsetDateTime,
        older_than: Duration,
        limit: u32,
        claim_for: Duration,
    ) -> Result<Vec<Refund>, StoreError> {
        let sql = dialect(
            self.store.backend(),
            concat!(
                "UPDATE refunds SET claimed_until = $1 WHERE id IN (SELECT id FROM refunds \
                 WHERE state = 'PROCESSING' AND updated_at < $2 \
                 AND (claimed_until IS NULL OR claimed_until <= $3) \
                 ORDER BY updated_at LIMIT $4) RETURNING ",
                refund_columns!()
            ),
            concat!(
                "UPDATE refunds SET claimed_until = $1 WHERE id IN (SELECT id FROM refunds \
                 WHERE state = 'PROCESSING' AND updated_at < $2 \
                 AND (claimed_until IS NULL OR claimed_until <= $3) \
                 ORDER BY updated_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
                refund_columns!()
            ),
        );
        let rows: Vec<RefundRow> = self
            .store
            .pool()
            .all(
                sql,
                args![now + claim_for, now - older_than, now, i64::from(limit)],
            )
            .await?;
        rows.into_iter().map(Refund::try_from).collect()
    }

    /// Gives up a reconciliation claim early (else it lapses at `claimed_until`).
    pub async fn release_claim(
        &self,
        tenant: &TenantId,
        id: &RefundRecordId,
    ) -> Result<(), StoreError> {
        self.store
            .pool()
            .execute(
                "UPDATE refunds SET claimed_until = NULL WHERE tenant_id = $1 AND id = $2",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        Ok(())
    }
}
