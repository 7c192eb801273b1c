//! The customer-service page's model: the visitor's conversation with customer service as
//! the page shows it, and (protocol v2) what is new with their friends ([`PeerNews`], the
//! Friends tab's badge; the Friends page's model is [`crate::friends_chat`]). Pure data, no
//! browser types.

use kefu_protocol::v1::{ConversationId, Message, Position, Seq};
use kefu_protocol::{ChatMessage, Role, AGENT_UID, NOTICE_UNKNOWN_USER};

use kefu_protocol::friends::Friends;
use kefu_protocol::ids::UserId;

use crate::courier::Model;
use crate::outbox::Pending;
use crate::peers::PeerNews;
use crate::timeline::{From, Ids, Timeline};

/// The customer-service page's model: one conversation seen by user `uid`.
#[derive(Debug, Clone)]
pub struct UserChat {
    pub uid: i64,
    pub timeline: Timeline,
    /// Whether older messages than the first shown exist on the server (v1).
    pub has_more: bool,
    /// Whether an agent is connected, when the server says (v1).
    pub agents_online: Option<bool>,
    /// Until when (ms) to show that an agent is typing.
    pub agent_typing_until: Option<u64>,
    /// How far the agents have read this conversation.
    pub agents_read: Seq,
    /// The backend said it does not know this user id (the original's 用户信息不存在!).
    pub unknown_user: bool,
    /// What is new on the Friends page (v2).
    pub news: PeerNews,
    /// The server speaks v2 (it sent a friends list): the page shows the Friends tab.
    pub friends_on: bool,
    ids: Ids,
}

impl UserChat {
    pub fn new(uid: i64) -> Self {
        UserChat {
            uid,
            timeline: Timeline::default(),
            has_more: false,
            agents_online: None,
            agent_typing_until: None,
            agents_read: 0,
            unknown_user: false,
            news: PeerNews::new(uid),
            friends_on: false,
            ids: Ids::default(),
        }
    }

    pub fn send_local(&mut self, message_id: Option<String>, text: &str, local_time: String) -> u64 {
        self.timeline.push_sending(&mut self.ids, self.uid, message_id, text, local_time)
    }

    /// v0: files a chat message from the backend; returns the own message it confirmed, if
    /// any, or false in `.1` if the message is not for this user.
    pub fn receive(&mut self, message: &ChatMessage) -> (Option<String>, bool) {
        match from_for_user(self.uid, message.uid, message.role) {
            Some(From::Me) => match self.timeline.confirm(message) {
                Some(entry) => (entry.message_id.clone(), true),
                None => {
                    self.timeline.push_received(&mut self.ids, From::Me, message);
                    (None, true)
                }
            },
            Some(from) => {
                self.timeline.push_received(&mut self.ids, from, message);
                (None, true)
            }
            None => (None, false),
        }
    }

    /// v1: files a stored message of this user's conversation (or, v2, counts a peer one).
    pub fn receive_v1(&mut self, message: &Message) -> bool {
        if message.conversation.is_peer() {
            return self.news.receive(message);
        }
        if message.uid == AGENT_UID && Some(message.conversation) == ConversationId::new(self.uid) {
            // The agent sent what it was typing.
            self.agent_typing_until = None;
        }
        match from_for_user(self.uid, message.uid, message.role) {
            Some(from) if Some(message.conversation) == ConversationId::new(self.uid) => {
                let new = self.timeline.upsert(&mut self.ids, from, message);
                self.timeline.mark_read(self.agents_read);
                new
            }
            _ => false,
        }
    }

    /// v1: a page of older (or, on a fresh page, the latest) messages.
    pub fn history(&mut self, messages: &[Message], has_more: bool) {
        for message in messages {
            self.receive_v1(message);
        }
        self.has_more = has_more;
    }

    pub fn notice(&mut self, text: &str, local_time: String) {
        if text == NOTICE_UNKNOWN_USER {
            self.unknown_user = true;
        }
        self.timeline.push_notice(&mut self.ids, text, local_time);
    }
}

