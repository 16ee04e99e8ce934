//! The APIv2 signature: MD5 or HMAC-SHA256 over the sorted, non-empty fields plus `&key=`.
//!
//! The algorithm (reference §2.2): every field except `sign`, empty values dropped, sorted by
//! name in ASCII byte order, joined as `k=v&…` with raw UTF-8 values (never URL-encoded), then
//! `&key=<API key>` appended; MD5 or HMAC-SHA256 (keyed with the API key *and* with the key in
//! the message) as uppercase hex. Verification recomputes over **every** received field (WeChat
//! adds fields over time; a whitelist would break) and compares in constant time.
//!
//! The API key never leaves [`ApiKey`] except into the digest; it is never logged or shown.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use paygate_core::VerifyFailure;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::xml::Fields;

/// The name of the signature field, excluded from what is signed.
pub const SIGN_FIELD: &str = "sign";

/// Which v2 signature algorithm a merchant uses (`sign_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SignType {
    /// The default when `sign_type` is absent.
    #[default]
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
}

impl SignType {
    /// The exact wire value (`MD5` / `HMAC-SHA256`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Parses the exact wire value. Case matters: WeChat refuses `md5` (gotcha G1), so do we.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MD5" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }

    /// The same algorithm as `wx.requestPayment`'s `signType`.
    pub fn pay_sign_type(self) -> paygate_core::PaySignType {
        match self {
            SignType::Md5 => paygate_core::PaySignType::Md5,
            SignType::HmacSha256 => paygate_core::PaySignType::HmacSha256,
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A merchant's APIv2 key (the 32-character key set in the merchant portal; not the APIv3 key).
///
/// Any string is accepted here so that tests and the simulator can use arbitrary keys; the
/// 32-character rule is enforced where credentials are validated.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(SecretString::from(key.into()))
    }

    /// The raw key, for the digests of this crate only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `lowercase_hex(md5(key))`: the 32 ASCII bytes that are the AES-256 key of `req_info`.
    pub(crate) fn refund_aes_key(&self) -> [u8; 32] {
        let digest = Md5::digest(self.expose().as_bytes());
        let mut out = [0u8; 32];
        // hex::encode_to_slice only fails on a wrong output length, which is fixed here.
        if hex::encode_to_slice(digest, &mut out).is_err() {
            out = [0u8; 32];
        }
        out
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl From<SecretString> for ApiKey {
    fn from(s: SecretString) -> Self {
        ApiKey(s)
    }
}

/// Feeds `k1=v1&k2=v2&…&key=KEY` to a digest without building the string.
fn feed(fields: &Fields, key: &ApiKey, mut update: impl FnMut(&[u8])) {
    // BTreeMap<String, _> iterates in byte order of the names, which is exactly ASCII order.
    for (k, v) in fields {
        if k == SIGN_FIELD || v.is_empty() {
            continue;
        }
        update(k.as_bytes());
        update(b"=");
        update(v.as_bytes());
        update(b"&");
    }
    update(b"key=");
    update(key.expose().as_bytes());
}

/// The string that is hashed (`stringSignTemp`); for tests and debugging *without* real keys.
pub fn string_to_sign(fields: &Fields, key: &ApiKey) -> String {
    let mut out = Vec::new();
    feed(fields, key, |b| out.extend_from_slice(b));
    String::from_utf8_lossy(&out).into_owned()
}

/// Signs `fields` (ignoring any `sign` and empty values): uppercase hex, 32 chars for MD5,
/// 64 for HMAC-SHA256.
///
/// A `sign_type` field, when present, is signed like any other; it is the caller's job that
/// it names `t`.
pub fn sign(fields: &Fields, key: &ApiKey, t: SignType) -> String {
    match t {
        SignType::Md5 => {
            let mut h = Md5::new();
            feed(fields, key, |b| h.update(b));
            hex::encode_upper(h.finalize())
        }
        SignType::HmacSha256 => {
            let mut h = match <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes()) {
                Ok(h) => h,
                // HMAC takes keys of any length; this arm cannot be reached.
                Err(_) => return String::new(),
            };
            feed(fields, key, |b| h.update(b));
            hex::encode_upper(h.finalize().into_bytes())
        }
    }
}

/// Checks the `sign` field of `fields` with algorithm `t`, in constant time.
///
/// `Missing` when there is no (or an empty) `sign`; `BadSignature` otherwise. Hex case of the
/// received value is ignored (a lowercase digest proves the same thing).
pub fn verify(fields: &Fields, key: &ApiKey, t: SignType) -> Result<(), VerifyFailure> {
    let received = match fields.get(SIGN_FIELD) {
        Some(s) if !s.is_empty() => s.to_ascii_uppercase(),
        _ => return Err(VerifyFailure::Missing),
    };
    let expected = sign(fields, key, t);
    if bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        Ok(())
    } else {
        Err(VerifyFailure::BadSignature)
    }
}

/// Computes the signature and stores it as the `sign` field (replacing any old one).
pub fn sign_in_place(fields: &mut Fields, key: &ApiKey, t: SignType) -> String {
    let s = sign(fields, key, t);
    fields.insert(SIGN_FIELD.to_owned(), s.clone());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sign_type_names_are_exact() {
        assert_eq!(SignType::parse("MD5"), Some(SignType::Md5));
        assert_eq!(SignType::parse("HMAC-SHA256"), Some(SignType::HmacSha256));
        assert_eq!(SignType::parse("md5"), None);
        assert_eq!(SignType::parse("RSA"), None);
        assert_eq!(SignType::default(), SignType::Md5);
        for t in [SignType::Md5, SignType::HmacSha256] {
            assert_eq!(SignType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn string_skips_sign_and_empty_values() {
        let f = fields(&[("b", "2"), ("a", "1"), ("sign", "X"), ("c", ""), ("B", "0")]);
        assert_eq!(string_to_sign(&f, &ApiKey::new("k")), "B=0&a=1&b=2&key=k");
    }

    #[test]
    fn api_key_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", ApiKey::new("secret-key")),
            "ApiKey([redacted])"
        );
    }

    #[test]
    fn refund_aes_key_is_lowercase_md5_hex() {
        // [C] axios tests/lib/hash.test.js
        let k = ApiKey::new("exposed_your_key_here_have_risks").refund_aes_key();
        assert_eq!(&k, b"4ad14ac334ab13540eb6c5479512a8e8");
    }
}
