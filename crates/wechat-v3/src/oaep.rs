//! RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) for sensitive fields (敏感信息加密).
//!
//! Encrypt with the platform key (certificate or WeChat Pay public key) and send the key's id in
//! `Wechatpay-Serial`; WeChat encrypts sensitive response fields to the merchant key, which
//! [`decrypt`] reverses. Output is randomised, so only decryption has a known-answer vector.

use std::fmt;

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::cert::parse_certificate_pem;
use crate::pemfile::{KeyError, first_block};
use crate::sign::RsaSigner;

/// Why an OAEP operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OaepError {
    #[error("the plaintext is too long for one RSA-OAEP block")]
    TooLong,
    #[error("the ciphertext is not valid base64")]
    Base64,
    #[error("RSA-OAEP operation failed (wrong key or corrupted ciphertext)")]
    Failed,
}

/// A platform public key for encrypting, with the id WeChat must be told
/// (`Wechatpay-Serial`: a certificate serial or a `PUB_KEY_ID_…`).
pub struct OaepPublicKey {
    key: OaepPublicEncryptingKey,
}

impl fmt::Debug for OaepPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OaepPublicKey")
    }
}

impl OaepPublicKey {
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let key =
            PublicEncryptingKey::from_der(der).map_err(|e| KeyError::Rejected(e.to_string()))?;
        OaepPublicEncryptingKey::new(key)
            .map(|key| OaepPublicKey { key })
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    /// From a `-----BEGIN PUBLIC KEY-----` PEM (the WeChat Pay public key).
    pub fn from_public_key_pem(pem: &str) -> Result<Self, KeyError> {
        let block = first_block(pem)?;
        if block.label != "PUBLIC KEY" {
            return Err(KeyError::WrongLabel {
                expected: "PUBLIC KEY",
                found: block.label,
            });
        }
        Self::from_spki_der(&block.der)
    }

    /// From a platform certificate PEM.
    pub fn from_certificate_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_spki_der(&parse_certificate_pem(pem)?.spki_der)
    }
}

/// The merchant private key for decrypting sensitive fields WeChat returns.
pub struct OaepPrivateKey {
    key: OaepPrivateDecryptingKey,
}

impl fmt::Debug for OaepPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OaepPrivateKey([redacted])")
    }
}

impl OaepPrivateKey {
    /// From a PKCS#8 (or PKCS#1) private key PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_signer(&RsaSigner::from_pkcs8_pem(pem)?)
    }

    /// The same key as a request signer (re-encoded as PKCS#8, so PKCS#1 input works too).
    pub fn from_signer(signer: &RsaSigner) -> Result<Self, KeyError> {
        let der = signer
            .pkcs8_der()
            .ok_or_else(|| KeyError::Rejected("cannot re-encode the key".to_owned()))?;
        let key = PrivateDecryptingKey::from_pkcs8(&der)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        OaepPrivateDecryptingKey::new(key)
            .map(|key| OaepPrivateKey { key })
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }
}

/// `base64(RSAES-OAEP-SHA1(public_key, plaintext))`.
pub fn encrypt(public_key: &OaepPublicKey, plaintext: &[u8]) -> Result<String, OaepError> {
    if plaintext.len() > public_key.key.max_plaintext_size(&OAEP_SHA1_MGF1SHA1) {
        return Err(OaepError::TooLong);
    }
    let mut out = vec![0u8; public_key.key.ciphertext_size()];
    let sealed = public_key
        .key
        .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
        .map_err(|_| OaepError::Failed)?;
    Ok(B64.encode(sealed))
}

/// Decrypts a base64 RSAES-OAEP-SHA1 ciphertext with the merchant private key.
pub fn decrypt(private_key: &OaepPrivateKey, ciphertext_b64: &str) -> Result<Vec<u8>, OaepError> {
    let ciphertext = B64
        .decode(ciphertext_b64.trim())
        .map_err(|_| OaepError::Base64)?;
    let mut out = vec![0u8; private_key.key.min_output_size()];
    let plain = private_key
        .key
        .decrypt(&OAEP_SHA1_MGF1SHA1, &ciphertext, &mut out, None)
        .map_err(|_| OaepError::Failed)?;
    Ok(plain.to_vec())
}
