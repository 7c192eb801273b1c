//! What the person sees: the two pages and the components they share. Components read the
//! state kept by `crate::browser` and render `kefu-core`'s models; UI texts are chosen once
//! per page ([`use_texts`] at mount) and read anywhere with [`texts`], not passed down.
//!
//! - [`shared`]: status indicator, message list, avatar, composer, emoji.
//! - [`user`]: `/`, chat with customer service.
//! - [`agent`]: `/agent`, the console (sign-in, conversation list, conversation, alerts).

#[cfg(any(not(target_arch = "wasm32"), feature = "console"))]
pub(crate) mod agent;
pub(crate) mod shared;
pub(crate) mod user;

use std::cell::Cell;

use kefu_core::i18n::{Texts, EN};

thread_local! {
    /// One page per wasm instance, one language per page: a value, not a context lookup
    /// (Leptos' context map costs the page more than this).
    static TEXTS: Cell<&'static Texts> = const { Cell::new(&EN) };
}

/// Sets the page's UI texts (at mount, before any component reads them).
pub fn use_texts(texts: &'static Texts) {
    TEXTS.with(|cell| cell.set(texts));
}

/// The page's UI texts (English until [`use_texts`] is called).
pub(crate) fn texts() -> &'static Texts {
    TEXTS.with(Cell::get)
}
