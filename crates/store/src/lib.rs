//! # paygate-store — persistence and secrets at rest
//!
//! One [`Store`] over SQLite (the embedded default) or PostgreSQL, chosen by the database URL.
//! Callers hold a `Store` (cheap to clone) and reach each table group through a small
//! repository: `store.tenants().create(&audit, …)`.
//!
//! ## Module map
//!
//! - [`store`]: [`Store`] — `connect`, `migrate`, `verify_master_key`, `ping`, `backend`,
//!   `rotate_master_key`, and the repository accessors below.
//! - [`error`]: [`StoreError`] with stable [`StoreError::code`]s; unique violations become
//!   [`StoreError::Conflict`] carrying the constraint name (same on both backends).
//! - [`audit`]: [`Audit`] (actor + request id, passed to every write) and the audit log reader.
//! - [`page`]: [`Page`] / [`Paged`] — keyset pagination, newest first.
//! - [`repo::operators`] `store.operators()`: admin accounts, roles, token versions.
//! - [`repo::tenants`] `store.tenants()`: tenants and their wrapped data keys.
//! - [`repo::apps`] `store.apps()`: mini-programs and their encrypted secrets.
//! - [`repo::channels`] `store.channels()`: payment channels and versioned credentials;
//!   `find(channel_id)` is the one read not scoped by tenant (the notify path), and
//!   `all_credentials` lists the non-retired versions, current first.
//! - [`repo::api_keys`] `store.api_keys()`: tenant API keys (digests only) and authentication.
//! - [`repo::webhooks`] `store.webhooks()`: each tenant's webhook endpoint and signing secret.
//! - [`repo::orders`] `store.orders()`: orders and their compare-and-set state transitions.
//! - [`repo::order_payments`] (also `store.orders()`): `set_prepay`, `bind_payer`, the
//!   reconciliation claims `claim_stale` / `release_claim`; [`OrderChange`], [`Prepay`].
//! - [`tx`]: [`StoreTx`] from `store.begin()` — one write transaction the payment services
//!   compose: `lock_order`, `transition_order`, `record_notification` ([`Recorded`]),
//!   `set_notification_outcome`, `append_event`, `raise_alert` ([`NewAlert`]),
//!   `create_refund`, `transition_refund`, then `commit()` (drop = rollback).
//! - [`repo::refunds`] `store.refunds()`: `get`, `find_by_out_refund_no`, `list`,
//!   `claim_processing` / `release_claim`; [`NewRefund`], [`RefundCreated`], [`RefundChange`]
//!   (the writes are on [`StoreTx`]).
//! - [`repo::users`] `store.users()`: mini-program users (`upsert`, `get`, `session_key`).
//! - [`repo::idempotency`] `store.idempotency()`: `Idempotency-Key` claims ([`Claim`]):
//!   `claim`, `complete`, `release` (three steps, for refunds), `held` ([`HeldKey`]); an
//!   order is created under a key in one transaction by `orders().create_idempotent`.
//! - [`repo::activity`] `store.activity()`: read-only lists of refunds, notifications, events,
//!   webhook deliveries and alerts.
//! - [`repo::stats`] `store.stats()`: per-UTC-day figures for the dashboard.
//! - [`envelope`]: envelope encryption — a per-tenant data key wrapped by the master key, a key
//!   version byte on every ciphertext, and associated data binding each ciphertext to its
//!   tenant, table, column and row.
//! - `db` (private): the pool/transaction enums and the portable query helpers.
//! - `sqlite` (private): the SQLite engine — one writer, reader connections, statements run
//!   inline on the calling task; `sqlite_migrate` applies the migrations in sqlx's format.
//! - `pg` (private): the PostgreSQL connection pool — sqlx connections returned without a
//!   round trip, closed when their state is in doubt, rolled back at once when abandoned.
//!
//! State transitions report [`Transition`] (`Applied` / `NoOp`, re-exported from core).
//! Writes are stamped with the store's `Clock`; only the claim functions take `now`, from
//! the worker that drives them.
//!
//! ## Portable SQL rules
//!
//! The one exception is `repo::single_statement` (private): on PostgreSQL the common outcome
//! of an idempotent create, a prepay, a transition and a notified transition is one statement
//! of data-modifying CTEs instead of a transaction of several (each statement is a round trip
//! there); whatever else happens, that statement wrote nothing (or was rolled back) and the
//! portable path decides.
//!
//! Every other query is one runtime string run on both backends: placeholders `$1, $2, …` first
//! appear in ascending order; no `ILIKE`; times are `BIGINT` milliseconds since the epoch
//! (UTC); booleans are `BOOLEAN` (PostgreSQL) / `INTEGER` (SQLite); sums are `CAST(… AS
//! BIGINT)` because PostgreSQL sums bigints to `numeric`.
//!
//! ## Tenancy and secrets
//!
//! Every tenant-owned query filters on `tenant_id`; a row of another tenant reads as
//! [`StoreError::NotFound`]. The only platform-wide reads are `channels().find` (the notify
//! path learns the tenant from the channel id in its URL) and the reconciliation claims
//! (`orders().claim_stale`, `refunds().claim_processing`), which serve the one worker that
//! acts for every tenant; each returned row carries its `tenant_id`. Secrets enter as `SecretString`, are encrypted here with the
//! tenant's data key, and come back only from the dedicated `…secret()` / `credentials()`
//! calls. This crate must never log or return a decrypted secret except to the caller that
//! asked for it, never put one in an audit summary, and never store the master key.

