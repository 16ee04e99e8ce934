//! `Idempotency-Key` for `POST /v1/orders` and refunds: claim first, then run, then record.
//!
//! A key is claimed by inserting its row (tenant, key, SHA-256 of the request) under a unique
//! constraint before anything else happens, so two concurrent requests with one key cannot
//! both run. The same key and the same request after completion replays the stored status
//! and body; the same key with another request is 422 `idempotency_key_reused`; while the
//! first is still running, 409 `idempotency_key_in_progress`. A failure before completion
//! releases the claim, so the client may retry. A request that dies without releasing (server
//! killed, future dropped by the request timeout) holds its key for the claim's lease (two
//! minutes), after which a retry runs again; the merchant reference of such a request is
//! derived from the key ([`derived_reference`]), so the retry finds what the first run
//! committed instead of creating it twice. Keys older than 24 h may be reused.
//!
//! An [`IdempotentRequest`] hashes the request once, for both the claim and the derived
//! reference; a handler asks it for the reference ([`IdempotentRequest::reference`]) and runs
//! the operation through [`run_once`].

use std::fmt::Display;
use std::str::FromStr;

use axum::http::{HeaderMap, StatusCode};
use paygate_core::TenantId;
use paygate_store::Claim;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, PaymentError};
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Longest accepted key (a UUID is 36).
pub const MAX_KEY_LEN: usize = 255;

/// The `Idempotency-Key` header, if present: 1–255 visible ASCII characters.
pub fn key_from_headers(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::malformed(
            "Idempotency-Key: must be 1 to 255 visible ASCII characters",
            Some("Idempotency-Key".to_owned()),
        )
    };
    let key = value.to_str().map_err(|_| bad())?;
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// The SHA-256 (hex) identifying a request: the operation and its canonical JSON body, so
/// the same key on another endpoint or with other fields is a different request, while
/// whitespace or key order in the client's JSON does not matter.
pub fn request_hash(operation: &str, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    h.update([0u8]);
    // serde_json's Value keeps object keys sorted (no `preserve_order`), so this is canonical.
    h.update(body.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The merchant reference (`out_trade_no`, `out_refund_no`) of a request that came with an
/// `Idempotency-Key` but without a reference of its own: `prefix` and 30 hex digits of a
/// SHA-256 over the tenant, the key and the request.
///
/// A random reference would break exactly-once when a request dies after committing (server
/// killed, future dropped by the timeout) and its retry runs once the claim's lease lapses: the
/// retry would create a second order, or a second refund. With the reference derived, the retry
/// names the same one and finds what the first run committed. The request is part of the hash,
/// so a key reused for another request after its TTL names a new reference.
pub fn derived_reference(
    prefix: &str,
    tenant: &TenantId,
    key: &str,
    operation: &str,
    request: &serde_json::Value,
) -> String {
    derive(prefix, tenant, key, &request_hash(operation, request))
}

fn derive(prefix: &str, tenant: &TenantId, key: &str, request_hash: &str) -> String {
    let mut h = Sha256::new();
    for part in [tenant.as_str(), key, request_hash] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = hex::encode(h.finalize());
    format!("{prefix}{}", &digest[..30])
}

/// One tenant API request as idempotency sees it: its tenant, its operation and, when it came
/// with an `Idempotency-Key`, the key and the request's hash (computed once, here).
#[derive(Debug, Clone)]
pub struct IdempotentRequest<'a> {
    tenant: &'a TenantId,
    keyed: Option<Keyed>,
}

#[derive(Debug, Clone)]
struct Keyed {
    key: String,
    hash: String,
}

/// The merchant reference an operation should use (see [`IdempotentRequest::reference`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<T> {
    pub value: T,
    /// Derived from the key: a record with it is this very request's, committed by an earlier
    /// run that died before answering.
    pub derived: bool,
}

impl<'a> IdempotentRequest<'a> {
    /// `operation` and `body` identify the request ([`request_hash`]); without a key nothing is
    /// hashed.
    pub fn new(
        tenant: &'a TenantId,
        key: Option<String>,
        operation: &str,
        body: &serde_json::Value,
    ) -> Self {
        let keyed = key.map(|key| Keyed {
            hash: request_hash(operation, body),
            key,
        });
        IdempotentRequest { tenant, keyed }
    }

