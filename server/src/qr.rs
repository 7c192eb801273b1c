//! An invite link as a QR code, for two phones side by side: an SVG picture whose dark
//! modules are one path (a 1×1 square each, in module units, with the 4-module quiet zone
//! around). Drawn here rather than in the page: the encoder would cost every visitor's page
//! ~15 KB gzipped for a picture few of them open.

use qrcode::{Color, EcLevel, QrCode};

/// The picture of `text` as an SVG document; `None` if it does not fit in a QR code.
pub fn svg(text: &str) -> Option<String> {
    let (side, path) = svg_path(text)?;
    // A natural size of 4 px a module; the page scales it.
    let pixels = side * 4;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{pixels}\" height=\"{pixels}\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// The side of the drawing, in modules, and the path of its dark modules; `None` if the text
/// does not fit in a QR code.
fn svg_path(text: &str) -> Option<(usize, String)> {
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
        let picture = svg("http://127.0.0.1:8080/?invite=x").expect("fits");
        assert!(picture.starts_with("<svg xmlns=") && picture.ends_with("</svg>"), "{picture}");
    }
}
