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
//! - a webhook attempt (`webhook_deliveries.rs`): the event's count and its attempt row.
//!
//! Each is a *fast path* and must stay one: its statement either writes everything the
//! common outcome writes, or (its conditions false, or a unique violation) nothing at all, and
//! then the caller takes the general, portable path, which decides that call exactly as it
//! always did. A fast path never decides an uncommon outcome itself. SQLite never comes here:
//! its statements run inline on the caller's task, so there is no round trip to save, and it
//! has no data-modifying CTEs.

use paygate_core::{AuditId, Money, OrderId, OrderState, TenantId};

use super::idempotency::{CLAIM_LEASE, KEY_TTL, check_key, check_status};
use super::orders::{
    IdempotencyClaim, IdempotentCreate, NewOrder, OrderRow, create_summary, order_columns,
};
use crate::Order;
use crate::audit::Audit;
use crate::db::{args, from_ms, to_ms};
use crate::error::StoreError;
use crate::store::Store;

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
            "), h AS (INSERT INTO order_transitions \
             (tenant_id, order_id, from_state, to_state, cause, at) \
             SELECT tenant_id, id, ",
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
                 RETURNING 1), \
                 o AS (INSERT INTO orders (id, tenant_id, appid, channel_id, out_trade_no, \
                 amount, currency, description, attach, trade_type, state, payer_openid, \
                 client_ip, expires_at, refunded_amount, created_at, updated_at) \
                 SELECT $11, $1, $7, $8, $12, $13, 'CNY', $14, $15, $16, 'CREATED', $17, $18, \
                 $19, 0, $6, $6 FROM k RETURNING ",
                order_columns!(),
                "), a AS (INSERT INTO audit_log (id, tenant_id, actor, action, target, summary, \
                 request_id, at) \
                 SELECT $20, tenant_id, $21, 'order.create', id, $22, $23, $6 FROM o) \
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
