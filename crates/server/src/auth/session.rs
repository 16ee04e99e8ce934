//! Mini-program session tokens: HS256 JWTs signed with the server's JWT secret, with
//! `aud = "paygate-session"` (so an operator token is never accepted as a session and vice
//! versa), `iss`, `ten` (tenant id), `app` (appid), `oid` (openid), `iat` and `exp`.
//!
//! A session token identifies one mini-program user of one tenant's app. It can read and pay
//! that user's orders, never set an amount. Expiry is judged by paygate's clock. Never log a
//! token or put an openid in an error message.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use paygate_core::{AppId, OpenId, TenantId};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::jwt::TokenError;
use crate::settings::JwtSettings;

/// The JWT `aud` of session tokens; distinct from the operator audience.
pub const SESSION_AUDIENCE: &str = "paygate-session";
/// How long a session token lives.
pub const SESSION_TTL: time::Duration = time::Duration::hours(2);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    ten: String,
    app: String,
    oid: String,
    iat: i64,
    exp: i64,
}

/// What a valid session token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    pub tenant_id: TenantId,
    pub appid: AppId,
    pub openid: OpenId,
    pub expires_at: OffsetDateTime,
}

/// Issues a session token at `now`; returns the token and its expiry.
pub fn issue_session_token(
    settings: &JwtSettings,
    tenant: &TenantId,
    appid: &AppId,
    openid: &OpenId,
    now: OffsetDateTime,
) -> Result<(String, OffsetDateTime), TokenError> {
    // Whole seconds: `exp` is a NumericDate and the response's `expires_at` must equal it.
    let now = now.replace_nanosecond(0).map_err(|_| TokenError::Signing)?;
    let expires_at = now + SESSION_TTL;
    let claims = Claims {
        iss: settings.issuer.clone(),
        aud: SESSION_AUDIENCE.to_owned(),
        ten: tenant.to_string(),
        app: appid.as_str().to_owned(),
        oid: openid.as_str().to_owned(),
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
    };
    let key = EncodingKey::from_secret(settings.secret.expose_secret().as_bytes());
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|_| TokenError::Signing)?;
    Ok((token, expires_at))
}

/// Checks a session token's signature, algorithm, issuer, audience and expiry (against `now`).
pub fn verify_session_token(
    settings: &JwtSettings,
    token: &str,
    now: OffsetDateTime,
) -> Result<SessionClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[SESSION_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_exp = false;
    let key = DecodingKey::from_secret(settings.secret.expose_secret().as_bytes());
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| TokenError::Invalid)?
        .claims;
    let expires_at =
        OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| TokenError::Invalid)?;
    if expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(SessionClaims {
        tenant_id: claims.ten.parse().map_err(|_| TokenError::Invalid)?,
        appid: claims.app.parse().map_err(|_| TokenError::Invalid)?,
        openid: claims.oid.parse().map_err(|_| TokenError::Invalid)?,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt;
    use paygate_core::{OperatorId, PlatformId};
    use secrecy::SecretString;

    fn settings() -> JwtSettings {
        JwtSettings::new(SecretString::from("0123456789abcdef0123456789abcdef"))
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn ids() -> (TenantId, AppId, OpenId) {
        (
            TenantId::from_parts(1_700_000_000_000, 1),
            "wx1234567890abcdef".parse().unwrap(),
            "o6_bmjrPTlm6_2sgVt7hMZOPfL2M".parse().unwrap(),
        )
    }

    #[test]
    fn round_trip_and_two_hour_expiry() {
        let (t, a, o) = ids();
        let (token, exp) = issue_session_token(&settings(), &t, &a, &o, now()).unwrap();
        assert_eq!(exp, now() + time::Duration::hours(2));
        let c = verify_session_token(&settings(), &token, now()).unwrap();
        assert_eq!((c.tenant_id, c.appid, c.openid), (t, a, o));
        assert_eq!(
            verify_session_token(&settings(), &token, exp),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn operator_and_session_tokens_are_not_interchangeable() {
        let s = settings();
        let op = OperatorId::from_parts(1_700_000_000_000, 7);
        let (admin, _) = jwt::issue_operator_token(&s, &op, 0, now()).unwrap();
        assert_eq!(
            verify_session_token(&s, &admin, now()),
            Err(TokenError::Invalid)
        );
        let (t, a, o) = ids();
        let (session, _) = issue_session_token(&s, &t, &a, &o, now()).unwrap();
        assert_eq!(
            jwt::verify_operator_token(&s, &session, now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn another_secret_is_invalid() {
        let (t, a, o) = ids();
        let (token, _) = issue_session_token(&settings(), &t, &a, &o, now()).unwrap();
        let other = JwtSettings::new(SecretString::from("another-secret-another-secret-xx"));
        assert_eq!(
            verify_session_token(&other, &token, now()),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify_session_token(&settings(), "pk_not_a_jwt", now()),
            Err(TokenError::Invalid)
        );
    }
}
