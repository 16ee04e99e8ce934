//! Envelope encryption of secrets at rest.
//!
//! ```text
//! master key (file or configuration, 32 bytes)
//!   └─ wraps one data key per tenant  (AES-256-GCM, AAD = "paygate/dek" ‖ tenant)
//!        └─ encrypts each secret field (AES-256-GCM, AAD = tenant ‖ table ‖ column ‖ row)
//! ```
//!
//! Every ciphertext is `version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//! The version names the key that sealed it (the master key's version for wrapped data keys;
//! the data key's for fields), so keys can rotate without a flag day. The associated data is
//! length-prefixed, so `("ab","c")` and `("a","bc")` never collide, and a ciphertext copied into
//! another row, column or tenant fails to open. Rotating the master key re-wraps the data keys
//! only; the secrets themselves are untouched.
//!
//! Nothing here implements `Debug` with key material, and decrypted secrets are returned as
//! [`SecretString`] / [`SecretBox`] so they cannot be logged by accident.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// Why a key or ciphertext was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("a key must be 64 hexadecimal characters (32 bytes)")]
    BadKeyEncoding,
    #[error("ciphertext is too short or malformed")]
    Malformed,
    #[error("ciphertext was sealed by key version {found}, but this key is version {expected}")]
    WrongKeyVersion { expected: u8, found: u8 },
    #[error("decryption failed: wrong key, or the ciphertext was altered or moved")]
    Decrypt,
    #[error("decrypted secret is not valid UTF-8")]
    NotUtf8,
}

/// The root key. Lives in a file of mode 0600 or in configuration, never in the database;
/// the database keeps only its [fingerprint](MasterKey::fingerprint).
pub struct MasterKey {
    version: u8,
    key: SecretBox<[u8; KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("version", &self.version)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

fn random_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

fn parse_hex_key(hex_str: &str) -> Result<[u8; KEY_LEN], EnvelopeError> {
    let mut key = [0u8; KEY_LEN];
    hex::decode_to_slice(hex_str.trim(), &mut key).map_err(|_| EnvelopeError::BadKeyEncoding)?;
    Ok(key)
}

impl MasterKey {
    /// A new random master key.
    pub fn generate(version: u8) -> Self {
        MasterKey {
            version,
            key: SecretBox::new(Box::new(random_key())),
        }
    }

    /// A master key from its 64-character hex form.
    pub fn from_hex(version: u8, hex_str: &str) -> Result<Self, EnvelopeError> {
        Ok(MasterKey {
            version,
            key: SecretBox::new(Box::new(parse_hex_key(hex_str)?)),
        })
    }

    /// The hex form, for writing the key file. Handle the result as a secret.
    pub fn to_hex(&self) -> SecretString {
        SecretString::from(hex::encode(self.key.expose_secret()))
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    /// A public fingerprint (16 hex characters) stored in the database, so an instance started
    /// with another master key is refused before it writes anything.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"paygate/master-key-fingerprint/v1");
        h.update(self.key.expose_secret());
        hex::encode(&h.finalize()[..8])
    }

    /// Creates a new data key for a tenant; returns it and its wrapped form for storage.
    pub fn new_data_key(&self, tenant_id: &str) -> (DataKey, Vec<u8>) {
        let dek = DataKey {
            version: 1,
            key: SecretBox::new(Box::new(random_key())),
        };
        let wrapped = self.wrap(tenant_id, &dek);
        (dek, wrapped)
    }

    /// Seals a tenant's data key under this master key.
    pub fn wrap(&self, tenant_id: &str, dek: &DataKey) -> Vec<u8> {
        let mut plain = Vec::with_capacity(1 + KEY_LEN);
        plain.push(dek.version);
        plain.extend_from_slice(dek.key.expose_secret());
        seal(
            self.version,
            self.key.expose_secret(),
            &dek_aad(tenant_id),
            &plain,
        )
    }

    /// Opens a tenant's wrapped data key.
    pub fn unwrap(&self, tenant_id: &str, wrapped: &[u8]) -> Result<DataKey, EnvelopeError> {
        let plain = open(
            self.version,
            self.key.expose_secret(),
            &dek_aad(tenant_id),
            wrapped,
        )?;
        let (&version, key) = plain.split_first().ok_or(EnvelopeError::Malformed)?;
        let key: [u8; KEY_LEN] = key.try_into().map_err(|_| EnvelopeError::Malformed)?;
        Ok(DataKey {
            version,
            key: SecretBox::new(Box::new(key)),
        })
    }
}

/// Re-wraps a tenant's data key from one master key to another (master-key rotation).
pub fn rewrap(
    old: &MasterKey,
    new: &MasterKey,
    tenant_id: &str,
    wrapped: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    Ok(new.wrap(tenant_id, &old.unwrap(tenant_id, wrapped)?))
}

/// A tenant's data key; encrypts that tenant's secret fields.
pub struct DataKey {
    version: u8,
    key: SecretBox<[u8; KEY_LEN]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Where a secret lives: the associated data of its ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldContext<'a> {
    pub tenant_id: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

impl FieldContext<'_> {
    fn aad(&self) -> Vec<u8> {
        length_prefixed(&[
            b"paygate/field/v1",
            self.tenant_id.as_bytes(),
            self.table.as_bytes(),
            self.column.as_bytes(),
            self.row_id.as_bytes(),
        ])
    }
}

impl DataKey {
    pub fn encrypt(&self, ctx: FieldContext<'_>, plaintext: &[u8]) -> Vec<u8> {
        seal(
            self.version,
            self.key.expose_secret(),
            &ctx.aad(),
            plaintext,
        )
    }

    pub fn encrypt_str(&self, ctx: FieldContext<'_>, secret: &SecretString) -> Vec<u8> {
        self.encrypt(ctx, secret.expose_secret().as_bytes())
    }

    pub fn decrypt(
        &self,
        ctx: FieldContext<'_>,
        ciphertext: &[u8],
    ) -> Result<SecretBox<[u8]>, EnvelopeError> {
        let plain = open(
            self.version,
            self.key.expose_secret(),
            &ctx.aad(),
            ciphertext,
        )?;
        Ok(SecretBox::new(plain.into_boxed_slice()))
    }

    pub fn decrypt_str(
        &self,
        ctx: FieldContext<'_>,
        ciphertext: &[u8],
    ) -> Result<SecretString, EnvelopeError> {
        let plain = open(
            self.version,
            self.key.expose_secret(),
            &ctx.aad(),
            ciphertext,
        )?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| EnvelopeError::NotUtf8)
    }
}

fn dek_aad(tenant_id: &str) -> Vec<u8> {
    length_prefixed(&[b"paygate/dek/v1", tenant_id.as_bytes()])
}

fn length_prefixed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        // Parts are identifiers; a u32 length cannot overflow for them.
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key))
}

