//! Mini-program endpoints keyed by appid: `POST /v1/apps/{appid}/sessions` (log a user in
//! with a `wx.login` code; no credential needed, rate-limited per appid and client IP) and
//! `POST /v1/apps/{appid}/wxacode` (API key: a mini-program code image).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use paygate_core::AppId;
use paygate_miniprogram::WxaCodeRequest;
use paygate_store::Scope;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::caller::TenantCaller;
use crate::auth::ClientIp;
use crate::error::{ApiError, ErrorBody, Resource};
use crate::extract::{Json, Path};
use crate::payments::login;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// The code from `wx.login()` (single use, valid 5 minutes).
    pub code: String,
}

/// A session for one mini-program user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer <session_token>` to pay and read this user's orders.
    pub session_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub openid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// Log a mini-program user in with a `wx.login` code.
#[utoipa::path(post, path = "/apps/{appid}/sessions", tag = "tenant", operation_id = "create_session",
    params(("appid" = String, Path, description = "The mini-program's appid")),
    request_body = CreateSessionRequest,
    security(()),
    responses(
        (status = 201, description = "Logged in", body = SessionResponse),
        (status = 403, description = "`tenant_suspended`", body = ErrorBody),
        (status = 404, description = "`app_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_login_code`, `invalid_request`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (per appid and per client IP)", body = ErrorBody),
        (status = 502, description = "`app_misconfigured`, `upstream_rejected`", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable`", body = ErrorBody),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(appid): Path<AppId>,
    Json(req): Json<CreateSessionRequest>,
) -> Result<Response, ApiError> {
    let done = login::login(&state, &appid, &req.code, ip).await?;
    let body = SessionResponse {
        session_token: done.token,
        expires_at: done.expires_at,
        openid: done.openid.as_str().to_owned(),
        unionid: done.unionid,
    };
    Ok((axum::http::StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WxaCodeBody {
    /// Up to 32 characters; the page receives it as `query.scene`.
    pub scene: String,
    /// A published page such as `pages/pay/index` (no leading `/`); default the home page.
    #[serde(default)]
    pub page: Option<String>,
    /// 280–1280 px.
    #[serde(default)]
    pub width: Option<u32>,
}

/// A mini-program code (PNG) for one of the tenant's apps.
#[utoipa::path(post, path = "/apps/{appid}/wxacode", tag = "tenant", operation_id = "create_wxacode",
    params(("appid" = String, Path, description = "One of the tenant's appids")),
    request_body = WxaCodeBody,
    security(("tenant_api_key" = [])),
    responses(
        (status = 200, description = "`image/png`", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "`app_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (`scene`, `page`, `width`)", body = ErrorBody),
        (status = 502, description = "`app_misconfigured`, `upstream_rejected`", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable`", body = ErrorBody),
    ))]
pub async fn create_wxacode(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(appid): Path<AppId>,
    Json(req): Json<WxaCodeBody>,
) -> Result<Response, ApiError> {
    caller.require_api_key(Scope::OrdersWrite)?;
    let (app, creds) = login::app_credentials(&state, &appid).await?;
    if app.tenant_id != caller.tenant.id {
        return Err(ApiError::NotFound(Resource::App));
    }
    let mut request = WxaCodeRequest::new(req.scene);
    request.page = req.page;
    request.width = req.width;
    let code = login::wxacode(&state, &creds, &request).await?;
    Ok(([(CONTENT_TYPE, code.format.content_type())], code.bytes).into_response())
}
