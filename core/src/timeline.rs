//! What a page shows of a conversation: messages in order, each with its sender and delivery
//! state. Pure data, no browser types; both pages build on it.
//!
//! A message the person sends is shown at once as *sending*.
//! - v1: the server's acknowledgement marks it *sent* and gives it its sequence number;
//!   messages merge by id and sort by sequence number, so a replay never shows a duplicate.
//! - v0: the backend's echo (it echoes every message to its sender) marks it *sent*, matched
//!   by text. If the link drops first the message is *failed*, with a retry.

use kefu_protocol::v1::{Message, Seq};
use kefu_protocol::ChatMessage;

/// Who a message is from, from the viewer's side; the `data-from` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum From {
    Me,
    Agent,
    User,
    /// A private note of the team (agents only).
    Note,
    /// A team event (resolved, assigned…), agents only.
    Event,
    #[default]
    System,
}

impl From {
    pub fn as_str(self) -> &'static str {
        match self {
            From::Me => "me",
            From::Agent => "agent",
            From::User => "user",
            From::Note => "note",
            From::Event => "event",
            From::System => "system",
        }
    }
}

/// Delivery of the viewer's own messages; the `data-delivery` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    Sending,
    #[default]
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

/// What identifies how an entry looks: id, delivery, time, failure reason, read.
pub type RenderKey = (u64, Delivery, String, Option<String>, bool);

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Unique within the page; stable across delivery changes.
    pub id: u64,
    /// The message id on the wire (v1), or the outbox id of an own message.
    pub message_id: Option<String>,
    /// Position in the conversation, once the server has stored it (v1).
    pub seq: Option<Seq>,
    pub from: From,
    pub uid: i64,
    pub username: String,
    pub avatar: String,
    /// As the backend wrote it, or the local time for a message not yet stored.
    pub time: String,
    pub text: String,
    pub delivery: Delivery,
    /// Why a failed message failed.
    pub reason: Option<String>,
    /// An own message the other side has read.
    pub read: bool,
}

impl Entry {
    /// A received message as an entry, already *sent*.
    fn received(id: u64, from: From, message: &ChatMessage) -> Entry {
        Entry {
            id,
            from,
            uid: message.uid,
            username: message.username.clone(),
            avatar: message.avatar.clone(),
            time: message.create_time.clone(),
            text: message.text.clone(),
            ..Entry::default()
        }
    }

    /// The server has the message: *sent*, with the server's time and the sender's details.
    fn settle(&mut self, message: &ChatMessage) {
        self.delivery = Delivery::Sent;
        self.reason = None;
        self.time = message.create_time.clone();
        self.username = message.username.clone();
        self.avatar = message.avatar.clone();
    }

