//! Response shapes of the read-only views (orders, refunds, notifications, events, webhook
//! deliveries, alerts, audit log, stats). Amounts are integer fen with `currency: "CNY"`;
//! times are RFC 3339 UTC. None of these carries a secret: notification bodies and webhook
//! secrets are not exposed here.

use paygate_core::{
    AlertId, AppId, AuditId, ChannelId, DeliveryId, EventId, NotificationId, OrderId, OrderState,
    RefundRecordId, TenantId,
};
use paygate_store::{
    Alert, AuditEntry, DayStats, Delivery, Event, NotificationRecord, Order, OrderDetail,
    OrderTransition, Refund,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;
use utoipa::ToSchema;

/// paygate only settles in yuan.
const CURRENCY: &str = "CNY";

/// An order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    #[schema(value_type = String, example = "ord_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: OrderId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    #[schema(value_type = String)]
    pub appid: AppId,
    #[schema(value_type = String)]
    pub channel_id: ChannelId,
    pub out_trade_no: String,
    /// Fen.
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub attach: Option<String>,
    /// `JSAPI` or `NATIVE`.
    pub trade_type: String,
    /// `CREATED`, `PENDING`, `PAID`, `CLOSED`, `PAY_ERROR`, `PARTIALLY_REFUNDED`, `REFUNDED`.
    #[schema(value_type = String, example = "PAID")]
    pub state: OrderState,
    pub payer_openid: Option<String>,
    pub transaction_id: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub paid_at: Option<OffsetDateTime>,
    /// Fen refunded so far.
    pub refunded_amount: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        OrderView {
            id: o.id,
            tenant_id: o.tenant_id,
            appid: o.appid,
            channel_id: o.channel_id,
            out_trade_no: o.out_trade_no.into_string(),
            amount: o.amount.fen(),
            currency: o.currency,
            description: o.description,
            attach: o.attach,
            trade_type: o.trade_type.as_str().to_owned(),
            state: o.state,
            payer_openid: o.payer_openid.map(|p| p.as_str().to_owned()),
            transaction_id: o.transaction_id,
            expires_at: o.expires_at,
            paid_at: o.paid_at,
            refunded_amount: o.refunded_amount.fen(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// One state change of an order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransitionView {
    #[schema(value_type = String)]
    pub from: OrderState,
    #[schema(value_type = String)]
    pub to: OrderState,
    /// What caused it (`prepay`, `notification`, `query`, `close`, …).
    pub cause: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl From<OrderTransition> for TransitionView {
    fn from(t: OrderTransition) -> Self {
        TransitionView {
            from: t.from,
            to: t.to,
            cause: t.cause,
            at: t.at,
        }
    }
}

/// An order with its state history, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderDetailView {
    #[serde(flatten)]
    pub order: OrderView,
    pub history: Vec<TransitionView>,
}

impl From<OrderDetail> for OrderDetailView {
    fn from(d: OrderDetail) -> Self {
        OrderDetailView {
            order: d.order.into(),
            history: d.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// A refund.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundView {
    #[schema(value_type = String, example = "ref_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: RefundRecordId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub out_refund_no: String,
    /// Fen.
    pub amount: i64,
    pub currency: String,
    pub reason: Option<String>,
    /// `PROCESSING`, `SUCCESS`, `ABNORMAL`, `CLOSED`.
    pub state: String,
    /// WeChat's refund id.
    pub refund_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub succeeded_at: Option<OffsetDateTime>,
}

impl From<Refund> for RefundView {
    fn from(r: Refund) -> Self {
        RefundView {
            id: r.id,
            tenant_id: r.tenant_id,
            order_id: r.order_id,
            out_refund_no: r.out_refund_no,
            amount: r.amount.fen(),
            currency: CURRENCY.to_owned(),
            reason: r.reason,
            state: r.state.as_str().to_owned(),
            refund_id: r.refund_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            succeeded_at: r.succeeded_at,
        }
    }
}

/// A notification received from WeChat (its body is not shown here).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    #[schema(value_type = String)]
    pub id: NotificationId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    #[schema(value_type = String)]
    pub channel_id: ChannelId,
    /// `payment` or `refund`.
    pub kind: String,
    pub dedupe_key: String,
    /// Whether the signature verified.
    pub verified: bool,
    pub outcome: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

impl From<NotificationRecord> for NotificationView {
    fn from(n: NotificationRecord) -> Self {
        NotificationView {
            id: n.id,
            tenant_id: n.tenant_id,
            channel_id: n.channel_id,
            kind: n.kind.as_str().to_owned(),
            dedupe_key: n.dedupe_key,
            verified: n.verified,
            outcome: n.outcome,
            received_at: n.received_at,
        }
    }
}

/// A domain event destined for the tenant's webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// e.g. `order.paid`.
    pub event_type: String,
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            id: e.id,
            tenant_id: e.tenant_id,
            event_type: e.event_type,
            payload: e.payload,
            created_at: e.created_at,
        }
    }
}

/// One webhook delivery attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String)]
    pub id: DeliveryId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    #[schema(value_type = String)]
    pub event_id: EventId,
    pub attempt: i64,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub response_status: Option<i64>,
    pub error: Option<String>,
    /// How long the endpoint took to answer, in milliseconds (absent when it never answered).
    pub latency_ms: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            tenant_id: d.tenant_id,
            event_id: d.event_id,
            attempt: d.attempt,
            status: d.status.as_str().to_owned(),
            response_status: d.response_status,
            error: d.error,
            latency_ms: d.latency_ms,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
        }
    }
}

