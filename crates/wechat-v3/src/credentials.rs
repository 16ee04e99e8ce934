//! A v3 channel's credentials: the JSON document the registry passes as
//! `ChannelSpec.credentials`, and [`validate`], which the admin side calls before saving it.
//!
//! Validation proves everything that can be proven offline: the private key parses, the merchant
//! certificate carries the same public key (its serial then becomes `serial_no`), the APIv3 key
//! is 32 bytes, and at least one way to verify WeChat (platform certificates, or the WeChat Pay
//! public key with its `PUB_KEY_ID_…`) is present and parses. Each failure names its field.
//! Secrets never appear in `Debug` output or error messages.

use std::fmt;

use paygate_core::{MchId, ProviderError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use crate::KeyError;
use crate::aead::ApiV3Key;
use crate::cert::{CertificateInfo, parse_certificate_pem};
use crate::sign::RsaSigner;
use crate::verify::RsaVerifier;

/// The credentials document of a `wechat-v3` channel.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3Credentials {
    pub mchid: MchId,
    /// `apiclient_key.pem` (PKCS#8; PKCS#1 accepted).
    pub merchant_private_key_pem: SecretString,
    /// `apiclient_cert.pem`; the serial used in `Authorization` comes from it.
    pub merchant_certificate_pem: String,
    /// The APIv3 key: 32 ASCII characters.
    pub apiv3_key: SecretString,
    /// Platform certificates known at setup (more are downloaded and cached at run time).
    #[serde(default)]
    pub platform_certificates_pem: Vec<String>,
    /// The WeChat Pay public key (`-----BEGIN PUBLIC KEY-----`) …
    #[serde(default)]
    pub wechatpay_public_key_pem: Option<String>,
    /// … and its id, `PUB_KEY_ID_…`, which WeChat sends as `Wechatpay-Serial`.
    #[serde(default)]
    pub wechatpay_public_key_id: Option<String>,
}

impl fmt::Debug for V3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V3Credentials")
            .field("mchid", &self.mchid)
            .field("merchant_private_key_pem", &"[redacted]")
            .field("merchant_certificate_pem", &"[certificate]")
            .field("apiv3_key", &"[redacted]")
            .field(
                "platform_certificates",
                &self.platform_certificates_pem.len(),
            )
            .field("wechatpay_public_key_id", &self.wechatpay_public_key_id)
            .finish()
    }
}

impl Serialize for V3Credentials {
    /// Writes the same document back (for the admin side to store it encrypted); the secrets are
    /// exposed only into the serializer the caller chose.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("V3Credentials", 7)?;
        st.serialize_field("mchid", &self.mchid)?;
        st.serialize_field(
            "merchant_private_key_pem",
            self.merchant_private_key_pem.expose_secret(),
        )?;
        st.serialize_field("merchant_certificate_pem", &self.merchant_certificate_pem)?;
        st.serialize_field("apiv3_key", self.apiv3_key.expose_secret())?;
        st.serialize_field("platform_certificates_pem", &self.platform_certificates_pem)?;
        st.serialize_field("wechatpay_public_key_pem", &self.wechatpay_public_key_pem)?;
        st.serialize_field("wechatpay_public_key_id", &self.wechatpay_public_key_id)?;
        st.end()
    }
}

impl V3Credentials {
    /// Parses the JSON document (the registry's decrypted `ChannelSpec.credentials`).
    pub fn from_json(json: &str) -> Result<Self, CredentialsError> {
        // serde_json's message names the field and position, never the value.
        serde_json::from_str(json).map_err(|e| CredentialsError::Document(e.to_string()))
    }
}

/// Why credentials cannot be used; each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("the credentials document is not valid: {0}")]
    Document(String),
    #[error("merchant_private_key_pem: {0}")]
    PrivateKey(KeyError),
    #[error("merchant_certificate_pem: {0}")]
    MerchantCertificate(KeyError),
    #[error(
        "merchant_certificate_pem: the certificate's public key does not match merchant_private_key_pem"
    )]
    CertificateKeyMismatch,
    #[error("apiv3_key: must be exactly 32 bytes, got {0}")]
    ApiV3KeyLength(usize),
    #[error("platform_certificates_pem[{index}]: {error}")]
    PlatformCertificate { index: usize, error: KeyError },
    #[error("wechatpay_public_key_pem: {0}")]
    PublicKey(KeyError),
    #[error("wechatpay_public_key_id: {0}")]
    PublicKeyId(&'static str),
    #[error(
        "platform_certificates_pem / wechatpay_public_key_pem: give at least one platform \
         certificate or the WeChat Pay public key with its id"
    )]
    NoVerificationKey,
}

