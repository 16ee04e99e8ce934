//! Payment channels (one WeChat Pay merchant account of a tenant) and their versioned,
//! encrypted credentials documents.
//!
//! Adding credentials creates a new version that becomes current at once; older versions stay
//! readable until retired, so a key rollover never breaks verification of in-flight
//! notifications. The current version cannot be retired.
//!
//! "Deleting" a channel disables it (status `disabled`) and clears it as the tenant's default:
//! orders, refunds and notifications keep referencing it, so the row is never removed. Its
//! `(tenant, kind, mch_id)` stays taken; re-enable it with [`Channels::update`].

use std::fmt;
use std::str::FromStr;

use paygate_core::{AppId, ChannelId, CredentialsSummary, MchId, ProviderKind, TenantId};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{Tx, args, db_row, from_ms, from_ms_opt, parse_col, parse_opt};
use crate::envelope::FieldContext;
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::repo::{check_name, ensure_tenant};
use crate::store::Store;

mod versions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelStatus {
    Active,
    Disabled,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Active => "active",
            ChannelStatus::Disabled => "disabled",
        }
    }
}

impl FromStr for ChannelStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(ChannelStatus::Active),
            "disabled" => Ok(ChannelStatus::Disabled),
            _ => Err(StoreError::invalid("status", "must be active or disabled")),
        }
    }
}

impl fmt::Display for ChannelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub kind: ProviderKind,
    pub mch_id: MchId,
    pub name: String,
    pub status: ChannelStatus,
    pub current_version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The public facts of one credentials version (never the document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsVersion {
    pub version: i64,
    pub merchant_serial: Option<String>,
    pub certificate_not_after: Option<OffsetDateTime>,
    pub appid: Option<AppId>,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub is_current: bool,
}

/// A channel with its credentials versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDetail {
    pub channel: Channel,
    pub versions: Vec<CredentialsVersion>,
}

/// A channel to create. `summary` is what `ProviderRegistry::validate_credentials` learned
/// from `credentials`; its `mch_id` must equal `mch_id`.
#[derive(Debug)]
pub struct NewChannel {
    pub kind: ProviderKind,
    pub mch_id: MchId,
    pub name: String,
    pub credentials: SecretString,
    pub summary: CredentialsSummary,
}

/// Changes to a channel; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelUpdate {
    pub name: Option<String>,
    pub status: Option<ChannelStatus>,
}

db_row! {
    struct ChannelRow {
        id: String,
        tenant_id: String,
        kind: String,
        mch_id: String,
        name: String,
        status: String,
        current_version: i64,
        created_at: i64,
        updated_at: i64,
    }
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;
    fn try_from(r: ChannelRow) -> Result<Self, StoreError> {
        Ok(Channel {
            id: parse_col("channels.id", &r.id)?,
            tenant_id: parse_col("channels.tenant_id", &r.tenant_id)?,
            kind: ProviderKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("channels.kind = {:?}", r.kind)))?,
            mch_id: parse_col("channels.mch_id", &r.mch_id)?,
            name: r.name,
            status: parse_col("channels.status", &r.status)?,
            current_version: r.current_version,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

db_row! {
    struct VersionRow {
        version: i64,
        merchant_serial: Option<String>,
        certificate_not_after: Option<i64>,
        appid: Option<String>,
        created_at: i64,
        retired_at: Option<i64>,
    }
}

impl VersionRow {
    fn into_version(self, current: i64) -> Result<CredentialsVersion, StoreError> {
        Ok(CredentialsVersion {
            version: self.version,
            merchant_serial: self.merchant_serial,
            certificate_not_after: from_ms_opt(self.certificate_not_after)?,
            appid: parse_opt("channel_credentials.appid", self.appid.as_deref())?,
            created_at: from_ms(self.created_at)?,
            retired_at: from_ms_opt(self.retired_at)?,
            is_current: self.version == current,
        })
    }
}

fn document_ctx<'a>(tenant: &'a TenantId, row_id: &'a str) -> FieldContext<'a> {
    FieldContext {
        tenant_id: tenant.as_str(),
        table: "channel_credentials",
        column: "document",
        row_id,
    }
}

/// The AAD row id of a credentials version: the channel and the version number.
fn version_row_id(channel: &ChannelId, version: i64) -> String {
    format!("{}/v{version}", channel.as_str())
}

fn check_mch_id(expected: &MchId, summary: &CredentialsSummary) -> Result<(), StoreError> {
    if &summary.mch_id == expected {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "credentials",
            format!(
                "the document's merchant number {} is not the channel's {}",
                summary.mch_id, expected
            ),
        ))
    }
}

fn summary_json(summary: &CredentialsSummary, version: i64) -> serde_json::Value {
    serde_json::json!({
        "version": version,
        "mch_id": summary.mch_id.as_str(),
        "appid": summary.appid.as_ref().map(AppId::as_str),
        "merchant_serial": summary.merchant_serial,
        "certificate_not_after": summary
            .certificate_not_after
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
    })
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, tenant_id, kind, mch_id, name, status, current_version, created_at, \
             updated_at FROM channels ",
            $rest
        )
    };
}

/// `store.channels()`.
#[derive(Debug, Clone, Copy)]
pub struct Channels<'a> {
    pub(crate) store: &'a Store,
}