fn seal(version: u8, key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    // Encryption with a valid key and nonce length cannot fail; an empty result would be
    // refused by `open`, never silently accepted.
    let sealed = cipher(key)
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    out.push(version);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open(
    expected_version: u8,
    key: &[u8; KEY_LEN],
    aad: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    if data.len() < 1 + NONCE_LEN + TAG_LEN {
        return Err(EnvelopeError::Malformed);
    }
    let (version, rest) = (data[0], &data[1..]);
    if version != expected_version {
        return Err(EnvelopeError::WrongKeyVersion {
            expected: expected_version,
            found: version,
        });
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| EnvelopeError::Malformed)?;
    cipher(key)
        .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
        .map_err(|_| EnvelopeError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MASTER_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn ctx<'a>(tenant: &'a str, row: &'a str) -> FieldContext<'a> {
        FieldContext {
            tenant_id: tenant,
            table: "channels",
            column: "credentials",
            row_id: row,
        }
    }

    fn master() -> MasterKey {
        MasterKey::from_hex(1, MASTER_HEX).unwrap_or_else(|_| MasterKey::generate(1))
    }

    #[test]
    fn round_trip_through_the_envelope() {
        let master = master();
        let (dek, wrapped) = master.new_data_key("ten_a");
        let ct = dek.encrypt_str(ctx("ten_a", "ch_1"), &SecretString::from("apiv2-key-123"));
        assert!(
            !ct.windows(7).any(|w| w == b"apiv2-k"),
            "plaintext must not leak"
        );
        assert_eq!(ct[0], 1, "version byte first");

        let dek_again = master.unwrap("ten_a", &wrapped).map_err(|e| e.to_string());
        let opened = dek_again.and_then(|d| {
            d.decrypt_str(ctx("ten_a", "ch_1"), &ct)
                .map_err(|e| e.to_string())
        });
        assert_eq!(
            opened.map(|s| s.expose_secret().to_owned()),
            Ok("apiv2-key-123".to_owned())
        );
    }

    #[test]
    fn a_ciphertext_cannot_move() {
        let (dek, _) = master().new_data_key("ten_a");
        let ct = dek.encrypt(ctx("ten_a", "ch_1"), b"secret");
        for other in [
            ctx("ten_b", "ch_1"),
            ctx("ten_a", "ch_2"),
            FieldContext {
                column: "webhook_secret",
                ..ctx("ten_a", "ch_1")
            },
            FieldContext {
                table: "apps",
                ..ctx("ten_a", "ch_1")
            },
        ] {
            assert_eq!(
                dek.decrypt(other, &ct).err(),
                Some(EnvelopeError::Decrypt),
                "{other:?}"
            );
        }
        // Length prefixes keep ("ab","c") apart from ("a","bc").
        let a = FieldContext {
            tenant_id: "ab",
            table: "c",
            column: "x",
            row_id: "y",
        };
        let b = FieldContext {
            tenant_id: "a",
            table: "bc",
            column: "x",
            row_id: "y",
        };
        let ct = dek.encrypt(a, b"s");
        assert_eq!(dek.decrypt(b, &ct).err(), Some(EnvelopeError::Decrypt));
    }

    #[test]
    fn a_data_key_is_bound_to_its_tenant_and_master() {
        let master = master();
        let (_, wrapped) = master.new_data_key("ten_a");
        assert_eq!(
            master.unwrap("ten_b", &wrapped).err(),
            Some(EnvelopeError::Decrypt)
        );
        let other = MasterKey::generate(1);
        assert_eq!(
            other.unwrap("ten_a", &wrapped).err(),
            Some(EnvelopeError::Decrypt)
        );
        assert_ne!(other.fingerprint(), master.fingerprint());
    }

    #[test]
    fn tampering_and_truncation_are_refused() {
        let (dek, _) = master().new_data_key("ten_a");
        let mut ct = dek.encrypt(ctx("ten_a", "r"), b"secret");
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert_eq!(
            dek.decrypt(ctx("ten_a", "r"), &ct).err(),
            Some(EnvelopeError::Decrypt)
        );
        assert_eq!(
            dek.decrypt(ctx("ten_a", "r"), &ct[..20]).err(),
            Some(EnvelopeError::Malformed)
        );
        ct[0] = 9;
        assert_eq!(
            dek.decrypt(ctx("ten_a", "r"), &ct).err(),
            Some(EnvelopeError::WrongKeyVersion {
                expected: 1,
                found: 9
            })
        );
    }

    #[test]
    fn rotation_rewraps_without_touching_secrets() {
        let old = master();
        let new = MasterKey::generate(2);
        let (dek, wrapped) = old.new_data_key("ten_a");
        let ct = dek.encrypt(ctx("ten_a", "r"), b"secret");
        let rewrapped = rewrap(&old, &new, "ten_a", &wrapped).map_err(|e| e.to_string());
        let rewrapped = rewrapped.unwrap_or_default();
        assert_eq!(rewrapped[0], 2);
        assert!(old.unwrap("ten_a", &rewrapped).is_err());
        let opened = new
            .unwrap("ten_a", &rewrapped)
            .and_then(|d| d.decrypt(ctx("ten_a", "r"), &ct));
        assert_eq!(
            opened.map(|s| s.expose_secret().to_vec()),
            Ok(b"secret".to_vec())
        );
    }

    #[test]
    fn keys_parse_strictly_and_never_show() {
        assert_eq!(
            MasterKey::from_hex(1, "abc").err(),
            Some(EnvelopeError::BadKeyEncoding)
        );
        assert_eq!(
            MasterKey::from_hex(1, &"zz".repeat(32)).err(),
            Some(EnvelopeError::BadKeyEncoding)
        );
        let m = master();
        assert_eq!(m.to_hex().expose_secret(), MASTER_HEX);
        let shown = format!("{m:?}");
        assert!(
            !shown.contains(MASTER_HEX) && !shown.contains("0102030405"),
            "{shown}"
        );
        assert_eq!(m.fingerprint().len(), 16);
    }

    proptest! {
        #[test]
        fn any_secret_round_trips(secret in "\\PC{0,200}", row in "[a-z0-9_]{1,20}") {
            let (dek, _) = master().new_data_key("ten_p");
            let ct = dek.encrypt(ctx("ten_p", &row), secret.as_bytes());
            let back = dek.decrypt_str(ctx("ten_p", &row), &ct).map(|s| s.expose_secret().to_owned());
            prop_assert_eq!(back, Ok(secret));
        }
    }
}
