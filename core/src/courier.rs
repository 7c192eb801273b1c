//! The courier: gets each own message to the server exactly once, or shows plainly that it
//! did not. Pure logic, no browser types: it updates a page model and returns [`Effect`]s
//! (frames to send, "save the outbox") for the browser side to carry out. Both pages use it.
//!
//! - v1 (the server selected `kefu.v1`): on every connect the courier resumes from the last
//!   sequence number seen, then re-sends the whole outbox; acks and refusals settle each
//!   message by id.
//! - v0: a message is sent once; an echo confirms it, a heartbeat answered before its echo
//!   means refused, a dropped link means unknown (failed, for the person to retry).

use kefu_protocol::ids::UserId;
use kefu_protocol::v1::{
    ClientMessage, ConversationId, ErrorCode, Message, Position, Seq, ServerMessage, DEFAULT_PAGE,
    TYPING_INTERVAL_MS, TYPING_SHOWN_MS,
};
use kefu_protocol::{ChatMessage, Role};

use crate::outbox::{Outbox, Pending};

/// What a page shows, as the courier needs it.
pub trait Model {
    /// Whose messages are news to this page (alerts): the users' for agents, the agents' for a
    /// user.
    fn other_side(&self) -> Role;
    /// Shows an outbox message (restored after a reload, or just written) as *sending*;
    /// returns its entry id.
    fn show_pending(&mut self, pending: &Pending) -> Option<u64>;
    fn entry_of(&self, message_id: &str) -> Option<u64>;
    /// Puts a failed entry back to sending; returns its message id.
    fn retry(&mut self, entry: u64) -> Option<String>;
    fn ack(&mut self, message_id: &str, seq: Seq);
    fn fail(&mut self, message_id: &str, reason: &str);
    /// v0: own message `message_id`, shown *sent* on its echo, is not confirmed after all
    /// (the link dropped before its probe was answered): *failed* with `reason`. Whether it
    /// was shown sent.
    fn unconfirm(&mut self, message_id: &str, reason: &str) -> bool;
    fn receive_v1(&mut self, message: &Message, live: bool);
    fn history(&mut self, conversation: ConversationId, messages: &[Message], has_more: bool);
    /// v0 echo or message; returns the own message id it confirmed.
    fn receive_v0(&mut self, message: &ChatMessage) -> Option<String>;
    fn notice(&mut self, text: &str, local_time: String);
    /// v0: entries the backend processed without echoing them failed; returns their message ids.
    fn fail_unechoed(&mut self, entries: &[u64]) -> Vec<String>;
    fn positions(&self) -> Vec<Position>;
    /// The first sequence number shown in `conversation`, and whether older ones exist.
    fn oldest(&self, conversation: ConversationId) -> (Option<Seq>, bool);
    /// A user came online or went offline (agents' view), with the name the server knows.
    fn presence(&mut self, _conversation: ConversationId, _online: bool, _name: Option<&str>) {}
    /// Whether any agent is connected (users' view).
    fn agents(&mut self, _online: bool) {}
    /// Presence is unknown until the server tells again (after a reconnect).
    fn reset_presence(&mut self) {}
    /// A read position advanced (`agent`: the agents'; else the user's).
    fn read(&mut self, _conversation: ConversationId, _agent: bool, _seq: Seq) {}
    /// The other side is typing in `conversation`: show it until `until_ms`.
    fn typing(&mut self, _conversation: ConversationId, _agent: bool, _until_ms: u64) {}
    /// v2: the person's friends list, whole.
    fn friends(&mut self, _list: kefu_protocol::friends::Friends) {}
    /// v2: a friend came online or went offline.
    fn friend_presence(&mut self, _uid: UserId, _online: bool) {}
    /// v2: a member of a peer conversation has read it up to `seq`.
    fn member_read(&mut self, _conversation: ConversationId, _uid: UserId, _seq: Seq) {}
    /// v2: a refusal (without a message id) that answers the friend frame the page sent;
    /// `false` if no friend frame was waiting for an answer.
    fn friend_refused(&mut self, _code: ErrorCode) -> bool {
        false
    }
    /// v2: a member is typing in a peer conversation: show it until `until_ms`.
    fn member_typing(&mut self, _conversation: ConversationId, _uid: UserId, _until_ms: u64) {}
    /// Agents: a team inbox frame (see [`crate::team`]).
    fn team(&mut self, _frame: &ServerMessage) {}
    /// Agents: the team frames to send once a link is ready (notes not yet stored, the open
    /// conversation's timeline).
    fn team_ready(&mut self) -> Vec<ClientMessage> {
        vec![]
    }
}

/// Something the browser side must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// v0: send this text for entry `entry` (the link probes it).
    SendV0 {
        entry: u64,
        text: String,
    },
    SendV1(ClientMessage),
    /// Write the outbox to browser storage.
    Save,
    /// A message from the other side arrived live (not in a replay): alert the person.
    Alert {
        conversation: ConversationId,
    },
    /// v0: back online after a loss at `since` (local time); the backend does not resend what
    /// it broadcast meanwhile, so say that messages of that time may be missing.
    MayHaveMissed {
        since: String,
    },
}

