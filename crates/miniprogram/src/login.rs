//! Login: `GET /sns/jscode2session` exchanges a `wx.login` code for the user's openid, unionid
//! and session key.
//!
//! The AppSecret travels in the query string (WeChat's design); the session key comes back in the
//! body. Neither may appear in a log line or an error, and the session key must never be sent to
//! the mini-program.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paygate_core::OpenId;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::client::MiniProgramClient;
use crate::error::{Api, MiniProgramError, Result};
use crate::http::decode_json;
use crate::types::{AppCredentials, Session, UnionId};

/// A `wx.login` code is 32 characters today; anything far longer or with odd bytes is not one.
const MAX_CODE_LEN: usize = 256;

#[derive(Deserialize)]
struct SessionWire {
    openid: String,
    session_key: String,
    #[serde(default)]
    unionid: Option<String>,
}

/// Checks a one-time code (from `wx.login` or the phone-number button) before it is sent.
pub(crate) fn check_code(field: &'static str, code: &str) -> Result<()> {
    if code.is_empty() {
        return Err(MiniProgramError::InvalidArgument {
            field,
            reason: "must not be empty",
        });
    }
    if code.len() > MAX_CODE_LEN || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(MiniProgramError::InvalidArgument {
            field,
            reason: "must be at most 256 visible ASCII characters",
        });
    }
    Ok(())
}

impl MiniProgramClient {
    /// code2Session: exchanges the code from `wx.login` for the user's identity.
    ///
    /// Errors: [`CodeInvalid`](MiniProgramError::CodeInvalid) (40029),
    /// [`CodeUsed`](MiniProgramError::CodeUsed) (40163),
    /// [`RateLimited`](MiniProgramError::RateLimited) (45011),
    /// [`AppCredentials`](MiniProgramError::AppCredentials) (40013/40125/40001),
    /// [`Busy`](MiniProgramError::Busy) (-1, retryable), otherwise
    /// [`Upstream`](MiniProgramError::Upstream) with WeChat's code and message.
    pub async fn jscode2session(&self, app: &AppCredentials, js_code: &str) -> Result<Session> {
        check_code("js_code", js_code)?;
        let query = [
            ("appid", app.appid.as_str()),
            ("secret", app.secret.expose_secret()),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ];
        let raw = self.transport.get("/sns/jscode2session", &query).await?;
        let wire: SessionWire = decode_json(Api::Login, &raw)?;
        let session_key = SecretString::from(wire.session_key);
        let key_ok = STANDARD
            .decode(session_key.expose_secret())
            .is_ok_and(|k| k.len() == 16);
        if !key_ok {
            return Err(MiniProgramError::Malformed(
                "jscode2session session_key is not base64 of 16 bytes".into(),
            ));
        }
        let openid: OpenId = wire
            .openid
            .parse()
            .map_err(|e| MiniProgramError::Malformed(format!("jscode2session openid: {e}")))?;
        let unionid = match wire.unionid.filter(|u| !u.is_empty()) {
            Some(u) => Some(u.parse::<UnionId>().map_err(|e| {
                MiniProgramError::Malformed(format!("jscode2session unionid: {e}"))
            })?),
            None => None,
        };
        Ok(Session {
            openid,
            unionid,
            session_key,
        })
    }
}
