//! The webhook delivery queue: outbox events as the delivery worker sees them.
//!
//! An event is `pending` until a 2xx comes back (`delivered`), the schedule runs out or the
//! endpoint answers 410 (`failed`, resendable), or it turns out its tenant has no endpoint
//! (`skipped`). Workers take due events with an expiring claim (`claimed_until`, set in the
//! claiming statement; PostgreSQL adds `FOR UPDATE SKIP LOCKED`), so several instances split
//! the queue and a crashed worker's claims lapse. Each attempt is written with its outcome in
//! one transaction ([`WebhookDeliveries::record_attempt`]; the worker writes the attempts that
//! finished together, [`WebhookDeliveries::record_attempts`]).
//!
//! Per-order ordering is enforced here, in the claim: an event whose order has an earlier
//! event still `pending` is not claimable. This module never decides retry timing; the worker
//! passes `next_attempt_at`.

use paygate_core::{DeliveryId, EventId, TenantId};
use time::{Duration, OffsetDateTime};

use crate::audit::{Audit, AuditRecord};
use crate::db::{Backend, Tx, args, db_row, dialect, from_ms, from_ms_opt, parse_col};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::repo::activity::DeliveryStatus;
use crate::store::Store;
use crate::tx::{NewAlert, StoreTx};

/// An event's delivery state (`events.delivery_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventDelivery {
    Pending,
    Delivered,
    Failed,
    Skipped,
}

impl EventDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            EventDelivery::Pending => "pending",
            EventDelivery::Delivered => "delivered",
            EventDelivery::Failed => "failed",
            EventDelivery::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => EventDelivery::Pending,
            "delivered" => EventDelivery::Delivered,
            "failed" => EventDelivery::Failed,
            "skipped" => EventDelivery::Skipped,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "events.delivery_status = {other:?}"
                )));
            }
        })
    }
}

/// An event with its delivery state.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub order_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub status: EventDelivery,
    /// Attempts made so far, over the event's whole life.
    pub attempts: i64,
    /// Attempts made since the last manual resend: the worker's position in its schedule.
    pub attempts_in_schedule: i64,
    pub next_attempt_at: OffsetDateTime,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub delivered_at: Option<OffsetDateTime>,
}

macro_rules! event_columns {
    () => {
        "id, tenant_id, event_type, payload, order_id, created_at, delivery_status, attempts, \
         schedule_base, next_attempt_at, last_status_code, last_latency_ms, delivered_at"
    };
}

db_row! {
    struct QueuedRow {
        id: String,
        tenant_id: String,
        event_type: String,
        payload: String,
        order_id: Option<String>,
        created_at: i64,
        delivery_status: String,
        attempts: i64,
        schedule_base: i64,
        next_attempt_at: i64,
        last_status_code: Option<i64>,
        last_latency_ms: Option<i64>,
        delivered_at: Option<i64>,
    }
}

impl TryFrom<QueuedRow> for QueuedEvent {
    type Error = StoreError;
    fn try_from(r: QueuedRow) -> Result<Self, StoreError> {
        Ok(QueuedEvent {
            id: parse_col("events.id", &r.id)?,
            tenant_id: parse_col("events.tenant_id", &r.tenant_id)?,
            event_type: r.event_type,
            payload: serde_json::from_str(&r.payload)
                .map_err(|_| StoreError::Corrupt("events.payload is not JSON".into()))?,
            order_id: r.order_id,
            created_at: from_ms(r.created_at)?,
            status: EventDelivery::parse(&r.delivery_status)?,
            attempts: r.attempts,
            attempts_in_schedule: r.attempts - r.schedule_base,
            next_attempt_at: from_ms(r.next_attempt_at)?,
            last_status_code: r.last_status_code,
            last_latency_ms: r.last_latency_ms,
            delivered_at: from_ms_opt(r.delivered_at)?,
        })
    }
}

