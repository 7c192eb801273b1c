//! Kefu web app: the user page and the agent console, compiled to WebAssembly. The logic
//! lives in `kefu-core` (pure, tested natively); this crate is what touches the browser.
//!
//! ```text
//! browser/    web APIs: storage keys and clock, WebSocket link, chat glue, identity (/api),
//!             tone and desktop notifications
//! pages/      components: shared (status, messages, composer), user/ (`/` customer service,
//!             `/friends` friends and peer chat), agent/ (`/agent`: sign-in, conversation
//!             list, conversation, alerts)
//! main.rs     bin `kefu`: the customer-service page; friends_main.rs: bin `kefu-friends`: the
//!             Friends page; agent_main.rs: bin `kefu-agent`: the console
//! ```
// The user pages' builds leave the console out (feature `console`): what only it uses is
// unused there.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "console")), allow(dead_code))]

mod browser;
mod pages;

use kefu_core::config::PageConfig;
use kefu_core::i18n;
use leptos::prelude::*;

/// Components the wasm component tests mount on their own.
pub use pages::shared::{MessageList, StatusIndicator};
pub use pages::use_texts;

/// Which page a binary mounts. Each page is its own wasm binary (`kefu` for `/`,
/// `kefu-friends` for `/friends`, `kefu-agent` for `/agent`), so a visitor's phone does not
/// download the console, and the customer-service page not the Friends screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    User,
    Friends,
    #[cfg(any(not(target_arch = "wasm32"), feature = "console"))]
    Agent,
}

/// Mounts `page` with the settings from the URL (or the error in them).
pub fn start(page: Page) {
    match page {
        Page::User => {
            // The Friends screens and invites were once at `/`: their links lead there.
            if browser::address::moved_to_friends_page() {
                return;
            }
            mount(
                |texts| texts.title,
                |config| {
                    let title = pages::texts().service;
                    view! { <pages::user::UserGate config page=pages::user::support::page title /> }
                        .into_any()
                },
            )
        }
        Page::Friends => mount(
            |texts| texts.friends.tab,
            |config| {
                let title = pages::texts().friends.tab;
                view! { <pages::user::UserGate config page=pages::user::friends::page title /> }.into_any()
            },
        ),
        #[cfg(any(not(target_arch = "wasm32"), feature = "console"))]
        Page::Agent => {
            mount(|texts| texts.agent_title, |config| view! { <pages::agent::AgentGate config /> }.into_any())
        }
    }
}

/// Mounts what `page` makes of the settings from the URL (or the error in them), with the
/// document's title `title` in the page's language.
fn mount(
    title: fn(&'static i18n::Texts) -> &'static str,
    page: impl FnOnce(PageConfig) -> AnyView + 'static,
) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let config = kefu_core::config::parse(
        &location.protocol().unwrap_or_default(),
        &location.host().unwrap_or_default(),
        &location.search().unwrap_or_default(),
    );
    let browser_lang = window.navigator().language().unwrap_or_default();
    let lang = config.as_ref().ok().and_then(|c| c.lang).unwrap_or(&browser_lang);
    let texts = i18n::for_language(lang);
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", texts.lang);
    }
    document().set_title(title(texts));
    pages::use_texts(texts);
    mount_to_body(move || match config {
        Err(message) => view! {
            <p class="config-error" role="alert">{texts.config_error}": "{message}</p>
        }
        .into_any(),
        Ok(config) => page(config),
    });
}
