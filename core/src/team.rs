//! The console's team inbox: each conversation's status and assignee, the views (Mine,
//! Unassigned, All, Snoozed, Resolved) with their counts, the open conversation's team
//! timeline (notes and status events) merged with its messages, notes waiting to be stored,
//! canned replies (the `/` picker, `{name}` filled in), and the keyboard's keys.
//!
//! Fed by the team frames ([`Team::apply`]); a backend that sends none (the original, or a
//! server without a team inbox) leaves [`Team::enabled`] false and the console shows none of it.

use kefu_protocol::fields::{Fields, FieldsOut};
use kefu_protocol::ids::ConversationId;
use kefu_protocol::team::{AgentLoad, Canned, EventKind, Status, TeamEvent, TeamState};
use kefu_protocol::v1::{ClientMessage, ServerMessage};

use crate::i18n::Fold;
use crate::team_texts::TeamTexts;
use crate::timeline::{Entry, From};

/// A list of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum View {
    /// Open, assigned to me.
    #[default]
    Mine,
    /// Open, assigned to nobody.
    Unassigned,
    /// Every open conversation.
    All,
    Snoozed,
    Resolved,
}

impl View {
    pub const ALL: [View; 5] = [View::Mine, View::Unassigned, View::All, View::Snoozed, View::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            View::Mine => "mine",
            View::Unassigned => "unassigned",
            View::All => "all",
            View::Snoozed => "snoozed",
            View::Resolved => "resolved",
        }
    }

    /// Whether a conversation in `state` belongs in this view for agent `me`.
    pub fn holds(self, state: &TeamState, me: &str) -> bool {
        match self {
            View::Mine => state.status == Status::Open && state.assignee.as_deref() == Some(me),
            View::Unassigned => state.status == Status::Open && state.assignee.is_none(),
            View::All => state.status == Status::Open,
            View::Snoozed => state.status == Status::Snoozed,
            View::Resolved => state.status == Status::Resolved,
        }
    }
}

/// A note written here, until the server has stored it (kept in the browser meanwhile, like
/// the replies' outbox: a reload or a crash loses no note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNote {
    pub id: String,
    pub conversation: ConversationId,
    pub text: String,
}

impl PendingNote {
    /// A stored note: `{"id","conversation","text"}`; `None` if any is missing or out of range.
    pub fn from_fields(object: &impl Fields) -> Option<PendingNote> {
        Some(PendingNote {
            id: object.string("id")?,
            conversation: ConversationId::new(object.integer("conversation")?)?,
            text: object.string("text")?,
        })
    }

    pub fn to_fields<O: FieldsOut>(&self) -> O {
        let mut out = O::new_object();
        out.put_string("id", &self.id);
        out.put_integer("conversation", self.conversation.get());
        out.put_string("text", &self.text);
        out
    }
}

/// What the console knows of the team.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Team {
    /// Whether the backend has a team inbox (it sent a team frame).
    pub enabled: bool,
    /// The signed-in agent's account name.
    pub me: String,
    /// By conversation (sorted: a binary search; no hash map in the console's wasm).
    states: Vec<TeamState>,
    pub agents: Vec<AgentLoad>,
    pub canned: Vec<Canned>,
    /// The conversations whose timelines were asked for, and their events (and live ones since).
    asked: Vec<ConversationId>,
    events: Vec<TeamEvent>,
    pub pending: Vec<PendingNote>,
    next_note: u64,
}

impl Team {
    pub fn new(me: &str) -> Team {
        Team { me: me.to_owned(), ..Team::default() }
    }

    /// Takes in a team frame; `true` if it was one.
    pub fn apply(&mut self, frame: &ServerMessage) -> bool {
        match frame {
            ServerMessage::TeamStates { states } => states.iter().for_each(|state| self.put(state)),
            ServerMessage::TeamState(state) => self.put(state),
            ServerMessage::TeamEvent(event) => self.add_events(std::slice::from_ref(event)),
            ServerMessage::TeamEvents { events, .. } => self.add_events(events),
            ServerMessage::TeamAgents { agents } => self.agents = agents.clone(),
            ServerMessage::Canned { replies } => self.canned = replies.clone(),
            ServerMessage::Noted { id, .. } => self.pending.retain(|note| note.id != *id),
            _ => return false,
        }
        self.enabled = true;
        true
    }

