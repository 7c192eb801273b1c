//! Frames and `/api` bodies as JSON objects read and written field by field. The web app lets
//! the browser parse and print JSON (`JSON.parse`, `JSON.stringify`) and goes through
//! [`Fields`] and [`FieldsOut`], instead of carrying a JSON library and a derived
//! (de)serializer per type in its wasm (about 25 KB of the page). The same code runs natively
//! over `serde_json::Value`, and the tests check that it agrees with the serde derives (which
//! the server uses) on every frame and body.

use crate::api;
use crate::v1::{ClientMessage, ErrorCode, Message, Position, ServerMessage};
use crate::{ChatMessage, Role};

/// A parsed JSON object: what the decoders need of it.
pub trait Fields: Sized {
    fn string(&self, key: &str) -> Option<String>;
    /// An integer (JSON numbers are read as such when they are whole and in range).
    fn integer(&self, key: &str) -> Option<i64>;
    fn boolean(&self, key: &str) -> Option<bool>;
    /// The objects of an array field.
    fn objects(&self, key: &str) -> Option<Vec<Self>>;
    /// The strings of an array field.
    fn strings(&self, key: &str) -> Option<Vec<String>>;
    /// An object field.
    fn object(&self, key: &str) -> Option<Self>;
}

/// A JSON object being written.
pub trait FieldsOut: Sized {
    fn new_object() -> Self;
    fn put_string(&mut self, key: &str, value: &str);
    fn put_integer(&mut self, key: &str, value: i64);
    fn put_boolean(&mut self, key: &str, value: bool);
    fn put_objects(&mut self, key: &str, items: Vec<Self>);
}

/// An id field, read only within its kind's range ([`crate::ids`]).
fn id<F: Fields, T: TryFrom<i64>>(object: &F, key: &str) -> Option<T> {
    object.integer(key).and_then(|n| T::try_from(n).ok())
}

fn unsigned<F: Fields>(object: &F, key: &str) -> Option<u64> {
    object.integer(key).and_then(|n| u64::try_from(n).ok())
}

impl Role {
    fn from_wire(name: &str) -> Option<Role> {
        match name {
            "user" => Some(Role::User),
            "ai" => Some(Role::Agent),
            _ => None,
        }
    }
}

impl ErrorCode {
    /// The code as it is spelled on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Binary => "binary",
            ErrorCode::Oversize => "oversize",
            ErrorCode::EmptyText => "empty_text",
            ErrorCode::BadId => "bad_id",
            ErrorCode::UnknownConversation => "unknown_conversation",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::AlreadyResumed => "already_resumed",
            ErrorCode::TooMany => "too_many",
            ErrorCode::NotFriends => "not_friends",
            ErrorCode::Blocked => "blocked",
            ErrorCode::TooManyFriends => "too_many_friends",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::BadInvite => "bad_invite",
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            ErrorCode::AgentsOnly => "agents_only",
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            ErrorCode::NoSuchAgent => "no_such_agent",
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            ErrorCode::OverCapacity => "over_capacity",
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            ErrorCode::AlreadyTaken => "already_taken",
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            ErrorCode::BadCanned => "bad_canned",
            ErrorCode::Other => "other",
            // The team's codes reach the console only (its build reads them).
            #[cfg(not(any(not(target_arch = "wasm32"), feature = "team-fields")))]
            _ => "other",
        }
    }

    fn from_wire(name: &str) -> ErrorCode {
        const KNOWN: [ErrorCode; 16] = [
            ErrorCode::Malformed,
            ErrorCode::UnknownType,
            ErrorCode::Binary,
            ErrorCode::Oversize,
            ErrorCode::EmptyText,
            ErrorCode::BadId,
            ErrorCode::UnknownConversation,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::AlreadyResumed,
            ErrorCode::TooMany,
            ErrorCode::NotFriends,
            ErrorCode::Blocked,
            ErrorCode::TooManyFriends,
            ErrorCode::UnknownUser,
            ErrorCode::BadInvite,
        ];
        // The team's codes reach the console only.
        #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
        const TEAM: [ErrorCode; 5] = [
            ErrorCode::AgentsOnly,
            ErrorCode::NoSuchAgent,
            ErrorCode::OverCapacity,
            ErrorCode::AlreadyTaken,
            ErrorCode::BadCanned,
        ];
        #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
        let mut known = KNOWN.into_iter().chain(TEAM);
        #[cfg(not(any(not(target_arch = "wasm32"), feature = "team-fields")))]
        let mut known = KNOWN.into_iter();
        known.find(|code| code.as_str() == name).unwrap_or(ErrorCode::Other)
    }
}

