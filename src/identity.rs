//! Proving who this page is to a backend with accounts (the reference server's `/api`): the
//! visitor's guest identity (asked for once, then kept in `localStorage` so a reload is the
//! same visitor), an agent's session (from signing in, kept until it is refused or the agent
//! signs out), and the probe that tells such a backend from one without accounts (the
//! original backend has no `/api`).

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::browser::{error_text, local_storage as storage, session_storage, take_from_session};
use crate::config::PageConfig;

/// A visitor's identity from `/api/guest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    pub uid: i64,
    pub token: String,
}

/// An HTTP answer: status and body text.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_str(&self.body).map_err(|err| err.to_string())
    }
}

fn js_error(err: JsValue) -> String {
    error_text(&err, "network error")
}

/// `fetch` with an optional JSON body (POST when given or `post`), straight on web-sys:
/// smaller than an HTTP client crate for three small calls.
async fn fetch(url: &str, post: bool, json: Option<String>) -> Result<Answer, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(if post || json.is_some() { "POST" } else { "GET" });
    if let Some(json) = json {
        let headers = web_sys::Headers::new().map_err(js_error)?;
        headers.set("Content-Type", "application/json").map_err(js_error)?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(&json));
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(js_error)?;
    let response: web_sys::Response = response.dyn_into().map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?).await.map_err(js_error)?;
    Ok(Answer { status: response.status(), body: text.as_string().unwrap_or_default() })
}

/// What the backend said about accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It has accounts: agents sign in, users bring tokens.
    Accounts,
    /// It answered without an `/api`: anyone is who they say (the original backend).
    NoAccounts,
    /// It could not be asked (down, or another site that does not allow this page).
    Unreachable(String),
}

/// Why signing in failed: the server's words, or that it could not be reached.
pub type SignInError = String;

fn guest_key(api: &str) -> String {
    format!("kefu.guest.{api}")
}

fn agent_key(api: &str) -> String {
    format!("kefu.agent.{api}")
}

/// Where the reason for the last refusal waits across the reload that follows it.
const REFUSAL_KEY: &str = "kefu.refusal";
/// The guest id replaced after a refusal, so its unsent messages can move to the new one.
const PREVIOUS_GUEST_KEY: &str = "kefu.previous_guest";

pub async fn probe(config: &PageConfig) -> Probe {
    #[derive(Deserialize)]
    struct ApiConfig {
        accounts: bool,
    }
    match fetch(&format!("{}/api/config", config.api_base()), false, None).await {
        // A page served for every path (a web app's fallback) is no API.
        Ok(answer) if answer.ok() => match answer.json::<ApiConfig>() {
            Ok(ApiConfig { accounts: true }) => Probe::Accounts,
            _ => Probe::NoAccounts,
        },
        Ok(answer) if answer.status == 404 => Probe::NoAccounts,
        Ok(answer) => Probe::Unreachable(format!("HTTP {}", answer.status)),
        Err(err) => Probe::Unreachable(err),
    }
}

/// A new guest identity; `Ok(None)` when the backend has no accounts.
async fn new_guest(config: &PageConfig) -> Result<Option<Guest>, String> {
    let answer = fetch(&format!("{}/api/guest", config.api_base()), true, None).await?;
    match answer.status {
        404 => Ok(None),
        200 => answer.json::<Guest>().map(Some),
        status => Err(format!("HTTP {status}")),
    }
}

/// The visitor's proven identity, or `None` when the backend has no accounts (then any guest
/// id will do). Waits, retrying, while its own server is unreachable; another site that cannot
/// be asked is taken for one without accounts, as the original backend answers no `/api`.
pub async fn guest(config: &PageConfig) -> Option<Guest> {
    let key = guest_key(&config.api_base());
    let stored = storage().and_then(|s| s.get_item(&key).ok().flatten());
    if let Some(guest) = stored.and_then(|json| serde_json::from_str::<Guest>(&json).ok()) {
        return Some(guest);
    }
    let mut wait_ms = 500;
    loop {
        match new_guest(config).await {
            Ok(Some(guest)) => {
                if let (Some(storage), Ok(json)) = (storage(), serde_json::to_string(&guest)) {
                    let _ = storage.set_item(&key, &json);
                }
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
pub fn has_guest(config: &PageConfig) -> bool {
    storage().and_then(|s| s.get_item(&guest_key(&config.api_base())).ok().flatten()).is_some()
}

pub fn forget_guest(config: &PageConfig) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&guest_key(&config.api_base()));
    }
}

#[derive(Serialize)]
struct SignIn<'a> {
    name: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct Session {
    token: String,
}

#[derive(Deserialize)]
struct ApiError {
    error: String,
}

/// Signs an agent in; the session is kept for the next visits.
pub async fn sign_in(config: &PageConfig, name: &str, password: &str) -> Result<String, SignInError> {
    let api = config.api_base();
    let body = serde_json::to_string(&SignIn { name, password }).map_err(|err| err.to_string())?;
    let answer = fetch(&format!("{api}/api/agent/session"), true, Some(body)).await?;
    if !answer.ok() {
        return Err(match answer.json::<ApiError>() {
            Ok(body) => body.error,
            Err(_) => format!("HTTP {}", answer.status),
        });
    }
    let session = answer.json::<Session>()?;
    if let Some(storage) = storage() {
        let _ = storage.set_item(&agent_key(&api), &session.token);
    }
    Ok(session.token)
}

pub fn agent_session(config: &PageConfig) -> Option<String> {
    storage().and_then(|s| s.get_item(&agent_key(&config.api_base())).ok().flatten())
}

pub fn forget_agent_session(config: &PageConfig) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&agent_key(&config.api_base()));
    }
}

/// Starts the page again (to sign in anew), showing `reason` once it has reloaded.
pub fn restart_with(reason: &str) {
    if let Some(session) = session_storage() {
        let _ = session.set_item(REFUSAL_KEY, reason);
    }
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Remembers the guest id being replaced, across the reload.
pub fn remember_previous_guest(uid: i64) {
    if let Some(session) = session_storage() {
        let _ = session.set_item(PREVIOUS_GUEST_KEY, &uid.to_string());
    }
}

/// The guest id left by [`remember_previous_guest`], once.
pub fn take_previous_guest() -> Option<i64> {
    take_from_session(PREVIOUS_GUEST_KEY)?.parse().ok()
}

/// Moves what is stored under `from` to `to` (unless `to` holds something already).
pub fn move_stored(from: &str, to: &str) {
    let Some(storage) = storage() else { return };
    let Ok(Some(value)) = storage.get_item(from) else { return };
    if storage.get_item(to).ok().flatten().is_none() && storage.set_item(to, &value).is_ok() {
        let _ = storage.remove_item(from);
    }
}

/// The reason left by [`restart_with`], once.
pub fn take_refusal() -> Option<String> {
    take_from_session(REFUSAL_KEY)
}
