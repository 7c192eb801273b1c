//! Protocol v1: ids, sequence numbers, acknowledgements, replay, history pages, addressed
//! replies and error frames. Negotiated with the WebSocket subprotocol [`SUBPROTOCOL`]; a
//! backend that does not select it speaks v0 (the crate root).
//!
//! Every frame is a JSON object with a `type`, except the heartbeat, which stays the plain
//! text `heartbeat` answered by `success` as in v0.

use serde::{Deserialize, Serialize};

use crate::{ChatMessage, Role};

/// The WebSocket subprotocol that selects v1.
pub const SUBPROTOCOL: &str = "kefu.v1";
/// Longest client-made message id.
pub const MAX_ID_LEN: usize = 64;
/// How often a typing client says so, at most.
pub const TYPING_INTERVAL_MS: u64 = 2_000;
/// How long a receiver shows "typing" after the last notice: a typist who stops or
/// disconnects is no longer shown after this.
pub const TYPING_SHOWN_MS: u64 = 4_000;
/// Positions one `resume` may carry at most (the server answers more with `too_many`).
pub const MAX_RESUME_POSITIONS: usize = 5_000;
/// Default and largest number of messages in one history page.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// A conversation: a user's with customer service (its user's id) or a peer one (below -1);
/// see [`crate::ids`] for the ranges.
pub use crate::ids::{ConversationId, UserId};
/// Position of a message in its conversation: 1, 2, 3… with no gaps.
pub type Seq = u64;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First frame on every connection: the last sequence number seen per conversation.
    /// The server replays everything after each, in order, then sends [`ServerMessage::Ready`].
    Resume {
        #[serde(default)]
        after: Vec<Position>,
    },
    /// A chat message. `id` is made by the client, unique per message, kept across retries.
    /// `conversation` is required from an agent; a user may omit it (its own).
    Send {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationId>,
        text: String,
    },
    /// The person is typing in `conversation` (a user may omit it). Sent at most every
    /// [`TYPING_INTERVAL_MS`] while typing; receivers show it for [`TYPING_SHOWN_MS`].
    Typing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationId>,
    },
    /// The person has seen `conversation` up to `seq` (a user may omit the conversation).
    Read {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationId>,
        seq: Seq,
    },
    /// Asks for the page of messages just before `before` (0: the latest page).
    History {
        conversation: ConversationId,
        #[serde(default)]
        before: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// v2: asks `uid` to be friends (accepts at once if `uid` already asked). With the
    /// `invite` token of `uid`'s invite link, the friendship is made without asking.
    Befriend {
        uid: UserId,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
    },
    /// v2: accepts or declines `uid`'s request.
    Answer {
        uid: UserId,
        accept: bool,
    },
    /// v2: withdraws one's own request to `uid`.
    Cancel {
        uid: UserId,
    },
    /// v2: ends the friendship with `uid` (the conversation's history stays).
    Unfriend {
        uid: UserId,
    },
    /// v2: ends any friendship or request with `uid` and refuses their requests, messages
    /// and presence until [`ClientMessage::Unblock`].
    Block {
        uid: UserId,
    },
    Unblock {
        uid: UserId,
    },
    /// v2: a new invite link; the earlier ones stop working.
    NewInvite,
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team (agents): take `conversation` if nobody has it (else `already_taken`).
    Take {
        conversation: ConversationId,
    },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: hand `conversation` to agent `to`, or give it back (`to` absent).
    Assign {
        conversation: ConversationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: open, snooze (`until` ms since the epoch, or until the user writes) or resolve.
    SetStatus {
        conversation: ConversationId,
        status: crate::team::Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
    },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: a private note, seen by agents only; `id` as a message's (answered `noted`).
    Note {
        id: String,
        conversation: ConversationId,
        text: String,
    },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: the team timeline of `conversation` (answered `team_events`).
    Events {
        conversation: ConversationId,
    },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: adds a canned reply, or changes reply `id`.
    SaveCanned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<i64>,
        shortcut: String,
        text: String,
    },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    DeleteCanned {
        id: i64,
    },
}

/// The last sequence number a client has seen in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub conversation: ConversationId,
    pub seq: Seq,
}

/// A stored chat message as v1 carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub id: String,
    pub uid: i64,
    pub role: Role,
    pub username: String,
    pub avatar: String,
    #[serde(rename = "createTime")]
    pub create_time: String,
    pub text: String,
}

