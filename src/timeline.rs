//! What a page shows of a conversation: messages in order, each with its sender and delivery
//! state. Pure data, no browser types; both pages build on it.
//!
//! A message the person sends is shown at once as *sending*; the backend's echo of it (the
//! original protocol echoes every message to its sender) marks it *sent*. If the link drops
//! before the echo arrives the message is *failed*, with a retry, so nothing is lost silently.

use kefu_protocol::{ChatMessage, AGENT_UID};

/// Who a message is from, from the viewer's side; the `data-from` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    Me,
    Agent,
    User,
    System,
}

impl From {
    pub fn as_str(self) -> &'static str {
        match self {
            From::Me => "me",
            From::Agent => "agent",
            From::User => "user",
            From::System => "system",
        }
    }
}

/// Delivery of the viewer's own messages; the `data-delivery` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    Sending,
    Sent,
    Failed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Sending => "sending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
        }
    }
}

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique within the page; stable across delivery changes.
    pub id: u64,
    pub from: From,
    pub uid: i64,
    pub username: String,
    pub avatar: String,
    /// As the backend wrote it, or the local time for a message not yet echoed.
    pub time: String,
    pub text: String,
    pub delivery: Delivery,
}

impl Entry {
    /// Key for keyed list rendering: changes whenever what is shown changes.
    pub fn render_key(&self) -> (u64, Delivery, String) {
        (self.id, self.delivery, self.time.clone())
    }
}

/// Hands out page-unique entry ids.
#[derive(Debug, Default, Clone)]
pub struct Ids(u64);

impl Ids {
    pub fn next_id(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// An ordered list of entries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// Adds the viewer's own message as *sending*; returns its id.
    pub fn push_sending(&mut self, ids: &mut Ids, uid: i64, text: &str, local_time: String) -> u64 {
        let id = ids.next_id();
        self.entries.push(Entry {
            id,
            from: From::Me,
            uid,
            username: String::new(),
            avatar: String::new(),
            time: local_time,
            text: text.to_owned(),
            delivery: Delivery::Sending,
        });
        id
    }

    /// Marks the oldest *sending* message with this text as *sent*, taking the backend's time;
    /// failing that, the oldest *failed* one (its echo came late, after the link dropped).
    /// Returns false when there is none (the message came from another tab).
    pub fn confirm(&mut self, message: &ChatMessage) -> bool {
        let position = |delivery: Delivery| {
            self.entries
                .iter()
                .position(|e| e.delivery == delivery && e.from == From::Me && e.text == message.text)
        };
        let pending = position(Delivery::Sending).or_else(|| position(Delivery::Failed));
        match pending.map(|index| &mut self.entries[index]) {
            Some(entry) => {
                entry.delivery = Delivery::Sent;
                entry.time = message.create_time.clone();
                entry.username = message.username.clone();
                entry.avatar = message.avatar.clone();
                true
            }
            None => false,
        }
    }

    /// Adds a message received from the backend.
    pub fn push_received(&mut self, ids: &mut Ids, from: From, message: &ChatMessage) {
        self.entries.push(Entry {
            id: ids.next_id(),
            from,
            uid: message.uid,
            username: message.username.clone(),
            avatar: message.avatar.clone(),
            time: message.create_time.clone(),
            text: message.text.clone(),
            delivery: Delivery::Sent,
        });
    }

    /// Adds a system notice (a backend reply that is not a chat message, a close reason...).
    pub fn push_notice(&mut self, ids: &mut Ids, text: &str, local_time: String) {
        self.entries.push(Entry {
            id: ids.next_id(),
            from: From::System,
            uid: 0,
            username: String::new(),
            avatar: String::new(),
            time: local_time,
            text: text.to_owned(),
            delivery: Delivery::Sent,
        });
    }

    /// The link dropped: every message still *sending* may not have arrived.
    /// Returns how many were marked *failed*.
    pub fn fail_pending(&mut self) -> usize {
        let mut failed = 0;
        for entry in self.entries.iter_mut().filter(|e| e.delivery == Delivery::Sending) {
            entry.delivery = Delivery::Failed;
            failed += 1;
        }
        failed
    }

    /// The backend has processed these messages: any still *sending* was refused (it would
    /// have been echoed). Returns how many were marked *failed*.
    pub fn fail_unechoed(&mut self, ids: &[u64]) -> usize {
        let mut failed = 0;
        let refused = |e: &&mut Entry| e.delivery == Delivery::Sending && ids.contains(&e.id);
        for entry in self.entries.iter_mut().filter(refused) {
            entry.delivery = Delivery::Failed;
            failed += 1;
        }
        failed
    }

    /// Puts a *failed* message back to *sending*; returns its text to send again.
    pub fn retry(&mut self, id: u64) -> Option<String> {
        let entry = self.entries.iter_mut().find(|e| e.id == id && e.delivery == Delivery::Failed)?;
        entry.delivery = Delivery::Sending;
        Some(entry.text.clone())
    }

    /// Whether any own message is still waiting for its echo.
    pub fn has_pending(&self) -> bool {
        self.entries.iter().any(|e| e.delivery == Delivery::Sending)
    }

    pub fn last(&self) -> Option<&Entry> {
        self.entries.last()
    }
}

/// The user page's model: one timeline seen by user `uid`.
#[derive(Debug, Clone)]
pub struct UserChat {
    pub uid: i64,
    pub timeline: Timeline,
    ids: Ids,
}

impl UserChat {
    pub fn new(uid: i64) -> Self {
        UserChat { uid, timeline: Timeline::default(), ids: Ids::default() }
    }

