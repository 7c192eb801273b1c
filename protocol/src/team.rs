//! The team inbox, agents only: each customer-service conversation's status and assignee,
//! its timeline of team events (status changes, assignments, private notes), the agents'
//! load, and the team's canned replies. Users never receive any of it (the server sends these
//! frames to agent connections only); a backend without a team inbox (the original, v0) never
//! sends them, and the console then shows none of it.
//!
//! The frames are variants of [`crate::v1::ClientMessage`] / [`crate::v1::ServerMessage`];
//! the types they carry, and their field-by-field reading for the web app, live here.

use serde::{Deserialize, Serialize};

use crate::ids::ConversationId;
use crate::v1::Seq;
#[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
use crate::v1::ServerMessage;

/// Open conversations an agent is given by auto-assignment at most, unless set per account.
pub const DEFAULT_CAPACITY: u32 = 10;
/// The largest capacity an account may have.
pub const MAX_CAPACITY: u32 = 1_000;
/// Canned replies the team may keep at most.
pub const MAX_CANNED: usize = 500;
/// Longest shortcut of a canned reply, in characters (`[a-z0-9_-]`, without the `/`).
pub const MAX_SHORTCUT_CHARS: usize = 32;
/// Team events of one conversation sent at most, the latest ones (`events` answer).
pub const EVENTS_PAGE: usize = 200;
/// Team states per `team_states` frame (a console's replay sends as many as it needs).
pub const STATES_PER_FRAME: usize = 500;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for an answer (or being answered).
    Open,
    /// Put aside until `until` or until the user writes.
    Snoozed,
    /// Done; the user's next message opens it again.
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Snoozed => "snoozed",
            Status::Resolved => "resolved",
        }
    }

    pub fn from_wire(text: &str) -> Option<Status> {
        match text {
            "open" => Some(Status::Open),
            "snoozed" => Some(Status::Snoozed),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
}

/// A conversation's status and assignee. A conversation with none yet is open and unassigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamState {
    pub conversation: ConversationId,
    pub status: Status,
    /// The agent account handling it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Snoozed: until when (ms since the Unix epoch); `None`: until the user writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// What happened, in a conversation's team timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A private note (`text`), by `by`.
    Note,
    /// Given to `to`: by `by`, or by auto-assignment (`by` absent).
    Assigned,
    /// Given back by `by`: nobody has it.
    Unassigned,
    Resolved,
    /// Snoozed by `by` (until the state's `until`).
    Snoozed,
    /// Opened again by `by`.
    Reopened,
    /// Opened again by the user's new message.
    ReopenedByMessage,
    /// Opened again as its snooze ended.
    ReopenedByTime,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Note => "note",
            EventKind::Assigned => "assigned",
            EventKind::Unassigned => "unassigned",
            EventKind::Resolved => "resolved",
            EventKind::Snoozed => "snoozed",
            EventKind::Reopened => "reopened",
            EventKind::ReopenedByMessage => "reopened_by_message",
            EventKind::ReopenedByTime => "reopened_by_time",
        }
    }

    pub fn from_wire(text: &str) -> Option<EventKind> {
        [
            EventKind::Note,
            EventKind::Assigned,
            EventKind::Unassigned,
            EventKind::Resolved,
            EventKind::Snoozed,
            EventKind::Reopened,
            EventKind::ReopenedByMessage,
            EventKind::ReopenedByTime,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// One entry of a conversation's team timeline, shown to agents between its messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamEvent {
    pub conversation: ConversationId,
    /// The server's number for it, increasing.
    pub event: i64,
    pub kind: EventKind,
    /// The agent who did it (absent: the server did, e.g. auto-assignment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Assigned: to whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A note's text (empty for the others).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// A note's client-made id (its `noted` answer names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Shown after the conversation's message `after` (0: before the first).
    pub after: Seq,
    /// When (ms since the Unix epoch).
    pub at: i64,
}

/// An agent as the team sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLoad {
    pub name: String,
    /// Signed in with a console (connected) somewhere.
    pub online: bool,
    /// Open conversations assigned to it.
    pub open: u32,
    pub capacity: u32,
}

/// A canned reply: `/shortcut` in the composer inserts `text` (`{name}`: the user's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canned {
    pub id: i64,
    pub shortcut: String,
    pub text: String,
}

