//! The encrypted `req_info` of v2 refund notifications (reference §2.7).
//!
//! `req_info` = base64(AES-256-ECB(key = lowercase_hex(md5(API key)) as 32 ASCII bytes,
//! PKCS#7)) of a `<root>…</root>` XML document. The outer notification has no `sign`: a
//! successful decryption (valid padding, then valid XML) is the only proof of origin, so every
//! failure here is a verification failure, never a partial result.
//!
//! ECB leaks equal blocks and has no integrity; that is WeChat's design and is only decoded
//! here, never chosen for anything of paygate's own.

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::sign::ApiKey;
use crate::xml::{self, Fields, XmlError};

/// Why `req_info` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReqInfoError {
    #[error("req_info is not base64")]
    Base64,
    /// Wrong length or padding: almost always the wrong API key.
    #[error("req_info does not decrypt with this API key")]
    Decrypt,
    #[error("decrypted req_info is not valid XML: {0}")]
    Xml(#[from] XmlError),
}

/// Decrypts and parses `req_info` into its fields (`out_refund_no`, `refund_status`, …).
pub fn decrypt_req_info(req_info: &str, key: &ApiKey) -> Result<Fields, ReqInfoError> {
    let ct = STANDARD
        .decode(req_info.trim())
        .map_err(|_| ReqInfoError::Base64)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return Err(ReqInfoError::Decrypt);
    }
    let aes_key = key.refund_aes_key();
    let cipher =
        ecb::Decryptor::<Aes256>::new_from_slice(&aes_key).map_err(|_| ReqInfoError::Decrypt)?;
    let plain = cipher
        .decrypt_padded_vec::<Pkcs7>(&ct)
        .map_err(|_| ReqInfoError::Decrypt)?;
    Ok(xml::decode(&plain)?)
}

/// Encrypts `fields` as WeChat does (root `<root>`), for the simulator and tests.
pub fn encrypt_req_info(fields: &Fields, key: &ApiKey) -> String {
    let plain = xml::encode_with_root("root", fields);
    let aes_key = key.refund_aes_key();
    match ecb::Encryptor::<Aes256>::new_from_slice(&aes_key) {
        Ok(cipher) => STANDARD.encode(cipher.encrypt_padded_vec::<Pkcs7>(plain.as_bytes())),
        // The key is always 32 bytes; this arm cannot be reached.
        Err(_) => String::new(),
    }
}