/// Which protocol the current (or last) connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Unknown,
    V0,
    V1,
}

/// Reason shown for a v0 message whose fate is unknown.
pub const UNCONFIRMED: &str = "not confirmed by the server";

#[derive(Debug, Clone)]
pub struct Courier {
    pub outbox: Outbox,
    pub protocol: Protocol,
    /// Whether frames can be sent now (v1: after the replay).
    ready: bool,
    /// Conversations with a history request on the way.
    loading: Vec<ConversationId>,
    /// Pages asked for before the link was ready, or whose request a lost link took with it:
    /// asked (again) at the next `ready`, never dropped.
    wanted: Vec<ConversationId>,
    /// When this page last said it was typing.
    typing_sent_ms: Option<u64>,
    /// The read positions this page has sent, per conversation.
    read_sent: Vec<(Option<ConversationId>, Seq)>,
    /// A message was refused for a passing reason (rate limit, storage): resend at the next
    /// tick at least [`RETRY_AFTER_MS`] after the last resend.
    retry_due: bool,
    last_retry_ms: u64,
    /// v1: the message sent and not yet settled. One at a time, in the order they were
    /// written: a message refused for a passing reason (rate limit) is sent again before any
    /// later one, so that a sender's messages are never stored out of order.
    in_flight: Option<String>,
    /// v0: when (local time) a working link was lost, until the next one opens.
    offline_since: Option<String>,
    /// v0: the last own message echoed on this link, until its probe is answered. The
    /// original stops a broadcast at the first connection it cannot write to and drops the
    /// sender's link: an echo alone does not prove the others got the message. An answer to a
    /// later frame does (the original handles a connection's frames one after another), so
    /// only the last one is in doubt.
    last_echoed_v0: Option<Pending>,
}

/// Pause before messages refused for a passing reason are sent again.
pub const RETRY_AFTER_MS: u64 = 1_000;

impl Courier {
    /// A courier for a page, with the outbox read from storage shown in the model.
    pub fn new(outbox: Outbox, model: &mut impl Model) -> Courier {
        for pending in &outbox.items {
            model.show_pending(pending);
            if let Some(reason) = &pending.failed {
                model.fail(&pending.id, reason);
            }
        }
        Courier {
            outbox,
            protocol: Protocol::Unknown,
            ready: false,
            loading: vec![],
            wanted: vec![],
            typing_sent_ms: None,
            read_sent: vec![],
            retry_due: false,
            last_retry_ms: 0,
            in_flight: None,
            offline_since: None,
            last_echoed_v0: None,
        }
    }

    /// Messages waiting for the server (shown by the status while offline).
    pub fn queued(&self) -> usize {
        self.outbox.items.iter().filter(|p| p.failed.is_none()).count()
    }

    /// The socket opened, speaking v1 or v0.
    pub fn opened(&mut self, v1: bool, model: &mut impl Model) -> Vec<Effect> {
        self.loading.clear();
        self.in_flight = None;
        self.last_echoed_v0 = None;
        model.reset_presence();
        let offline_since = self.offline_since.take();
        if v1 {
            self.protocol = Protocol::V1;
            self.ready = false;
            return vec![Effect::SendV1(ClientMessage::Resume { after: model.positions() })];
        }
        self.protocol = Protocol::V0;
        self.ready = true;
        // A v0 backend has no history pages.
        self.wanted.clear();
        // Sent on an earlier v0 link (maybe before a reload) and never confirmed: unknown.
        for id in self.outbox.fail_sent_v0(UNCONFIRMED) {
            model.fail(&id, UNCONFIRMED);
        }
        let mut effects: Vec<Effect> =
            offline_since.map(|since| Effect::MayHaveMissed { since }).into_iter().collect();
        effects.extend(self.flush_v0(model));
        effects.push(Effect::Save);
        effects
    }

    /// The link dropped at `local_time` (or a send found it down).
    pub fn lost(&mut self, model: &mut impl Model, local_time: String) -> Vec<Effect> {
        if self.protocol == Protocol::V0 && self.ready {
            self.offline_since.get_or_insert(local_time);
        }
        self.ready = false;
        self.in_flight = None;
        // A page on its way is lost with the link: asked again once the next one is ready.
        for conversation in std::mem::take(&mut self.loading) {
            self.want(conversation);
        }
        model.reset_presence();
        if self.protocol != Protocol::V0 {
            // v1: the outbox is sent again on reconnect; the server drops repeats.
            return vec![];
        }
        for id in self.outbox.fail_sent_v0(UNCONFIRMED) {
            model.fail(&id, UNCONFIRMED);
        }
        if let Some(pending) = self.last_echoed_v0.take() {
            if model.unconfirm(&pending.id, UNCONFIRMED) {
                self.outbox.add(Pending { failed: Some(UNCONFIRMED.to_owned()), ..pending });
            }
        }
        vec![Effect::Save]
    }

