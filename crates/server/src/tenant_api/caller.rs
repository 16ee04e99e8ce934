//! [`TenantCaller`]: who is calling the tenant API — the tenant's backend with an API key
//! (`Authorization: Bearer pk_…`), or one mini-program user with a session token (any other
//! bearer). Both are refused when the tenant is suspended, and both count against the
//! tenant's request rate.
//!
//! The rules that keep a session in its lane live here: a session can never set an amount
//! ([`TenantCaller::require_api_key`] → 403 `session_not_allowed`) and sees or pays only its
//! own orders ([`TenantCaller::check_order_access`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use paygate_core::OpenId;
use paygate_store::{ApiKey, Audit, Order, Scope, StoreError, Tenant, TenantStatus};

use crate::auth::jwt::TokenError;
use crate::auth::session::{SessionClaims, verify_session_token};
use crate::auth::{TenantKey, require_scope};
use crate::error::{ApiError, PaymentError};
use crate::middleware::RequestId;
use crate::state::AppState;

/// The credential behind a tenant API request.
#[derive(Debug, Clone)]
pub enum Principal {
    ApiKey(ApiKey),
    Session(SessionClaims),
}

/// An authenticated caller of an active tenant, within the tenant's rate limit.
#[derive(Debug, Clone)]
pub struct TenantCaller {
    pub tenant: Tenant,
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl TenantCaller {
    /// The API key, holding `scope`; a session is refused with 403 `session_not_allowed`.
    pub fn require_api_key(&self, scope: Scope) -> Result<&ApiKey, ApiError> {
        match &self.principal {
            Principal::ApiKey(key) => {
                require_scope(&key.scopes, scope)?;
                Ok(key)
            }
            Principal::Session(_) => Err(PaymentError::SessionNotAllowed.into()),
        }
    }

    /// Reading: an API key needs `read`; a session may read (its own orders, checked by
    /// [`check_order_access`](Self::check_order_access)).
    pub fn require_read(&self) -> Result<(), ApiError> {
        match &self.principal {
            Principal::ApiKey(key) => require_scope(&key.scopes, Scope::Read),
            Principal::Session(_) => Ok(()),
        }
    }

    /// The session's openid, `None` for an API key.
    pub fn session_openid(&self) -> Option<&OpenId> {
        match &self.principal {
            Principal::Session(s) => Some(&s.openid),
            Principal::ApiKey(_) => None,
        }
    }

    /// A session may see an order of its own app that is bound to its openid; anything else
    /// reads as not found, so order ids of other users cannot be probed.
    pub fn check_order_access(&self, order: &Order) -> Result<(), ApiError> {
        match &self.principal {
            Principal::ApiKey(_) => Ok(()),
            Principal::Session(s)
                if order.appid == s.appid && order.payer_openid.as_ref() == Some(&s.openid) =>
            {
                Ok(())
            }
            Principal::Session(_) => Err(ApiError::NotFound(crate::error::Resource::Order)),
        }
    }

    /// The audit context: the API key id, or `session:<appid>` for a mini-program user (the
    /// openid is not put in the audit log).
    pub fn audit(&self) -> Audit {
        let actor = match &self.principal {
            Principal::ApiKey(key) => key.id.as_str().to_owned(),
            Principal::Session(s) => format!("session:{}", s.appid.as_str()),
        };
        Audit {
            actor,
            request_id: self.request_id.clone(),
        }
    }
}

/// Applies the tenant's request rate limit: 429 `rate_limited` with `Retry-After`.
pub(crate) fn charge_tenant(state: &AppState, tenant: &Tenant) -> Result<(), ApiError> {
    state
        .tenant_limiter()
        .take(tenant.id.as_str(), state.clock().now())
        .map_err(|retry_after_secs| PaymentError::RateLimited { retry_after_secs }.into())
}

impl FromRequestParts<AppState> for TenantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = crate::auth::bearer(parts)
            .map_err(|_| ApiError::InvalidToken)?
            .ok_or(ApiError::MissingToken)?;
        let caller = if token.starts_with("pk_") {
            let key = TenantKey::from_request_parts(parts, state).await?;
            TenantCaller {
                tenant: key.tenant,
                principal: Principal::ApiKey(key.key),
                request_id: key.request_id,
            }
        } else {
            let claims = verify_session_token(&state.settings().jwt, token, state.clock().now())
                .map_err(|e| match e {
                    TokenError::Expired => ApiError::TokenExpired,
                    TokenError::Invalid | TokenError::Signing => ApiError::InvalidToken,
                })?;
            let tenant = match state.store().tenants().get(&claims.tenant_id).await {
                Ok(t) => t,
                Err(StoreError::NotFound { .. }) => return Err(ApiError::TokenRevoked),
                Err(e) => return Err(e.into()),
            };
            if tenant.status != TenantStatus::Active {
                return Err(ApiError::TenantSuspended);
            }
            TenantCaller {
                tenant,
                principal: Principal::Session(claims),
                request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            }
        };
        charge_tenant(state, &caller.tenant)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::test_fixtures::{now, order};
    use paygate_core::PlatformId;

