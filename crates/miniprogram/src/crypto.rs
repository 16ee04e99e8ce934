//! `encryptedData` decryption (user info, legacy phone data): AES-128-CBC with PKCS#7, the
//! session key as key, the `iv` from the mini-program. Pure, no I/O.
//!
//! CBC is unauthenticated, so the decrypted JSON's `watermark.appid` is the only check that the
//! data was meant for us; it is always verified. Never log the key or the plaintext.

use aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use paygate_core::AppId;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{MiniProgramError, Result};
use crate::phone::Watermark;

#[derive(Deserialize)]
struct Watermarked {
    watermark: Watermark,
}

/// Decrypts `encrypted_data` (base64) with the user's `session_key` and `iv` (both base64 of 16
/// bytes), checks `watermark.appid == appid`, and decodes the JSON as `T`.
pub fn decrypt_encrypted_data<T: DeserializeOwned>(
    appid: &AppId,
    session_key: &SecretString,
    encrypted_data: &str,
    iv: &str,
) -> Result<T> {
    let key = STANDARD
        .decode(session_key.expose_secret())
        .map_err(|_| MiniProgramError::Decrypt("session_key is not base64"))?;
    let iv = STANDARD
        .decode(iv)
        .map_err(|_| MiniProgramError::Decrypt("iv is not base64"))?;
    let data = STANDARD
        .decode(encrypted_data)
        .map_err(|_| MiniProgramError::Decrypt("encryptedData is not base64"))?;
    let cipher = cbc::Decryptor::<Aes128>::new_from_slices(&key, &iv)
        .map_err(|_| MiniProgramError::Decrypt("session_key and iv must be 16 bytes each"))?;
    let plain = cipher.decrypt_padded_vec::<Pkcs7>(&data).map_err(|_| {
        MiniProgramError::Decrypt("bad padding: wrong session_key or iv, or tampered data")
    })?;
    let marked: Watermarked = serde_json::from_slice(&plain)
        .map_err(|_| MiniProgramError::Decrypt("plaintext is not JSON with a watermark"))?;
    if marked.watermark.appid != appid.as_str() {
        return Err(MiniProgramError::WatermarkMismatch);
    }
    serde_json::from_slice(&plain)
        .map_err(|_| MiniProgramError::Decrypt("plaintext does not match the expected shape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wx.getUserInfo example of WeChat's signature/encryption doc (reference §5.5).
    const VECTOR: &str = include_str!("../tests/fixtures/wxa-encrypted-data.json");

    #[derive(Deserialize)]
    struct Vector {
        session_key: String,
        iv: String,
        appid: String,
        encrypted_data: String,
        plaintext: String,
    }

    fn vector() -> Vector {
        serde_json::from_str(VECTOR).unwrap()
    }

    #[test]
    fn decrypts_the_known_answer_vector() {
        let v = vector();
        let appid: AppId = v.appid.parse().unwrap();
        let key = SecretString::from(v.session_key);
        let got: serde_json::Value =
            decrypt_encrypted_data(&appid, &key, &v.encrypted_data, &v.iv).unwrap();
        let want: serde_json::Value = serde_json::from_str(&v.plaintext).unwrap();
        assert_eq!(got, want);
        assert_eq!(got["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
    }

    #[test]
    fn another_apps_watermark_is_refused() {
        let v = vector();
        let other: AppId = "wx0000000000000000".parse().unwrap();
        let key = SecretString::from(v.session_key);
        let got =
            decrypt_encrypted_data::<serde_json::Value>(&other, &key, &v.encrypted_data, &v.iv);
        assert_eq!(got, Err(MiniProgramError::WatermarkMismatch));
    }

    #[test]
    fn wrong_key_or_bad_input_is_a_decrypt_error() {
        let v = vector();
        let appid: AppId = v.appid.parse().unwrap();
        let wrong = SecretString::from("AAAAAAAAAAAAAAAAAAAAAA==");
        let got =
            decrypt_encrypted_data::<serde_json::Value>(&appid, &wrong, &v.encrypted_data, &v.iv);
        assert_eq!(got.map_err(|e| e.code()), Err("decrypt_failed"));
        let key = SecretString::from(v.session_key);
        for (data, iv) in [
            ("not base64!", v.iv.as_str()),
            (&v.encrypted_data[..20], v.iv.as_str()),
            (v.encrypted_data.as_str(), "c2hvcnQ="),
        ] {
            let got = decrypt_encrypted_data::<serde_json::Value>(&appid, &key, data, iv);
            assert_eq!(got.map_err(|e| e.code()), Err("decrypt_failed"));
        }
    }
}
