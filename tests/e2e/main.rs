//! End to end: the real reference server (a process, serving the built pages) and real
//! headless Chromium through WebDriver. One binary, a module per feature; the harness is in
//! `kefu-testkit` (server process, browser driver, page find/act/check, scripts).
#![cfg(not(target_arch = "wasm32"))]

mod accessible;
mod console;
mod faults;
mod first_look;
mod friends;
mod identity;
mod messaging;
mod original;
mod screenshots;
mod team;

use kefu_testkit::server::{Control, Server};

/// Two servers: one serves the pages (still there when the chat server is down, as a CDN
/// would be), the other carries the chat, under [`Control`]. Returns the pages server, the
/// user page URL for `uid`, the agent console URL, and the control of the chat server.
pub(crate) fn pages_apart_from_chat(
    uid: i64,
) -> (Server, String, String, (tokio::task::JoinHandle<()>, Control)) {
    // The pages come from another origin, which the chat server must allow; the console
    // served by the pages server may sign in to the chat server, which it must list.
    let pages_port = kefu_testkit::free_port();
    let chat = Server::start_with(&["--allow-origin", &format!("http://127.0.0.1:{pages_port}")]);
    let pages = Server::start_on(pages_port, &["--console-backend", &chat.url("")]);
    let backend = format!("server=ws://127.0.0.1:{}/webSocket/", chat.port);
    let url = pages.url(&format!("/?uid={uid}&token={}&{backend}", kefu_testkit::app_token(uid, None)));
    let agent_url = pages.url(&format!("/agent?{backend}"));
    (pages, url, agent_url, Control::take(chat))
}
