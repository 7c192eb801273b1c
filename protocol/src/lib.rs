//! The Kefu wire format, in one place for both sides.
//!
//! This crate owns every frame that crosses the WebSocket: what the web app sends, what a
//! backend answers, and how each is encoded and decoded. It is compiled natively (for the
//! reference server and the tests) and to wasm (for the web app), so it holds no I/O.
//!
//! The protocol spoken today is the one of the original backend ("v0", see
//! `docs/protocol.md`): plain-text frames from client to server (`heartbeat` or a chat text),
//! and from server to client either a chat message as JSON or a plain-text reply.

use serde::{Deserialize, Serialize};

pub mod api;
pub mod fields;
pub mod friends;
pub mod ids;
pub mod team;
pub mod v1;

/// Path prefix of the WebSocket endpoint; the user id follows it: `/webSocket/{userId}`.
pub const ENDPOINT_PREFIX: &str = "/webSocket/";
/// The frame a client sends to keep its connection alive.
pub const HEARTBEAT: &str = "heartbeat";
/// The server's answer to [`HEARTBEAT`], sent to that connection only.
pub const HEARTBEAT_ACK: &str = "success";
/// The user id the original backend treats as the (single, shared) agent.
pub const AGENT_UID: i64 = -1;
/// The display name the original backend gives the agent.
pub const AGENT_NAME: &str = "人工客服";
/// Longest chat text accepted, in UTF-16 code units (the original backend's buffer size).
pub const MAX_TEXT_UTF16: usize = 8192;
/// Reply of the original backend when the user's online record is inconsistent.
pub const NOTICE_ONLINE_INFO_ERROR: &str = "用户在线信息错误!";
/// Reply of the original backend for an unknown user id.
pub const NOTICE_UNKNOWN_USER: &str = "用户信息不存在!";
/// Guest user ids (made up by the web app for backends without accounts, or issued by the
/// reference server) lie in `[GUEST_UID_MIN, GUEST_UID_MIN + GUEST_UID_SPAN)`: above any
/// app's own ids, below 2^53 so that JavaScript numbers carry them exactly.
pub const GUEST_UID_MIN: i64 = 1_000_000_000_000;
pub const GUEST_UID_SPAN: i64 = 8_000_000_000_000_000;
pub use close::UNAUTHORIZED as CLOSE_UNAUTHORIZED;
/// Query parameter of the WebSocket URL that carries the identity token.
pub const TOKEN_PARAM: &str = "token";
/// Layout of `createTime`: local server time, no zone.
pub const CREATE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Who sent a chat message, as the original backend labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// An app user.
    #[serde(rename = "user")]
    User,
    /// The human agent (the original calls it `ai`).
    #[serde(rename = "ai")]
    Agent,
}

/// A chat message as a backend broadcasts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Sender's user id; [`AGENT_UID`] for the agent.
    pub uid: i64,
    pub role: Role,
    #[serde(default)]
    pub username: String,
    /// Image URL; may be empty.
    #[serde(default)]
    pub avatar: String,
    /// Server local time, [`CREATE_TIME_FORMAT`].
    #[serde(rename = "createTime", default)]
    pub create_time: String,
    /// The text, verbatim: never HTML.
    pub text: String,
}

/// Everything a client can receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// A chat message.
    Chat(ChatMessage),
    /// The answer to a heartbeat.
    HeartbeatAck,
    /// Any other plain-text reply (`用户信息不存在!`, a bare timestamp, a server notice).
    Notice(String),
}

impl ServerFrame {
    /// Decodes a text frame. Never fails: whatever is not a heartbeat answer or a chat
    /// message is a notice, so no frame is dropped silently.
    pub fn decode(text: &str) -> ServerFrame {
        if text == HEARTBEAT_ACK {
            return ServerFrame::HeartbeatAck;
        }
        if text.trim_start().starts_with('{') {
            if let Ok(message) = serde_json::from_str::<ChatMessage>(text) {
                return ServerFrame::Chat(message);
            }
        }
        ServerFrame::Notice(text.to_owned())
    }

    /// Encodes the frame as a backend sends it.
    pub fn encode(&self) -> String {
        match self {
            ServerFrame::Chat(message) => serde_json::to_string(message).unwrap_or_else(|_| String::new()),
            ServerFrame::HeartbeatAck => HEARTBEAT_ACK.to_owned(),
            ServerFrame::Notice(text) => text.clone(),
        }
    }
}

/// Everything a client can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Heartbeat,
    Chat(String),
}

/// Why a chat text cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Nothing but white space.
    Empty,
    /// Longer than [`MAX_TEXT_UTF16`]; carries the actual length in UTF-16 units.
    TooLong(usize),
    /// The text is exactly `heartbeat`, which the original protocol reads as a heartbeat.
    Reserved,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextError::Empty => write!(f, "message is empty"),
            TextError::TooLong(len) => {
                write!(f, "message too long: {len} UTF-16 units, the limit is {MAX_TEXT_UTF16}")
            }
            TextError::Reserved => write!(f, "the text `{HEARTBEAT}` is reserved by the protocol"),
        }
    }
}

