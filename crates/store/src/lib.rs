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
//! - [`repo::channels`] `store.channels()`: payment channels and versioned credentials.
//! - [`repo::api_keys`] `store.api_keys()`: tenant API keys (digests only) and authentication.
//! - [`repo::webhooks`] `store.webhooks()`: each tenant's webhook endpoint and signing secret.
//! - [`repo::orders`] `store.orders()`: orders and their compare-and-set state transitions.
//! - [`repo::activity`] `store.activity()`: read-only lists of refunds, notifications, events,
//!   webhook deliveries and alerts.
//! - [`repo::stats`] `store.stats()`: per-UTC-day figures for the dashboard.
//! - [`envelope`]: envelope encryption — a per-tenant data key wrapped by the master key, a key
//!   version byte on every ciphertext, and associated data binding each ciphertext to its
//!   tenant, table, column and row.
//! - `db` (private): the pool/transaction enums and the portable query helpers.
//!
//! ## Portable SQL rules
//!
//! Every query is one runtime string run on both backends: placeholders `$1, $2, …` first
//! appear in ascending order; no `ILIKE`; times are `BIGINT` milliseconds since the epoch
//! (UTC); booleans are `BOOLEAN` (PostgreSQL) / `INTEGER` (SQLite); sums are `CAST(… AS
//! BIGINT)` because PostgreSQL sums bigints to `numeric`.
//!
//! ## Tenancy and secrets
//!
//! Every tenant-owned query filters on `tenant_id`; a row of another tenant reads as
//! [`StoreError::NotFound`]. Secrets enter as `SecretString`, are encrypted here with the
//! tenant's data key, and come back only from the dedicated `…secret()` / `credentials()`
//! calls. This crate must never log or return a decrypted secret except to the caller that
//! asked for it, never put one in an audit summary, and never store the master key.

pub mod audit;
mod db;
pub mod envelope;
pub mod error;
pub mod page;
pub mod repo;
pub mod store;

pub use audit::{Audit, AuditEntry, AuditLog};
pub use db::Backend;
pub use envelope::MasterKey;
pub use error::StoreError;
pub use page::{Page, Paged};
pub use repo::activity::{
    Activity, Alert, AlertFilter, AlertSeverity, Delivery, DeliveryStatus, Event, NotificationKind,
    NotificationRecord, Refund,
};
pub use repo::api_keys::{ApiKey, ApiKeys, Authenticated, NewApiKey, Scope};
pub use repo::apps::{App, Apps};
pub use repo::channels::{
    Channel, ChannelDetail, ChannelStatus, ChannelUpdate, Channels, CredentialsVersion, NewChannel,
};
pub use repo::operators::{Operator, OperatorLogin, OperatorUpdate, Operators, Role};
pub use repo::orders::{
    NewOrder, Order, OrderDetail, OrderFilter, OrderTradeType, OrderTransition, Orders,
};
pub use repo::stats::{DayStats, Stats};
pub use repo::tenants::{Tenant, TenantFilter, TenantStatus, TenantUpdate, Tenants};
pub use repo::webhooks::{WebhookEndpoint, Webhooks};
pub use store::Store;

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
