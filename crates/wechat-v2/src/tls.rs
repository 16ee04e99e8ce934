//! The merchant API client certificate for `/secapi` (mutual TLS), as a PEM identity.
//!
//! WeChat gives merchants `apiclient_cert.pem` + `apiclient_key.pem` and `apiclient_cert.p12`
//! (PKCS#12, password = mch_id). reqwest with rustls only takes PEM (`Identity::from_pem`), so
//! a `.p12` is opened here in pure Rust (p12-keystore) and re-encoded as PEM. Both paths end in
//! the same check rustls itself makes: the private key's public half must be the leaf
//! certificate's, so a mismatched pair fails at validation, not at the first refund.
//!
//! Nothing here logs or formats key material; errors name the field and the reason only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use secrecy::SecretSlice;

/// Why a certificate or key cannot be used; `field` names the credentials field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct CredentialsError {
    pub field: &'static str,
    pub reason: String,
}

impl CredentialsError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        CredentialsError {
            field,
            reason: reason.into(),
        }
    }
}

/// A client identity as PEM (private key, then the certificate chain), ready for reqwest.
#[derive(Clone)]
pub struct IdentityPem(SecretSlice<u8>);

impl IdentityPem {
    pub(crate) fn bytes(&self) -> &[u8] {
        use secrecy::ExposeSecret;
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for IdentityPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityPem([redacted])")
    }
}

/// Checks that `key` belongs to the first certificate and encodes the identity as PEM.
fn identity(
    key_field: &'static str,
    cert_field: &'static str,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<IdentityPem, CredentialsError> {
    if certs.is_empty() {
        return Err(CredentialsError::new(cert_field, "contains no certificate"));
    }
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).map_err(|_| {
        CredentialsError::new(key_field, "is not a usable RSA or ECDSA private key")
    })?;
    CertifiedKey::new(certs.clone(), signing)
        .keys_match()
        .map_err(|_| CredentialsError::new(key_field, "does not match the certificate"))?;

    let key_tag = match &key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    let mut out = pem::encode(&pem::Pem::new(key_tag, key.secret_der().to_vec()));
    for c in &certs {
        out.push_str(&pem::encode(&pem::Pem::new(
            "CERTIFICATE",
            c.as_ref().to_vec(),
        )));
    }
    // Prove reqwest accepts it now, rather than at the first refund.
    reqwest::Identity::from_pem(out.as_bytes()).map_err(|_| {
        CredentialsError::new(key_field, "is not accepted as a TLS client identity")
    })?;
    Ok(IdentityPem(SecretSlice::from(out.into_bytes())))
}

/// The identity from `apiclient_cert.pem` + `apiclient_key.pem`.
pub fn identity_from_pem(cert_pem: &str, key_pem: &str) -> Result<IdentityPem, CredentialsError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| CredentialsError::new("client_cert_pem", "is not PEM"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
        CredentialsError::new("client_key_pem", "holds no unencrypted PEM private key")
    })?;
    identity("client_key_pem", "client_cert_pem", certs, key)
}

/// The identity from a base64 `apiclient_cert.p12` opened with the mch_id as password.
pub fn identity_from_pkcs12(
    p12_base64: &str,
    mch_id: &str,
) -> Result<IdentityPem, CredentialsError> {
    const FIELD: &str = "pkcs12_base64";
    let compact: String = p12_base64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(compact)
        .map_err(|_| CredentialsError::new(FIELD, "is not base64"))?;
    let store = KeyStore::from_pkcs12(&der, mch_id, Pkcs12ImportPolicy::Strict).map_err(|e| {
        use p12_keystore::error::Error as E;
        let reason = match e {
            E::MacError(_) | E::UnpadError => "cannot be opened with the mch_id as password",
            E::UnsupportedEncryptionScheme | E::UnsupportedMacAlgorithm => {
                "uses an encryption scheme this build cannot read; \
                 provide apiclient_cert.pem and apiclient_key.pem instead"
            }
            _ => "is not a readable PKCS#12 file",
        };
        CredentialsError::new(FIELD, reason)
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| CredentialsError::new(FIELD, "holds no private key with its certificate"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    identity(FIELD, FIELD, certs, key)
}