impl std::error::Error for TextError {}

/// Checks a chat text against the protocol's rules, with the given length limit.
pub fn validate_text(text: &str, max_utf16: usize) -> Result<(), TextError> {
    if text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    if text == HEARTBEAT {
        return Err(TextError::Reserved);
    }
    let len = utf16_len(text);
    if len > max_utf16 {
        return Err(TextError::TooLong(len));
    }
    Ok(())
}

/// Length of a text in UTF-16 code units, the unit the original backend counts in.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

impl ClientFrame {
    /// A chat frame, if the text is allowed on the wire.
    pub fn chat(text: &str) -> Result<ClientFrame, TextError> {
        validate_text(text, MAX_TEXT_UTF16)?;
        Ok(ClientFrame::Chat(text.to_owned()))
    }

    pub fn encode(&self) -> String {
        match self {
            ClientFrame::Heartbeat => HEARTBEAT.to_owned(),
            ClientFrame::Chat(text) => text.clone(),
        }
    }

    /// Reads a frame as a backend does: `heartbeat`, else the verbatim text of a message.
    pub fn decode(text: &str) -> ClientFrame {
        if text == HEARTBEAT {
            ClientFrame::Heartbeat
        } else {
            ClientFrame::Chat(text.to_owned())
        }
    }
}

/// Plain-text notices the reference server sends for bad input (the original protocol has
/// no error frame; clients show any non-chat text as a system notice).
pub mod notice {
    pub fn empty_text() -> String {
        "消息不能为空 (empty message ignored)".to_owned()
    }

    pub fn text_too_long(len: usize, max: usize) -> String {
        format!("消息过长: {len} > {max} (message too long, not sent)")
    }

    pub fn binary_not_supported() -> String {
        "不支持二进制消息 (binary frames are not supported)".to_owned()
    }

    pub fn rate_limited() -> String {
        "发送太频繁，消息未发送 (too many messages, not sent)".to_owned()
    }

    pub fn nobody_online() -> String {
        "没有在线用户，消息未发送 (no user online, not sent)".to_owned()
    }

    pub fn unavailable() -> String {
        "服务器暂时无法保存消息 (the message could not be stored, not sent)".to_owned()
    }
}

/// WebSocket close codes a backend sends, and what a client makes of them (RFC 6455 §7.4
/// for the 1xxx ones).
pub mod close {
    /// Server shutting down, or a connection idle too long: reconnect.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame that breaks the WebSocket protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The path does not name a valid user id, or the handshake came too slowly.
    pub const POLICY: u16 = 1008;
    /// A frame far over the text limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server cannot serve the connection now (storage): reconnect.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The client does not read its frames fast enough, or the server is overloaded.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The reference server does not accept the connection's identity (no token, a bad,
    /// expired or someone else's): sign in again, do not retry as is.
    pub const UNAUTHORIZED: u16 = 4401;
}

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A name as people are shown it: without control characters, bidirectional overrides and
/// isolates, or invisible characters (so `"Ali\u{202E}ec"` cannot pass for another name or
/// reverse what follows it, and `"Ali\u{200B}ce"` is `"Alice"`), trimmed, at most
/// [`MAX_NAME_CHARS`] characters.
pub fn display_name(name: &str) -> String {
    let visible = |c: &char| {
        !c.is_control()
            && !matches!(
                c,
                '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                    | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
            )
    };
    name.chars().filter(visible).collect::<String>().trim().chars().take(MAX_NAME_CHARS).collect()
}

/// The user id in an endpoint path segment, as the original parses it (signed 64-bit). The
/// reference server takes only [`ids::Caller`]'s range.
pub fn parse_user_id(segment: &str) -> Option<i64> {
    segment.parse::<i64>().ok()
}

/// The WebSocket URL for a user id, given a base such as `ws://host:8080/webSocket/`.
pub fn endpoint_url(base: &str, uid: i64) -> String {
    if base.ends_with('/') {
        format!("{base}{uid}")
    } else {
        format!("{base}/{uid}")
    }
}

