//! The outbox: own messages not yet stored by the server. Pure data, no browser types; the
//! page keeps it in browser storage so that it survives a reload.
//!
//! - v1: everything in it is sent again on every (re)connect until acknowledged; the server
//!   recognises a repeated id, so nothing is stored twice.
//! - v0 (no ids on the wire): a message is sent once. One sent on a link that then dropped
//!   may or may not have arrived, so it becomes *failed* for the person to retry, rather than
//!   risk a duplicate.

use kefu_protocol::fields::{Fields, FieldsOut};
use kefu_protocol::v1::ConversationId;

/// One message waiting to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The message id (also the dedupe key on the server).
    pub id: String,
    /// The conversation (agents); `None` for a user's own.
    pub conversation: Option<ConversationId>,
    pub text: String,
    /// Local time it was written.
    pub time: String,
    /// v0: already sent once.
    pub sent: bool,
    /// Why it failed; a failed message waits for the person's retry.
    pub failed: Option<String>,
}

impl Pending {
    /// A stored item: `{"id","conversation"?,"text","time","sent"?,"failed"?}` (`null` and
    /// absent are the same).
    pub fn from_fields(object: &impl Fields) -> Option<Pending> {
        Some(Pending {
            id: object.string("id")?,
            conversation: object.integer("conversation").and_then(ConversationId::new),
            text: object.string("text")?,
            time: object.string("time")?,
            sent: object.boolean("sent").unwrap_or(false),
            failed: object.string("failed"),
        })
    }

    pub fn to_fields<O: FieldsOut>(&self) -> O {
        let mut out = O::new_object();
        out.put_string("id", &self.id);
        if let Some(conversation) = self.conversation {
            out.put_integer("conversation", conversation.get());
        }
        out.put_string("text", &self.text);
        out.put_string("time", &self.time);
        out.put_boolean("sent", self.sent);
        if let Some(failed) = &self.failed {
            out.put_string("failed", failed);
        }
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbox {
    pub items: Vec<Pending>,
    /// Ids this page removed (stored by the server), so that saving does not bring them back
    /// from what another tab of the same visitor wrote.
    forgotten: Vec<String>,
}

impl Outbox {
    /// Reads a stored outbox: its items as parsed objects (`None`: the stored value is not a
    /// list). Stored data that cannot be read is an error, not an empty box.
    pub fn from_stored<F: Fields>(items: Option<Vec<F>>) -> Result<Outbox, String> {
        let items = items.ok_or("not a list of messages")?;
        let items: Option<Vec<Pending>> = items.iter().map(Pending::from_fields).collect();
        items
            .map(|items| Outbox { items, forgotten: vec![] })
            .ok_or_else(|| "a message lacks a field".to_owned())
    }

    /// What to write to storage that other tabs of the same visitor share: this page's
    /// messages, plus the ones another tab stored that this page neither has nor has seen
    /// stored by the server. Unreadable stored data is replaced.
    pub fn merged<F: Fields>(&self, stored: Option<Vec<F>>) -> Vec<Pending> {
        let mut items = self.items.clone();
        if let Ok(other) = Outbox::from_stored(stored) {
            for pending in other.items {
                let known = items.iter().any(|p| p.id == pending.id) || self.forgotten.contains(&pending.id);
                if !known {
                    items.push(pending);
                }
            }
        }
        items
    }

    /// [`Outbox::from_stored`] from JSON text (native code and tests; the page lets the
    /// browser parse).
    pub fn from_json(json: &str) -> Result<Outbox, String> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|err| err.to_string())?;
        Outbox::from_stored(value.as_array().cloned())
    }

    /// [`Outbox::merged`] as JSON text (native code and tests).
    pub fn merged_json(&self, stored: Option<&str>) -> String {
        let stored = stored.and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok());
        let items: Vec<serde_json::Value> =
            self.merged(stored.and_then(|v| v.as_array().cloned())).iter().map(Pending::to_fields).collect();
        serde_json::Value::Array(items).to_string()
    }

    pub fn add(&mut self, pending: Pending) {
        self.items.push(pending);
    }

    /// The message is stored: forget it. Returns it, if it was here (ids are unique: made
    /// by [`new_message_id`], and [`Outbox::merged`] never brings in a known one).
    pub fn remove(&mut self, id: &str) -> Option<Pending> {
        let index = self.items.iter().position(|p| p.id == id)?;
        self.forgotten.push(id.to_owned());
        Some(self.items.remove(index))
    }

    pub fn fail(&mut self, id: &str, reason: &str) {
        if let Some(pending) = self.items.iter_mut().find(|p| p.id == id) {
            pending.failed = Some(reason.to_owned());
        }
    }

    /// The person retries a failed message: it is due to be sent again.
    pub fn retry(&mut self, id: &str) -> Option<Pending> {
        let pending = self.items.iter_mut().find(|p| p.id == id)?;
        pending.failed = None;
        pending.sent = false;
        Some(pending.clone())
    }

    /// v1: what to send after (re)connecting: everything not failed, oldest first.
    pub fn due_v1(&self) -> Vec<Pending> {
        self.items.iter().filter(|p| p.failed.is_none()).cloned().collect()
    }

    /// v0: what to send now: not failed and never sent. Marks them sent.
    pub fn take_due_v0(&mut self) -> Vec<Pending> {
        let mut due = vec![];
        for pending in self.items.iter_mut().filter(|p| p.failed.is_none() && !p.sent) {
            pending.sent = true;
            due.push(pending.clone());
        }
        due
    }

    /// v0: the link dropped; messages sent on it and not confirmed fail. Returns their ids.
    pub fn fail_sent_v0(&mut self, reason: &str) -> Vec<String> {
        let mut failed = vec![];
        for pending in self.items.iter_mut().filter(|p| p.sent && p.failed.is_none()) {
            pending.failed = Some(reason.to_owned());
            failed.push(pending.id.clone());
        }
        failed
    }
}

