//! AES-256-GCM for notification resources and `/v3/certificates` items (aws-lc-rs AEAD).
//!
//! The APIv3 key is used as its 32 raw ASCII bytes (no hex or base64 decoding); the nonce and the
//! associated data are the resource's strings as bytes; the ciphertext is base64 with the 16-byte
//! tag at the end. A 16-byte key (AES-128, as in some SDK tests) is refused, never "fixed".
//!
//! aws-lc-rs's AEAD is used rather than the `aes-gcm` crate so that this crate has a single
//! crypto library (it already signs with it); WeChat's nonces are always 12 bytes, which is all
//! it accepts. The key schedule is computed once per [`ApiV3Key`], not per message.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use paygate_core::VerifyFailure;

/// The only algorithm name WeChat uses for encrypted resources.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// A merchant's APIv3 key: exactly 32 bytes.
pub struct ApiV3Key {
    key: LessSafeKey,
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key([redacted])")
    }
}

/// Why an AES-GCM operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    #[error("the APIv3 key must be 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("the nonce must be 12 bytes, got {0}")]
    NonceLength(usize),
    #[error("the ciphertext is not valid base64")]
    Base64,
    #[error("authentication failed (wrong APIv3 key or tampered data)")]
    Authentication,
    #[error("AES-GCM encryption failed")]
    Seal,
}

impl From<AeadError> for VerifyFailure {
    fn from(_: AeadError) -> Self {
        VerifyFailure::Decrypt
    }
}

impl ApiV3Key {
    /// The key from its raw bytes (as the merchant portal shows it: 32 ASCII characters).
    pub fn new(raw: &[u8]) -> Result<Self, AeadError> {
        if raw.len() != 32 {
            return Err(AeadError::KeyLength(raw.len()));
        }
        let unbound =
            UnboundKey::new(&AES_256_GCM, raw).map_err(|_| AeadError::KeyLength(raw.len()))?;
        Ok(ApiV3Key {
            key: LessSafeKey::new(unbound),
        })
    }
}

fn nonce(bytes: &[u8]) -> Result<Nonce, AeadError> {
    if bytes.len() != NONCE_LEN {
        return Err(AeadError::NonceLength(bytes.len()));
    }
    Nonce::try_assume_unique_for_key(bytes).map_err(|_| AeadError::NonceLength(bytes.len()))
}

/// Decrypts a base64 `ciphertext‖tag` with the given nonce and associated data.
pub fn decrypt(
    key: &ApiV3Key,
    nonce_bytes: &[u8],
    aad: &[u8],
    ciphertext_b64: &str,
) -> Result<Vec<u8>, AeadError> {
    let nonce = nonce(nonce_bytes)?;
    let mut buf = B64
        .decode(ciphertext_b64.trim())
        .map_err(|_| AeadError::Base64)?;
    let plain_len = key
        .key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| AeadError::Authentication)?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

/// Encrypts `plaintext` to base64 `ciphertext‖tag`. The caller supplies a nonce never used
/// before with this key (the simulator uses 12 random alphanumerics, as WeChat does).
pub fn encrypt(
    key: &ApiV3Key,
    nonce_bytes: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<String, AeadError> {
    let nonce = nonce(nonce_bytes)?;
    let mut buf = plaintext.to_vec();
    key.key
        .seal_in_place_append_tag(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| AeadError::Seal)?;
    Ok(B64.encode(buf))
}
