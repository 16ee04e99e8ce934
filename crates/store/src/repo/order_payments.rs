//! The payment side of orders: prepay, payer binding, the shared compare-and-set transition,
//! and the reconciliation worker's claims. Split from `orders.rs` for size; same accessor.
//!
//! A payer (openid) is bound once: NULL → openid; the same openid again is a no-op; another
//! openid is [`StoreError::PayerMismatch`] — a mini-program user can never pay (or see) an
//! order bound to someone else. Claims never change an order's state or `updated_at`; they
//! only keep two workers from querying WeChat about the same order at once.

use paygate_core::{OpenId, OrderId, OrderState, TenantId, Transition};
use time::{Duration, OffsetDateTime};

use super::orders::{OrderRow, OrderTradeType, Orders, order_columns, parse_state, select};
use crate::Order;
use crate::db::{Arg, Backend, Tx, args, dialect, to_ms};
use crate::error::StoreError;
use crate::repo::single_statement::with_history;

/// The `UPDATE` that binds, moves and stores, if the row still has the order's state and
/// payer; arguments from [`cas_prepay_args`] (`$1` the new state, `$8` now, `$11` the state
/// it moves from).
macro_rules! cas_prepay_sql {
    () => {
        "UPDATE orders SET state = $1, trade_type = $2, prepay_id = $3, \
         code_url = $4, prepay_expires_at = $5, client_ip = COALESCE($6, client_ip), \
         payer_openid = COALESCE(payer_openid, $7), updated_at = $8 \
         WHERE tenant_id = $9 AND id = $10 AND state = $11 \
         AND (payer_openid = $12 OR (payer_openid IS NULL AND $12 IS NULL))"
    };
}

/// The compare-and-set of [`transition_returning`]: `$1` the new state, `$2` now, `$8` the
/// state it moves from.
macro_rules! transition_sql {
    () => {
        "UPDATE orders SET state = $1, updated_at = $2, \
         paid_at = CASE WHEN $1 = 'PAID' AND paid_at IS NULL THEN COALESCE($3, $2) \
         ELSE paid_at END, \
         transaction_id = COALESCE($4, transaction_id), \
         payer_openid = COALESCE(payer_openid, $5) \
         WHERE tenant_id = $6 AND id = $7 AND state = $8"
    };
}
pub(crate) use transition_sql;

/// The head of a history row's `INSERT` (values follow in this column order), shared with
/// the one-statement transitions in `single_statement`.
macro_rules! insert_transition {
    () => {
        "INSERT INTO order_transitions (tenant_id, order_id, from_state, to_state, cause, at)"
    };
}
pub(crate) use insert_transition;

/// What a transition records besides the new state. `cause` goes to the history row; the
/// optional facts are written only when present (never cleared), and `paid_at` only when
/// the order becomes `PAID` (default: now).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderChange {
    /// Why, e.g. `notify`, `query`, `reconcile`, `close`, `prepay`.
    pub cause: String,
    /// WeChat's transaction id, from a payment notification or query.
    pub transaction_id: Option<String>,
    /// When WeChat says the payment succeeded.
    pub paid_at: Option<OffsetDateTime>,
    /// The payer WeChat reports; bound only if the order has none.
    pub payer_openid: Option<OpenId>,
}

impl OrderChange {
    /// A change with a cause and no other facts.
    pub fn cause(cause: &str) -> OrderChange {
        OrderChange {
            cause: cause.to_owned(),
            ..OrderChange::default()
        }
    }
}

/// A prepay returned by the provider, to store on the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepay {
    pub trade_type: OrderTradeType,
    /// Required for JSAPI.
    pub prepay_id: Option<String>,
    /// Required for NATIVE.
    pub code_url: Option<String>,
    /// After this the prepay must be renewed.
    pub prepay_expires_at: OffsetDateTime,
    pub client_ip: Option<String>,
}

