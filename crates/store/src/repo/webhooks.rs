//! Each tenant's webhook endpoint and its signing secret.
//!
//! Secrets follow the Standard Webhooks format, `whsec_` + base64 of 32 random bytes. A secret
//! is created with the first URL and replaced by [`Webhooks::rotate_secret`]; both return it
//! once. Only the delivery worker reads it back ([`Webhooks::signing_secrets`]). A rotation
//! keeps the previous secret (encrypted) for [`PREVIOUS_SECRET_TTL`], so deliveries carry
//! both signatures while tenants switch over.

use base64::Engine;
use paygate_core::TenantId;
use rand::RngCore;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{args, db_row, from_ms, from_ms_opt, parse_col};
use crate::envelope::FieldContext;
use crate::error::StoreError;
use crate::repo::ensure_tenant;
use crate::store::Store;

const SECRET_BYTES: usize = 32;

/// How long the previous secret keeps signing after a rotation.
pub const PREVIOUS_SECRET_TTL: time::Duration = time::Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub tenant_id: TenantId,
    pub url: String,
    pub paused: bool,
    /// Set when the endpoint answered 410 Gone; cleared by resume.
    pub disabled_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

db_row! {
    struct EndpointRow {
        tenant_id: String,
        url: String,
        paused: bool,
        disabled_at: Option<i64>,
        disabled_reason: Option<String>,
        created_at: i64,
        updated_at: i64,
    }
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            tenant_id: parse_col("webhook_endpoints.tenant_id", &r.tenant_id)?,
            url: r.url,
            paused: r.paused,
            disabled_at: from_ms_opt(r.disabled_at)?,
            disabled_reason: r.disabled_reason,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

fn secret_ctx(tenant: &TenantId) -> FieldContext<'_> {
    FieldContext {
        tenant_id: tenant.as_str(),
        table: "webhook_endpoints",
        column: "signing_secret",
        row_id: tenant.as_str(),
    }
}

fn new_secret() -> SecretString {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// `signing_secret, previous_secret, previous_secret_expires_at`.
type SecretsRow = (Vec<u8>, Option<Vec<u8>>, Option<i64>);

/// `store.webhooks()`.
#[derive(Debug, Clone, Copy)]
pub struct Webhooks<'a> {
    pub(crate) store: &'a Store,
}

impl Webhooks<'_> {
    /// The tenant's endpoint, if one is set.
    pub async fn get(&self, tenant: &TenantId) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row: Option<EndpointRow> = self
            .store
            .pool()
            .optional(
                "SELECT tenant_id, url, paused, disabled_at, disabled_reason, created_at, \
                 updated_at FROM webhook_endpoints \
                 WHERE tenant_id = $1",
                args![tenant.as_str()],
            )
            .await?;
        row.map(WebhookEndpoint::try_from).transpose()
    }

    /// Sets the endpoint URL (the caller has validated it). The first call creates the signing
    /// secret and returns it; later calls keep the secret and return `None`.
    pub async fn put_url(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        url: &str,
    ) -> Result<(WebhookEndpoint, Option<SecretString>), StoreError> {
        if url.trim().is_empty() {
            return Err(StoreError::invalid("url", "must not be blank"));
        }
        let key = self.store.data_key(tenant).await?;
        let now = self.store.now_ms();
        let mut tx = self.store.write_tx().await?;
        ensure_tenant(&mut tx, tenant).await?;
        let changed = tx
            .execute(
                "UPDATE webhook_endpoints SET url = $1, updated_at = $2 WHERE tenant_id = $3",
                args![url, now, tenant.as_str()],
            )
            .await?;
        let created = if changed == 0 {
            let secret = new_secret();
            tx.execute(
                "INSERT INTO webhook_endpoints (tenant_id, url, signing_secret, paused, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                args![
                    tenant.as_str(),
                    url,
                    key.encrypt_str(secret_ctx(tenant), &secret),
                    false,
                    now
                ],
            )
            .await?;
            Some(secret)
        } else {
            None
        };
        AuditRecord::tenant(tenant, "webhook.put", tenant.as_str())
            .summary(serde_json::json!({ "url": url, "secret_created": created.is_some() }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        let endpoint = self
            .get(tenant)
            .await?
            .ok_or(StoreError::not_found("webhook endpoint"))?;
        Ok((endpoint, created))
    }

    /// Pauses or resumes deliveries. Resuming also re-enables an endpoint disabled by 410.
    pub async fn set_paused(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        paused: bool,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let changed = tx
            .execute(
                "UPDATE webhook_endpoints SET paused = $1, updated_at = $2, \
                 disabled_at = CASE WHEN $1 THEN disabled_at ELSE NULL END, \
                 disabled_reason = CASE WHEN $1 THEN disabled_reason ELSE NULL END \
                 WHERE tenant_id = $3",
                args![paused, self.store.now_ms(), tenant.as_str()],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("webhook endpoint"));
        }
        AuditRecord::tenant(tenant, "webhook.set_paused", tenant.as_str())
            .summary(serde_json::json!({ "paused": paused }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.get(tenant)
            .await?
            .ok_or(StoreError::not_found("webhook endpoint"))
    }

    /// Replaces the signing secret; returns the new one (the only copy handed out). The old
    /// one keeps signing for [`PREVIOUS_SECRET_TTL`].
    pub async fn rotate_secret(
        &self,
        audit: &Audit,
        tenant: &TenantId,
    ) -> Result<SecretString, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let secret = new_secret();
        let mut tx = self.store.write_tx().await?;
        let changed = tx
            .execute(
                "UPDATE webhook_endpoints SET previous_secret = signing_secret, \
                 previous_secret_expires_at = $1, signing_secret = $2, updated_at = $3 \
                 WHERE tenant_id = $4",
                args![
                    self.store.now() + PREVIOUS_SECRET_TTL,
                    key.encrypt_str(secret_ctx(tenant), &secret),
                    self.store.now_ms(),
                    tenant.as_str()
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("webhook endpoint"));
        }
        AuditRecord::tenant(tenant, "webhook.rotate_secret", tenant.as_str())
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// The decrypted current signing secret.
    pub async fn signing_secret(&self, tenant: &TenantId) -> Result<SecretString, StoreError> {
        self.signing_secrets(tenant)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::not_found("webhook endpoint"))
    }

    /// The decrypted signing secrets, for the delivery worker: the current one first, then
    /// the previous one while it has not expired.
    pub async fn signing_secrets(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SecretString>, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let row: Option<SecretsRow> = self
            .store
            .pool()
            .optional(
                "SELECT signing_secret, previous_secret, previous_secret_expires_at \
                 FROM webhook_endpoints WHERE tenant_id = $1",
                args![tenant.as_str()],
            )
            .await?;
        let (sealed, previous, expires) = row.ok_or(StoreError::not_found("webhook endpoint"))?;
        // The previous secret was sealed under the same field context (same row and column).
        let mut secrets = vec![key.decrypt_str(secret_ctx(tenant), &sealed)?];
        if let (Some(previous), Some(expires)) = (previous, expires)
            && expires > self.store.now_ms()
        {
            secrets.push(key.decrypt_str(secret_ctx(tenant), &previous)?);
        }
        Ok(secrets)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn secrets_use_the_standard_webhooks_format() {
        let s = new_secret();
        let body = s.expose_secret().strip_prefix("whsec_").unwrap_or_default();
        let raw = base64::engine::general_purpose::STANDARD.decode(body);
        assert_eq!(raw.map(|r| r.len()).ok(), Some(SECRET_BYTES));
    }
}
