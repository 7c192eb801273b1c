//! The user page's friends and peer conversations (protocol v2): the friends list as the
//! server last sent it, with live changes on top (presence, new messages, read positions),
//! and one timeline per peer conversation that has been opened or has news. Pure data.

use kefu_protocol::ids::UserId;
use std::collections::BTreeMap;

use kefu_protocol::friends::{sort_recent_first, Friend, Friends, Person};
use kefu_protocol::v1::{ConversationId, ErrorCode, Message, Position, Seq};

use crate::timeline::{From, Ids, Timeline};

/// One peer conversation as the page shows it.
#[derive(Debug, Clone, Default)]
pub struct PeerChat {
    pub timeline: Timeline,
    /// Whether older messages than the first shown exist (unknown: assumed until a page says).
    pub has_more: bool,
    /// How far the friend has read (own messages up to it show *read*).
    pub their_read: Seq,
    /// Until when (ms) to show that the friend is typing.
    pub typing_until: Option<u64>,
    /// A history page has arrived (an empty conversation then stays empty: no more asking).
    pub loaded: bool,
}

impl PeerChat {
    /// What to page back from, and whether there is more to ask for.
    pub fn oldest(&self) -> (Option<Seq>, bool) {
        match self.timeline.first_seq() {
            None => (None, !self.loaded),
            first => (first, self.has_more),
        }
    }
}

/// Friends, requests, blocks and peer chats.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    pub me: i64,
    pub list: Friends,
    pub chats: BTreeMap<ConversationId, PeerChat>,
    /// A friend frame was sent and not answered yet (the answer is a new list, or a refusal).
    pub awaiting: bool,
    /// Why the last friend frame was refused, until the next one.
    pub refusal: Option<ErrorCode>,
    /// People who were friends and are no longer (removed, blocked, or blocking): their name
    /// and conversation, so that it stays readable; only writing is refused.
    pub former: BTreeMap<UserId, (Person, ConversationId)>,
}

impl Peers {
    pub fn new(me: i64) -> Peers {
        Peers { me, ..Peers::default() }
    }

    /// The page sent a friend frame.
    pub fn asked(&mut self) {
        self.awaiting = true;
        self.refusal = None;
    }

    /// A refusal arrived; `true` if it answers the frame the page sent.
    pub fn refused(&mut self, code: ErrorCode) -> bool {
        if !std::mem::take(&mut self.awaiting) {
            return false;
        }
        self.refusal = Some(code);
        true
    }

    /// A new list from the server (after any change): it replaces the old one.
    pub fn set_list(&mut self, mut list: Friends) {
        self.awaiting = false;
        sort_recent_first(&mut list.friends);
        for gone in
            self.list.friends.iter().filter(|f| !list.friends.iter().any(|n| n.person.uid == f.person.uid))
        {
            self.former.insert(gone.person.uid, (gone.person.clone(), gone.conversation));
        }
        for friend in &list.friends {
            self.former.remove(&friend.person.uid);
        }
        self.list = list;
    }

    /// Someone this page knows a conversation with: a friend, or a former one.
    pub fn known(&self, uid: UserId) -> Option<(Person, ConversationId)> {
        match self.friend_by_uid(uid) {
            Some(friend) => Some((friend.person.clone(), friend.conversation)),
            None => self.former.get(&uid).cloned(),
        }
    }

    pub fn friend(&self, conversation: ConversationId) -> Option<&Friend> {
        self.list.friends.iter().find(|f| f.conversation == conversation)
    }

    pub fn friend_by_uid(&self, uid: UserId) -> Option<&Friend> {
        self.list.friends.iter().find(|f| f.person.uid == uid)
    }

    /// A friend came online or went offline.
    pub fn presence(&mut self, uid: UserId, online: bool) {
        if let Some(friend) = self.list.friends.iter_mut().find(|f| f.person.uid == uid) {
            friend.online = online;
        }
    }