/// Where a chat message from `sender` belongs on the user page of user `my_uid`.
/// `None` means it is not for this user: a backend that broadcasts (the original) hands every
/// user the other users' messages, which must not be shown.
pub fn from_for_user(my_uid: i64, sender: i64, role: Role) -> Option<From> {
    if sender == my_uid {
        Some(From::Me)
    } else if sender == AGENT_UID || role == Role::Agent {
        Some(From::Agent)
    } else {
        None
    }
}

impl Model for UserChat {
    fn other_side(&self) -> Role {
        Role::Agent
    }

    /// A message to a friend (queued on the Friends page) is sent from here too, but shown
    /// there.
    fn show_pending(&mut self, pending: &Pending) -> Option<u64> {
        if pending.conversation.is_some_and(ConversationId::is_peer) {
            return None;
        }
        Some(self.send_local(Some(pending.id.clone()), &pending.text, pending.time.clone()))
    }

    fn entry_of(&self, message_id: &str) -> Option<u64> {
        self.timeline.by_message_id(message_id).map(|e| e.id)
    }

    fn retry(&mut self, entry: u64) -> Option<String> {
        self.timeline.retry(entry).and_then(|e| e.message_id.clone())
    }

    fn ack(&mut self, message_id: &str, seq: Seq) {
        self.timeline.ack(message_id, seq);
    }

    fn fail(&mut self, message_id: &str, reason: &str) {
        self.timeline.fail(message_id, reason);
    }

    fn unconfirm(&mut self, message_id: &str, reason: &str) -> bool {
        self.timeline.unconfirm(message_id, reason)
    }

    fn receive_v1(&mut self, message: &Message, _live: bool) {
        UserChat::receive_v1(self, message);
    }

    fn history(&mut self, conversation: ConversationId, messages: &[Message], has_more: bool) {
        // This page never asks for a peer conversation's page.
        if !conversation.is_peer() {
            UserChat::history(self, messages, has_more);
        }
    }

    fn friends(&mut self, list: Friends) {
        self.friends_on = true;
        self.news.set_list(&list);
    }

    fn member_read(&mut self, conversation: ConversationId, uid: UserId, seq: Seq) {
        self.news.member_read(conversation, uid, seq);
    }

    fn receive_v0(&mut self, message: &ChatMessage) -> Option<String> {
        self.receive(message).0
    }

    fn notice(&mut self, text: &str, local_time: String) {
        UserChat::notice(self, text, local_time);
    }

    fn fail_unechoed(&mut self, entries: &[u64]) -> Vec<String> {
        self.timeline.fail_unechoed(entries)
    }

    fn positions(&self) -> Vec<Position> {
        // Peer conversations are not named: the server replays none it was not told of (the
        // friends list carries what is new).
        self.timeline
            .last_seq()
            .and_then(|seq| Some(Position { conversation: ConversationId::new(self.uid)?, seq }))
            .into_iter()
            .collect()
    }

    fn oldest(&self, conversation: ConversationId) -> (Option<Seq>, bool) {
        if conversation.is_peer() {
            return (None, false);
        }
        (self.timeline.first_seq(), self.has_more)
    }

    fn agents(&mut self, online: bool) {
        self.agents_online = Some(online);
    }

    fn read(&mut self, conversation: ConversationId, agent: bool, seq: Seq) {
        if agent && Some(conversation) == ConversationId::new(self.uid) {
            self.agents_read = self.agents_read.max(seq);
            self.timeline.mark_read(self.agents_read);
        }
    }

    fn typing(&mut self, conversation: ConversationId, agent: bool, until_ms: u64) {
        if agent && Some(conversation) == ConversationId::new(self.uid) {
            self.agent_typing_until = Some(until_ms);
        }
    }