impl ChatMessage {
    /// A chat message as the original backend sends it; `username`, `avatar` and
    /// `createTime` may be missing.
    pub fn from_fields(object: &impl Fields) -> Option<ChatMessage> {
        Some(ChatMessage {
            uid: object.integer("uid")?,
            role: Role::from_wire(&object.string("role")?)?,
            username: object.string("username").unwrap_or_default(),
            avatar: object.string("avatar").unwrap_or_default(),
            create_time: object.string("createTime").unwrap_or_default(),
            text: object.string("text")?,
        })
    }
}

impl Message {
    pub fn from_fields(object: &impl Fields) -> Option<Message> {
        Some(Message {
            conversation: id(object, "conversation")?,
            seq: unsigned(object, "seq")?,
            id: object.string("id")?,
            uid: object.integer("uid")?,
            role: Role::from_wire(&object.string("role")?)?,
            username: object.string("username")?,
            avatar: object.string("avatar")?,
            create_time: object.string("createTime")?,
            text: object.string("text")?,
        })
    }
}

impl ServerMessage {
    /// A v1 frame from its parsed object; `None` when it is not one.
    pub fn from_fields<F: Fields>(object: &F) -> Option<ServerMessage> {
        let conversation = || id(object, "conversation");
        Some(match object.string("type")?.as_str() {
            "message" => ServerMessage::Message(Message::from_fields(object)?),
            "ack" => ServerMessage::Ack {
                id: object.string("id")?,
                conversation: conversation()?,
                seq: unsigned(object, "seq")?,
            },
            "ready" => ServerMessage::Ready,
            "history" => ServerMessage::History {
                conversation: conversation()?,
                messages: object
                    .objects("messages")?
                    .iter()
                    .map(Message::from_fields)
                    .collect::<Option<_>>()?,
                has_more: object.boolean("has_more")?,
            },
            "presence" => ServerMessage::Presence {
                conversation: conversation()?,
                online: object.boolean("online")?,
                name: object.string("name"),
            },
            "read" => ServerMessage::Read {
                conversation: conversation()?,
                agent: object.boolean("agent")?,
                seq: unsigned(object, "seq")?,
            },
            "typing" => {
                ServerMessage::Typing { conversation: conversation()?, agent: object.boolean("agent")? }
            }
            "agents" => ServerMessage::Agents { online: object.boolean("online")? },
            "friends" => ServerMessage::Friends(crate::friends::Friends::from_fields(object)?),
            "friend_presence" => {
                ServerMessage::FriendPresence { uid: id(object, "uid")?, online: object.boolean("online")? }
            }
            "member_read" => ServerMessage::MemberRead {
                conversation: conversation()?,
                uid: id(object, "uid")?,
                seq: unsigned(object, "seq")?,
            },
            "member_typing" => {
                ServerMessage::MemberTyping { conversation: conversation()?, uid: id(object, "uid")? }
            }
            "error" => ServerMessage::Error {
                code: ErrorCode::from_wire(&object.string("code")?),
                message: object.string("message")?,
                id: object.string("id"),
            },
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            other => return crate::team::server_from_fields(other, object),
            #[cfg(not(any(not(target_arch = "wasm32"), feature = "team-fields")))]
            _ => return None,
        })
    }
}

