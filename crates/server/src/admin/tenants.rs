//! Tenants: list/search, create, read, update, suspend and resume. Tenants are never deleted
//! (their orders and audit trail must stay readable); a suspended tenant's API keys and
//! payments are refused.

use axum::extract::State;
use axum::http::StatusCode;
use paygate_core::{ChannelId, TenantId};
use paygate_store::{Tenant, TenantFilter, TenantStatus, TenantUpdate};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Operator, RequireAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query, nullable};
use crate::pagination::{List, PageParams};
use crate::state::AppState;

/// Longest accepted contact e-mail (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

/// A tenant's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatusView {
    Active,
    Suspended,
}

impl From<TenantStatus> for TenantStatusView {
    fn from(s: TenantStatus) -> Self {
        match s {
            TenantStatus::Active => TenantStatusView::Active,
            TenantStatus::Suspended => TenantStatusView::Suspended,
        }
    }
}

impl From<TenantStatusView> for TenantStatus {
    fn from(s: TenantStatusView) -> Self {
        match s {
            TenantStatusView::Active => TenantStatus::Active,
            TenantStatusView::Suspended => TenantStatus::Suspended,
        }
    }
}

/// A tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    #[schema(value_type = String, example = "ten_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: TenantId,
    pub name: String,
    pub status: TenantStatusView,
    pub contact_email: Option<String>,
    /// The channel used when a payment names none.
    #[schema(value_type = Option<String>)]
    pub default_channel_id: Option<ChannelId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        TenantView {
            id: t.id,
            name: t.name,
            status: t.status.into(),
            contact_email: t.contact_email,
            default_channel_id: t.default_channel_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `?status=&q=` of the tenant list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    pub status: Option<TenantStatusView>,
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    pub contact_email: Option<String>,
}

/// Changes to a tenant: absent fields stay; `null` clears `contact_email` or
/// `default_channel_id`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub contact_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub default_channel_id: Option<Option<ChannelId>>,
}

/// A deliberately loose e-mail rule: one `@` with text on both sides, no spaces. Deliverability
/// is the operator's business, not ours.
pub fn check_email(email: &str) -> Result<(), ApiError> {
    let bad = |reason: &str| ApiError::invalid_field("contact_email", reason);
    if email.len() > MAX_EMAIL_LEN {
        return Err(bad("must be at most 254 characters"));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(bad("must be an e-mail address")),
    }
}

/// List tenants, newest first; filter by status and name.
#[utoipa::path(get, path = "/tenants", tag = "tenants",
    params(TenantQuery, PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<TenantView>), (status = 401, description = "Not authenticated: `missing_token`, `invalid_token`, `token_expired` or `token_revoked`", body = ErrorBody)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    _op: Operator,
    Query(query): Query<TenantQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<TenantView>>, ApiError> {
    let filter = TenantFilter {
        status: query.status.map(TenantStatus::from),
        name_contains: query.q.filter(|q| !q.trim().is_empty()),
    };
    let paged = state
        .store()
        .tenants()
        .list(&filter, &page.page::<TenantId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, TenantView::from)))
}

/// Create a tenant (admin).
#[utoipa::path(post, path = "/tenants", tag = "tenants",
    request_body = CreateTenant,
    security(("operator_jwt" = [])),
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 403, description = "`forbidden`: writes need the admin role", body = ErrorBody),
        (status = 422, description = "`invalid_request` naming the field", body = ErrorBody),
    ))]
pub async fn create_tenant(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Json(req): Json<CreateTenant>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    if let Some(email) = &req.contact_email {
        check_email(email)?;
    }
    let tenant = state
        .store()
        .tenants()
        .create(
            &admin.audit(),
            req.name.trim(),
            req.contact_email.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(tenant.into())))
}

/// Read a tenant.
#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = TenantView), (status = 404, description = "`tenant_not_found`", body = ErrorBody)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<TenantView>, ApiError> {
    Ok(Json(state.store().tenants().get(&tenant_id).await?.into()))
}

/// Update a tenant's name, contact e-mail or default channel (admin).
#[utoipa::path(patch, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    request_body = UpdateTenant,
    security(("operator_jwt" = [])),
    responses(
        (status = 200, description = "OK", body = TenantView),
        (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody),
        (status = 422, description = "e.g. `default_channel_id` is not this tenant's", body = ErrorBody),
    ))]
pub async fn update_tenant(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
    Json(req): Json<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    if let Some(Some(email)) = &req.contact_email {
        check_email(email)?;
    }
    let update = TenantUpdate {
        name: req.name.map(|n| n.trim().to_owned()),
        contact_email: req.contact_email,
        default_channel_id: req.default_channel_id,
    };
    let tenant = state
        .store()
        .tenants()
        .update(&admin.audit(), &tenant_id, &update)
        .await?;
    Ok(Json(tenant.into()))
}

/// Suspend a tenant: its API keys and payments are refused until resumed (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/suspend", tag = "tenants",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = TenantView), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn suspend_tenant(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<TenantView>, ApiError> {
    set_status(&state, &admin, &tenant_id, TenantStatus::Suspended).await
}

/// Resume a suspended tenant (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/resume", tag = "tenants",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = TenantView), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn resume_tenant(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<TenantView>, ApiError> {
    set_status(&state, &admin, &tenant_id, TenantStatus::Active).await
}

async fn set_status(
    state: &AppState,
    admin: &Operator,
    tenant_id: &TenantId,
    status: TenantStatus,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state
        .store()
        .tenants()
        .set_status(&admin.audit(), tenant_id, status)
        .await?;
    Ok(Json(tenant.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rule() {
        assert!(check_email("ops@example.com").is_ok());
        assert!(check_email("a@b").is_ok());
        for bad in ["", "no-at", "@example.com", "a@", "a@b@c", "a b@c.d"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(check_email(&format!("{}@x.cn", "a".repeat(260))).is_err());
    }
}
