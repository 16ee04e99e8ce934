//! Operator tokens: HS256 JWTs with `iss`, `aud`, `sub` (operator id), `iat`, `exp` and `tv`
//! (the operator's token version, bumped to revoke every outstanding token at once).
//!
//! The algorithm is pinned to HS256: a token whose header names another algorithm (including
//! `none`) is refused before its signature is looked at. Expiry is judged by paygate's
//! [`paygate_core::Clock`], not the library's wall clock, so tests can move time. `paygate admin
//! token` reuses [`issue_operator_token`]. Never log a token.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use paygate_core::OperatorId;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::settings::JwtSettings;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    exp: i64,
    tv: i64,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub operator_id: OperatorId,
    pub token_version: i64,
    pub expires_at: OffsetDateTime,
}

/// Why a token was refused (the HTTP codes `invalid_token` and `token_expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Garbled, tampered, wrong algorithm, issuer or audience, or missing claims.
    #[error("the token is not valid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    /// Signing failed (cannot happen with HS256 and a non-empty key; kept typed anyway).
    #[error("the token could not be signed")]
    Signing,
}

/// Issues a token for an operator at `now`; returns the token and its expiry.
pub fn issue_operator_token(
    settings: &JwtSettings,
    operator_id: &OperatorId,
    token_version: i64,
    now: OffsetDateTime,
) -> Result<(String, OffsetDateTime), TokenError> {
    let ttl = time::Duration::try_from(settings.ttl).map_err(|_| TokenError::Signing)?;
    // Whole seconds: `exp` is a NumericDate and the response's `expires_at` must equal it.
    let now = now.replace_nanosecond(0).map_err(|_| TokenError::Signing)?;
    let expires_at = now + ttl;
    let claims = Claims {
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        sub: operator_id.to_string(),
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
        tv: token_version,
    };
    let key = EncodingKey::from_secret(settings.secret.expose_secret().as_bytes());
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|_| TokenError::Signing)?;
    Ok((token, expires_at))
}

/// Checks a token's signature, algorithm, issuer, audience and expiry (against `now`).
pub fn verify_operator_token(
    settings: &JwtSettings,
    token: &str,
    now: OffsetDateTime,
) -> Result<TokenClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked below against paygate's clock.
    validation.validate_exp = false;
    let key = DecodingKey::from_secret(settings.secret.expose_secret().as_bytes());
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| TokenError::Invalid)?;
    let claims = data.claims;
    let expires_at =
        OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| TokenError::Invalid)?;
    if expires_at <= now {
        return Err(TokenError::Expired);
    }
    let operator_id = claims.sub.parse().map_err(|_| TokenError::Invalid)?;
    Ok(TokenClaims {
        operator_id,
        token_version: claims.tv,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use paygate_core::PlatformId;
    use secrecy::SecretString;
    use std::time::Duration;

    fn settings() -> JwtSettings {
        JwtSettings::new(SecretString::from("0123456789abcdef0123456789abcdef"))
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn op() -> OperatorId {
        OperatorId::from_parts(1_700_000_000_000, 7)
    }

    #[test]
    fn round_trip_and_expiry_by_the_given_clock() {
        let s = settings();
        let (token, exp) = issue_operator_token(&s, &op(), 3, now()).unwrap();
        assert_eq!(exp, now() + time::Duration::minutes(15));
        let claims = verify_operator_token(&s, &token, now()).unwrap();
        assert_eq!(claims.operator_id, op());
        assert_eq!(claims.token_version, 3);
        let later = now() + time::Duration::minutes(15);
        assert_eq!(
            verify_operator_token(&s, &token, later),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn another_key_issuer_or_audience_is_invalid() {
        let s = settings();
        let (token, _) = issue_operator_token(&s, &op(), 0, now()).unwrap();
        let mut other = settings();
        other.secret = SecretString::from("another-secret-another-secret-xx");
        assert_eq!(
            verify_operator_token(&other, &token, now()),
            Err(TokenError::Invalid)
        );
        let mut foreign = settings();
        foreign.issuer = "someone-else".into();
        let (token, _) = issue_operator_token(&foreign, &op(), 0, now()).unwrap();
        assert_eq!(
            verify_operator_token(&s, &token, now()),
            Err(TokenError::Invalid)
        );
        let mut foreign = settings();
        foreign.audience = "paygate-tenant".into();
        foreign.ttl = Duration::from_secs(60);
        let (token, _) = issue_operator_token(&foreign, &op(), 0, now()).unwrap();
        assert_eq!(
            verify_operator_token(&s, &token, now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn tampered_payload_and_alg_none_are_invalid() {
        let s = settings();
        let (token, _) = issue_operator_token(&s, &op(), 0, now()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("\"tv\":0", "\"tv\":1"));
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(
            verify_operator_token(&s, &tampered, now()),
            Err(TokenError::Invalid)
        );
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none}.{}.", parts[1]);
        assert_eq!(
            verify_operator_token(&s, &unsigned, now()),
            Err(TokenError::Invalid)
        );
        let hs512 = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
        let wrong_alg = format!("{hs512}.{}.{}", parts[1], parts[2]);
        assert_eq!(
            verify_operator_token(&s, &wrong_alg, now()),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify_operator_token(&s, "garbage", now()),
            Err(TokenError::Invalid)
        );
    }
}
