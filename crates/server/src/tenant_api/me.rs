//! `GET /v1/me`: who the presented API key is, so integrators can check their setup.

use paygate_core::{ApiKeyId, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use axum::extract::State;

use super::caller::charge_tenant;
use crate::auth::TenantKey;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The caller's identity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    #[schema(value_type = String, example = "ten_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub tenant_id: TenantId,
    #[schema(value_type = String, example = "key_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub key_id: ApiKeyId,
    /// `orders:write`, `refunds:write`, `read`.
    pub scopes: Vec<String>,
}

/// The tenant and key behind the presented API key.
#[utoipa::path(get, path = "/me", tag = "tenant",
    security(("tenant_api_key" = [])),
    responses(
        (status = 200, description = "OK", body = Me),
        (status = 401, description = "`missing_token` or `invalid_api_key`", body = ErrorBody),
        (status = 403, description = "`tenant_suspended`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn get_me(State(state): State<AppState>, key: TenantKey) -> Result<Json<Me>, ApiError> {
    charge_tenant(&state, &key.tenant)?;
    Ok(Json(Me {
        tenant_id: key.tenant.id,
        key_id: key.key.id,
        scopes: key
            .key
            .scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    }))
}
