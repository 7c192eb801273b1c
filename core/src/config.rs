//! Page settings read from the URL: which backend, which user, heartbeat timing.
//! Pure parsing, no browser types.
//!
//! - `?server=ws://host:port/webSocket/`: the backend's WebSocket base; else the page's own
//!   origin (`ws(s)://<host>/webSocket/`).
//! - `?uid=N`: the user id, for backends that identify users by id in the path.
//! - `?token=T`: with `uid`, the token an embedding app signed for that user.
//! - `?heartbeat_ms=N`, `?heartbeat_timeout_ms=N`: heartbeat interval and timeout.
//! - `?lang=zh|en`: UI language; else the browser's.
//! - `?view=friends` or `?view=chat-UID`: the user page's screen (v2: the Friends tab, or the
//!   conversation with friend UID); kept in the address so that back and reload work.
//! - `?invite=T`: an invite link's token (offer "add NAME as a friend").

use kefu_protocol::{GUEST_UID_MIN, GUEST_UID_SPAN};

use crate::connection::Timing;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageConfig {
    /// WebSocket base URL; the user id is appended.
    pub server: String,
    /// Explicit user id from the URL, if any.
    pub uid: Option<i64>,
    /// Token proving `uid`, from the embedding app.
    pub token: Option<String>,
    /// Whether the backend is the page's own server (no `?server=`).
    pub same_origin: bool,
    pub timing: Timing,
    /// UI language asked for in the URL, if any.
    pub lang: Option<&'static str>,
    /// The screen the address names (user page).
    pub screen: Screen,
    /// The token of an invite link being opened.
    pub invite: Option<String>,
}

/// The user page's screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// The conversation with customer service.
    #[default]
    Support,
    /// The friends list, requests and invites.
    Friends,
    /// The conversation with friend `uid`.
    Chat(i64),
}

impl Screen {
    /// From the `view` parameter; anything unknown is the support chat.
    pub fn from_param(value: Option<&str>) -> Screen {
        match value {
            Some("friends") => Screen::Friends,
            Some(other) => other
                .strip_prefix("chat-")
                .and_then(|uid| uid.parse().ok())
                .map_or(Screen::Support, Screen::Chat),
            None => Screen::Support,
        }
    }

    /// This screen as the Friends page shows it: its list, unless a conversation.
    pub fn on_friends_page(self) -> Screen {
        match self {
            Screen::Support => Screen::Friends,
            screen => screen,
        }
    }

    /// The `view` parameter for this screen (none for the support chat).
    pub fn to_param(self) -> Option<String> {
        match self {
            Screen::Support => None,
            Screen::Friends => Some("friends".into()),
            Screen::Chat(uid) => Some(format!("chat-{uid}")),
        }
    }
}

/// The screen a query string names.
pub fn screen_in(search: &str) -> Screen {
    let query = search.strip_prefix('?').unwrap_or(search);
    let view =
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "view").map(|(_, v)| v.into_owned());
    Screen::from_param(view.as_deref())
}

/// `search` (a query string, `?` optional) with `key` set to `value`, or removed when `None`;
/// other parameters keep their order. Returns it with a leading `?` (or empty).
pub fn with_param(search: &str, key: &str, value: Option<&str>) -> String {
    let query = search.strip_prefix('?').unwrap_or(search);
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != key {
            out.append_pair(&k, &v);
        }
    }
    if let Some(value) = value {
        out.append_pair(key, value);
    }
    let out = out.finish();
    if out.is_empty() {
        out
    } else {
        format!("?{out}")
    }
}

/// The query of an invite link made from this page's: who the visitor is (`uid`, `token`)
/// and where they are (`view`) are left out; the backend and language stay.
pub fn invite_search(search: &str, invite: &str) -> String {
    let mut search = search.to_owned();
    for key in ["uid", kefu_protocol::TOKEN_PARAM, "view", kefu_protocol::friends::INVITE_PARAM] {
        search = with_param(&search, key, None);
    }
    with_param(&search, kefu_protocol::friends::INVITE_PARAM, Some(invite))
}

/// Where the Friends page is, relative to the customer-service page (`/friends` beside `/`).
pub use kefu_protocol::friends::FRIENDS_PAGE;

/// The customer-service page's address for what `search` names: `None` to stay, or the
/// Friends page (relative, with the same query) for a Friends screen or an invite, which
/// earlier versions of the page showed at `/` and whose links people still have.
pub fn friends_page_for(search: &str) -> Option<String> {
    let query = search.strip_prefix('?').unwrap_or(search);
    let invite =
        form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == kefu_protocol::friends::INVITE_PARAM);
    (invite || screen_in(search) != Screen::Support)
        .then(|| format!("{FRIENDS_PAGE}{}", with_param(search, "", None)))
}

