//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): pure functions, no I/O.
//!
//! `webhook-signature` is `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`, where
//! the key is the base64 decoding of the secret after `whsec_`; several signatures are
//! space-separated (one per secret while a rotation is in progress). This module must never
//! log or return a secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Header names of the specification.
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

const PREFIX: &str = "whsec_";

/// A secret that is not `whsec_` + base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the signing secret is not whsec_ followed by base64")]
pub struct BadSecret;

impl BadSecret {
    pub fn code(&self) -> &'static str {
        "bad_signing_secret"
    }
}

fn key_bytes(secret: &SecretString) -> Result<Vec<u8>, BadSecret> {
    let raw = secret.expose_secret();
    let encoded = raw.strip_prefix(PREFIX).ok_or(BadSecret)?;
    match STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(BadSecret),
    }
}

/// One `v1,<base64>` signature of `body` sent as message `id` at unix second `timestamp`.
pub fn sign(
    secret: &SecretString,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let key = key_bytes(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header value: one signature per secret, space-separated, in the
/// order given (current secret first).
pub fn signature_header(
    secrets: &[SecretString],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let sigs = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sigs.join(" "))
}

/// Whether `header` holds a valid `v1` signature of the message under `secret` (constant-time
/// comparison). Used by paygate's own tests and by tenants' examples; it does not check the
/// timestamp's age, which is the receiver's policy.
pub fn verify(secret: &SecretString, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = key_bytes(secret) else {
        return false;
    };
    header
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        .any(|sig| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
                return false;
            };
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&sig).is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The specification's published example: the `test_sign` known answer of the reference
    // implementation, github.com/standard-webhooks/standard-webhooks,
    // libraries/rust/src/lib.rs (the other reference libraries use the same vector).
    const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const SPEC_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const SPEC_TIMESTAMP: i64 = 1_649_367_553;
    const SPEC_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SPEC_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn matches_the_specifications_published_example() {
        let sig = sign(&secret(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(sig.as_deref(), Ok(SPEC_SIGNATURE));
        assert!(verify(
            &secret(SPEC_SECRET),
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
    }

    /// The worked example of README's "Verifying paygate's webhooks" (also checked against the
    /// `standardwebhooks` Python package), so the documentation cannot drift from the code.
    #[test]
    fn matches_the_readme_example() {
        let body = br#"{"created_at":"2024-11-24T02:40:00Z","data":{"amount":1999,"currency":"CNY","order_id":"ord_01JDBM2W0Y2A4C6E8GJMNQSVXZ","state":"PAID"},"id":"evt_01JDBM2X3R5T7V9XBDFHKMPRTW","tenant_id":"ten_01JD8Z0000ABCDEFGHJKMNPQRS","type":"payment.succeeded"}"#;
        let sig = sign(
            &secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "evt_01JDBM2X3R5T7V9XBDFHKMPRTW",
            1_732_416_000,
            body,
        );
        assert_eq!(
            sig.as_deref(),
            Ok("v1,N5FTl57kqFqeuh6ic/wzQ8XBSrqHLQv4UrFhjSzOcbM=")
        );
    }

    #[test]
    fn any_change_to_the_message_breaks_the_signature() {
        let s = secret(SPEC_SECRET);
        assert!(!verify(
            &s,
            "msg_other",
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
        assert!(!verify(
            &s,
            SPEC_ID,
            SPEC_TIMESTAMP + 1,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
        assert!(!verify(&s, SPEC_ID, SPEC_TIMESTAMP, b"{}", SPEC_SIGNATURE));
        let other = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(!verify(
            &other,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
        assert!(!verify(
            &s,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            "v2,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        ));
    }

    #[test]
    fn a_rotation_carries_one_signature_per_secret() {
        let current = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let previous = secret(SPEC_SECRET);
        let header = signature_header(
            &[current.clone(), previous.clone()],
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
        );
        let header = header.unwrap_or_default();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], SPEC_SIGNATURE);
        assert!(verify(
            &current,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            &header
        ));
        assert!(verify(
            &previous,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            &header
        ));
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in [
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "whsec_",
            "whsec_!!!not base64",
        ] {
            assert_eq!(
                sign(&secret(bad), SPEC_ID, 1, b"x"),
                Err(BadSecret),
                "{bad}"
            );
            assert!(!verify(&secret(bad), SPEC_ID, 1, b"x", SPEC_SIGNATURE));
        }
    }
}