    /// The person wrote a message: show it, keep it, and send it if the link is ready.
    pub fn compose(
        &mut self,
        model: &mut impl Model,
        id: String,
        conversation: Option<ConversationId>,
        text: &str,
        local_time: String,
    ) -> Vec<Effect> {
        let pending =
            Pending { id, conversation, text: text.to_owned(), time: local_time, sent: false, failed: None };
        // The next message's first key is said at once: the other side's "typing" ended with
        // this message, and the interval's limit counts from a new start.
        self.typing_sent_ms = None;
        model.show_pending(&pending);
        self.outbox.add(pending.clone());
        let mut effects = vec![Effect::Save];
        effects.extend(self.send_now(model));
        effects
    }

    /// The person retries a failed message.
    pub fn retry(&mut self, model: &mut impl Model, entry: u64) -> Vec<Effect> {
        let Some(message_id) = model.retry(entry) else { return vec![] };
        if self.outbox.retry(&message_id).is_none() {
            return vec![];
        }
        let mut effects = vec![Effect::Save];
        effects.extend(self.send_now(model));
        effects
    }

    fn send_now(&mut self, model: &mut impl Model) -> Vec<Effect> {
        match (self.protocol, self.ready) {
            (Protocol::V1, true) => self.send_next(),
            (Protocol::V0, true) => self.flush_v0(model),
            _ => vec![],
        }
    }

    /// v1: sends the oldest message due, unless one is on its way or a refusal's pause runs.
    fn send_next(&mut self) -> Vec<Effect> {
        if self.protocol != Protocol::V1 || !self.ready || self.in_flight.is_some() || self.retry_due {
            return vec![];
        }
        let Some(next) = self.outbox.due_v1().into_iter().next() else { return vec![] };
        self.in_flight = Some(next.id.clone());
        vec![send_frame(&next)]
    }

    /// v1: message `id` is settled (stored or refused for good): the next one may go.
    fn settled(&mut self, id: &str) -> Vec<Effect> {
        if self.in_flight.as_deref() == Some(id) {
            self.in_flight = None;
        }
        self.send_next()
    }

    fn flush_v0(&mut self, model: &mut impl Model) -> Vec<Effect> {
        let mut effects = vec![];
        for pending in self.outbox.take_due_v0() {
            if let Some(entry) = model.entry_of(&pending.id) {
                effects.push(Effect::SendV0 { entry, text: pending.text });
            }
        }
        if !effects.is_empty() {
            effects.push(Effect::Save);
        }
        effects
    }

