//! Tenants: the merchant businesses paygate serves.
//!
//! Creating a tenant creates its data key, which is stored only wrapped by the master key.
//! Tenants are suspended, never deleted: their orders and audit trail must stay readable.

use std::fmt;
use std::str::FromStr;

use paygate_core::{ChannelId, TenantId};
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{args, db_row, from_ms, parse_col, parse_opt};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::repo::check_name;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantStatus {
    Active,
    /// Its API keys and payments are refused; its data stays.
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

impl FromStr for TenantStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(TenantStatus::Active),
            "suspended" => Ok(TenantStatus::Suspended),
            _ => Err(StoreError::invalid("status", "must be active or suspended")),
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub status: TenantStatus,
    pub contact_email: Option<String>,
    pub default_channel_id: Option<ChannelId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// List filters; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFilter {
    pub status: Option<TenantStatus>,
    /// Case-insensitive (ASCII) substring of the name.
    pub name_contains: Option<String>,
}

/// Changes to a tenant; the outer `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub contact_email: Option<Option<String>>,
    /// Must be one of the tenant's own channels.
    pub default_channel_id: Option<Option<ChannelId>>,
}

db_row! {
    pub(crate) struct TenantRow {
        pub(crate) id: String,
        pub(crate) name: String,
        pub(crate) status: String,
        pub(crate) contact_email: Option<String>,
        pub(crate) default_channel_id: Option<String>,
        pub(crate) created_at: i64,
        pub(crate) updated_at: i64,
    }
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: parse_col("tenants.id", &r.id)?,
            name: r.name,
            status: parse_col("tenants.status", &r.status)?,
            contact_email: r.contact_email,
            default_channel_id: parse_opt(
                "tenants.default_channel_id",
                r.default_channel_id.as_deref(),
            )?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, status, contact_email, default_channel_id, created_at, updated_at \
             FROM tenants ",
            $rest
        )
    };
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern, lower-cased.
fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `store.tenants()`.
#[derive(Debug, Clone, Copy)]
pub struct Tenants<'a> {
    pub(crate) store: &'a Store,
}

impl Tenants<'_> {
    /// Creates an active tenant with a fresh data key.
    pub async fn create(
        &self,
        audit: &Audit,
        name: &str,
        contact_email: Option<&str>,
    ) -> Result<Tenant, StoreError> {
        check_name("name", name)?;
        let id: TenantId = self.store.new_id();
        let master = self.store.master();
        let (data_key, wrapped) = master.new_data_key(id.as_str());
        let now = self.store.now_ms();
        let mut tx = self.store.write_tx().await?;
        tx.execute(
            "INSERT INTO tenants (id, name, status, contact_email, default_channel_id, \
             wrapped_data_key, master_key_version, created_at, updated_at) \
             VALUES ($1, $2, 'active', $3, NULL, $4, $5, $6, $6)",
            args![
                id.as_str(),
                name,
                contact_email,
                wrapped,
                i64::from(master.version()),
                now
            ],
        )
        .await?;
        AuditRecord::tenant(&id, "tenant.create", id.as_str())
            .summary(serde_json::json!({ "name": name, "contact_email": contact_email }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.store.remember_data_key(&id, data_key);
        self.get(&id).await
    }

    pub async fn get(&self, id: &TenantId) -> Result<Tenant, StoreError> {
        let row: Option<TenantRow> = self
            .store
            .pool()
            .optional(select!("WHERE id = $1"), args![id.as_str()])
            .await?;
        row.ok_or(StoreError::not_found("tenant"))?.try_into()
    }

    pub async fn list(
        &self,
        filter: &TenantFilter,
        page: &Page,
    ) -> Result<Paged<Tenant>, StoreError> {
        let rows: Vec<TenantRow> = self
            .store
            .pool()
            .all(
                select!(
                    "WHERE ($1 IS NULL OR status = $1) \
                     AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\') \
                     AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
                ),
                args![
                    filter.status.map(TenantStatus::as_str),
                    filter.name_contains.as_deref().map(like_pattern),
                    page.cursor(),
                    page.fetch_limit()
                ],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Tenant::try_from)
    }

    /// Updates name, contact email and default channel (which must be the tenant's own).
    pub async fn update(
        &self,
        audit: &Audit,
        id: &TenantId,
        update: &TenantUpdate,
    ) -> Result<Tenant, StoreError> {
        if let Some(name) = &update.name {
            check_name("name", name)?;
        }
        let before = self.get(id).await?;
        let name = update.name.clone().unwrap_or(before.name);
        let email = update.contact_email.clone().unwrap_or(before.contact_email);
        let default_channel = update
            .default_channel_id
            .clone()
            .unwrap_or(before.default_channel_id);
        let mut tx = self.store.write_tx().await?;
        if let Some(channel) = &default_channel {
            let own: Option<(String,)> = tx
                .optional(
                    "SELECT id FROM channels WHERE tenant_id = $1 AND id = $2",
                    args![id.as_str(), channel.as_str()],
                )
                .await?;
            if own.is_none() {
                return Err(StoreError::invalid(
                    "default_channel_id",
                    "is not a channel of this tenant",
                ));
            }
        }
        tx.execute(
            "UPDATE tenants SET name = $1, contact_email = $2, default_channel_id = $3, \
             updated_at = $4 WHERE id = $5",
            args![
                name.as_str(),
                email.clone(),
                default_channel.as_ref().map(|c| c.as_str().to_owned()),
                self.store.now_ms(),
                id.as_str()
            ],
        )
        .await?;
        AuditRecord::tenant(id, "tenant.update", id.as_str())
            .summary(serde_json::json!({
                "name": name,
                "contact_email": email,
                "default_channel_id": default_channel.as_ref().map(ChannelId::as_str),
            }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        // Authentication answers with the tenant (its default channel among the rest).
        self.store.lookups().invalidate();
        self.get(id).await
    }

    /// Suspends or resumes a tenant. Setting the status it already has changes nothing and
    /// writes no audit row.
    pub async fn set_status(
        &self,
        audit: &Audit,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let changed = tx
            .execute(
                "UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1",
                args![status.as_str(), self.store.now_ms(), id.as_str()],
            )
            .await?;
        if changed == 1 {
            let action = match status {
                TenantStatus::Active => "tenant.resume",
                TenantStatus::Suspended => "tenant.suspend",
            };
            AuditRecord::tenant(id, action, id.as_str())
                .write(self.store, &mut tx, audit)
                .await?;
            tx.commit().await?;
            // A suspended tenant's keys stop working at once.
            self.store.lookups().invalidate();
        } else {
            drop(tx);
        }
        self.get(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Ab"), "%ab%");
        assert_eq!(like_pattern("50%_x\\"), "%50\\%\\_x\\\\%");
    }
}
