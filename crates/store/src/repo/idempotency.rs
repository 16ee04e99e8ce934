//! `Idempotency-Key` claims for the tenant API: claim first, run the request, then complete
//! (store the response to replay) or release (on failure, so a retry can run).
//!
//! A claim is a row inserted under the `(tenant_id, idem_key)` primary key, so of two
//! concurrent requests with one key exactly one gets [`Claim::New`]. A key older than
//! [`KEY_TTL`] (by the store's clock), or an unfinished claim older than [`CLAIM_LEASE`], is
//! replaced as if absent. The request hash lets the
//! caller tell a replay from a key reused for another request; this module does not judge.

use paygate_core::TenantId;
use time::Duration;

use crate::db::{args, dialect};
use crate::error::StoreError;
use crate::store::Store;

/// How long a key is remembered.
pub const KEY_TTL: Duration = Duration::hours(24);

/// How long an unfinished claim holds its key. A request that dies mid-way — its server killed,
/// or its future dropped by the request timeout — never releases its claim; after this lease
/// the key can be claimed again, so the client's retry runs instead of getting
/// `idempotency_key_in_progress` for a day. It must outlast any live request: the server
/// refuses a request timeout that is not shorter.
pub const CLAIM_LEASE: Duration = Duration::minutes(2);

/// The outcome of [`Idempotency::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is now this request's: run it, then `complete` or `release`.
    New,
    /// A request with this key finished; replay its response if `request_hash` matches.
    Completed {
        request_hash: String,
        status: u16,
        body: Vec<u8>,
    },
    /// A request with this key is still running (or died without releasing; the claim
    /// lapses after [`CLAIM_LEASE`]).
    InProgress { request_hash: String },
}

/// `store.idempotency()`.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    pub(crate) store: &'a Store,
}

fn check_key(key: &str) -> Result<(), StoreError> {
    let len = key.chars().count();
    if len == 0 || len > 255 {
        Err(StoreError::invalid(
            "idempotency_key",
            "must be 1 to 255 characters",
        ))
    } else {
        Ok(())
    }
}

impl Idempotency<'_> {
    /// Claims `key` for a request whose hash is `request_hash` (see [`Claim`]).
    pub async fn claim(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        check_key(key)?;
        let now = self.store.now();
        let mut tx = self.store.write_tx().await?;
        // Inserts a new claim, or replaces an expired key or an unfinished claim whose lease
        // lapsed; a live claim or a completed key within its TTL stays untouched.
        let claimed = tx
            .execute(
                "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, status_code, \
                 response_body, created_at) VALUES ($1, $2, $3, NULL, NULL, $4) \
                 ON CONFLICT (tenant_id, idem_key) DO UPDATE SET \
                 request_hash = excluded.request_hash, status_code = NULL, \
                 response_body = NULL, created_at = excluded.created_at \
                 WHERE idempotency_keys.created_at <= $5 \
                 OR (idempotency_keys.status_code IS NULL AND idempotency_keys.created_at <= $6)",
                args![
                    tenant.as_str(),
                    key,
                    request_hash,
                    now,
                    now - KEY_TTL,
                    now - CLAIM_LEASE
                ],
            )
            .await?;
        if claimed == 1 {
            tx.commit().await?;
            return Ok(Claim::New);
        }
        let sql = dialect(
            tx.backend(),
            "SELECT request_hash, status_code, response_body FROM idempotency_keys \
             WHERE tenant_id = $1 AND idem_key = $2",
            "SELECT request_hash, status_code, response_body FROM idempotency_keys \
             WHERE tenant_id = $1 AND idem_key = $2 FOR SHARE",
        );
        let row: Option<(String, Option<i64>, Option<Vec<u8>>)> =
            tx.optional(sql, args![tenant.as_str(), key]).await?;
        let (request_hash, status, body) = row.ok_or(StoreError::not_found("idempotency key"))?;
        Ok(match status {
            Some(status) => Claim::Completed {
                request_hash,
                status: u16::try_from(status).map_err(|_| {
                    StoreError::Corrupt(format!("idempotency_keys.status_code = {status}"))
                })?,
                body: body.unwrap_or_default(),
            },
            None => Claim::InProgress { request_hash },
        })
    }

    /// Stores the response of the request holding the claim, for replays.
    pub async fn complete(
        &self,
        tenant: &TenantId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        if !(100..=599).contains(&status) {
            return Err(StoreError::invalid("status", "must be an HTTP status"));
        }
        let changed = self
            .store
            .pool()
            .execute(
                "UPDATE idempotency_keys SET status_code = $1, response_body = $2 \
                 WHERE tenant_id = $3 AND idem_key = $4 AND status_code IS NULL",
                args![i64::from(status), body.to_vec(), tenant.as_str(), key],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("idempotency claim"));
        }
        Ok(())
    }

    /// Drops an in-progress claim (the request failed before a response worth replaying).
    /// A completed key is kept; releasing an absent key does nothing.
    pub async fn release(&self, tenant: &TenantId, key: &str) -> Result<(), StoreError> {
        self.store
            .pool()
            .execute(
                "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 \
                 AND status_code IS NULL",
                args![tenant.as_str(), key],
            )
            .await?;
        Ok(())
    }
}