    /// Time passed: resend what was refused for a passing reason, once the pause is over.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Effect> {
        if !self.retry_due || !self.ready || now_ms < self.last_retry_ms + RETRY_AFTER_MS {
            return vec![];
        }
        self.retry_due = false;
        self.last_retry_ms = now_ms;
        self.in_flight = None;
        self.send_next()
    }

    /// The person is typing: say so (v1 only), at most every [`TYPING_INTERVAL_MS`].
    pub fn typing(&mut self, conversation: Option<ConversationId>, now_ms: u64) -> Vec<Effect> {
        let due = self.typing_sent_ms.is_none_or(|sent| now_ms >= sent + TYPING_INTERVAL_MS);
        if self.protocol != Protocol::V1 || !self.ready || !due {
            return vec![];
        }
        self.typing_sent_ms = Some(now_ms);
        vec![Effect::SendV1(ClientMessage::Typing { conversation })]
    }

    /// The person has seen `conversation` up to `seq`: say so once per advance (v1 only).
    pub fn seen(&mut self, conversation: Option<ConversationId>, seq: Seq) -> Vec<Effect> {
        let sent = self.read_sent.iter().find(|(c, _)| *c == conversation).map(|(_, s)| *s).unwrap_or(0);
        if self.protocol != Protocol::V1 || !self.ready || seq <= sent {
            return vec![];
        }
        self.read_sent.retain(|(c, _)| *c != conversation);
        self.read_sent.push((conversation, seq));
        vec![Effect::SendV1(ClientMessage::Read { conversation, seq })]
    }

    /// Another side's typing notice arrived at `now_ms`.
    pub fn typing_seen(model: &mut impl Model, conversation: ConversationId, agent: bool, now_ms: u64) {
        model.typing(conversation, agent, now_ms + TYPING_SHOWN_MS);
    }

    /// A peer conversation member's typing notice arrived at `now_ms`.
    pub fn member_typing_seen(
        model: &mut impl Model,
        conversation: ConversationId,
        uid: UserId,
        now_ms: u64,
    ) {
        model.member_typing(conversation, uid, now_ms + TYPING_SHOWN_MS);
    }

    /// A control frame (v2 friend frames; an agent's team frames): sent only on a ready link;
    /// `None` when it could not be sent now (the page says so, the person tries again).
    pub fn control_frame(&self, frame: ClientMessage) -> Option<Effect> {
        (self.protocol == Protocol::V1 && self.ready).then_some(Effect::SendV1(frame))
    }

    /// Asks for older messages of a conversation, unless they are all shown or on the way.
    pub fn older(&mut self, model: &impl Model, conversation: ConversationId) -> Vec<Effect> {
        let (first, has_more) = model.oldest(conversation);
        if !self.ready && self.protocol != Protocol::V0 {
            // Too early (the replay is not over, or no link yet): it waits for `ready`.
            self.want(conversation);
            return vec![];
        }
        if self.protocol != Protocol::V1 || !self.ready || !has_more || self.loading.contains(&conversation) {
            return vec![];
        }
        self.loading.push(conversation);
        vec![Effect::SendV1(ClientMessage::History {
            conversation,
            before: first.unwrap_or(0),
            limit: Some(DEFAULT_PAGE),
        })]
    }

    /// Notes a page to ask for at the next `ready` (once).
    fn want(&mut self, conversation: ConversationId) {
        if !self.wanted.contains(&conversation) {
            self.wanted.push(conversation);
        }
    }

    /// A v1 frame arrived.
    pub fn on_v1(&mut self, model: &mut impl Model, frame: ServerMessage, local_time: String) -> Vec<Effect> {
        match frame {
            ServerMessage::Message(message) => {
                model.receive_v1(&message, self.ready);
                // Seeing our own message stored settles it even if its ack was lost.
                if self.outbox.remove(&message.id).is_some() {
                    model.ack(&message.id, message.seq);
                    let mut effects = vec![Effect::Save];
                    effects.extend(self.settled(&message.id));
                    return effects;
                }
                if self.ready && message.role == model.other_side() {
                    return vec![Effect::Alert { conversation: message.conversation }];
                }
                vec![]
            }
            ServerMessage::Ack { id, seq, .. } => {
                model.ack(&id, seq);
                let mut effects = if self.outbox.remove(&id).is_some() { vec![Effect::Save] } else { vec![] };
                effects.extend(self.settled(&id));
                effects
            }
            ServerMessage::Ready => {
                self.ready = true;
                let mut effects = self.send_next();
                for conversation in std::mem::take(&mut self.wanted) {
                    effects.extend(self.older(model, conversation));
                }
                #[cfg(any(not(target_arch = "wasm32"), feature = "team"))]
                effects.extend(model.team_ready().into_iter().map(Effect::SendV1));
                effects
            }
            ServerMessage::Presence { conversation, online, name } => {
                model.presence(conversation, online, name.as_deref());
                vec![]
            }
            ServerMessage::Agents { online } => {
                model.agents(online);
                vec![]
            }
            ServerMessage::Read { conversation, agent, seq } => {
                model.read(conversation, agent, seq);
                vec![]
            }
            // Timed by the caller, which knows the clock: see [`Courier::typing_seen`].
            ServerMessage::Typing { .. } | ServerMessage::MemberTyping { .. } => vec![],
            ServerMessage::Friends(list) => {
                model.friends(list);
                vec![]
            }
            ServerMessage::FriendPresence { uid, online } => {
                model.friend_presence(uid, online);
                vec![]
            }
            ServerMessage::MemberRead { conversation, uid, seq } => {
                model.member_read(conversation, uid, seq);
                vec![]
            }
            ServerMessage::History { conversation, messages, has_more } => {
                self.loading.retain(|c| *c != conversation);
                model.history(conversation, &messages, has_more);
                vec![]
            }
            // A passing refusal: the message stays *sending* and is sent again shortly.
            ServerMessage::Error {
                code: ErrorCode::RateLimited | ErrorCode::Unavailable,
                id: Some(id),
                ..
            } if self.outbox.items.iter().any(|p| p.id == id) => {
                self.retry_due = true;
                vec![]
            }
            ServerMessage::Error { message, id: Some(id), .. }
                if self.outbox.items.iter().any(|p| p.id == id) =>
            {
                self.outbox.fail(&id, &message);
                model.fail(&id, &message);
                let mut effects = vec![Effect::Save];
                effects.extend(self.settled(&id));
                effects
            }
            ServerMessage::Error { code, message, .. } => {
                if !model.friend_refused(code) {
                    model.notice(&format!("{message} ({})", code.as_str()), local_time);
                }
                vec![]
            }
            #[cfg(any(not(target_arch = "wasm32"), feature = "team"))]
            team => {
                model.team(&team);
                vec![]
            }
        }
    }

    /// A v0 chat message arrived.
    pub fn on_v0_chat(&mut self, model: &mut impl Model, message: &ChatMessage) -> Vec<Effect> {
        match model.receive_v0(message).and_then(|id| self.outbox.remove(&id)) {
            Some(pending) => {
                // A late echo of one that failed with an earlier link is not this link's to
                // confirm.
                if pending.failed.is_none() {
                    self.last_echoed_v0 = Some(pending);
                }
                vec![Effect::Save]
            }
            // (A number outside the ids' ranges names no conversation to alert about.)
            _ if message.role == model.other_side() => ConversationId::new(message.uid)
                .map(|conversation| Effect::Alert { conversation })
                .into_iter()
                .collect(),
            _ => vec![],
        }
    }

    /// v0: the backend answered a heartbeat sent after these entries; unechoed ones were refused.
    pub fn processed(&mut self, model: &mut impl Model, entries: &[u64]) -> Vec<Effect> {
        let probed =
            |pending: &Pending| model.entry_of(&pending.id).is_some_and(|entry| entries.contains(&entry));
        if self.last_echoed_v0.as_ref().is_some_and(probed) {
            self.last_echoed_v0 = None;
        }
        let failed_ids = model.fail_unechoed(entries);
        for id in &failed_ids {
            self.outbox.fail(id, "refused by the server");
        }
        if failed_ids.is_empty() {
            vec![]
        } else {
            vec![Effect::Save]
        }
    }
}