    fn reset_presence(&mut self) {
        self.agents_online = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{chat as message, stored};
    use crate::fixtures::{cid, user};
    use crate::timeline::Delivery;

    #[test]
    fn user_chat_confirms_own_files_agent_and_hides_others() {
        let mut chat = UserChat::new(5);
        chat.send_local(None, "hi", "t".into());
        assert!(chat.receive(&message(5, "hi")).1);
        assert!(chat.receive(&message(5, "from my other tab")).1);
        assert!(chat.receive(&message(AGENT_UID, "hello")).1);
        assert!(!chat.receive(&message(6, "someone else's secret")).1);
        assert!(!chat.unknown_user);
        chat.notice("用户信息不存在!", "t".into());
        assert!(chat.unknown_user, "the page can say what to do instead");
        let shown: Vec<(From, Delivery, &str)> =
            chat.timeline.entries.iter().map(|e| (e.from, e.delivery, e.text.as_str())).collect();
        assert_eq!(
            shown,
            vec![
                (From::Me, Delivery::Sent, "hi"),
                (From::Me, Delivery::Sent, "from my other tab"),
                (From::Agent, Delivery::Sent, "hello"),
                (From::System, Delivery::Sent, "用户信息不存在!"),
            ]
        );
        // v1: only this user's conversation.
        assert!(chat.receive_v1(&stored(5, 1, "s1", AGENT_UID)));
        assert!(!chat.receive_v1(&stored(6, 1, "s2", 6)));
        chat.history(&[stored(5, 1, "s1", AGENT_UID)], true);
        assert!(chat.has_more);
    }

    #[test]
    fn peers_show_only_as_news_here_and_their_queued_messages_still_go_out() {
        use crate::courier::{Courier, Effect};
        use crate::outbox::Outbox;
        use kefu_protocol::friends::{Friend, Person};
        use kefu_protocol::v1::{ClientMessage, ServerMessage};

        // A message to Bob was queued on the Friends page before a reload of this page.
        let queued = Pending {
            id: "p1".into(),
            conversation: Some(cid(-2)),
            text: "hi Bob".into(),
            time: "t".into(),
            sent: false,
            failed: None,
        };
        let mut chat = UserChat::new(5);
        let mut outbox = Outbox::default();
        outbox.add(queued);
        let mut courier = Courier::new(outbox, &mut chat);
        assert!(chat.timeline.entries.is_empty(), "shown on the Friends page, not here");
        let effects = courier.opened(true, &mut chat);
        assert!(effects.contains(&Effect::SendV1(ClientMessage::Resume { after: vec![] })));
        assert!(!chat.friends_on, "no Friends tab before a v2 server says so");
        let bob = Friend {
            person: Person { uid: user(6), name: "Bob".into(), avatar: String::new() },
            conversation: cid(-2),
            online: true,
            last: Some(stored(-2, 1, "old", 6)),
            unread: 1,
        };
        let list = kefu_protocol::friends::Friends { friends: vec![bob], ..Default::default() };
        courier.on_v1(&mut chat, ServerMessage::Friends(list), "t".into());
        let effects = courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        assert!(chat.friends_on);
        assert!(
            effects.contains(&Effect::SendV1(ClientMessage::Send {
                id: "p1".into(),
                conversation: Some(cid(-2)),
                text: "hi Bob".into()
            })),
            "{effects:?}"
        );
        courier.on_v1(
            &mut chat,
            ServerMessage::Ack { id: "p1".into(), conversation: cid(-2), seq: 2 },
            "t".into(),
        );
        assert_eq!(courier.queued(), 0, "delivered from this page");
        // Bob answers: counted, not shown; the resume still names only this conversation.
        courier.on_v1(&mut chat, ServerMessage::Message(stored(-2, 3, "b1", 6)), "t".into());
        courier.on_v1(&mut chat, ServerMessage::Message(stored(5, 1, "s1", AGENT_UID)), "t".into());
        assert_eq!(chat.news.total(), 2);
        assert_eq!(chat.timeline.entries.len(), 1, "only customer service's message");
        let resume = courier.opened(true, &mut chat);
        assert_eq!(
            resume,
            vec![Effect::SendV1(ClientMessage::Resume {
                after: vec![Position { conversation: cid(5), seq: 1 }]
            })]
        );
    }
}
