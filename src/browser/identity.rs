//! Who this page is to the backend. Against a backend with accounts (the reference server's
//! `/api`): the visitor's guest identity (asked for once, then kept so a reload is the same
//! visitor) and an agent's session (from signing in, kept until refused or signed out).
//! Against one without (the original backend has no `/api`): a guest id made up once.
//! Whether a backend has accounts is asked over HTTP, and, when another site's backend cannot
//! be asked that way (the original sends no CORS headers), over its WebSocket.

use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use kefu_core::config::PageConfig;
use kefu_protocol::api;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::json::JsObject;
use super::storage::{self, Key, Once};
use super::{error_text, random};

/// An HTTP answer: status and body text.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body read as `T`, through `read` (one of the protocol's `from_fields`).
    fn json<T>(&self, read: impl Fn(&JsObject) -> Option<T>) -> Result<T, String> {
        JsObject::parse(&self.body)
            .as_ref()
            .and_then(read)
            .ok_or_else(|| format!("unexpected answer: HTTP {}", self.status))
    }

    /// The server's own words for an error answer, else its status.
    fn error(&self) -> String {
        match self.json(api::ErrorBody::from_fields) {
            Ok(body) => body.error,
            Err(_) => format!("HTTP {}", self.status),
        }
    }
}

fn js_error(err: JsValue) -> String {
    error_text(&err, "network error")
}

/// `fetch` with an optional JSON body (POST when given or `post`), straight on web-sys:
/// smaller than an HTTP client crate for three small calls.
async fn fetch(url: &str, post: bool, json: Option<String>) -> Result<Answer, String> {
    fetch_as(url, if post || json.is_some() { "POST" } else { "GET" }, json, None).await
}

/// `fetch` with any method, an optional JSON body and an optional bearer token.
async fn fetch_as(
    url: &str,
    method: &str,
    json: Option<String>,
    bearer: Option<&str>,
) -> Result<Answer, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(js_error)?;
    if let Some(token) = bearer {
        headers.set("Authorization", &format!("Bearer {token}")).map_err(js_error)?;
    }
    if let Some(json) = json {
        headers.set("Content-Type", "application/json").map_err(js_error)?;
        init.set_body(&JsValue::from_str(&json));
    }
    init.set_headers(&headers);
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(js_error)?;
    let response: web_sys::Response = response.dyn_into().map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?).await.map_err(js_error)?;
    Ok(Answer { status: response.status(), body: text.as_string().unwrap_or_default() })
}

/// What the backend said about accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// It has accounts: agents sign in, users bring tokens.
    Accounts,
    /// It answered without an `/api`: anyone is who they say (the original backend).
    NoAccounts,
    /// It could not be asked (down, or another site that does not allow this page).
    Unreachable(String),
}

pub(crate) async fn probe(config: &PageConfig) -> Probe {
    match fetch(&format!("{}{}", config.api_base(), api::CONFIG_PATH), false, None).await {
        // A page served for every path (a web app's fallback) is no API.
        Ok(answer) if answer.ok() => match answer.json(api::Config::from_fields) {
            Ok(api::Config { accounts: true, .. }) => Probe::Accounts,
            _ => Probe::NoAccounts,
        },
        Ok(answer) if answer.status == 404 => Probe::NoAccounts,
        Ok(answer) => Probe::Unreachable(format!("HTTP {}", answer.status)),
        Err(err) => match probe_socket(config).await {
            Probe::Unreachable(_) => Probe::Unreachable(err),
            found => found,
        },
    }
}

/// How long the WebSocket probe waits for an answer.
const SOCKET_PROBE_MS: u32 = 5_000;