/// The tabs' links, from one page to the other: the same visitor, backend and language;
/// no screen and no invite (the Friends page opens on its list).
pub fn tab_link(search: &str, to_friends: bool) -> String {
    let mut search = search.to_owned();
    for key in ["view", kefu_protocol::friends::INVITE_PARAM] {
        search = with_param(&search, key, None);
    }
    let page = if to_friends { FRIENDS_PAGE } else { "./" };
    format!("{page}{search}")
}

/// Reads the settings from the page's `location.protocol` (`http:`/`https:`), `location.host`
/// and `location.search` (with or without the leading `?`). Bad values are errors, not
/// silently replaced by defaults.
pub fn parse(protocol: &str, host: &str, search: &str) -> Result<PageConfig, String> {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    let mut config = PageConfig {
        server: format!("{scheme}://{host}{}", kefu_protocol::ENDPOINT_PREFIX),
        uid: None,
        token: None,
        same_origin: true,
        timing: Timing::default(),
        lang: None,
        screen: Screen::Support,
        invite: None,
    };
    let query = search.strip_prefix('?').unwrap_or(search);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "server" => {
                if !(value.starts_with("ws://") || value.starts_with("wss://")) {
                    return Err(format!("server must start with ws:// or wss://, got \"{value}\""));
                }
                config.server = value.into_owned();
                config.same_origin = false;
            }
            kefu_protocol::TOKEN_PARAM => config.token = Some(value.into_owned()).filter(|t| !t.is_empty()),
            "uid" => {
                let uid = kefu_protocol::parse_user_id(&value)
                    .filter(|uid| *uid > 0)
                    .ok_or_else(|| format!("uid must be a positive integer, got \"{value}\""))?;
                config.uid = Some(uid);
            }
            "lang" => {
                config.lang = Some(match value.as_ref() {
                    "zh" => "zh",
                    "en" => "en",
                    other => return Err(format!("lang must be zh or en, got \"{other}\"")),
                })
            }
            "view" => config.screen = Screen::from_param(Some(&value)),
            kefu_protocol::friends::INVITE_PARAM => {
                config.invite = Some(value.into_owned()).filter(|t| !t.is_empty())
            }
            "heartbeat_ms" => config.timing.heartbeat_ms = millis(&key, &value)?,
            "heartbeat_timeout_ms" => config.timing.heartbeat_timeout_ms = millis(&key, &value)?,
            _ => {}
        }
    }
    if config.token.is_some() && config.uid.is_none() {
        return Err("token needs the uid it was signed for".into());
    }
    Ok(config)
}

impl PageConfig {
    /// The backend's host (and port), as shown to the person when it is not the page's own.
    pub fn backend_host(&self) -> &str {
        let rest = self.server.split_once("://").map(|(_, rest)| rest).unwrap_or(&self.server);
        rest.split('/').next().unwrap_or_default()
    }

