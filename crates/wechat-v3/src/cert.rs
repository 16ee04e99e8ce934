//! X.509 certificates: the merchant's (for its serial and public key) and WeChat's platform ones.
//!
//! Only what paygate needs is extracted. The serial is formatted as the official SDKs do (the
//! serial number as an unsigned integer in uppercase hex, no leading zeros: Java
//! `BigInteger.toString(16).toUpperCase()`, Go `%X`), so it compares equal to `serial_no` and
//! `Wechatpay-Serial`. No chain or signature validation happens here: platform certificates are
//! trusted because they arrive AES-GCM-sealed under the APIv3 key or from the operator.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pemfile::{KeyError, first_block};

/// What paygate keeps of a certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Uppercase hex of the X.509 serial, e.g. `5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC`.
    pub serial: String,
    /// The SubjectPublicKeyInfo DER (`-----BEGIN PUBLIC KEY-----` contents).
    pub spki_der: Vec<u8>,
    /// The PKCS#1 `RSAPublicKey` DER inside the SPKI (to compare with a private key's).
    pub rsa_public_key_der: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for CertificateInfo {
    /// Serial and validity only: key bytes are noise in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateInfo")
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Parses the first `-----BEGIN CERTIFICATE-----` block of `pem`.
pub fn parse_certificate_pem(pem: &str) -> Result<CertificateInfo, KeyError> {
    let block = first_block(pem)?;
    if block.label != "CERTIFICATE" {
        return Err(KeyError::WrongLabel {
            expected: "CERTIFICATE",
            found: block.label,
        });
    }
    parse_certificate_der(&block.der)
}

pub fn parse_certificate_der(der: &[u8]) -> Result<CertificateInfo, KeyError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| KeyError::Certificate(e.to_string()))?;
    let spki = cert.public_key();
    let validity = cert.validity();
    Ok(CertificateInfo {
        serial: serial_hex(cert.raw_serial()),
        spki_der: spki.raw.to_vec(),
        rsa_public_key_der: spki.subject_public_key.data.to_vec(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
    })
}

/// Uppercase hex of a DER INTEGER's magnitude without leading zeros ("0" for zero).
fn serial_hex(raw: &[u8]) -> String {
    let hex = hex::encode_upper(raw);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::serial_hex;

    #[test]
    fn serial_formatting_matches_the_sdks() {
        assert_eq!(serial_hex(&[0x00, 0xD7, 0xCE]), "D7CE");
        assert_eq!(serial_hex(&[0x0A, 0xBC]), "ABC");
        assert_eq!(serial_hex(&[0x00]), "0");
    }
}
