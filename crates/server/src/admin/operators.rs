//! Operator accounts: list (any operator), create and change role / disabled (admins).
//!
//! An admin cannot disable or demote themselves: that is how the last admin would lock
//! everyone out. Changing role or disabled bumps the token version in the store, which
//! revokes the operator's outstanding tokens.

use axum::extract::State;
use axum::http::StatusCode;
use paygate_core::OperatorId;
use paygate_store::{OperatorUpdate, Role};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::{Operator, RequireAdmin, password};
use crate::error::{ApiError, Conflict, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::pagination::{List, PageParams};
use crate::state::AppState;

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// Everything.
    Admin,
    /// Read-only (GET).
    Viewer,
}

impl From<Role> for OperatorRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => OperatorRole::Admin,
            Role::Viewer => OperatorRole::Viewer,
        }
    }
}

impl From<OperatorRole> for Role {
    fn from(r: OperatorRole) -> Self {
        match r {
            OperatorRole::Admin => Role::Admin,
            OperatorRole::Viewer => Role::Viewer,
        }
    }
}

/// An operator account (never its password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorView {
    #[schema(value_type = String, example = "op_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: OperatorId,
    pub username: String,
    pub role: OperatorRole,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<paygate_store::Operator> for OperatorView {
    fn from(o: paygate_store::Operator) -> Self {
        OperatorView {
            id: o.id,
            username: o.username,
            role: o.role.into(),
            disabled: o.disabled,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A new operator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperator {
    pub username: String,
    /// At least 12 characters.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    pub role: OperatorRole,
}

/// Changes to an operator; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOperator {
    pub role: Option<OperatorRole>,
    pub disabled: Option<bool>,
}

/// The self-lockout rule: an operator may not disable or demote their own account.
pub fn check_self_change(
    actor: &OperatorId,
    target: &OperatorId,
    update: &UpdateOperator,
) -> Result<(), ApiError> {
    let disables = update.disabled == Some(true);
    let demotes = update.role == Some(OperatorRole::Viewer);
    if actor == target && (disables || demotes) {
        return Err(ApiError::Conflict(Conflict::CannotModifySelf));
    }
    Ok(())
}

/// List operators, newest first.
#[utoipa::path(get, path = "/operators", tag = "operators",
    params(PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<OperatorView>), (status = 401, description = "Not authenticated: `missing_token`, `invalid_token`, `token_expired` or `token_revoked`", body = ErrorBody)))]
pub async fn list_operators(
    State(state): State<AppState>,
    _op: Operator,
    Query(page): Query<PageParams>,
) -> Result<Json<List<OperatorView>>, ApiError> {
    let paged = state
        .store()
        .operators()
        .list(&page.page::<OperatorId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, OperatorView::from)))
}

/// Create an operator (admin).
#[utoipa::path(post, path = "/operators", tag = "operators",
    request_body = CreateOperator,
    security(("operator_jwt" = [])),
    responses(
        (status = 201, description = "Created", body = OperatorView),
        (status = 403, description = "`forbidden` for viewers", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (e.g. password too short)", body = ErrorBody),
    ))]
pub async fn create_operator(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Json(req): Json<CreateOperator>,
) -> Result<(StatusCode, Json<OperatorView>), ApiError> {
    password::check_new_password(&req.password)
        .map_err(|e| ApiError::invalid_field("password", e.to_string()))?;
    let hash = password::hash(req.password)
        .await
        .map_err(ApiError::internal)?;
    let created = state
        .store()
        .operators()
        .create(
            &admin.audit(),
            req.username.trim(),
            &SecretString::from(hash),
            req.role.into(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Change an operator's role or disable it (admin). Revokes its tokens.
#[utoipa::path(patch, path = "/operators/{operator_id}", tag = "operators",
    params(("operator_id" = String, Path, description = "`op_…`")),
    request_body = UpdateOperator,
    security(("operator_jwt" = [])),
    responses(
        (status = 200, description = "OK", body = OperatorView),
        (status = 404, description = "`operator_not_found`", body = ErrorBody),
        (status = 409, description = "`cannot_modify_self`", body = ErrorBody),
    ))]
pub async fn update_operator(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(operator_id): Path<OperatorId>,
    Json(req): Json<UpdateOperator>,
) -> Result<Json<OperatorView>, ApiError> {
    check_self_change(&admin.operator.id, &operator_id, &req)?;
    let update = OperatorUpdate {
        role: req.role.map(Role::from),
        disabled: req.disabled,
    };
    let updated = state
        .store()
        .operators()
        .update(&admin.audit(), &operator_id, &update)
        .await?;
    Ok(Json(updated.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_core::PlatformId;

    #[test]
    fn admins_cannot_lock_themselves_out() {
        let me = OperatorId::from_parts(1, 1);
        let other = OperatorId::from_parts(1, 2);
        let disable = UpdateOperator {
            disabled: Some(true),
            ..UpdateOperator::default()
        };
        let demote = UpdateOperator {
            role: Some(OperatorRole::Viewer),
            ..UpdateOperator::default()
        };
        let harmless = UpdateOperator {
            role: Some(OperatorRole::Admin),
            disabled: Some(false),
        };
        assert!(check_self_change(&me, &me, &disable).is_err());
        assert!(check_self_change(&me, &me, &demote).is_err());
        assert!(check_self_change(&me, &me, &harmless).is_ok());
        assert!(check_self_change(&me, &other, &disable).is_ok());
        assert!(check_self_change(&me, &other, &demote).is_ok());
    }
}
