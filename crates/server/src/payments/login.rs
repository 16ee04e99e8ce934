//! Mini-program login and codes: `wx.login` code → `jscode2session` with the tenant's
//! AppSecret → user upserted (session key encrypted by the store) → a session token; and
//! mini-program codes (`getwxacodeunlimit`) through the client's cached access token.
//!
//! Logins are rate-limited per appid (each costs a WeChat call WeChat itself limits per app)
//! and per client IP, before anything else is done. The session key never leaves the store;
//! the AppSecret never leaves this function; neither is logged.

use std::net::IpAddr;

use paygate_core::{AppId, OpenId};
use paygate_miniprogram::{AppCredentials, MiniProgramClient, MiniProgramError, WxaCode};
use paygate_store::{App, StoreError, TenantStatus};
use time::OffsetDateTime;

use crate::auth::session::issue_session_token;
use crate::error::{ApiError, PaymentError, Resource};
use crate::state::AppState;

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub token: String,
    pub expires_at: OffsetDateTime,
    pub openid: OpenId,
    pub unionid: Option<String>,
}

/// Takes one login token for the app and one for the client IP: 429 `rate_limited`.
fn charge_login(state: &AppState, appid: &AppId, ip: Option<IpAddr>) -> Result<(), ApiError> {
    let now = state.clock().now();
    let (per_app, per_ip) = state.session_limiters();
    let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    per_ip
        .take(&ip, now)
        .and_then(|()| per_app.take(appid.as_str(), now))
        .map_err(|retry_after_secs| PaymentError::RateLimited { retry_after_secs }.into())
}

/// The app and its credentials, for an app of an active tenant; 404 `app_not_found` otherwise
/// (whoever registered it), 403 `tenant_suspended` for a suspended tenant.
pub async fn app_credentials(
    state: &AppState,
    appid: &AppId,
) -> Result<(App, AppCredentials), ApiError> {
    let app = state
        .store()
        .apps()
        .find_by_appid(appid)
        .await?
        .ok_or(ApiError::NotFound(Resource::App))?;
    let tenant = state.store().tenants().get(&app.tenant_id).await?;
    if tenant.status != TenantStatus::Active {
        return Err(ApiError::TenantSuspended);
    }
    let secret = state
        .store()
        .apps()
        .app_secret(&app.tenant_id, appid)
        .await?;
    let creds = AppCredentials::new(appid.clone(), secret);
    Ok((app, creds))
}

fn client(state: &AppState) -> Result<&MiniProgramClient, ApiError> {
    state
        .miniprogram()
        .ok_or(ApiError::Payment(PaymentError::UpstreamUnavailable))
}

/// `POST /v1/apps/{appid}/sessions`.
pub async fn login(
    state: &AppState,
    appid: &AppId,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<LoggedIn, ApiError> {
    charge_login(state, appid, ip)?;
    let (app, creds) = app_credentials(state, appid).await?;
    let session = client(state)?
        .jscode2session(&creds, code)
        .await
        .map_err(|e| map_miniprogram_error(e, "code"))?;
    let unionid = session.unionid.as_ref().map(|u| u.as_str().to_owned());
    state
        .store()
        .users()
        .upsert(
            &app.tenant_id,
            appid,
            &session.openid,
            unionid.as_deref(),
            &session.session_key,
        )
        .await
        .map_err(|e| match e {
            // The app was deleted between the lookup and the upsert.
            StoreError::NotFound { .. } => ApiError::NotFound(Resource::App),
            other => other.into(),
        })?;
    let (token, expires_at) = issue_session_token(
        &state.settings().jwt,
        &app.tenant_id,
        appid,
        &session.openid,
        state.clock().now(),
    )
    .map_err(|e| ApiError::internal(format!("session token: {e}")))?;
    Ok(LoggedIn {
        token,
        expires_at,
        openid: session.openid,
        unionid,
    })
}

/// A mini-program code image for one of the caller's apps.
pub async fn wxacode(
    state: &AppState,
    creds: &AppCredentials,
    request: &paygate_miniprogram::WxaCodeRequest,
) -> Result<WxaCode, ApiError> {
    client(state)?
        .get_unlimited_wxacode(creds, request)
        .await
        .map_err(|e| map_miniprogram_error(e, "scene"))
}

/// WeChat's mini-program failures as API errors: the caller's fault (422), the operator's
/// (502 `app_misconfigured`), or WeChat's (503 `upstream_unavailable` / 502
/// `upstream_rejected`). `input` names the request field a bad argument came from.
pub fn map_miniprogram_error(e: MiniProgramError, input: &'static str) -> ApiError {
    use MiniProgramError as M;
    match e {
        M::InvalidArgument { reason, .. } => ApiError::invalid_field(input, reason),
        M::InvalidScene(reason) => ApiError::invalid_field("scene", reason),
        M::InvalidPage(reason) => ApiError::invalid_field("page", reason),
        M::InvalidWidth(_) => ApiError::invalid_field("width", "must be 280 to 1280"),
        M::PageNotFound { .. } => {
            ApiError::invalid_field("page", "is not a page of the published mini-program")
        }
        M::CodeInvalid => PaymentError::InvalidLoginCode {
            reason: "invalid or expired",
        }
        .into(),
        M::CodeUsed => PaymentError::InvalidLoginCode {
            reason: "already used",
        }
        .into(),
        M::UserBlocked => PaymentError::InvalidLoginCode {
            reason: "WeChat blocked this user as high-risk",
        }
        .into(),
        M::AppCredentials { .. } | M::AccessTokenRejected { .. } => {
            PaymentError::AppMisconfigured.into()
        }
        M::Upstream { errcode, message } => PaymentError::UpstreamRejected {
            code: errcode.to_string(),
            message,
        }
        .into(),
        M::RateLimited { .. }
        | M::Busy { .. }
        | M::HttpStatus { .. }
        | M::Transport(_)
        | M::Malformed(_) => {
            tracing::warn!(error = %e, "mini-program API unavailable");
            PaymentError::UpstreamUnavailable.into()
        }
        M::WatermarkMismatch | M::Decrypt(_) => ApiError::internal(format!("mini-program: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miniprogram_errors_map_to_actionable_codes() {
        let code = |e| map_miniprogram_error(e, "code").code();
        assert_eq!(code(MiniProgramError::CodeInvalid), "invalid_login_code");
        assert_eq!(code(MiniProgramError::CodeUsed), "invalid_login_code");
        assert_eq!(
            code(MiniProgramError::AppCredentials {
                errcode: 40125,
                message: "invalid appsecret".into()
            }),
            "app_misconfigured"
        );
        assert_eq!(
            code(MiniProgramError::Transport("timeout".into())),
            "upstream_unavailable"
        );
        assert_eq!(
            code(MiniProgramError::RateLimited { errcode: 45011 }),
            "upstream_unavailable"
        );
        let e = map_miniprogram_error(
            MiniProgramError::InvalidArgument {
                field: "js_code",
                reason: "must not be empty",
            },
            "code",
        );
        assert!(matches!(e, ApiError::InvalidRequest { field: Some(ref f), .. } if f == "code"));
        let e = map_miniprogram_error(MiniProgramError::InvalidWidth(10), "scene");
        assert!(matches!(e, ApiError::InvalidRequest { field: Some(ref f), .. } if f == "width"));
    }
}
