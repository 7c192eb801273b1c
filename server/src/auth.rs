//! Who is on the other end of a connection, proven.
//!
//! - **Agents** have accounts (name + Argon2id password hash, in SQLite) made with
//!   `kefu-server agent add`. Signing in (`POST /api/agent/session`) returns a session token.
//! - **Guests** (visitors of the user page) get an id and a token from `POST /api/guest`; the
//!   page keeps both, so the guest stays the same person across reloads.
//! - **App users**: an embedding app that has signed its user in vouches for them with a token
//!   it signs itself with the shared secret (`--app-secret`), so the user appears under the
//!   app's own id and name.
//!
//! All tokens are JWTs (HS256). Agent and guest tokens are signed with the server's own key,
//! made at first start and kept in the database; app tokens with the app secret. A token names
//! its subject (`sub`: the user id, or `agent:NAME`) and expires (`exp`).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use kefu_protocol::ids::{Caller, UserId};
use kefu_protocol::{GUEST_UID_MIN, GUEST_UID_SPAN};
use serde::{Deserialize, Serialize};

/// How long an agent stays signed in.
pub const AGENT_SESSION_SECS: u64 = 12 * 60 * 60;
/// How long a guest token lasts; the page asks for a new guest only when it has none.
pub const GUEST_TOKEN_SECS: u64 = 365 * 24 * 60 * 60;
pub use kefu_protocol::MAX_NAME_CHARS;

const AGENT_PREFIX: &str = "agent:";

/// A proven identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// `epoch`: the account's session epoch when the session began (see the store).
    Agent { name: String, epoch: u64 },
    User {
        uid: UserId,
        name: Option<String>,
        /// A picture URL the app gave (https or http), shown on friends lists.
        avatar: Option<String>,
    },
}

/// Why a connection's identity was not accepted; the text is sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id as a string (JWT subjects are strings), or `agent:NAME`.
    sub: String,
    exp: u64,
    /// An agent session's epoch: a new password moves the account's epoch on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// An app user's picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    avatar: Option<String>,
}

struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Key {
        Key { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }
}

/// Signs and checks invite links: a JWT with the server's key, `sub` = `invite:UID`, the
/// inviter's name, and an expiry ([`kefu_protocol::friends::INVITE_SECS`]). It can never pass
/// as an identity: its subject is not a user id.
pub struct Invites {
    key: Key,
}

impl Invites {
    pub fn new(server_secret: &[u8]) -> Invites {
        Invites { key: Key::new(server_secret) }
    }

    /// `uid`'s invite token, made in their invite generation `epoch`.
    pub fn token(&self, uid: UserId, name: &str, epoch: u64) -> String {
        let invite = kefu_protocol::friends::Invite {
            sub: format!("invite:{uid}"),
            name: name.to_owned(),
            // The end of a day: the same link all day (one QR picture), then a new one.
            exp: (now() / DAY + 1) * DAY + kefu_protocol::friends::INVITE_SECS,
            epoch,
        };
        encode(&Header::new(Algorithm::HS256), &invite, &self.key.encoding).unwrap_or_default()
    }

    /// The inviter and the invite generation it was made in, if `token` is a valid invite
    /// (signed here, not expired). Whether that generation still lasts is the store's word.
    pub fn inviter(&self, token: &str) -> Option<(UserId, u64)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims =
            decode::<kefu_protocol::friends::Invite>(token, &self.key.decoding, &validation).ok()?.claims;
        Some((claims.uid()?, claims.epoch))
    }
}

const DAY: u64 = 24 * 60 * 60;

/// Why an app's friendship body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppBodyRefusal {
    /// Not signed with the app secret, expired, or living too long.
    Signature(String),
    /// Signed, but naming a number that is not a user id.
    Ids,
}

