//! `POST /wxa/getwxacodeunlimit?access_token=…`: an unlimited mini-program code.
//!
//! WeChat draws a round "sun code"; the simulator draws a standard QR code (so tests can decode
//! it) whose text is `page?scene=SCENE`, at the requested width, in the requested line colour,
//! on white or (with `is_hyaline`) transparent. The request rules are WeChat's: `scene` 1–32
//! visible characters of its set (40169 for length, 40097 for characters), `page` without a
//! leading `/` or query and published when `check_path` (41030), `width` 280–1280 (40097).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use qrcode::{Color, QrCode};
use serde::Deserialize;

use super::{busy, check_access_token, mp_error};
use crate::http::{Injected, dropped, inject};
use crate::state::Sim;

/// The page used when the request names none (the app's first page, else this).
pub const DEFAULT_PAGE: &str = "pages/index/index";

#[derive(Debug, Deserialize)]
struct LineColor {
    r: serde_json::Value,
    g: serde_json::Value,
    b: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Body {
    scene: Option<String>,
    page: Option<String>,
    check_path: Option<bool>,
    env_version: Option<String>,
    width: Option<i64>,
    auto_color: Option<bool>,
    line_color: Option<LineColor>,
    is_hyaline: Option<bool>,
}

/// WeChat's scene alphabet besides letters and digits.
const SCENE_PUNCT: &str = "!#$&'()*+,/:;=?@-._~";

pub async fn getwxacodeunlimit(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let injected = inject(&sim, "/wxa/getwxacodeunlimit", None, || busy(&sim)).await;
    if let Injected::Respond(r) = injected {
        return r;
    }
    let reply = generate(&sim, q.get("access_token").map(String::as_str), &body);
    if matches!(injected, Injected::DropAfter) {
        dropped()
    } else {
        reply
    }
}

fn generate(sim: &Sim, token: Option<&str>, body: &[u8]) -> Response {
    let pages = {
        let world = sim.world();
        match check_access_token(&world, token, sim.now()) {
            Err((code, msg)) => return mp_error(sim, code, msg),
            Ok(appid) => world
                .apps
                .get(&appid)
                .map(|a| a.pages.clone())
                .unwrap_or_default(),
        }
    };
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return mp_error(sim, 47001, "data format error");
    };
    let scene = b.scene.unwrap_or_default();
    if scene.is_empty() || scene.chars().count() > 32 {
        return mp_error(
            sim,
            40169,
            "invalid length for scene, or the data is not json string",
        );
    }
    if !scene
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SCENE_PUNCT.contains(c))
    {
        return mp_error(sim, 40097, "invalid args");
    }
    let page = match b.page.as_deref() {
        None | Some("") => pages
            .first()
            .cloned()
            .unwrap_or_else(|| DEFAULT_PAGE.to_owned()),
        Some(p) => p.to_owned(),
    };
    if page.len() > 128 {
        return mp_error(
            sim,
            40159,
            "invalid length for path, or the data is not json string",
        );
    }
    if page.starts_with('/') || page.contains('?') || page.contains(char::is_whitespace) {
        return mp_error(sim, 41030, "invalid page");
    }
    let env = b.env_version.as_deref().unwrap_or("release");
    if !matches!(env, "release" | "trial" | "develop") {
        return mp_error(sim, 40097, "invalid args");
    }
    // Pages of trial/develop versions are not known to the check, as at WeChat.
    if b.check_path.unwrap_or(true)
        && env == "release"
        && !pages.is_empty()
        && !pages.contains(&page)
    {
        return mp_error(sim, 41030, "invalid page");
    }
    let width = b.width.unwrap_or(430);
    if !(280..=1280).contains(&width) {
        return mp_error(sim, 40097, "invalid args");
    }
    let color = if b.auto_color.unwrap_or(false) {
        [0, 0, 0]
    } else {
        match b.line_color.as_ref().map(channel_values) {
            None => [0, 0, 0],
            Some(Some(c)) => c,
            Some(None) => return mp_error(sim, 40097, "invalid args"),
        }
    };
    let text = format!("{page}?scene={scene}");
    // width is within 280..=1280, so the cast cannot truncate.
    let px = u32::try_from(width).unwrap_or(430);
    match render_qr_png(&text, px, color, b.is_hyaline.unwrap_or(false)) {
        Ok(png) => (StatusCode::OK, [(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Err(_) => mp_error(sim, -1, "system error"),
    }
}

/// `{"r":…, "g":…, "b":…}` as numbers or numeric strings 0–255.
fn channel_values(c: &LineColor) -> Option<[u8; 3]> {
    let one = |v: &serde_json::Value| -> Option<u8> {
        match v {
            serde_json::Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    Some([one(&c.r)?, one(&c.g)?, one(&c.b)?])
}

/// Why a QR code could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("text does not fit a QR code: {0}")]
    Encode(String),
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// Draws `text` as a QR code in a `size`×`size` RGBA PNG, with a four-module quiet zone.
pub fn render_qr_png(
    text: &str,
    size: u32,
    rgb: [u8; 3],
    transparent: bool,
) -> Result<Vec<u8>, QrError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| QrError::Encode(e.to_string()))?;
    let modules = u32::try_from(code.width()).map_err(|e| QrError::Encode(e.to_string()))?;
    let colors = code.to_colors();
    let total = modules + 8;
    let scale = (size / total).max(1);
    let size = size.max(total * scale);
    let offset = (size - total * scale) / 2 + 4 * scale;
    let background = if transparent {
        [255, 255, 255, 0]
    } else {
        [255, 255, 255, 255]
    };
    let ink = [rgb[0], rgb[1], rgb[2], 255];
    let mut pixels = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let dark = match (x.checked_sub(offset), y.checked_sub(offset)) {
                (Some(mx), Some(my)) if mx / scale < modules && my / scale < modules => {
                    let i = ((my / scale) * modules + mx / scale) as usize;
                    colors.get(i) == Some(&Color::Dark)
                }
                _ => false,
            };
            pixels.extend_from_slice(if dark { &ink } else { &background });
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size, size);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| QrError::Png(e.to_string()))?;
        w.write_image_data(&pixels)
            .map_err(|e| QrError::Png(e.to_string()))?;
    }
    Ok(out)
}