impl Orders<'_> {
    /// Stores a prepay and makes the order `PENDING` (from `CREATED` or `PAY_ERROR`, with a
    /// history row `prepay`), or refreshes the prepay of a `PENDING` order. Binds `payer`
    /// first (see the module docs). Any other state is `StateMismatch`; a JSAPI prepay needs a
    /// `prepay_id` and a payer, a NATIVE one a `code_url` (else `Invalid`).
    pub async fn set_prepay(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        prepay: &Prepay,
        payer: Option<&OpenId>,
    ) -> Result<Order, StoreError> {
        self.store_prepay(tenant, id, None, prepay, payer).await
    }

    /// [`Orders::set_prepay`] for the order `seen` as the caller read it. While the row still
    /// has `seen`'s state and payer, which is almost always, one compare-and-set `UPDATE`
    /// stores the prepay without reading the row again; otherwise the outcome is decided on
    /// the locked row, exactly as `set_prepay` decides it.
    pub async fn set_prepay_seen(
        &self,
        seen: &Order,
        prepay: &Prepay,
        payer: Option<&OpenId>,
    ) -> Result<Order, StoreError> {
        self.store_prepay(&seen.tenant_id, &seen.id, Some(seen), prepay, payer)
            .await
    }

    async fn store_prepay(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        seen: Option<&Order>,
        prepay: &Prepay,
        payer: Option<&OpenId>,
    ) -> Result<Order, StoreError> {
        match prepay.trade_type {
            OrderTradeType::Jsapi if prepay.prepay_id.is_none() => {
                return Err(StoreError::invalid("prepay_id", "is required for JSAPI"));
            }
            OrderTradeType::Native if prepay.code_url.is_none() => {
                return Err(StoreError::invalid("code_url", "is required for NATIVE"));
            }
            _ => {}
        }
        let now = self.store.now_ms();
        // PostgreSQL: the compare-and-set and its history row as one statement, no
        // transaction (see `single_statement`); a row that changed is locked and decided on.
        let pg = self.store.backend() == Backend::Postgres;
        if pg
            && let Some(seen) = seen
            && let Ok(plan) = plan_prepay(seen, prepay, payer)
        {
            let sql = if plan.from == OrderState::Pending {
                concat!(cas_prepay_sql!(), " RETURNING ", order_columns!())
            } else {
                with_history!(cas_prepay_sql!(), "$11", "$1", "'prepay'", "$8")
            };
            let after: Option<OrderRow> = self
                .store
                .pool()
                .optional(sql, cas_prepay_args(now, seen, &plan, prepay))
                .await?;
            if let Some(after) = after {
                return after.try_into();
            }
        }
        let mut tx = self.store.write_tx().await?;
        // Any doubt about the copy (including an error it would cause) is settled on the row.
        if !pg
            && let Some(seen) = seen
            && let Ok(plan) = plan_prepay(seen, prepay, payer)
            && let Some(after) = cas_prepay(&mut tx, now, seen, &plan, prepay).await?
        {
            return finish_prepay(tx, now, seen, &plan, after).await;
        }
        let order = lock_order_in(&mut tx, tenant, id).await?;
        let plan = plan_prepay(&order, prepay, payer)?;
        // Unreachable while the row is locked; a compare-and-set all the same.
        let after = cas_prepay(&mut tx, now, &order, &plan, prepay)
            .await?
            .ok_or(StoreError::StateMismatch {
                expected: plan.from,
                actual: order.state,
            })?;
        finish_prepay(tx, now, &order, &plan, after).await
    }

    /// Binds the order to `openid` if it has no payer; see the module docs.
    ///
    /// One conditional `UPDATE … RETURNING` (atomic on both engines, so no transaction): it
    /// matches an unbound order or one bound to `openid` already. Only when it matches nothing
    /// is the order read, to tell a missing order from one bound to someone else.
    pub async fn bind_payer(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        openid: &OpenId,
    ) -> Result<Order, StoreError> {
        let bound: Option<OrderRow> = self
            .store
            .pool()
            .optional(
                concat!(
                    "UPDATE orders SET payer_openid = $1 WHERE tenant_id = $2 AND id = $3 \
                     AND (payer_openid IS NULL OR payer_openid = $1) RETURNING ",
                    order_columns!()
                ),
                args![openid.as_str(), tenant.as_str(), id.as_str()],
            )
            .await?;
        if let Some(row) = bound {
            return row.try_into();
        }
        let order = self.get_order(tenant, id).await?;
        match &order.payer_openid {
            Some(payer) if payer == openid => Ok(order),
            _ => Err(StoreError::PayerMismatch),
        }
    }

    /// Claims up to `limit` orders (all tenants) the reconciliation worker must look at:
    /// `PENDING` and not updated for `pending_older_than`, or `CREATED`/`PENDING` past
    /// `expires_at`; skipping rows whose claim has not expired. Each claimed row's
    /// `claimed_until` becomes `now + claim_for`, in the same statement, so two workers never
    /// get the same row (PostgreSQL skips rows another claimer holds locked).
    pub async fn claim_stale(
        &self,
        now: OffsetDateTime,
        pending_older_than: Duration,
        limit: u32,
        claim_for: Duration,
    ) -> Result<Vec<Order>, StoreError> {
        // $1 claimed_until, $2 pending cutoff, $3 now, $4 limit.
        let sql = dialect(
            self.store.backend(),
            concat!(
                "UPDATE orders SET claimed_until = $1 WHERE id IN (SELECT id FROM orders \
                 WHERE ((state = 'PENDING' AND updated_at < $2) OR (state IN ('CREATED', \
                 'PENDING') AND expires_at IS NOT NULL AND expires_at < $3)) \
                 AND (claimed_until IS NULL OR claimed_until <= $3) \
                 ORDER BY updated_at LIMIT $4) RETURNING ",
                order_columns!()
            ),
            concat!(
                "UPDATE orders SET claimed_until = $1 WHERE id IN (SELECT id FROM orders \
                 WHERE ((state = 'PENDING' AND updated_at < $2) OR (state IN ('CREATED', \
                 'PENDING') AND expires_at IS NOT NULL AND expires_at < $3)) \
                 AND (claimed_until IS NULL OR claimed_until <= $3) \
                 ORDER BY updated_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
                order_columns!()
            ),
        );
        let rows: Vec<OrderRow> = self
            .store
            .pool()
            .all(
                sql,
                args![
                    now + claim_for,
                    now - pending_older_than,
                    now,
                    i64::from(limit)
                ],
            )
            .await?;
        rows.into_iter().map(Order::try_from).collect()
    }

    /// Gives up a reconciliation claim early (else it lapses at `claimed_until`).
    pub async fn release_claim(&self, tenant: &TenantId, id: &OrderId) -> Result<(), StoreError> {
        self.store
            .pool()
            .execute(
                "UPDATE orders SET claimed_until = NULL WHERE tenant_id = $1 AND id = $2",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        Ok(())
    }
}

