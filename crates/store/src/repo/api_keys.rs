//! Tenant API keys.
//!
//! A key is `pk_` followed by 40 random base62 characters (≈238 bits). Only its SHA-256 digest
//! (hex) and a display prefix are stored; the full secret is returned once, by
//! [`ApiKeys::create`]. Authentication looks the digest up directly: with that much entropy a
//! digest lookup leaks nothing a timing attack could use.

use std::fmt;
use std::str::FromStr;

use paygate_core::{ApiKeyId, TenantId};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{args, db_row, from_ms, from_ms_opt, parse_col, to_ms};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::repo::tenants::{Tenant, TenantRow};
use crate::repo::{check_name, ensure_tenant};
use crate::store::Store;

const SECRET_PREFIX: &str = "pk_";
const SECRET_BODY_LEN: usize = 40;
const DISPLAY_PREFIX_LEN: usize = 12;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// `last_used_at` is refreshed at most this often, so authentication is not a write per request.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Create and close orders.
    OrdersWrite,
    /// Create refunds.
    RefundsWrite,
    /// Read everything of the tenant.
    Read,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::OrdersWrite, Scope::RefundsWrite, Scope::Read];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrdersWrite => "orders:write",
            Scope::RefundsWrite => "refunds:write",
            Scope::Read => "read",
        }
    }
}

impl FromStr for Scope {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Scope::ALL
            .into_iter()
            .find(|sc| sc.as_str() == s)
            .ok_or_else(|| {
                StoreError::invalid("scopes", "must be orders:write, refunds:write or read")
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as listed: never the secret nor its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the secret (`pk_` + 9), to recognise a key.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key just created, with its secret — shown to the operator once, then forgotten.
#[derive(Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: SecretString,
}

/// A successful authentication: the key and its tenant (whose status the caller checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub key: ApiKey,
    pub tenant: Tenant,
}

db_row! {
    struct KeyRow {
        id: String,
        tenant_id: String,
        name: String,
        prefix: String,
        scopes: String,
        created_at: i64,
        last_used_at: Option<i64>,
        revoked_at: Option<i64>,
    }
}

/// A key with its tenant's columns (`authenticate`'s join).
#[derive(sqlx::FromRow)]
struct AuthRow {
    #[sqlx(flatten)]
    key: KeyRow,
    tenant_name: String,
    tenant_status: String,
    tenant_contact_email: Option<String>,
    tenant_default_channel_id: Option<String>,
    tenant_created_at: i64,
    tenant_updated_at: i64,
}

// By hand: `db_row!` cannot express `flatten`.
impl crate::sqlite::SqliteDecode for AuthRow {
    fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        // The flattened row's own fields come first; these follow it.
        let columns = crate::sqlite::Columns::new(row);
        Ok(AuthRow {
            key: KeyRow::decode(row)?,
            tenant_name: columns.get("tenant_name")?,
            tenant_status: columns.get("tenant_status")?,
            tenant_contact_email: columns.get("tenant_contact_email")?,
            tenant_default_channel_id: columns.get("tenant_default_channel_id")?,
            tenant_created_at: columns.get("tenant_created_at")?,
            tenant_updated_at: columns.get("tenant_updated_at")?,
        })
    }
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: parse_col("api_keys.id", &r.id)?,
            tenant_id: parse_col("api_keys.tenant_id", &r.tenant_id)?,
            name: r.name,
            prefix: r.prefix,
            scopes: r
                .scopes
                .split_whitespace()
                .map(|s| parse_col("api_keys.scopes", s))
                .collect::<Result<_, _>>()?,
            created_at: from_ms(r.created_at)?,
            last_used_at: from_ms_opt(r.last_used_at)?,
            revoked_at: from_ms_opt(r.revoked_at)?,
        })
    }
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    let mut rng = rand::rng();
    let body: String = (0..SECRET_BODY_LEN)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect();
    format!("{SECRET_PREFIX}{body}")
}

fn scopes_text(scopes: &[Scope]) -> Result<String, StoreError> {
    let mut sorted = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.is_empty() {
        return Err(StoreError::invalid(
            "scopes",
            "at least one scope is required",
        ));
    }
    Ok(sorted
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" "))
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, tenant_id, name, prefix, scopes, created_at, last_used_at, revoked_at \
             FROM api_keys ",
            $rest
        )
    };
}

/// `store.api_keys()`.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeys<'a> {
    pub(crate) store: &'a Store,
}

