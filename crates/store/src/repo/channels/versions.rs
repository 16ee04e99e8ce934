//! Credentials versions of a channel: add (becomes current), retire (never the current one),
//! and read back decrypted. Split from the channel rows for size; same `Channels` accessor.
//! Also [`Channels::find`], the one read that is not scoped by tenant (see there).

use paygate_core::{ChannelId, CredentialsSummary, TenantId};
use secrecy::SecretString;

use super::{
    Channel, ChannelRow, Channels, CredentialsVersion, check_mch_id, document_ctx, summary_json,
    version_row_id,
};
use crate::audit::{Audit, AuditRecord};
use crate::db::{Tx, args, parse_col};
use crate::error::StoreError;

impl Channels<'_> {
    /// Stores a new credentials version and makes it current; returns its public facts.
    pub async fn add_credentials_version(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        id: &ChannelId,
        credentials: &SecretString,
        summary: &CredentialsSummary,
    ) -> Result<CredentialsVersion, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let mut tx = self.store.write_tx().await?;
        let row: Option<(String, i64)> = tx
            .optional(
                "SELECT mch_id, current_version FROM channels WHERE tenant_id = $1 AND id = $2",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        let (mch_id, current) = row.ok_or(StoreError::not_found("channel"))?;
        check_mch_id(&parse_col("channels.mch_id", &mch_id)?, summary)?;
        // The highest version ever stored, not the current one: versions are never reused.
        let (max,): (i64,) = tx
            .one(
                "SELECT COALESCE(MAX(version), 0) FROM channel_credentials WHERE channel_id = $1",
                args![id.as_str()],
            )
            .await?;
        let version = max.max(current) + 1;
        let now = self.store.now_ms();
        let sealed = key.encrypt_str(
            document_ctx(tenant, &version_row_id(id, version)),
            credentials,
        );
        insert_version(&mut tx, tenant, id, version, sealed, summary, now).await?;
        tx.execute(
            "UPDATE channels SET current_version = $1, updated_at = $2 \
             WHERE tenant_id = $3 AND id = $4",
            args![version, now, tenant.as_str(), id.as_str()],
        )
        .await?;
        AuditRecord::tenant(tenant, "channel.add_credentials", id.as_str())
            .summary(summary_json(summary, version))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        // Payments must move to the new version at once.
        self.store.lookups().invalidate();
        self.version_info(tenant, id, version).await
    }

    /// Retires an old version (idempotent); the current one is refused with
    /// [`StoreError::RetireCurrentVersion`].
    pub async fn retire_version(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        id: &ChannelId,
        version: i64,
    ) -> Result<CredentialsVersion, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let row: Option<(i64,)> = tx
            .optional(
                "SELECT current_version FROM channels WHERE tenant_id = $1 AND id = $2",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        let (current,) = row.ok_or(StoreError::not_found("channel"))?;
        if version == current {
            return Err(StoreError::RetireCurrentVersion { version });
        }
        let exists: Option<(i64,)> = tx
            .optional(
                "SELECT version FROM channel_credentials \
                 WHERE tenant_id = $1 AND channel_id = $2 AND version = $3",
                args![tenant.as_str(), id.as_str(), version],
            )
            .await?;
        if exists.is_none() {
            return Err(StoreError::not_found("credentials version"));
        }
        let changed = tx
            .execute(
                "UPDATE channel_credentials SET retired_at = $1 WHERE tenant_id = $2 \
                 AND channel_id = $3 AND version = $4 AND retired_at IS NULL",
                args![self.store.now_ms(), tenant.as_str(), id.as_str(), version],
            )
            .await?;
        if changed == 1 {
            AuditRecord::tenant(tenant, "channel.retire_credentials", id.as_str())
                .summary(serde_json::json!({ "version": version }))
                .write(self.store, &mut tx, audit)
                .await?;
            tx.commit().await?;
        }
        self.version_info(tenant, id, version).await
    }

    /// The decrypted credentials document of one version (retired ones included).
    pub async fn credentials(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
        version: i64,
    ) -> Result<SecretString, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let row: Option<(Vec<u8>,)> = self
            .store
            .pool()
            .optional(
                "SELECT document FROM channel_credentials \
                 WHERE tenant_id = $1 AND channel_id = $2 AND version = $3",
                args![tenant.as_str(), id.as_str(), version],
            )
            .await?;
        let (sealed,) = row.ok_or(StoreError::not_found("credentials version"))?;
        Ok(key.decrypt_str(document_ctx(tenant, &version_row_id(id, version)), &sealed)?)
    }

    /// The current version number and its decrypted document.
    pub async fn current_credentials(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
    ) -> Result<(i64, SecretString), StoreError> {
        let channel = self.get_channel(tenant, id).await?;
        let doc = self
            .credentials(tenant, id, channel.current_version)
            .await?;
        Ok((channel.current_version, doc))
    }

    /// Every non-retired credentials version, decrypted: the current one first, then older
    /// ones newest first — the order in which to try verifying a notification during a key
    /// rollover.
    pub async fn all_credentials(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
    ) -> Result<Vec<(i64, SecretString)>, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let channel = self.get_channel(tenant, id).await?;
        let rows: Vec<(i64, Vec<u8>)> = self
            .store
            .pool()
            .all(
                "SELECT version, document FROM channel_credentials \
                 WHERE tenant_id = $1 AND channel_id = $2 AND retired_at IS NULL \
                 ORDER BY version DESC",
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        let mut docs = rows
            .into_iter()
            .map(|(version, sealed)| {
                let row_id = version_row_id(id, version);
                let doc = key.decrypt_str(document_ctx(tenant, &row_id), &sealed)?;
                Ok((version, doc))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Stable: the current version moves to the front, the rest stay newest first.
        docs.sort_by_key(|(version, _)| *version != channel.current_version);
        Ok(docs)
    }

    /// The channel with this id, whatever its tenant.
    ///
    /// The one platform-wide (not tenant-scoped) read: WeChat posts notifications to
    /// `/notify/{channel_id}` with no tenant in the request, and the channel is how paygate
    /// learns which tenant's credentials verify it. Nothing from the notification may be
    /// trusted before that verification. Disabled channels are returned too (in-flight
    /// notifications still arrive); the caller decides.
    ///
    /// Answered from the lookup cache when it holds a current copy (see `lookups`).
    pub async fn find(&self, id: &ChannelId) -> Result<Channel, StoreError> {
        let lookups = self.store.lookups();
        let read = async {
            let row: Option<ChannelRow> = self
                .store
                .pool()
                .optional(
                    "SELECT id, tenant_id, kind, mch_id, name, status, current_version, \
                     created_at, updated_at FROM channels WHERE id = $1",
                    args![id.as_str()],
                )
                .await?;
            row.ok_or(StoreError::not_found("channel"))?.try_into()
        };
        lookups
            .get_or_read(&lookups.channels, id.clone(), read)
            .await
    }

    async fn version_info(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
        version: i64,
    ) -> Result<CredentialsVersion, StoreError> {
        self.get(tenant, id)
            .await?
            .versions
            .into_iter()
            .find(|v| v.version == version)
            .ok_or(StoreError::not_found("credentials version"))
    }
}

pub(super) async fn insert_version(
    tx: &mut Tx,
    tenant: &TenantId,
    channel: &ChannelId,
    version: i64,
    sealed: Vec<u8>,
    summary: &CredentialsSummary,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO channel_credentials (tenant_id, channel_id, version, document, \
         merchant_serial, certificate_not_after, appid, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        args![
            tenant.as_str(),
            channel.as_str(),
            version,
            sealed,
            summary.merchant_serial.clone(),
            summary.certificate_not_after,
            summary.appid.as_ref().map(|a| a.as_str().to_owned()),
            now
        ],
    )
    .await?;
    Ok(())
}
