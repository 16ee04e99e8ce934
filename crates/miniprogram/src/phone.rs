//! Phone numbers: `POST /wxa/business/getuserphonenumber` exchanges the code from the
//! `getPhoneNumber` button for the user's number.
//!
//! The answer is only trusted when its `watermark.appid` is ours. Phone numbers are personal
//! data: never log them.

use serde::Deserialize;
use serde::Serialize;

use crate::client::MiniProgramClient;
use crate::error::{Api, MiniProgramError, Result};
use crate::http::decode_json;
use crate::login::check_code;
use crate::types::{AppCredentials, PhoneInfo};

#[derive(Serialize)]
struct PhoneRequest<'a> {
    code: &'a str,
}

#[derive(Deserialize)]
struct PhoneResponse {
    phone_info: PhoneWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneWire {
    phone_number: String,
    pure_phone_number: String,
    country_code: CountryCode,
    watermark: Watermark,
}

/// Documented as a string, shown as a number in WeChat's own example: take either.
#[derive(Deserialize)]
#[serde(untagged)]
enum CountryCode {
    Text(String),
    Number(u64),
}

#[derive(Deserialize)]
pub(crate) struct Watermark {
    #[serde(default)]
    pub timestamp: i64,
    pub appid: String,
}

impl MiniProgramClient {
    /// getPhoneNumber: the user's phone number for a one-time `code` (valid 5 minutes).
    ///
    /// Errors: [`CodeInvalid`](MiniProgramError::CodeInvalid) (40029),
    /// [`RateLimited`](MiniProgramError::RateLimited) (45011), [`Busy`](MiniProgramError::Busy)
    /// (-1), [`WatermarkMismatch`](MiniProgramError::WatermarkMismatch) when the answer names
    /// another app. A stale access token is refreshed and the call retried once.
    pub async fn get_user_phone_number(
        &self,
        app: &AppCredentials,
        code: &str,
    ) -> Result<PhoneInfo> {
        check_code("code", code)?;
        let body = PhoneRequest { code };
        let wire: PhoneResponse = self
            .with_access_token(app, |token| {
                let body = &body;
                async move {
                    let query = [("access_token", token.expose_secret())];
                    let raw = self
                        .transport
                        .post_json("/wxa/business/getuserphonenumber", &query, body)
                        .await?;
                    decode_json(Api::PhoneNumber, &raw)
                }
            })
            .await?;
        let info = wire.phone_info;
        if info.watermark.appid != app.appid.as_str() {
            return Err(MiniProgramError::WatermarkMismatch);
        }
        let country_code = match info.country_code {
            CountryCode::Text(s) => s,
            CountryCode::Number(n) => n.to_string(),
        };
        if country_code.is_empty() || !country_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MiniProgramError::Malformed(
                "getuserphonenumber countryCode is not digits".into(),
            ));
        }
        Ok(PhoneInfo {
            phone_number: info.phone_number,
            pure_phone_number: info.pure_phone_number,
            country_code,
            issued_at: info.watermark.timestamp,
        })
    }
}
