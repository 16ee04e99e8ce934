//! `POST /admin/v1/login`: username + password → a short-lived operator JWT.
//!
//! Every failure answers the same 401 `invalid_credentials` after the same argon2 work
//! (unknown usernames are checked against a dummy hash; disabled operators are refused after
//! the password check), so the answer and its timing reveal nothing about which usernames
//! exist. Failures are rate-limited per (username, client IP) and per IP.

use axum::extract::State;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::{ClientIp, jwt, password};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// Operator credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// A bearer token for the admin API.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Log in as an operator.
#[utoipa::path(post, path = "/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "OK", body = LoginResponse),
        (status = 401, description = "`invalid_credentials` for any wrong combination", body = ErrorBody),
        (status = 429, description = "`too_many_login_attempts`; see `Retry-After`", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let now = state.clock().now();
    let limiter = state.login_limiter();
    limiter
        .check(&req.username, ip, now)
        .map_err(|retry_after_secs| ApiError::TooManyLoginAttempts { retry_after_secs })?;

    let found = state
        .store()
        .operators()
        .find_by_username(&req.username)
        .await?;
    let accepted = match found {
        Some(login) => {
            let matches = password::verify(req.password, login.password_hash)
                .await
                .map_err(ApiError::internal)?;
            (matches && !login.operator.disabled).then_some(login.operator)
        }
        None => {
            password::verify_dummy(req.password)
                .await
                .map_err(ApiError::internal)?;
            None
        }
    };
    let Some(operator) = accepted else {
        limiter.record_failure(&req.username, ip, now);
        tracing::info!(username = %req.username, client_ip = ?ip, "operator login refused");
        return Err(ApiError::InvalidCredentials);
    };
    limiter.record_success(&req.username, ip);
    let (token, expires_at) = jwt::issue_operator_token(
        &state.settings().jwt,
        &operator.id,
        operator.token_version,
        now,
    )
    .map_err(ApiError::internal)?;
    tracing::info!(operator_id = %operator.id, "operator logged in");
    Ok(Json(LoginResponse {
        token,
        token_type: "Bearer".to_owned(),
        expires_at,
    }))
}