impl Message {
    /// The same message as a v0 client receives it.
    pub fn to_v0(&self) -> ChatMessage {
        ChatMessage {
            uid: self.uid,
            role: self.role,
            username: self.username.clone(),
            avatar: self.avatar.clone(),
            create_time: self.create_time.clone(),
            text: self.text.clone(),
        }
    }
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or JSON missing required fields.
    Malformed,
    /// A JSON frame whose `type` this server does not know.
    UnknownType,
    /// Binary frames are not part of the protocol.
    Binary,
    /// Text over the length limit.
    Oversize,
    /// Text of only white space.
    EmptyText,
    /// A message id that is empty, too long, or not `[A-Za-z0-9_-]`.
    BadId,
    /// A conversation this connection may not use, or that does not exist.
    UnknownConversation,
    /// More frames per second than allowed; the frame was dropped.
    RateLimited,
    /// The server could not store the message; retry later.
    Unavailable,
    /// A second `resume` on one connection.
    AlreadyResumed,
    /// A frame naming more items than allowed (a `resume` with too many positions).
    TooMany,
    /// v2: the other user is not (or no longer) a friend.
    NotFriends,
    /// v2: one of the two has blocked the other.
    Blocked,
    /// v2: past [`crate::friends::MAX_FRIENDS`] friends.
    TooManyFriends,
    /// v2: no such user (never seen by this server), or oneself.
    UnknownUser,
    /// v2: an invite that is forged, expired, or someone else's.
    BadInvite,
    /// Team: a frame for agents only, from a user.
    AgentsOnly,
    /// Team: no agent account of that name.
    NoSuchAgent,
    /// Team: the agent has as many open conversations as its capacity.
    OverCapacity,
    /// Team: another agent has the conversation (the message names who).
    AlreadyTaken,
    /// Team: a canned reply's shortcut or text breaks the rules, or the list is full.
    BadCanned,
    /// A code this client does not know (sent by a newer server): show the message.
    #[serde(other)]
    Other,
}

/// Frames a server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// A chat message, live or replayed.
    Message(Message),
    /// The sender's message `id` is stored as `seq` of `conversation` (sent again for a repeat).
    Ack { id: String, conversation: ConversationId, seq: Seq },
    /// The replay after [`ClientMessage::Resume`] is complete; live traffic follows.
    Ready,
    /// A page of older messages, oldest first.
    History { conversation: ConversationId, messages: Vec<Message>, has_more: bool },
    /// To agents: user `conversation` came online (first connection) or went offline (last).
    /// Also sent for every online user during the replay after `resume`.
    Presence {
        conversation: ConversationId,
        online: bool,
        /// The user's proven display name, when the server knows one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The agents (`agent: true`) or the user have read `conversation` up to `seq`. Sent on
    /// every advance and, for each conversation replayed, during the replay.
    Read { conversation: ConversationId, agent: bool, seq: Seq },
    /// Someone is typing in `conversation`: an agent (`agent: true`) or its user.
    Typing { conversation: ConversationId, agent: bool },
    /// To users: whether any agent is connected. Sent during the replay and on every change.
    Agents { online: bool },
    /// v2: the reader's friends, requests and blocks, whole (see [`crate::friends::Friends`]).
    Friends(crate::friends::Friends),
    /// v2: friend `uid` came online or went offline (only ever sent to friends).
    FriendPresence { uid: UserId, online: bool },
    /// v2: member `uid` of peer `conversation` has read it up to `seq`.
    MemberRead { conversation: ConversationId, uid: UserId, seq: Seq },
    /// v2: member `uid` is typing in peer `conversation`.
    MemberTyping { conversation: ConversationId, uid: UserId },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team (agents only): conversations' states, part of a console's replay.
    TeamStates { states: Vec<crate::team::TeamState> },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: one conversation's state changed.
    TeamState(crate::team::TeamState),
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: a new entry in a conversation's team timeline.
    TeamEvent(crate::team::TeamEvent),
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: the answer to `events`, the latest [`crate::team::EVENTS_PAGE`], oldest first.
    TeamEvents { conversation: ConversationId, events: Vec<crate::team::TeamEvent> },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: every agent's load, whole (in the replay and on every change).
    TeamAgents { agents: Vec<crate::team::AgentLoad> },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: the canned replies, whole (in the replay and on every change).
    Canned { replies: Vec<crate::team::Canned> },
    #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
    /// Team: note `id` is stored (sent again for a repeat).
    Noted { id: String, conversation: ConversationId },
    /// A frame was refused; the connection stays open. `id` names the refused message.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

/// Why a client frame could not be read, with the error frame to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
}

