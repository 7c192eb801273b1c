//! Small accesses to the browser that the glue modules share: the two storages, and the
//! text of a JavaScript error.

use wasm_bindgen::JsValue;

pub fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Per-tab storage that survives a reload of the tab.
pub fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// Reads `key` from session storage and removes it: a value left for the next load, once.
pub fn take_from_session(key: &str) -> Option<String> {
    let session = session_storage()?;
    let value = session.get_item(key).ok().flatten();
    let _ = session.remove_item(key);
    value
}

/// The message of a JavaScript error (a string or an `Error`), or `fallback`.
pub fn error_text(err: &JsValue, fallback: &str) -> String {
    err.as_string()
        .or_else(|| js_sys::Reflect::get(err, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| fallback.to_owned())
}