impl Channels<'_> {
    /// Creates an active channel with credentials version 1. The same `(kind, mch_id)` twice
    /// in one tenant is `Conflict { channels_tenant_kind_mch_key }`.
    pub async fn create(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        new: &NewChannel,
    ) -> Result<ChannelDetail, StoreError> {
        check_name("name", &new.name)?;
        check_mch_id(&new.mch_id, &new.summary)?;
        let key = self.store.data_key(tenant).await?;
        let id = self.store.new_channel_id();
        let now = self.store.now_ms();
        let mut tx = self.store.write_tx().await?;
        ensure_tenant(&mut tx, tenant).await?;
        tx.execute(
            "INSERT INTO channels (id, tenant_id, kind, mch_id, name, status, current_version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'active', 1, $6, $6)",
            args![
                id.as_str(),
                tenant.as_str(),
                new.kind.as_str(),
                new.mch_id.as_str(),
                new.name.as_str(),
                now
            ],
        )
        .await?;
        let sealed = key.encrypt_str(
            document_ctx(tenant, &version_row_id(&id, 1)),
            &new.credentials,
        );
        versions::insert_version(&mut tx, tenant, &id, 1, sealed, &new.summary, now).await?;
        let mut summary = summary_json(&new.summary, 1);
        summary["kind"] = new.kind.as_str().into();
        summary["name"] = new.name.as_str().into();
        AuditRecord::tenant(tenant, "channel.create", id.as_str())
            .summary(summary)
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        // A new active channel changes what an order may go to.
        self.store.lookups().invalidate();
        self.get(tenant, &id).await
    }

    pub async fn list(&self, tenant: &TenantId, page: &Page) -> Result<Paged<Channel>, StoreError> {
        let rows: Vec<ChannelRow> = self
            .store
            .pool()
            .all(
                select!(
                    "WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
                ),
                args![tenant.as_str(), page.cursor(), page.fetch_limit()],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(Channel::try_from)
    }

    /// What a new order may go to: the `requested` channel (whatever its status) if it is the
    /// tenant's; else up to two active channels, `default` first when it is one of them —
    /// enough to pick the default or the only active channel, or to tell there is none.
    ///
    /// Answered from the lookup cache when it holds a current copy (see `lookups`).
    pub async fn order_candidates(
        &self,
        tenant: &TenantId,
        requested: Option<&ChannelId>,
        default: Option<&ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        let lookups = self.store.lookups();
        let key = (tenant.clone(), requested.cloned(), default.cloned());
        let read = async {
            let rows: Vec<ChannelRow> = self
                .store
                .pool()
                .all(
                    select!(
                        "WHERE tenant_id = $1 AND (id = $2 OR ($2 IS NULL AND status = 'active')) \
                         ORDER BY CASE WHEN id = $3 THEN 0 ELSE 1 END, id LIMIT 2"
                    ),
                    args![
                        tenant.as_str(),
                        requested.map(ChannelId::as_str),
                        default.map(ChannelId::as_str)
                    ],
                )
                .await?;
            rows.into_iter().map(Channel::try_from).collect()
        };
        lookups
            .get_or_read(&lookups.channel_candidates, key, read)
            .await
    }

    /// The channel alone, as the payment paths need it: [`Channels::find`] (from the lookup
    /// cache when it holds a current copy, see `lookups`), and not found unless it is
    /// `tenant`'s. Administration reads [`Channels::get_channel`], which always reads the
    /// database.
    pub async fn lookup(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel, StoreError> {
        let found = self.find(id).await?;
        if &found.tenant_id == tenant {
            Ok(found)
        } else {
            Err(StoreError::not_found("channel"))
        }
    }

    /// The channel alone, without its versions, read from the database.
    pub async fn get_channel(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
    ) -> Result<Channel, StoreError> {
        let row: Option<ChannelRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND id = $2"),
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("channel"))?.try_into()
    }

    /// The channel with the public facts of each credentials version.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
    ) -> Result<ChannelDetail, StoreError> {
        let channel = self.get_channel(tenant, id).await?;
        let rows: Vec<VersionRow> = self
            .store
            .pool()
            .all(
                "SELECT version, merchant_serial, certificate_not_after, appid, created_at, \
                 retired_at FROM channel_credentials WHERE tenant_id = $1 AND channel_id = $2 \
                 ORDER BY version DESC",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        let versions = rows
            .into_iter()
            .map(|r| r.into_version(channel.current_version))
            .collect::<Result<_, _>>()?;
        Ok(ChannelDetail { channel, versions })
    }

    pub async fn update(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        id: &ChannelId,
        update: &ChannelUpdate,
    ) -> Result<Channel, StoreError> {
        if let Some(name) = &update.name {
            check_name("name", name)?;
        }
        let before = self.get_channel(tenant, id).await?;
        let name = update.name.clone().unwrap_or(before.name);
        let status = update.status.unwrap_or(before.status);
        let mut tx = self.store.write_tx().await?;
        tx.execute(
            "UPDATE channels SET name = $1, status = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5",
            args![
                name.as_str(),
                status.as_str(),
                self.store.now_ms(),
                tenant.as_str(),
                id.as_str()
            ],
        )
        .await?;
        if status == ChannelStatus::Disabled {
            clear_default(&mut tx, tenant, id).await?;
        }
        AuditRecord::tenant(tenant, "channel.update", id.as_str())
            .summary(serde_json::json!({ "name": name, "status": status.as_str() }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.store.lookups().invalidate();
        self.get_channel(tenant, id).await
    }

    /// Soft delete: disables the channel (see the module docs). Idempotent.
    pub async fn delete(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        id: &ChannelId,
    ) -> Result<Channel, StoreError> {
        let update = ChannelUpdate {
            name: None,
            status: Some(ChannelStatus::Disabled),
        };
        self.update(audit, tenant, id, &update).await
    }
}

/// A disabled channel cannot stay the tenant's default.
async fn clear_default(tx: &mut Tx, tenant: &TenantId, id: &ChannelId) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE tenants SET default_channel_id = NULL WHERE id = $1 AND default_channel_id = $2",
        args![tenant.as_str(), id.as_str()],
    )
    .await?;
    Ok(())
}
