//! `GET /admin/v1/me`: who the calling operator is (id, username, role).
//!
//! The console reads the role to hide write controls from viewers; the API still refuses their
//! writes on its own ([`RequireAdmin`](crate::auth::RequireAdmin)), so this is a convenience,
//! never an authorisation decision. It must never return the password hash or token version.

use paygate_core::OperatorId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::admin::operators::OperatorRole;
use crate::auth::Operator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

/// The calling operator.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CurrentOperator {
    #[schema(value_type = String, example = "op_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: OperatorId,
    pub username: String,
    /// `admin` may write; `viewer` may only read.
    pub role: OperatorRole,
}

/// The calling operator's identity and role.
#[utoipa::path(get, path = "/me", tag = "auth",
    security(("operator_jwt" = [])),
    responses(
        (status = 200, description = "OK", body = CurrentOperator),
        (status = 401, description = "Not authenticated: `missing_token`, `invalid_token`, `token_expired` or `token_revoked`", body = ErrorBody),
    ))]
pub async fn get_current_operator(op: Operator) -> Result<Json<CurrentOperator>, ApiError> {
    let o = op.operator;
    Ok(Json(CurrentOperator {
        id: o.id,
        username: o.username,
        role: o.role.into(),
    }))
}