/// Asks the backend's WebSocket itself: a heartbeat without a token is answered by a backend
/// without accounts, and refused (4401) by one with them. It connects as a made-up guest, never
/// as the agent: the original backend would drop an agent console already connected.
async fn probe_socket(config: &PageConfig) -> Probe {
    let uid = kefu_core::config::guest_uid(random());
    let url = kefu_protocol::endpoint_url(&config.server, uid);
    let Ok(mut socket) = WebSocket::open(&url) else {
        return Probe::Unreachable(format!("cannot open a WebSocket to {url}"));
    };
    let answer = async {
        socket.send(Message::Text(kefu_protocol::HEARTBEAT.to_owned())).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text == kefu_protocol::HEARTBEAT_ACK => return Ok(true),
                // Presence and other broadcasts may come first.
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err),
                None => return Ok(false),
            }
        }
    };
    let timeout = gloo_timers::future::TimeoutFuture::new(SOCKET_PROBE_MS);
    let found = futures::select! {
        answer = answer.fuse() => answer,
        () = timeout.fuse() => Ok(false),
    };
    let _ = socket.close(Some(1000), None);
    match found {
        Ok(true) => Probe::NoAccounts,
        Err(WebSocketError::ConnectionClose(close)) if close.code == kefu_protocol::CLOSE_UNAUTHORIZED => {
            Probe::Accounts
        }
        Err(err) => Probe::Unreachable(err.to_string()),
        Ok(false) => Probe::Unreachable(format!("no answer from {url}")),
    }
}

/// The backend's settings for the pages (service name, welcome text); `None` when it has
/// none to give (the original backend), and the pages use their own.
pub(crate) async fn settings(config: &PageConfig) -> Option<api::Config> {
    let answer = fetch(&format!("{}{}", config.api_base(), api::CONFIG_PATH), false, None).await.ok()?;
    answer.ok().then(|| answer.json(api::Config::from_fields).ok()).flatten()
}

/// A new guest identity; `Ok(None)` when the backend has no accounts.
async fn new_guest(config: &PageConfig) -> Result<Option<api::Guest>, String> {
    let answer = fetch(&format!("{}{}", config.api_base(), api::GUEST_PATH), true, None).await?;
    match answer.status {
        404 => Ok(None),
        200 => answer.json(api::Guest::from_fields).map(Some),
        status => Err(format!("HTTP {status}")),
    }
}

/// The visitor's proven identity, or `None` when the backend has no accounts (then any guest
/// id will do). Waits, retrying, while its own server is unreachable; another site that cannot
/// be asked is taken for one without accounts, as the original backend answers no `/api`.
pub(crate) async fn guest(config: &PageConfig) -> Option<api::Guest> {
    let key = Key::Guest { api: config.api_base() };
    let kept =
        storage::get(&key).and_then(|json| JsObject::parse(&json)).and_then(|o| api::Guest::from_fields(&o));
    if let Some(guest) = kept {
        return Some(guest);
    }
    let mut wait_ms = 500;
    loop {
        match new_guest(config).await {
            Ok(Some(guest)) => {
                storage::set(&key, &guest.to_fields::<JsObject>().to_json());
                return Some(guest);
            }
            Ok(None) => return None,
            Err(_) if !config.same_origin => return None,
            Err(_) => {
                gloo_timers::future::TimeoutFuture::new(wait_ms).await;
                wait_ms = (wait_ms * 2).min(5_000);
            }
        }
    }
}

/// Whether a guest identity is kept for this backend.
pub(crate) fn has_guest(config: &PageConfig) -> bool {
    storage::get(&Key::Guest { api: config.api_base() }).is_some()
}

pub(crate) fn forget_guest(config: &PageConfig) {
    storage::remove(&Key::Guest { api: config.api_base() });
}

/// A guest id made up by the page, for backends without accounts; kept so that a reload is
/// the same visitor.
pub(crate) fn made_up_guest_uid() -> i64 {
    if let Some(uid) = storage::get(&Key::MadeUpGuestUid).and_then(|s| kefu_core::config::parse_guest_uid(&s))
    {
        return uid;
    }
    let uid = kefu_core::config::guest_uid(random());
    storage::set(&Key::MadeUpGuestUid, &uid.to_string());
    uid
}