impl CredentialsError {
    /// The JSON field at fault, for forms that highlight it.
    pub fn field(&self) -> &'static str {
        match self {
            CredentialsError::Document(_) => "credentials",
            CredentialsError::PrivateKey(_) => "merchant_private_key_pem",
            CredentialsError::MerchantCertificate(_) | CredentialsError::CertificateKeyMismatch => {
                "merchant_certificate_pem"
            }
            CredentialsError::ApiV3KeyLength(_) => "apiv3_key",
            CredentialsError::PlatformCertificate { .. } => "platform_certificates_pem",
            CredentialsError::PublicKey(_) => "wechatpay_public_key_pem",
            CredentialsError::PublicKeyId(_) => "wechatpay_public_key_id",
            CredentialsError::NoVerificationKey => "platform_certificates_pem",
        }
    }
}

impl From<CredentialsError> for ProviderError {
    fn from(e: CredentialsError) -> Self {
        ProviderError::Credentials(e.to_string())
    }
}

/// The WeChat Pay public key with its id.
pub struct PublicKeyEntry {
    pub id: String,
    pub verifier: RsaVerifier,
    pub spki_pem: String,
}

impl fmt::Debug for PublicKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeyEntry")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Credentials that passed [`validate`], parsed and ready to use.
#[derive(Debug)]
pub struct ValidatedCredentials {
    pub mchid: MchId,
    pub signer: RsaSigner,
    /// The merchant certificate serial (uppercase hex): `serial_no` of every request.
    pub merchant_serial: String,
    /// When the merchant certificate expires (for the admin side's expiry alerts).
    pub merchant_certificate_not_after: OffsetDateTime,
    pub apiv3_key: ApiV3Key,
    pub platform_certificates: Vec<(CertificateInfo, RsaVerifier)>,
    pub public_key: Option<PublicKeyEntry>,
}

/// Checks and parses credentials; see the module documentation for the rules.
pub fn validate(c: &V3Credentials) -> Result<ValidatedCredentials, CredentialsError> {
    let signer = RsaSigner::from_pkcs8_pem(c.merchant_private_key_pem.expose_secret())
        .map_err(CredentialsError::PrivateKey)?;
    let merchant_cert = parse_certificate_pem(&c.merchant_certificate_pem)
        .map_err(CredentialsError::MerchantCertificate)?;
    if merchant_cert.rsa_public_key_der != signer.public_key_pkcs1_der() {
        return Err(CredentialsError::CertificateKeyMismatch);
    }
    let key_bytes = c.apiv3_key.expose_secret().as_bytes();
    let apiv3_key =
        ApiV3Key::new(key_bytes).map_err(|_| CredentialsError::ApiV3KeyLength(key_bytes.len()))?;

    let mut platform_certificates = Vec::with_capacity(c.platform_certificates_pem.len());
    for (index, pem) in c.platform_certificates_pem.iter().enumerate() {
        let bad = |error| CredentialsError::PlatformCertificate { index, error };
        let info = parse_certificate_pem(pem).map_err(bad)?;
        let verifier = RsaVerifier::from_der(&info.spki_der).map_err(bad)?;
        platform_certificates.push((info, verifier));
    }

    let public_key = match (&c.wechatpay_public_key_pem, &c.wechatpay_public_key_id) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(CredentialsError::PublicKeyId(
                "missing (the key needs its id)",
            ));
        }
        (None, Some(_)) => {
            return Err(CredentialsError::PublicKey(KeyError::Pem(
                "missing (the id needs its key)".to_owned(),
            )));
        }
        (Some(pem), Some(id)) => {
            if !is_public_key_id(id) {
                return Err(CredentialsError::PublicKeyId(
                    "must look like PUB_KEY_ID_ followed by digits",
                ));
            }
            let verifier =
                RsaVerifier::from_public_key_pem(pem).map_err(CredentialsError::PublicKey)?;
            Some(PublicKeyEntry {
                id: id.clone(),
                verifier,
                spki_pem: pem.clone(),
            })
        }
    };
    if platform_certificates.is_empty() && public_key.is_none() {
        return Err(CredentialsError::NoVerificationKey);
    }
    Ok(ValidatedCredentials {
        mchid: c.mchid.clone(),
        signer,
        merchant_serial: merchant_cert.serial,
        merchant_certificate_not_after: merchant_cert.not_after,
        apiv3_key,
        platform_certificates,
        public_key,
    })
}

fn is_public_key_id(id: &str) -> bool {
    id.strip_prefix("PUB_KEY_ID_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The registry's validator for `wechat-v3` channels (see [`validate`]).
pub fn credentials_validator() -> paygate_core::CredentialsValidator {
    std::sync::Arc::new(|doc: &SecretString| {
        let fault = |e: CredentialsError| {
            let field = e.field();
            let text = e.to_string();
            let message = text
                .strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&text)
                .to_owned();
            paygate_core::CredentialsFault {
                field: field.to_owned(),
                message,
            }
        };
        let valid = V3Credentials::from_json(doc.expose_secret())
            .and_then(|c| validate(&c))
            .map_err(fault)?;
        Ok(paygate_core::CredentialsSummary {
            mch_id: valid.mchid,
            appid: None,
            merchant_serial: Some(valid.merchant_serial),
            certificate_not_after: Some(valid.merchant_certificate_not_after),
        })
    })
}