    fn put(&mut self, state: &TeamState) {
        match self.states.binary_search_by_key(&state.conversation, |s| s.conversation) {
            Ok(at) => self.states[at] = state.clone(),
            Err(at) => self.states.insert(at, state.clone()),
        }
    }

    fn stored(&self, conversation: ConversationId) -> Option<&TeamState> {
        let at = self.states.binary_search_by_key(&conversation, |s| s.conversation).ok()?;
        Some(&self.states[at])
    }

    /// Keeps the events of the conversations asked for, once each, in order.
    fn add_events(&mut self, events: &[TeamEvent]) {
        for event in events {
            if self.asked.contains(&event.conversation) {
                // In the server's order, once each (no sort: small in the console's wasm).
                if let Err(at) = self.events.binary_search_by_key(&event.event, |e| e.event) {
                    self.events.insert(at, event.clone());
                }
            }
        }
    }

    /// A conversation's state (one the server has not mentioned is open and unassigned).
    pub fn state(&self, conversation: ConversationId) -> TeamState {
        self.stored(conversation).cloned().unwrap_or(TeamState {
            conversation,
            status: Status::Open,
            assignee: None,
            until: None,
        })
    }

    /// Whether `conversation` is in `view` (without a team inbox, every view holds all).
    pub fn in_view(&self, view: View, conversation: ConversationId) -> bool {
        !self.enabled || self.holds(view, conversation, self.stored(conversation))
    }

    /// Whether `view` holds `conversation`, whose stored state (if any) is `stored`.
    fn holds(&self, view: View, conversation: ConversationId, stored: Option<&TeamState>) -> bool {
        match stored {
            Some(state) => view.holds(state, &self.me),
            None => view.holds(&self.state(conversation), &self.me),
        }
    }

    /// How many of `conversations` each view holds, in [`View::ALL`]'s order.
    pub fn counts(&self, conversations: impl Iterator<Item = ConversationId>) -> [usize; 5] {
        let mut counts = [0; 5];
        for conversation in conversations {
            // Looked up once for the five views.
            let stored = self.stored(conversation);
            for (n, view) in View::ALL.into_iter().enumerate() {
                counts[n] += usize::from(self.holds(view, conversation, stored));
            }
        }
        counts
    }

    /// Whether the team timeline of `conversation` has been asked for.
    pub fn has_events(&self, conversation: ConversationId) -> bool {
        self.asked.contains(&conversation)
    }

    /// The frame asking for `conversation`'s timeline (noted as asked).
    pub fn ask_events(&mut self, conversation: ConversationId) -> ClientMessage {
        if !self.asked.contains(&conversation) {
            self.asked.push(conversation);
        }
        ClientMessage::Events { conversation }
    }

    /// Forgets the timelines asked for (a new link asks again).
    pub fn forget_events(&mut self) {
        self.asked.clear();
        self.events.clear();
    }

    /// A new private note in `conversation`: kept until stored; the frame to send.
    pub fn note(&mut self, conversation: ConversationId, text: &str, now_ms: u64) -> ClientMessage {
        self.next_note += 1;
        let id = format!("note-{now_ms}-{}", self.next_note);
        self.pending.push(PendingNote { id: id.clone(), conversation, text: text.to_owned() });
        ClientMessage::Note { id, conversation, text: text.to_owned() }
    }

    /// Notes an earlier page kept (its storage) wait again, once each; they are sent with the
    /// rest on the next link.
    pub fn restore_notes(&mut self, notes: impl IntoIterator<Item = PendingNote>) {
        for note in notes {
            if !self.pending.iter().any(|n| n.id == note.id) {
                self.pending.push(note);
            }
        }
    }

    /// The notes to send again on a new link (their ids make a repeat harmless).
    pub fn resend(&self) -> Vec<ClientMessage> {
        self.pending
            .iter()
            .map(|n| ClientMessage::Note {
                id: n.id.clone(),
                conversation: n.conversation,
                text: n.text.clone(),
            })
            .collect()
    }

