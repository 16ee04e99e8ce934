//! `Idempotency-Key` claims for the tenant API.
//!
//! A claim is a row inserted under the `(tenant_id, idem_key)` primary key, so of two
//! concurrent requests with one key exactly one gets it. A key older than [`KEY_TTL`] (by the
//! store's clock), or an unfinished claim older than [`CLAIM_LEASE`], is replaced as if absent.
//! The request hash lets the caller tell a replay from a key reused for another request; this
//! module does not judge.
//!
//! Two ways to use a key:
//! - in three steps, for a request that calls a provider between claiming and answering
//!   (refunds): [`Idempotency::claim`] commits the claim, then [`Idempotency::complete`]
//!   stores the response to replay, or [`Idempotency::release`] gives the key back on failure;
//! - in the caller's own transaction (`claim_in`, `complete_in`), when the whole request
//!   is database work (creating an order, `Orders::create_idempotent`): claim, work and
//!   response commit together, so nobody ever sees the claim unfinished, and a failure rolls
//!   the claim back with everything else.

use paygate_core::TenantId;
use time::{Duration, OffsetDateTime};

use crate::db::{Tx, args, dialect};
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

/// A key another request holds (within its TTL, or its lease when unfinished): the request
/// asking for it ran nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldKey {
    /// That request finished; replay its response if `request_hash` matches.
    Completed {
        request_hash: String,
        status: u16,
        body: Vec<u8>,
    },
    /// That request is still running, or died before finishing (the claim lapses after
    /// [`CLAIM_LEASE`]).
    InProgress { request_hash: String },
}

impl Claim {
    /// The key as another request holds it; `None` for [`Claim::New`].
    pub fn into_held(self) -> Option<HeldKey> {
        match self {
            Claim::New => None,
            Claim::Completed {
                request_hash,
                status,
                body,
            } => Some(HeldKey::Completed {
                request_hash,
                status,
                body,
            }),
            Claim::InProgress { request_hash } => Some(HeldKey::InProgress { request_hash }),
        }
    }
}

impl From<HeldKey> for Claim {
    fn from(held: HeldKey) -> Self {
        match held {
            HeldKey::Completed {
                request_hash,
                status,
                body,
            } => Claim::Completed {
                request_hash,
                status,
                body,
            },
            HeldKey::InProgress { request_hash } => Claim::InProgress { request_hash },
        }
    }
}

/// `store.idempotency()`.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    pub(crate) store: &'a Store,
}

pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
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

/// Claims `key` in `tx`: `None` when it is now this request's (a new row, or one replacing an
/// expired key or a lapsed claim), else the key as its holder left it. On PostgreSQL a
/// concurrent claim of the same key waits on the primary key until its transaction ends, then
/// sees the committed row; on SQLite the write lock serialises claims. Nothing here fails the
/// transaction (`ON CONFLICT`, not a failed insert), so a held key leaves it usable — though
/// callers simply drop it.
pub(crate) async fn claim_in(
    tx: &mut Tx,
    now: OffsetDateTime,
    tenant: &TenantId,
    key: &str,
    request_hash: &str,
) -> Result<Option<HeldKey>, StoreError> {
    check_key(key)?;
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
        return Ok(None);
    }
    let sql = dialect(
        tx.backend(),
        "SELECT request_hash, status_code, response_body FROM idempotency_keys \
         WHERE tenant_id = $1 AND idem_key = $2",
        "SELECT request_hash, status_code, response_body FROM idempotency_keys \
         WHERE tenant_id = $1 AND idem_key = $2 FOR SHARE",
    );
    let row: Option<KeyRow> = tx.optional(sql, args![tenant.as_str(), key]).await?;
    let row = row.ok_or(StoreError::not_found("idempotency key"))?;
    held(row).map(Some)
}

/// Stores the response of the request holding the claim in `tx`, for replays.
pub(crate) async fn complete_in(
    tx: &mut Tx,
    tenant: &TenantId,
    key: &str,
    status: u16,
    body: &[u8],
) -> Result<(), StoreError> {
    check_status(status)?;
    let changed = tx
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

pub(crate) fn check_status(status: u16) -> Result<(), StoreError> {
    if (100..=599).contains(&status) {
        Ok(())
    } else {
        Err(StoreError::invalid("status", "must be an HTTP status"))
    }
}

type KeyRow = (String, Option<i64>, Option<Vec<u8>>);

fn held((request_hash, status, body): KeyRow) -> Result<HeldKey, StoreError> {
    Ok(match status {
        Some(status) => HeldKey::Completed {
            request_hash,
            status: u16::try_from(status).map_err(|_| {
                StoreError::Corrupt(format!("idempotency_keys.status_code = {status}"))
            })?,
            body: body.unwrap_or_default(),
        },
        None => HeldKey::InProgress { request_hash },
    })
}

impl Idempotency<'_> {
    /// Claims `key` for a request whose hash is `request_hash`, committing the claim at once
    /// (see [`Claim`]).
    pub async fn claim(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let mut tx = self.store.write_tx().await?;
        match claim_in(&mut tx, self.store.now(), tenant, key, request_hash).await? {
            None => {
                tx.commit().await?;
                Ok(Claim::New)
            }
            Some(held) => Ok(held.into()),
        }
    }

    /// The key as another request holds it, by the rules of a claim (an expired key or a
    /// lapsed claim is `None`), without claiming it: for a request refused before it would
    /// claim (invalid input), which must still answer a held key as a claim would.
    pub async fn held(&self, tenant: &TenantId, key: &str) -> Result<Option<HeldKey>, StoreError> {
        check_key(key)?;
        let now = self.store.now();
        let row: Option<KeyRow> = self
            .store
            .pool()
            .optional(
                "SELECT request_hash, status_code, response_body FROM idempotency_keys \
                 WHERE tenant_id = $1 AND idem_key = $2 AND created_at > $3 \
                 AND (status_code IS NOT NULL OR created_at > $4)",
                args![tenant.as_str(), key, now - KEY_TTL, now - CLAIM_LEASE],
            )
            .await?;
        row.map(held).transpose()
    }

    /// Stores the response of the request holding the claim, for replays.
    pub async fn complete(
        &self,
        tenant: &TenantId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.store.write_tx().await?;
        complete_in(&mut tx, tenant, key, status, body).await?;
        tx.commit().await
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
