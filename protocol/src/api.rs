//! The reference server's HTTP API (`/api/...`): paths, request and response bodies. The
//! server, the web app and the tests all use these types, so the JSON has one definition.
//! Every error answer is [`ErrorBody`] with a non-2xx status.

use serde::{Deserialize, Serialize};

/// `GET`: what the web app needs to know before connecting ([`Config`]).
pub const CONFIG_PATH: &str = "/api/config";
/// `POST` (no body): a new guest identity ([`Guest`]).
pub const GUEST_PATH: &str = "/api/guest";
/// `POST` [`SignIn`]: an agent session ([`Session`]).
pub const AGENT_SESSION_PATH: &str = "/api/agent/session";
/// Every API path starts with this; anything else under it is 404.
pub const PREFIX: &str = "/api/";
/// `POST`, body a JWT signed with the app secret ([`crate::friends::AppFriendship`]): the
/// embedding app's backend makes two users friends or ends their friendship.
pub const APP_FRIENDSHIP_PATH: &str = "/api/app/friendship";

/// `GET /api/qr?text=LINK`: the QR code of one of this server's invite links (`LINK` carries
/// `?invite=TOKEN` with a token the server signed), as `image/svg+xml`.
/// Process up (outside `/api`, no Host or Origin check): any answer means the server is
/// there; pages probe it during an outage before opening a WebSocket.
pub const HEALTHZ_PATH: &str = "/healthz";
pub const QR_PATH: &str = "/api/qr";
/// The longest link `/api/qr` draws, in bytes.
pub const QR_MAX_TEXT_BYTES: usize = 1024;

/// Answer of [`CONFIG_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The server has accounts: agents sign in, users bring tokens. (The original backend has
    /// no `/api` at all.)
    pub accounts: bool,
    /// Origins of other backends that the console served by this server may send an agent's
    /// password to (`--console-backend`). The console signs in to its own origin, or to one
    /// of these, never to another.
    #[serde(default)]
    pub sign_in_origins: Vec<String>,
    /// How the operator names the service and greets visitors, in both languages; empty:
    /// the page's own words. Flat in the JSON (`service_name_zh`, ...).
    #[serde(flatten)]
    pub branding: Branding,
}

/// The service's name and welcome text, as the operator set them (`--service-name-zh`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    #[serde(default)]
    pub service_name_zh: String,
    #[serde(default)]
    pub service_name_en: String,
    #[serde(default)]
    pub welcome_zh: String,
    #[serde(default)]
    pub welcome_en: String,
}

impl Branding {
    /// The service name for a page in `lang` ("zh" or "en"), if the operator set one.
    pub fn service_name(&self, lang: &str) -> Option<&str> {
        Some(if lang == "zh" { &self.service_name_zh } else { &self.service_name_en }.as_str())
            .filter(|s| !s.trim().is_empty())
    }

    /// The welcome text for a page in `lang`, if the operator set one.
    pub fn welcome(&self, lang: &str) -> Option<&str> {
        Some(if lang == "zh" { &self.welcome_zh } else { &self.welcome_en }.as_str())
            .filter(|s| !s.trim().is_empty())
    }
}

/// Answer of [`APP_FRIENDSHIP_PATH`]: the friendship as it now stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friendship {
    pub a: crate::ids::UserId,
    pub b: crate::ids::UserId,
    pub friends: bool,
}

/// Answer of [`GUEST_PATH`]: a visitor's identity, kept by the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    pub uid: i64,
    #[serde(default)]
    pub name: String,
    pub token: String,
}

/// Body of [`AGENT_SESSION_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub name: String,
    pub password: String,
}

/// `DELETE` on [`AGENT_SESSION_PATH`] with `Authorization: Bearer TOKEN` signs the agent
/// out: every session of that account ends (refused at its next connection, on every
/// instance). 204, also when it had ended already; 401 for a token that is no agent session.
pub const SIGN_OUT_METHOD: &str = "DELETE";

/// Answer of [`AGENT_SESSION_PATH`]: the session token for `/webSocket/-1?token=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub name: String,
    pub token: String,
    /// Seconds the session is valid.
    pub expires_in: u64,
}

/// Every error answer: `{"error": "..."}`, said for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_documented_shape() {
        let config = Config { accounts: true, sign_in_origins: vec![], branding: Branding::default() };
        assert_eq!(
            serde_json::to_string(&config).expect("json"),
            r#"{"accounts":true,"sign_in_origins":[],"service_name_zh":"","service_name_en":"","welcome_zh":"","welcome_en":""}"#
        );
        let older: Config = serde_json::from_str(r#"{"accounts":true}"#).expect("an older server's answer");
        assert!(older.sign_in_origins.is_empty());
        let session = Session { name: "alice".into(), token: "t".into(), expires_in: 43200 };
        assert_eq!(
            serde_json::to_string(&session).expect("json"),
            r#"{"name":"alice","token":"t","expires_in":43200}"#
        );
        let guest: Guest =
            serde_json::from_str(r#"{"uid":5,"name":"Guest 0005","token":"t"}"#).expect("guest");
        assert_eq!(guest.uid, 5);
        assert_eq!(
            serde_json::to_string(&ErrorBody { error: "no".into() }).expect("json"),
            r#"{"error":"no"}"#
        );
    }
}
