//! [`StoreTx`]: one write transaction the payment services compose — store the notification,
//! move the order, append the outbox event, raise alerts — so that either all of it happens
//! or none does, and WeChat is acknowledged only after the commit.
//!
//! Dropping a `StoreTx` without [`StoreTx::commit`] rolls back. On SQLite the transaction
//! holds the database write lock from `begin` (`BEGIN IMMEDIATE`), so keep it short and never
//! call a provider (network) while holding one; on PostgreSQL [`StoreTx::lock_order`] locks
//! the order row. Read tenant data keys (anything decrypting) before `begin`, never inside.
//! Refund writes live in `repo/refunds.rs` (same type).

use paygate_core::{AlertId, ChannelId, EventId, NotificationId, OrderId, OrderState, TenantId};
use time::OffsetDateTime;

use crate::db::{Tx, args};
use crate::error::StoreError;
use crate::repo::activity::{AlertSeverity, NotificationKind};
use crate::repo::order_payments::{
    OrderChange, lock_order_in, transition_in, transition_returning,
};
use crate::store::Store;
use crate::{Order, Transition};

/// The head of a notification's `INSERT` (values follow in this column order), shared with
/// the one-statement notification in `repo::single_statement`.
macro_rules! insert_notification {
    () => {
        "INSERT INTO notifications (id, tenant_id, channel_id, kind, dedupe_key, verified, \
         outcome, raw_body, received_at)"
    };
}
pub(crate) use insert_notification;

/// The head of an outbox event's `INSERT` (values follow in this column order), shared with
/// the one-statement notification in `repo::single_statement`.
macro_rules! insert_event {
    () => {
        "INSERT INTO events (id, tenant_id, event_type, payload, created_at, order_id)"
    };
}
pub(crate) use insert_event;

/// An open write transaction (see the module docs).
#[derive(Debug)]
pub struct StoreTx {
    pub(crate) store: Store,
    pub(crate) tx: Tx,
}

/// A notification as received, to store once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub kind: NotificationKind,
    /// The provider's event id, or a stable digest of the body: a retry carries the same key.
    pub dedupe_key: String,
    pub verified: bool,
    /// What paygate made of it, e.g. `applied`, `duplicate`, `amount_mismatch`.
    pub outcome: String,
    pub raw_body: Vec<u8>,
}

/// The result of [`StoreTx::record_notification`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// First time seen: stored with this id.
    Inserted(NotificationId),
    /// Seen before (same channel, kind and dedupe key): nothing written, the transaction is
    /// still usable. Acknowledge it and change nothing.
    Duplicate,
}

/// An alert for operators. `tenant_id` `None` is platform-wide. `details` must never hold a
/// secret.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub tenant_id: Option<TenantId>,
    /// e.g. `amount_mismatch`, `appid_mismatch`, `mchid_mismatch`, `unknown_order`.
    pub kind: String,
    pub severity: AlertSeverity,
    pub message: String,
    pub details: serde_json::Value,
    /// A stable key for a finding that may be made again (e.g. `{kind}:{order_id}:{state}`):
    /// an alert whose key is already stored is not raised twice. `None`: always raised.
    pub dedupe_key: Option<String>,
}

impl Store {
    /// Opens a write transaction for the payment services (see [`StoreTx`]).
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        Ok(StoreTx {
            store: self.clone(),
            tx: self.write_tx().await?,
        })
    }
}

