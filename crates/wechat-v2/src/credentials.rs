//! A v2 channel's credentials: the JSON document the registry passes as
//! `ChannelSpec.credentials`, and its validation.
//!
//! ```json
//! { "mch_id": "1230000109", "appid": "wxd678efh567hg6787",
//!   "api_key": "<32 characters>", "sign_type": "MD5",
//!   "client_cert_pem": "-----BEGIN CERTIFICATE-----…", "client_key_pem": "-----BEGIN PRIVATE KEY-----…",
//!   "pkcs12_base64": "MIIK…" }
//! ```
//!
//! `appid` is the mini-program bound to the merchant: v2 orderquery/closeorder/refund need one
//! and the provider trait passes none for them. The client certificate is optional (without it
//! refunds fail with a typed error); the PEM pair wins when both forms are given, and both are
//! validated. Secrets stay in `SecretString`s: `Debug` shows none of them and there is no
//! `Serialize` — [`V2Credentials::to_json`] is the one deliberate way out.

use std::fmt;

use paygate_core::{AppId, MchId};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::sign::{ApiKey, SignType};
use crate::tls::{self, CredentialsError, IdentityPem};

/// The APIv2 key is exactly 32 characters (merchant portal rule).
pub const API_KEY_LEN: usize = 32;

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.filter(|s| !s.is_empty()).map(SecretString::from))
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.filter(|s| !s.is_empty()))
}

/// The credentials document of a `wechat-v2` channel.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V2Credentials {
    pub mch_id: MchId,
    pub appid: AppId,
    #[serde(deserialize_with = "secret")]
    pub api_key: SecretString,
    #[serde(default)]
    pub sign_type: SignType,
    #[serde(default, deserialize_with = "opt_string")]
    pub client_cert_pem: Option<String>,
    #[serde(default, deserialize_with = "opt_secret")]
    pub client_key_pem: Option<SecretString>,
    #[serde(default, deserialize_with = "opt_secret")]
    pub pkcs12_base64: Option<SecretString>,
}

impl fmt::Debug for V2Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |present: bool| if present { "[redacted]" } else { "None" };
        f.debug_struct("V2Credentials")
            .field("mch_id", &self.mch_id)
            .field("appid", &self.appid)
            .field("api_key", &"[redacted]")
            .field("sign_type", &self.sign_type)
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(|_| "[certificate]"),
            )
            .field("client_key_pem", &shown(self.client_key_pem.is_some()))
            .field("pkcs12_base64", &shown(self.pkcs12_base64.is_some()))
            .finish()
    }
}

/// Credentials that passed [`validate`]: what a provider is built from.
#[derive(Debug, Clone)]
pub struct ValidCredentials {
    pub mch_id: MchId,
    pub appid: AppId,
    pub api_key: ApiKey,
    pub sign_type: SignType,
    /// The mutual-TLS identity for `/secapi`, if a certificate was given.
    pub identity: Option<IdentityPem>,
}

impl V2Credentials {
    /// Parses the JSON document. Error messages never quote values (they may be secrets).
    pub fn from_json(json: &str) -> Result<Self, CredentialsError> {
        serde_json::from_str(json).map_err(|e| {
            let msg = e.to_string();
            let reason = if msg.starts_with("unknown field") || msg.starts_with("missing field") {
                msg
            } else {
                format!(
                    "is not a valid v2 credentials document (line {}, column {})",
                    e.line(),
                    e.column()
                )
            };
            CredentialsError::new("credentials", reason)
        })
    }

    /// The JSON document, for storing (encrypted) by the admin side.
    pub fn to_json(&self) -> SecretString {
        let mut doc = serde_json::Map::new();
        doc.insert("mch_id".into(), self.mch_id.as_str().into());
        doc.insert("appid".into(), self.appid.as_str().into());
        doc.insert("api_key".into(), self.api_key.expose_secret().into());
        doc.insert("sign_type".into(), self.sign_type.as_str().into());
        if let Some(c) = &self.client_cert_pem {
            doc.insert("client_cert_pem".into(), c.as_str().into());
        }
        if let Some(k) = &self.client_key_pem {
            doc.insert("client_key_pem".into(), k.expose_secret().into());
        }
        if let Some(p) = &self.pkcs12_base64 {
            doc.insert("pkcs12_base64".into(), p.expose_secret().into());
        }
        SecretString::from(serde_json::Value::Object(doc).to_string())
    }

    /// See [`validate`].
    pub fn validate(&self) -> Result<ValidCredentials, CredentialsError> {
        validate(self)
    }
}

/// Checks everything that can be checked offline; the error names the failing field.
///
/// - `api_key`: exactly 32 printable ASCII characters;
/// - `client_cert_pem` / `client_key_pem`: both or neither; the key opens and matches the
///   certificate;
/// - `pkcs12_base64`: opens with the mch_id as password and holds a matching key + certificate.
pub fn validate(c: &V2Credentials) -> Result<ValidCredentials, CredentialsError> {
    let key = c.api_key.expose_secret();
    if key.chars().count() != API_KEY_LEN {
        return Err(CredentialsError::new(
            "api_key",
            format!("must be exactly {API_KEY_LEN} characters"),
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CredentialsError::new(
            "api_key",
            "must be printable ASCII without spaces",
        ));
    }
    let pem = match (&c.client_cert_pem, &c.client_key_pem) {
        (Some(cert), Some(k)) => Some(tls::identity_from_pem(cert, k.expose_secret())?),
        (Some(_), None) => {
            return Err(CredentialsError::new(
                "client_key_pem",
                "is required with client_cert_pem",
            ));
        }
        (None, Some(_)) => {
            return Err(CredentialsError::new(
                "client_cert_pem",
                "is required with client_key_pem",
            ));
        }
        (None, None) => None,
    };
    let p12 = match &c.pkcs12_base64 {
        Some(p) => Some(tls::identity_from_pkcs12(
            p.expose_secret(),
            c.mch_id.as_str(),
        )?),
        None => None,
    };
    Ok(ValidCredentials {
        mch_id: c.mch_id.clone(),
        appid: c.appid.clone(),
        api_key: ApiKey::from(c.api_key.clone()),
        sign_type: c.sign_type,
        identity: pem.or(p12),
    })
}

/// Parses and validates a credentials document in one step (for the admin API).
pub fn validate_json(json: &str) -> Result<ValidCredentials, CredentialsError> {
    validate(&V2Credentials::from_json(json)?)
}

/// The registry's validator for `wechat-v2` channels (see [`validate`]).
pub fn credentials_validator() -> paygate_core::CredentialsValidator {
    std::sync::Arc::new(|doc: &SecretString| {
        let fault = |e: CredentialsError| paygate_core::CredentialsFault {
            field: e.field.to_owned(),
            message: e.reason,
        };
        let valid = validate_json(doc.expose_secret()).map_err(fault)?;
        Ok(paygate_core::CredentialsSummary {
            mch_id: valid.mch_id,
            appid: Some(valid.appid),
            merchant_serial: None,
            certificate_not_after: None,
        })
    })
}