/// Checks identities; built once per server.
pub struct Auth {
    server: Key,
    app: Option<Key>,
    /// Accept user ids without a token (for apps that cannot send one, like the original
    /// mobile app). Agents always need a session.
    pub trust_user_ids: bool,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn sign(key: &Key, claims: &Claims) -> String {
    // HS256 over a small JSON value cannot fail.
    encode(&Header::new(Algorithm::HS256), claims, &key.encoding).unwrap_or_default()
}

/// Longest avatar URL kept.
const MAX_AVATAR_URL: usize = 512;

/// An avatar URL kept only if it is a plain http(s) address of bounded length (a page shows
/// it as an image; nothing else may come through).
fn clean_avatar(url: Option<String>) -> Option<String> {
    let url = url?;
    let plain = url.len() <= MAX_AVATAR_URL
        && (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\'' && c != '<' && c != '>');
    plain.then_some(url)
}

fn clean_name(name: Option<String>) -> Option<String> {
    let name = kefu_protocol::display_name(&name?);
    (!name.is_empty()).then_some(name)
}

impl Auth {
    /// `server_secret` signs agent and guest tokens; `app_secret`, if any, is shared with an
    /// embedding app.
    pub fn new(server_secret: &[u8], app_secret: Option<&[u8]>, trust_user_ids: bool) -> Auth {
        Auth { server: Key::new(server_secret), app: app_secret.map(Key::new), trust_user_ids }
    }

    pub fn agent_token(&self, name: &str, epoch: u64) -> String {
        let claims = Claims {
            sub: format!("{AGENT_PREFIX}{name}"),
            exp: now() + AGENT_SESSION_SECS,
            epoch: Some(epoch),
            name: Some(name.to_owned()),
            avatar: None,
        };
        sign(&self.server, &claims)
    }

    /// A new guest: a random id in the guest range and its token.
    pub fn new_guest(&self) -> (i64, String, String) {
        let mut bytes = [0u8; 8];
        // Without randomness there is no safe guest id; the OS source does not fail in practice.
        let _ = getrandom::fill(&mut bytes);
        let uid = GUEST_UID_MIN + (u64::from_le_bytes(bytes) % GUEST_UID_SPAN as u64) as i64;
        let name = format!("Guest {:04}", uid % 10_000);
        let claims = Claims {
            sub: uid.to_string(),
            exp: now() + GUEST_TOKEN_SECS,
            epoch: None,
            name: Some(name.clone()),
            avatar: None,
        };
        (uid, name, sign(&self.server, &claims))
    }