    /// `entries` (a conversation's messages) with its team events and pending notes placed
    /// among them: each event after the last message it followed. `local` turns an event's
    /// time (ms) into the time text entries carry.
    pub fn merged(
        &self,
        conversation: ConversationId,
        entries: &[Entry],
        texts: &TeamTexts,
        local: impl Fn(i64) -> String,
    ) -> Vec<Entry> {
        let mut merged = Vec::with_capacity(entries.len());
        let mut events = self.events.iter().filter(|e| e.conversation == conversation).peekable();
        for entry in entries {
            // Events that came before this message (pending own messages have no seq: last).
            while let Some(event) = events.next_if(|e| entry.seq.is_some_and(|seq| e.after < seq)) {
                merged.push(event_entry(event, texts, &local));
            }
            merged.push(entry.clone());
        }
        merged.extend(events.map(|event| event_entry(event, texts, &local)));
        for (n, note) in self.pending.iter().filter(|n| n.conversation == conversation).enumerate() {
            merged.push(Entry {
                id: PENDING_NOTE_IDS + n as u64,
                message_id: Some(note.id.clone()),
                from: From::Note,
                username: self.me.clone(),
                text: note.text.clone(),
                delivery: crate::timeline::Delivery::Sending,
                ..Entry::default()
            });
        }
        merged
    }

    /// The canned replies whose shortcut starts with `query` (then those containing it), in
    /// any case (`fold` lowercases; shortcuts are stored lowercase).
    pub fn canned_matching(&self, query: &str, fold: Fold) -> Vec<&Canned> {
        let query = fold(query);
        let mut found: Vec<&Canned> = self.canned.iter().filter(|c| c.shortcut.starts_with(&query)).collect();
        found.extend(
            self.canned.iter().filter(|c| !c.shortcut.starts_with(&query) && c.shortcut.contains(&query)),
        );
        found
    }
}

/// Entry ids of team events (above any message's), and of pending notes above those.
const EVENT_IDS: u64 = 1 << 60;
const PENDING_NOTE_IDS: u64 = 1 << 61;

/// A team event as a line of the conversation: a note with its author, or a status line.
fn event_entry(event: &TeamEvent, texts: &TeamTexts, local: &impl Fn(i64) -> String) -> Entry {
    let (from, text) = match event.kind {
        EventKind::Note => (From::Note, event.text.clone()),
        _ => (From::Event, describe(event, texts)),
    };
    Entry {
        id: EVENT_IDS + event.event.max(0) as u64,
        message_id: event.id.clone(),
        from,
        username: event.by.clone().unwrap_or_default(),
        time: local(event.at),
        text,
        ..Entry::default()
    }
}

/// What a status or assignment event says, in the console's language.
pub fn describe(event: &TeamEvent, texts: &TeamTexts) -> String {
    let by = event.by.as_deref().unwrap_or_default();
    let to = event.to.as_deref().unwrap_or_default();
    let template = match (event.kind, event.by.is_some()) {
        (EventKind::Note, _) => return event.text.clone(),
        (EventKind::Assigned, false) => texts.auto_assigned,
        (EventKind::Assigned, true) if by == to => texts.took,
        (EventKind::Assigned, true) => texts.assigned,
        (EventKind::Unassigned, _) => texts.gave_back,
        (EventKind::Resolved, _) => texts.resolved_by,
        (EventKind::Snoozed, _) => texts.snoozed_by,
        (EventKind::Reopened, _) => texts.reopened_by,
        (EventKind::ReopenedByMessage, _) => texts.reopened_by_message,
        (EventKind::ReopenedByTime, _) => texts.reopened_by_time,
    };
    template.replace("{by}", by).replace("{to}", to)
}

/// A canned reply's text for a user: `{name}` becomes the user's name.
pub fn fill(text: &str, name: &str) -> String {
    text.replace("{name}", name)
}

