//! Everything the pages keep in the browser, and the clock. Every storage key is spelled
//! here and nowhere else, so what the app stores can be read in one place:
//!
//! | key | storage | holds |
//! |---|---|---|
//! | `kefu.guest.{api}` | local | the guest identity the server `{api}` issued (JSON) |
//! | `kefu.guest_uid` | local | a guest id made up for a backend without accounts |
//! | `kefu.agent.{api}` | local | the agent's session token for server `{api}` |
//! | `kefu.outbox.{server}.{uid}` | local | a user's messages not yet stored (JSON) |
//! | `kefu.outbox.{server}.agent` | local | the console's replies not yet stored (JSON) |
//! | `kefu.alerts.sound`, `kefu.alerts.desktop` | local | the console's alert switches (`1`/`0`) |
//! | `kefu.refusal` | session | why the page restarted (shown once after the reload) |
//! | `kefu.previous_guest` | session | the guest id just replaced (its outbox moves on) |

/// A value kept in `localStorage`: shared by the tabs of one browser, kept across visits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    /// The guest identity issued by the server at `api` (its HTTP origin).
    Guest {
        api: String,
    },
    /// A guest id made up by the page, for backends without accounts.
    MadeUpGuestUid,
    /// The agent's session for the server at `api`.
    AgentSession {
        api: String,
    },
    /// Unsent messages of user `uid` on the backend `server` (WebSocket base).
    UserOutbox {
        server: String,
        uid: i64,
    },
    /// Unsent replies of the console on the backend `server`.
    AgentOutbox {
        server: String,
    },
    /// Private notes of the console not yet stored by the backend `server` (the console's
    /// build only: the user pages' code stays as it was).
    #[cfg(any(not(target_arch = "wasm32"), feature = "console"))]
    AgentNotes {
        server: String,
    },
    SoundAlerts,
    DesktopAlerts,
}

impl Key {
    fn name(&self) -> String {
        match self {
            Key::Guest { api } => format!("kefu.guest.{api}"),
            Key::MadeUpGuestUid => "kefu.guest_uid".into(),
            Key::AgentSession { api } => format!("kefu.agent.{api}"),
            Key::UserOutbox { server, uid } => format!("kefu.outbox.{server}.{uid}"),
            Key::AgentOutbox { server } => format!("kefu.outbox.{server}.agent"),
            #[cfg(any(not(target_arch = "wasm32"), feature = "console"))]
            Key::AgentNotes { server } => format!("kefu.notes.{server}.agent"),
            Key::SoundAlerts => "kefu.alerts.sound".into(),
            Key::DesktopAlerts => "kefu.alerts.desktop".into(),
        }
    }
}

/// A value kept in `sessionStorage`: one tab's, kept across its reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Once {
    /// Why the page restarted itself (shown once after the reload).
    Refusal,
    /// The guest id being replaced after a refusal, so its unsent messages move on.
    PreviousGuest,
}

impl Once {
    fn name(self) -> &'static str {
        match self {
            Once::Refusal => "kefu.refusal",
            Once::PreviousGuest => "kefu.previous_guest",
        }
    }
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn session() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

pub(crate) fn get(key: &Key) -> Option<String> {
    local()?.get_item(&key.name()).ok().flatten()
}

/// Stores `value`; false when the browser refuses (storage off, full).
pub(crate) fn set(key: &Key, value: &str) -> bool {
    local().is_some_and(|storage| storage.set_item(&key.name(), value).is_ok())
}

pub(crate) fn remove(key: &Key) {
    if let Some(storage) = local() {
        let _ = storage.remove_item(&key.name());
    }
}

/// Moves what is stored under `from` to `to`, unless `to` holds something already.
pub(crate) fn move_value(from: &Key, to: &Key) {
    let Some(value) = get(from) else { return };
    if get(to).is_none() && set(to, &value) {
        remove(from);
    }
}

/// Leaves `value` for the next load of this tab.
pub(crate) fn leave(key: Once, value: &str) {
    if let Some(storage) = session() {
        let _ = storage.set_item(key.name(), value);
    }
}

/// Reads what [`leave`] left, once.
pub(crate) fn take(key: Once) -> Option<String> {
    let storage = session()?;
    let value = storage.get_item(key.name()).ok().flatten();
    let _ = storage.remove_item(key.name());
    value
}

/// The page's clock: milliseconds since the Unix epoch. Every timer of the app reads this.
pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Local wall-clock time in the backend's `createTime` layout (`yyyy-MM-dd HH:mm:ss`), for
/// messages not yet stored and notices. Read from the browser's `Date`: all the page needs.
pub(crate) fn local_time() -> String {
    layout(&js_sys::Date::new_0())
}

/// The local time of `ms` (since the Unix epoch), laid out as [`local_time`].
pub(crate) fn local_time_of(ms: i64) -> String {
    layout(&js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64)))
}

fn layout(now: &js_sys::Date) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        now.get_full_year(),
        now.get_month() + 1,
        now.get_date(),
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds()
    )
}
