//! Orders and their state history.
//!
//! State changes go through [`Orders::transition`], a compare-and-set on the current state
//! (`UPDATE … WHERE state = expected`) that writes the `order_transitions` row in the same
//! transaction. The state machine itself (which moves are legal) lives in
//! `paygate_core::OrderState`; this module only makes each legal move happen exactly once.
//! Transitions are audited by their history row (with its cause), not in `audit_log`.

use paygate_core::{
    AppId, ChannelId, Money, OpenId, OrderId, OrderState, OutTradeNo, TenantId, Transition,
};
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{Backend, Tx, args, db_row, from_ms, from_ms_opt, parse_col, parse_opt};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::repo::idempotency::{HeldKey, claim_in, complete_in};
use crate::repo::order_payments::{OrderChange, transition_in};
use crate::repo::single_statement;
use crate::store::Store;

/// How the payer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderTradeType {
    /// In a mini-program; needs the payer's openid.
    Jsapi,
    /// By scanning a QR code.
    Native,
}

impl OrderTradeType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderTradeType::Jsapi => "JSAPI",
            OrderTradeType::Native => "NATIVE",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "JSAPI" => Ok(OrderTradeType::Jsapi),
            "NATIVE" => Ok(OrderTradeType::Native),
            other => Err(StoreError::Corrupt(format!(
                "orders.trade_type = {other:?}"
            ))),
        }
    }
}

/// An order to create (state `CREATED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub appid: AppId,
    pub channel_id: ChannelId,
    pub out_trade_no: OutTradeNo,
    pub amount: Money,
    pub description: String,
    pub attach: Option<String>,
    pub trade_type: OrderTradeType,
    pub payer_openid: Option<OpenId>,
    pub client_ip: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub tenant_id: TenantId,
    pub appid: AppId,
    pub channel_id: ChannelId,
    pub out_trade_no: OutTradeNo,
    pub amount: Money,
    /// Always `CNY` today.
    pub currency: String,
    pub description: String,
    pub attach: Option<String>,
    pub trade_type: OrderTradeType,
    pub state: OrderState,
    pub payer_openid: Option<OpenId>,
    pub prepay_id: Option<String>,
    pub prepay_expires_at: Option<OffsetDateTime>,
    pub code_url: Option<String>,
    pub transaction_id: Option<String>,
    pub client_ip: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub paid_at: Option<OffsetDateTime>,
    pub refunded_amount: Money,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One applied transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTransition {
    pub from: OrderState,
    pub to: OrderState,
    pub cause: String,
    pub at: OffsetDateTime,
}

/// An order with its history, oldest transition first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetail {
    pub order: Order,
    pub history: Vec<OrderTransition>,
}

/// List filters; `None` means any. `created_from` is inclusive, `created_to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub state: Option<OrderState>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub out_trade_no: Option<OutTradeNo>,
    /// Orders bound to this payer (a mini-program session lists only its own).
    pub payer_openid: Option<OpenId>,
    /// Orders of this mini-program.
    pub appid: Option<AppId>,
    /// Orders paid through this channel.
    pub channel_id: Option<ChannelId>,
}

db_row! {
    pub(crate) struct OrderRow {
        id: String,
        tenant_id: String,
        appid: String,
        channel_id: String,
        out_trade_no: String,
        amount: i64,
        currency: String,
        description: String,
        attach: Option<String>,
        trade_type: String,
        state: String,
        payer_openid: Option<String>,
        prepay_id: Option<String>,
        prepay_expires_at: Option<i64>,
        code_url: Option<String>,
        transaction_id: Option<String>,
        client_ip: Option<String>,
        expires_at: Option<i64>,
        paid_at: Option<i64>,
        refunded_amount: i64,
        created_at: i64,
        updated_at: i64,
    }
}

/// An order row joined with one of its history rows (all `t_` columns NULL when it has none).
#[derive(sqlx::FromRow)]
struct OrderHistoryRow {
    #[sqlx(flatten)]
    order: OrderRow,
    t_from: Option<String>,
    t_to: Option<String>,
    t_cause: Option<String>,
    t_at: Option<i64>,
}