/// The `/shortcut` being typed at the end of a draft, if the draft is one: what follows the
/// `/` (empty right after it). Only a draft that is just `/word` opens the picker.
pub fn canned_query(draft: &str) -> Option<&str> {
    let rest = draft.strip_prefix('/')?;
    rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_').then_some(rest)
}

/// What a key does in the console (outside text fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Next,
    Previous,
    Resolve,
    Take,
    Help,
    Close,
}

/// The console's keys: `j`/`k` (or ↓/↑ with Alt) next/previous conversation, `e` resolve,
/// `t` take, `?` the help overlay, Esc closes it.
pub fn key_action(key: &str, alt: bool) -> Option<KeyAction> {
    match (key, alt) {
        ("j", false) | ("ArrowDown", true) => Some(KeyAction::Next),
        ("k", false) | ("ArrowUp", true) => Some(KeyAction::Previous),
        ("e", false) => Some(KeyAction::Resolve),
        ("t", false) => Some(KeyAction::Take),
        ("?", _) => Some(KeyAction::Help),
        ("Escape", _) => Some(KeyAction::Close),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::cid;

    fn state(conversation: i64, status: Status, assignee: Option<&str>) -> TeamState {
        TeamState {
            conversation: cid(conversation),
            status,
            assignee: assignee.map(str::to_owned),
            until: None,
        }
    }

    fn event(n: i64, kind: EventKind, by: Option<&str>, to: Option<&str>, after: u64) -> TeamEvent {
        TeamEvent {
            conversation: cid(5),
            event: n,
            kind,
            by: by.map(str::to_owned),
            to: to.map(str::to_owned),
            text: if kind == EventKind::Note { "check the refund".into() } else { String::new() },
            id: None,
            after,
            at: 0,
        }
    }

    #[test]
    fn views_and_counts_follow_status_and_assignee() {
        let mut team = Team::new("mei");
        assert!(team.in_view(View::Resolved, cid(1)), "no team inbox: every view shows all");
        let states = vec![
            state(1, Status::Open, Some("mei")),
            state(2, Status::Open, Some("li")),
            state(3, Status::Open, None),
            state(4, Status::Snoozed, Some("mei")),
            state(5, Status::Resolved, Some("mei")),
        ];
        assert!(team.apply(&ServerMessage::TeamStates { states }));
        // 6 has no state yet: open and unassigned.
        let all = (1..=6).map(cid);
        assert_eq!(team.counts(all), [1, 2, 4, 1, 1]);
        assert!(team.in_view(View::Mine, cid(1)) && !team.in_view(View::Mine, cid(2)));
        assert!(team.in_view(View::Unassigned, cid(6)));
        team.apply(&ServerMessage::TeamState(state(3, Status::Open, Some("mei"))));
        assert_eq!(team.counts((1..=6).map(cid)), [2, 1, 4, 1, 1]);
        assert!(!team.apply(&ServerMessage::Ready));
    }

    #[test]
    fn events_are_placed_after_the_message_they_followed_and_described() {
        let mut team = Team::new("mei");
        let texts = &crate::team_texts::EN_TEAM;
        let entries: Vec<Entry> = (1..=3)
            .map(|seq| Entry {
                id: seq,
                seq: Some(seq),
                from: From::User,
                text: format!("m{seq}"),
                ..Entry::default()
            })
            .collect();
        let events = vec![
            event(1, EventKind::Assigned, None, Some("mei"), 1),
            event(2, EventKind::Note, Some("mei"), None, 2),
            event(3, EventKind::Resolved, Some("mei"), None, 3),
        ];
        // Events of a conversation not asked for are not kept (its timeline comes when asked).
        team.apply(&ServerMessage::TeamEvent(events[0].clone()));
        assert!(team.merged(cid(5), &[], texts, |_| String::new()).is_empty());
        team.ask_events(cid(5));
        team.apply(&ServerMessage::TeamEvents { conversation: cid(5), events: events.clone() });
        // The same event live again is not shown twice.
        team.apply(&ServerMessage::TeamEvent(events[2].clone()));
        let merged = team.merged(cid(5), &entries, texts, |_| "t".into());
        let shown: Vec<(&str, &str)> = merged.iter().map(|e| (e.from.as_str(), e.text.as_str())).collect();
        assert_eq!(
            shown,
            vec![
                ("user", "m1"),
                ("event", "Assigned to mei automatically"),
                ("user", "m2"),
                ("note", "check the refund"),
                ("user", "m3"),
                ("event", "Resolved by mei"),
            ]
        );
        let zh = &crate::team_texts::ZH_TEAM;
        assert_eq!(
            describe(&event(4, EventKind::Assigned, Some("mei"), Some("li"), 0), zh),
            "mei 将会话转给了 li"
        );
    }

    #[test]
    fn a_note_waits_as_sending_until_stored_and_is_sent_again_on_a_new_link() {
        let mut team = Team::new("mei");
        let ClientMessage::Note { id, .. } = team.note(cid(5), "internal", 1) else { panic!("a note") };
        assert_eq!(team.resend().len(), 1);
        let merged = team.merged(cid(5), &[], &crate::team_texts::EN_TEAM, |_| String::new());
        assert_eq!((merged[0].from, merged[0].delivery), (From::Note, crate::timeline::Delivery::Sending));
        team.apply(&ServerMessage::Noted { id, conversation: cid(5) });
        assert!(team.resend().is_empty());
    }

    #[test]
    fn canned_replies_are_found_by_shortcut_and_filled_with_the_name() {
        let mut team = Team::new("mei");
        let canned = |id, shortcut: &str| Canned { id, shortcut: shortcut.into(), text: "Hi {name}".into() };
        team.apply(&ServerMessage::Canned {
            replies: vec![canned(1, "refund"), canned(2, "hello"), canned(3, "re")],
        });
        let found: Vec<&str> =
            team.canned_matching("RE", str::to_lowercase).iter().map(|c| c.shortcut.as_str()).collect();
        assert_eq!(found, vec!["refund", "re"]);
        let found: Vec<&str> =
            team.canned_matching("fun", str::to_lowercase).iter().map(|c| c.shortcut.as_str()).collect();
        assert_eq!(found, vec!["refund"]);
        assert_eq!(fill("Hi {name}, {name}!", "小明"), "Hi 小明, 小明!");
        assert_eq!(canned_query("/ref"), Some("ref"));
        assert_eq!(canned_query("/"), Some(""));
        assert_eq!(canned_query("/ref now"), None);
        assert_eq!(canned_query("hello"), None);
    }

    #[test]
    fn keys() {
        assert_eq!(key_action("j", false), Some(KeyAction::Next));
        assert_eq!(key_action("ArrowUp", true), Some(KeyAction::Previous));
        assert_eq!(key_action("ArrowUp", false), None);
        assert_eq!(key_action("?", false), Some(KeyAction::Help));
        assert_eq!(key_action("x", false), None);
    }

    #[test]
    fn notes_kept_in_the_browser_come_back_once_and_are_sent_again() {
        let mut team = Team::new("mei");
        let sent = team.note(cid(5), "VIP, refund approved", 1_000);
        let stored: Vec<serde_json::Value> = team.pending.iter().map(PendingNote::to_fields).collect();
        let mut reloaded = Team::new("mei");
        // Read twice (two tabs' saves): each note waits once.
        reloaded.restore_notes(stored.iter().filter_map(PendingNote::from_fields));
        reloaded.restore_notes(stored.iter().filter_map(PendingNote::from_fields));
        assert_eq!(reloaded.pending, team.pending);
        assert_eq!(reloaded.resend(), vec![sent]);
        // Stored, it is no longer kept.
        let id = reloaded.pending[0].id.clone();
        reloaded.apply(&ServerMessage::Noted { id, conversation: cid(5) });
        assert!(reloaded.pending.is_empty());
        // What cannot be read is not a note.
        let bad = serde_json::json!({"id": "n", "conversation": 1_i64 << 60, "text": "t"});
        assert_eq!(PendingNote::from_fields(&bad), None);
        assert_eq!(PendingNote::from_fields(&serde_json::json!({"id": "n", "text": "t"})), None);
    }
}
