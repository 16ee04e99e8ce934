//! Who is calling: operators (JWT, [`Operator`] / [`RequireAdmin`]) and tenants (API keys,
//! [`TenantKey`]).
//!
//! Every operator request re-reads the operator row, so disabling an operator or bumping its
//! token version locks it out at once, whatever tokens it still holds. Tokens and API keys
//! are never logged.

pub mod client_ip;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod session;
pub mod token_bucket;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use paygate_store::{Audit, Role, Scope, StoreError, Tenant, TenantStatus};
use secrecy::SecretString;

use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

pub use client_ip::ClientIp;

/// The bearer credential of the `Authorization` header. `Ok(None)` when the header is absent;
/// an error when it is present but not a well-formed bearer credential.
pub(crate) fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken);
    }
    Ok(Some(token.trim()))
}

fn request_id(parts: &Parts) -> Option<String> {
    parts.extensions.get::<RequestId>().map(|r| r.0.clone())
}

/// An authenticated, enabled operator (any role), re-read from the store for this request.
#[derive(Debug, Clone)]
pub struct Operator {
    pub operator: paygate_store::Operator,
    pub request_id: Option<String>,
}

impl Operator {
    /// The audit context of writes made in this request.
    pub fn audit(&self) -> Audit {
        Audit::operator(&self.operator.id, self.request_id.clone())
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?.ok_or(ApiError::MissingToken)?;
        let claims = jwt::verify_operator_token(&state.settings().jwt, token, state.clock().now())
            .map_err(|e| match e {
                jwt::TokenError::Expired => ApiError::TokenExpired,
                jwt::TokenError::Invalid | jwt::TokenError::Signing => ApiError::InvalidToken,
            })?;
        let operator = match state.store().operators().get(&claims.operator_id).await {
            Ok(op) => op,
            // A validly signed token for an operator that no longer exists.
            Err(StoreError::NotFound { .. }) => return Err(ApiError::TokenRevoked),
            Err(e) => return Err(e.into()),
        };
        if operator.disabled || operator.token_version != claims.token_version {
            return Err(ApiError::TokenRevoked);
        }
        Ok(Operator {
            operator,
            request_id: request_id(parts),
        })
    }
}

/// The role rule: viewers read, admins also write.
pub fn require_role(role: Role, needed: Role) -> Result<(), ApiError> {
    match (needed, role) {
        (Role::Viewer, _) | (Role::Admin, Role::Admin) => Ok(()),
        (Role::Admin, Role::Viewer) => Err(ApiError::Forbidden),
    }
}

/// An operator with the admin role: every write endpoint takes this.
#[derive(Debug, Clone)]
pub struct RequireAdmin(pub Operator);

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let op = Operator::from_request_parts(parts, state).await?;
        require_role(op.operator.role, Role::Admin)?;
        Ok(RequireAdmin(op))
    }
}

/// A tenant authenticated by an API key; the tenant is active.
#[derive(Debug, Clone)]
pub struct TenantKey {
    pub key: paygate_store::ApiKey,
    pub tenant: Tenant,
    pub request_id: Option<String>,
}

impl TenantKey {
    /// 403 `insufficient_scope` unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        require_scope(&self.key.scopes, scope)
    }

    /// The audit context of writes made with this key (the actor is the key id).
    pub fn audit(&self) -> Audit {
        Audit {
            actor: self.key.id.as_str().to_owned(),
            request_id: self.request_id.clone(),
        }
    }
}

/// The scope rule: a key may do exactly what its scopes list.
pub fn require_scope(held: &[Scope], needed: Scope) -> Result<(), ApiError> {
    if held.contains(&needed) {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope {
            required: needed.as_str(),
        })
    }
}

impl FromRequestParts<AppState> for TenantKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = match bearer(parts) {
            Ok(Some(secret)) => SecretString::from(secret.to_owned()),
            Ok(None) => return Err(ApiError::MissingToken),
            Err(_) => return Err(ApiError::InvalidApiKey),
        };
        let found = state
            .store()
            .api_keys()
            .authenticate(&secret)
            .await?
            .ok_or(ApiError::InvalidApiKey)?;
        if found.tenant.status != TenantStatus::Active {
            return Err(ApiError::TenantSuspended);
        }
        Ok(TenantKey {
            key: found.key,
            tenant: found.tenant,
            request_id: request_id(parts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = Request::builder().uri("/");
        if let Some(v) = auth {
            b = b.header(AUTHORIZATION, v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&parts(None)).unwrap(), None);
        assert_eq!(bearer(&parts(Some("Bearer abc"))).unwrap(), Some("abc"));
        assert_eq!(bearer(&parts(Some("bearer abc"))).unwrap(), Some("abc"));
        assert!(matches!(
            bearer(&parts(Some("Basic dXNlcjpwYXNz"))),
            Err(ApiError::InvalidToken)
        ));
        assert!(matches!(
            bearer(&parts(Some("Bearer "))),
            Err(ApiError::InvalidToken)
        ));
        assert!(matches!(
            bearer(&parts(Some("Bearer"))),
            Err(ApiError::InvalidToken)
        ));
    }

    #[test]
    fn roles_and_scopes() {
        assert!(require_role(Role::Admin, Role::Admin).is_ok());
        assert!(require_role(Role::Viewer, Role::Viewer).is_ok());
        assert!(require_role(Role::Admin, Role::Viewer).is_ok());
        assert!(matches!(
            require_role(Role::Viewer, Role::Admin),
            Err(ApiError::Forbidden)
        ));
        assert!(require_scope(&[Scope::Read], Scope::Read).is_ok());
        assert!(matches!(
            require_scope(&[Scope::Read], Scope::OrdersWrite),
            Err(ApiError::InsufficientScope {
                required: "orders:write"
            })
        ));
    }
}