fn send_frame(pending: &Pending) -> Effect {
    Effect::SendV1(ClientMessage::Send {
        id: pending.id.clone(),
        conversation: pending.conversation,
        text: pending.text.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::cid;
    use crate::inbox::Inbox;
    use crate::timeline::{Delivery, From};
    use crate::user_chat::UserChat;
    use kefu_protocol::v1::ErrorCode;
    use kefu_protocol::{Role, AGENT_UID};

    /// A stored message of conversation 5.
    fn stored(seq: Seq, id: &str, uid: i64) -> Message {
        crate::fixtures::stored(5, seq, id, uid)
    }

    /// The original's echo of user 5's own message `text`.
    fn echo_of_user_5(text: &str) -> ChatMessage {
        ChatMessage {
            uid: 5,
            role: Role::User,
            username: String::new(),
            avatar: String::new(),
            create_time: "t".into(),
            text: text.into(),
        }
    }

    fn states(chat: &UserChat) -> Vec<(String, Delivery)> {
        chat.timeline.entries.iter().map(|e| (e.text.clone(), e.delivery)).collect()
    }

    fn sends(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::SendV1(ClientMessage::Send { id, .. }) => Some(id.clone()),
                Effect::SendV0 { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn v1_queues_offline_resumes_then_resends_until_acked_exactly_once() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        // Written while offline: shown as sending, queued, nothing sent yet.
        let effects = courier.compose(&mut chat, "a".into(), None, "text a", "t".into());
        assert_eq!(effects, vec![Effect::Save]);
        assert_eq!(courier.queued(), 1);
        // Connect: resume first (nothing seen yet), the outbox after the replay.
        let effects = courier.opened(true, &mut chat);
        assert_eq!(effects, vec![Effect::SendV1(ClientMessage::Resume { after: vec![] })]);
        courier.on_v1(
            &mut chat,
            ServerMessage::History {
                conversation: cid(5),
                messages: vec![stored(1, "x", AGENT_UID)],
                has_more: false,
            },
            "t".into(),
        );
        assert_eq!(sends(&courier.on_v1(&mut chat, ServerMessage::Ready, "t".into())), vec!["a"]);
        // The link drops before the ack: still sending, and sent again after reconnecting.
        assert!(courier.lost(&mut chat, "t".into()).is_empty());
        assert_eq!(chat.timeline.entries[1].delivery, Delivery::Sending);
        let effects = courier.opened(true, &mut chat);
        assert_eq!(
            effects,
            vec![Effect::SendV1(ClientMessage::Resume {
                after: vec![Position { conversation: cid(5), seq: 1 }]
            })]
        );
        assert_eq!(sends(&courier.on_v1(&mut chat, ServerMessage::Ready, "t".into())), vec!["a"]);
        // Both copies reached the server; it stored one and acks twice. The page shows one.
        courier.on_v1(&mut chat, ServerMessage::Message(stored(2, "a", 5)), "t".into());
        courier.on_v1(
            &mut chat,
            ServerMessage::Ack { id: "a".into(), conversation: cid(5), seq: 2 },
            "t".into(),
        );
        courier.on_v1(
            &mut chat,
            ServerMessage::Ack { id: "a".into(), conversation: cid(5), seq: 2 },
            "t".into(),
        );
        assert_eq!(states(&chat), vec![("text x".into(), Delivery::Sent), ("text a".into(), Delivery::Sent)]);
        assert_eq!(courier.queued(), 0);
    }

    #[test]
    fn a_reload_restores_the_outbox_and_a_refusal_fails_with_its_reason() {
        let mut outbox = Outbox::default();
        outbox.add(Pending {
            id: "p".into(),
            conversation: None,
            text: "too long".into(),
            time: "t".into(),
            sent: false,
            failed: None,
        });
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(outbox, &mut chat);
        assert_eq!(states(&chat), vec![("too long".into(), Delivery::Sending)]);
        courier.opened(true, &mut chat);
        assert_eq!(sends(&courier.on_v1(&mut chat, ServerMessage::Ready, "t".into())), vec!["p"]);
        let error = ServerMessage::error(ErrorCode::Oversize, "message is too long", Some("p".into()));
        assert_eq!(courier.on_v1(&mut chat, error, "t".into()), vec![Effect::Save]);
        assert_eq!(chat.timeline.entries[0].delivery, Delivery::Failed);
        assert_eq!(chat.timeline.entries[0].reason.as_deref(), Some("message is too long"));
        assert_eq!(courier.queued(), 0, "a failed message waits for the person");
        // Retry sends it again at once while ready.
        let entry = chat.timeline.entries[0].id;
        assert_eq!(sends(&courier.retry(&mut chat, entry)), vec!["p"]);
        // An error about no message of ours is a notice.
        courier.on_v1(&mut chat, ServerMessage::error(ErrorCode::RateLimited, "slow down", None), "t".into());
        assert_eq!(chat.timeline.entries.last().map(|e| e.from), Some(From::System));
    }

    #[test]
    fn v0_sends_once_and_fails_what_a_drop_leaves_unknown() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.compose(&mut chat, "q".into(), None, "queued offline", "t".into());
        let effects = courier.opened(false, &mut chat);
        assert_eq!(sends(&effects), vec!["queued offline"]);
        assert_eq!(sends(&courier.compose(&mut chat, "n".into(), None, "now", "t".into())), vec!["now"]);
        // The echo of the first confirms it; the link drops before the second's echo.
        let echo = echo_of_user_5("queued offline");
        assert_eq!(courier.on_v0_chat(&mut chat, &echo), vec![Effect::Save]);
        let first = chat.timeline.entries[0].id;
        assert!(courier.processed(&mut chat, &[first]).is_empty(), "echoed: nothing refused");
        courier.lost(&mut chat, "t".into());
        assert_eq!(
            states(&chat),
            vec![("queued offline".into(), Delivery::Sent), ("now".into(), Delivery::Failed)]
        );
        // Reconnecting does not resend it by itself (it may have arrived); retry does.
        assert!(sends(&courier.opened(false, &mut chat)).is_empty());
        let entry = chat.timeline.entries[1].id;
        assert_eq!(sends(&courier.retry(&mut chat, entry)), vec!["now"]);
    }

    #[test]
    fn v0_an_echo_followed_by_a_drop_before_the_probe_is_not_confirmed() {
        // The original echoed the message to its sender, then could not write it to another
        // connection, stopped the broadcast and dropped the sender: the others may lack it.
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.opened(false, &mut chat);
        assert_eq!(sends(&courier.compose(&mut chat, "r".into(), None, "reply", "t".into())), vec!["reply"]);
        let echo = echo_of_user_5("reply");
        courier.on_v0_chat(&mut chat, &echo);
        assert_eq!(states(&chat), vec![("reply".into(), Delivery::Sent)]);
        assert_eq!(courier.queued(), 0);
        // A later message's echo proves the earlier broadcast finished: only the last is in
        // doubt when the link drops.
        assert_eq!(sends(&courier.compose(&mut chat, "l".into(), None, "later", "t".into())), vec!["later"]);
        courier.on_v0_chat(&mut chat, &echo_of_user_5("later"));
        courier.lost(&mut chat, "t".into());
        assert_eq!(states(&chat), vec![("reply".into(), Delivery::Sent), ("later".into(), Delivery::Failed)]);
        assert_eq!(chat.timeline.entries[1].reason.as_deref(), Some(UNCONFIRMED));
        // The person may send it again, once.
        assert!(sends(&courier.opened(false, &mut chat)).is_empty());
        let entry = chat.timeline.entries[1].id;
        assert_eq!(sends(&courier.retry(&mut chat, entry)), vec!["later"]);
        courier.on_v0_chat(&mut chat, &echo_of_user_5("later"));
        assert!(courier.processed(&mut chat, &[entry]).is_empty());
        courier.lost(&mut chat, "t".into());
        assert_eq!(
            states(&chat),
            vec![("reply".into(), Delivery::Sent), ("later".into(), Delivery::Sent)],
            "confirmed by the probe"
        );
    }

    #[test]
    fn v0_says_what_may_be_missing_after_a_loss_and_only_then() {
        let mut inbox = Inbox::default();
        let mut courier = Courier::new(Outbox::default(), &mut inbox);
        let missed = |effects: &[Effect]| {
            effects.iter().find_map(|e| match e {
                Effect::MayHaveMissed { since } => Some(since.clone()),
                _ => None,
            })
        };
        // A first connection has nothing to miss, nor does a send before it.
        courier.lost(&mut inbox, "before".into());
        assert_eq!(missed(&courier.opened(false, &mut inbox)), None);
        // A working link lost at 10:00:01; a failed attempt later does not move the start.
        courier.lost(&mut inbox, "10:00:01".into());
        courier.lost(&mut inbox, "10:00:03".into());
        assert_eq!(missed(&courier.opened(false, &mut inbox)).as_deref(), Some("10:00:01"));
        // Said once.
        courier.lost(&mut inbox, "10:00:05".into());
        courier.opened(false, &mut inbox);
        assert_eq!(missed(&courier.opened(false, &mut inbox)), None);
        // v1 replays what was missed: nothing to say.
        let mut courier = Courier::new(Outbox::default(), &mut inbox);
        courier.opened(true, &mut inbox);
        courier.on_v1(&mut inbox, ServerMessage::Ready, "t".into());
        courier.lost(&mut inbox, "10:00:07".into());
        assert_eq!(missed(&courier.opened(true, &mut inbox)), None);
    }

    /// A page asked for too early (a reloaded conversation opens before the link is ready)
    /// waits for `ready`; one whose request a dropped link took is asked again. Neither is
    /// dropped silently (before, a reloaded Friends conversation stayed empty).
    #[test]
    fn a_page_asked_too_early_or_lost_with_the_link_is_asked_at_the_next_ready() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        let history = |effects: &[Effect]| {
            effects.iter().filter(|e| matches!(e, Effect::SendV1(ClientMessage::History { .. }))).count()
        };
        assert!(courier.older(&chat, cid(5)).is_empty(), "no link yet");
        courier.opened(true, &mut chat);
        assert!(courier.older(&chat, cid(5)).is_empty(), "the replay is not over");
        let page = ServerMessage::History {
            conversation: cid(5),
            messages: vec![stored(51, "m51", 5)],
            has_more: true,
        };
        courier.on_v1(&mut chat, page, "t".into());
        let ready = courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        assert_eq!(history(&ready), 1, "asked once, at ready: {ready:?}");
        // Its answer never comes: the link drops first.
        courier.lost(&mut chat, "t".into());
        courier.opened(true, &mut chat);
        let ready = courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        assert_eq!(history(&ready), 1, "asked again: {ready:?}");
    }

    #[test]
    fn older_pages_are_asked_once_and_only_when_they_exist() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.opened(true, &mut chat);
        courier.on_v1(
            &mut chat,
            ServerMessage::History {
                conversation: cid(5),
                messages: vec![stored(51, "m51", 5)],
                has_more: true,
            },
            "t".into(),
        );
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        let ask = courier.older(&chat, cid(5));
        assert_eq!(
            ask,
            vec![Effect::SendV1(ClientMessage::History {
                conversation: cid(5),
                before: 51,
                limit: Some(DEFAULT_PAGE)
            })]
        );
        assert!(courier.older(&chat, cid(5)).is_empty(), "already on the way");
        courier.on_v1(
            &mut chat,
            ServerMessage::History {
                conversation: cid(5),
                messages: vec![stored(1, "m1", 5)],
                has_more: false,
            },
            "t".into(),
        );
        assert!(courier.older(&chat, cid(5)).is_empty(), "nothing older");
        assert_eq!(chat.timeline.first_seq(), Some(1));
    }

    #[test]
    fn typing_is_sent_at_most_every_interval_and_shown_for_a_while() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        assert!(courier.typing(None, 1_000).is_empty(), "not connected");
        courier.opened(true, &mut chat);
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        let typing = vec![Effect::SendV1(ClientMessage::Typing { conversation: None })];
        assert_eq!(courier.typing(None, 1_000), typing);
        assert!(courier.typing(None, 1_000 + TYPING_INTERVAL_MS - 1).is_empty());
        assert_eq!(courier.typing(None, 1_000 + TYPING_INTERVAL_MS), typing);
        // A message sent: the first key of the next one is said at once, not up to 2 s later
        // (before, it was not said, and the other side saw no "typing" for the next message).
        courier.compose(&mut chat, "m".into(), None, "sent", "t".into());
        assert_eq!(courier.typing(None, 1_000 + TYPING_INTERVAL_MS + 100), typing);
        // The agent types: shown until TYPING_SHOWN_MS later; its message clears it.
        Courier::typing_seen(&mut chat, cid(5), true, 10_000);
        assert_eq!(chat.agent_typing_until, Some(10_000 + TYPING_SHOWN_MS));
        Courier::typing_seen(&mut chat, cid(5), false, 11_000);
        assert_eq!(chat.agent_typing_until, Some(10_000 + TYPING_SHOWN_MS), "own typing is not shown");
        courier.on_v1(&mut chat, ServerMessage::Message(stored(1, "r", AGENT_UID)), "t".into());
        assert_eq!(chat.agent_typing_until, None);
    }

    #[test]
    fn reads_are_sent_once_per_advance_and_mark_own_messages() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        assert!(courier.seen(None, 3).is_empty(), "not connected");
        courier.opened(true, &mut chat);
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        assert_eq!(
            courier.seen(None, 3),
            vec![Effect::SendV1(ClientMessage::Read { conversation: None, seq: 3 })]
        );
        assert!(courier.seen(None, 3).is_empty());
        assert!(courier.seen(None, 2).is_empty());
        courier.on_v1(&mut chat, ServerMessage::Message(stored(1, "mine", 5)), "t".into());
        courier.on_v1(
            &mut chat,
            ServerMessage::Read { conversation: cid(5), agent: true, seq: 1 },
            "t".into(),
        );
        assert!(chat.timeline.entries[0].read);
        // A message stored after that is not read yet.
        courier.on_v1(&mut chat, ServerMessage::Message(stored(2, "later", 5)), "t".into());
        assert!(!chat.timeline.entries[1].read);
    }

    #[test]
    fn messages_go_one_at_a_time_in_order_and_a_refusal_holds_the_later_ones_back() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        for id in ["a", "b", "c"] {
            courier.compose(&mut chat, id.into(), None, id, "t".into());
        }
        courier.opened(true, &mut chat);
        assert_eq!(sends(&courier.on_v1(&mut chat, ServerMessage::Ready, "t".into())), vec!["a"]);
        let ack = |id: &str, seq| ServerMessage::Ack { id: id.into(), conversation: cid(5), seq };
        assert_eq!(sends(&courier.on_v1(&mut chat, ack("a", 1), "t".into())), vec!["b"]);
        // b is refused for now: c waits behind it, and b goes again first.
        let limited = ServerMessage::error(ErrorCode::RateLimited, "slow down", Some("b".into()));
        assert!(sends(&courier.on_v1(&mut chat, limited, "t".into())).is_empty());
        assert!(sends(&courier.compose(&mut chat, "d".into(), None, "d", "t".into())).is_empty());
        assert_eq!(sends(&courier.tick(5_000)), vec!["b"]);
        assert_eq!(sends(&courier.on_v1(&mut chat, ack("b", 2), "t".into())), vec!["c"]);
        // A message refused for good does not hold the others.
        let refused = ServerMessage::error(ErrorCode::Oversize, "too long", Some("c".into()));
        assert_eq!(sends(&courier.on_v1(&mut chat, refused, "t".into())), vec!["d"]);
        // The echo of our own message settles it as well as its ack would.
        let echo = crate::fixtures::stored(5, 3, "d", 5);
        assert!(sends(&courier.on_v1(&mut chat, ServerMessage::Message(echo), "t".into())).is_empty());
        assert_eq!(courier.queued(), 0);
    }

    #[test]
    fn a_rate_limited_message_stays_sending_and_is_sent_again_after_a_pause() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.opened(true, &mut chat);
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        courier.compose(&mut chat, "m".into(), None, "hi", "t".into());
        let limited = ServerMessage::error(ErrorCode::RateLimited, "slow down", Some("m".into()));
        assert!(courier.on_v1(&mut chat, limited, "t".into()).is_empty());
        assert_eq!(chat.timeline.entries[0].delivery, Delivery::Sending);
        assert_eq!(courier.queued(), 1);
        assert_eq!(sends(&courier.tick(5_000)), vec!["m"]);
        assert!(courier.tick(5_100).is_empty(), "nothing more is due");
        let again = ServerMessage::error(ErrorCode::Unavailable, "storage", Some("m".into()));
        courier.on_v1(&mut chat, again, "t".into());
        assert!(courier.tick(5_500).is_empty(), "waits the pause");
        assert_eq!(sends(&courier.tick(6_000)), vec!["m"]);
    }

    #[test]
    fn the_user_learns_whether_an_agent_is_there_and_forgets_on_reconnect() {
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.opened(true, &mut chat);
        courier.on_v1(&mut chat, ServerMessage::Agents { online: false }, "t".into());
        assert_eq!(chat.agents_online, Some(false));
        courier.lost(&mut chat, "t".into());
        assert_eq!(chat.agents_online, None, "unknown while disconnected");
    }

    #[test]
    fn only_live_messages_from_the_other_side_alert() {
        let mut inbox = Inbox::default();
        let mut courier = Courier::new(Outbox::default(), &mut inbox);
        courier.opened(true, &mut inbox);
        // The replay after connecting fills the list silently.
        let replayed = courier.on_v1(&mut inbox, ServerMessage::Message(stored(1, "u1", 5)), "t".into());
        assert!(replayed.is_empty(), "{replayed:?}");
        courier.on_v1(&mut inbox, ServerMessage::Ready, "t".into());
        let live = courier.on_v1(&mut inbox, ServerMessage::Message(stored(2, "u2", 5)), "t".into());
        assert_eq!(live, vec![Effect::Alert { conversation: cid(5) }]);
        // A colleague's reply is not news to the agents.
        let reply = courier.on_v1(&mut inbox, ServerMessage::Message(stored(3, "a1", AGENT_UID)), "t".into());
        assert!(reply.is_empty(), "{reply:?}");
        // For a user it is the other way round.
        let mut chat = UserChat::new(5);
        let mut courier = Courier::new(Outbox::default(), &mut chat);
        courier.opened(true, &mut chat);
        courier.on_v1(&mut chat, ServerMessage::Ready, "t".into());
        let reply = courier.on_v1(&mut chat, ServerMessage::Message(stored(1, "a1", AGENT_UID)), "t".into());
        assert_eq!(reply, vec![Effect::Alert { conversation: cid(5) }]);
    }
}
