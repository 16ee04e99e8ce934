//! Read-only views for the admin API: refunds, notifications, events, webhook deliveries and
//! alerts. The writers (payment API, notification handler, delivery worker) come with their
//! issues; this module only lists what they stored, newest first, scoped by tenant.
//!
//! Notification bodies are not part of list rows (they can be large); fetch one with
//! [`Activity::notification_body`].

use std::str::FromStr;

use paygate_core::{
    AlertId, ChannelId, DeliveryId, EventId, Money, NotificationId, OrderId, RefundRecordId,
    RefundState, TenantId,
};
use time::OffsetDateTime;

use crate::db::{args, db_row, from_ms, from_ms_opt, parse_col, parse_opt};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::store::Store;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $column:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt(format!(concat!($column, " = {:?}"), other))),
                }
            }
        }
    };
}

text_enum!(
    /// Which notify endpoint a notification came to.
    NotificationKind, "notifications.kind" { Payment = "payment", Refund = "refund" }
);
text_enum!(
    /// The state of one delivery attempt.
    DeliveryStatus, "webhook_deliveries.status" {
        Pending = "pending", Succeeded = "succeeded", Failed = "failed"
    }
);
text_enum!(
    AlertSeverity, "alerts.severity" { Info = "info", Warning = "warning", Critical = "critical" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundRecordId,
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub out_refund_no: String,
    pub amount: Money,
    pub reason: Option<String>,
    pub state: RefundState,
    pub refund_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub succeeded_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    pub id: NotificationId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub kind: NotificationKind,
    pub dedupe_key: String,
    pub verified: bool,
    pub outcome: String,
    pub received_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub attempt: i64,
    pub status: DeliveryStatus,
    pub response_status: Option<i64>,
    pub error: Option<String>,
    /// How long the tenant's endpoint took to answer (absent when it never answered).
    pub latency_ms: Option<i64>,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: AlertId,
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    pub severity: AlertSeverity,
    pub message: String,
    pub details: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
}

/// Alert list filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub tenant: Option<TenantId>,
    pub unresolved_only: bool,
}

db_row! {
    pub(crate) struct RefundRow {
        id: String,
        tenant_id: String,
        order_id: String,
        out_refund_no: String,
        amount: i64,
        reason: Option<String>,
        state: String,
        refund_id: Option<String>,
        created_at: i64,
        updated_at: i64,
        succeeded_at: Option<i64>,
    }
}

impl TryFrom<RefundRow> for Refund {
    type Error = StoreError;
    fn try_from(r: RefundRow) -> Result<Self, StoreError> {
        Ok(Refund {
            id: parse_col("refunds.id", &r.id)?,
            tenant_id: parse_col("refunds.tenant_id", &r.tenant_id)?,
            order_id: parse_col("refunds.order_id", &r.order_id)?,
            out_refund_no: r.out_refund_no,
            amount: Money::from_fen(r.amount)
                .map_err(|_| StoreError::Corrupt(format!("refunds.amount = {}", r.amount)))?,
            reason: r.reason,
            state: RefundState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("refunds.state = {:?}", r.state)))?,
            refund_id: r.refund_id,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
            succeeded_at: from_ms_opt(r.succeeded_at)?,
        })
    }
}

db_row! {
    struct NotificationRow {
        id: String,
        tenant_id: String,
        channel_id: String,
        kind: String,
        dedupe_key: String,
        verified: bool,
        outcome: String,
        received_at: i64,
    }
}

impl TryFrom<NotificationRow> for NotificationRecord {
    type Error = StoreError;
    fn try_from(r: NotificationRow) -> Result<Self, StoreError> {
        Ok(NotificationRecord {
            id: parse_col("notifications.id", &r.id)?,
            tenant_id: parse_col("notifications.tenant_id", &r.tenant_id)?,
            channel_id: parse_col("notifications.channel_id", &r.channel_id)?,
            kind: r.kind.parse()?,
            dedupe_key: r.dedupe_key,
            verified: r.verified,
            outcome: r.outcome,
            received_at: from_ms(r.received_at)?,
        })
    }
}

db_row! {
    struct EventRow {
        id: String,
        tenant_id: String,
        event_type: String,
        payload: String,
        created_at: i64,
    }
}

fn json(column: &'static str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{column} is not JSON")))
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            id: parse_col("events.id", &r.id)?,
            tenant_id: parse_col("events.tenant_id", &r.tenant_id)?,
            event_type: r.event_type,
            payload: json("events.payload", &r.payload)?,
            created_at: from_ms(r.created_at)?,
        })
    }
}

db_row! {
    struct DeliveryRow {
        id: String,
        tenant_id: String,
        event_id: String,
        attempt: i64,
        status: String,
        response_status: Option<i64>,
        error: Option<String>,
        latency_ms: Option<i64>,
        next_attempt_at: Option<i64>,
        created_at: i64,
    }
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Delivery {
            id: parse_col("webhook_deliveries.id", &r.id)?,
            tenant_id: parse_col("webhook_deliveries.tenant_id", &r.tenant_id)?,
            event_id: parse_col("webhook_deliveries.event_id", &r.event_id)?,
            attempt: r.attempt,
            status: r.status.parse()?,
            response_status: r.response_status,
            error: r.error,
            latency_ms: r.latency_ms,
            next_attempt_at: from_ms_opt(r.next_attempt_at)?,
            created_at: from_ms(r.created_at)?,
        })
    }
}