/// The outcome of one attempt, as the worker judged it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub tenant_id: TenantId,
    pub event_id: EventId,
    /// `Succeeded`, `Pending` (will retry at `next_attempt_at`) or `Failed` (for good).
    pub status: DeliveryStatus,
    pub response_status: Option<u16>,
    pub latency_ms: Option<i64>,
    /// A short, secret-free description of what went wrong.
    pub error: Option<String>,
    /// Required with `Pending`.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Disables the endpoint with this reason (410 Gone).
    pub disable_endpoint: Option<String>,
    /// Raised in the same transaction.
    pub alert: Option<NewAlert>,
}

/// `store.webhook_deliveries()`.
#[derive(Debug, Clone, Copy)]
pub struct WebhookDeliveries<'a> {
    pub(crate) store: &'a Store,
}

impl Store {
    pub fn webhook_deliveries(&self) -> WebhookDeliveries<'_> {
        WebhookDeliveries { store: self }
    }
}

impl WebhookDeliveries<'_> {
    /// Marks `pending` events of tenants without an endpoint `skipped`; returns how many.
    pub async fn skip_without_endpoint(&self) -> Result<u64, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let n = tx
            .execute(
                "UPDATE events SET delivery_status = 'skipped' WHERE delivery_status = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w \
                 WHERE w.tenant_id = events.tenant_id)",
                args![],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Claims up to `limit` due events (all tenants) whose endpoint is active, that are not
    /// claimed (or whose claim lapsed) and whose order has no earlier `pending` event; sets
    /// `claimed_until = now + claim_for` in the same statement.
    pub async fn claim_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
        claim_for: Duration,
    ) -> Result<Vec<QueuedEvent>, StoreError> {
        let sql = dialect(
            self.store.backend(),
            concat!(
                "UPDATE events SET claimed_until = $1 WHERE id IN (SELECT e.id FROM events e \
                 JOIN webhook_endpoints w ON w.tenant_id = e.tenant_id \
                 WHERE e.delivery_status = 'pending' AND e.next_attempt_at <= $2 \
                 AND (e.claimed_until IS NULL OR e.claimed_until <= $2) \
                 AND w.paused = FALSE AND w.disabled_at IS NULL \
                 AND (e.order_id IS NULL OR NOT EXISTS (SELECT 1 FROM events p \
                 WHERE p.tenant_id = e.tenant_id AND p.order_id = e.order_id \
                 AND p.delivery_status = 'pending' AND (p.created_at < e.created_at \
                 OR (p.created_at = e.created_at AND p.id < e.id)))) \
                 ORDER BY e.next_attempt_at, e.id LIMIT $3) RETURNING ",
                event_columns!()
            ),
            concat!(
                "UPDATE events SET claimed_until = $1 WHERE id IN (SELECT e.id FROM events e \
                 JOIN webhook_endpoints w ON w.tenant_id = e.tenant_id \
                 WHERE e.delivery_status = 'pending' AND e.next_attempt_at <= $2 \
                 AND (e.claimed_until IS NULL OR e.claimed_until <= $2) \
                 AND w.paused = FALSE AND w.disabled_at IS NULL \
                 AND (e.order_id IS NULL OR NOT EXISTS (SELECT 1 FROM events p \
                 WHERE p.tenant_id = e.tenant_id AND p.order_id = e.order_id \
                 AND p.delivery_status = 'pending' AND (p.created_at < e.created_at \
                 OR (p.created_at = e.created_at AND p.id < e.id)))) \
                 ORDER BY e.next_attempt_at, e.id LIMIT $3 FOR UPDATE OF e SKIP LOCKED) \
                 RETURNING ",
                event_columns!()
            ),
        );
        let mut tx = self.store.write_tx().await?;
        let rows: Vec<QueuedRow> = tx
            .all(sql, args![now + claim_for, now, i64::from(limit)])
            .await?;
        tx.commit().await?;
        let mut events = rows
            .into_iter()
            .map(QueuedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING has no defined order; deliver in queue order.
        events.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        Ok(events)
    }

    /// Writes one attempt and its consequences (event state, endpoint disabled, alert) in one
    /// transaction, and releases the claim. Only a `pending` event is updated: a resend or a
    /// concurrent writer that already settled it wins (`NotFound`, nothing written).
    pub async fn record_attempt(&self, rec: &AttemptRecord) -> Result<DeliveryId, StoreError> {
        self.record_attempts(std::slice::from_ref(rec))
            .await?
            .pop()
            .unwrap_or_else(|| Err(StoreError::not_found("pending event")))
    }

    /// [`WebhookDeliveries::record_attempt`] for several attempts in one transaction, one result
    /// per record in order. The worker records together the attempts that finished while its
    /// previous batch was committing: one `COMMIT` instead of one each, and the pages the rows
    /// share (the tail of `webhook_deliveries` and of its indexes, the events just delivered)
    /// are written to the WAL once.
    ///
    /// A record that cannot apply (its event no longer `pending`, a retry without
    /// `next_attempt_at`) is an error in its own slot and writes nothing; the others go on. A
    /// failed statement or `COMMIT` is the outer error: nothing of the batch is written, the
    /// claims lapse and the events are delivered again.
    pub async fn record_attempts(
        &self,
        recs: &[AttemptRecord],
    ) -> Result<Vec<Result<DeliveryId, StoreError>>, StoreError> {
        let now = self.store.now_ms();
        let mut tx = StoreTx {
            store: self.store.clone(),
            tx: self.store.write_tx().await?,
        };
        let mut results = Vec::with_capacity(recs.len());
        for rec in recs {
            results.push(record_in(&mut tx, now, rec).await?);
        }
        tx.commit().await?;
        Ok(results)
    }

    /// One event with its delivery state.
    pub async fn event(
        &self,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<QueuedEvent, StoreError> {
        let row: Option<QueuedRow> = self
            .store
            .pool()
            .optional(
                concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE tenant_id = $1 AND id = $2"
                ),
                args![tenant.as_str(), event.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("event"))?.try_into()
    }

    /// A tenant's events with their delivery state, newest first.
    pub async fn list_events(
        &self,
        tenant: &TenantId,
        page: &Page,
    ) -> Result<Paged<QueuedEvent>, StoreError> {
        let rows: Vec<QueuedRow> = self
            .store
            .pool()
            .all(
                concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) \
                     ORDER BY id DESC LIMIT $3"
                ),
                args![tenant.as_str(), page.cursor(), page.fetch_limit()],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(QueuedEvent::try_from)
    }

    /// Events still to deliver (all tenants): the queue-depth gauge.
    pub async fn queue_depth(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = self
            .store
            .pool()
            .one(
                "SELECT COUNT(*) FROM events WHERE delivery_status = 'pending'",
                args![],
            )
            .await?;
        Ok(n)
    }

    /// Queues a settled event again, due now, with a fresh retry schedule. A `pending` one is a
    /// `Conflict` (it is still being delivered).
    pub async fn resend(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<QueuedEvent, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let n = tx
            .execute(
                "UPDATE events SET delivery_status = 'pending', next_attempt_at = $1, \
                 schedule_base = attempts, claimed_until = NULL \
                 WHERE tenant_id = $2 AND id = $3 AND delivery_status <> 'pending'",
                args![self.store.now_ms(), tenant.as_str(), event.as_str()],
            )
            .await?;
        if n == 0 {
            drop(tx);
            // Tell "no such event" from "already pending".
            self.event(tenant, event).await?;
            return Err(StoreError::Conflict {
                constraint: "events_delivery_status_check".into(),
            });
        }
        AuditRecord::tenant(tenant, "webhook.resend", event.as_str())
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.event(tenant, event).await
    }

    /// Queues again every `failed` event created in `[from, to)`; returns how many.
    pub async fn resend_failed(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        if to <= from {
            return Err(StoreError::invalid("to", "must be after from"));
        }
        let mut tx = self.store.write_tx().await?;
        let n = tx
            .execute(
                "UPDATE events SET delivery_status = 'pending', next_attempt_at = $1, \
                 schedule_base = attempts, claimed_until = NULL \
                 WHERE tenant_id = $2 AND delivery_status = 'failed' \
                 AND created_at >= $3 AND created_at < $4",
                args![self.store.now_ms(), tenant.as_str(), from, to],
            )
            .await?;
        AuditRecord::tenant(tenant, "webhook.resend_failed", tenant.as_str())
            .summary(serde_json::json!({ "count": n }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}

async fn disable_in(
    tx: &mut Tx,
    tenant: &TenantId,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2, updated_at = $1 \
         WHERE tenant_id = $3",
        args![now, reason, tenant.as_str()],
    )
    .await?;
    Ok(())
}

/// The event's new delivery state and next attempt for `rec`.
fn attempt_plan(
    rec: &AttemptRecord,
) -> Result<(EventDelivery, Option<OffsetDateTime>), StoreError> {
    Ok(match rec.status {
        DeliveryStatus::Succeeded => (EventDelivery::Delivered, None),
        DeliveryStatus::Failed => (EventDelivery::Failed, None),
        DeliveryStatus::Pending => (
            EventDelivery::Pending,
            Some(
                rec.next_attempt_at
                    .ok_or(StoreError::invalid("next_attempt_at", "required to retry"))?,
            ),
        ),
    })
}

/// The head of an attempt row's `INSERT`, shared by both backends' statements (the values
/// follow in this column order).
macro_rules! insert_delivery {
    () => {
        "INSERT INTO webhook_deliveries (id, tenant_id, event_id, attempt, status, \
         response_status, error, next_attempt_at, created_at, latency_ms)"
    };
}

/// Counts an attempt on its event, if the event is still `pending`: `$1` its new delivery
/// state, `$2` the next attempt (NULL: unchanged), `$3` the response status, `$4` the
/// latency, `$5` now, `$6`/`$7` the tenant and event.
macro_rules! count_attempt_sql {
    () => {
        "UPDATE events SET attempts = attempts + 1, delivery_status = $1, \
         next_attempt_at = COALESCE($2, next_attempt_at), claimed_until = NULL, \
         last_status_code = $3, last_latency_ms = $4, \
         delivered_at = CASE WHEN $1 = 'delivered' THEN $5 ELSE delivered_at END \
         WHERE tenant_id = $6 AND id = $7 AND delivery_status = 'pending'"
    };
}

/// Writes one attempt in `tx`. The inner error is the attempt's own (its event no longer
/// `pending`, a retry without a time), with nothing written for it; the outer error is a failed
/// statement, which fails the batch.
async fn record_in(
    tx: &mut StoreTx,
    now: i64,
    rec: &AttemptRecord,
) -> Result<Result<DeliveryId, StoreError>, StoreError> {
    let (event_status, next) = match attempt_plan(rec) {
        Ok(plan) => plan,
        Err(e) => return Ok(Err(e)),
    };
    let id: DeliveryId = tx.store.new_id();
    let mut args = args![
        event_status.as_str(),
        next,
        rec.response_status.map(i64::from),
        rec.latency_ms,
        now,
        rec.tenant_id.as_str(),
        rec.event_id.as_str()
    ];
    // PostgreSQL: the attempt row in the same statement (see `single_statement`).
    let pg = tx.tx.backend() == Backend::Postgres;
    let sql = if pg {
        args.extend(args![id.as_str(), rec.status.as_str(), rec.error.clone()]);
        concat!(
            "WITH e AS (",
            count_attempt_sql!(),
            " RETURNING tenant_id, id, attempts), d AS (",
            insert_delivery!(),
            " SELECT $8, tenant_id, id, attempts, $9, $3, $10, $2, $5, $4 FROM e) \
             SELECT attempts FROM e"
        )
    } else {
        concat!(count_attempt_sql!(), " RETURNING attempts")
    };
    let attempt: Option<(i64,)> = tx.tx.optional(sql, args).await?;
    let Some((attempt,)) = attempt else {
        return Ok(Err(StoreError::not_found("pending event")));
    };
    if !pg {
        tx.tx
            .execute(
                concat!(
                    insert_delivery!(),
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ),
                args![
                    id.as_str(),
                    rec.tenant_id.as_str(),
                    rec.event_id.as_str(),
                    attempt,
                    rec.status.as_str(),
                    rec.response_status.map(i64::from),
                    rec.error.clone(),
                    next,
                    now,
                    rec.latency_ms
                ],
            )
            .await?;
    }
    if let Some(reason) = &rec.disable_endpoint {
        disable_in(&mut tx.tx, &rec.tenant_id, reason, now).await?;
    }
    if let Some(alert) = &rec.alert {
        tx.raise_alert(alert).await?;
    }
    Ok(Ok(id))
}
