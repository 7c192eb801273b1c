//! The Friends page's model (protocol v2): the person's friends, requests and peer
//! conversations ([`Peers`]), as the page shows them. The connection also carries the
//! conversation with customer service, which this page does not show: it only keeps how far
//! it has seen it, so that a resume does not replay it. Pure data, no browser types.

use kefu_protocol::friends::Friends;
use kefu_protocol::ids::UserId;
use kefu_protocol::v1::{ConversationId, ErrorCode, Message, Position, Seq};
use kefu_protocol::{ChatMessage, Role};

use crate::courier::Model;
use crate::outbox::Pending;
use crate::peers::Peers;
use crate::timeline::{Ids, Timeline};

/// The Friends page's model for user `uid`.
#[derive(Debug, Clone)]
pub struct FriendsChat {
    pub uid: i64,
    /// Friends and peer conversations.
    pub peers: Peers,
    /// The server speaks v2: it sent a friends list (before `ready`; a server that is ready
    /// without one has no friends).
    pub friends_on: bool,
    /// The peer conversation the person is looking at, if any.
    pub open_peer: Option<ConversationId>,
    /// What the page has to say outside any conversation (a stored outbox it could not read).
    pub notice: Option<String>,
    /// The latest message of the customer-service conversation the connection carried.
    support_seen: Option<Seq>,
    ids: Ids,
}

impl FriendsChat {
    pub fn new(uid: i64) -> Self {
        FriendsChat {
            uid,
            peers: Peers::new(uid),
            friends_on: false,
            open_peer: None,
            notice: None,
            support_seen: None,
            ids: Ids::default(),
        }
    }

    fn timelines(&self) -> impl Iterator<Item = &Timeline> {
        self.peers.chats.values().map(|c| &c.timeline)
    }

    fn timelines_mut(&mut self) -> impl Iterator<Item = &mut Timeline> {
        self.peers.chats.values_mut().map(|c| &mut c.timeline)
    }

    fn seen_support(&mut self, message: &Message) {
        if Some(message.conversation) == ConversationId::new(self.uid) {
            self.support_seen = self.support_seen.max(Some(message.seq));
        }
    }
}

impl Model for FriendsChat {
    fn other_side(&self) -> Role {
        Role::Agent
    }

    /// The link dropped or opened anew: nobody is shown online until the server says so.
    fn reset_presence(&mut self) {
        self.peers.all_offline();
    }

    /// A message to customer service (queued on that page) is sent from here too, but shown
    /// there.
    fn show_pending(&mut self, pending: &Pending) -> Option<u64> {
        let conversation = pending.conversation.filter(|c| c.is_peer())?;
        let chat = self.peers.chats.entry(conversation).or_default();
        let (id, text, time) = (Some(pending.id.clone()), &pending.text, pending.time.clone());
        Some(chat.timeline.push_sending(&mut self.ids, self.uid, id, text, time))
    }

    fn entry_of(&self, message_id: &str) -> Option<u64> {
        self.timelines().find_map(|timeline| timeline.by_message_id(message_id)).map(|e| e.id)
    }

    fn retry(&mut self, entry: u64) -> Option<String> {
        self.timelines_mut().find_map(|timeline| timeline.retry(entry).and_then(|e| e.message_id.clone()))
    }

    fn ack(&mut self, message_id: &str, seq: Seq) {
        self.timelines_mut().any(|timeline| timeline.ack(message_id, seq));
    }

    fn fail(&mut self, message_id: &str, reason: &str) {
        self.timelines_mut().any(|timeline| timeline.fail(message_id, reason));
    }

    fn unconfirm(&mut self, message_id: &str, reason: &str) -> bool {
        self.timelines_mut().any(|timeline| timeline.unconfirm(message_id, reason))
    }

    fn receive_v1(&mut self, message: &Message, _live: bool) {
        if message.conversation.is_peer() {
            let open = self.open_peer == Some(message.conversation);
            self.peers.receive(&mut self.ids, message, open);
        } else {
            self.seen_support(message);
        }
    }

    fn history(&mut self, conversation: ConversationId, messages: &[Message], has_more: bool) {
        if conversation.is_peer() {
            self.peers.history(&mut self.ids, conversation, messages, has_more);
        } else {
            messages.iter().for_each(|message| self.seen_support(message));
        }
    }

    /// The original backend has no friends; this page never speaks v0.
    fn receive_v0(&mut self, _message: &ChatMessage) -> Option<String> {
        None
    }

    fn notice(&mut self, text: &str, _local_time: String) {
        self.notice = Some(text.to_owned());
    }

    fn fail_unechoed(&mut self, _entries: &[u64]) -> Vec<String> {
        vec![]
    }

