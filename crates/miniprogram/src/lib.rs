//! # paygate-miniprogram — client for WeChat's mini-program server APIs
//!
//! paygate logs mini-program users in, draws mini-program codes and reads phone numbers on behalf
//! of many tenants' apps. This crate is the HTTP client for those `api.weixin.qq.com` calls:
//!
//! - [`login`]: `jscode2session` — a `wx.login` code → openid, unionid, session key.
//! - [`token`]: access tokens from `stable_token` (default) or the classic `token` API, cached per
//!   app with single-flight refresh ahead of expiry, and one refresh + retry when an API says the
//!   token is dead (40001/42001).
//! - [`wxacode`]: `getwxacodeunlimit` with scene/page/width checked before anything is sent.
//! - [`phone`]: `getuserphonenumber`, with the watermark's appid checked.
//! - [`crypto`]: `encryptedData` decryption (AES-128-CBC), pure.
//! - [`error`]: [`MiniProgramError`], WeChat's `errcode`s as typed variants with stable codes.
//! - `http` (private): the one place that does I/O; no URL (secrets ride in query strings)
//!   ever reaches an error or a log line.
//!
//! ## Multi-tenant design
//!
//! One [`MiniProgramClient`] serves every app. It stores no credentials: each call takes an
//! [`AppCredentials`] (appid + AppSecret, read by the caller from the tenant's configuration), so
//! there is no registry to keep in sync and a rotated secret takes effect on the next call. The
//! only per-app state is the token cache, keyed by appid and a SHA-256 digest of the secret.
//!
//! ```no_run
//! # async fn demo() -> Result<(), paygate_miniprogram::MiniProgramError> {
//! use paygate_miniprogram::{AppCredentials, MiniProgramClient, MiniProgramConfig, WxaCodeRequest};
//! let client = MiniProgramClient::new(MiniProgramConfig::default())?;
//! let app = AppCredentials::new("wx1234567890abcdef".parse().expect("appid"), "app-secret");
//! let session = client.jscode2session(&app, "code-from-wx-login").await?;
//! let code = client
//!     .get_unlimited_wxacode(&app, &WxaCodeRequest::new("order=42").page("pages/pay/index"))
//!     .await?;
//! # let _ = (session, code); Ok(()) }
//! ```
//!
//! This crate must never log or put into an error: an AppSecret, a session key, an access token,
//! a URL carrying one of them, an openid, a phone number or a raw response body. It never talks
//! to anything but the configured base URL.

// Tests may unwrap: a panic there is a failed assertion, not a crash in a request path.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod client;
pub mod config;
pub mod crypto;
pub mod error;
mod http;
pub mod login;
pub mod phone;
pub mod token;
pub mod types;
pub mod wxacode;

pub use client::MiniProgramClient;
pub use config::{DEFAULT_BASE_URL, MiniProgramConfig, TokenMode};
pub use crypto::decrypt_encrypted_data;
pub use error::{Api, MiniProgramError};
pub use types::{AccessToken, AppCredentials, PhoneInfo, Session, UnionId};
pub use wxacode::{EnvVersion, ImageFormat, LineColor, WxaCode, WxaCodeRequest};