impl ClientMessage {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a client frame, telling apart JSON that is broken from a type that is unknown.
    pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|err| DecodeError { code: ErrorCode::Malformed, message: format!("not JSON: {err}") })?;
        let kind = value.get("type").and_then(|t| t.as_str()).map(str::to_owned);
        match kind.as_deref() {
            None => Err(DecodeError {
                code: ErrorCode::Malformed,
                message: "a frame must be a JSON object with a string \"type\"".into(),
            }),
            Some(
                "resume" | "send" | "history" | "typing" | "read" | "befriend" | "answer" | "cancel"
                | "unfriend" | "block" | "unblock" | "new_invite" | "take" | "assign" | "set_status" | "note"
                | "events" | "save_canned" | "delete_canned",
            ) => serde_json::from_str(text)
                .map_err(|err| DecodeError { code: ErrorCode::Malformed, message: err.to_string() }),
            Some(other) => {
                Err(DecodeError { code: ErrorCode::UnknownType, message: format!("unknown type {other:?}") })
            }
        }
    }
}

impl ServerMessage {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Result<ServerMessage, String> {
        serde_json::from_str(text).map_err(|err| err.to_string())
    }

    /// Whether this is one of the team inbox's frames (sent to agents only).
    pub fn is_team(&self) -> bool {
        #[cfg(all(target_arch = "wasm32", not(feature = "team-fields")))]
        return false;
        #[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
        matches!(
            self,
            ServerMessage::TeamStates { .. }
                | ServerMessage::TeamState(_)
                | ServerMessage::TeamEvent(_)
                | ServerMessage::TeamEvents { .. }
                | ServerMessage::TeamAgents { .. }
                | ServerMessage::Canned { .. }
                | ServerMessage::Noted { .. }
        )
    }

    pub fn error(code: ErrorCode, message: impl Into<String>, id: Option<String>) -> ServerMessage {
        ServerMessage::Error { code, message: message.into(), id }
    }
}