impl StoreTx {
    /// Makes every write of this transaction durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await
    }

    /// Reads the order, locking it (PostgreSQL `SELECT … FOR UPDATE`) until commit or drop.
    pub async fn lock_order(
        &mut self,
        tenant: &TenantId,
        id: &OrderId,
    ) -> Result<Order, StoreError> {
        lock_order_in(&mut self.tx, tenant, id).await
    }

    /// Compare-and-set from `expected_from` to `to` with a history row; outcomes as
    /// [`crate::Orders::transition`] (`Applied`, `NoOp`, or `StateMismatch` /
    /// `IllegalTransition` / `NotFound` errors). Those errors run no failing statement, so
    /// the transaction stays usable (e.g. to raise an alert and commit); a `Database` error
    /// on PostgreSQL aborts it — drop it then.
    pub async fn transition_order(
        &mut self,
        tenant: &TenantId,
        id: &OrderId,
        expected_from: OrderState,
        to: OrderState,
        change: &OrderChange,
    ) -> Result<Transition, StoreError> {
        let now = self.store.now_ms();
        transition_in(&mut self.tx, now, tenant, id, (expected_from, to), change).await
    }

    /// [`StoreTx::transition_order`], returning the order as the transition left it (`None`
    /// for `NoOp`), read back by the same statement: for a payload built from the new state.
    pub async fn transition_order_returning(
        &mut self,
        tenant: &TenantId,
        id: &OrderId,
        expected_from: OrderState,
        to: OrderState,
        change: &OrderChange,
    ) -> Result<Option<Order>, StoreError> {
        let now = self.store.now_ms();
        transition_returning(&mut self.tx, now, tenant, id, (expected_from, to), change).await
    }

    /// Stores a notification unless its dedupe key was seen: `Duplicate` is not an error and
    /// does not abort the transaction (`ON CONFLICT DO NOTHING`, not a failed insert).
    pub async fn record_notification(
        &mut self,
        new: &NewNotification,
    ) -> Result<Recorded, StoreError> {
        let id: NotificationId = self.store.new_id();
        let inserted = self
            .tx
            .execute(
                concat!(
                    insert_notification!(),
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (channel_id, kind, dedupe_key) DO NOTHING"
                ),
                args![
                    id.as_str(),
                    new.tenant_id.as_str(),
                    new.channel_id.as_str(),
                    new.kind.as_str(),
                    new.dedupe_key.as_str(),
                    new.verified,
                    new.outcome.as_str(),
                    new.raw_body.clone(),
                    self.store.now_ms()
                ],
            )
            .await?;
        Ok(if inserted == 1 {
            Recorded::Inserted(id)
        } else {
            Recorded::Duplicate
        })
    }

    /// Updates what paygate made of a stored notification (e.g. after the checks).
    pub async fn set_notification_outcome(
        &mut self,
        tenant: &TenantId,
        id: &NotificationId,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let changed = self
            .tx
            .execute(
                "UPDATE notifications SET outcome = $1 WHERE tenant_id = $2 AND id = $3",
                args![outcome, tenant.as_str(), id.as_str()],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("notification"));
        }
        Ok(())
    }

    /// Appends a domain event to the webhook outbox (delivered after commit, issue 8).
    pub async fn append_event(
        &mut self,
        tenant: &TenantId,
        event_type: &str,
        payload: &serde_json::Value,
        order: Option<&OrderId>,
    ) -> Result<EventId, StoreError> {
        let id: EventId = self.store.new_id();
        self.tx
            .execute(
                concat!(insert_event!(), " VALUES ($1, $2, $3, $4, $5, $6)"),
                args![
                    id.as_str(),
                    tenant.as_str(),
                    event_type,
                    payload.to_string(),
                    self.store.now_ms(),
                    order.map(OrderId::as_str)
                ],
            )
            .await?;
        Ok(id)
    }

    /// Records an alert for operators: `Some(id)` when it is new, `None` when an alert with
    /// the same `dedupe_key` exists (nothing written; `ON CONFLICT DO NOTHING`, so the
    /// transaction stays usable on PostgreSQL too).
    pub async fn raise_alert(&mut self, alert: &NewAlert) -> Result<Option<AlertId>, StoreError> {
        let id: AlertId = self.store.new_id();
        let inserted = self
            .tx
            .execute(
                "INSERT INTO alerts (id, tenant_id, kind, severity, message, details, created_at, \
                 dedupe_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (dedupe_key) DO NOTHING",
                args![
                    id.as_str(),
                    alert.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
                    alert.kind.as_str(),
                    alert.severity.as_str(),
                    alert.message.as_str(),
                    alert.details.to_string(),
                    self.store.now_ms(),
                    alert.dedupe_key.clone()
                ],
            )
            .await?;
        Ok((inserted == 1).then_some(id))
    }

    /// The store's clock, for callers stamping values written in this transaction.
    pub fn now(&self) -> OffsetDateTime {
        self.store.now()
    }
}