    /// The merchant reference to use: the client's own (`given`) when it sent one; else, for a
    /// keyed request, one derived from the key ([`derived_reference`], with `prefix`); else
    /// `None`, and the operation generates one.
    pub fn reference<T>(
        &self,
        prefix: &str,
        given: Option<T>,
    ) -> Result<Option<Reference<T>>, ApiError>
    where
        T: FromStr,
        T::Err: Display,
    {
        if let Some(value) = given {
            return Ok(Some(Reference {
                value,
                derived: false,
            }));
        }
        let Some(Keyed { key, hash }) = &self.keyed else {
            return Ok(None);
        };
        let value = derive(prefix, self.tenant, key, hash)
            .parse()
            .map_err(|e| ApiError::internal(format!("derived reference: {e}")))?;
        Ok(Some(Reference {
            value,
            derived: true,
        }))
    }
}

/// A JSON response to send, and whether it is a replay of an earlier one.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub replayed: bool,
}

/// Runs `run` at most once per (tenant, key) of `request` — see the module docs. Without a
/// key it simply runs.
pub async fn run_once<F, Fut>(
    state: &AppState,
    request: &IdempotentRequest<'_>,
    run: F,
) -> Result<Outcome, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(Keyed { key, hash }) = &request.keyed else {
        let (status, body) = run().await?;
        return Ok(Outcome {
            status,
            body,
            replayed: false,
        });
    };
    let tenant = request.tenant;
    let store = state.store().idempotency();
    match store.claim(tenant, key, hash).await? {
        Claim::New => {}
        Claim::Completed {
            request_hash,
            status,
            body,
        } if &request_hash == hash => {
            let status = StatusCode::from_u16(status)
                .map_err(|e| ApiError::internal(format!("stored status: {e}")))?;
            let body = serde_json::from_slice(&body)
                .map_err(|e| ApiError::internal(format!("stored body: {e}")))?;
            return Ok(Outcome {
                status,
                body,
                replayed: true,
            });
        }
        Claim::InProgress { request_hash } if &request_hash == hash => {
            return Err(PaymentError::IdempotencyKeyInProgress.into());
        }
        Claim::Completed { .. } | Claim::InProgress { .. } => {
            return Err(PaymentError::IdempotencyKeyReused.into());
        }
    }
    match run().await {
        Ok((status, body)) => {
            let bytes = serde_json::to_vec(&body)
                .map_err(|e| ApiError::internal(format!("response body: {e}")))?;
            // The work is done: failing to record it must not turn success into an error.
            if let Err(e) = store.complete(tenant, key, status.as_u16(), &bytes).await {
                tracing::error!(error = %e, "could not record an idempotent response");
            }
            Ok(Outcome {
                status,
                body,
                replayed: false,
            })
        }
        Err(e) => {
            if let Err(release) = store.release(tenant, key).await {
                tracing::error!(error = %release, "could not release an idempotency claim");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_core::PlatformId;
    use serde_json::json;

    #[test]
    fn hash_ignores_key_order_but_not_values_or_operation() {
        let a = request_hash("create_order", &json!({"amount": 100, "description": "x"}));
        let b = request_hash("create_order", &json!({"description": "x", "amount": 100}));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(
            a,
            request_hash("create_order", &json!({"amount": 101, "description": "x"}))
        );
        assert_ne!(
            a,
            request_hash("create_refund", &json!({"amount": 100, "description": "x"}))
        );
    }

    #[test]
    fn derived_references_are_stable_valid_and_request_bound() {
        let tenant = TenantId::from_parts(1, 1);
        let other_tenant = TenantId::from_parts(1, 2);
        let body = json!({"amount": 100});
        let a = derived_reference("pk", &tenant, "k1", "create_order", &body);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("pk"));
        assert!(a.parse::<paygate_core::OutTradeNo>().is_ok());
        // Same tenant, key and request: the same reference (what makes a re-run find the order).
        assert_eq!(
            a,
            derived_reference("pk", &tenant, "k1", "create_order", &body)
        );
        // Anything else differs.
        for other in [
            derived_reference("pk", &other_tenant, "k1", "create_order", &body),
            derived_reference("pk", &tenant, "k2", "create_order", &body),
            derived_reference("pk", &tenant, "k1", "create_order", &json!({"amount": 101})),
            derived_reference("pk", &tenant, "k1", "create_refund", &body),
        ] {
            assert_ne!(a, other);
        }
        // Known answer: SHA-256("ten_…\0k1\0<request hash>\0"), first 30 hex digits.
        let mut h = Sha256::new();
        h.update(format!(
            "{}\0k1\0{}\0",
            tenant.as_str(),
            request_hash("create_order", &body)
        ));
        assert_eq!(a, format!("pk{}", &hex::encode(h.finalize())[..30]));
    }

    #[test]
    fn the_reference_is_the_given_one_else_derived_from_the_key() {
        use paygate_core::{OutRefundNo, OutTradeNo};
        let tenant = TenantId::from_parts(1, 1);
        let body = json!({"amount": 100});
        let keyed = |tenant, key: &str, body| {
            IdempotentRequest::new(tenant, Some(key.to_owned()), "create_order", body)
        };
        let derived = |request: &IdempotentRequest<'_>| -> OutTradeNo {
            let r = request.reference("pk", None).unwrap().unwrap();
            assert!(r.derived);
            r.value
        };
        let a = derived(&keyed(&tenant, "k1", &body));
        // The same reference the e2e tests compute (and a crashed first run committed).
        assert_eq!(
            a.as_str(),
            derived_reference("pk", &tenant, "k1", "create_order", &body)
        );
        // Stable: a re-run of the same request names the same reference.
        assert_eq!(a, derived(&keyed(&tenant, "k1", &body)));
        // Another tenant, key or request names another.
        let other_tenant = TenantId::from_parts(1, 2);
        assert_ne!(a, derived(&keyed(&other_tenant, "k1", &body)));
        assert_ne!(a, derived(&keyed(&tenant, "k2", &body)));
        let other_body = json!({"amount": 101});
        assert_ne!(a, derived(&keyed(&tenant, "k1", &other_body)));
        // The client's own reference wins, and is not derived.
        let given: OutTradeNo = "merchant-0001".parse().unwrap();
        let r = keyed(&tenant, "k1", &body)
            .reference("pk", Some(given.clone()))
            .unwrap();
        assert_eq!(
            r,
            Some(Reference {
                value: given.clone(),
                derived: false
            })
        );
        // Without a key: the given one, or none (the operation generates one).
        let unkeyed = IdempotentRequest::new(&tenant, None, "create_order", &body);
        assert_eq!(unkeyed.reference::<OutTradeNo>("pk", None).unwrap(), None);
        assert_eq!(
            unkeyed
                .reference("pk", Some(given.clone()))
                .unwrap()
                .unwrap()
                .value,
            given
        );
        // Any reference type that parses: refunds.
        let refund = IdempotentRequest::new(&tenant, Some("k1".into()), "create_refund", &body)
            .reference::<OutRefundNo>("rk", None)
            .unwrap()
            .unwrap();
        assert!(refund.value.as_str().starts_with("rk"));
        // A prefix the type refuses is a server bug, answered 500, never a panic.
        let refused = keyed(&tenant, "k1", &body).reference::<OutTradeNo>("!", None);
        assert_eq!(refused.unwrap_err().code(), "internal_error");
    }

    #[test]
    fn header_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(key_from_headers(&h).unwrap(), None);
        h.insert(IDEMPOTENCY_KEY, "k-1".parse().unwrap());
        assert_eq!(key_from_headers(&h).unwrap().as_deref(), Some("k-1"));
        h.insert(IDEMPOTENCY_KEY, "a b".parse().unwrap());
        assert!(key_from_headers(&h).is_err());
        h.insert(IDEMPOTENCY_KEY, "k".repeat(256).parse().unwrap());
        assert!(key_from_headers(&h).is_err());
    }
}