impl ApiKeys<'_> {
    /// Creates a key; the returned secret is the only copy.
    pub async fn create(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        name: &str,
        scopes: &[Scope],
    ) -> Result<NewApiKey, StoreError> {
        check_name("name", name)?;
        let scopes = scopes_text(scopes)?;
        let id: ApiKeyId = self.store.new_id();
        let secret = new_secret();
        let prefix: String = secret.chars().take(DISPLAY_PREFIX_LEN).collect();
        let mut tx = self.store.write_tx().await?;
        ensure_tenant(&mut tx, tenant).await?;
        tx.execute(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, digest, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                id.as_str(),
                tenant.as_str(),
                name,
                prefix.as_str(),
                digest(&secret),
                scopes.as_str(),
                self.store.now_ms()
            ],
        )
        .await?;
        AuditRecord::tenant(tenant, "api_key.create", id.as_str())
            .summary(serde_json::json!({ "name": name, "prefix": prefix, "scopes": scopes }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        Ok(NewApiKey {
            key: self.get(tenant, &id).await?,
            secret: SecretString::from(secret),
        })
    }

    pub async fn get(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<ApiKey, StoreError> {
        let row: Option<KeyRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND id = $2"),
                args![tenant.as_str(), id.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("api key"))?.try_into()
    }

    /// A tenant's keys, revoked ones included, newest first.
    pub async fn list(&self, tenant: &TenantId, page: &Page) -> Result<Paged<ApiKey>, StoreError> {
        let rows: Vec<KeyRow> = self
            .store
            .pool()
            .all(
                select!(
                    "WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
                ),
                args![tenant.as_str(), page.cursor(), page.fetch_limit()],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(ApiKey::try_from)
    }

    /// Revokes a key at once. Revoking a revoked key changes nothing.
    pub async fn revoke(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        id: &ApiKeyId,
    ) -> Result<ApiKey, StoreError> {
        let mut tx = self.store.write_tx().await?;
        let changed = tx
            .execute(
                "UPDATE api_keys SET revoked_at = $1 \
                 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
                args![self.store.now_ms(), tenant.as_str(), id.as_str()],
            )
            .await?;
        if changed == 1 {
            AuditRecord::tenant(tenant, "api_key.revoke", id.as_str())
                .write(self.store, &mut tx, audit)
                .await?;
            tx.commit().await?;
            self.store.lookups().invalidate();
        } else {
            drop(tx);
        }
        self.get(tenant, id).await
    }

    /// The key and tenant for a presented secret, or `None` (unknown or revoked), from the
    /// lookup cache when it holds a current copy (see `lookups`). Refreshes `last_used_at`
    /// when it is older than a minute.
    pub async fn authenticate(
        &self,
        secret: &SecretString,
    ) -> Result<Option<Authenticated>, StoreError> {
        let secret = secret.expose_secret();
        if !secret.starts_with(SECRET_PREFIX) {
            return Ok(None);
        }
        let digest = digest(secret);
        let lookups = self.store.lookups();
        let generation = lookups.generation();
        let (mut found, mut keep) = match lookups.get(&lookups.keys, digest.as_str()) {
            Some(found) => (found, false),
            None => match self.read(&digest).await? {
                Some(found) => (found, true),
                None => return Ok(None),
            },
        };
        let now = self.store.now();
        if found
            .key
            .last_used_at
            .is_none_or(|t| (now - t).whole_milliseconds() >= i128::from(TOUCH_INTERVAL_MS))
        {
            let now_ms = to_ms(now);
            self.store
                .pool()
                .execute(
                    "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                     AND (last_used_at IS NULL OR last_used_at <= $3)",
                    args![now_ms, found.key.id.as_str(), now_ms - TOUCH_INTERVAL_MS],
                )
                .await?;
            found.key.last_used_at = Some(now);
            keep = true;
        }
        if keep {
            lookups.keep(&lookups.keys, generation, digest, &found);
        }
        Ok(Some(found))
    }

    /// The unrevoked key with this digest and its tenant, from the database.
    async fn read(&self, digest: &str) -> Result<Option<Authenticated>, StoreError> {
        // Key and tenant in one statement: this runs on every tenant API request.
        let row: Option<AuthRow> = self
            .store
            .pool()
            .optional(
                "SELECT k.id, k.tenant_id, k.name, k.prefix, k.scopes, k.created_at, \
                 k.last_used_at, k.revoked_at, t.name AS tenant_name, t.status AS tenant_status, \
                 t.contact_email AS tenant_contact_email, \
                 t.default_channel_id AS tenant_default_channel_id, \
                 t.created_at AS tenant_created_at, t.updated_at AS tenant_updated_at \
                 FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
                 WHERE k.digest = $1 AND k.revoked_at IS NULL",
                args![digest],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant = TenantRow {
            id: row.key.tenant_id.clone(),
            name: row.tenant_name,
            status: row.tenant_status,
            contact_email: row.tenant_contact_email,
            default_channel_id: row.tenant_default_channel_id,
            created_at: row.tenant_created_at,
            updated_at: row.tenant_updated_at,
        };
        Ok(Some(Authenticated {
            key: ApiKey::try_from(row.key)?,
            tenant: tenant.try_into()?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape() {
        let a = new_secret();
        assert!(a.starts_with("pk_") && a.len() == 43, "{a}");
        assert!(a[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, new_secret());
        assert_eq!(digest(&a).len(), 64);
    }

    #[test]
    fn scopes_are_normalised_and_required() {
        assert_eq!(
            scopes_text(&[Scope::Read, Scope::OrdersWrite, Scope::Read]).ok(),
            Some("orders:write read".to_owned())
        );
        assert!(scopes_text(&[]).is_err());
        assert!("admin".parse::<Scope>().is_err());
    }
}
