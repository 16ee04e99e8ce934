//! PostgreSQL only: the common outcome of the hottest writes as one statement.
//!
//! On PostgreSQL every statement is a network round trip, and on a small machine the round
//! trips, not the SQL, are most of paygate's CPU per payment (`paygate bench`: ~23 round trips
//! per v2 payment, each a few syscalls, wake-ups and a context switch). A transaction of n
//! statements costs n + 2 (`BEGIN`, `COMMIT`). Here the outcome that almost every call has is
//! one statement of data-modifying CTEs, which PostgreSQL runs atomically on its own:
//!
//! - an order created under an `Idempotency-Key`: the claim (already answered), the order and
//!   its audit row, instead of `BEGIN`, claim, order, audit, answer, `COMMIT`;
//! - a prepay stored on an order as the caller read it: the compare-and-set and its history
//!   row, without a transaction;
//! - a transition inside a transaction: the compare-and-set and its history row;
//! - a webhook attempt (`webhook_deliveries.rs`): the event's count and its attempt row;
//! - a verified payment notification that moves the order as the caller read it: the
//!   notification, the compare-and-set, its history row and its event in one statement of a
//!   transaction (`BEGIN`, the statement, `COMMIT`: 3 round trips instead of 5), committed
//!   only if the row it moved is exactly the one the event was built from.
//!
//! Each is a *fast path* and must stay one: its statement either writes everything the
//! common outcome writes, or (its conditions false, or a unique violation) nothing at all, and
//! then the caller takes the general, portable path, which decides that call exactly as it
//! always did. A fast path never decides an uncommon outcome itself. SQLite never comes here:
//! its statements run inline on the caller's task, so there is no round trip to save, and it
//! has no data-modifying CTEs.

use paygate_core::{AuditId, EventId, Money, NotificationId, OrderId, OrderState, TenantId};

use super::idempotency::{CLAIM_LEASE, KEY_TTL, check_key, check_status};
use super::order_payments::{OrderChange, insert_transition, transition_sql};
use super::orders::{
    IdempotencyClaim, IdempotentCreate, NewOrder, OrderRow, Orders, create_summary, insert_order,
    order_columns,
};
use crate::Order;
use crate::audit::{Audit, insert_audit};
use crate::db::{Backend, args, from_ms, to_ms};
use crate::error::StoreError;
use crate::store::Store;
use crate::tx::{NewNotification, insert_event, insert_notification};

/// The `UPDATE … RETURNING` of an order's compare-and-set, followed by its history row
/// (`h`), reading the moved row back. `$from`, `$to`, `$cause` and `$at` are the history
/// row's placeholders in the `UPDATE`'s own numbering.
macro_rules! with_history {
    ($update:expr, $from:literal, $to:literal, $cause:literal, $at:literal) => {
        concat!(
            "WITH u AS (",
            $update,
            " RETURNING ",
            order_columns!(),
            "), h AS (",
            insert_transition!(),
            " SELECT tenant_id, id, ",
            $from,
            ", ",
            $to,
            ", ",
            $cause,
            ", ",
            $at,
            " FROM u) SELECT ",
            order_columns!(),
            " FROM u"
        )
    };
}
pub(crate) use with_history;

