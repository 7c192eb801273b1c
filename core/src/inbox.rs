//! The agent console's model: one conversation per user, with unread counts, most recent
//! first. Pure data, no browser types.
//!
//! - v1: messages carry their conversation; every agent reply is shown on the agent side
//!   (`me`), whoever on the team wrote it.
//! - v0: a reply has no addressee and reaches every user. The console files a reply under the
//!   conversation it was typed in (matched by its echo); a reply from another agent, which
//!   cannot be matched, is filed under every conversation, since every user received it.

use kefu_protocol::v1::{ConversationId, Message, Position, Seq, MAX_RESUME_POSITIONS};
use kefu_protocol::{ChatMessage, Role, AGENT_UID};

use crate::courier::Model;
use crate::i18n::Fold;
use crate::outbox::Pending;
use crate::timeline::{Delivery, Entry, From, Ids, Timeline};

/// One user's conversation with customer service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub uid: ConversationId,
    pub username: String,
    pub avatar: String,
    pub timeline: Timeline,
    pub unread: usize,
    /// Whether older messages exist on the server (v1).
    pub has_more: bool,
    /// Whether the user is connected now (v1).
    pub online: bool,
    /// Until when (ms) to show that the user is typing.
    pub typing_until: Option<u64>,
    /// How far the user has read (own replies up to it show as read).
    pub user_read: Seq,
    /// How far the agents have read (shared by all agents).
    pub agents_read: Seq,
    /// Order of the latest activity on this page; larger is more recent.
    pub activity: u64,
}

impl Conversation {
    pub fn preview(&self) -> Option<&Entry> {
        self.timeline.entries.iter().rev().find(|e| e.from != From::System)
    }

    /// What orders the list: the latest message's time, then activity on this page.
    fn recency(&self) -> (&str, u64) {
        (self.preview().map(|e| e.time.as_str()).unwrap_or_default(), self.activity)
    }
}

/// What a retried reply needs to be sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub conversation: ConversationId,
    pub message_id: Option<String>,
    pub text: String,
}

#[derive(Debug, Default, Clone)]
pub struct Inbox {
    conversations: Vec<Conversation>,
    selected: Option<ConversationId>,
    /// Backend notices and connection events, not tied to a conversation.
    pub notices: Timeline,
    ids: Ids,
    activity: u64,
    /// The team inbox (statuses, assignees, notes, canned replies), when the backend has one.
    #[cfg(any(not(target_arch = "wasm32"), feature = "team"))]
    pub team: crate::team::Team,
}