/// [`endpoint_url`] with the identity token the reference server asks for, if there is one.
pub fn endpoint_url_with_token(base: &str, uid: i64, token: Option<&str>) -> String {
    let url = endpoint_url(base, uid);
    match token {
        Some(token) => {
            let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
            format!("{url}?{TOKEN_PARAM}={token}")
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ChatMessage {
        ChatMessage {
            uid: 5,
            role: Role::User,
            username: "user5".into(),
            avatar: String::new(),
            create_time: "2026-11-26 21:28:42".into(),
            text: "hello".into(),
        }
    }

    #[test]
    fn decodes_the_original_chat_json() {
        let raw = r#"{"uid":5,"role":"user","username":"user5","avatar":"","createTime":"2026-11-26 21:28:42","text":"hello"}"#;
        assert_eq!(ServerFrame::decode(raw), ServerFrame::Chat(sample()));
    }

    #[test]
    fn decodes_an_agent_message_with_role_ai() {
        let raw = r#"{"uid":-1,"role":"ai","username":"人工客服","avatar":"http://x/a.png","createTime":"2026-11-26 21:28:43","text":"<script>alert(1)</script>"}"#;
        let ServerFrame::Chat(message) = ServerFrame::decode(raw) else {
            panic!("not a chat frame");
        };
        assert_eq!(message.uid, AGENT_UID);
        assert_eq!(message.role, Role::Agent);
        assert_eq!(message.text, "<script>alert(1)</script>");
    }

    #[test]
    fn non_json_replies_are_notices_not_errors() {
        assert_eq!(ServerFrame::decode("success"), ServerFrame::HeartbeatAck);
        for text in [NOTICE_UNKNOWN_USER, NOTICE_ONLINE_INFO_ERROR, "2026-11-26 21:28:42", "", "{oops"] {
            assert_eq!(ServerFrame::decode(text), ServerFrame::Notice(text.to_owned()));
        }
        // JSON that is not a chat message is shown as a notice too, never dropped.
        assert_eq!(ServerFrame::decode(r#"{"uid":"x"}"#), ServerFrame::Notice(r#"{"uid":"x"}"#.to_owned()));
    }

    #[test]
    fn chat_json_uses_the_original_field_names() {
        let json = ServerFrame::Chat(sample()).encode();
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["uid"], 5);
        assert_eq!(value["role"], "user");
        assert_eq!(value["createTime"], "2026-11-26 21:28:42");
        assert_eq!(value["username"], "user5");
        assert_eq!(value["avatar"], "");
        assert_eq!(value["text"], "hello");
    }

    #[test]
    fn client_frames_are_plain_text() {
        assert_eq!(ClientFrame::Heartbeat.encode(), "heartbeat");
        assert_eq!(ClientFrame::chat("hi").map(|f| f.encode()), Ok("hi".to_owned()));
        assert_eq!(ClientFrame::decode("heartbeat"), ClientFrame::Heartbeat);
        assert_eq!(ClientFrame::decode("hi"), ClientFrame::Chat("hi".into()));
    }

    #[test]
    fn text_rules() {
        assert_eq!(ClientFrame::chat("  \n"), Err(TextError::Empty));
        assert_eq!(ClientFrame::chat("heartbeat"), Err(TextError::Reserved));
        let at_limit = "a".repeat(MAX_TEXT_UTF16);
        assert!(ClientFrame::chat(&at_limit).is_ok());
        // An emoji is two UTF-16 units: 4097 of them exceed 8192.
        let emoji = "😀".repeat(4097);
        assert_eq!(ClientFrame::chat(&emoji), Err(TextError::TooLong(8194)));
    }

    #[test]
    fn user_ids_and_urls() {
        assert_eq!(parse_user_id("-1"), Some(-1));
        assert_eq!(parse_user_id("42"), Some(42));
        assert_eq!(parse_user_id("abc"), None);
        assert_eq!(parse_user_id("99999999999999999999"), None);
        assert_eq!(endpoint_url("ws://h:1/webSocket/", 7), "ws://h:1/webSocket/7");
        assert_eq!(endpoint_url("ws://h:1/webSocket", -1), "ws://h:1/webSocket/-1");
        assert_eq!(
            endpoint_url_with_token("ws://h/webSocket/", 42, Some("a.b+c")),
            "ws://h/webSocket/42?token=a.b%2Bc"
        );
        assert_eq!(endpoint_url_with_token("ws://h/webSocket/", -1, None), "ws://h/webSocket/-1");
    }

    #[test]
    fn names_lose_their_invisible_and_reversing_characters() {
        assert_eq!(display_name("Ali\u{200B}ce"), "Alice");
        assert_eq!(display_name("\u{202E}ecilA\u{202C}"), "ecilA");
        assert_eq!(display_name("  Bob\u{2066}\u{FEFF}\u{7}  "), "Bob");
        assert_eq!(display_name("王芳"), "王芳");
        assert_eq!(display_name(&"x".repeat(100)).chars().count(), MAX_NAME_CHARS);
    }

    proptest! {
        #[test]
        fn display_names_are_never_longer_and_hold_no_invisible_characters(name in ".*") {
            let shown = display_name(&name);
            prop_assert!(shown.chars().count() <= MAX_NAME_CHARS);
            let reversing = shown.chars().any(|c| c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c));
            prop_assert!(!reversing, "{:?}", shown);
            prop_assert_eq!(display_name(&shown), shown.clone());
        }

        #[test]
        fn chat_round_trips(uid in any::<i64>(), agent in any::<bool>(), username in ".*", avatar in ".*", time in ".*", text in ".*") {
            let message = ChatMessage {
                uid,
                role: if agent { Role::Agent } else { Role::User },
                username, avatar, create_time: time, text,
            };
            let frame = ServerFrame::Chat(message);
            prop_assert_eq!(ServerFrame::decode(&frame.encode()), frame);
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(text in ".*") {
            let _ = ServerFrame::decode(&text);
            let _ = ClientFrame::decode(&text);
        }
    }
}