    /// The link is down: whether friends are online cannot be known, so none is shown online
    /// (the replay's list says again who is, once the link is back).
    pub fn all_offline(&mut self) {
        for friend in &mut self.list.friends {
            friend.online = false;
        }
    }

    /// A stored message of a peer conversation. `open`: the person is looking at that
    /// conversation now (it does not count as unread). Returns whether it was new.
    pub fn receive(&mut self, ids: &mut Ids, message: &Message, open: bool) -> bool {
        let from = if message.uid == self.me { From::Me } else { From::User };
        let chat = self
            .chats
            .entry(message.conversation)
            .or_insert_with(|| PeerChat { has_more: message.seq > 1, ..PeerChat::default() });
        if from == From::User {
            chat.typing_until = None;
        }
        let new = chat.timeline.upsert(ids, from, message);
        chat.timeline.mark_read(chat.their_read);
        if let Some(friend) = self.list.friends.iter_mut().find(|f| f.conversation == message.conversation) {
            let newer = friend.last.as_ref().is_none_or(|last| message.seq > last.seq);
            if newer {
                friend.last = Some(message.clone());
                if from == From::User && !open {
                    friend.unread += 1;
                }
            }
            sort_recent_first(&mut self.list.friends);
        }
        new
    }

    /// A page of a peer conversation's messages.
    pub fn history(
        &mut self,
        ids: &mut Ids,
        conversation: ConversationId,
        messages: &[Message],
        has_more: bool,
    ) {
        for message in messages {
            let from = if message.uid == self.me { From::Me } else { From::User };
            let chat = self.chats.entry(conversation).or_default();
            chat.timeline.upsert(ids, from, message);
        }
        let chat = self.chats.entry(conversation).or_default();
        chat.has_more = has_more;
        chat.loaded = true;
        chat.timeline.mark_read(chat.their_read);
    }

    /// A member's read position: the friend's marks own messages *read*; one's own (from
    /// another tab) clears the unread count.
    pub fn member_read(&mut self, conversation: ConversationId, uid: UserId, seq: Seq) {
        if uid.get() == self.me {
            if let Some(friend) = self.list.friends.iter_mut().find(|f| f.conversation == conversation) {
                if friend.last.as_ref().is_some_and(|last| last.seq <= seq) {
                    friend.unread = 0;
                }
            }
            return;
        }
        let chat = self.chats.entry(conversation).or_default();
        chat.their_read = chat.their_read.max(seq);
        chat.timeline.mark_read(chat.their_read);
    }

    pub fn typing(&mut self, conversation: ConversationId, uid: UserId, until_ms: u64) {
        if uid.get() != self.me {
            self.chats.entry(conversation).or_default().typing_until = Some(until_ms);
        }
    }

    /// The person looks at `conversation`: nothing there is unread any more. Returns the
    /// latest sequence number to report as read.
    pub fn seen(&mut self, conversation: ConversationId) -> Option<Seq> {
        let friend = self.list.friends.iter_mut().find(|f| f.conversation == conversation)?;
        friend.unread = 0;
        let shown = self.chats.get(&conversation).and_then(|c| c.timeline.last_seq());
        shown.max(friend.last.as_ref().map(|m| m.seq))
    }

    /// Unread messages from all friends (the Friends tab's badge).
    pub fn unread_total(&self) -> u64 {
        self.list.friends.iter().map(|f| f.unread).sum()
    }

    /// What is new on the Friends screens: unread messages and requests waiting for an answer
    /// (the Friends tab's badge and the browser tab's title).
    pub fn news(&self) -> u64 {
        self.unread_total() + self.list.incoming.len() as u64
    }

    /// Friends whose name (or id) contains `query`, most recent conversation first.
    pub fn filtered(&self, query: &str) -> Vec<&Friend> {
        let query = query.trim().to_lowercase();
        self.list
            .friends
            .iter()
            .filter(|f| {
                query.is_empty()
                    || f.person.name.to_lowercase().contains(&query)
                    || f.person.uid.to_string().contains(&query)
            })
            .collect()
    }