impl Inbox {
    /// Every conversation's user, in no particular order (what counts need: no sort).
    pub fn uids(&self) -> impl Iterator<Item = ConversationId> + '_ {
        self.conversations.iter().map(|c| c.uid)
    }

    /// Conversations, most recent first.
    pub fn conversations(&self) -> Vec<&Conversation> {
        let mut list: Vec<&Conversation> = self.conversations.iter().collect();
        // Borrowed keys: this runs on every change, over every conversation.
        list.sort_by(|a, b| b.recency().cmp(&a.recency()));
        list
    }

    pub fn selected(&self) -> Option<&Conversation> {
        self.conversation(self.selected?)
    }

    /// The conversation with user `uid`, if listed (no sorting: [`Inbox::conversations`] sorts).
    pub fn conversation(&self, uid: ConversationId) -> Option<&Conversation> {
        self.conversations.iter().find(|c| c.uid == uid)
    }

    /// Opens a conversation and marks it read. Returns false for an unknown user.
    pub fn select(&mut self, uid: ConversationId) -> bool {
        match self.conversations.iter_mut().find(|c| c.uid == uid) {
            Some(conversation) => {
                conversation.unread = 0;
                self.selected = Some(uid);
                true
            }
            None => false,
        }
    }

    /// Total unread messages.
    pub fn unread(&self) -> usize {
        self.conversations.iter().map(|c| c.unread).sum()
    }

    /// v1: where to resume: the last sequence number of each conversation shown, the most
    /// recent first, at most as many as a `resume` may carry. (Conversations past that come
    /// back as their latest page, which [`Inbox::history`] does not let leave a hole.)
    pub fn positions(&self) -> Vec<Position> {
        self.conversations()
            .into_iter()
            .filter_map(|c| c.timeline.last_seq().map(|seq| Position { conversation: c.uid, seq }))
            .take(MAX_RESUME_POSITIONS)
            .collect()
    }

    /// v0: files a message from the backend; returns the own reply it confirmed, if any.
    pub fn receive(&mut self, message: &ChatMessage) -> Option<String> {
        self.activity += 1;
        if message.uid == AGENT_UID {
            return self.receive_v0_reply(message);
        }
        let activity = self.activity;
        // The original numbers users as it likes; one outside the ids' ranges is not listed.
        let uid = ConversationId::new(message.uid)?;
        let unread = self.selected != Some(uid);
        let conversation = conversation_in(&mut self.conversations, uid);
        conversation.username = kefu_protocol::display_name(&message.username);
        conversation.avatar = message.avatar.clone();
        conversation.activity = activity;
        if unread {
            conversation.unread += 1;
        }
        conversation.timeline.push_received(&mut self.ids, From::User, message);
        None
    }

    fn receive_v0_reply(&mut self, message: &ChatMessage) -> Option<String> {
        // The echo of our own reply: the conversation holding the oldest matching pending one.
        let own = self
            .conversations
            .iter()
            .filter_map(|c| {
                c.timeline
                    .entries
                    .iter()
                    .find(|e| e.delivery == Delivery::Sending && e.text == message.text)
                    .map(|e| (e.id, c.uid))
            })
            .min();
        let activity = self.activity;
        if let Some((_, uid)) = own {
            let conversation = conversation_in(&mut self.conversations, uid);
            conversation.activity = activity;
            return conversation.timeline.confirm(message).and_then(|e| e.message_id.clone());
        }
        for conversation in &mut self.conversations {
            conversation.timeline.push_received(&mut self.ids, From::Agent, message);
        }
        None
    }

    /// v1: files a stored message. `live` messages from users count as unread unless their
    /// conversation is open.
    pub fn receive_v1(&mut self, message: &Message, live: bool) {
        self.activity += 1;
        let activity = self.activity;
        let unread = live && self.selected != Some(message.conversation) && message.uid != AGENT_UID;
        let conversation = conversation_in(&mut self.conversations, message.conversation);
        let from = if message.uid == AGENT_UID { From::Me } else { From::User };
        if message.uid != AGENT_UID {
            conversation.username = kefu_protocol::display_name(&message.username);
            conversation.avatar = message.avatar.clone();
            // The user sent what they were typing.
            conversation.typing_until = None;
        }
        if conversation.timeline.upsert(&mut self.ids, from, message) {
            conversation.activity = activity;
            if unread && message.seq > conversation.agents_read {
                conversation.unread += 1;
            }
        }
        conversation.timeline.mark_read(conversation.user_read);
    }

    /// v1: a page of a conversation's messages (older ones, or the latest on connecting).
    /// A latest page that does not join what is shown (messages were missed in between)
    /// replaces the stored messages shown, so a hole is never shown as a whole conversation.
    pub fn history(&mut self, conversation: ConversationId, messages: &[Message], has_more: bool) {
        let shown = conversation_in(&mut self.conversations, conversation);
        if let (Some(first), Some(last)) = (messages.first().map(|m| m.seq), shown.timeline.last_seq()) {
            if first > last + 1 {
                shown.timeline.entries.retain(|e| e.seq.is_none());
            }
        }
        for message in messages {
            self.receive_v1(message, false);
        }
        conversation_in(&mut self.conversations, conversation).has_more = has_more;
    }

    /// The open conversation's id.
    pub fn selected_id(&self) -> Option<ConversationId> {
        self.selected
    }

    /// Shows the agent's reply in `conversation` as *sending*; returns its entry id.
    pub fn show_reply(
        &mut self,
        conversation: ConversationId,
        message_id: String,
        text: &str,
        local_time: String,
    ) -> Option<u64> {
        self.activity += 1;
        let activity = self.activity;
        let conversation = conversation_in(&mut self.conversations, conversation);
        conversation.activity = activity;
        Some(conversation.timeline.push_sending(&mut self.ids, AGENT_UID, Some(message_id), text, local_time))
    }

    /// v1: own reply `message_id` was stored as `seq`.
    pub fn ack(&mut self, message_id: &str, seq: Seq) -> bool {
        self.conversations.iter_mut().any(|c| c.timeline.ack(message_id, seq))
    }

    /// v1: own reply `message_id` was refused.
    pub fn fail(&mut self, message_id: &str, reason: &str) -> bool {
        self.conversations.iter_mut().any(|c| c.timeline.fail(message_id, reason))
    }

    /// Puts a failed reply back to *sending*.
    pub fn retry(&mut self, id: u64) -> Option<Retry> {
        self.conversations.iter_mut().find_map(|c| {
            let conversation = c.uid;
            c.timeline.retry(id).map(|e| Retry {
                conversation,
                message_id: e.message_id.clone(),
                text: e.text.clone(),
            })
        })
    }

    /// v0: the link dropped; returns the message ids of replies marked failed.
    pub fn fail_pending(&mut self) -> Vec<String> {
        self.conversations.iter_mut().flat_map(|c| c.timeline.fail_pending()).collect()
    }

    /// v0: the backend processed these replies; any not echoed was refused.
    pub fn fail_unechoed(&mut self, ids: &[u64]) -> Vec<String> {
        self.conversations.iter_mut().flat_map(|c| c.timeline.fail_unechoed(ids)).collect()
    }

    /// A user came online or went offline; an online user is listed even before writing.
    pub fn set_online(&mut self, conversation: ConversationId, online: bool) {
        if online || self.conversations.iter().any(|c| c.uid == conversation) {
            conversation_in(&mut self.conversations, conversation).online = online;
        }
    }

    /// The name the server vouches for, shown until a message says otherwise.
    pub fn set_name(&mut self, conversation: ConversationId, name: &str) {
        if let Some(c) = self.conversations.iter_mut().find(|c| c.uid == conversation) {
            c.username = kefu_protocol::display_name(name);
        }
    }

    /// A read position advanced: the user's marks own replies read; the agents' (any agent's,
    /// this one's too) clears what was unread up to it.
    pub fn set_read(&mut self, conversation: ConversationId, by_agents: bool, seq: Seq) {
        let conversation = conversation_in(&mut self.conversations, conversation);
        if by_agents {
            conversation.agents_read = conversation.agents_read.max(seq);
            let agents_read = conversation.agents_read;
            conversation.unread = conversation
                .timeline
                .entries
                .iter()
                .filter(|e| e.from == From::User && e.seq.is_some_and(|s| s > agents_read))
                .count();
        } else {
            conversation.user_read = conversation.user_read.max(seq);
            conversation.timeline.mark_read(conversation.user_read);
        }
    }

    /// The user of `conversation` is typing; shown until `until_ms`.
    pub fn set_typing(&mut self, conversation: ConversationId, until_ms: u64) {
        conversation_in(&mut self.conversations, conversation).typing_until = Some(until_ms);
    }

    pub fn all_offline(&mut self) {
        for conversation in &mut self.conversations {
            conversation.online = false;
        }
    }

    /// Conversations whose user name contains `filter` (any case, lowercased by `fold`), most
    /// recent first.
    pub fn filtered(&self, filter: &str, fold: Fold) -> Vec<&Conversation> {
        let filter = fold(filter.trim());
        if filter.is_empty() {
            return self.conversations();
        }
        self.conversations().into_iter().filter(|c| fold(&c.username).contains(&filter)).collect()
    }

    pub fn push_notice(&mut self, text: &str, local_time: String) {
        self.notices.push_notice(&mut self.ids, text, local_time);
    }
}

