//! Protocol v1: resume and replay, sends with ids and acks, history pages, typing and read
//! positions, error frames. Every frame but the heartbeat passes one rate gate; every frame
//! that names a conversation is checked by one rule ([`Session::addressed`]).

use std::collections::{BTreeMap, HashSet};

use kefu_protocol::ids::UserId;
use kefu_protocol::v1::{
    self, ClientMessage, ConversationId, ErrorCode, Position, Seq, ServerMessage, DEFAULT_PAGE, MAX_PAGE,
    MAX_RESUME_POSITIONS,
};
use kefu_protocol::{validate_text, TextError};

use super::replay::{resume_failed, Replay, PAGE_BYTES};
use super::{Session, Step};
use crate::store::{Appended, StoreError};

/// Messages per conversation an agent gets on connecting for conversations it has not seen.
const AGENT_FIRST_PAGE: u32 = 20;

impl Session {
    pub(super) async fn on_v1(&mut self, text: &str) -> Step {
        let message = match ClientMessage::decode(text) {
            Ok(message) => message,
            // A broken frame counts too: a flood of them costs an answer each.
            Err(_) if !self.allow(0).await => {
                return self.error(ErrorCode::RateLimited, "too many frames; slow down", None)
            }
            Err(err) => return self.error(err.code, err.message, None),
        };
        // A message that could never be stored is refused before it counts.
        let (sending, text_bytes) = match &message {
            ClientMessage::Send { id, text, .. } => match self.check_send(id, text) {
                Ok(()) => (Some(id.clone()), text.len()),
                Err((code, refusal, id)) => return self.error(code, refusal, id),
            },
            _ => (None, 0),
        };
        if !self.allow(text_bytes).await {
            return self.error(ErrorCode::RateLimited, "too many frames; slow down", sending);
        }
        match message {
            ClientMessage::Resume { after } => self.resume(after).await,
            ClientMessage::Send { id, conversation, text } => self.send(id, conversation, text).await,
            ClientMessage::Read { conversation, seq } => self.read(conversation, seq).await,
            ClientMessage::Typing { conversation } => self.typing(conversation).await,
            ClientMessage::History { conversation, before, limit } => {
                self.history(conversation, before, limit).await
            }
            team_frame @ (ClientMessage::Take { .. }
            | ClientMessage::Assign { .. }
            | ClientMessage::SetStatus { .. }
            | ClientMessage::Note { .. }
            | ClientMessage::Events { .. }
            | ClientMessage::SaveCanned { .. }
            | ClientMessage::DeleteCanned { .. }) => self.on_team_frame(team_frame).await,
            friend_frame => self.on_friend_frame(friend_frame).await,
        }
    }

    pub(super) fn error(&mut self, code: ErrorCode, message: impl Into<String>, id: Option<String>) -> Step {
        self.reply(ServerMessage::error(code, message, id).encode())
    }

    /// The error to refuse a `send` with, if its id or text breaks the rules.
    fn check_send(&self, id: &str, text: &str) -> Result<(), (ErrorCode, String, Option<String>)> {
        if !v1::valid_id(id) {
            return Err((ErrorCode::BadId, "id must be 1-64 characters of A-Z a-z 0-9 - _".into(), None));
        }
        match validate_text(text, self.shared.limits.max_text_utf16) {
            Ok(()) | Err(TextError::Reserved) => Ok(()),
            Err(TextError::Empty) => Err((ErrorCode::EmptyText, "message is empty".into(), Some(id.into()))),
            Err(TextError::TooLong(len)) => {
                let limit = self.shared.limits.max_text_utf16;
                let message = format!("message too long: {len} UTF-16 units, the limit is {limit}");
                Err((ErrorCode::Oversize, message, Some(id.into())))
            }
        }
    }

    /// Whether this connection may use `conversation`: the facts gathered here, the rule in
    /// [`crate::privacy::may_use`]. (Writing to a peer conversation also needs a friendship:
    /// [`Session::peer_writable`].)
    async fn may_use(&self, conversation: ConversationId) -> bool {
        let members = conversation.peer().and_then(|peer| self.shared.store.members(peer));
        // Whether a support conversation exists matters to agents only (a query: asked then).
        let exists = match conversation.support_user() {
            Some(owner) if self.is_agent() => {
                self.shared.hub.is_online(kefu_protocol::ids::Caller::User(owner))
                    || self.shared.store.has_conversation(conversation).await.unwrap_or(false)
            }
            _ => false,
        };
        crate::privacy::may_use(self.caller, self.v2, conversation, crate::privacy::Facts { members, exists })
    }