    /// Where to resume each peer conversation shown.
    pub fn positions(&self) -> Vec<Position> {
        self.chats
            .iter()
            .filter_map(|(conversation, chat)| {
                chat.timeline.last_seq().map(|seq| Position { conversation: *conversation, seq })
            })
            .collect()
    }
}

/// What the customer-service page keeps of friends: only what is new on the Friends page, for
/// its tab's badge and the browser tab's title. It counts the way [`Peers`] does (the list's
/// unread counts and requests, then live messages newer than each conversation's latest, and
/// one's own reads from another tab), without keeping the list or any conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerNews {
    me: i64,
    /// Each friend's conversation: the latest sequence number known, and how many unread.
    conversations: BTreeMap<ConversationId, (Seq, u64)>,
    requests: u64,
}

impl PeerNews {
    pub fn new(me: i64) -> PeerNews {
        PeerNews { me, ..PeerNews::default() }
    }

    /// A new list from the server: it replaces everything counted so far.
    pub fn set_list(&mut self, list: &Friends) {
        self.conversations = list
            .friends
            .iter()
            .map(|f| (f.conversation, (f.last.as_ref().map_or(0, |m| m.seq), f.unread)))
            .collect();
        self.requests = list.incoming.len() as u64;
    }

    /// A stored message of a peer conversation; returns whether it was new. Messages of a
    /// conversation not on the list (not or no longer a friend's) are not counted.
    pub fn receive(&mut self, message: &Message) -> bool {
        let Some((last, unread)) = self.conversations.get_mut(&message.conversation) else { return false };
        if message.seq <= *last {
            return false;
        }
        *last = message.seq;
        if message.uid != self.me {
            *unread += 1;
        }
        true
    }

    /// A member's read position: one's own (from the Friends page, maybe in another tab)
    /// up to the latest message clears the conversation's count.
    pub fn member_read(&mut self, conversation: ConversationId, uid: UserId, seq: Seq) {
        if uid.get() != self.me {
            return;
        }
        if let Some((last, unread)) = self.conversations.get_mut(&conversation) {
            if *last <= seq {
                *unread = 0;
            }
        }
    }

    /// Unread messages and requests waiting for an answer.
    pub fn total(&self) -> u64 {
        self.conversations.values().map(|(_, unread)| unread).sum::<u64>() + self.requests
    }
}

/// A person's display name: their name, or "#uid" when the server knows none.
pub fn display_name(name: &str, uid: UserId) -> String {
    if name.trim().is_empty() {
        format!("#{uid}")
    } else {
        name.to_owned()
    }
}