/// The conversation with user `uid`, created empty if new.
fn conversation_in(conversations: &mut Vec<Conversation>, uid: ConversationId) -> &mut Conversation {
    let index = match conversations.iter().position(|c| c.uid == uid) {
        Some(index) => index,
        None => {
            conversations.push(Conversation {
                uid,
                username: format!("user{uid}"),
                avatar: String::new(),
                timeline: Timeline::default(),
                unread: 0,
                has_more: false,
                online: false,
                typing_until: None,
                user_read: 0,
                agents_read: 0,
                activity: 0,
            });
            conversations.len() - 1
        }
    };
    &mut conversations[index]
}

impl Model for Inbox {
    fn other_side(&self) -> Role {
        Role::User
    }

    #[cfg(any(not(target_arch = "wasm32"), feature = "team"))]
    fn team(&mut self, frame: &kefu_protocol::v1::ServerMessage) {
        self.team.apply(frame);
    }

    #[cfg(any(not(target_arch = "wasm32"), feature = "team"))]
    fn team_ready(&mut self) -> Vec<kefu_protocol::v1::ClientMessage> {
        if !self.team.enabled {
            return vec![];
        }
        self.team.forget_events();
        let mut frames = self.team.resend();
        if let Some(conversation) = self.selected_id() {
            frames.push(self.team.ask_events(conversation));
        }
        frames
    }

