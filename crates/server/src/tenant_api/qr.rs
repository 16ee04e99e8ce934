//! Native `code_url` → a QR code PNG (`?format=png`), black on white, 8 px per module with
//! the standard 4-module quiet zone. Pure; the `code_url` is never logged.

use qrcode::{Color, QrCode};

use crate::error::ApiError;

const SCALE: usize = 8;
const QUIET: usize = 4;

/// The PNG bytes of a QR code for `text` (grayscale, 8-bit).
pub fn qr_png(text: &str) -> Result<Vec<u8>, ApiError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| ApiError::internal(format!("qr: {e}")))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            let row = y * side;
            pixels[row + mx * SCALE..row + (mx + 1) * SCALE].fill(0);
        }
    }
    let side = u32::try_from(side).map_err(|e| ApiError::internal(format!("qr size: {e}")))?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| ApiError::internal(format!("png: {e}")))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| ApiError::internal(format!("png: {e}")))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_decodable_png_of_the_right_size() {
        let png_bytes = qr_png("weixin://wxpay/bizpayurl?pr=abc123").unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        let modules = QrCode::new(b"weixin://wxpay/bizpayurl?pr=abc123")
            .unwrap()
            .width();
        assert_eq!(info.width as usize, (modules + 8) * SCALE);
        assert_eq!(info.width, info.height);
    }
}
