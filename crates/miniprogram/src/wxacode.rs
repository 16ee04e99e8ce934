//! Mini-program codes: `POST /wxa/getwxacodeunlimit` (wxacode.getUnlimited).
//!
//! The request is checked against WeChat's documented rules *before* anything is sent (no token
//! fetch either), so a bad scene, page or width costs no quota and gives a typed error instead of
//! WeChat's terse `40097`/`40169`. On success WeChat answers with the image bytes; on failure
//! with a JSON error, recognised by its content type or a leading `{`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::client::MiniProgramClient;
use crate::error::{Api, MiniProgramError, Result};
use crate::http::{RawResponse, check_envelope};
use crate::types::AppCredentials;

/// Most characters a scene may have.
pub const MAX_SCENE_LEN: usize = 32;
/// Allowed image widths, in pixels.
pub const WIDTH_RANGE: std::ops::RangeInclusive<u32> = 280..=1280;

/// Which version of the mini-program the code opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvVersion {
    Release,
    Trial,
    Develop,
}

/// Line colour when `auto_color` is false, as decimal RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineColor {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// The body of getUnlimitedQRCode. `None` fields are left out, so WeChat's defaults apply
/// (home page, `check_path` true, release, 430 px, no auto colour, opaque background).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WxaCodeRequest {
    /// Up to 32 characters of `[0-9A-Za-z]` and ``!#$&'()*+,/:;=?@-._~``; the page receives it
    /// as `query.scene`.
    pub scene: String,
    /// A published page such as `pages/index/index`: no leading `/`, no query string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_path: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_version: Option<EnvVersion>,
    /// 280–1280 px.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_color: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_color: Option<LineColor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_hyaline: Option<bool>,
}

impl WxaCodeRequest {
    /// A request for `scene` on the home page with WeChat's defaults.
    pub fn new(scene: impl Into<String>) -> Self {
        WxaCodeRequest {
            scene: scene.into(),
            ..Default::default()
        }
    }

    pub fn page(mut self, page: impl Into<String>) -> Self {
        self.page = Some(page.into());
        self
    }

    pub fn width(mut self, width: u32) -> Self {
        self.width = Some(width);
        self
    }

    /// Checks scene, page and width against WeChat's rules.
    pub fn validate(&self) -> Result<()> {
        check_scene(&self.scene)?;
        if let Some(page) = &self.page {
            check_page(page)?;
        }
        if let Some(width) = self.width
            && !WIDTH_RANGE.contains(&width)
        {
            return Err(MiniProgramError::InvalidWidth(width));
        }
        Ok(())
    }
}

fn scene_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&'()*+,/:;=?@-._~".contains(&b)
}

fn check_scene(scene: &str) -> Result<()> {
    if scene.is_empty() {
        return Err(MiniProgramError::InvalidScene("must not be empty"));
    }
    // Checked before the length so that "中文" is reported as a charset problem, not a length one.
    if !scene.bytes().all(scene_char) {
        return Err(MiniProgramError::InvalidScene(
            "may only contain 0-9, A-Z, a-z and !#$&'()*+,/:;=?@-._~ (no %, spaces or non-ASCII)",
        ));
    }
    if scene.len() > MAX_SCENE_LEN {
        return Err(MiniProgramError::InvalidScene(
            "must be at most 32 characters",
        ));
    }
    Ok(())
}

fn check_page(page: &str) -> Result<()> {
    if page.is_empty() {
        return Err(MiniProgramError::InvalidPage(
            "must not be empty (leave it out for the home page)",
        ));
    }
    if page.starts_with('/') {
        return Err(MiniProgramError::InvalidPage(
            "must not start with / (e.g. pages/index/index)",
        ));
    }
    if page.contains('?') || page.contains('#') {
        return Err(MiniProgramError::InvalidPage(
            "must not carry a query string; pass data in scene",
        ));
    }
    let path_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.');
    if !page.bytes().all(path_char) || page.contains("//") {
        return Err(MiniProgramError::InvalidPage(
            "may only contain letters, digits and / _ - . as a page path does",
        ));
    }
    Ok(())
}

