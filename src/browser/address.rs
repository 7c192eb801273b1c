//! The address bar as the user's pages use it: the Friends page's screen (`?view=`, pushed on
//! every move so that the back gesture and a reload work), invite links (`?invite=`), and the
//! query the tabs carry from one page to the other. The URL rules are in `kefu_core::config`.

use kefu_core::config::{invite_search, screen_in, with_param, Screen};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::json::JsObject;
use kefu_protocol::fields::Fields;

fn location() -> Option<web_sys::Location> {
    web_sys::window().map(|w| w.location())
}

/// The page's query string (with its `?`, or empty).
pub(crate) fn search() -> String {
    location().and_then(|l| l.search().ok()).unwrap_or_default()
}

/// The Friends page's screen the address names now: its list unless a conversation.
fn current() -> Screen {
    screen_in(&search()).on_friends_page()
}

/// Keeps `screen` in step with the address when the person goes back or forward.
pub(crate) fn follow(screen: RwSignal<Screen>) {
    let Some(window) = web_sys::window() else { return };
    let on_pop = Closure::<dyn Fn()>::new(move || screen.set(current()));
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    // Lives as long as the page.
    on_pop.forget();
}

/// Shows `to`, as a new entry in the browser's history.
pub(crate) fn go(screen: RwSignal<Screen>, to: Screen) {
    if screen.get_untracked() == to {
        return;
    }
    let url = with_param(&search(), "view", to.to_param().as_deref());
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let path = location().and_then(|l| l.pathname().ok()).unwrap_or_default();
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("{path}{url}")));
    }
    screen.set(to);
}

/// On the customer-service page: an address of earlier versions that names a Friends screen
/// or an invite is replaced by the same on the Friends page. Returns whether it was.
pub(crate) fn moved_to_friends_page() -> bool {
    let Some(friends) = kefu_core::config::friends_page_for(&search()) else { return false };
    if let Some(location) = location() {
        let _ = location.replace(&friends);
    }
    true
}

/// Removes the invite from the address once it has been answered (a reload must not offer
/// it again).
pub(crate) fn forget_invite() {
    let url = with_param(&search(), kefu_protocol::friends::INVITE_PARAM, None);
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let path = location().and_then(|l| l.pathname().ok()).unwrap_or_default();
        let _ =
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("{path}{url}")));
    }
}

/// The link that invites others to befriend the person, from this page's address.
pub(crate) fn invite_link(token: &str) -> String {
    let Some(location) = location() else { return String::new() };
    let origin = location.origin().unwrap_or_default();
    let path = location.pathname().unwrap_or_default();
    format!("{origin}{path}{}", invite_search(&search(), token))
}

/// Who an invite token says it is from (uid, name): read, not checked (the server checks).
pub(crate) fn inviter(token: &str) -> Option<(kefu_protocol::ids::UserId, String)> {
    let payload = token.split('.').nth(1)?;
    // base64url without padding → base64, which the browser decodes.
    let mut base64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !base64.len().is_multiple_of(4) {
        base64.push('=');
    }
    let binary = web_sys::window()?.atob(&base64).ok()?;
    // atob gives one char per byte: rebuild the UTF-8 text.
    let bytes: Vec<u8> = binary.chars().map(|c| c as u32 as u8).collect();
    let claims = JsObject::parse(&String::from_utf8(bytes).ok()?)?;
    let invite = kefu_protocol::friends::Invite {
        sub: claims.string("sub")?,
        name: claims.string("name").unwrap_or_default(),
        exp: 0,
        epoch: 0,
    };
    Some((invite.uid()?, invite.name))
}

/// Puts `text` on the clipboard.
pub(crate) fn copy(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}
