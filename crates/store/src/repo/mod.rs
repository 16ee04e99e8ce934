//! The repositories: one small accessor per table group, reached from [`crate::Store`].
//!
//! Each write opens one transaction, checks what it must inside it, writes, appends its audit
//! row, and commits. Each tenant-owned read and write filters on `tenant_id`.

pub mod activity;
pub mod api_keys;
pub mod apps;
pub mod channels;
pub mod idempotency;
pub mod operators;
pub mod order_payments;
pub mod orders;
pub mod refunds;
pub(crate) mod single_statement;
pub mod stats;
pub mod tenants;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;

use paygate_core::TenantId;

use crate::db::{Tx, args};
use crate::error::StoreError;

/// Fails with `NotFound` unless the tenant exists (inside the caller's transaction).
pub(crate) async fn ensure_tenant(tx: &mut Tx, tenant: &TenantId) -> Result<(), StoreError> {
    let row: Option<(String,)> = tx
        .optional(
            "SELECT id FROM tenants WHERE id = $1",
            args![tenant.as_str()],
        )
        .await?;
    row.map(|_| ()).ok_or(StoreError::not_found("tenant"))
}

/// Refuses blank or overlong display names and labels.
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<(), StoreError> {
    let len = value.trim().chars().count();
    if len == 0 {
        Err(StoreError::invalid(field, "must not be blank"))
    } else if len > 200 {
        Err(StoreError::invalid(field, "must be at most 200 characters"))
    } else {
        Ok(())
    }
}