    fn show_pending(&mut self, pending: &Pending) -> Option<u64> {
        let conversation = pending.conversation?;
        self.show_reply(conversation, pending.id.clone(), &pending.text, pending.time.clone())
    }

    fn entry_of(&self, message_id: &str) -> Option<u64> {
        self.conversations().iter().find_map(|c| c.timeline.by_message_id(message_id).map(|e| e.id))
    }

    fn retry(&mut self, entry: u64) -> Option<String> {
        Inbox::retry(self, entry).and_then(|r| r.message_id)
    }

    fn ack(&mut self, message_id: &str, seq: Seq) {
        Inbox::ack(self, message_id, seq);
    }

    fn fail(&mut self, message_id: &str, reason: &str) {
        Inbox::fail(self, message_id, reason);
    }

    fn unconfirm(&mut self, message_id: &str, reason: &str) -> bool {
        self.conversations.iter_mut().any(|c| c.timeline.unconfirm(message_id, reason))
    }

    fn receive_v1(&mut self, message: &Message, live: bool) {
        Inbox::receive_v1(self, message, live);
    }

    fn history(&mut self, conversation: ConversationId, messages: &[Message], has_more: bool) {
        Inbox::history(self, conversation, messages, has_more);
    }

    fn receive_v0(&mut self, message: &ChatMessage) -> Option<String> {
        self.receive(message)
    }

    fn notice(&mut self, text: &str, local_time: String) {
        self.push_notice(text, local_time);
    }

    fn fail_unechoed(&mut self, entries: &[u64]) -> Vec<String> {
        Inbox::fail_unechoed(self, entries)
    }

    fn positions(&self) -> Vec<Position> {
        Inbox::positions(self)
    }

    fn oldest(&self, conversation: ConversationId) -> (Option<Seq>, bool) {
        self.conversation(conversation).map(|c| (c.timeline.first_seq(), c.has_more)).unwrap_or((None, false))
    }

    fn presence(&mut self, conversation: ConversationId, online: bool, name: Option<&str>) {
        self.set_online(conversation, online);
        if let Some(name) = name {
            self.set_name(conversation, name);
        }
    }

    fn read(&mut self, conversation: ConversationId, agent: bool, seq: Seq) {
        self.set_read(conversation, agent, seq);
    }

    fn typing(&mut self, conversation: ConversationId, agent: bool, until_ms: u64) {
        if !agent {
            self.set_typing(conversation, until_ms);
        }
    }