/// An alert raised for the operator.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    #[schema(value_type = String)]
    pub id: AlertId,
    #[schema(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub message: String,
    pub details: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        AlertView {
            id: a.id,
            tenant_id: a.tenant_id,
            kind: a.kind,
            severity: a.severity.as_str().to_owned(),
            message: a.message,
            details: a.details,
            created_at: a.created_at,
            resolved_at: a.resolved_at,
        }
    }
}

/// One audit-log entry: who changed what (the summary never holds a secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    #[schema(value_type = String)]
    pub id: AuditId,
    #[schema(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
    /// `op_…`, `key_…`, `cli` or `system`.
    pub actor: String,
    /// e.g. `tenant.create`.
    pub action: String,
    pub target: String,
    pub summary: serde_json::Value,
    pub request_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        AuditEntryView {
            id: e.id,
            tenant_id: e.tenant_id,
            actor: e.actor,
            action: e.action,
            target: e.target,
            summary: e.summary,
            request_id: e.request_id,
            at: e.at,
        }
    }
}

/// One UTC day's figures.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayStatsView {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub orders_created: i64,
    /// Of the orders created that day, how many are paid by now.
    pub orders_created_paid: i64,
    pub orders_paid: i64,
    /// Fen.
    pub paid_amount: i64,
    pub refunds_succeeded: i64,
    /// Fen.
    pub refunded_amount: i64,
    pub deliveries_succeeded: i64,
    pub deliveries_failed: i64,
    pub currency: String,
}

impl From<DayStats> for DayStatsView {
    fn from(d: DayStats) -> Self {
        DayStatsView {
            day: d
                .day
                .format(format_description!("[year]-[month]-[day]"))
                .unwrap_or_default(),
            orders_created: d.orders_created,
            orders_created_paid: d.orders_created_paid,
            orders_paid: d.orders_paid,
            paid_amount: d.paid_amount.fen(),
            refunds_succeeded: d.refunds_succeeded,
            refunded_amount: d.refunded_amount.fen(),
            deliveries_succeeded: d.deliveries_succeeded,
            deliveries_failed: d.deliveries_failed,
            currency: CURRENCY.to_owned(),
        }
    }
}

/// Daily figures over a range, every day present.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsView {
    pub from: String,
    pub to: String,
    #[schema(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
    pub days: Vec<DayStatsView>,
}