db_row! {
    struct AlertRow {
        id: String,
        tenant_id: Option<String>,
        kind: String,
        severity: String,
        message: String,
        details: String,
        created_at: i64,
        resolved_at: Option<i64>,
    }
}

impl TryFrom<AlertRow> for Alert {
    type Error = StoreError;
    fn try_from(r: AlertRow) -> Result<Self, StoreError> {
        Ok(Alert {
            id: parse_col("alerts.id", &r.id)?,
            tenant_id: parse_opt("alerts.tenant_id", r.tenant_id.as_deref())?,
            kind: r.kind,
            severity: r.severity.parse()?,
            message: r.message,
            details: json("alerts.details", &r.details)?,
            created_at: from_ms(r.created_at)?,
            resolved_at: from_ms_opt(r.resolved_at)?,
        })
    }
}

/// `store.activity()`.
#[derive(Debug, Clone, Copy)]
pub struct Activity<'a> {
    pub(crate) store: &'a Store,
}

impl Activity<'_> {
    /// A tenant's refunds; `order` narrows to one order's.
    pub async fn refunds(
        &self,
        tenant: &TenantId,
        order: Option<&OrderId>,
        page: &Page,
    ) -> Result<Paged<Refund>, StoreError> {
        let rows: Vec<RefundRow> = self
            .store
            .pool()
            .all(
                "SELECT id, tenant_id, order_id, out_refund_no, amount, reason, state, refund_id, \
                 created_at, updated_at, succeeded_at FROM refunds WHERE tenant_id = $1 \
                 AND ($2 IS NULL OR order_id = $2) AND ($3 IS NULL OR id < $3) \
                 ORDER BY id DESC LIMIT $4",
                args![
                    tenant.as_str(),
                    order.map(OrderId::as_str),
                    page.cursor(),
                    page.fetch_limit()
                ],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Refund::try_from)
    }

    pub async fn notifications(
        &self,
        tenant: &TenantId,
        page: &Page,
    ) -> Result<Paged<NotificationRecord>, StoreError> {
        let rows: Vec<NotificationRow> = self
            .store
            .pool()
            .all(
                "SELECT id, tenant_id, channel_id, kind, dedupe_key, verified, outcome, \
                 received_at FROM notifications WHERE tenant_id = $1 \
                 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                args![tenant.as_str(), page.cursor(), page.fetch_limit()],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(NotificationRecord::try_from)
    }

    /// The raw body of one notification, exactly as received.
    pub async fn notification_body(
        &self,
        tenant: &TenantId,
        id: &NotificationId,
    ) -> Result<Vec<u8>, StoreError> {
        let row: Option<(Vec<u8>,)> = self
            .store
            .pool()
            .optional(
                "SELECT raw_body FROM notifications WHERE tenant_id = $1 AND id = $2",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        row.map(|(body,)| body)
            .ok_or(StoreError::not_found("notification"))
    }

    pub async fn events(&self, tenant: &TenantId, page: &Page) -> Result<Paged<Event>, StoreError> {
        let rows: Vec<EventRow> = self
            .store
            .pool()
            .all(
                "SELECT id, tenant_id, event_type, payload, created_at FROM events \
                 WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                args![tenant.as_str(), page.cursor(), page.fetch_limit()],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Event::try_from)
    }

    /// A tenant's delivery attempts; `event` narrows to one event's.
    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        event: Option<&EventId>,
        page: &Page,
    ) -> Result<Paged<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = self
            .store
            .pool()
            .all(
                "SELECT id, tenant_id, event_id, attempt, status, response_status, error, \
                 latency_ms, next_attempt_at, created_at FROM webhook_deliveries WHERE tenant_id = $1 \
                 AND ($2 IS NULL OR event_id = $2) AND ($3 IS NULL OR id < $3) \
                 ORDER BY id DESC LIMIT $4",
                args![
                    tenant.as_str(),
                    event.map(EventId::as_str),
                    page.cursor(),
                    page.fetch_limit()
                ],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Delivery::try_from)
    }

    /// Alerts across the platform, or one tenant's.
    pub async fn alerts(
        &self,
        filter: &AlertFilter,
        page: &Page,
    ) -> Result<Paged<Alert>, StoreError> {
        let rows: Vec<AlertRow> = self
            .store
            .pool()
            .all(
                "SELECT id, tenant_id, kind, severity, message, details, created_at, resolved_at \
                 FROM alerts WHERE ($1 IS NULL OR tenant_id = $1) \
                 AND ($2 = FALSE OR resolved_at IS NULL) AND ($3 IS NULL OR id < $3) \
                 ORDER BY id DESC LIMIT $4",
                args![
                    filter.tenant.as_ref().map(|t| t.as_str().to_owned()),
                    filter.unresolved_only,
                    page.cursor(),
                    page.fetch_limit()
                ],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Alert::try_from)
    }
}