    /// The backend's HTTP origin (`http(s)://host[:port]`), where `/api` lives.
    pub fn api_base(&self) -> String {
        let (scheme, rest) = match self.server.split_once("://") {
            Some(("wss", rest)) => ("https", rest),
            Some((_, rest)) => ("http", rest),
            None => ("http", self.server.as_str()),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        format!("{scheme}://{authority}")
    }
}

fn millis(key: &str, value: &str) -> Result<u64, String> {
    value.parse::<u64>().ok().filter(|ms| (100..=600_000).contains(ms)).ok_or_else(|| {
        format!("{key} must be a number of milliseconds between 100 and 600000, got \"{value}\"")
    })
}

/// A guest id from a random number in [0, 1).
pub fn guest_uid(random: f64) -> i64 {
    GUEST_UID_MIN + (random.clamp(0.0, 0.999_999_999) * GUEST_UID_SPAN as f64) as i64
}

/// A stored guest id, if it is one this app could have made.
pub fn parse_guest_uid(stored: &str) -> Option<i64> {
    stored.parse::<i64>().ok().filter(|uid| (GUEST_UID_MIN..GUEST_UID_MIN + GUEST_UID_SPAN).contains(uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_same_origin() {
        let config = parse("http:", "127.0.0.1:8080", "").expect("valid");
        assert_eq!(config.server, "ws://127.0.0.1:8080/webSocket/");
        assert_eq!(config.uid, None);
        assert_eq!(config.timing, Timing::default());
        let secure = parse("https:", "kefu.example", "?").expect("valid");
        assert_eq!(secure.server, "wss://kefu.example/webSocket/");
    }

    #[test]
    fn reads_server_uid_and_timing() {
        let config = parse(
            "http:",
            "h",
            "?server=ws%3A%2F%2F10.0.0.2%3A9000%2FwebSocket%2F&uid=5&heartbeat_ms=500&heartbeat_timeout_ms=700",
        )
        .expect("valid");
        assert_eq!(config.server, "ws://10.0.0.2:9000/webSocket/");
        assert_eq!(config.uid, Some(5));
        assert_eq!((config.timing.heartbeat_ms, config.timing.heartbeat_timeout_ms), (500, 700));
        let raw = parse("http:", "h", "server=ws://h:1/webSocket/").expect("valid");
        assert_eq!(raw.server, "ws://h:1/webSocket/");
        assert_eq!(parse("http:", "h", "?lang=zh").expect("valid").lang, Some("zh"));
        assert!(config.token.is_none() && !config.same_origin);
    }

    #[test]
    fn tokens_and_the_api_origin() {
        let config = parse("https:", "kefu.example", "?uid=42&token=a.b%2Bc").expect("valid");
        assert_eq!(
            (config.uid, config.token.as_deref(), config.same_origin),
            (Some(42), Some("a.b+c"), true)
        );
        assert_eq!(config.api_base(), "https://kefu.example");
        let other = parse("http:", "h", "?server=ws://10.0.0.2:9000/webSocket/").expect("valid");
        assert_eq!(other.api_base(), "http://10.0.0.2:9000");
        assert_eq!(other.backend_host(), "10.0.0.2:9000");
        assert!(parse("http:", "h", "?token=t").is_err(), "a token without its uid");
    }

    #[test]
    fn screens_and_invites_live_in_the_address() {
        let config = parse("http:", "h", "?uid=5&view=chat-7&invite=abc").expect("config");
        assert_eq!((config.screen, config.invite.as_deref()), (Screen::Chat(7), Some("abc")));
        assert_eq!(Screen::from_param(Some("friends")), Screen::Friends);
        assert_eq!(screen_in("?uid=5").on_friends_page(), Screen::Friends);
        assert_eq!(screen_in("?view=chat-9").on_friends_page(), Screen::Chat(9));
        assert_eq!(screen_in("?a=1&view=chat-9"), Screen::Chat(9));
        assert_eq!(Screen::from_param(Some("chat-x")), Screen::Support);
        for screen in [Screen::Support, Screen::Friends, Screen::Chat(42)] {
            assert_eq!(Screen::from_param(screen.to_param().as_deref()), screen);
        }
        assert_eq!(with_param("?uid=5&lang=zh", "view", Some("friends")), "?uid=5&lang=zh&view=friends");
        // The Friends page is its own page; old addresses of its screens lead there.
        assert_eq!(friends_page_for("?uid=5&view=chat-7").as_deref(), Some("friends?uid=5&view=chat-7"));
        assert_eq!(friends_page_for("view=friends").as_deref(), Some("friends?view=friends"));
        assert_eq!(
            friends_page_for("?lang=en&invite=a.b.c").as_deref(),
            Some("friends?lang=en&invite=a.b.c")
        );
        assert_eq!(friends_page_for("?uid=5&lang=en"), None);
        assert_eq!(friends_page_for(""), None);
        assert_eq!(tab_link("?uid=5&token=t&view=chat-7&lang=en", false), "./?uid=5&token=t&lang=en");
        assert_eq!(tab_link("?uid=5&invite=x", true), "friends?uid=5");
        assert_eq!(tab_link("", true), "friends");
        assert_eq!(with_param("?view=friends&uid=5", "view", Some("chat-7")), "?uid=5&view=chat-7");
        assert_eq!(with_param("?view=friends", "view", None), "");
        assert_eq!(
            invite_search("?uid=5&token=secret&view=friends&lang=zh&invite=old", "tok en"),
            "?lang=zh&invite=tok+en",
            "an invite never carries the inviter's identity"
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse("http:", "h", "?uid=abc").is_err());
        assert!(parse("http:", "h", "?uid=-1").is_err(), "-1 is the agent");
        assert!(parse("http:", "h", "?server=http://h/").is_err());
        assert!(parse("http:", "h", "?heartbeat_ms=5").is_err());
        assert!(parse("http:", "h", "?lang=fr").is_err());
    }

    #[test]
    fn guest_ids_stay_in_their_range() {
        for random in [0.0, 0.5, 0.999_999_999_9, 1.0] {
            let uid = guest_uid(random);
            assert_eq!(parse_guest_uid(&uid.to_string()), Some(uid));
            assert!(uid < (1 << 53));
        }
        assert_eq!(parse_guest_uid("5"), None);
        assert_eq!(parse_guest_uid("junk"), None);
    }
}