// By hand: `db_row!` cannot express `flatten`.
impl crate::sqlite::SqliteDecode for OrderHistoryRow {
    fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        // The flattened row's own fields come first; these follow it.
        let columns = crate::sqlite::Columns::new(row);
        Ok(OrderHistoryRow {
            order: OrderRow::decode(row)?,
            t_from: columns.get("t_from")?,
            t_to: columns.get("t_to")?,
            t_cause: columns.get("t_cause")?,
            t_at: columns.get("t_at")?,
        })
    }
}

pub(crate) fn parse_state(s: &str) -> Result<OrderState, StoreError> {
    OrderState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("order state {s:?}")))
}

fn money(column: &'static str, fen: i64) -> Result<Money, StoreError> {
    Money::from_fen(fen).map_err(|_| StoreError::Corrupt(format!("{column} = {fen}")))
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;
    fn try_from(r: OrderRow) -> Result<Self, StoreError> {
        Ok(Order {
            id: parse_col("orders.id", &r.id)?,
            tenant_id: parse_col("orders.tenant_id", &r.tenant_id)?,
            appid: parse_col("orders.appid", &r.appid)?,
            channel_id: parse_col("orders.channel_id", &r.channel_id)?,
            out_trade_no: parse_col("orders.out_trade_no", &r.out_trade_no)?,
            amount: money("orders.amount", r.amount)?,
            currency: r.currency,
            description: r.description,
            attach: r.attach,
            trade_type: OrderTradeType::parse(&r.trade_type)?,
            state: parse_state(&r.state)?,
            payer_openid: parse_opt("orders.payer_openid", r.payer_openid.as_deref())?,
            prepay_id: r.prepay_id,
            prepay_expires_at: from_ms_opt(r.prepay_expires_at)?,
            code_url: r.code_url,
            transaction_id: r.transaction_id,
            client_ip: r.client_ip,
            expires_at: from_ms_opt(r.expires_at)?,
            paid_at: from_ms_opt(r.paid_at)?,
            refunded_amount: money("orders.refunded_amount", r.refunded_amount)?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// The head of a new order's `INSERT` (values follow in this column order), shared with the
/// one-statement creation in `single_statement`.
macro_rules! insert_order {
    () => {
        "INSERT INTO orders (id, tenant_id, appid, channel_id, out_trade_no, amount, currency, \
         description, attach, trade_type, state, payer_openid, client_ip, expires_at, \
         refunded_amount, created_at, updated_at)"
    };
}
pub(crate) use insert_order;

/// The columns of [`OrderRow`], for `SELECT` and `RETURNING`.
macro_rules! order_columns {
    () => {
        "id, tenant_id, appid, channel_id, out_trade_no, amount, currency, description, attach, \
         trade_type, state, payer_openid, prepay_id, prepay_expires_at, code_url, transaction_id, \
         client_ip, expires_at, paid_at, refunded_amount, created_at, updated_at"
    };
}
pub(crate) use order_columns;

macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT ", order_columns!(), " FROM orders ", $rest)
    };
}
pub(crate) use select;

/// The `Idempotency-Key` an order is created under ([`Orders::create_idempotent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyClaim<'a> {
    pub key: &'a str,
    /// Identifies the request, to tell a replay from a key reused for another one.
    pub request_hash: &'a str,
    /// The order's `out_trade_no` was derived from the key, so an order already holding it is
    /// this very request's: committed by an earlier run that died before recording its
    /// response (the three-step path, whose claim lapsed since). It is answered and recorded
    /// instead of being refused as a duplicate.
    pub adopt_existing: bool,
}

/// The outcome of [`Orders::create_idempotent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotentCreate {
    /// The order (new, or adopted) and the response stored under the key, committed together.
    Created {
        /// Boxed: an order is ten times the size of a held key.
        order: Box<Order>,
        status: u16,
        body: Vec<u8>,
    },
    /// Another request holds the key; nothing was written.
    Held(HeldKey),
}