impl ClientMessage {
    /// The frame as a JSON object (absent optional fields are left out).
    pub fn to_fields<O: FieldsOut>(&self) -> O {
        let mut out = O::new_object();
        let kind = match self {
            ClientMessage::Resume { .. } => "resume",
            ClientMessage::Send { .. } => "send",
            ClientMessage::Typing { .. } => "typing",
            ClientMessage::Read { .. } => "read",
            ClientMessage::History { .. } => "history",
            ClientMessage::Befriend { .. } => "befriend",
            ClientMessage::Answer { .. } => "answer",
            ClientMessage::Cancel { .. } => "cancel",
            ClientMessage::Unfriend { .. } => "unfriend",
            ClientMessage::Block { .. } => "block",
            ClientMessage::Unblock { .. } => "unblock",
            ClientMessage::NewInvite => "new_invite",
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            team => crate::team::kind(team),
        };
        out.put_string("type", kind);
        let seq = |seq: u64| i64::try_from(seq).unwrap_or(i64::MAX);
        match self {
            ClientMessage::Resume { after } => {
                let positions = after
                    .iter()
                    .map(|Position { conversation, seq: at }| {
                        let mut position = O::new_object();
                        position.put_integer("conversation", conversation.get());
                        position.put_integer("seq", seq(*at));
                        position
                    })
                    .collect();
                out.put_objects("after", positions);
            }
            ClientMessage::Send { id, conversation, text } => {
                out.put_string("id", id);
                if let Some(conversation) = conversation {
                    out.put_integer("conversation", conversation.get());
                }
                out.put_string("text", text);
            }
            ClientMessage::Typing { conversation } => {
                if let Some(conversation) = conversation {
                    out.put_integer("conversation", conversation.get());
                }
            }
            ClientMessage::Read { conversation, seq: at } => {
                if let Some(conversation) = conversation {
                    out.put_integer("conversation", conversation.get());
                }
                out.put_integer("seq", seq(*at));
            }
            ClientMessage::History { conversation, before, limit } => {
                out.put_integer("conversation", conversation.get());
                out.put_integer("before", seq(*before));
                if let Some(limit) = limit {
                    out.put_integer("limit", i64::from(*limit));
                }
            }
            ClientMessage::Befriend { uid, note, invite } => {
                out.put_integer("uid", uid.get());
                if !note.is_empty() {
                    out.put_string("note", note);
                }
                if let Some(invite) = invite {
                    out.put_string("invite", invite);
                }
            }
            ClientMessage::Answer { uid, accept } => {
                out.put_integer("uid", uid.get());
                out.put_boolean("accept", *accept);
            }
            ClientMessage::Cancel { uid }
            | ClientMessage::Unfriend { uid }
            | ClientMessage::Block { uid }
            | ClientMessage::Unblock { uid } => out.put_integer("uid", uid.get()),
            ClientMessage::NewInvite => {}
            #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
            team => crate::team::client_to_fields(team, &mut out),
        }
        out
    }
}

impl crate::friends::Person {
    pub fn from_fields(object: &impl Fields) -> Option<crate::friends::Person> {
        Some(crate::friends::Person {
            uid: id(object, "uid")?,
            name: object.string("name")?,
            avatar: object.string("avatar").unwrap_or_default(),
        })
    }
}

impl crate::friends::Friends {
    pub fn from_fields<F: Fields>(object: &F) -> Option<crate::friends::Friends> {
        use crate::friends::{Friend, Person, Request};
        let friend = |item: &F| {
            Some(Friend {
                person: Person::from_fields(item)?,
                conversation: id(item, "conversation")?,
                online: item.boolean("online")?,
                last: match item.object("last") {
                    Some(last) => Some(Message::from_fields(&last)?),
                    None => None,
                },
                unread: unsigned(item, "unread").unwrap_or(0),
            })
        };
        let request = |item: &F| {
            Some(Request {
                person: Person::from_fields(item)?,
                note: item.string("note").unwrap_or_default(),
                sent: unsigned(item, "sent")?,
            })
        };
        Some(crate::friends::Friends {
            friends: object.objects("friends")?.iter().map(friend).collect::<Option<_>>()?,
            incoming: object.objects("incoming")?.iter().map(request).collect::<Option<_>>()?,
            outgoing: object.objects("outgoing")?.iter().map(request).collect::<Option<_>>()?,
            blocked: object.objects("blocked")?.iter().map(Person::from_fields).collect::<Option<_>>()?,
            invite: object.string("invite")?,
        })
    }
}

impl api::Config {
    pub fn from_fields(object: &impl Fields) -> Option<api::Config> {
        let origins = object.strings("sign_in_origins").unwrap_or_default();
        let branding = api::Branding::from_fields(object);
        Some(api::Config { accounts: object.boolean("accounts")?, sign_in_origins: origins, branding })
    }
}

