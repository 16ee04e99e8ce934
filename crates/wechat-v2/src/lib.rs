//! # paygate-wechat-v2 — WeChat Pay API v2 behind [`paygate_core::Provider`]
//!
//! XML bodies signed with the merchant's APIv2 key (MD5 or HMAC-SHA256), mutual TLS with the
//! merchant certificate for refunds, AES-256-ECB encrypted refund notifications.
//!
//! Layout (pure modules first; only [`client`] does I/O):
//!
//! - [`sign`]: the v2 signature ([`sign::sign`], [`sign::verify`]), [`sign::SignType`], [`sign::ApiKey`].
//! - [`xml`]: the flat XML codec ([`xml::encode`], [`xml::decode`]) with its XXE and size rules.
//! - [`pay_sign`]: the signed `wx.requestPayment` fields.
//! - [`refund_notify`]: `req_info` decryption (and encryption, for the simulator).
//! - [`wire`]: request/response field mapping per endpoint; [`errors`]: `err_code` → [`paygate_core::ProviderError`].
//! - [`notify`]: payment/refund notification verification, normalisation and the reply XML.
//! - [`credentials`] + [`tls`]: the channel's credentials document, its validation, the client identity.
//! - [`client`]: reqwest clients (plain and mutual-TLS) and [`V2Config`];
//!   [`provider`]: [`WechatV2Provider`] and the registry [`constructor`].
//!
//! Signing and the XML mapping are pure functions tested with the known-answer vectors of the
//! protocol reference (`fixtures/wechatpay/test-vectors.json`). This crate knows nothing of
//! paygate's database or HTTP server, must never resolve XML entities or DTDs, and never logs
//! a key, a body or a signature input.

pub mod client;
pub mod credentials;
pub mod errors;
pub mod notify;
pub mod pay_sign;
pub mod provider;
pub mod refund_notify;
pub mod sign;
pub mod tls;
pub mod wire;
pub mod xml;

pub use client::V2Config;
pub use credentials::{V2Credentials, ValidCredentials, credentials_validator, validate};
pub use provider::{WechatV2Provider, constructor, constructor_with_clock};
pub use tls::CredentialsError;