/// [`crate::Orders::create_idempotent`]'s common outcome in one statement: a free key (new,
/// expired, or a lapsed claim) is claimed already answered, and the order and its audit row
/// are inserted, if the tenant has the app and the channel. `Ok(None)`: nothing was written
/// (the key is held, the app or channel is not the tenant's, or the `out_trade_no` is taken);
/// the general path decides. `respond` is called once, on the order as it will be stored.
pub(crate) async fn create_idempotent<E, F>(
    store: &Store,
    audit: &Audit,
    tenant: &TenantId,
    new: &NewOrder,
    claim: &IdempotencyClaim<'_>,
    respond: &F,
) -> Result<Option<IdempotentCreate>, E>
where
    E: From<StoreError>,
    F: Fn(&Order) -> Result<(u16, Vec<u8>), E>,
{
    check_key(claim.key)?;
    let now = store.now();
    let now_ms = to_ms(now);
    // Exactly the row the statement inserts: timestamps are stored in milliseconds.
    let order = Order {
        id: store.new_id::<OrderId>(),
        tenant_id: tenant.clone(),
        appid: new.appid.clone(),
        channel_id: new.channel_id.clone(),
        out_trade_no: new.out_trade_no.clone(),
        amount: new.amount,
        currency: "CNY".to_owned(),
        description: new.description.clone(),
        attach: new.attach.clone(),
        trade_type: new.trade_type,
        state: OrderState::Created,
        payer_openid: new.payer_openid.clone(),
        prepay_id: None,
        prepay_expires_at: None,
        code_url: None,
        transaction_id: None,
        client_ip: new.client_ip.clone(),
        expires_at: new.expires_at.map(|t| from_ms(to_ms(t))).transpose()?,
        paid_at: None,
        refunded_amount: Money::ZERO,
        created_at: from_ms(now_ms)?,
        updated_at: from_ms(now_ms)?,
    };
    let (status, body) = respond(&order)?;
    check_status(status)?;
    let audit_id: AuditId = store.new_id();
    let inserted: Result<Option<OrderRow>, StoreError> = store
        .pool()
        .optional(
            concat!(
                "WITH k AS (INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, \
                 status_code, response_body, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6 \
                 WHERE EXISTS (SELECT 1 FROM apps WHERE tenant_id = $1 AND appid = $7) \
                 AND EXISTS (SELECT 1 FROM channels WHERE tenant_id = $1 AND id = $8) \
                 ON CONFLICT (tenant_id, idem_key) DO UPDATE SET \
                 request_hash = excluded.request_hash, status_code = excluded.status_code, \
                 response_body = excluded.response_body, created_at = excluded.created_at \
                 WHERE idempotency_keys.created_at <= $9 \
                 OR (idempotency_keys.status_code IS NULL AND idempotency_keys.created_at <= $10) \
                 RETURNING 1), o AS (",
                insert_order!(),
                " SELECT $11, $1, $7, $8, $12, $13, 'CNY', $14, $15, $16, 'CREATED', $17, $18, \
                 $19, 0, $6, $6 FROM k RETURNING ",
                order_columns!(),
                "), a AS (",
                insert_audit!(),
                " SELECT $20, tenant_id, $21, 'order.create', id, $22, $23, $6 FROM o) \
                 SELECT ",
                order_columns!(),
                " FROM o"
            ),
            args![
                tenant.as_str(),
                claim.key,
                claim.request_hash,
                i64::from(status),
                body.clone(),
                now_ms,
                new.appid.as_str(),
                new.channel_id.as_str(),
                now - KEY_TTL,
                now - CLAIM_LEASE,
                order.id.as_str(),
                new.out_trade_no.as_str(),
                new.amount.fen(),
                new.description.as_str(),
                new.attach.clone(),
                new.trade_type.as_str(),
                new.payer_openid.as_ref().map(|o| o.as_str().to_owned()),
                new.client_ip.clone(),
                new.expires_at,
                audit_id.as_str(),
                audit.actor.as_str(),
                create_summary(new).to_string(),
                audit.request_id.clone()
            ],
        )
        .await;
    match inserted {
        Ok(Some(row)) => {
            let stored = Order::try_from(row)?;
            debug_assert_eq!(stored, order, "the response was made of another order");
            Ok(Some(IdempotentCreate::Created {
                order: Box::new(stored),
                status,
                body,
            }))
        }
        Ok(None) => Ok(None),
        // The statement failed whole: no claim, no order.
        Err(StoreError::Conflict { constraint })
            if constraint == "orders_tenant_out_trade_no_key" =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A transition a verified payment notification calls for, planned on the order as the caller
/// read it ([`Orders::plan_notified`]); [`Orders::apply_notified`] carries it out.
#[derive(Debug, Clone)]
pub struct NotifiedTransition {
    /// The order as the compare-and-set will leave it, if the row is still the caller's copy:
    /// what the event's payload must be built from.
    pub after: Order,
    from: OrderState,
    change: OrderChange,
    now: i64,
}

impl Orders<'_> {
    /// Plans [`Orders::apply_notified`] on `seen` moving to `to` with `change`, the way the
    /// compare-and-set writes it. `None` on SQLite, which has no round trips to save: the
    /// caller takes the general path.
    pub fn plan_notified(
        &self,
        seen: &Order,
        to: OrderState,
        change: &OrderChange,
    ) -> Result<Option<NotifiedTransition>, StoreError> {
        if self.store.backend() != Backend::Postgres {
            return Ok(None);
        }
        seen.state.transition_to(to)?;
        let now = self.store.now_ms();
        // What the transition's `UPDATE` sets, column by column (see `transition_sql!`).
        let paid_at = match (to, seen.paid_at) {
            (OrderState::Paid, None) => Some(from_ms(change.paid_at.map_or(now, to_ms))?),
            (_, paid_at) => paid_at,
        };
        let after = Order {
            state: to,
            updated_at: from_ms(now)?,
            paid_at,
            transaction_id: change
                .transaction_id
                .clone()
                .or_else(|| seen.transaction_id.clone()),
            payer_openid: seen
                .payer_openid
                .clone()
                .or_else(|| change.payer_openid.clone()),
            ..seen.clone()
        };
        Ok(Some(NotifiedTransition {
            after,
            from: seen.state,
            change: change.clone(),
            now,
        }))
    }

    /// Stores `notification` (new), moves the order as `plan` says, with its history row and
    /// the event `event_type` carrying `payload` (built from `plan.after`), in one statement.
    /// It commits only if the notification was new and the row moved to exactly
    /// `plan.after`; otherwise (a duplicate, a row that moved or changed meanwhile) it rolls
    /// back, returns `false` and the caller takes the general path, which decides as always.
    pub async fn apply_notified(
        &self,
        plan: &NotifiedTransition,
        notification: &NewNotification,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let order = &plan.after;
        let notification_id: NotificationId = self.store.new_id();
        let event_id: EventId = self.store.new_id();
        let mut tx = self.store.write_tx().await?;
        let moved: Option<OrderRow> = tx
            .optional(
                concat!(
                    "WITH n AS (",
                    insert_notification!(),
                    " VALUES ($10, $11, $12, $13, $14, $15, $16, $17, $2) \
                     ON CONFLICT (channel_id, kind, dedupe_key) DO NOTHING RETURNING id), \
                     u AS (",
                    transition_sql!(),
                    " AND EXISTS (SELECT 1 FROM n) RETURNING ",
                    order_columns!(),
                    "), h AS (",
                    insert_transition!(),
                    " SELECT tenant_id, id, $8, $1, $9, $2 FROM u), e AS (",
                    insert_event!(),
                    " SELECT $18, tenant_id, $19, $20, $2, id FROM u) SELECT ",
                    order_columns!(),
                    " FROM u"
                ),
                args![
                    order.state.as_str(),
                    plan.now,
                    plan.change.paid_at.map(to_ms),
                    plan.change.transaction_id.clone(),
                    plan.change
                        .payer_openid
                        .as_ref()
                        .map(|o| o.as_str().to_owned()),
                    order.tenant_id.as_str(),
                    order.id.as_str(),
                    plan.from.as_str(),
                    plan.change.cause.as_str(),
                    notification_id.as_str(),
                    notification.tenant_id.as_str(),
                    notification.channel_id.as_str(),
                    notification.kind.as_str(),
                    notification.dedupe_key.as_str(),
                    notification.verified,
                    notification.outcome.as_str(),
                    notification.raw_body.clone(),
                    event_id.as_str(),
                    event_type,
                    payload.to_string()
                ],
            )
            .await?;
        // Dropped uncommitted, the transaction rolls back: a notification stored without
        // its transition, or an event built from another row, never commits.
        match moved.map(Order::try_from).transpose()? {
            Some(moved) if moved == plan.after => {
                tx.commit().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