    fn positions(&self) -> Vec<Position> {
        let support = self
            .support_seen
            .and_then(|seq| Some(Position { conversation: ConversationId::new(self.uid)?, seq }));
        support.into_iter().chain(self.peers.positions()).collect()
    }

    fn oldest(&self, conversation: ConversationId) -> (Option<Seq>, bool) {
        // Never seen: the latest page is due.
        self.peers.chats.get(&conversation).map_or((None, true), |chat| chat.oldest())
    }

    fn friends(&mut self, list: Friends) {
        self.friends_on = true;
        self.peers.set_list(list);
    }

    fn friend_refused(&mut self, code: ErrorCode) -> bool {
        self.peers.refused(code)
    }

    fn friend_presence(&mut self, uid: UserId, online: bool) {
        self.peers.presence(uid, online);
    }

    fn member_read(&mut self, conversation: ConversationId, uid: UserId, seq: Seq) {
        self.peers.member_read(conversation, uid, seq);
    }

    fn member_typing(&mut self, conversation: ConversationId, uid: UserId, until_ms: u64) {
        self.peers.typing(conversation, uid, until_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::stored;
    use crate::fixtures::{cid, user};
    use crate::timeline::{Delivery, From};
    use kefu_protocol::AGENT_UID;

    #[test]
    fn peer_conversations_go_through_the_courier_like_the_support_one() {
        use crate::courier::{Courier, Effect};
        use crate::outbox::Outbox;
        use kefu_protocol::friends::{Friend, Person};
        use kefu_protocol::v1::{ClientMessage, ServerMessage};

        let mut chat = FriendsChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.opened(true, &mut chat);
        assert!(!chat.friends_on, "no Friends tab before a v2 server says so");
        let bob_online = || Friend {
            person: Person { uid: user(6), name: "Bob".into(), avatar: String::new() },
            conversation: cid(-2),
            online: true,
            last: None,
            unread: 0,
        };
        let bob = bob_online();
        let list = kefu_protocol::friends::Friends { friends: vec![bob], ..Default::default() };
        courier.on_v1(&mut chat, ServerMessage::Friends(list), "t".into());
        // The connection carries customer service's conversation too: not shown here.
        courier.on_v1(&mut chat, ServerMessage::Message(stored(5, 3, "s3", AGENT_UID)), "t".into());
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        assert!(chat.friends_on);
        assert!(chat.peers.chats.is_empty());
        // The link drops: Bob may be online or not, nobody can tell; he is not shown online
        // (before: green while one's own link was down). Back, the replay says again.
        assert!(chat.peers.friend_by_uid(user(6)).is_some_and(|f| f.online));
        courier.lost(&mut chat, "t".into());
        assert!(chat.peers.friend_by_uid(user(6)).is_some_and(|f| !f.online));
        courier.opened(true, &mut chat);
        let bob_again = kefu_protocol::friends::Friends { friends: vec![bob_online()], ..Default::default() };
        courier.on_v1(&mut chat, ServerMessage::Friends(bob_again), "t".into());
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        assert!(chat.peers.friend_by_uid(user(6)).is_some_and(|f| f.online));
        // Writing to Bob: shown as sending in his conversation, sent with its id.
        let effects = courier.compose(&mut chat, "p1".into(), Some(cid(-2)), "hi Bob", "t".into());
        assert!(effects.contains(&Effect::SendV1(ClientMessage::Send {
            id: "p1".into(),
            conversation: Some(cid(-2)),
            text: "hi Bob".into()
        })));
        courier.on_v1(
            &mut chat,
            ServerMessage::Ack { id: "p1".into(), conversation: cid(-2), seq: 1 },
            "t".into(),
        );
        let entry = &chat.peers.chats[&cid(-2)].timeline.entries[0];
        assert_eq!((entry.delivery, entry.seq), (Delivery::Sent, Some(1)));
        // Bob answers while the person looks elsewhere: unread; resume carries the positions
        // (customer service's too, so that it is not replayed to this page).
        courier.on_v1(&mut chat, ServerMessage::Message(stored(-2, 2, "b1", 6)), "t".into());
        assert_eq!(chat.peers.unread_total(), 1);
        assert_eq!(chat.peers.chats[&cid(-2)].timeline.entries[1].from, From::User);
        let resume = courier.opened(true, &mut chat);
        assert_eq!(
            resume,
            vec![Effect::SendV1(ClientMessage::Resume {
                after: vec![
                    Position { conversation: cid(5), seq: 3 },
                    Position { conversation: cid(-2), seq: 2 }
                ]
            })]
        );
    }
}
