//! The agent console's model: incoming messages grouped into one conversation per user.
//! Pure data, no browser types.
//!
//! The original protocol gives an agent's reply no addressee: it reaches every user. The
//! console still files a reply under the conversation it was typed in (matched by its echo);
//! a reply from another agent, which cannot be matched, is filed under every conversation,
//! since every user received it.

use kefu_protocol::{ChatMessage, AGENT_UID};

use crate::timeline::{Entry, From, Ids, Timeline};

/// One user's conversation with customer service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub uid: i64,
    pub username: String,
    pub avatar: String,
    pub timeline: Timeline,
    pub unread: usize,
    /// Order of the latest activity; larger is more recent.
    pub activity: u64,
}

impl Conversation {
    pub fn preview(&self) -> Option<&Entry> {
        self.timeline.last()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Inbox {
    conversations: Vec<Conversation>,
    selected: Option<i64>,
    /// Backend notices and connection events, not tied to a conversation.
    pub notices: Timeline,
    ids: Ids,
    activity: u64,
}

impl Inbox {
    /// Conversations, most recent activity first.
    pub fn conversations(&self) -> Vec<&Conversation> {
        let mut list: Vec<&Conversation> = self.conversations.iter().collect();
        list.sort_by_key(|c| std::cmp::Reverse(c.activity));
        list
    }

    pub fn selected(&self) -> Option<&Conversation> {
        let uid = self.selected?;
        self.conversations.iter().find(|c| c.uid == uid)
    }

    /// Opens a conversation and marks it read. Returns false for an unknown user.
    pub fn select(&mut self, uid: i64) -> bool {
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

    /// Files a message from the backend.
    pub fn receive(&mut self, message: &ChatMessage) {
        self.activity += 1;
        if message.uid == AGENT_UID {
            self.receive_agent_reply(message);
            return;
        }
        let activity = self.activity;
        let selected = self.selected == Some(message.uid);
        let conversation = self.conversation_mut(message.uid);
        conversation.username = message.username.clone();
        conversation.avatar = message.avatar.clone();
        conversation.activity = activity;
        if !selected {
            conversation.unread += 1;
        }
        let mut ids = std::mem::take(&mut self.ids);
        self.conversation_mut(message.uid).timeline.push_received(&mut ids, From::User, message);
        self.ids = ids;
    }

    fn receive_agent_reply(&mut self, message: &ChatMessage) {
        // The echo of our own reply: the conversation holding the oldest matching pending one.
        let own = self
            .conversations
            .iter()
            .filter_map(|c| {
                c.timeline
                    .entries
                    .iter()
                    .find(|e| e.delivery == crate::timeline::Delivery::Sending && e.text == message.text)
                    .map(|e| (e.id, c.uid))
            })
            .min();
        let activity = self.activity;
        if let Some((_, uid)) = own {
            let conversation = self.conversation_mut(uid);
            conversation.timeline.confirm(message);
            conversation.activity = activity;
            return;
        }
        for conversation in &mut self.conversations {
            conversation.timeline.push_received(&mut self.ids, From::Agent, message);
        }
    }

    /// Adds the agent's reply to the selected conversation as *sending*; returns its id,
    /// or `None` when no conversation is selected.
    pub fn send_local(&mut self, text: &str, local_time: String) -> Option<u64> {
        let uid = self.selected?;
        self.activity += 1;
        let activity = self.activity;
        let mut ids = std::mem::take(&mut self.ids);
        let conversation = self.conversation_mut(uid);
        conversation.activity = activity;
        let id = conversation.timeline.push_sending(&mut ids, AGENT_UID, text, local_time);
        self.ids = ids;
        Some(id)
    }

    /// Puts a failed reply back to *sending*; returns its text.
    pub fn retry(&mut self, id: u64) -> Option<String> {
        self.conversations.iter_mut().find_map(|c| c.timeline.retry(id))
    }

    /// The backend processed these replies; any not echoed was refused.
    pub fn fail_unechoed(&mut self, ids: &[u64]) -> usize {
        self.conversations.iter_mut().map(|c| c.timeline.fail_unechoed(ids)).sum()
    }

    /// The link dropped; returns how many replies were marked failed.
    pub fn fail_pending(&mut self) -> usize {
        self.conversations.iter_mut().map(|c| c.timeline.fail_pending()).sum()
    }

    pub fn push_notice(&mut self, text: &str, local_time: String) {
        self.notices.push_notice(&mut self.ids, text, local_time);
    }

    fn conversation_mut(&mut self, uid: i64) -> &mut Conversation {
        let index = match self.conversations.iter().position(|c| c.uid == uid) {
            Some(index) => index,
            None => {
                self.conversations.push(Conversation {
                    uid,
                    username: format!("user{uid}"),
                    avatar: String::new(),
                    timeline: Timeline::default(),
                    unread: 0,
                    activity: 0,
                });
                self.conversations.len() - 1
            }
        };
        &mut self.conversations[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Delivery;
    use kefu_protocol::Role;

    fn message(uid: i64, text: &str) -> ChatMessage {
        ChatMessage {
            uid,
            role: if uid == AGENT_UID { Role::Agent } else { Role::User },
            username: format!("user{uid}"),
            avatar: String::new(),
            create_time: "2026-11-26 10:00:00".into(),
            text: text.into(),
        }
    }

    #[test]
    fn groups_by_user_most_recent_first_with_unread_counts() {
        let mut inbox = Inbox::default();
        inbox.receive(&message(5, "a"));
        inbox.receive(&message(6, "b"));
        inbox.receive(&message(5, "c"));
        let order: Vec<(i64, usize)> = inbox.conversations().iter().map(|c| (c.uid, c.unread)).collect();
        assert_eq!(order, vec![(5, 2), (6, 1)]);
        assert_eq!(inbox.unread(), 3);
        assert!(inbox.select(5));
        assert_eq!(inbox.unread(), 1);
        inbox.receive(&message(5, "d"));
        assert_eq!(inbox.unread(), 1, "messages in the open conversation are read");
        assert!(!inbox.select(99));
    }

    #[test]
    fn own_reply_is_filed_under_its_conversation_and_confirmed() {
        let mut inbox = Inbox::default();
        assert_eq!(inbox.send_local("x", "t".into()), None, "no conversation selected");
        inbox.receive(&message(5, "hello"));
        inbox.receive(&message(6, "hi"));
        inbox.select(6);
        inbox.send_local("welcome", "t".into()).expect("selected");
        inbox.receive(&message(AGENT_UID, "welcome"));
        let six = inbox.selected().expect("selected");
        let last = six.preview().expect("has messages");
        assert_eq!((last.from, last.delivery, last.text.as_str()), (From::Me, Delivery::Sent, "welcome"));
        let five = inbox.conversations().into_iter().find(|c| c.uid == 5).expect("exists");
        assert_eq!(five.timeline.entries.len(), 1);
    }

    #[test]
    fn another_agents_reply_shows_in_every_conversation() {
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
        inbox.select(5);
        let id = inbox.send_local("r", "t".into()).expect("selected");
        assert_eq!(inbox.fail_pending(), 1);
        assert_eq!(inbox.retry(id), Some("r".into()));
        assert_eq!(inbox.retry(id), None);
    }
}