    /// The conversation a frame addresses: a user's own when it names none; an agent must name
    /// one that exists. `Err`: the message of the `unknown_conversation` error to answer with.
    pub(super) async fn addressed(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<ConversationId, String> {
        match (conversation, self.user()) {
            (None, Some(me)) => Ok(ConversationId::support(me)),
            (None, None) => Err("an agent's frame must name its conversation".into()),
            (Some(conversation), _) if self.may_use(conversation).await => Ok(conversation),
            (Some(conversation), _) => Err(format!("no conversation {conversation} here")),
        }
    }

    /// Starts the replay: the positions given (one per conversation, the earliest if named
    /// twice; at most [`MAX_RESUME_POSITIONS`]; clamped to what exists), then what the client
    /// has not seen. It is sent a step at a time by [`Session::replay_step`].
    async fn resume(&mut self, after: Vec<Position>) -> Step {
        if self.resumed {
            return self.error(ErrorCode::AlreadyResumed, "resume is sent once per connection", None);
        }
        if after.len() > MAX_RESUME_POSITIONS {
            let message = format!("{} positions; at most {MAX_RESUME_POSITIONS} per resume", after.len());
            return self.error(ErrorCode::TooMany, message, None);
        }
        self.resumed = true;
        self.join().await;
        let mut positions: BTreeMap<ConversationId, Seq> = BTreeMap::new();
        for Position { conversation, seq } in after {
            let earliest = positions.entry(conversation).or_insert(seq);
            *earliest = (*earliest).min(seq);
        }
        // Every conversation an agent may use, read once (not once per position).
        let existing: HashSet<ConversationId> = match self.user() {
            None => {
                let stored = self.shared.store.conversations().await.map_err(resume_failed)?;
                let online = self.shared.hub.online_users().into_iter().map(ConversationId::support);
                stored.into_iter().chain(online).collect()
            }
            Some(me) if self.v2 => {
                let peers = self.shared.store.peer_conversations_of(me).into_iter().map(ConversationId::from);
                peers.chain([ConversationId::support(me)]).collect()
            }
            Some(me) => HashSet::from([ConversationId::support(me)]),
        };
        let mut replay = Replay {
            page: if self.is_agent() { AGENT_FIRST_PAGE } else { DEFAULT_PAGE },
            ..Replay::default()
        };
        let (usable, unknown): (Vec<_>, Vec<_>) =
            positions.into_iter().partition(|(c, _)| existing.contains(c));
        for (conversation, _) in unknown {
            let message = format!("no conversation {conversation} here (resume position ignored)");
            self.error(ErrorCode::UnknownConversation, message, None)?;
        }
        // The last messages as the database has them where this instance may not know yet.
        let last_seqs = self.shared.store.last_seqs_for(&usable).await.map_err(resume_failed)?;
        for (conversation, seq) in usable {
            // A position past the last message (a client that lies) counts as the last one.
            let seq = seq.min(last_seqs.get(&conversation).copied().unwrap_or(0));
            self.delivered.insert(conversation, seq);
            replay.after.push_back((conversation, seq));
            replay.replayed.push(conversation);
        }
        for conversation in existing {
            // `delivered` holds exactly the conversations replayed from a position (a set:
            // an agent has one per user, ten thousand after a restart).
            // A peer conversation not seen yet is not replayed: the friends list carries its
            // latest message, and the page asks for a page when it is opened.
            if !conversation.is_peer() && !self.delivered.contains_key(&conversation) {
                replay.fresh.push_back(conversation);
                replay.replayed.push(conversation);
            }
        }
        if self.is_agent() {
            replay.team = self.team_replay().await?;
        }
        self.replay = Some(replay);
        Ok(())
    }

    async fn send(&mut self, id: String, conversation: Option<ConversationId>, text: String) -> Step {
        let conversation = match self.addressed(conversation).await {
            Ok(conversation) => conversation,
            Err(message) => return self.error(ErrorCode::UnknownConversation, message, Some(id)),
        };
        let members = match self.peer_writable(conversation) {
            Ok(members) => members,
            Err((code, message)) => return self.error(code, message, Some(id)),
        };
        let new = self.new_message(conversation, id.clone(), &text);
        let shared = &self.shared;
        let stored = shared.store.append(new, |message| shared.deliver(message, members, true));
        match stored.await {
            Ok(Appended::New(message)) => {
                self.reply(ServerMessage::Ack { id, conversation, seq: message.seq }.encode())?;
                if self.user().is_some() && !conversation.is_peer() {
                    self.user_wrote(conversation).await;
                }
                Ok(())
            }
            Ok(Appended::Repeat(message)) => {
                self.reply(ServerMessage::Ack { id, conversation, seq: message.seq }.encode())
            }
            Err(err) => {
                tracing::error!(%err, "cannot store a message");
                self.error(ErrorCode::Unavailable, "the message could not be stored; retry", Some(id))
            }
        }
    }

    async fn history(&mut self, conversation: ConversationId, before: Seq, limit: Option<u32>) -> Step {
        if let Err(message) = self.addressed(Some(conversation)).await {
            return self.error(ErrorCode::UnknownConversation, message, None);
        }
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        match self.shared.store.page(conversation, before, limit, PAGE_BYTES).await {
            Ok((messages, has_more)) => {
                self.reply(ServerMessage::History { conversation, messages, has_more }.encode())
            }
            Err(err) => self.unavailable(err),
        }
    }

    async fn read(&mut self, conversation: Option<ConversationId>, seq: Seq) -> Step {
        let conversation = match self.addressed(conversation).await {
            Ok(conversation) => conversation,
            Err(message) => return self.error(ErrorCode::UnknownConversation, message, None),
        };
        if let (Some(peer), Some(me)) = (conversation.peer(), self.user()) {
            let Some(members) = self.shared.store.members(peer) else { return Ok(()) };
            return match self.shared.store.mark_member_read(peer, me, seq).await {
                Ok(stored) if stored > seq => Ok(()),
                // Nothing read yet, nothing to tell.
                Ok(0) => Ok(()),
                Ok(seq) => {
                    // After a block nothing of the blocked reaches the blocker, nor the other
                    // way: the read is the reader's own business then (their other tabs).
                    let (a, b) = members;
                    let other = if a == me { b } else { a };
                    let told =
                        if self.shared.store.blocked_either_way(me, other) { (me, me) } else { members };
                    self.shared.member_read(peer, me, seq, told);
                    Ok(())
                }
                Err(err) => self.unavailable(err),
            };
        }
        match self.shared.store.mark_read(conversation, self.is_agent(), seq).await {
            // Already read further: nothing new to tell.
            Ok(stored) if stored > seq => Ok(()),
            Ok(seq) => {
                // Everyone on the conversation hears it, the reader's other tabs and the other
                // agents included: a message read by one agent is read for the team.
                let frame = ServerMessage::Read { conversation, agent: self.is_agent(), seq };
                self.shared.notify(conversation, &frame, None);
                Ok(())
            }
            Err(err) => self.unavailable(err),
        }
    }

    async fn typing(&mut self, conversation: Option<ConversationId>) -> Step {
        let conversation = match self.addressed(conversation).await {
            Ok(conversation) => conversation,
            Err(message) => return self.error(ErrorCode::UnknownConversation, message, None),
        };
        let members = match self.peer_writable(conversation) {
            Ok(members) => members,
            Err((code, message)) => return self.error(code, message, None),
        };
        if let Some(id) = self.joined {
            match (members, self.user()) {
                (Some((a, b)), Some(me)) => {
                    let frame = ServerMessage::MemberTyping { conversation, uid: me };
                    self.shared.tell(&[a, b], &frame, Some(id));
                }
                _ => {
                    let frame = ServerMessage::Typing { conversation, agent: self.is_agent() };
                    self.shared.notify(conversation, &frame, Some(id));
                }
            }
        }
        Ok(())
    }

    /// For a peer conversation (already known to be the user's): its members, if the other
    /// is still a friend, or the error to refuse writing with. `Ok(None)`: not a peer one.
    fn peer_writable(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<(UserId, UserId)>, (ErrorCode, String)> {
        let Some(peer) = conversation.peer() else { return Ok(None) };
        let (Some((a, b)), Some(me)) = (self.shared.store.members(peer), self.user()) else {
            return Err((ErrorCode::UnknownConversation, format!("no conversation {conversation} here")));
        };
        let other = if a == me { b } else { a };
        if self.shared.store.are_friends(me, other) {
            Ok(Some((a, b)))
        } else if self.shared.store.blocked_either_way(me, other) {
            Err((ErrorCode::Blocked, format!("you and user {other} cannot write to each other")))
        } else {
            Err((ErrorCode::NotFriends, format!("user {other} is not your friend")))
        }
    }

    pub(super) fn unavailable(&mut self, err: StoreError) -> Step {
        tracing::error!(%err, "storage error");
        self.error(ErrorCode::Unavailable, "storage is unavailable; retry", None)
    }
}
