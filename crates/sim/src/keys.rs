//! Key material: the merchant certificate a test registers, and the platform key, certificate
//! and WeChat Pay public key the simulator generates for each merchant (as WeChat gives every
//! merchant its own).
//!
//! Signing and verification go through `paygate-wechat-v3`'s pure functions; this module only
//! generates and parses keys. Private keys never appear in `Debug` output.

use paygate_wechat_v3::cert::parse_certificate_pem;
use paygate_wechat_v3::sign::RsaSigner;
use paygate_wechat_v3::verify::RsaVerifier;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_RSA_SHA256, PublicKeyData,
    SerialNumber,
};
use time::OffsetDateTime;

use crate::error::SimError;

/// What the simulator keeps of a merchant's API certificate.
#[derive(Debug)]
pub struct MerchantKeys {
    pub cert_pem: String,
    /// The certificate DER, matched byte for byte during the mutual-TLS handshake.
    pub cert_der: Vec<u8>,
    /// Uppercase hex serial, as `serial_no` in `Authorization` must name it.
    pub serial: String,
    /// Checks request signatures and RSA `paySign`s.
    pub verifier: RsaVerifier,
}

impl MerchantKeys {
    pub fn from_cert_pem(pem_text: &str) -> Result<Self, SimError> {
        let info = parse_certificate_pem(pem_text)
            .map_err(|e| SimError::BadRequest(format!("merchant certificate: {e}")))?;
        let verifier = RsaVerifier::from_der(&info.spki_der)
            .map_err(|e| SimError::BadRequest(format!("merchant certificate key: {e}")))?;
        let cert_der = pem::parse(pem_text)
            .map_err(|e| SimError::BadRequest(format!("merchant certificate: {e}")))?
            .into_contents();
        Ok(MerchantKeys {
            cert_pem: pem_text.to_owned(),
            cert_der,
            serial: info.serial,
            verifier,
        })
    }
}

/// A merchant's WeChat-side keys: a platform certificate (with its key) and, separately, a
/// WeChat Pay public key with its `PUB_KEY_ID_…` — two different RSA keys, as at WeChat, so a
/// client that verifies with the wrong one fails.
#[derive(Debug)]
pub struct PlatformKeys {
    /// Signs when `Wechatpay-Serial` is the certificate serial.
    pub signer: RsaSigner,
    /// Signs when `Wechatpay-Serial` is the public-key id.
    pub public_key_signer: RsaSigner,
    pub cert_pem: String,
    pub serial: String,
    pub public_key_pem: String,
    pub public_key_id: String,
    pub effective_time: OffsetDateTime,
    pub expire_time: OffsetDateTime,
}

impl PlatformKeys {
    /// Generates two fresh RSA-2048 keys (or uses `private_key_pem`, PKCS#8, for both when
    /// given) and issues a self-signed certificate like WeChat's (`CN=Tenpay.com sign`) for the
    /// first, valid five years from `now`.
    pub fn generate(
        private_key_pem: Option<&str>,
        serial_bytes: &[u8],
        public_key_id: String,
        now: OffsetDateTime,
    ) -> Result<Self, SimError> {
        let key = match private_key_pem {
            Some(p) => KeyPair::from_pem_and_sign_algo(p, &PKCS_RSA_SHA256)
                .map_err(|e| SimError::BadRequest(format!("platform private key: {e}")))?,
            None => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(|e| SimError::Internal(format!("RSA key generation: {e}")))?,
        };
        let signer = RsaSigner::from_pkcs8_der(&key.serialize_der())
            .map_err(|e| SimError::Internal(format!("platform key: {e}")))?;
        let pk_key = match private_key_pem {
            Some(p) => KeyPair::from_pem_and_sign_algo(p, &PKCS_RSA_SHA256)
                .map_err(|e| SimError::BadRequest(format!("platform private key: {e}")))?,
            None => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(|e| SimError::Internal(format!("RSA key generation: {e}")))?,
        };
        let public_key_signer = RsaSigner::from_pkcs8_der(&pk_key.serialize_der())
            .map_err(|e| SimError::Internal(format!("public key: {e}")))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "CN");
        dn.push(DnType::LocalityName, "ShenZhen");
        dn.push(DnType::OrganizationName, "Tenpay.com");
        dn.push(
            DnType::OrganizationalUnitName,
            "Tenpay.com CA Center (paygate simulator)",
        );
        dn.push(DnType::CommonName, "Tenpay.com sign");
        params.distinguished_name = dn;
        let effective_time = now.replace_nanosecond(0).unwrap_or(now);
        let expire_time = effective_time + time::Duration::days(5 * 365);
        params.not_before = effective_time;
        params.not_after = expire_time;
        params.serial_number = Some(SerialNumber::from_slice(serial_bytes));
        let cert = params
            .self_signed(&key)
            .map_err(|e| SimError::Internal(format!("platform certificate: {e}")))?;
        let cert_pem = cert.pem();
        let serial = parse_certificate_pem(&cert_pem)
            .map_err(|e| SimError::Internal(format!("platform certificate: {e}")))?
            .serial;
        // LF line endings, like the `pub_key.pem` WeChat hands out (some SDKs choke on CRLF).
        let public_key_pem = pem::encode_config(
            &pem::Pem::new("PUBLIC KEY", pk_key.subject_public_key_info()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        );
        Ok(PlatformKeys {
            signer,
            public_key_signer,
            cert_pem,
            serial,
            public_key_pem,
            public_key_id,
            effective_time,
            expire_time,
        })
    }
}