    fn reset_presence(&mut self) {
        self.all_offline();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::cid;
    use crate::fixtures::{chat as message, stored_at as stored};

    #[test]
    fn groups_by_user_most_recent_first_with_unread_counts() {
        let mut inbox = Inbox::default();
        inbox.receive(&message(5, "a"));
        inbox.receive(&message(6, "b"));
        inbox.receive(&message(5, "c"));
        let order: Vec<(ConversationId, usize)> =
            inbox.conversations().iter().map(|c| (c.uid, c.unread)).collect();
        assert_eq!(order, vec![(cid(5), 2), (cid(6), 1)]);
        assert_eq!(inbox.unread(), 3);
        assert!(inbox.select(cid(5)));
        assert_eq!(inbox.unread(), 1);
        inbox.receive(&message(5, "d"));
        assert_eq!(inbox.unread(), 1, "messages in the open conversation are read");
        assert!(!inbox.select(cid(99)));
    }

    #[test]
    fn own_v0_reply_is_filed_under_its_conversation_and_confirmed() {
        let mut inbox = Inbox::default();
        assert_eq!(inbox.selected_id(), None);
        inbox.receive(&message(5, "hello"));
        inbox.receive(&message(6, "hi"));
        inbox.select(cid(6));
        inbox.show_reply(cid(6), "w".into(), "welcome", "t".into()).expect("shown");
        assert_eq!(inbox.receive(&message(AGENT_UID, "welcome")), Some("w".into()));
        let six = inbox.selected().expect("selected");
        let last = six.preview().expect("has messages");
        assert_eq!((last.from, last.delivery, last.text.as_str()), (From::Me, Delivery::Sent, "welcome"));
        let five = inbox.conversations().into_iter().find(|c| c.uid == cid(5)).expect("exists");
        assert_eq!(five.timeline.entries.len(), 1);
    }

    #[test]
    fn another_agents_v0_reply_shows_in_every_conversation() {
        let mut inbox = Inbox::default();
        inbox.receive(&message(5, "hello"));
        inbox.receive(&message(6, "hi"));
        inbox.receive(&message(AGENT_UID, "from a colleague"));
        for conversation in inbox.conversations() {
            let last = conversation.preview().expect("has messages");
            assert_eq!((last.from, last.text.as_str()), (From::Agent, "from a colleague"));
        }
    }

    #[test]
    fn lost_link_fails_replies_and_retry_resends() {
        let mut inbox = Inbox::default();
        inbox.receive(&message(5, "hello"));
        inbox.select(cid(5));
        let id = inbox.show_reply(cid(5), "r".into(), "r", "t".into()).expect("shown");
        assert_eq!(inbox.fail_pending(), vec!["r".to_owned()]);
        let retry = inbox.retry(id).expect("retry");
        assert_eq!(
            (retry.conversation, retry.message_id.as_deref(), retry.text.as_str()),
            (cid(5), Some("r"), "r")
        );
        assert_eq!(inbox.retry(id), None);
    }

    #[test]
    fn v1_files_by_conversation_counts_live_unread_and_resumes_from_last_seq() {
        let mut inbox = Inbox::default();
        inbox.history(
            cid(5),
            &[stored(5, 1, 5, "2026-11-26 09:00:00"), stored(5, 2, AGENT_UID, "2026-11-26 09:01:00")],
            true,
        );
        inbox.history(cid(6), &[stored(6, 1, 6, "2026-11-26 09:30:00")], false);
        assert_eq!(inbox.unread(), 0, "history is not unread");
        let order: Vec<ConversationId> = inbox.conversations().iter().map(|c| c.uid).collect();
        assert_eq!(order, vec![cid(6), cid(5)], "most recent message first");
        inbox.receive_v1(&stored(5, 3, 5, "2026-11-26 10:00:00"), true);
        inbox.receive_v1(&stored(5, 3, 5, "2026-11-26 10:00:00"), true);
        assert_eq!(inbox.unread(), 1, "a repeat is not counted twice");
        assert_eq!(inbox.conversations()[0].uid, cid(5));
        assert!(!inbox.conversations()[1].has_more && inbox.conversations()[0].has_more);
        let mut positions = inbox.positions();
        positions.sort_by_key(|p| p.conversation);
        assert_eq!(
            positions,
            vec![Position { conversation: cid(5), seq: 3 }, Position { conversation: cid(6), seq: 1 }]
        );
        // Own reply: acked into place; agent replies are on our side.
        inbox.select(cid(6));
        inbox.show_reply(cid(6), "mine".into(), "answer", "t".into()).expect("shown");
        assert!(inbox.ack("mine", 2));
        let six = inbox.selected().expect("selected");
        assert_eq!(six.timeline.last_seq(), Some(2));
        assert!(!inbox.fail("mine", "late"), "a stored reply cannot fail");
        assert!(!inbox.ack("nobody", 9));
    }

    #[test]
    fn reads_mark_replies_and_clear_unread_for_the_whole_team() {
        let mut inbox = Inbox::default();
        for seq in 1..=3 {
            inbox.receive_v1(&stored(5, seq, 5, "2026-11-26 10:00:00"), true);
        }
        assert_eq!(inbox.unread(), 3);
        // Another agent read up to 2.
        inbox.set_read(cid(5), true, 2);
        assert_eq!(inbox.unread(), 1);
        // Our reply, then the user reads it.
        inbox.receive_v1(&stored(5, 4, AGENT_UID, "2026-11-26 10:01:00"), false);
        let reply = |inbox: &Inbox| inbox.conversations()[0].timeline.entries.last().map(|e| e.read);
        assert_eq!(reply(&inbox), Some(false));
        inbox.set_read(cid(5), false, 4);
        assert_eq!(reply(&inbox), Some(true));
        inbox.set_read(cid(5), true, 1);
        assert_eq!(inbox.unread(), 1, "read positions never go back");
    }

    #[test]
    fn a_resume_names_the_most_recent_conversations_within_the_cap() {
        let mut inbox = Inbox::default();
        for uid in 1..=(MAX_RESUME_POSITIONS as i64 + 5) {
            inbox.receive_v1(&stored(uid, 1, uid, "2026-11-26 09:00:00"), false);
        }
        inbox.receive_v1(&stored(1, 2, 1, "2026-11-26 10:00:00"), false);
        let positions = inbox.positions();
        assert_eq!(positions.len(), MAX_RESUME_POSITIONS);
        assert_eq!(positions[0], Position { conversation: cid(1), seq: 2 }, "the most recent first");
    }

    #[test]
    fn a_latest_page_past_a_hole_replaces_what_was_shown() {
        let mut inbox = Inbox::default();
        inbox.history(cid(5), &[stored(5, 1, 5, "t1"), stored(5, 2, 5, "t2")], false);
        inbox.show_reply(cid(5), "pending".into(), "still sending", "t".into());
        // Reconnected past the cap: the latest page starts at 40, messages 3..39 were missed.
        inbox.history(cid(5), &[stored(5, 40, 5, "t40"), stored(5, 41, 5, "t41")], true);
        let shown: Vec<Option<u64>> =
            inbox.conversation(cid(5)).expect("listed").timeline.entries.iter().map(|e| e.seq).collect();
        assert_eq!(shown, vec![Some(40), Some(41), None], "no 2 then 40, and the pending reply stays");
        assert!(inbox.conversation(cid(5)).expect("listed").has_more, "older pages come on scrolling up");
    }

    #[test]
    fn names_are_shown_without_invisible_characters() {
        let mut inbox = Inbox::default();
        inbox.receive(&ChatMessage { username: "Ali\u{200B}ce".into(), ..message(5, "hi") });
        assert_eq!(inbox.conversation(cid(5)).map(|c| c.username.as_str()), Some("Alice"));
    }

    #[test]
    fn presence_lists_online_users_and_filter_matches_names() {
        let mut inbox = Inbox::default();
        inbox.set_online(cid(7), true);
        inbox.set_online(cid(8), false);
        let listed: Vec<(ConversationId, bool)> =
            inbox.conversations().iter().map(|c| (c.uid, c.online)).collect();
        assert_eq!(listed, vec![(cid(7), true)], "an offline stranger is not listed");
        inbox.receive(&message(9, "hi"));
        inbox.set_online(cid(9), true);
        inbox.all_offline();
        assert!(inbox.conversations().iter().all(|c| !c.online));
        assert_eq!(
            inbox.filtered("USER9", str::to_lowercase).iter().map(|c| c.uid).collect::<Vec<_>>(),
            vec![cid(9)]
        );
        assert_eq!(inbox.filtered(" ", str::to_lowercase).len(), 2);
        assert!(inbox.filtered("nobody", str::to_lowercase).is_empty());
        inbox.set_name(cid(7), "Alice");
        assert_eq!(
            inbox.filtered("ali", str::to_lowercase).iter().map(|c| c.uid).collect::<Vec<_>>(),
            vec![cid(7)]
        );
    }
}