impl api::Branding {
    pub fn from_fields(object: &impl Fields) -> api::Branding {
        let text = |key: &str| object.string(key).unwrap_or_default();
        api::Branding {
            service_name_zh: text("service_name_zh"),
            service_name_en: text("service_name_en"),
            welcome_zh: text("welcome_zh"),
            welcome_en: text("welcome_en"),
        }
    }
}

impl api::Guest {
    pub fn from_fields(object: &impl Fields) -> Option<api::Guest> {
        Some(api::Guest {
            uid: object.integer("uid")?,
            name: object.string("name").unwrap_or_default(),
            token: object.string("token")?,
        })
    }

    pub fn to_fields<O: FieldsOut>(&self) -> O {
        let mut out = O::new_object();
        out.put_integer("uid", self.uid);
        out.put_string("name", &self.name);
        out.put_string("token", &self.token);
        out
    }
}

impl api::SignIn {
    pub fn to_fields<O: FieldsOut>(&self) -> O {
        let mut out = O::new_object();
        out.put_string("name", &self.name);
        out.put_string("password", &self.password);
        out
    }
}

impl api::Session {
    pub fn from_fields(object: &impl Fields) -> Option<api::Session> {
        Some(api::Session {
            name: object.string("name")?,
            token: object.string("token")?,
            expires_in: unsigned(object, "expires_in")?,
        })
    }
}

impl api::ErrorBody {
    pub fn from_fields(object: &impl Fields) -> Option<api::ErrorBody> {
        Some(api::ErrorBody { error: object.string("error")? })
    }
}

/// The decoders over `serde_json::Value`, for the server side and the tests.
impl Fields for serde_json::Value {
    fn string(&self, key: &str) -> Option<String> {
        self.get(key)?.as_str().map(str::to_owned)
    }

    fn integer(&self, key: &str) -> Option<i64> {
        let value = self.get(key)?;
        value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15)
                .map(|f| f as i64)
        })
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    fn objects(&self, key: &str) -> Option<Vec<Self>> {
        let items = self.get(key)?.as_array()?;
        items.iter().all(serde_json::Value::is_object).then(|| items.clone())
    }

    fn strings(&self, key: &str) -> Option<Vec<String>> {
        self.get(key)?.as_array()?.iter().map(|item| item.as_str().map(str::to_owned)).collect()
    }

    fn object(&self, key: &str) -> Option<Self> {
        self.get(key).filter(|value| value.is_object()).cloned()
    }
}

impl FieldsOut for serde_json::Value {
    fn new_object() -> Self {
        serde_json::Value::Object(serde_json::Map::new())
    }

    fn put_string(&mut self, key: &str, value: &str) {
        self[key] = value.into();
    }

    fn put_integer(&mut self, key: &str, value: i64) {
        self[key] = value.into();
    }

    fn put_boolean(&mut self, key: &str, value: bool) {
        self[key] = value.into();
    }

