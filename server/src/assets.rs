//! The built web app as files on the wire: compressed once at build time (`kefu-server
//! precompress dist/`: brotli at quality 11 and gzip at level 9 beside each file), served
//! by `Accept-Encoding`; assets whose names carry a content hash cached for good, pages
//! revalidated on every visit.

use std::io::Write;
use std::path::Path;

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// Files worth compressing.
const COMPRESSIBLE: &[&str] = &["html", "js", "wasm", "css", "svg", "json", "txt"];

/// Writes `NAME.br` and `NAME.gz` beside every compressible file in `dir` (not below it);
/// returns (file, raw, gzip, brotli) byte counts.
pub fn precompress(dir: &Path) -> std::io::Result<Vec<(String, usize, usize, usize)>> {
    let mut sizes = vec![];
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let compressible =
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !path.is_file() || !compressible {
            continue;
        }
        let raw = std::fs::read(&path)?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&raw)?;
        let gzip = gzip.finish()?;
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut raw.as_slice(), &mut brotli, &params)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        std::fs::write(dir.join(format!("{name}.gz")), &gzip)?;
        std::fs::write(dir.join(format!("{name}.br")), &brotli)?;
        sizes.push((name, raw.len(), gzip.len(), brotli.len()));
    }
    Ok(sizes)
}

/// Whether a path names a file whose content is in its name (trunk's `NAME-HASH.EXT` and
/// `NAME-HASH_bg.wasm`): it never changes, so it may be cached for good.
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default().trim_end_matches("_bg");
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sets `Cache-Control` on a response of the web app: hashed assets are immutable; pages
/// (and everything else) are revalidated on each visit, so a new release is seen at once.
pub fn cache_control(path: &str, mut response: Response) -> Response {
    // A handler that knows better (the QR picture: a pure function of its query) said so.
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let value = if is_hashed(path) && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_recognised() {
        assert!(is_hashed("/kefu-9a55026f243954eb.js"));
        assert!(is_hashed("/kefu-agent-f46a2c490fe005fd_bg.wasm"));
        assert!(is_hashed("/main-c49196c97b4cfa7b.css"));
        assert!(!is_hashed("/index.html"));
        assert!(!is_hashed("/agent"));
        assert!(!is_hashed("/kefu-9a55026f.js"), "too short a hash");
    }

    #[test]
    fn precompressed_files_decompress_to_the_original() {
        let dir = std::env::temp_dir().join(format!("kefu-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let text = "<!DOCTYPE html>".repeat(100);
        std::fs::write(dir.join("index.html"), &text).expect("write");
        std::fs::write(dir.join("photo.png"), [0u8; 10]).expect("write");
        let sizes = precompress(&dir).expect("precompress");
        assert_eq!(sizes.len(), 1, "only compressible files: {sizes:?}");
        let mut out = String::new();
        let gz = std::fs::read(dir.join("index.html.gz")).expect("gz");
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut out)
            .expect("gunzip");
        assert_eq!(out, text);
        let br = std::fs::read(dir.join("index.html.br")).expect("br");
        let mut unbrotli = vec![];
        brotli::BrotliDecompress(&mut br.as_slice(), &mut unbrotli).expect("unbrotli");
        assert_eq!(unbrotli, text.as_bytes());
        let _ = std::fs::remove_dir_all(dir);
    }
}
