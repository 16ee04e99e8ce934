//! A tenant's API keys: list, create (the secret is in that one response only) and revoke.
//! The store keeps only a digest, so a lost secret cannot be shown again: revoke and create.

use std::collections::BTreeSet;
use std::fmt;

use axum::extract::State;
use axum::http::StatusCode;
use paygate_core::{ApiKeyId, TenantId};
use paygate_store::{ApiKey, Scope};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::{Operator, RequireAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::pagination::{List, PageParams};
use crate::state::AppState;

/// An API key (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String, example = "key_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: ApiKeyId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the secret, to recognise it (`pk_Ab3dE…`).
    pub prefix: String,
    #[schema(example = json!(["orders:write", "read"]))]
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            tenant_id: k.tenant_id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// Any of `orders:write`, `refunds:write`, `read`; at least one.
    #[schema(example = json!(["orders:write", "refunds:write", "read"]))]
    pub scopes: Vec<String>,
}

/// A key just created: the only response that contains its secret.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// `pk_…`: send as `Authorization: Bearer <secret>`. Shown once; store it now.
    pub secret: String,
}

impl fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// The scope rule: every entry a known scope, at least one; duplicates collapse.
pub fn parse_scopes(raw: &[String]) -> Result<Vec<Scope>, ApiError> {
    let mut scopes = BTreeSet::new();
    for s in raw {
        let scope = Scope::ALL
            .into_iter()
            .find(|known| known.as_str() == s)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "scopes",
                    "unknown scope; use orders:write, refunds:write or read",
                )
            })?;
        scopes.insert(scope);
    }
    if scopes.is_empty() {
        return Err(ApiError::invalid_field(
            "scopes",
            "must name at least one scope",
        ));
    }
    Ok(scopes.into_iter().collect())
}

/// List a tenant's API keys (revoked ones included), newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/api-keys", tag = "api-keys",
    params(("tenant_id" = String, Path, description = "`ten_…`"), PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<ApiKeyView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<ApiKeyView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let paged = state
        .store()
        .api_keys()
        .list(&tenant_id, &page.page::<ApiKeyId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, ApiKeyView::from)))
}

/// Create an API key; the response is the only place its secret appears (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/api-keys", tag = "api-keys",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    request_body = CreateApiKey,
    security(("operator_jwt" = [])),
    responses(
        (status = 201, description = "Created", body = CreatedApiKey),
        (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody),
        (status = 422, description = "`invalid_request` naming `scopes` or `name`", body = ErrorBody),
    ))]
pub async fn create_api_key(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
    Json(req): Json<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let scopes = parse_scopes(&req.scopes)?;
    state.store().tenants().get(&tenant_id).await?;
    let created = state
        .store()
        .api_keys()
        .create(&admin.audit(), &tenant_id, req.name.trim(), &scopes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: created.key.into(),
            secret: created.secret.expose_secret().to_owned(),
        }),
    ))
}

/// Revoke an API key; it stops authenticating at once (admin).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/api-keys/{key_id}", tag = "api-keys",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("key_id" = String, Path, description = "`key_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = ApiKeyView), (status = 404, description = "`api_key_not_found`", body = ErrorBody)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((tenant_id, key_id)): Path<(TenantId, ApiKeyId)>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = state
        .store()
        .api_keys()
        .revoke(&admin.audit(), &tenant_id, &key_id)
        .await?;
    Ok(Json(key.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scope_rules() {
        assert_eq!(
            parse_scopes(&raw(&["read", "orders:write", "read"])).unwrap(),
            vec![Scope::OrdersWrite, Scope::Read]
        );
        assert!(parse_scopes(&raw(&[])).is_err());
        match parse_scopes(&raw(&["read", "admin"])) {
            Err(ApiError::InvalidRequest { field, .. }) => {
                assert_eq!(field.as_deref(), Some("scopes"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_scopes(&raw(&["READ"])).is_err(), "scopes are exact");
    }
}
