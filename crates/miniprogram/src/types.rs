//! Values that cross this crate's boundary: app credentials in, sessions, tokens and phone
//! numbers out.
//!
//! Secrets (`secret`, `session_key`, access tokens) are [`SecretString`]s and never show in
//! `Debug`; phone numbers are personal data and are masked in `Debug` too.

use std::fmt;
use std::str::FromStr;

use paygate_core::{AppId, IdError, OpenId};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One mini-program's credentials: its appid and AppSecret.
///
/// The client takes them on every call instead of keeping a registry, so the caller (the server,
/// reading the tenant's encrypted row) stays the single source of truth and a rotated secret is
/// used on the very next call. The access-token cache is keyed by appid *and* a digest of the
/// secret, so a wrong or rotated secret never reuses a token fetched with another one.
#[derive(Clone)]
pub struct AppCredentials {
    pub appid: AppId,
    pub secret: SecretString,
}

impl AppCredentials {
    pub fn new(appid: AppId, secret: impl Into<SecretString>) -> Self {
        AppCredentials {
            appid,
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("appid", &self.appid)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// A user's unionid across the apps of one WeChat Open Platform account.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnionId(String);

impl UnionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UnionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let kind = "unionid";
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(IdError {
                kind,
                reason: "may only contain letters, digits, _ and -",
            });
        }
        if !(1..=128).contains(&s.len()) {
            return Err(IdError {
                kind,
                reason: "must be 1 to 128 characters long",
            });
        }
        Ok(UnionId(s.to_owned()))
    }
}

impl fmt::Display for UnionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UnionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnionId({:?})", self.0)
    }
}

impl Serialize for UnionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UnionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The result of `jscode2session`.
///
/// `session_key` must stay on the server (it decrypts the user's `encryptedData`); it is a
/// [`SecretString`], so deriving `Debug` here cannot leak it.
#[derive(Debug, Clone)]
pub struct Session {
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: SecretString,
}

/// A mini-program access token (`access_token`), good for every API of one appid.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    pub(crate) fn new(token: String) -> Self {
        AccessToken(SecretString::from(token))
    }

    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Same token? Used to tell "someone already refreshed" from "still the rejected one".
    pub(crate) fn same_as(&self, other: &AccessToken) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([REDACTED])")
    }
}

/// The user's phone number from `getuserphonenumber`, already checked against our appid.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneInfo {
    /// With the country prefix when not mainland China, e.g. `+8613800138000` or `13800138000`.
    pub phone_number: String,
    /// Without the country code, e.g. `13800138000`.
    pub pure_phone_number: String,
    /// Digits only, e.g. `86` (WeChat sends it as a string or a number).
    pub country_code: String,
    /// When WeChat issued the number (unix seconds, from `watermark.timestamp`).
    pub issued_at: i64,
}

impl fmt::Debug for PhoneInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: show only the last four digits, like a receipt would.
        let tail = |s: &str| {
            let keep = s.len().saturating_sub(4);
            format!("***{}", s.get(keep..).unwrap_or_default())
        };
        f.debug_struct("PhoneInfo")
            .field("phone_number", &tail(&self.phone_number))
            .field("pure_phone_number", &tail(&self.pure_phone_number))
            .field("country_code", &self.country_code)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_phone_numbers() {
        let app = AppCredentials::new("wx1234".parse().unwrap(), "super-secret-value");
        assert!(!format!("{app:?}").contains("super-secret-value"));
        let token = AccessToken::new("tok-abc-123".into());
        assert!(!format!("{token:?}").contains("tok-abc-123"));
        let session = Session {
            openid: "oUser1".parse().unwrap(),
            unionid: None,
            session_key: SecretString::from("c2Vzc2lvbmtleQ=="),
        };
        assert!(!format!("{session:?}").contains("c2Vzc2lvbmtleQ=="));
        let phone = PhoneInfo {
            phone_number: "+8613800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
            issued_at: 1,
        };
        let shown = format!("{phone:?}");
        assert!(!shown.contains("13800138000"), "{shown}");
        assert!(shown.contains("***8000"), "{shown}");
    }

    #[test]
    fn unionid_rules() {
        assert!("ocMvos6NjeKLIBqg5Mr9QjxrP1FA".parse::<UnionId>().is_ok());
        assert!("".parse::<UnionId>().is_err());
        assert!("a b".parse::<UnionId>().is_err());
    }
}
