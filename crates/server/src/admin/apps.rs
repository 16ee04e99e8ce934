//! A tenant's mini-program apps: list and register. The app secret (for `jscode2session`) is
//! stored encrypted and never returned. An appid belongs to at most one tenant across the
//! whole platform: registering it twice is 409 `appid_taken`, whichever tenant holds it.

use axum::extract::State;
use axum::http::StatusCode;
use paygate_core::{AppId, TenantId};
use paygate_store::App;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::{Operator, RequireAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::pagination::List;
use crate::state::AppState;

/// Longest accepted app secret (WeChat's are 32 hex characters; leave room, bound the input).
const MAX_SECRET_LEN: usize = 128;

/// A mini-program app (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AppView {
    #[schema(value_type = String, example = "wxd678efh567hg6787")]
    pub appid: AppId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<App> for AppView {
    fn from(a: App) -> Self {
        AppView {
            appid: a.appid,
            tenant_id: a.tenant_id,
            name: a.name,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A mini-program to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    #[schema(value_type = String, example = "wxd678efh567hg6787")]
    pub appid: AppId,
    pub name: String,
    /// The AppSecret; stored encrypted, never returned.
    #[schema(value_type = String, format = Password)]
    pub secret: SecretString,
}

/// The app-secret rule: present, no surrounding whitespace, bounded.
pub fn check_app_secret(secret: &SecretString) -> Result<(), ApiError> {
    let s = secret.expose_secret();
    if s.trim().is_empty() {
        return Err(ApiError::invalid_field("secret", "must not be blank"));
    }
    if s.trim() != s {
        return Err(ApiError::invalid_field(
            "secret",
            "must not start or end with whitespace",
        ));
    }
    if s.len() > MAX_SECRET_LEN {
        return Err(ApiError::invalid_field(
            "secret",
            "must be at most 128 characters",
        ));
    }
    Ok(())
}

/// List a tenant's apps (by appid; apps are few, so the list is one page).
#[utoipa::path(get, path = "/tenants/{tenant_id}/apps", tag = "apps",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<AppView>), (status = 404, description = "`tenant_not_found`", body = ErrorBody)))]
pub async fn list_apps(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<List<AppView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let apps = state.store().apps().list(&tenant_id).await?;
    Ok(Json(List {
        data: apps.into_iter().map(AppView::from).collect(),
        next_cursor: None,
    }))
}

/// Register a mini-program for a tenant (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/apps", tag = "apps",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    request_body = CreateApp,
    security(("operator_jwt" = [])),
    responses(
        (status = 201, description = "Created", body = AppView),
        (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody),
        (status = 409, description = "`appid_taken` (by any tenant)", body = ErrorBody),
        (status = 422, description = "`invalid_request` naming the field", body = ErrorBody),
    ))]
pub async fn create_app(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
    Json(req): Json<CreateApp>,
) -> Result<(StatusCode, Json<AppView>), ApiError> {
    check_app_secret(&req.secret)?;
    state.store().tenants().get(&tenant_id).await?;
    let app = state
        .store()
        .apps()
        .create(
            &admin.audit(),
            &tenant_id,
            &req.appid,
            req.name.trim(),
            &req.secret,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(app.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_secret_rule() {
        let s = |v: &str| SecretString::from(v.to_owned());
        assert!(check_app_secret(&s("0123456789abcdef0123456789abcdef")).is_ok());
        assert!(check_app_secret(&s("   ")).is_err());
        assert!(check_app_secret(&s(" padded ")).is_err());
        assert!(check_app_secret(&s(&"x".repeat(129))).is_err());
    }
}
