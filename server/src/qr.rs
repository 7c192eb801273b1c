//! An invite link as a QR code, for two phones side by side: an SVG picture whose dark
//! modules are one path (a 1×1 square each, in module units, with the 4-module quiet zone
//! around). Drawn here rather than in the page: the encoder would cost every visitor's page
//! ~15 KB gzipped for a picture few of them open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qrcode::{Color, EcLevel, QrCode};

/// Pictures kept, by link; past it the cache starts again (a link's picture never changes,
/// and drawing one costs ~2 ms of CPU).
pub const CACHED_PICTURES: usize = 1_024;

/// QR pictures already drawn, by the link they show; at most [`CACHED_PICTURES`].
#[derive(Default)]
pub struct Pictures {
    drawn: Mutex<HashMap<String, Arc<String>>>,
}

impl Pictures {
    /// The picture of `link`, drawn once.
    pub fn of(&self, link: &str) -> Option<Arc<String>> {
        if let Some(picture) = self.lock().get(link) {
            return Some(picture.clone());
        }
        let picture = Arc::new(svg(link)?);
        let mut drawn = self.lock();
        if drawn.len() >= CACHED_PICTURES {
            drawn.clear();
        }
        drawn.insert(link.to_owned(), picture.clone());
        Some(picture)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<String>>> {
        self.drawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The invite token in a link's query (`invite=TOKEN`), if any; the rest of the link is not
/// used: the picture shows the link rebuilt by [`own_invite_link`].
pub fn invite_in(link: &str) -> Option<String> {
    let (_, search) = link.split_once('?')?;
    let search = search.split('#').next().unwrap_or_default();
    form_urlencoded::parse(search.as_bytes())
        .find(|(key, _)| key == kefu_protocol::friends::INVITE_PARAM)
        .map(|(_, token)| token.into_owned())
}

/// This server's own invite link for `token`, at `origin` (`http://host:port`, the page's
/// own): the Friends page with the invite, nothing else.
pub fn own_invite_link(origin: &str, token: &str) -> String {
    let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    format!(
        "{origin}/{}?{}={token}",
        kefu_protocol::friends::FRIENDS_PAGE,
        kefu_protocol::friends::INVITE_PARAM
    )
}

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
        let (side, path) =
            svg_path("http://127.0.0.1:8080/?invite=eyJhbGciOiJIUzI1NiJ9.e30.sig").expect("fits");
        assert_eq!((side - 2 * QUIET - 21) % 4, 0, "a QR code is 21 + 4k modules wide");
        // The top-left finder pattern's corner module is dark, the quiet zone is not.
        assert!(path.starts_with("M4 4h1v1h-1z"), "{}", &path[..40]);
        assert!(!path.contains("M3 "));
        assert_eq!(svg_path(&"x".repeat(8_000)), None, "too long for any QR code");
        let picture = svg("http://127.0.0.1:8080/?invite=x").expect("fits");
        assert!(picture.starts_with("<svg xmlns=") && picture.ends_with("</svg>"), "{picture}");
    }

    #[test]
    fn only_the_invite_is_taken_from_a_link_and_the_link_is_rebuilt() {
        for link in [
            "https://evil.example/phish?invite=T",
            "javascript:alert(1)//?invite=T",
            "free text ?a=1&invite=T#x",
        ] {
            assert_eq!(invite_in(link).as_deref(), Some("T"), "{link}");
        }
        assert_eq!(invite_in("no invite here"), None);
        assert_eq!(
            own_invite_link("http://127.0.0.1:8080", "a.b+c"),
            "http://127.0.0.1:8080/friends?invite=a.b%2Bc"
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let pictures = Pictures::default();
        for n in 0..CACHED_PICTURES + 10 {
            pictures.of(&format!("http://h/friends?invite={n}")).expect("drawn");
            assert!(pictures.len() <= CACHED_PICTURES);
        }
        let a = pictures.of("http://h/friends?invite=again").expect("drawn");
        let b = pictures.of("http://h/friends?invite=again").expect("drawn");
        assert!(Arc::ptr_eq(&a, &b), "drawn once");
    }
}
