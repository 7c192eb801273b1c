//! Messages for the tests of this crate's models and courier.

use kefu_protocol::v1::{ConversationId, Message, Seq};
use kefu_protocol::{ChatMessage, Role, AGENT_UID};

fn role(uid: i64) -> Role {
    if uid == AGENT_UID {
        Role::Agent
    } else {
        Role::User
    }
}

/// A v0 chat message from `uid`, as a backend broadcasts it.
pub(crate) fn chat(uid: i64, text: &str) -> ChatMessage {
    ChatMessage {
        uid,
        role: role(uid),
        username: format!("user{uid}"),
        avatar: String::new(),
        create_time: "2026-11-26 10:00:00".into(),
        text: text.into(),
    }
}

/// A stored v1 message `id` from `uid`, at `seq` of `conversation`; its text is `text {id}`.
/// A conversation id written in a test.
pub(crate) fn cid(raw: i64) -> ConversationId {
    ConversationId::lit(raw)
}

/// A user id written in a test.
pub(crate) fn user(raw: i64) -> kefu_protocol::ids::UserId {
    kefu_protocol::ids::UserId::lit(raw)
}

pub(crate) fn stored(conversation: i64, seq: Seq, id: &str, uid: i64) -> Message {
    Message {
        conversation: cid(conversation),
        seq,
        id: id.into(),
        uid,
        role: role(uid),
        username: format!("user{uid}"),
        avatar: String::new(),
        create_time: format!("2026-11-26 10:00:{seq:02}"),
        text: format!("text {id}"),
    }
}

/// [`stored`] with the id `{conversation}-{seq}`, written at `time`.
pub(crate) fn stored_at(conversation: i64, seq: Seq, uid: i64, time: &str) -> Message {
    Message { create_time: time.into(), ..stored(conversation, seq, &format!("{conversation}-{seq}"), uid) }
}