    /// Key for keyed list rendering: changes whenever what is shown changes.
    pub fn render_key(&self) -> RenderKey {
        (self.id, self.delivery, self.time.clone(), self.reason.clone(), self.read)
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

/// An ordered list of entries: stored messages by sequence number, then own messages not
/// yet stored, in the order they were written. Notices stay where they were added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// Adds the viewer's own message as *sending*; returns its entry id.
    pub fn push_sending(
        &mut self,
        ids: &mut Ids,
        uid: i64,
        message_id: Option<String>,
        text: &str,
        local_time: String,
    ) -> u64 {
        let id = ids.next_id();
        self.entries.push(Entry {
            id,
            message_id,
            from: From::Me,
            uid,
            time: local_time,
            text: text.to_owned(),
            delivery: Delivery::Sending,
            ..Entry::default()
        });
        id
    }

    /// v0: marks the oldest *sending* own message with this text as *sent*, taking the
    /// backend's time; failing that, the oldest *failed* one (its echo came late). Returns the
    /// entry, or `None` when there is none (the message came from another tab).
    pub fn confirm(&mut self, message: &ChatMessage) -> Option<&Entry> {
        let position = |delivery: Delivery| {
            self.entries
                .iter()
                .position(|e| e.delivery == delivery && e.from == From::Me && e.text == message.text)
        };
        let index = position(Delivery::Sending).or_else(|| position(Delivery::Failed))?;
        let entry = &mut self.entries[index];
        entry.settle(message);
        Some(entry)
    }

    /// v0: adds a message received from the backend.
    pub fn push_received(&mut self, ids: &mut Ids, from: From, message: &ChatMessage) {
        self.entries.push(Entry::received(ids.next_id(), from, message));
    }

    /// v1: adds a stored message, or updates the entry with the same id (an own message, or
    /// one seen before in a replay). Returns true if it was new.
    pub fn upsert(&mut self, ids: &mut Ids, from: From, message: &Message) -> bool {
        let chat = message.to_v0();
        if let Some(index) = self.entries.iter().position(|e| e.message_id.as_deref() == Some(&message.id)) {
            let mut entry = self.entries.remove(index);
            entry.seq = Some(message.seq);
            entry.settle(&chat);
            self.place(entry);
            return false;
        }
        let entry = Entry {
            message_id: Some(message.id.clone()),
            seq: Some(message.seq),
            ..Entry::received(ids.next_id(), from, &chat)
        };
        self.place(entry);
        true
    }

    /// Inserts a stored entry before the first stored entry with a larger sequence number,
    /// else before the own messages still waiting, else at the end.
    fn place(&mut self, entry: Entry) {
        let seq = entry.seq;
        let index = self
            .entries
            .iter()
            .position(|e| match (e.seq, seq) {
                (Some(theirs), Some(ours)) => theirs > ours,
                (None, _) => e.from == From::Me && e.delivery != Delivery::Sent,
                _ => false,
            })
            .unwrap_or(self.entries.len());
        self.entries.insert(index, entry);
    }

    /// v1: the server stored own message `message_id` as `seq`.
    pub fn ack(&mut self, message_id: &str, seq: Seq) -> bool {
        let Some(index) = self.entries.iter().position(|e| e.message_id.as_deref() == Some(message_id))
        else {
            return false;
        };
        let mut entry = self.entries.remove(index);
        entry.seq = Some(seq);
        entry.delivery = Delivery::Sent;
        entry.reason = None;
        self.place(entry);
        true
    }

    /// v1: the server refused own message `message_id`.
    pub fn fail(&mut self, message_id: &str, reason: &str) -> bool {
        self.fail_first(reason, |e| {
            e.message_id.as_deref() == Some(message_id) && e.delivery != Delivery::Sent
        })
    }

    /// The first entry `matches` picks becomes *failed* with `reason`; whether there was one.
    fn fail_first(&mut self, reason: &str, matches: impl Fn(&Entry) -> bool) -> bool {
        match self.entries.iter_mut().find(|e| matches(e)) {
            Some(entry) => {
                entry.delivery = Delivery::Failed;
                entry.reason = Some(reason.to_owned());
                true
            }
            None => false,
        }
    }

    /// v0: an own message shown *sent* on its echo is not confirmed after all: *failed*.
    pub fn unconfirm(&mut self, message_id: &str, reason: &str) -> bool {
        self.fail_first(reason, |e| {
            e.message_id.as_deref() == Some(message_id) && e.delivery == Delivery::Sent && e.seq.is_none()
        })
    }

    /// Adds a system notice (a backend reply that is not a chat message, a close reason...).
    pub fn push_notice(&mut self, ids: &mut Ids, text: &str, local_time: String) {
        self.entries.push(Entry {
            id: ids.next_id(),
            from: From::System,
            time: local_time,
            text: text.to_owned(),
            ..Entry::default()
        });
    }

    /// v0: the link dropped, so every message still *sending* may not have arrived.
    /// Returns the message ids of those marked *failed*.
    pub fn fail_pending(&mut self) -> Vec<String> {
        let mut failed = vec![];
        for entry in self.entries.iter_mut().filter(|e| e.delivery == Delivery::Sending) {
            entry.delivery = Delivery::Failed;
            failed.extend(entry.message_id.clone());
        }
        failed
    }

    /// v0: the backend has processed these messages (entry ids): any still *sending* was
    /// refused (it would have been echoed). Returns the message ids of those marked *failed*.
    pub fn fail_unechoed(&mut self, ids: &[u64]) -> Vec<String> {
        let mut failed = vec![];
        let refused = |e: &&mut Entry| e.delivery == Delivery::Sending && ids.contains(&e.id);
        for entry in self.entries.iter_mut().filter(refused) {
            entry.delivery = Delivery::Failed;
            failed.extend(entry.message_id.clone());
        }
        failed
    }

    /// Puts a *failed* message back to *sending*; returns the entry to send again.
    pub fn retry(&mut self, id: u64) -> Option<&Entry> {
        let entry = self.entries.iter_mut().find(|e| e.id == id && e.delivery == Delivery::Failed)?;
        entry.delivery = Delivery::Sending;
        entry.reason = None;
        Some(entry)
    }

    /// The entry showing own message `message_id`.
    pub fn by_message_id(&self, message_id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.message_id.as_deref() == Some(message_id))
    }

    pub fn last(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// The other side has read up to `seq`: own messages up to it are *read*.
    pub fn mark_read(&mut self, seq: Seq) {
        for entry in self.entries.iter_mut().filter(|e| e.from == From::Me && e.seq.is_some_and(|s| s <= seq))
        {
            entry.read = true;
        }
    }

    /// Highest sequence number shown (what to resume after).
    pub fn last_seq(&self) -> Option<Seq> {
        self.entries.iter().filter_map(|e| e.seq).max()
    }

    /// Lowest sequence number shown (what to page back from).
    pub fn first_seq(&self) -> Option<Seq> {
        self.entries.iter().filter_map(|e| e.seq).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{chat as message, stored};
    use kefu_protocol::AGENT_UID;

    fn shown(timeline: &Timeline) -> Vec<(Option<Seq>, String, Delivery)> {
        timeline.entries.iter().map(|e| (e.seq, e.text.clone(), e.delivery)).collect()
    }

    #[test]
    fn own_message_goes_sending_then_sent_on_echo() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        let id = timeline.push_sending(&mut ids, 5, Some("m1".into()), "hi", "local".into());
        assert_eq!(timeline.entries[0].delivery, Delivery::Sending);
        let confirmed = timeline.confirm(&message(5, "hi")).map(|e| e.message_id.clone());
        assert_eq!(confirmed, Some(Some("m1".into())));
        let entry = &timeline.entries[0];
        assert_eq!(
            (entry.id, entry.delivery, entry.time.as_str()),
            (id, Delivery::Sent, "2026-11-26 10:00:00")
        );
        // The echo of a message typed in another tab has nothing to confirm.
        assert!(timeline.confirm(&message(5, "hi")).is_none());
    }

    #[test]
    fn identical_texts_confirm_in_order() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        timeline.push_sending(&mut ids, 5, None, "ok", "t".into());
        timeline.push_sending(&mut ids, 5, None, "ok", "t".into());
        assert!(timeline.confirm(&message(5, "ok")).is_some());
        let states: Vec<_> = timeline.entries.iter().map(|e| e.delivery).collect();
        assert_eq!(states, vec![Delivery::Sent, Delivery::Sending]);
    }