/// Whether this page may send an agent's password to its backend: its own origin always;
/// another only when the page's own server lists it (`--console-backend`), so that a link
/// with `?server=` pointing elsewhere cannot collect an agent's password.
pub(crate) async fn may_sign_in(config: &PageConfig) -> bool {
    let own = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    let backend = config.api_base();
    if config.same_origin || backend.eq_ignore_ascii_case(&own) {
        return true;
    }
    match fetch(api::CONFIG_PATH, false, None).await {
        Ok(answer) if answer.ok() => answer
            .json(api::Config::from_fields)
            .is_ok_and(|c| c.sign_in_origins.iter().any(|origin| origin.eq_ignore_ascii_case(&backend))),
        _ => false,
    }
}

/// An agent's session: who signed in, and the token that proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentSession {
    pub(crate) name: String,
    pub(crate) token: String,
}

/// Signs an agent in; the session is kept for the next visits.
pub(crate) async fn sign_in(config: &PageConfig, name: &str, password: &str) -> Result<AgentSession, String> {
    let api = config.api_base();
    let body = api::SignIn { name: name.to_owned(), password: password.to_owned() };
    let body = body.to_fields::<JsObject>().to_json();
    let answer = fetch(&format!("{api}{}", api::AGENT_SESSION_PATH), true, Some(body)).await?;
    if !answer.ok() {
        return Err(answer.error());
    }
    let session = answer.json(api::Session::from_fields)?;
    storage::set(&Key::AgentSession { api }, &answer.body);
    Ok(AgentSession { name: session.name, token: session.token })
}

pub(crate) fn agent_session(config: &PageConfig) -> Option<AgentSession> {
    let kept = storage::get(&Key::AgentSession { api: config.api_base() })?;
    match JsObject::parse(&kept).and_then(|o| api::Session::from_fields(&o)) {
        Some(session) => Some(AgentSession { name: session.name, token: session.token }),
        // Kept by an earlier version: the token alone.
        None => Some(AgentSession { name: String::new(), token: kept }),
    }
}

/// How long signing out waits for the backend before giving up on telling it.
const SIGN_OUT_WAIT_MS: u32 = 3_000;

/// Tells the backend this agent signs out, which ends every session of the account; why it
/// could not be told, if it could not. A session the backend no longer takes (401) has ended.
pub(crate) async fn end_agent_session(config: &PageConfig) -> Result<(), String> {
    let Some(session) = agent_session(config) else { return Ok(()) };
    let url = format!("{}{}", config.api_base(), api::AGENT_SESSION_PATH);
    let told = fetch_as(&url, api::SIGN_OUT_METHOD, None, Some(&session.token)).fuse();
    let waited = gloo_timers::future::TimeoutFuture::new(SIGN_OUT_WAIT_MS).fuse();
    futures::pin_mut!(told, waited);
    let answer = futures::select! {
        answer = told => answer?,
        _ = waited => return Err(format!("no answer within {} s", SIGN_OUT_WAIT_MS / 1_000)),
    };
    if answer.ok() || answer.status == 401 {
        Ok(())
    } else {
        Err(answer.error())
    }
}

pub(crate) fn forget_agent_session(config: &PageConfig) {
    storage::remove(&Key::AgentSession { api: config.api_base() });
}

/// Starts the page again (to sign in anew), showing `reason` once it has reloaded.
pub(crate) fn restart_with(reason: &str) {
    storage::leave(Once::Refusal, reason);
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// The reason left by [`restart_with`], once.
pub(crate) fn take_refusal() -> Option<String> {
    storage::take(Once::Refusal)
}

/// Remembers the guest id being replaced, across the reload.
pub(crate) fn remember_previous_guest(uid: i64) {
    storage::leave(Once::PreviousGuest, &uid.to_string());
}

/// Moves the unsent messages of a guest replaced after a refusal to the new guest `uid`.
pub(crate) fn adopt_previous_guest_outbox(config: &PageConfig, uid: i64) {
    let previous = storage::take(Once::PreviousGuest).and_then(|p| p.parse::<i64>().ok());
    if let Some(previous) = previous.filter(|p| *p != uid) {
        let from = Key::UserOutbox { server: config.server.clone(), uid: previous };
        storage::move_value(&from, &Key::UserOutbox { server: config.server.clone(), uid });
    }
}