pub mod audit;
mod db;
pub mod envelope;
pub mod error;
mod lookups;
pub mod page;
mod pg;
pub mod repo;
mod sqlite;
mod sqlite_migrate;
pub mod store;
pub mod tx;

pub use audit::{Audit, AuditEntry, AuditLog};
pub use db::Backend;
pub use envelope::MasterKey;
pub use error::StoreError;
pub use lookups::{DEFAULT_LOOKUP_TTL, DEFAULT_LOOKUP_TTL_MS};
pub use page::{Page, Paged};
pub use paygate_core::Transition;
pub use repo::activity::{
    Activity, Alert, AlertFilter, AlertSeverity, Delivery, DeliveryStatus, Event, NotificationKind,
    NotificationRecord, Refund,
};
pub use repo::api_keys::{ApiKey, ApiKeys, Authenticated, NewApiKey, Scope};
pub use repo::apps::{App, Apps};
pub use repo::channels::{
    Channel, ChannelDetail, ChannelStatus, ChannelUpdate, Channels, CredentialsVersion, NewChannel,
};
pub use repo::idempotency::{CLAIM_LEASE as IDEMPOTENCY_CLAIM_LEASE, Claim, HeldKey, Idempotency};
pub use repo::operators::{Operator, OperatorLogin, OperatorUpdate, Operators, Role};
pub use repo::order_payments::{OrderChange, Prepay};
pub use repo::orders::{
    IdempotencyClaim, IdempotentCreate, NewOrder, Order, OrderDetail, OrderFilter, OrderTradeType,
    OrderTransition, Orders,
};
pub use repo::refunds::{NewRefund, RefundChange, RefundCreated, Refunds};
pub use repo::single_statement::NotifiedTransition;
pub use repo::stats::{DayStats, Stats};
pub use repo::tenants::{Tenant, TenantFilter, TenantStatus, TenantUpdate, Tenants};
pub use repo::users::{User, Users};
pub use repo::webhook_deliveries::{AttemptRecord, EventDelivery, QueuedEvent, WebhookDeliveries};
pub use repo::webhooks::{PREVIOUS_SECRET_TTL, WebhookEndpoint, Webhooks};
pub use store::{Store, StoreOptions};
pub use tx::{NewAlert, NewNotification, Recorded, StoreTx};

impl Store {
    pub fn operators(&self) -> Operators<'_> {
        Operators { store: self }
    }
    pub fn tenants(&self) -> Tenants<'_> {
        Tenants { store: self }
    }
    pub fn apps(&self) -> Apps<'_> {
        Apps { store: self }
    }
    pub fn channels(&self) -> Channels<'_> {
        Channels { store: self }
    }
    pub fn api_keys(&self) -> ApiKeys<'_> {
        ApiKeys { store: self }
    }
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { store: self }
    }
    pub fn orders(&self) -> Orders<'_> {
        Orders { store: self }
    }
    pub fn refunds(&self) -> Refunds<'_> {
        Refunds { store: self }
    }
    pub fn users(&self) -> Users<'_> {
        Users { store: self }
    }
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency { store: self }
    }
    pub fn activity(&self) -> Activity<'_> {
        Activity { store: self }
    }
    pub fn stats(&self) -> Stats<'_> {
        Stats { store: self }
    }
    pub fn audit_log(&self) -> AuditLog<'_> {
        AuditLog { store: self }
    }
}
