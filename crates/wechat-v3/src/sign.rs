//! Request signing: the `Authorization: WECHATPAY2-SHA256-RSA2048 …` header and RSA signatures.
//!
//! [`RsaSigner`] is the one seam to the RSA implementation (aws-lc-rs, PKCS#1 v1.5 with SHA-256,
//! which is deterministic: the same key and message always give the same bytes, so fixtures can
//! pin signatures exactly). The message formats are pure functions the simulator shares.
//!
//! Never log a signer, a private key or a full signing message (it holds the request body).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::pemfile::{KeyError, first_block};

/// The v3 signature scheme, the first word of the `Authorization` header.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// A merchant (or, in the simulator, platform) RSA private key that signs with SHA256-with-RSA.
pub struct RsaSigner {
    key: KeyPair,
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaSigner([redacted])")
    }
}

/// Signing itself failed inside the crypto library (not expected with a validated key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RSA signing failed")]
pub struct SignError;

impl RsaSigner {
    /// Parses a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM, as WeChat's `apiclient_key.pem`.
    /// A `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1) PEM is accepted too.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let block = first_block(pem)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&block.der),
            other => Err(KeyError::WrongLabel {
                expected: "PRIVATE KEY (or RSA PRIVATE KEY)",
                found: other.to_owned(),
            }),
        }
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        KeyPair::from_pkcs8(der)
            .map(|key| RsaSigner { key })
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        KeyPair::from_der(der)
            .map(|key| RsaSigner { key })
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    /// `base64(RSASSA-PKCS1-v1_5-SHA256(key, message))`, or the reason signing failed.
    pub fn try_sign(&self, message: &[u8]) -> Result<String, SignError> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        // aws-lc-rs ignores the RNG for RSA (PKCS#1 v1.5 signing is deterministic).
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
            .map_err(|_| SignError)?;
        Ok(B64.encode(sig))
    }

    /// Like [`try_sign`](Self::try_sign) for callers that cannot handle the (not expected)
    /// library failure: it then returns an empty string, which no verifier accepts, so the
    /// failure stays closed. The provider itself uses `try_sign`.
    pub fn sign(&self, message: &[u8]) -> String {
        self.try_sign(message).unwrap_or_else(|_| {
            tracing::error!("RSA signing failed inside aws-lc-rs");
            String::new()
        })
    }

    /// The public key as a PKCS#1 `RSAPublicKey` DER (the bit string inside an SPKI).
    pub fn public_key_pkcs1_der(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The private key as PKCS#8 DER, for the OAEP decryptor built from the same key.
    pub(crate) fn pkcs8_der(&self) -> Option<Vec<u8>> {
        self.key.as_der().ok().map(|d| d.as_ref().to_vec())
    }
}

/// The five-line message a v3 request signature covers:
/// `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n` (body empty for GET).
///
/// `canonical_url` is the path plus `?query` exactly as sent; `timestamp` is the decimal unix
/// seconds as written in the header.
pub fn signature_message(
    method: &str,
    canonical_url: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        method.len() + canonical_url.len() + timestamp.len() + nonce.len() + body.len() + 5,
    );
    for part in [
        method.as_bytes(),
        canonical_url.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        m.extend_from_slice(part);
        m.push(b'\n');
    }
    m
}

/// The parameters of an `Authorization: WECHATPAY2-SHA256-RSA2048 …` header, as written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParams {
    pub mchid: String,
    pub nonce_str: String,
    /// base64 signature over [`signature_message`].
    pub signature: String,
    /// Decimal unix seconds, verbatim (it is signed as text).
    pub timestamp: String,
    /// The merchant certificate serial (uppercase hex).
    pub serial_no: String,
}

impl AuthorizationParams {
    /// The timestamp as unix seconds, if it is a plain decimal number.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        parse_unix_seconds(&self.timestamp)
    }
}

/// Decimal digits only (no sign, no spaces), as WeChat writes timestamps.
pub(crate) fn parse_unix_seconds(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Formats the header value: `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
/// timestamp="…",serial_no="…"` (the order of the official page; WeChat accepts any order).
pub fn authorization_header(p: &AuthorizationParams) -> String {
    format!(
        "{SCHEME} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
        p.mchid, p.nonce_str, p.signature, p.timestamp, p.serial_no
    )
}

/// Why an `Authorization` header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    #[error("the scheme is not {SCHEME}")]
    Scheme,
    #[error("malformed parameter list")]
    Syntax,
    #[error("parameter {0} is missing")]
    Missing(&'static str),
    #[error("parameter {0} appears twice")]
    Duplicate(String),
}

/// Parses an `Authorization` header value; parameters may come in any order, unknown ones are
/// ignored, each known one must appear exactly once.
pub fn parse_authorization(header: &str) -> Result<AuthorizationParams, AuthorizationError> {
    let rest = header
        .trim()
        .strip_prefix(SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or(AuthorizationError::Scheme)?;
    let mut fields: [(&'static str, Option<String>); 5] = [
        ("mchid", None),
        ("nonce_str", None),
        ("signature", None),
        ("timestamp", None),
        ("serial_no", None),
    ];
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let (name, after) = s.split_once('=').ok_or(AuthorizationError::Syntax)?;
        let name = name.trim();
        let after = after.strip_prefix('"').ok_or(AuthorizationError::Syntax)?;
        // Values never contain quotes (base64, hex, digits, the nonce alphabet).
        let (value, after) = after.split_once('"').ok_or(AuthorizationError::Syntax)?;
        if let Some(slot) = fields.iter_mut().find(|(n, _)| *n == name) {
            if slot.1.is_some() {
                return Err(AuthorizationError::Duplicate(name.to_owned()));
            }
            slot.1 = Some(value.to_owned());
        }
        let after = after.trim_start();
        s = match after.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if after.is_empty() => after,
            None => return Err(AuthorizationError::Syntax),
        };
    }
    let [mchid, nonce_str, signature, timestamp, serial_no] =
        fields.map(|(name, v)| v.ok_or(AuthorizationError::Missing(name)));
    Ok(AuthorizationParams {
        mchid: mchid?,
        nonce_str: nonce_str?,
        signature: signature?,
        timestamp: timestamp?,
        serial_no: serial_no?,
    })
}

/// The merchant's request-signing identity: mchid, certificate serial and private key.
#[derive(Debug)]
pub struct MerchantSigner {
    pub mchid: String,
    pub serial_no: String,
    pub signer: RsaSigner,
}

impl MerchantSigner {
    /// The `Authorization` header value for one request.
    pub fn authorization(
        &self,
        method: &str,
        canonical_url: &str,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
    ) -> Result<String, SignError> {
        let message = signature_message(method, canonical_url, timestamp, nonce, body);
        let signature = self.signer.try_sign(&message)?;
        Ok(authorization_header(&AuthorizationParams {
            mchid: self.mchid.clone(),
            nonce_str: nonce.to_owned(),
            signature,
            timestamp: timestamp.to_owned(),
            serial_no: self.serial_no.clone(),
        }))
    }
}

/// The message of a v3 `wx.requestPayment` `paySign`:
/// `appId\ntimeStamp\nnonceStr\npackage\n` (`package` = `prepay_id=…`).
pub fn pay_sign_message(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> Vec<u8> {
    format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n").into_bytes()
}
