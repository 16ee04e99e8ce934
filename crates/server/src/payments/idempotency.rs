//! `Idempotency-Key` for `POST /v1/orders` and refunds: claim first, then run, then record.
//!
//! A key is claimed by inserting its row (tenant, key, SHA-256 of the request) under a unique
//! constraint before anything else happens, so two concurrent requests with one key cannot
//! both run. The same key and the same request after completion replays the stored status
//! and body; the same key with another request is 422 `idempotency_key_reused`; while the
//! first is still running, 409 `idempotency_key_in_progress`. A failure before completion
//! releases the claim, so the client may retry. Keys older than 24 h may be reused.

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

/// A JSON response to send, and whether it is a replay of an earlier one.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub replayed: bool,
}

/// Runs `run` at most once per (tenant, key) — see the module docs. Without a key it simply
/// runs. `operation` and `request` identify the request for [`request_hash`].
pub async fn run_once<F, Fut>(
    state: &AppState,
    tenant: &TenantId,
    key: Option<String>,
    operation: &str,
    request: &serde_json::Value,
    run: F,
) -> Result<Outcome, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = key else {
        let (status, body) = run().await?;
        return Ok(Outcome {
            status,
            body,
            replayed: false,
        });
    };
    let hash = request_hash(operation, request);
    let store = state.store().idempotency();
    match store.claim(tenant, &key, &hash).await? {
        Claim::New => {}
        Claim::Completed {
            request_hash,
            status,
            body,
        } if request_hash == hash => {
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
        Claim::InProgress { request_hash } if request_hash == hash => {
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
            if let Err(e) = store.complete(tenant, &key, status.as_u16(), &bytes).await {
                tracing::error!(error = %e, "could not record an idempotent response");
            }
            Ok(Outcome {
                status,
                body,
                replayed: false,
            })
        }
        Err(e) => {
            if let Err(release) = store.release(tenant, &key).await {
                tracing::error!(error = %release, "could not release an idempotency claim");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