/// What storing a prepay does to an order in a given state and with a given payer.
struct PrepayPlan {
    from: OrderState,
    /// The payer the order has afterwards.
    bound: Option<OpenId>,
}

fn plan_prepay(
    order: &Order,
    prepay: &Prepay,
    payer: Option<&OpenId>,
) -> Result<PrepayPlan, StoreError> {
    let bound = match (payer, &order.payer_openid) {
        (Some(openid), Some(bound)) if bound != openid => {
            return Err(StoreError::PayerMismatch);
        }
        (Some(openid), _) => Some(openid.clone()),
        (None, bound) => bound.clone(),
    };
    if prepay.trade_type == OrderTradeType::Jsapi && bound.is_none() {
        return Err(StoreError::invalid("payer_openid", "is required for JSAPI"));
    }
    let from = match order.state {
        s @ (OrderState::Created | OrderState::PayError | OrderState::Pending) => s,
        actual => {
            return Err(StoreError::StateMismatch {
                expected: OrderState::Pending,
                actual,
            });
        }
    };
    if from != OrderState::Pending {
        from.transition_to(OrderState::Pending)?;
    }
    Ok(PrepayPlan { from, bound })
}

fn cas_prepay_args(now: i64, order: &Order, plan: &PrepayPlan, prepay: &Prepay) -> Vec<Arg> {
    args![
        OrderState::Pending.as_str(),
        prepay.trade_type.as_str(),
        prepay.prepay_id.clone(),
        prepay.code_url.clone(),
        prepay.prepay_expires_at,
        prepay.client_ip.clone(),
        plan.bound.as_ref().map(|o| o.as_str().to_owned()),
        now,
        order.tenant_id.as_str(),
        order.id.as_str(),
        plan.from.as_str(),
        order.payer_openid.as_ref().map(|o| o.as_str().to_owned())
    ]
}

/// [`cas_prepay_sql`] in `tx`; returns the order as it now is (`None`: the row changed).
async fn cas_prepay(
    tx: &mut Tx,
    now: i64,
    order: &Order,
    plan: &PrepayPlan,
    prepay: &Prepay,
) -> Result<Option<OrderRow>, StoreError> {
    tx.optional(
        concat!(cas_prepay_sql!(), " RETURNING ", order_columns!()),
        cas_prepay_args(now, order, plan, prepay),
    )
    .await
}