/// A message id from the time and two random numbers in [0, 1): unique enough across tabs
/// and reloads, and within the wire format's `[A-Za-z0-9_-]{1,64}`.
pub fn new_message_id(now_ms: f64, random_a: f64, random_b: f64) -> String {
    let scale = (1u64 << 52) as f64;
    format!("{:x}-{:x}{:x}", now_ms.max(0.0) as u64, (random_a * scale) as u64, (random_b * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::cid;

    fn pending(id: &str) -> Pending {
        Pending {
            id: id.into(),
            conversation: None,
            text: id.into(),
            time: "t".into(),
            sent: false,
            failed: None,
        }
    }

    #[test]
    fn survives_a_round_trip_through_storage() {
        let mut outbox = Outbox::default();
        outbox.add(pending("a"));
        outbox.add(Pending { conversation: Some(cid(5)), ..pending("b") });
        let restored = Outbox::from_json(&outbox.merged_json(None)).expect("readable");
        assert_eq!(restored, outbox);
        assert!(Outbox::from_json("{broken").is_err());
        assert!(Outbox::from_json(r#"[{"id":"x"}]"#).is_err(), "a message without its text");
        assert_eq!(Outbox::from_json("[]").expect("empty"), Outbox::default());
        // What earlier versions stored (nulls, no `sent`) still reads.
        let earlier = r#"[{"id":"a","conversation":null,"text":"t","time":"t","failed":null}]"#;
        assert_eq!(
            Outbox::from_json(earlier).expect("readable").items,
            vec![pending("a")].into_iter().map(|p| Pending { text: "t".into(), ..p }).collect::<Vec<_>>()
        );
    }

    #[test]
    fn two_tabs_sharing_storage_do_not_erase_each_others_messages() {
        let mut tab_a = Outbox::default();
        let mut tab_b = Outbox::default();
        tab_a.add(pending("x"));
        let stored = tab_a.merged_json(None);
        tab_b.add(pending("y"));
        let stored = tab_b.merged_json(Some(&stored));
        let ids = |json: &str| -> Vec<String> {
            Outbox::from_json(json).expect("readable").items.into_iter().map(|p| p.id).collect()
        };
        assert_eq!(ids(&stored), vec!["y", "x"], "b keeps a's message");
        // a's message is stored by the server: a forgets it, and it is not brought back.
        tab_a.remove("x");
        let stored = tab_a.merged_json(Some(&stored));
        assert_eq!(ids(&stored), vec!["y"]);
        // Unreadable stored data is replaced by what this tab has.
        assert_eq!(ids(&tab_b.merged_json(Some("{broken"))), vec!["y"]);
    }

    #[test]
    fn v1_resends_everything_until_removed_except_failed() {
        let mut outbox = Outbox::default();
        outbox.add(pending("a"));
        outbox.add(pending("b"));
        outbox.add(pending("c"));
        outbox.fail("b", "too long");
        let due: Vec<String> = outbox.due_v1().into_iter().map(|p| p.id).collect();
        assert_eq!(due, vec!["a", "c"]);
        assert_eq!(outbox.due_v1().len(), 2, "still due until acknowledged");
        assert_eq!(outbox.remove("a").map(|p| p.id), Some("a".into()));
        assert_eq!(outbox.remove("a"), None);
        assert_eq!(outbox.retry("b").map(|p| p.failed), Some(None));
        let due: Vec<String> = outbox.due_v1().into_iter().map(|p| p.id).collect();
        assert_eq!(due, vec!["b", "c"]);
    }

    #[test]
    fn v0_sends_once_and_fails_what_a_dropped_link_may_have_lost() {
        let mut outbox = Outbox::default();
        outbox.add(pending("a"));
        assert_eq!(outbox.take_due_v0().len(), 1);
        assert!(outbox.take_due_v0().is_empty(), "never sent twice by itself");
        outbox.add(pending("queued while offline"));
        assert_eq!(outbox.fail_sent_v0("link lost"), vec!["a".to_owned()]);
        let due: Vec<String> = outbox.take_due_v0().into_iter().map(|p| p.id).collect();
        assert_eq!(due, vec!["queued while offline"]);
        outbox.retry("a");
        assert_eq!(outbox.take_due_v0().len(), 1);
    }

    #[test]
    fn message_ids_fit_the_wire_format_and_differ() {
        let a = new_message_id(1_764_000_000_000.0, 0.123, 0.456);
        let b = new_message_id(1_764_000_000_000.0, 0.124, 0.456);
        assert!(kefu_protocol::v1::valid_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(kefu_protocol::v1::valid_id(&new_message_id(0.0, 0.999_999, 0.999_999)));
    }
}
