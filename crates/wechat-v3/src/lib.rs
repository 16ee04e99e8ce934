//! # paygate-wechat-v3 — WeChat Pay API v3 behind [`paygate_core::Provider`]
//!
//! JSON bodies, SHA256-with-RSA request signatures (aws-lc-rs), responses and notifications
//! verified with platform certificates or the WeChat Pay public key, AES-256-GCM resources.
//!
//! Layout:
//! - [`sign`]: the request signature message, the `Authorization` header, [`sign::RsaSigner`].
//! - [`verify`]: the response/notification message, [`verify::RsaVerifier`], skew and probe rules.
//! - [`aead`]: AES-256-GCM with the APIv3 key (notification resources, certificate downloads).
//! - [`oaep`]: RSA-OAEP-SHA1 for sensitive fields.
//! - [`cert`]: X.509 parsing (serial, public key, validity).
//! - [`credentials`]: the channel's credentials document and its validation (admin side).
//! - [`keys`]: which key verifies a `Wechatpay-Serial`; certificate refresh policy.
//! - [`wire`]: JSON request/response types; [`errors`]: `{code, message}` → `ProviderError`.
//! - [`client`]: the reqwest client (the only I/O); [`notify`]: notification decoding and reply.
//! - [`provider`]: [`WechatV3Provider`] and the registry [`constructor`].
//!
//! Signing, verification and decryption are pure functions tested with the known-answer vectors
//! of the protocol reference (`fixtures/wechatpay/test-vectors.json`); the only I/O is the
//! provider's reqwest client. This crate knows nothing of paygate's database or HTTP server, and
//! it never logs keys, signatures' messages or decrypted resources.

pub mod aead;
pub mod cert;
pub mod client;
pub mod credentials;
pub mod errors;
pub mod keys;
pub mod notify;
pub mod oaep;
mod pemfile;
pub mod provider;
pub mod sign;
pub mod verify;
pub mod wire;

pub use client::V3Config;
pub use credentials::{
    CredentialsError, V3Credentials, ValidatedCredentials, credentials_validator, validate,
};
pub use pemfile::KeyError;
pub use provider::{FixedNonce, NonceSource, RandomNonce, WechatV3Provider, constructor};
