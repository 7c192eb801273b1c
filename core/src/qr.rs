//! An invite link as a QR code, for two phones side by side: the code's dark modules as one
//! SVG path (a 1×1 square each, in module units, with the 4-module quiet zone around).

use qrcode::{Color, EcLevel, QrCode};

/// The side of the drawing, in modules, and the path of its dark modules; `None` if the text
/// does not fit in a QR code.
pub fn svg_path(text: &str) -> Option<(usize, String)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let width = code.width();
    let mut path = String::new();
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (index % width + QUIET, index / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some((width + 2 * QUIET, path))
}

/// The quiet zone the standard asks for around the code.
const QUIET: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_makes_a_square_with_its_finder_patterns() {
        let (side, path) = svg_path("http://127.0.0.1:8080/?invite=eyJhbGciOiJIUzI1NiJ9.e30.sig").expect("fits");
        assert_eq!((side - 2 * QUIET - 21) % 4, 0, "a QR code is 21 + 4k modules wide");
        // The top-left finder pattern's corner module is dark, the quiet zone is not.
        assert!(path.starts_with("M4 4h1v1h-1z"), "{}", &path[..40]);
        assert!(!path.contains("M3 "));
        assert_eq!(svg_path(&"x".repeat(8_000)), None, "too long for any QR code");
    }
}