    #[test]
    fn a_lost_link_fails_pending_messages_and_retry_resends() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        let first = timeline.push_sending(&mut ids, 5, Some("a".into()), "a", "t".into());
        timeline.push_sending(&mut ids, 5, Some("b".into()), "b", "t".into());
        timeline.confirm(&message(5, "b"));
        assert_eq!(timeline.fail_pending(), vec!["a".to_owned()]);
        assert_eq!(timeline.entries[0].delivery, Delivery::Failed);
        assert_eq!(timeline.retry(first).map(|e| e.text.clone()), Some("a".to_owned()));
        assert_eq!(timeline.entries[0].delivery, Delivery::Sending);
        // Only failed messages can be retried.
        assert!(timeline.retry(first).is_none());
        assert!(timeline.retry(999).is_none());
    }

    #[test]
    fn processed_but_not_echoed_means_refused() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        let echoed = timeline.push_sending(&mut ids, 5, None, "ok", "t".into());
        let refused = timeline.push_sending(&mut ids, 5, Some("r".into()), "too long", "t".into());
        timeline.push_sending(&mut ids, 5, None, "sent after the probe", "t".into());
        timeline.confirm(&message(5, "ok"));
        assert_eq!(timeline.fail_unechoed(&[echoed, refused]), vec!["r".to_owned()]);
        let states: Vec<_> = timeline.entries.iter().map(|e| e.delivery).collect();
        assert_eq!(states, vec![Delivery::Sent, Delivery::Failed, Delivery::Sending]);
    }

    #[test]
    fn a_late_echo_confirms_a_failed_message() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        timeline.push_sending(&mut ids, 5, None, "late", "t".into());
        timeline.fail_pending();
        assert!(timeline.confirm(&message(5, "late")).is_some());
        assert_eq!(timeline.entries[0].delivery, Delivery::Sent);
    }

    #[test]
    fn v1_merges_by_id_and_sorts_by_seq_whatever_the_arrival_order() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        timeline.push_sending(&mut ids, 5, Some("mine".into()), "text mine", "t".into());
        // A replay arrives out of order and with repeats; the own message is acked as seq 2.
        for seq in [3, 1, 3, 1] {
            timeline.upsert(&mut ids, From::Agent, &stored(5, seq, &format!("a{seq}"), AGENT_UID));
        }
        assert!(timeline.ack("mine", 2));
        // The echo of the own message merges with it.
        assert!(!timeline.upsert(&mut ids, From::Me, &stored(5, 2, "mine", 5)));
        timeline.push_sending(&mut ids, 5, Some("next".into()), "text next", "t".into());
        assert_eq!(
            shown(&timeline),
            vec![
                (Some(1), "text a1".into(), Delivery::Sent),
                (Some(2), "text mine".into(), Delivery::Sent),
                (Some(3), "text a3".into(), Delivery::Sent),
                (None, "text next".into(), Delivery::Sending),
            ]
        );
        // A live message lands before the pending own one.
        timeline.upsert(&mut ids, From::Agent, &stored(5, 4, "a4", AGENT_UID));
        assert_eq!(timeline.entries[3].seq, Some(4));
        assert_eq!(timeline.entries[4].text, "text next");
        assert_eq!((timeline.first_seq(), timeline.last_seq()), (Some(1), Some(4)));
    }

    #[test]
    fn v1_refusal_fails_with_reason_and_ack_is_idempotent() {
        let mut ids = Ids::default();
        let mut timeline = Timeline::default();
        timeline.push_sending(&mut ids, 5, Some("x".into()), "x", "t".into());
        assert!(timeline.fail("x", "too long"));
        assert_eq!(timeline.entries[0].reason.as_deref(), Some("too long"));
        assert!(!timeline.ack("unknown", 1));
        assert!(timeline.ack("x", 1));
        assert!(timeline.ack("x", 1));
        assert!(!timeline.fail("x", "late error"), "a stored message cannot fail");
        assert_eq!(timeline.entries.len(), 1);
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