/// The history row of a move to `PENDING`, then the commit.
async fn finish_prepay(
    mut tx: Tx,
    now: i64,
    order: &Order,
    plan: &PrepayPlan,
    after: OrderRow,
) -> Result<Order, StoreError> {
    if plan.from != OrderState::Pending {
        let step = (plan.from, OrderState::Pending);
        insert_history(&mut tx, now, &order.tenant_id, &order.id, step, "prepay").await?;
    }
    tx.commit().await?;
    after.try_into()
}

/// Reads the order inside `tx`, locking its row on PostgreSQL until the transaction ends.
pub(crate) async fn lock_order_in(
    tx: &mut Tx,
    tenant: &TenantId,
    id: &OrderId,
) -> Result<Order, StoreError> {
    let sql = dialect(
        tx.backend(),
        select!("WHERE tenant_id = $1 AND id = $2"),
        select!("WHERE tenant_id = $1 AND id = $2 FOR UPDATE"),
    );
    let row: Option<OrderRow> = tx
        .optional(sql, args![tenant.as_str(), id.as_str()])
        .await?;
    row.ok_or(StoreError::not_found("order"))?.try_into()
}

/// The compare-and-set transition every order state change goes through (see
/// [`Orders::transition`] for the outcomes), inside the caller's transaction.
pub(crate) async fn transition_in(
    tx: &mut Tx,
    now: i64,
    tenant: &TenantId,
    id: &OrderId,
    step: (OrderState, OrderState),
    change: &OrderChange,
) -> Result<Transition, StoreError> {
    let after = transition_returning(tx, now, tenant, id, step, change).await?;
    Ok(if after.is_some() {
        Transition::Applied
    } else {
        Transition::NoOp
    })
}

/// [`transition_in`], returning the order as the transition left it (`None`: `NoOp`). The
/// `UPDATE … RETURNING` reads it back in the same statement.
pub(crate) async fn transition_returning(
    tx: &mut Tx,
    now: i64,
    tenant: &TenantId,
    id: &OrderId,
    (expected_from, to): (OrderState, OrderState),
    change: &OrderChange,
) -> Result<Option<Order>, StoreError> {
    expected_from.transition_to(to)?;
    // PostgreSQL writes the history row in the same statement (see `single_statement`).
    let pg = tx.backend() == Backend::Postgres;
    let after: Option<OrderRow> = if expected_from == to {
        None
    } else {
        let sql = if pg {
            with_history!(transition_sql!(), "$8", "$1", "$9", "$2")
        } else {
            concat!(transition_sql!(), " RETURNING ", order_columns!())
        };
        let mut args = args![
            to.as_str(),
            now,
            change.paid_at.map(to_ms),
            change.transaction_id.clone(),
            change.payer_openid.as_ref().map(|o| o.as_str().to_owned()),
            tenant.as_str(),
            id.as_str(),
            expected_from.as_str()
        ];
        if pg {
            args.push(change.cause.as_str().into());
        }
        tx.optional(sql, args).await?
    };
    let Some(after) = after else {
        let row: Option<(String,)> = tx
            .optional(
                "SELECT state FROM orders WHERE tenant_id = $1 AND id = $2",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        let (actual,) = row.ok_or(StoreError::not_found("order"))?;
        let actual = parse_state(&actual)?;
        return if actual == to {
            Ok(None)
        } else {
            Err(StoreError::StateMismatch {
                expected: expected_from,
                actual,
            })
        };
    };
    if !pg {
        let step = (expected_from, to);
        insert_history(tx, now, tenant, id, step, &change.cause).await?;
    }
    Ok(Some(after.try_into()?))
}

/// The history row of an applied transition.
async fn insert_history(
    tx: &mut Tx,
    now: i64,
    tenant: &TenantId,
    id: &OrderId,
    (from, to): (OrderState, OrderState),
    cause: &str,
) -> Result<(), StoreError> {
    tx.execute(
        concat!(insert_transition!(), " VALUES ($1, $2, $3, $4, $5, $6)"),
        args![
            tenant.as_str(),
            id.as_str(),
            from.as_str(),
            to.as_str(),
            cause,
            now
        ],
    )
    .await?;
    Ok(())
}
