//! Verifying WeChat's signatures on responses and notifications (`Wechatpay-*` headers).
//!
//! [`RsaVerifier`] wraps one platform key (from a platform certificate or the WeChat Pay public
//! key); which key to use is decided by [`crate::keys::KeyStore`]. A signature starting with
//! `WECHATPAY/SIGNTEST/` is WeChat's deliberate probe: it must fail as
//! [`VerifyFailure::Probe`], before any base64 decoding, lookup or refresh.

use std::fmt;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use paygate_core::VerifyFailure;

use crate::cert::parse_certificate_pem;
use crate::pemfile::{KeyError, first_block};
use crate::sign::parse_unix_seconds;

/// The prefix of WeChat's signature probe traffic.
pub const PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Responses and notifications whose timestamp is this far (or farther) from now are refused.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// A WeChat platform public key that checks SHA256-with-RSA signatures.
pub struct RsaVerifier {
    key: ParsedPublicKey,
}

impl fmt::Debug for RsaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaVerifier")
    }
}

impl RsaVerifier {
    /// Parses a `-----BEGIN PUBLIC KEY-----` (SPKI) PEM, the WeChat Pay public key format.
    /// `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1) is accepted too.
    pub fn from_public_key_pem(pem: &str) -> Result<Self, KeyError> {
        let block = first_block(pem)?;
        match block.label.as_str() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Self::from_der(&block.der),
            other => Err(KeyError::WrongLabel {
                expected: "PUBLIC KEY",
                found: other.to_owned(),
            }),
        }
    }

    /// Takes the public key of a `-----BEGIN CERTIFICATE-----` PEM (a platform certificate).
    /// Validity dates are not checked here: that is the key store's decision.
    pub fn from_certificate_pem(pem: &str) -> Result<Self, KeyError> {
        let info = parse_certificate_pem(pem)?;
        Self::from_der(&info.spki_der)
    }

    /// From an SPKI or PKCS#1 `RSAPublicKey` DER.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .parse()
            .map(|key| RsaVerifier { key })
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    /// Checks a base64 signature over `message`.
    pub fn verify(&self, message: &[u8], signature_b64: &str) -> Result<(), VerifyFailure> {
        if signature_b64.starts_with(PROBE_PREFIX) {
            return Err(VerifyFailure::Probe);
        }
        if signature_b64.is_empty() {
            return Err(VerifyFailure::Missing);
        }
        let sig = B64
            .decode(signature_b64)
            .map_err(|_| VerifyFailure::BadSignature)?;
        self.key
            .verify_sig(message, &sig)
            .map_err(|_| VerifyFailure::BadSignature)
    }
}

/// The message a response or notification signature covers: `TIMESTAMP\nNONCE\nBODY\n`
/// (an empty body gives `TIMESTAMP\nNONCE\n\n`). Always the raw body bytes, never re-serialised.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(nonce.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// The four `Wechatpay-*` headers of a signed response or notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
}

impl SignedHeaders {
    /// Reads the headers through `get` (which must compare names case-insensitively).
    /// Any of the four missing or empty gives [`VerifyFailure::Missing`].
    pub fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, VerifyFailure> {
        let read = |name: &str| {
            get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(SignedHeaders {
            timestamp: read("Wechatpay-Timestamp").ok_or(VerifyFailure::Missing)?,
            nonce: read("Wechatpay-Nonce").ok_or(VerifyFailure::Missing)?,
            signature: read("Wechatpay-Signature").ok_or(VerifyFailure::Missing)?,
            serial: read("Wechatpay-Serial").ok_or(VerifyFailure::Missing)?,
        })
    }

    pub fn is_probe(&self) -> bool {
        self.signature.starts_with(PROBE_PREFIX)
    }

    /// The message these headers sign for `body`.
    pub fn message(&self, body: &[u8]) -> Vec<u8> {
        response_message(&self.timestamp, &self.nonce, body)
    }
}

/// Refuses a timestamp that is not decimal seconds or is [`MAX_SKEW_SECONDS`] or more from
/// `now` in either direction (the official SDKs' boundary).
pub fn check_timestamp(timestamp: &str, now_unix: i64) -> Result<(), VerifyFailure> {
    let ts = parse_unix_seconds(timestamp).ok_or(VerifyFailure::StaleTimestamp)?;
    if (now_unix - ts).abs() >= MAX_SKEW_SECONDS {
        return Err(VerifyFailure::StaleTimestamp);
    }
    Ok(())
}