    /// Who a connection to `/webSocket/{uid}` with `token` is, or why it is refused.
    pub fn identify(&self, caller: Caller, token: Option<&str>) -> Result<Identity, Refusal> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return match caller {
                Caller::Agent => {
                    Err(Refusal("agent connections need a session: sign in on the agent console".into()))
                }
                Caller::User(uid) if self.trust_user_ids => {
                    Ok(Identity::User { uid, name: None, avatar: None })
                }
                Caller::User(_) => Err(Refusal("this server needs a token to prove the user id".into())),
            };
        };
        let claims = self.verify(token)?;
        let subject = claims.sub;
        if let Some(agent) = subject.strip_prefix(AGENT_PREFIX) {
            // Only the server's own key makes agent sessions (checked in verify's order).
            if caller != Caller::Agent || !claims.signed_by_server {
                return Err(Refusal("token is not for this connection".into()));
            }
            return Ok(Identity::Agent { name: agent.to_owned(), epoch: claims.epoch.unwrap_or(0) });
        }
        let Caller::User(uid) = caller else {
            return Err(Refusal("agent connections need an agent session".into()));
        };
        if subject.parse::<UserId>().ok() != Some(uid) {
            return Err(Refusal(format!("token is for user {subject}, not {uid}")));
        }
        Ok(Identity::User { uid, name: clean_name(claims.name), avatar: clean_avatar(claims.avatar) })
    }

    /// The friendship an app's backend asks for in a JWT signed with the app secret: signed,
    /// not expired, expiring within [`kefu_protocol::friends::MAX_APP_BODY_SECS`] (a captured
    /// body is worth little for long), and naming two user ids in range.
    pub fn app_friendship(
        &self,
        token: &str,
    ) -> Result<kefu_protocol::friends::AppFriendship, AppBodyRefusal> {
        /// The claims as numbers, so that an id out of range is told apart from a bad signature.
        #[derive(Deserialize)]
        struct Raw {
            a: i64,
            b: i64,
            friends: bool,
            exp: u64,
            iat: u64,
        }
        let Some(app) = &self.app else {
            return Err(AppBodyRefusal::Signature("this server has no app secret (--app-secret)".into()));
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 30;
        let raw =
            decode::<Raw>(token, &app.decoding, &validation).map(|data| data.claims).map_err(|err| {
                AppBodyRefusal::Signature(format!("not a friendship signed with the app secret: {err}"))
            })?;
        let longest = kefu_protocol::friends::MAX_APP_BODY_SECS;
        if raw.exp > now() + longest {
            return Err(AppBodyRefusal::Signature(format!(
                "a friendship body may live {longest} s at most (exp)"
            )));
        }
        match (UserId::new(raw.a), UserId::new(raw.b)) {
            (Some(a), Some(b)) => Ok(kefu_protocol::friends::AppFriendship {
                a,
                b,
                friends: raw.friends,
                exp: raw.exp,
                iat: raw.iat,
            }),
            _ => Err(AppBodyRefusal::Ids),
        }
    }

    fn verify(&self, token: &str) -> Result<Verified, Refusal> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        let mut last = None;
        let keys = std::iter::once((&self.server, true)).chain(self.app.iter().map(|k| (k, false)));
        for (key, signed_by_server) in keys {
            match decode::<Claims>(token, &key.decoding, &validation) {
                Ok(data) => {
                    let Claims { sub, name, epoch, avatar, .. } = data.claims;
                    return Ok(Verified { sub, name, epoch, avatar, signed_by_server });
                }
                Err(err) if matches!(err.kind(), ErrorKind::InvalidSignature) => last = Some(err),
                Err(err) => return Err(refusal(&err)),
            }
        }
        Err(last.map(|err| refusal(&err)).unwrap_or_else(|| Refusal("invalid token".into())))
    }
}

struct Verified {
    sub: String,
    name: Option<String>,
    avatar: Option<String>,
    epoch: Option<u64>,
    signed_by_server: bool,
}

fn refusal(err: &jsonwebtoken::errors::Error) -> Refusal {
    Refusal(match err.kind() {
        ErrorKind::ExpiredSignature => "token expired: sign in again".into(),
        ErrorKind::InvalidSignature => "token signature is not valid".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("token lacks the {claim} claim"),
        _ => format!("invalid token: {err}"),
    })
}

/// A password that could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(argon2::password_hash::Error);

/// Hashes a password for storage (Argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError)
}