fn check_new(new: &NewOrder) -> Result<(), StoreError> {
    if new.amount == Money::ZERO {
        return Err(StoreError::invalid("amount", "must be at least 1 fen"));
    }
    Ok(())
}

fn out_trade_no_taken() -> StoreError {
    StoreError::Conflict {
        constraint: "orders_tenant_out_trade_no_key".into(),
    }
}

/// The audit summary of an order's creation.
pub(crate) fn create_summary(new: &NewOrder) -> serde_json::Value {
    serde_json::json!({
        "out_trade_no": new.out_trade_no.as_str(),
        "amount": new.amount.fen(),
        "appid": new.appid.as_str(),
        "channel_id": new.channel_id.as_str(),
    })
}

/// What [`insert_in`] did.
enum Inserted {
    /// The new order, audited.
    Created(Order),
    /// The tenant already has an order with this `out_trade_no` (this one); nothing written.
    Taken(Order),
}

/// Inserts the order and its audit row in `tx`. A taken `out_trade_no` is not a failed
/// statement, which on PostgreSQL would abort the transaction, but (`ON CONFLICT DO NOTHING`)
/// [`Inserted::Taken`], so an idempotent create can adopt the order and go on.
async fn insert_in(
    store: &Store,
    tx: &mut Tx,
    audit: &Audit,
    tenant: &TenantId,
    new: &NewOrder,
) -> Result<Inserted, StoreError> {
    let id: OrderId = store.new_id();
    let now = store.now_ms();
    // The app and the channel must be the tenant's: checked by the insert itself, which
    // inserts nothing otherwise, and returns the new row (no read after the commit).
    let created: Option<OrderRow> = tx
        .optional(
            concat!(
                insert_order!(),
                " SELECT $1, $2, $3, $4, $5, $6, 'CNY', $7, $8, $9, 'CREATED', $10, $11, $12, \
                 0, $13, $13 \
                 WHERE EXISTS (SELECT 1 FROM apps WHERE tenant_id = $2 AND appid = $3) \
                 AND EXISTS (SELECT 1 FROM channels WHERE tenant_id = $2 AND id = $4) \
                 ON CONFLICT (tenant_id, out_trade_no) DO NOTHING \
                 RETURNING ",
                order_columns!()
            ),
            args![
                id.as_str(),
                tenant.as_str(),
                new.appid.as_str(),
                new.channel_id.as_str(),
                new.out_trade_no.as_str(),
                new.amount.fen(),
                new.description.as_str(),
                new.attach.clone(),
                new.trade_type.as_str(),
                new.payer_openid.as_ref().map(|o| o.as_str().to_owned()),
                new.client_ip.clone(),
                new.expires_at,
                now
            ],
        )
        .await?;
    let Some(created) = created else {
        // Nothing inserted: the reference is taken, or the app or the channel is not the
        // tenant's (in that order, as a failed insert would report them).
        let taken: Option<OrderRow> = tx
            .optional(
                select!("WHERE tenant_id = $1 AND out_trade_no = $2"),
                args![tenant.as_str(), new.out_trade_no.as_str()],
            )
            .await?;
        if let Some(taken) = taken {
            return Ok(Inserted::Taken(taken.try_into()?));
        }
        let app: Option<(String,)> = tx
            .optional(
                "SELECT appid FROM apps WHERE tenant_id = $1 AND appid = $2",
                args![tenant.as_str(), new.appid.as_str()],
            )
            .await?;
        return Err(StoreError::not_found(if app.is_none() {
            "app"
        } else {
            "channel"
        }));
    };
    AuditRecord::tenant(tenant, "order.create", id.as_str())
        .summary(create_summary(new))
        .write(store, tx, audit)
        .await?;
    Ok(Inserted::Created(created.try_into()?))
}

/// `store.orders()`.
#[derive(Debug, Clone, Copy)]
pub struct Orders<'a> {
    pub(crate) store: &'a Store,
}