    fn put_objects(&mut self, key: &str, items: Vec<Self>) {
        self[key] = serde_json::Value::Array(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn via_fields(text: &str) -> Option<ServerMessage> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        ServerMessage::from_fields(&value)
    }

    #[test]
    fn error_codes_are_spelled_as_serde_spells_them() {
        for code in [
            ErrorCode::Malformed,
            ErrorCode::UnknownConversation,
            ErrorCode::TooMany,
            ErrorCode::Other,
            ErrorCode::AgentsOnly,
            ErrorCode::NoSuchAgent,
            ErrorCode::OverCapacity,
            ErrorCode::AlreadyTaken,
            ErrorCode::BadCanned,
        ] {
            assert_eq!(serde_json::to_string(&code).expect("json"), format!("{:?}", code.as_str()));
            assert_eq!(ErrorCode::from_wire(code.as_str()), code);
        }
        assert_eq!(ErrorCode::from_wire("from_the_future"), ErrorCode::Other);
    }

    #[test]
    fn frames_that_are_not_frames_are_refused_alike() {
        for text in [
            r#"{"type":"ack","id":"x"}"#,
            r#"{"type":"teleport"}"#,
            r#"{"seq":1}"#,
            "[]",
            r#"{"type":"ready"}"#,
        ] {
            assert_eq!(via_fields(text), ServerMessage::decode(text).ok(), "{text}");
        }
    }

    #[test]
    fn a_chat_message_reads_like_the_original_sends_it() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"uid":-1,"role":"ai","username":"人工客服","avatar":"","createTime":"2026-11-26 21:28:43","text":"<b>x</b>"}"#,
        )
        .expect("json");
        let message = ChatMessage::from_fields(&value).expect("a chat message");
        assert_eq!((message.uid, message.role, message.text.as_str()), (-1, Role::Agent, "<b>x</b>"));
    }

    #[test]
    fn api_bodies_read_and_write_like_serde() {
        let config: serde_json::Value =
            serde_json::from_str(r#"{"accounts":true,"sign_in_origins":["https://a"]}"#).expect("json");
        assert_eq!(
            api::Config::from_fields(&config),
            Some(api::Config {
                accounts: true,
                sign_in_origins: vec!["https://a".into()],
                branding: api::Branding::default()
            })
        );
        let branded = api::Config {
            accounts: true,
            sign_in_origins: vec![],
            branding: api::Branding {
                service_name_zh: "小店客服".into(),
                service_name_en: "Shop help".into(),
                welcome_zh: "您好".into(),
                welcome_en: "Hello".into(),
            },
        };
        let json = serde_json::to_value(&branded).expect("json");
        assert_eq!(json["service_name_en"], "Shop help", "flat in the JSON");
        assert_eq!(api::Config::from_fields(&json), Some(branded.clone()));
        assert_eq!(branded.branding.service_name("zh"), Some("小店客服"));
        assert_eq!(branded.branding.welcome("en"), Some("Hello"));
        assert_eq!(api::Branding::default().welcome("en"), None);
        let older: serde_json::Value = serde_json::from_str(r#"{"accounts":false}"#).expect("json");
        assert_eq!(api::Config::from_fields(&older).map(|c| c.accounts), Some(false));
        let guest = api::Guest { uid: 1_000_000_000_007, name: "Guest 0007".into(), token: "a.b.c".into() };
        assert_eq!(guest.to_fields::<serde_json::Value>(), serde_json::to_value(&guest).expect("json"));
        assert_eq!(api::Guest::from_fields(&guest.to_fields::<serde_json::Value>()), Some(guest));
        let sign_in = api::SignIn { name: "alice".into(), password: "p\"w".into() };
        assert_eq!(sign_in.to_fields::<serde_json::Value>(), serde_json::to_value(&sign_in).expect("json"));
        let session: serde_json::Value =
            serde_json::to_value(api::Session { name: "a".into(), token: "t".into(), expires_in: 43200 })
                .expect("json");
        assert_eq!(api::Session::from_fields(&session).map(|s| s.expires_in), Some(43200));
        let error = serde_json::to_value(api::ErrorBody { error: "no".into() }).expect("json");
        assert_eq!(api::ErrorBody::from_fields(&error).map(|e| e.error), Some("no".into()));
    }

    proptest! {
        /// The field reader and the serde derive agree on every frame a server sends.
        #[test]
        fn the_field_reader_agrees_with_serde(frame in crate::v1::tests::arb_server_frame()) {
            let text = frame.encode();
            prop_assert_eq!(via_fields(&text), Some(frame));
        }

        /// The field writer writes what the serde derive writes, for every client frame.
        #[test]
        fn the_field_writer_agrees_with_serde(frame in crate::v1::tests::arb_client_frame()) {
            let written: serde_json::Value = frame.to_fields();
            let serde: serde_json::Value = serde_json::from_str(&frame.encode()).expect("json");
            prop_assert_eq!(&written, &serde);
            prop_assert_eq!(ClientMessage::decode(&written.to_string()), Ok(frame));
        }

        /// A v0 chat message reads alike both ways.
        #[test]
        fn chat_messages_read_alike(uid in -(1i64 << 53)+1..(1i64 << 53), agent in any::<bool>(), text in ".*", name in ".*") {
            let message = ChatMessage { uid, role: if agent { Role::Agent } else { Role::User }, username: name, avatar: String::new(), create_time: "t".into(), text };
            let value: serde_json::Value = serde_json::to_value(&message).expect("json");
            prop_assert_eq!(ChatMessage::from_fields(&value), Some(message));
        }
    }
}