/// Whether `password` matches a stored hash (false for a malformed hash).
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored_hash)
        .map(|hash| argon2::Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// An agent name: 1–64 characters, shown as written (no control, invisible or reversing
/// characters, no surrounding spaces).
pub fn valid_agent_name(name: &str) -> bool {
    !name.is_empty() && kefu_protocol::display_name(name) == name
}

/// Shortest password `kefu-server agent add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Signs an app token, as an embedding app would (for `kefu-server token` and tests).
pub fn app_token(app_secret: &[u8], uid: i64, name: Option<&str>, valid_secs: u64) -> String {
    let claims = Claims {
        sub: uid.to_string(),
        exp: now() + valid_secs,
        epoch: None,
        name: name.map(str::to_owned),
        avatar: None,
    };
    sign(&Key::new(app_secret), &claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::AGENT_UID;

    fn u(raw: i64) -> Caller {
        Caller::User(UserId::lit(raw))
    }

    fn auth() -> Auth {
        Auth::new(b"server-secret-for-tests-0123456789", Some(b"app-secret"), false)
    }

    #[test]
    fn agents_need_a_server_signed_session() {
        let auth = auth();
        let token = auth.agent_token("alice", 3);
        match auth.identify(Caller::Agent, Some(&token)) {
            Ok(Identity::Agent { name, epoch }) => assert_eq!((name.as_str(), epoch), ("alice", 3)),
            other => panic!("expected alice's session, got {other:?}"),
        }
        assert!(auth.identify(Caller::Agent, None).is_err());
        assert!(auth.identify(u(5), Some(&token)).is_err(), "an agent session is not a user");
        // The app secret cannot make agents.
        let forged = sign(
            &Key::new(b"app-secret"),
            &Claims { sub: "agent:mallory".into(), exp: now() + 60, epoch: None, name: None, avatar: None },
        );
        assert!(auth.identify(Caller::Agent, Some(&forged)).is_err());
        let app_agent = app_token(b"app-secret", AGENT_UID, None, 60);
        assert!(auth.identify(Caller::Agent, Some(&app_agent)).is_err());
    }

    #[test]
    fn an_app_user_may_come_with_a_picture_but_only_a_plain_web_address() {
        let auth = auth();
        let with = |avatar: &str| {
            let claims = Claims {
                sub: "42".into(),
                exp: now() + 60,
                epoch: None,
                name: Some("Alice".into()),
                avatar: Some(avatar.into()),
            };
            match auth.identify(u(42), Some(&sign(&Key::new(b"app-secret"), &claims))) {
                Ok(Identity::User { avatar, .. }) => avatar,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(with("https://cdn.example/a.png").as_deref(), Some("https://cdn.example/a.png"));
        assert_eq!(with("javascript:alert(1)"), None);
        assert_eq!(with("https://x/\"onerror=\"alert(1)"), None);
        assert_eq!(with(&format!("https://x/{}", "a".repeat(600))), None);
    }

    #[test]
    fn users_are_who_their_token_says() {
        let auth = auth();
        let (uid, name, token) = auth.new_guest();
        assert!((GUEST_UID_MIN..GUEST_UID_MIN + GUEST_UID_SPAN).contains(&uid));
        assert_eq!(
            auth.identify(u(uid), Some(&token)),
            Ok(Identity::User { uid: UserId::lit(uid), name: Some(name), avatar: None })
        );
        assert!(auth.identify(u(uid + 1), Some(&token)).is_err(), "another user's token");
        let app = app_token(b"app-secret", 42, Some("  Alice\u{7}  "), 60);
        assert_eq!(
            auth.identify(u(42), Some(&app)),
            Ok(Identity::User { uid: UserId::lit(42), name: Some("Alice".into()), avatar: None })
        );
        assert!(auth.identify(u(42), None).is_err(), "no token");
        assert!(auth.identify(u(42), Some("not.a.token")).is_err());
        let wrong_secret = app_token(b"guessed", 42, None, 60);
        assert_eq!(
            auth.identify(u(42), Some(&wrong_secret)),
            Err(Refusal("token signature is not valid".into()))
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let auth = auth();
        let expired = sign(
            &Key::new(b"app-secret"),
            &Claims { sub: "42".into(), exp: now() - 3600, epoch: None, name: None, avatar: None },
        );
        assert_eq!(auth.identify(u(42), Some(&expired)), Err(Refusal("token expired: sign in again".into())));
    }

    #[test]
    fn trusted_user_ids_still_leave_the_agent_protected() {
        let auth = Auth::new(b"k", None, true);
        assert_eq!(
            auth.identify(u(7), None),
            Ok(Identity::User { uid: UserId::lit(7), name: None, avatar: None })
        );
        assert!(auth.identify(Caller::Agent, None).is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(valid_agent_name("alice") && !valid_agent_name(" alice") && !valid_agent_name(""));
    }
}
