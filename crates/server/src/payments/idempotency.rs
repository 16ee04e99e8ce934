//! `Idempotency-Key` for `POST /v1/orders` and refunds: a key runs its request at most once.
//!
//! A key is claimed by inserting its row (tenant, key, SHA-256 of the request) under a unique
//! constraint before anything else happens, so two concurrent requests with one key cannot
//! both run. The same key and the same request after completion replays the stored status
//! and body; the same key with another request is 422 `idempotency_key_reused`; while the
//! first is still running, 409 `idempotency_key_in_progress`. Keys older than 24 h may be
//! reused.
//!
//! Creating an order is database work only, so it claims, creates and records the response in
//! one transaction (`Orders::create_idempotent`, driven by `payments::orders::create_order`):
//! a failure rolls the claim back with the order, and no one sees the key unanswered.
//! A refund calls WeChat between claim and answer, which must not happen inside a
//! transaction, so [`run_once`] claims (committed), runs, then records the response — or,
//! on failure, releases the claim so the client may retry. A request that dies in between
//! (server killed, future dropped by the request timeout) holds its key for the claim's lease
//! (two minutes), after which a retry runs again; the merchant reference of such a request is
//! derived from the key ([`derived_reference`]), so the retry finds what the first run
//! committed instead of creating it twice.
//!
//! An [`IdempotentRequest`] hashes the request once, for the claim and the derived reference;
//! a handler asks it for the reference ([`IdempotentRequest::reference`]) and the claim
//! ([`IdempotentRequest::claim`]), or runs the operation through [`run_once`].

use std::fmt::Display;
use std::str::FromStr;

use axum::http::{HeaderMap, StatusCode};
use paygate_core::TenantId;
use paygate_store::{HeldKey, IdempotencyClaim};
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

    /// The key to create under, if the request came with one. `adopt_existing`: the merchant
    /// reference was derived from the key ([`Reference::derived`]), so a record already
    /// holding it is this request's own.
    pub fn claim(&self, adopt_existing: bool) -> Option<IdempotencyClaim<'_>> {
        self.keyed.as_ref().map(|k| IdempotencyClaim {
            key: &k.key,
            request_hash: &k.hash,
            adopt_existing,
        })
    }

    /// The answer to a key another request holds: its stored response when that request was
    /// this one (same hash) and finished; 409 `idempotency_key_in_progress` while it runs;
    /// 422 `idempotency_key_reused` when it was another request.
    pub fn answer_held(&self, held: HeldKey) -> Result<Outcome, ApiError> {
        let ours = |request_hash: &str| self.keyed.as_ref().is_some_and(|k| k.hash == request_hash);
        match held {
            HeldKey::Completed {
                request_hash,
                status,
                body,
            } if ours(&request_hash) => Ok(Outcome {
                status: StatusCode::from_u16(status)
                    .map_err(|e| ApiError::internal(format!("stored status: {e}")))?,
                body,
                replayed: true,
            }),
            HeldKey::InProgress { request_hash } if ours(&request_hash) => {
                Err(PaymentError::IdempotencyKeyInProgress.into())
            }
            HeldKey::Completed { .. } | HeldKey::InProgress { .. } => {
                Err(PaymentError::IdempotencyKeyReused.into())
            }
        }
    }

    /// For a request refused before it claims its key (its input is invalid): the answer a
    /// claim would have given if another request holds the key, else `error`. A retry of a
    /// finished request is replayed even if its input would no longer pass (an expiry now in
    /// the past, a channel disabled since).
    pub async fn refused(&self, state: &AppState, error: ApiError) -> Result<Outcome, ApiError> {
        let Some(Keyed { key, .. }) = &self.keyed else {
            return Err(error);
        };
        match state.store().idempotency().held(self.tenant, key).await? {
            Some(held) => self.answer_held(held),
            None => Err(error),
        }
    }
}

/// A JSON response to send, and whether it is a replay of an earlier one. The body is the
/// serialized JSON, as stored for replays: sent as is, never parsed again.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub replayed: bool,
}

/// A response body as stored and sent.
pub fn json_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::internal(format!("response body: {e}")))
}

/// Runs `run` at most once per (tenant, key) of `request`, in three steps (claim, run,
/// record; see the module docs) — for an operation that calls a provider. Without a key it
/// simply runs.
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
            body: json_body(&body)?,
            replayed: false,
        });
    };
    let tenant = request.tenant;
    let store = state.store().idempotency();
    if let Some(held) = store.claim(tenant, key, hash).await?.into_held() {
        return request.answer_held(held);
    }
    match run().await {
        Ok((status, body)) => {
            let body = json_body(&body)?;
            // The work is done: failing to record it must not turn success into an error.
            if let Err(e) = store.complete(tenant, key, status.as_u16(), &body).await {
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
    fn held_keys_are_replayed_waited_for_or_refused() {
        let tenant = TenantId::from_parts(1, 1);
        let body = json!({"amount": 100});
        let request = IdempotentRequest::new(&tenant, Some("k1".into()), "create_order", &body);
        let ours = request_hash("create_order", &body);
        let completed = |request_hash: &str, status| HeldKey::Completed {
            request_hash: request_hash.to_owned(),
            status,
            body: b"{\"id\":1}".to_vec(),
        };
        let replay = request.answer_held(completed(&ours, 201)).unwrap();
        assert_eq!(
            (replay.status, replay.body, replay.replayed),
            (StatusCode::CREATED, b"{\"id\":1}".to_vec(), true)
        );
        let code = |held| request.answer_held(held).unwrap_err().code();
        assert_eq!(code(completed("other", 201)), "idempotency_key_reused");
        let running = |h: &str| HeldKey::InProgress {
            request_hash: h.to_owned(),
        };
        assert_eq!(code(running(&ours)), "idempotency_key_in_progress");
        assert_eq!(code(running("other")), "idempotency_key_reused");
        // A stored status that is not HTTP is a server fault, not a panic.
        assert_eq!(code(completed(&ours, 1000)), "internal_error");
        // A request without a key holds no key: anything held is not its own.
        let unkeyed = IdempotentRequest::new(&tenant, None, "create_order", &body);
        let err = unkeyed.answer_held(completed(&ours, 201)).unwrap_err();
        assert_eq!(err.code(), "idempotency_key_reused");
        assert!(unkeyed.claim(false).is_none());
        let claim = request.claim(true).unwrap();
        assert_eq!(
            (claim.key, claim.request_hash, claim.adopt_existing),
            ("k1", ours.as_str(), true)
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
