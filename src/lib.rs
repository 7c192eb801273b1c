//! Kefu web app: the user page and the agent console, compiled to WebAssembly. The logic
//! lives in `kefu-core` (pure, tested natively); this crate is what touches the browser.
//!
//! ```text
//! browser/    web APIs: storage keys and clock, WebSocket link, chat glue, identity (/api),
//!             tone and desktop notifications
//! pages/      components: shared (status, messages, composer), user/ (`/`), agent/ (`/agent`:
//!             sign-in, conversation list, conversation, alerts)
//! main.rs     bin `kefu`: the user page; agent_main.rs: bin `kefu-agent`: the console
//! ```

mod browser;
mod pages;

use kefu_core::i18n;
use leptos::prelude::*;

/// Components the wasm component tests mount on their own.
pub use pages::shared::{MessageList, StatusIndicator};
pub use pages::use_texts;

/// Which page a binary mounts. Each page is its own wasm binary (`kefu` for `/`,
/// `kefu-agent` for `/agent`), so a visitor's phone does not download the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    User,
    Agent,
}

/// Mounts `page` with the settings from the URL (or the error in them).
pub fn start(page: Page) {
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
    document().set_title(if page == Page::Agent { texts.agent_title } else { texts.title });
    pages::use_texts(texts);
    mount_to_body(move || match (config, page) {
        (Err(message), _) => view! {
            <p class="config-error" role="alert">{texts.config_error}": "{message}</p>
        }
        .into_any(),
        (Ok(config), Page::Agent) => view! { <pages::agent::AgentGate config /> }.into_any(),
        (Ok(config), Page::User) => view! { <pages::user::UserGate config /> }.into_any(),
    });
}
