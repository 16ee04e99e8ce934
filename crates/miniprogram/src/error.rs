//! The typed failures of the mini-program client.
//!
//! WeChat answers every mini-program server API with HTTP 200 and an `errcode`; the same number
//! means different things per API (`40001` is a wrong AppSecret on `jscode2session` and the token
//! APIs, but a stale access token on everything that takes one). [`MiniProgramError::from_errcode`]
//! does that translation in one place, so callers match on variants and the server maps each
//! stable [`code`](MiniProgramError::code) to HTTP exactly once. Messages never carry a secret,
//! a session key, an access token or a raw response body.

/// Which upstream API produced an `errcode`: the meaning of some codes depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `GET /sns/jscode2session`.
    Login,
    /// `POST /cgi-bin/stable_token` or `GET /cgi-bin/token`.
    Token,
    /// `POST /wxa/getwxacodeunlimit`.
    WxaCode,
    /// `POST /wxa/business/getuserphonenumber`.
    PhoneNumber,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Login => "jscode2session",
            Api::Token => "access token",
            Api::WxaCode => "getwxacodeunlimit",
            Api::PhoneNumber => "getuserphonenumber",
        }
    }
}

/// A mini-program API call's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MiniProgramError {
    /// A caller's argument breaks WeChat's documented rules; nothing was sent upstream.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        field: &'static str,
        reason: &'static str,
    },
    /// The wxacode `scene` is empty, longer than 32 characters, or has a character outside
    /// `[0-9A-Za-z]` and ``!#$&'()*+,/:;=?@-._~``; nothing was sent upstream.
    #[error("invalid wxacode scene: {0}")]
    InvalidScene(&'static str),
    /// The wxacode `page` has a leading `/`, a query string, or characters a page path never
    /// has; nothing was sent upstream.
    #[error("invalid wxacode page: {0}")]
    InvalidPage(&'static str),
    /// The wxacode `width` is outside 280–1280 px; nothing was sent upstream.
    #[error("invalid wxacode width {0}: must be 280 to 1280")]
    InvalidWidth(u32),
    /// `40029`: the `wx.login` (or phone-number) code is unknown or expired.
    #[error("the code is invalid or expired")]
    CodeInvalid,
    /// `40163`: the code was already exchanged once.
    #[error("the code was already used")]
    CodeUsed,
    /// `40226`: WeChat blocks this user's login as high-risk.
    #[error("WeChat blocked this user as high-risk")]
    UserBlocked,
    /// `45011` / `45009`: too many calls (per user, or the app's per-minute quota).
    #[error("WeChat rate-limited the request ({errcode})")]
    RateLimited { errcode: i64 },
    /// WeChat refused the app's appid/secret (`40013`, `40125`, `40164`, `40001` on login and
    /// token APIs, …): the tenant's configuration needs fixing, retrying will not help.
    #[error("WeChat rejected the app credentials ({errcode}): {message}")]
    AppCredentials { errcode: i64, message: String },
    /// `40001` / `42001` / `40014` on an API that takes an access token. The client refreshes
    /// and retries once by itself, so a caller only sees this if the fresh token failed too.
    #[error("WeChat rejected the access token ({errcode}): {message}")]
    AccessTokenRejected { errcode: i64, message: String },
    /// `41030`: the wxacode page does not exist in the published version.
    #[error("the page does not exist in the published mini-program: {message}")]
    PageNotFound { message: String },
    /// `-1`: WeChat is busy; retry with backoff.
    #[error("WeChat is busy: {message}")]
    Busy { message: String },
    /// Any other non-zero `errcode`, with WeChat's own code and message.
    #[error("WeChat refused the request ({errcode}): {message}")]
    Upstream { errcode: i64, message: String },
    /// A non-2xx HTTP status without a WeChat error body.
    #[error("WeChat answered HTTP {status}")]
    HttpStatus { status: u16 },
    /// No answer: connect error, timeout or dropped connection.
    #[error("could not reach WeChat: {0}")]
    Transport(String),
    /// The answer could not be understood.
    #[error("malformed answer from WeChat: {0}")]
    Malformed(String),
    /// The phone number or decrypted data carries another app's `watermark.appid`.
    #[error("the watermark names another appid")]
    WatermarkMismatch,
    /// `encryptedData` did not decrypt (wrong session key or iv, or tampered data).
    #[error("encrypted data could not be decrypted: {0}")]
    Decrypt(&'static str),
}

pub type Result<T, E = MiniProgramError> = std::result::Result<T, E>;

impl MiniProgramError {
    /// Translates a non-zero WeChat `errcode` from `api` into a variant.
    pub fn from_errcode(api: Api, errcode: i64, errmsg: &str) -> Self {
        let message = errmsg.to_owned();
        let uses_token = matches!(api, Api::WxaCode | Api::PhoneNumber);
        match errcode {
            -1 => MiniProgramError::Busy { message },
            40029 => MiniProgramError::CodeInvalid,
            40163 => MiniProgramError::CodeUsed,
            40226 => MiniProgramError::UserBlocked,
            45009 | 45011 => MiniProgramError::RateLimited { errcode },
            40001 | 42001 | 40014 if uses_token => {
                MiniProgramError::AccessTokenRejected { errcode, message }
            }
            // Outside token-taking APIs, 40001 means the AppSecret is wrong.
            40001 | 40013 | 40125 | 40164 | 41002 | 41004 => {
                MiniProgramError::AppCredentials { errcode, message }
            }
            41030 if api == Api::WxaCode => MiniProgramError::PageNotFound { message },
            _ => MiniProgramError::Upstream { errcode, message },
        }
    }

    /// The stable machine code of this failure; a test keeps them unique.
    pub fn code(&self) -> &'static str {
        match self {
            MiniProgramError::InvalidArgument { .. } => "invalid_argument",
            MiniProgramError::InvalidScene(_) => "wxacode_scene_invalid",
            MiniProgramError::InvalidPage(_) => "wxacode_page_invalid",
            MiniProgramError::InvalidWidth(_) => "wxacode_width_invalid",
            MiniProgramError::CodeInvalid => "code_invalid",
            MiniProgramError::CodeUsed => "code_used",
            MiniProgramError::UserBlocked => "user_blocked",
            MiniProgramError::RateLimited { .. } => "upstream_rate_limited",
            MiniProgramError::AppCredentials { .. } => "app_credentials_rejected",
            MiniProgramError::AccessTokenRejected { .. } => "access_token_rejected",
            MiniProgramError::PageNotFound { .. } => "wxacode_page_not_found",
            MiniProgramError::Busy { .. } => "upstream_busy",
            MiniProgramError::Upstream { .. } => "upstream_rejected",
            MiniProgramError::HttpStatus { .. } => "upstream_http_status",
            MiniProgramError::Transport(_) => "upstream_unreachable",
            MiniProgramError::Malformed(_) => "upstream_malformed",
            MiniProgramError::WatermarkMismatch => "watermark_appid_mismatch",
            MiniProgramError::Decrypt(_) => "decrypt_failed",
        }
    }

    /// Whether the same call may succeed later (with backoff). Login codes are single-use, so
    /// a retried login only helps when the code was never consumed (busy, unreachable).
    pub fn is_retryable(&self) -> bool {
        match self {
            MiniProgramError::Busy { .. }
            | MiniProgramError::Transport(_)
            | MiniProgramError::RateLimited { .. } => true,
            MiniProgramError::HttpStatus { status } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// Whether this is the "access token invalid or expired" answer that triggers one refresh.
    pub(crate) fn is_token_rejection(&self) -> bool {
        matches!(self, MiniProgramError::AccessTokenRejected { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique() {
        let s = String::new;
        let all = [
            MiniProgramError::InvalidArgument {
                field: "f",
                reason: "r",
            },
            MiniProgramError::InvalidScene("r"),
            MiniProgramError::InvalidPage("r"),
            MiniProgramError::InvalidWidth(1),
            MiniProgramError::CodeInvalid,
            MiniProgramError::CodeUsed,
            MiniProgramError::UserBlocked,
            MiniProgramError::RateLimited { errcode: 45011 },
            MiniProgramError::AppCredentials {
                errcode: 40013,
                message: s(),
            },
            MiniProgramError::AccessTokenRejected {
                errcode: 40001,
                message: s(),
            },
            MiniProgramError::PageNotFound { message: s() },
            MiniProgramError::Busy { message: s() },
            MiniProgramError::Upstream {
                errcode: 1,
                message: s(),
            },
            MiniProgramError::HttpStatus { status: 502 },
            MiniProgramError::Transport(s()),
            MiniProgramError::Malformed(s()),
            MiniProgramError::WatermarkMismatch,
            MiniProgramError::Decrypt("r"),
        ];
        let codes: HashSet<_> = all.iter().map(MiniProgramError::code).collect();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn errcode_meaning_depends_on_the_api() {
        let login = MiniProgramError::from_errcode(Api::Login, 40001, "invalid credential");
        assert_eq!(login.code(), "app_credentials_rejected");
        let wxa = MiniProgramError::from_errcode(Api::WxaCode, 40001, "invalid credential");
        assert_eq!(wxa.code(), "access_token_rejected");
        assert!(wxa.is_token_rejection());
        let page = MiniProgramError::from_errcode(Api::WxaCode, 41030, "invalid page");
        assert_eq!(page.code(), "wxacode_page_not_found");
        let other = MiniProgramError::from_errcode(Api::Login, 41030, "x");
        assert_eq!(
            other,
            MiniProgramError::Upstream {
                errcode: 41030,
                message: "x".into()
            }
        );
    }

    #[test]
    fn retryable_failures() {
        assert!(MiniProgramError::from_errcode(Api::Login, -1, "busy").is_retryable());
        assert!(MiniProgramError::HttpStatus { status: 503 }.is_retryable());
        assert!(!MiniProgramError::HttpStatus { status: 404 }.is_retryable());
        assert!(!MiniProgramError::CodeUsed.is_retryable());
        assert!(!MiniProgramError::from_errcode(Api::Token, 40013, "x").is_retryable());
    }
}