/// The image format WeChat returned, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }

    fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else {
            None
        }
    }
}

/// A mini-program code image.
#[derive(Clone, PartialEq, Eq)]
pub struct WxaCode {
    pub format: ImageFormat,
    pub bytes: Bytes,
}

impl std::fmt::Debug for WxaCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WxaCode")
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .finish()
    }
}

fn is_json_error(raw: &RawResponse) -> bool {
    let json_type = raw
        .content_type
        .as_deref()
        .is_some_and(|t| t.contains("json"));
    let first = raw.body.iter().find(|b| !b.is_ascii_whitespace());
    json_type || first == Some(&b'{')
}

fn decode_image(raw: RawResponse) -> Result<WxaCode> {
    if is_json_error(&raw) {
        check_envelope(Api::WxaCode, &raw)?;
        return Err(MiniProgramError::Malformed(
            "getwxacodeunlimit answered JSON without an error".into(),
        ));
    }
    if !(200..300).contains(&raw.status) {
        return Err(MiniProgramError::HttpStatus { status: raw.status });
    }
    let format = ImageFormat::sniff(&raw.body).ok_or_else(|| {
        MiniProgramError::Malformed("getwxacodeunlimit answer is neither PNG nor JPEG".into())
    })?;
    Ok(WxaCode {
        format,
        bytes: raw.body,
    })
}

impl MiniProgramClient {
    /// wxacode.getUnlimited: a mini-program code that opens `page` with `scene`.
    ///
    /// Invalid scene/page/width fail with [`InvalidScene`](MiniProgramError::InvalidScene),
    /// [`InvalidPage`](MiniProgramError::InvalidPage) or
    /// [`InvalidWidth`](MiniProgramError::InvalidWidth) before any upstream call.
    pub async fn get_unlimited_wxacode(
        &self,
        app: &AppCredentials,
        request: &WxaCodeRequest,
    ) -> Result<WxaCode> {
        request.validate()?;
        self.with_access_token(app, |token| async move {
            let query = [("access_token", token.expose_secret())];
            let raw = self
                .transport
                .post_json("/wxa/getwxacodeunlimit", &query, request)
                .await?;
            decode_image(raw)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_rules() {
        assert!(check_scene("a=1&b=2").is_ok());
        assert!(check_scene("!#$&'()*+,/:;=?@-._~09AZaz").is_ok());
        assert!(check_scene(&"x".repeat(32)).is_ok());
        assert_eq!(
            check_scene(&"x".repeat(33)).map_err(|e| e.code()),
            Err("wxacode_scene_invalid")
        );
        for bad in ["", "a%20b", "a b", "中文", "a\"b", "a<b", "a\\b", "a^b"] {
            assert!(check_scene(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_rules() {
        assert!(check_page("pages/index/index").is_ok());
        assert!(check_page("sub-pkg/pages/order_detail/index").is_ok());
        for bad in [
            "",
            "/pages/index/index",
            "pages/index/index?id=1",
            "pages/a b",
            "pages//x",
        ] {
            assert!(check_page(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn width_bounds() {
        assert!(WxaCodeRequest::new("s").width(280).validate().is_ok());
        assert!(WxaCodeRequest::new("s").width(1280).validate().is_ok());
        assert_eq!(
            WxaCodeRequest::new("s").width(279).validate(),
            Err(MiniProgramError::InvalidWidth(279))
        );
        assert_eq!(
            WxaCodeRequest::new("s").width(1281).validate(),
            Err(MiniProgramError::InvalidWidth(1281))
        );
    }

    #[test]
    fn body_leaves_out_unset_fields() {
        let body =
            serde_json::to_value(WxaCodeRequest::new("id=7").page("pages/pay/index")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"scene": "id=7", "page": "pages/pay/index"})
        );
    }
}
