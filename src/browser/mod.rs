//! The browser side: everything that touches web APIs. The decisions are in `kefu-core`;
//! these modules carry them out.
//!
//! - [`storage`]: every key the app keeps in the browser, and the clock.
//! - [`link`]: the WebSocket, a ticking clock and wake-up events driving the connection
//!   state machine.
//! - [`chat`]: a page's chat state (model signal, courier, outbox in storage) over a link.
//! - [`identity`]: guest identity, agent sign-in, and the probe that tells a backend with
//!   accounts from one without (HTTP `/api`).
//! - [`notify`]: the console's tone and desktop notifications.
//! - [`address`]: the user page's screen and invite links in the address bar.

pub(crate) mod address;
pub(crate) mod chat;
pub(crate) mod identity;
pub(crate) mod json;
pub(crate) mod link;
pub(crate) mod notify;
pub(crate) mod storage;

use wasm_bindgen::JsValue;

/// The message of a JavaScript error (a string or an `Error`), or `fallback`.
pub(crate) fn error_text(err: &JsValue, fallback: &str) -> String {
    err.as_string()
        .or_else(|| js_sys::Reflect::get(err, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| fallback.to_owned())
}

/// Lowercased by the browser (`kefu_core::i18n::Fold`): its case tables are already there,
/// Rust's would add 7 KB to the page.
pub(crate) fn lowercase(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

/// A random number in [0, 1).
pub(crate) fn random() -> f64 {
    js_sys::Math::random()
}
