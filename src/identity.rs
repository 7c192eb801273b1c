//! Proving who this page is to a backend with accounts (the reference server's `/api`): the
//! visitor's guest identity (asked for once, then kept in `localStorage` so a reload is the
//! same visitor), an agent's session (from signing in, kept until it is refused or the agent
//! signs out), and the probe that tells such a backend from one without accounts (the
//! original backend has no `/api`).

use gloo_net::http::Request;
use serde::{Deserialize, Serialize};

use crate::config::PageConfig;

/// A visitor's identity from `/api/guest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    pub uid: i64,
    pub token: String,
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

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

fn guest_key(api: &str) -> String {
    format!("kefu.guest.{api}")
}

fn agent_key(api: &str) -> String {
    format!("kefu.agent.{api}")
}

/// Where the reason for the last refusal waits across the reload that follows it.
const REFUSAL_KEY: &str = "kefu.refusal";

pub async fn probe(config: &PageConfig) -> Probe {
    #[derive(Deserialize)]
    struct ApiConfig {
        accounts: bool,
    }
    match Request::get(&format!("{}/api/config", config.api_base())).send().await {
        // A page served for every path (a web app's fallback) is no API.
        Ok(response) if response.ok() => match response.json::<ApiConfig>().await {
            Ok(ApiConfig { accounts: true }) => Probe::Accounts,
            _ => Probe::NoAccounts,
        },
        Ok(response) if response.status() == 404 => Probe::NoAccounts,
        Ok(response) => Probe::Unreachable(format!("HTTP {}", response.status())),
        Err(err) => Probe::Unreachable(err.to_string()),
    }
}

/// A new guest identity; `Ok(None)` when the backend has no accounts.
async fn new_guest(config: &PageConfig) -> Result<Option<Guest>, String> {
    let response = Request::post(&format!("{}/api/guest", config.api_base()))
        .send()
        .await
        .map_err(|err| err.to_string())?;
    match response.status() {
        404 => Ok(None),
        200 => response.json::<Guest>().await.map(Some).map_err(|err| err.to_string()),
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
    let request = Request::post(&format!("{api}/api/agent/session"))
        .json(&SignIn { name, password })
        .map_err(|err| err.to_string())?;
    let response = request.send().await.map_err(|err| err.to_string())?;
    if !response.ok() {
        let status = response.status();
        return Err(match response.json::<ApiError>().await {
            Ok(body) => body.error,
            Err(_) => format!("HTTP {status}"),
        });
    }
    let session = response.json::<Session>().await.map_err(|err| err.to_string())?;
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
    let Some(window) = web_sys::window() else { return };
    if let Ok(Some(session)) = window.session_storage() {
        let _ = session.set_item(REFUSAL_KEY, reason);
    }
    let _ = window.location().reload();
}

/// The reason left by [`restart_with`], once.
pub fn take_refusal() -> Option<String> {
    let session = web_sys::window()?.session_storage().ok().flatten()?;
    let reason = session.get_item(REFUSAL_KEY).ok().flatten();
    let _ = session.remove_item(REFUSAL_KEY);
    reason
}