    fn tenant() -> Tenant {
        Tenant {
            id: paygate_core::TenantId::from_parts(1, 1),
            name: "t".into(),
            status: TenantStatus::Active,
            contact_email: None,
            default_channel_id: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    fn key(scopes: &[Scope]) -> TenantCaller {
        TenantCaller {
            tenant: tenant(),
            principal: Principal::ApiKey(ApiKey {
                id: paygate_core::ApiKeyId::from_parts(1, 9),
                tenant_id: tenant().id,
                name: "k".into(),
                prefix: "pk_123456789".into(),
                scopes: scopes.to_vec(),
                created_at: now(),
                last_used_at: None,
                revoked_at: None,
            }),
            request_id: None,
        }
    }

    fn session(openid: &str) -> TenantCaller {
        TenantCaller {
            tenant: tenant(),
            principal: Principal::Session(SessionClaims {
                tenant_id: tenant().id,
                appid: order().appid,
                openid: openid.parse().unwrap(),
                expires_at: now(),
            }),
            request_id: None,
        }
    }

    #[test]
    fn keys_need_their_scope_and_sessions_never_set_amounts() {
        let writer = key(&[Scope::OrdersWrite]);
        assert!(writer.require_api_key(Scope::OrdersWrite).is_ok());
        assert_eq!(
            writer
                .require_api_key(Scope::RefundsWrite)
                .unwrap_err()
                .code(),
            "insufficient_scope"
        );
        assert_eq!(
            writer.require_read().unwrap_err().code(),
            "insufficient_scope"
        );
        assert!(key(&[Scope::Read]).require_read().is_ok());
        let s = session("o_alice_0000000000000000000");
        for scope in [Scope::OrdersWrite, Scope::RefundsWrite, Scope::Read] {
            assert_eq!(
                s.require_api_key(scope).unwrap_err().code(),
                "session_not_allowed"
            );
        }
        assert!(s.require_read().is_ok());
        assert!(s.audit().actor.starts_with("session:wx"));
        assert!(writer.audit().actor.starts_with("key_"));
    }

    #[test]
    fn sessions_see_only_orders_bound_to_them_in_their_app() {
        let alice = session("o_alice_0000000000000000000");
        let mut o = order();
        assert!(key(&[Scope::Read]).check_order_access(&o).is_ok());
        assert_eq!(
            alice.check_order_access(&o).unwrap_err().code(),
            "order_not_found"
        );
        o.payer_openid = Some("o_alice_0000000000000000000".parse().unwrap());
        assert!(alice.check_order_access(&o).is_ok());
        assert!(
            session("o_bob_00000000000000000000")
                .check_order_access(&o)
                .is_err()
        );
        o.appid = "wx2222222222222222".parse().unwrap();
        assert!(alice.check_order_access(&o).is_err());
    }
}
