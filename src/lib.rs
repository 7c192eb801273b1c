//! Kefu web app: the user page and the agent console, compiled to WebAssembly.
//!
//! Pure logic (tested natively): [`connection`] (the connection state machine),
//! [`timeline`] and [`inbox`] (what the pages show), [`config`] (URL settings), [`i18n`].
//! Browser side: [`browser`] (storage, error text), [`link`] (WebSocket adapter), [`identity`] (guest identity, agent sign-in),
//! [`notify`] (sound and desktop alerts), [`ui`] (shared components) and the two pages.

pub mod agent_page;
pub mod browser;
pub mod chat;
pub mod config;
pub mod connection;
pub mod courier;
pub mod i18n;
pub mod identity;
pub mod inbox;
pub mod link;
pub mod negotiation;
pub mod notify;
pub mod outbox;
pub mod timeline;
pub mod ui;
pub mod user_page;

use leptos::prelude::*;

/// Storage key of the made-up guest id that lets a backend without accounts recognise a
/// returning visitor.
const GUEST_UID_KEY: &str = "kefu.guest_uid";

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
    let config = config::parse(
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
    mount_to_body(move || match (config, page) {
        (Err(message), _) => view! {
            <p class="config-error" role="alert">{texts.config_error}": "{message}</p>
        }
        .into_any(),
        (Ok(config), Page::Agent) => view! { <agent_page::AgentGate config texts /> }.into_any(),
        (Ok(config), Page::User) => view! { <user_page::UserGate config texts /> }.into_any(),
    });
}

/// A guest id made up by the page, for backends without accounts; kept in local storage so
/// that a reload is the same visitor.
fn guest_uid() -> i64 {
    let storage = browser::local_storage();
    if let Some(uid) = storage
        .as_ref()
        .and_then(|s| s.get_item(GUEST_UID_KEY).ok().flatten())
        .and_then(|stored| config::parse_guest_uid(&stored))
    {
        return uid;
    }
    let uid = config::guest_uid(js_sys::Math::random());
    if let Some(storage) = storage {
        let _ = storage.set_item(GUEST_UID_KEY, &uid.to_string());
    }
    uid
}