    pub fn send_local(&mut self, text: &str, local_time: String) -> u64 {
        self.timeline.push_sending(&mut self.ids, self.uid, text, local_time)
    }

    /// Files a chat message from the backend; returns false if it is not for this user.
    pub fn receive(&mut self, message: &ChatMessage) -> bool {
        match from_for_user(self.uid, message) {
            Some(From::Me) if self.timeline.confirm(message) => true,
            Some(from) => {
                self.timeline.push_received(&mut self.ids, from, message);
                true
            }
            None => false,
        }
    }

    pub fn notice(&mut self, text: &str, local_time: String) {
        self.timeline.push_notice(&mut self.ids, text, local_time);
    }
}

/// Where a received chat message belongs on the user page of user `my_uid`.
/// `None` means it is not for this user: a backend that broadcasts (the original) hands every
/// user the other users' messages, which must not be shown.
pub fn from_for_user(my_uid: i64, message: &ChatMessage) -> Option<From> {
    if message.uid == my_uid {
        Some(From::Me)
    } else if message.uid == AGENT_UID || message.role == kefu_protocol::Role::Agent {
        Some(From::Agent)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn own_message_goes_sending_then_sent_on_echo() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        let id = timeline.push_sending(&mut ids, 5, "hi", "local".into());
        assert!(timeline.has_pending());
        assert!(timeline.confirm(&message(5, "hi")));
        let entry = &timeline.entries[0];
        assert_eq!(
            (entry.id, entry.delivery, entry.time.as_str()),
            (id, Delivery::Sent, "2026-11-26 10:00:00")
        );
        assert!(!timeline.has_pending());
        // The echo of a message typed in another tab has nothing to confirm.
        assert!(!timeline.confirm(&message(5, "hi")));
    }

    #[test]
    fn identical_texts_confirm_in_order() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        timeline.push_sending(&mut ids, 5, "ok", "t".into());
        timeline.push_sending(&mut ids, 5, "ok", "t".into());
        assert!(timeline.confirm(&message(5, "ok")));
        let states: Vec<_> = timeline.entries.iter().map(|e| e.delivery).collect();
        assert_eq!(states, vec![Delivery::Sent, Delivery::Sending]);
    }

    #[test]
    fn a_lost_link_fails_pending_messages_and_retry_resends() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        let first = timeline.push_sending(&mut ids, 5, "a", "t".into());
        timeline.push_sending(&mut ids, 5, "b", "t".into());
        timeline.confirm(&message(5, "b"));
        assert_eq!(timeline.fail_pending(), 1);
        assert_eq!(timeline.entries[0].delivery, Delivery::Failed);
        assert_eq!(timeline.retry(first), Some("a".to_owned()));
        assert_eq!(timeline.entries[0].delivery, Delivery::Sending);
        // Only failed messages can be retried.
        assert_eq!(timeline.retry(first), None);
        assert_eq!(timeline.retry(999), None);
    }

    #[test]
    fn processed_but_not_echoed_means_refused() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        let echoed = timeline.push_sending(&mut ids, 5, "ok", "t".into());
        let refused = timeline.push_sending(&mut ids, 5, "too long", "t".into());
        timeline.push_sending(&mut ids, 5, "sent after the probe", "t".into());
        timeline.confirm(&message(5, "ok"));
        assert_eq!(timeline.fail_unechoed(&[echoed, refused]), 1);
        let states: Vec<_> = timeline.entries.iter().map(|e| e.delivery).collect();
        assert_eq!(states, vec![Delivery::Sent, Delivery::Failed, Delivery::Sending]);
    }

    #[test]
    fn a_late_echo_confirms_a_failed_message() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        timeline.push_sending(&mut ids, 5, "late", "t".into());
        timeline.fail_pending();
        assert!(timeline.confirm(&message(5, "late")));
        assert_eq!(timeline.entries[0].delivery, Delivery::Sent);
    }

    #[test]
    fn user_page_shows_own_and_agent_messages_only() {
        assert_eq!(from_for_user(5, &message(5, "x")), Some(From::Me));
        assert_eq!(from_for_user(5, &message(AGENT_UID, "x")), Some(From::Agent));
        assert_eq!(from_for_user(5, &message(6, "x")), None);
    }

    #[test]
    fn user_chat_confirms_own_files_agent_and_hides_others() {
        let mut chat = UserChat::new(5);
        chat.send_local("hi", "t".into());
        assert!(chat.receive(&message(5, "hi")));
        assert!(chat.receive(&message(5, "from my other tab")));
        assert!(chat.receive(&message(AGENT_UID, "hello")));
        assert!(!chat.receive(&message(6, "someone else's secret")));
        chat.notice("用户信息不存在!", "t".into());
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
    }

    #[test]
    fn data_attribute_values() {
        assert_eq!(From::Me.as_str(), "me");
        assert_eq!(From::Agent.as_str(), "agent");
        assert_eq!(From::User.as_str(), "user");
        assert_eq!(From::System.as_str(), "system");
        assert_eq!(Delivery::Failed.as_str(), "failed");
    }
}