impl Orders<'_> {
    /// Creates an order in `CREATED`. The app and channel must be the tenant's; a repeated
    /// `out_trade_no` is `Conflict { orders_tenant_out_trade_no_key }`. The payer may be
    /// bound later ([`Orders::bind_payer`], [`Orders::set_prepay`]); a JSAPI prepay needs one.
    pub async fn create(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        new: &NewOrder,
    ) -> Result<Order, StoreError> {
        check_new(new)?;
        let mut tx = self.store.write_tx().await?;
        match insert_in(self.store, &mut tx, audit, tenant, new).await? {
            Inserted::Created(order) => {
                tx.commit().await?;
                Ok(order)
            }
            Inserted::Taken(_) => Err(out_trade_no_taken()),
        }
    }

    /// [`Orders::create`] under an `Idempotency-Key`, in one transaction: claim the key,
    /// create the order, store the response `respond` makes of it, commit. So either all of it
    /// happens or none does: a request refused (by the key, or by the order's own checks)
    /// leaves neither an order nor a claim behind, and no one ever sees the key claimed but
    /// unanswered.
    ///
    /// A key another request holds ([`HeldKey`]: completed, or an unfinished claim of the
    /// three-step path within its lease) is answered [`IdempotentCreate::Held`], with nothing
    /// written. An order refused (unknown app or channel, `out_trade_no` taken) is the error
    /// [`Orders::create`] gives, as is a failing `respond` (`E`, converted from the store's);
    /// the key stays free for a retry.
    ///
    /// On PostgreSQL the common outcome (a free key, a new order) is one statement (see
    /// `single_statement`), so `respond` may be called twice: on that statement's order and,
    /// when the statement wrote nothing, on the order the general path creates. Only the
    /// response of the order that exists is stored and returned.
    pub async fn create_idempotent<E, F>(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        new: &NewOrder,
        claim: &IdempotencyClaim<'_>,
        respond: F,
    ) -> Result<IdempotentCreate, E>
    where
        E: From<StoreError>,
        F: Fn(&Order) -> Result<(u16, Vec<u8>), E>,
    {
        check_new(new)?;
        if self.store.backend() == Backend::Postgres
            && let Some(created) =
                single_statement::create_idempotent(self.store, audit, tenant, new, claim, &respond)
                    .await?
        {
            return Ok(created);
        }
        let now = self.store.now();
        let mut tx = self.store.write_tx().await?;
        // The claim comes first: a held key must not even see whether the order would be valid.
        if let Some(held) = claim_in(&mut tx, now, tenant, claim.key, claim.request_hash).await? {
            return Ok(IdempotentCreate::Held(held));
        }
        let order = match insert_in(self.store, &mut tx, audit, tenant, new).await? {
            Inserted::Created(order) => order,
            Inserted::Taken(order) if claim.adopt_existing => order,
            Inserted::Taken(_) => return Err(out_trade_no_taken().into()),
        };
        let (status, body) = respond(&order)?;
        complete_in(&mut tx, tenant, claim.key, status, &body).await?;
        tx.commit().await?;
        Ok(IdempotentCreate::Created {
            order: Box::new(order),
            status,
            body,
        })
    }

    /// The order alone (no history: one statement, for paths that only need the row).
    pub async fn get_order(&self, tenant: &TenantId, id: &OrderId) -> Result<Order, StoreError> {
        let row: Option<OrderRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND id = $2"),
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("order"))?.try_into()
    }

    /// The order with its state history, in one statement: the order's columns repeat on
    /// each history row (a `LEFT JOIN`, so an order without history is one row of NULLs).
    pub async fn get(&self, tenant: &TenantId, id: &OrderId) -> Result<OrderDetail, StoreError> {
        let rows: Vec<OrderHistoryRow> = self
            .store
            .pool()
            .all(
                "SELECT o.id AS id, o.tenant_id AS tenant_id, o.appid AS appid, \
                 o.channel_id AS channel_id, o.out_trade_no AS out_trade_no, \
                 o.amount AS amount, o.currency AS currency, o.description AS description, \
                 o.attach AS attach, o.trade_type AS trade_type, o.state AS state, \
                 o.payer_openid AS payer_openid, o.prepay_id AS prepay_id, \
                 o.prepay_expires_at AS prepay_expires_at, o.code_url AS code_url, \
                 o.transaction_id AS transaction_id, o.client_ip AS client_ip, \
                 o.expires_at AS expires_at, o.paid_at AS paid_at, \
                 o.refunded_amount AS refunded_amount, o.created_at AS created_at, \
                 o.updated_at AS updated_at, \
                 t.from_state AS t_from, t.to_state AS t_to, t.cause AS t_cause, t.at AS t_at \
                 FROM orders o LEFT JOIN order_transitions t \
                 ON t.tenant_id = o.tenant_id AND t.order_id = o.id \
                 WHERE o.tenant_id = $1 AND o.id = $2 ORDER BY t.id",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        let mut history = Vec::with_capacity(rows.len());
        let mut order = None;
        for row in rows {
            if let (Some(from), Some(to), Some(cause), Some(at)) =
                (&row.t_from, &row.t_to, &row.t_cause, row.t_at)
            {
                history.push(OrderTransition {
                    from: parse_state(from)?,
                    to: parse_state(to)?,
                    cause: cause.clone(),
                    at: from_ms(at)?,
                });
            }
            if order.is_none() {
                order = Some(Order::try_from(row.order)?);
            }
        }
        let order = order.ok_or(StoreError::not_found("order"))?;
        Ok(OrderDetail { order, history })
    }

    /// The order with this merchant order number, if any.
    pub async fn find_by_out_trade_no(
        &self,
        tenant: &TenantId,
        out_trade_no: &OutTradeNo,
    ) -> Result<Option<Order>, StoreError> {
        let row: Option<OrderRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND out_trade_no = $2"),
                args![tenant.as_str(), out_trade_no.as_str()],
            )
            .await?;
        row.map(Order::try_from).transpose()
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        filter: &OrderFilter,
        page: &Page,
    ) -> Result<Paged<Order>, StoreError> {
        let rows: Vec<OrderRow> = self
            .store
            .pool()
            .all(
                select!(
                    "WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
                     AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) \
                     AND ($5 IS NULL OR out_trade_no = $5) \
                     AND ($6 IS NULL OR payer_openid = $6) AND ($7 IS NULL OR appid = $7) \
                     AND ($8 IS NULL OR channel_id = $8) \
                     AND ($9 IS NULL OR id < $9) ORDER BY id DESC LIMIT $10"
                ),
                args![
                    tenant.as_str(),
                    filter.state.map(OrderState::as_str),
                    filter.created_from,
                    filter.created_to,
                    filter.out_trade_no.as_ref().map(|o| o.as_str().to_owned()),
                    filter.payer_openid.as_ref().map(|o| o.as_str().to_owned()),
                    filter.appid.as_ref().map(|a| a.as_str().to_owned()),
                    filter.channel_id.as_ref().map(|c| c.as_str().to_owned()),
                    page.cursor(),
                    page.fetch_limit()
                ],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Order::try_from)
    }

    /// Moves the order from `expected_from` to `to` if it is still in `expected_from`.
    ///
    /// - An illegal move (by `OrderState::transition_to`) is `IllegalTransition`.
    /// - `Applied`: the state changed and one history row was written.
    /// - `NoOp`: the order was already in `to` (a repeated notification, or a concurrent
    ///   caller won the race); nothing is written.
    /// - The order in any other state is `StateMismatch` with the state found.
    pub async fn transition(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        expected_from: OrderState,
        to: OrderState,
        cause: &str,
    ) -> Result<Transition, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let change = OrderChange::cause(cause);
        let outcome = transition_in(
            &mut tx,
            self.store.now_ms(),
            tenant,
            id,
            (expected_from, to),
            &change,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}