/// Whether a canned reply's shortcut is acceptable: 1–[`MAX_SHORTCUT_CHARS`] of `a-z 0-9 _ -`.
pub fn valid_shortcut(shortcut: &str) -> bool {
    !shortcut.is_empty()
        && shortcut.len() <= MAX_SHORTCUT_CHARS
        && shortcut.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Field-by-field reading and writing of the team frames (the web app's console only).
#[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
mod wire {
    use super::*;
    use crate::fields::{Fields, FieldsOut};

    fn id<F: Fields, T: TryFrom<i64>>(object: &F, key: &str) -> Option<T> {
        object.integer(key).and_then(|n| T::try_from(n).ok())
    }

    impl TeamState {
        pub(crate) fn from_fields(object: &impl Fields) -> Option<TeamState> {
            Some(TeamState {
                conversation: id(object, "conversation")?,
                status: Status::from_wire(&object.string("status")?)?,
                assignee: object.string("assignee"),
                until: object.integer("until"),
            })
        }
    }

    impl TeamEvent {
        pub(crate) fn from_fields(object: &impl Fields) -> Option<TeamEvent> {
            Some(TeamEvent {
                conversation: id(object, "conversation")?,
                event: object.integer("event")?,
                kind: EventKind::from_wire(&object.string("kind")?)?,
                by: object.string("by"),
                to: object.string("to"),
                text: object.string("text").unwrap_or_default(),
                id: object.string("id"),
                after: id(object, "after")?,
                at: object.integer("at")?,
            })
        }
    }

    impl AgentLoad {
        fn from_fields(object: &impl Fields) -> Option<AgentLoad> {
            Some(AgentLoad {
                name: object.string("name")?,
                online: object.boolean("online")?,
                open: id(object, "open")?,
                capacity: id(object, "capacity")?,
            })
        }
    }

    impl Canned {
        fn from_fields(object: &impl Fields) -> Option<Canned> {
            Some(Canned {
                id: object.integer("id")?,
                shortcut: object.string("shortcut")?,
                text: object.string("text")?,
            })
        }
    }

    fn all<F: Fields, T>(object: &F, key: &str, read: impl Fn(&F) -> Option<T>) -> Option<Vec<T>> {
        object.objects(key)?.iter().map(read).collect()
    }

    /// The team frames a server sends, from their parsed object (`kind`: its `type`); `None`
    /// when it is not one.
    pub(crate) fn server_from_fields<F: Fields>(kind: &str, object: &F) -> Option<ServerMessage> {
        Some(match kind {
            "team_states" => {
                ServerMessage::TeamStates { states: all(object, "states", TeamState::from_fields)? }
            }
            "team_state" => ServerMessage::TeamState(TeamState::from_fields(object)?),
            "team_event" => ServerMessage::TeamEvent(TeamEvent::from_fields(object)?),
            "team_events" => ServerMessage::TeamEvents {
                conversation: id(object, "conversation")?,
                events: all(object, "events", TeamEvent::from_fields)?,
            },
            "team_agents" => {
                ServerMessage::TeamAgents { agents: all(object, "agents", AgentLoad::from_fields)? }
            }
            "canned" => ServerMessage::Canned { replies: all(object, "replies", Canned::from_fields)? },
            "noted" => {
                ServerMessage::Noted { id: object.string("id")?, conversation: id(object, "conversation")? }
            }
            _ => return None,
        })
    }

    /// The `type` of a team frame a client sends.
    pub(crate) fn kind(frame: &crate::v1::ClientMessage) -> &'static str {
        use crate::v1::ClientMessage as C;
        match frame {
            C::Take { .. } => "take",
            C::Assign { .. } => "assign",
            C::SetStatus { .. } => "set_status",
            C::Note { .. } => "note",
            C::Events { .. } => "events",
            C::SaveCanned { .. } => "save_canned",
            C::DeleteCanned { .. } => "delete_canned",
            _ => "",
        }
    }

    /// Writes the fields of a team frame a client sends (after its `type`).
    pub(crate) fn client_to_fields<O: FieldsOut>(frame: &crate::v1::ClientMessage, out: &mut O) {
        use crate::v1::ClientMessage as C;
        match frame {
            C::Take { conversation } | C::Events { conversation } => {
                out.put_integer("conversation", conversation.get())
            }
            C::Assign { conversation, to } => {
                out.put_integer("conversation", conversation.get());
                if let Some(to) = to {
                    out.put_string("to", to);
                }
            }
            C::SetStatus { conversation, status, until } => {
                out.put_integer("conversation", conversation.get());
                out.put_string("status", status.as_str());
                if let Some(until) = until {
                    out.put_integer("until", *until);
                }
            }
            C::Note { id, conversation, text } => {
                out.put_string("id", id);
                out.put_integer("conversation", conversation.get());
                out.put_string("text", text);
            }
            C::SaveCanned { id, shortcut, text } => {
                if let Some(id) = id {
                    out.put_integer("id", *id);
                }
                out.put_string("shortcut", shortcut);
                out.put_string("text", text);
            }
            C::DeleteCanned { id } => out.put_integer("id", *id),
            _ => {}
        }
    }
}
#[cfg(any(not(target_arch = "wasm32"), feature = "team-fields"))]
pub(crate) use wire::{client_to_fields, kind, server_from_fields};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts() {
        assert!(valid_shortcut("refund-2"));
        assert!(!valid_shortcut(""));
        assert!(!valid_shortcut("Refund"));
        assert!(!valid_shortcut("退款"));
        assert!(!valid_shortcut(&"a".repeat(MAX_SHORTCUT_CHARS + 1)));
    }

    #[test]
    fn names_on_the_wire_round_trip() {
        for status in [Status::Open, Status::Snoozed, Status::Resolved] {
            assert_eq!(Status::from_wire(status.as_str()), Some(status));
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{}\"", status.as_str()));
        }
        for kind in [EventKind::Note, EventKind::ReopenedByMessage, EventKind::ReopenedByTime] {
            assert_eq!(EventKind::from_wire(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
        }
    }
}