/// Whether a client-made message id is acceptable.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message() -> Message {
        Message {
            conversation: ConversationId::lit(5),
            seq: 3,
            id: "a1".into(),
            uid: 5,
            role: Role::User,
            username: "user5".into(),
            avatar: String::new(),
            create_time: "2026-11-26 10:00:00".into(),
            text: "hi".into(),
        }
    }

    #[test]
    fn frames_have_the_documented_shape() {
        let send = ClientMessage::Send { id: "x1".into(), conversation: None, text: "hi".into() };
        assert_eq!(send.encode(), r#"{"type":"send","id":"x1","text":"hi"}"#);
        let resume =
            ClientMessage::Resume { after: vec![Position { conversation: ConversationId::lit(5), seq: 12 }] };
        assert_eq!(resume.encode(), r#"{"type":"resume","after":[{"conversation":5,"seq":12}]}"#);
        let ack = ServerMessage::Ack { id: "x1".into(), conversation: ConversationId::lit(5), seq: 9 };
        assert_eq!(ack.encode(), r#"{"type":"ack","id":"x1","conversation":5,"seq":9}"#);
        let value: serde_json::Value =
            serde_json::from_str(&ServerMessage::Message(message()).encode()).expect("JSON");
        assert_eq!(value["type"], "message");
        assert_eq!(value["createTime"], "2026-11-26 10:00:00");
        assert_eq!(value["seq"], 3);
        let error = ServerMessage::error(ErrorCode::RateLimited, "slow down", Some("x1".into()));
        assert_eq!(
            error.encode(),
            r#"{"type":"error","code":"rate_limited","message":"slow down","id":"x1"}"#
        );
        assert_eq!(ServerMessage::Ready.encode(), r#"{"type":"ready"}"#);
        assert_eq!(
            ServerMessage::Presence { conversation: ConversationId::lit(5), online: true, name: None }
                .encode(),
            r#"{"type":"presence","conversation":5,"online":true}"#
        );
        assert_eq!(ServerMessage::Agents { online: false }.encode(), r#"{"type":"agents","online":false}"#);
    }

    #[test]
    fn server_frames_missing_fields_or_of_unknown_types_are_refused() {
        assert!(ServerMessage::decode(r#"{"type":"ack","id":"x"}"#).is_err());
        assert!(ServerMessage::decode(r#"{"type":"teleport"}"#).is_err());
        assert!(ServerMessage::decode(r#"{"seq":1}"#).is_err());
        assert_eq!(
            ServerMessage::decode(r#"{"type":"error","code":"from_the_future","message":"m"}"#),
            Ok(ServerMessage::error(ErrorCode::Other, "m", None)),
            "a newer server's code is shown, not dropped"
        );
    }

    #[test]
    fn decode_tells_malformed_from_unknown() {
        assert_eq!(ClientMessage::decode("nope").map_err(|e| e.code), Err(ErrorCode::Malformed));
        assert_eq!(ClientMessage::decode("[1]").map_err(|e| e.code), Err(ErrorCode::Malformed));
        assert_eq!(
            ClientMessage::decode(r#"{"type":"send"}"#).map_err(|e| e.code),
            Err(ErrorCode::Malformed)
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"dance"}"#).map_err(|e| e.code),
            Err(ErrorCode::UnknownType)
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"history","conversation":5}"#),
            Ok(ClientMessage::History { conversation: ConversationId::lit(5), before: 0, limit: None })
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"resume"}"#),
            Ok(ClientMessage::Resume { after: vec![] })
        );
    }

    #[test]
    fn ids() {
        assert!(valid_id("m-1_AZ"));
        assert!(!valid_id(""));
        assert!(!valid_id("has space"));
        assert!(!valid_id(&"a".repeat(MAX_ID_LEN + 1)));
    }

    #[test]
    fn v0_view_of_a_message() {
        let v0 = message().to_v0();
        assert_eq!((v0.uid, v0.text.as_str(), v0.create_time.as_str()), (5, "hi", "2026-11-26 10:00:00"));
    }

    /// Any frame a server may send.
    pub(crate) fn arb_server_frame() -> impl Strategy<Value = ServerMessage> {
        let code = prop_oneof![
            Just(ErrorCode::Malformed),
            Just(ErrorCode::Oversize),
            Just(ErrorCode::UnknownConversation),
            Just(ErrorCode::RateLimited),
            Just(ErrorCode::TooMany),
        ];
        (arb_message(), any::<bool>(), 0..(1u64 << 53), proptest::option::of(".*"), code).prop_flat_map(
            |(message, flag, seq, name, code)| {
                let conversation = message.conversation;
                prop_oneof![
                    Just(ServerMessage::Message(message.clone())),
                    Just(ServerMessage::Ack { id: message.id.clone(), conversation, seq }),
                    Just(ServerMessage::History {
                        conversation,
                        messages: vec![message.clone(), message.clone()],
                        has_more: flag
                    }),
                    Just(ServerMessage::Ready),
                    Just(ServerMessage::Presence { conversation, online: flag, name: name.clone() }),
                    Just(ServerMessage::Agents { online: flag }),
                    Just(ServerMessage::Typing { conversation, agent: flag }),
                    Just(ServerMessage::Read { conversation, agent: flag, seq }),
                    Just(ServerMessage::error(code, message.text.clone(), name.clone())),
                    Just(ServerMessage::FriendPresence { uid: user(message.uid), online: flag }),
                    Just(ServerMessage::MemberRead { conversation, uid: user(message.uid), seq }),
                    Just(ServerMessage::MemberTyping { conversation, uid: user(message.uid) }),
                    Just(ServerMessage::Friends(friends(&message, flag, seq, name.clone()))),
                    Just(team_frames(&message, flag, seq, name.clone())[(seq % 7) as usize].clone()),
                ]
            },
        )
    }

    /// Every team frame, made of the generated values.
    fn team_frames(message: &Message, flag: bool, seq: u64, name: Option<String>) -> Vec<ServerMessage> {
        use crate::team::*;
        let conversation = message.conversation;
        let status = [Status::Open, Status::Snoozed, Status::Resolved][(seq % 3) as usize];
        let state =
            TeamState { conversation, status, assignee: name.clone(), until: flag.then_some(seq as i64) };
        let event = TeamEvent {
            conversation,
            event: seq as i64,
            kind: [EventKind::Note, EventKind::Assigned, EventKind::ReopenedByTime][(seq % 3) as usize],
            by: name.clone(),
            to: flag.then(|| message.username.clone()),
            text: message.text.clone(),
            id: flag.then(|| message.id.clone()),
            after: seq,
            at: seq as i64,
        };
        vec![
            ServerMessage::TeamStates { states: vec![state.clone(), state.clone()] },
            ServerMessage::TeamState(state),
            ServerMessage::TeamEvent(event.clone()),
            ServerMessage::TeamEvents { conversation, events: vec![event] },
            ServerMessage::TeamAgents {
                agents: vec![AgentLoad {
                    name: message.username.clone(),
                    online: flag,
                    open: seq as u32,
                    capacity: 10,
                }],
            },
            ServerMessage::Canned {
                replies: vec![Canned {
                    id: seq as i64,
                    shortcut: message.id.clone(),
                    text: message.text.clone(),
                }],
            },
            ServerMessage::Noted { id: message.id.clone(), conversation },
        ]
    }

    /// A friends snapshot made of the generated values.
    fn friends(message: &Message, flag: bool, seq: u64, name: Option<String>) -> crate::friends::Friends {
        use crate::friends::{Friend, Friends, Person, Request};
        let person = Person {
            uid: user(message.uid),
            name: message.username.clone(),
            avatar: name.clone().unwrap_or_default(),
        };
        Friends {
            friends: vec![Friend {
                person: person.clone(),
                conversation: message.conversation,
                online: flag,
                last: flag.then(|| message.clone()),
                unread: seq,
            }],
            incoming: vec![Request { person: person.clone(), note: message.text.clone(), sent: seq }],
            outgoing: vec![],
            blocked: vec![person],
            invite: message.id.clone(),
        }
    }

    /// A user id made of any number in its range.
    fn user(raw: i64) -> UserId {
        UserId::new(raw.rem_euclid(crate::ids::MAX_ID + 1)).expect("in range")
    }

    /// Any conversation id (either kind).
    fn arb_conversation() -> impl Strategy<Value = ConversationId> {
        (-crate::ids::MAX_ID..=crate::ids::MAX_ID).prop_filter_map("not -1", ConversationId::new)
    }

    /// Any frame a client may send (numbers in the range JavaScript carries exactly).
    pub(crate) fn arb_client_frame() -> impl Strategy<Value = ClientMessage> {
        let safe = arb_conversation();
        let seq = 0..(1u64 << 53);
        (
            "[a-zA-Z0-9_-]{1,64}",
            proptest::option::of(arb_conversation()),
            ".*",
            proptest::collection::vec((safe, seq.clone()), 0..8),
            seq,
            proptest::option::of(any::<u32>()),
        )
            .prop_flat_map(|(id, conversation, text, after, seq, limit)| {
                let after: Vec<Position> =
                    after.into_iter().map(|(conversation, seq)| Position { conversation, seq }).collect();
                prop_oneof![
                    Just(ClientMessage::Send { id: id.clone(), conversation, text: text.clone() }),
                    Just(ClientMessage::Resume { after }),
                    Just(ClientMessage::History {
                        conversation: conversation.unwrap_or(ConversationId::support(user(1))),
                        before: seq,
                        limit
                    }),
                    Just(ClientMessage::Typing { conversation }),
                    Just(ClientMessage::Read { conversation, seq }),
                    Just(ClientMessage::Befriend {
                        uid: user(conversation.map_or(1, ConversationId::get)),
                        note: text.clone(),
                        invite: conversation.map(|_| id.clone()),
                    }),
                    Just(ClientMessage::Answer {
                        uid: user(conversation.map_or(1, ConversationId::get)),
                        accept: seq % 2 == 0
                    }),
                    Just(ClientMessage::Cancel { uid: user(conversation.map_or(1, ConversationId::get)) }),
                    Just(ClientMessage::Unfriend { uid: user(conversation.map_or(1, ConversationId::get)) }),
                    Just(ClientMessage::Block { uid: user(conversation.map_or(1, ConversationId::get)) }),
                    Just(ClientMessage::Unblock { uid: user(conversation.map_or(1, ConversationId::get)) }),
                    Just(ClientMessage::NewInvite),
                    Just(ClientMessage::Take {
                        conversation: conversation.unwrap_or(ConversationId::lit(1))
                    }),
                    Just(ClientMessage::Events {
                        conversation: conversation.unwrap_or(ConversationId::lit(1))
                    }),
                    Just(ClientMessage::Assign {
                        conversation: conversation.unwrap_or(ConversationId::lit(1)),
                        to: limit.map(|_| text.clone()),
                    }),
                    Just(ClientMessage::SetStatus {
                        conversation: conversation.unwrap_or(ConversationId::lit(1)),
                        status: [
                            crate::team::Status::Open,
                            crate::team::Status::Snoozed,
                            crate::team::Status::Resolved
                        ][(seq % 3) as usize],
                        until: limit.map(i64::from),
                    }),
                    Just(ClientMessage::Note {
                        id: id.clone(),
                        conversation: conversation.unwrap_or(ConversationId::lit(1)),
                        text: text.clone()
                    }),
                    Just(ClientMessage::SaveCanned {
                        id: limit.map(i64::from),
                        shortcut: id.clone(),
                        text: text.clone()
                    }),
                    Just(ClientMessage::DeleteCanned { id: seq as i64 }),
                ]
            })
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        let safe = -(1i64 << 53) + 1..(1i64 << 53);
        (arb_conversation(), 0..(1u64 << 53), "[a-z0-9-]{1,64}", safe, any::<bool>(), ".*", ".*", ".*", ".*")
            .prop_map(|(conversation, seq, id, uid, agent, username, avatar, create_time, text)| Message {
                conversation,
                seq,
                id,
                uid,
                role: if agent { Role::Agent } else { Role::User },
                username,
                avatar,
                create_time,
                text,
            })
    }

    proptest! {
        #[test]
        fn server_frames_round_trip(message in arb_message(), has_more in any::<bool>(), seq in any::<u64>()) {
            let frames = [
                ServerMessage::Message(message.clone()),
                ServerMessage::Ack { id: message.id.clone(), conversation: message.conversation, seq },
                ServerMessage::History { conversation: message.conversation, messages: vec![message.clone()], has_more },
                ServerMessage::Ready,
                ServerMessage::Presence { conversation: message.conversation, online: has_more, name: None },
                ServerMessage::Agents { online: has_more },
                ServerMessage::Typing { conversation: message.conversation, agent: has_more },
                ServerMessage::Read { conversation: message.conversation, agent: has_more, seq },
                ServerMessage::error(ErrorCode::Oversize, message.text.clone(), Some(message.id.clone())),
            ];
            for frame in frames {
                prop_assert_eq!(ServerMessage::decode(&frame.encode()), Ok(frame));
            }
        }

        #[test]
        fn client_frames_round_trip(id in "[a-zA-Z0-9_-]{1,64}", conversation in proptest::option::of(arb_conversation()), text in ".*", after in proptest::collection::vec((arb_conversation(), any::<u64>()), 0..8)) {
            let after = after.into_iter().map(|(conversation, seq)| Position { conversation, seq }).collect();
            let frames = [
                ClientMessage::Send { id, conversation, text },
                ClientMessage::Resume { after },
                ClientMessage::History { conversation: conversation.unwrap_or(ConversationId::lit(1)), before: 7, limit: Some(20) },
                ClientMessage::Typing { conversation },
                ClientMessage::Read { conversation, seq: 3 },
            ];
            for frame in frames {
                prop_assert_eq!(ClientMessage::decode(&frame.encode()), Ok(frame));
            }
        }

        /// Over the whole i64 space: a frame naming a number outside the ranges of its kind
        /// (a conversation, a user) is not a frame: it is refused as `malformed`.
        #[test]
        fn ids_out_of_range_never_decode(raw in any::<i64>()) {
            let frames = [
                format!(r#"{{"type":"send","id":"a","conversation":{raw},"text":"x"}}"#),
                format!(r#"{{"type":"resume","after":[{{"conversation":{raw},"seq":0}}]}}"#),
                format!(r#"{{"type":"history","conversation":{raw}}}"#),
                format!(r#"{{"type":"typing","conversation":{raw}}}"#),
                format!(r#"{{"type":"read","conversation":{raw},"seq":1}}"#),
            ];
            for frame in &frames {
                let decoded = ClientMessage::decode(frame);
                if ConversationId::new(raw).is_some() {
                    prop_assert!(decoded.is_ok(), "{frame}");
                } else {
                    prop_assert_eq!(decoded.map_err(|e| e.code), Err(ErrorCode::Malformed), "{}", frame);
                }
            }
            for kind in ["befriend", "answer", "cancel", "unfriend", "block", "unblock"] {
                let decoded = ClientMessage::decode(&format!(r#"{{"type":"{kind}","uid":{raw},"accept":true}}"#));
                prop_assert_eq!(decoded.is_ok(), UserId::new(raw).is_some(), "{} {}", kind, raw);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".*") {
            let _ = ClientMessage::decode(&text);
            let _ = ServerMessage::decode(&text);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = ClientMessage::decode(&text);
            let _ = ServerMessage::decode(&text);
            let _ = crate::ServerFrame::decode(&text);
        }
    }
}