/// Up to two letters for an avatar without a picture: the first letters of the first two
/// words, or the first character (a Chinese name's surname).
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [] => "?".into(),
        [one] => one.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default(),
        [first, second, ..] => {
            [first, second].iter().filter_map(|w| w.chars().next()).flat_map(char::to_uppercase).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::stored_at;
    use crate::fixtures::{cid, user};

    fn friend(
        uid: UserId,
        name: &str,
        conversation: ConversationId,
        last: Option<Message>,
        unread: u64,
    ) -> Friend {
        Friend {
            person: Person { uid, name: name.into(), avatar: String::new() },
            conversation,
            online: false,
            last,
            unread,
        }
    }

    /// Someone who blocks or removes you stays known by name, with the conversation: it stays
    /// readable, only writing is refused (before: the name became "#2" and it went empty).
    #[test]
    fn a_former_friend_keeps_name_and_conversation_until_friends_again() {
        let mut peers = peers();
        let bob = |p: &Peers| p.known(user(2)).map(|(person, c)| (person.name, c));
        assert_eq!(bob(&peers), Some(("Bob".to_owned(), cid(-2))));
        let mut without_bob = peers.list.clone();
        without_bob.friends.retain(|f| f.person.uid != user(2));
        peers.set_list(without_bob.clone());
        assert!(peers.friend_by_uid(user(2)).is_none());
        assert_eq!(bob(&peers), Some(("Bob".to_owned(), cid(-2))), "still known");
        assert_eq!(peers.known(user(9)), None, "never a friend");
        let mut back = without_bob;
        back.friends.push(friend(user(2), "Bob", cid(-2), None, 0));
        peers.set_list(back);
        assert!(peers.former.is_empty(), "friends again");
    }

    fn peers() -> Peers {
        let mut peers = Peers::new(1);
        peers.set_list(Friends {
            friends: vec![
                friend(user(2), "Bob", cid(-2), Some(stored_at(-2, 3, 2, "2026-11-29 10:00:00")), 1),
                friend(user(3), "李雷", cid(-3), Some(stored_at(-3, 1, 1, "2026-11-29 11:00:00")), 0),
                friend(user(4), "Ann Lee", cid(-4), None, 0),
            ],
            ..Friends::default()
        });
        peers
    }

    #[test]
    fn the_list_is_most_recent_first_and_filters_by_name_or_id() {
        let peers = peers();
        let names = |list: Vec<&Friend>| list.iter().map(|f| f.person.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(peers.filtered("")), vec!["李雷", "Bob", "Ann Lee"]);
        assert_eq!(names(peers.filtered("bo")), vec!["Bob"]);
        assert_eq!(names(peers.filtered(" 李 ")), vec!["李雷"]);
        assert_eq!(names(peers.filtered("4")), vec!["Ann Lee"]);
        assert_eq!(peers.unread_total(), 1);
    }

    #[test]
    fn live_messages_count_as_unread_unless_open_and_move_the_friend_up() {
        let mut peers = peers();
        let mut ids = Ids::default();
        assert!(peers.receive(&mut ids, &stored_at(-2, 4, 2, "2026-11-29 12:00:00"), false));
        assert_eq!(peers.friend(cid(-2)).map(|f| f.unread), Some(2));
        assert_eq!(peers.filtered("")[0].person.uid, user(2), "Bob's is now the latest");
        // The same message again (a replay) is not counted twice.
        assert!(!peers.receive(&mut ids, &stored_at(-2, 4, 2, "2026-11-29 12:00:00"), false));
        assert_eq!(peers.unread_total(), 2);
        // Open: read at once; own messages never count.
        peers.receive(&mut ids, &stored_at(-2, 5, 2, "2026-11-29 12:01:00"), true);
        peers.receive(&mut ids, &stored_at(-2, 6, 1, "2026-11-29 12:02:00"), false);
        assert_eq!(peers.unread_total(), 2);
        assert_eq!(peers.seen(cid(-2)), Some(6));
        assert_eq!(peers.unread_total(), 0);
        assert_eq!(peers.positions(), vec![Position { conversation: cid(-2), seq: 6 }]);
    }

    #[test]
    fn reads_typing_and_presence() {
        let mut peers = peers();
        let mut ids = Ids::default();
        peers.receive(&mut ids, &stored_at(-3, 2, 1, "2026-11-29 12:00:00"), true);
        peers.member_read(cid(-3), user(3), 2);
        let chat = &peers.chats[&cid(-3)];
        assert!(chat.timeline.entries.iter().all(|e| e.read), "the friend read my message");
        peers.typing(cid(-3), user(3), 5_000);
        assert_eq!(peers.chats[&cid(-3)].typing_until, Some(5_000));
        peers.typing(cid(-3), user(1), 9_000);
        assert_eq!(peers.chats[&cid(-3)].typing_until, Some(5_000), "my own typing is not shown");
        peers.receive(&mut ids, &stored_at(-3, 3, 3, "2026-11-29 12:00:01"), false);
        assert_eq!(peers.chats[&cid(-3)].typing_until, None, "they sent what they typed");
        assert_eq!(peers.friend(cid(-3)).map(|f| f.unread), Some(1));
        peers.member_read(cid(-3), user(1), 3);
        assert_eq!(peers.friend(cid(-3)).map(|f| f.unread), Some(0), "read in another tab");
        peers.presence(user(3), true);
        assert_eq!(peers.friend_by_uid(user(3)).map(|f| f.online), Some(true));
    }

    #[test]
    fn a_refusal_answers_the_friend_frame_sent_and_a_new_list_clears_it() {
        let mut peers = peers();
        assert!(!peers.refused(ErrorCode::RateLimited), "nothing was asked: not ours");
        peers.asked();
        assert!(peers.refused(ErrorCode::UnknownUser));
        assert_eq!(peers.refusal, Some(ErrorCode::UnknownUser));
        assert!(!peers.refused(ErrorCode::Blocked), "answered already");
        peers.asked();
        assert_eq!(peers.refusal, None);
        peers.set_list(Friends::default());
        assert!(!peers.awaiting);
    }

    #[test]
    fn an_empty_conversation_is_asked_for_once() {
        let mut peers = peers();
        let mut ids = Ids::default();
        peers.history(&mut ids, cid(-4), &[], false);
        assert_eq!(peers.chats[&cid(-4)].oldest(), (None, false), "loaded and empty: nothing more to ask");
        peers.receive(&mut ids, &stored_at(-3, 7, 3, "2026-11-29 12:00:00"), false);
        assert_eq!(peers.chats[&cid(-3)].oldest(), (Some(7), true), "a live message: the page before it");
        assert_eq!(PeerChat::default().oldest(), (None, true), "never loaded");
    }

    /// The customer-service page's count and the Friends page's, fed the same frames, agree.
    #[test]
    fn news_counts_as_the_friends_page_does() {
        let mut peers = peers();
        let mut news = PeerNews::new(1);
        let mut list = peers.list.clone();
        list.incoming.push(kefu_protocol::friends::Request {
            person: Person { uid: user(9), name: "Eve".into(), avatar: String::new() },
            note: String::new(),
            sent: 0,
        });
        peers.set_list(list.clone());
        news.set_list(&list);
        assert_eq!((news.total(), peers.news()), (2, 2), "Bob's unread and Eve's request");
        let mut ids = Ids::default();
        // (message, whether it is news)
        let frames = [
            (stored_at(-2, 3, 2, "2026-11-29 10:00:00"), false), // already counted in the list
            (stored_at(-2, 4, 2, "2026-11-29 12:00:00"), true),
            (stored_at(-2, 4, 2, "2026-11-29 12:00:00"), false), // replayed
            (stored_at(-3, 2, 1, "2026-11-29 12:01:00"), true),  // my own: newer, not unread
            (stored_at(-3, 3, 3, "2026-11-29 12:02:00"), true),
            (stored_at(-9, 1, 9, "2026-11-29 12:03:00"), false), // not a friend's conversation
        ];
        for (message, new) in &frames {
            assert_eq!(news.receive(message), *new, "{message:?}");
            peers.receive(&mut ids, message, false);
            assert_eq!(news.total(), peers.news(), "after {message:?}");
        }
        assert_eq!(news.total(), 4);
        // Read on the Friends page: up to the latest clears it, short of it does not.
        for (conversation, seq) in [(cid(-2), 3), (cid(-2), 4), (cid(-3), 3)] {
            news.member_read(conversation, user(1), seq);
            peers.member_read(conversation, user(1), seq);
            assert_eq!(news.total(), peers.news(), "read {conversation} to {seq}");
        }
        news.member_read(cid(-2), user(2), 99);
        assert_eq!(news.total(), 1, "Bob's reading is not mine; Eve's request is still waiting");
        news.set_list(&Friends::default());
        assert_eq!(news.total(), 0);
    }

    #[test]
    fn names_and_initials() {
        assert_eq!(display_name("", user(42)), "#42");
        assert_eq!(initials("Ann Lee"), "AL");
        assert_eq!(initials("李雷"), "李");
        assert_eq!(initials("bob"), "B");
        assert_eq!(initials(""), "?");
    }
}
