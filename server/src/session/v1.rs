//! Protocol v1: resume and replay, sends with ids and acks, history pages, typing and read
//! positions, error frames. Every frame but the heartbeat passes one rate gate; every frame
//! that names a conversation is checked by one rule ([`Session::addressed`]).

use std::sync::Arc;

use axum::extract::ws::Message as WsMessage;
use futures_util::{Sink, SinkExt};
use kefu_protocol::v1::{
    self, ClientMessage, ConversationId, ErrorCode, Position, Seq, ServerMessage, DEFAULT_PAGE, MAX_PAGE,
};
use kefu_protocol::{validate_text, TextError, AGENT_UID};

use super::{Close, Session, Step};
use crate::store::{Appended, StoreError};

/// Messages per conversation an agent gets on connecting for conversations it has not seen.
const AGENT_FIRST_PAGE: u32 = 20;

impl<S> Session<S>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin,
{
    pub(super) async fn on_v1(&mut self, text: &str) -> Step {
        let message = match ClientMessage::decode(text) {
            Ok(message) => message,
            Err(err) => return self.error(err.code, err.message, None),
        };
        // A message that could never be stored is refused before it counts.
        let sending = match &message {
            ClientMessage::Send { id, text, .. } => match self.check_send(id, text) {
                Ok(()) => Some(id.clone()),
                Err((code, refusal, id)) => return self.error(code, refusal, id),
            },
            _ => None,
        };
        if !self.rate.allow() {
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
        }
    }

    pub(super) fn error(&self, code: ErrorCode, message: impl Into<String>, id: Option<String>) -> Step {
        self.reply(ServerMessage::error(code, message, id).encode())
    }

    /// The error to refuse a `send` with, if its id or text breaks the rules.
    fn check_send(&self, id: &str, text: &str) -> Result<(), (ErrorCode, String, Option<String>)> {
        if !v1::valid_id(id) {
            return Err((ErrorCode::BadId, "id must be 1-64 characters of A-Z a-z 0-9 - _".into(), None));
        }
        match validate_text(text, self.shared.max_text_utf16) {
            Ok(()) | Err(TextError::Reserved) => Ok(()),
            Err(TextError::Empty) => Err((ErrorCode::EmptyText, "message is empty".into(), Some(id.into()))),
            Err(TextError::TooLong(len)) => {
                let limit = self.shared.max_text_utf16;
                let message = format!("message too long: {len} UTF-16 units, the limit is {limit}");
                Err((ErrorCode::Oversize, message, Some(id.into())))
            }
        }
    }

    /// Whether this connection may read and write `conversation`.
    async fn may_use(&self, conversation: ConversationId) -> bool {
        if !self.is_agent() {
            return conversation == self.uid;
        }
        if conversation == AGENT_UID {
            return false;
        }
        self.shared.hub.is_online(conversation)
            || self.shared.store.has_conversation(conversation).await.unwrap_or(false)
    }

    /// The conversation a frame addresses: a user's own when it names none; an agent must name
    /// one that exists. `Err`: the message of the `unknown_conversation` error to answer with.
    async fn addressed(&self, conversation: Option<ConversationId>) -> Result<ConversationId, String> {
        match conversation {
            None if !self.is_agent() => Ok(self.uid),
            None => Err("an agent's frame must name its conversation".into()),
            Some(conversation) if self.may_use(conversation).await => Ok(conversation),
            Some(conversation) => Err(format!("no conversation {conversation} here")),
        }
    }

    async fn resume(&mut self, after: Vec<Position>) -> Step {
        self.join().await;
        let mut frames: Vec<String> = vec![];
        let mut resumed: Vec<ConversationId> = vec![];
        for Position { conversation, seq } in after {
            if !self.may_use(conversation).await {
                self.error(
                    ErrorCode::UnknownConversation,
                    format!("no conversation {conversation} here"),
                    None,
                )?;
                continue;
            }
            resumed.push(conversation);
            let messages = self.shared.store.after(conversation, seq).await.map_err(resume_failed)?;
            let seen = self.delivered.entry(conversation).or_insert(0);
            *seen = (*seen).max(seq);
            for message in messages {
                if message.seq > *seen {
                    *seen = message.seq;
                    frames.push(ServerMessage::Message(message).encode());
                }
            }
        }
        // Conversations the client has not seen yet start with their latest page.
        let fresh: Vec<ConversationId> = if self.is_agent() {
            let all = self.shared.store.conversations().await.map_err(resume_failed)?;
            all.into_iter().filter(|c| !resumed.contains(c)).collect()
        } else if resumed.contains(&self.uid) {
            vec![]
        } else {
            vec![self.uid]
        };
        let page = if self.is_agent() { AGENT_FIRST_PAGE } else { DEFAULT_PAGE };
        let replayed: Vec<ConversationId> = resumed.iter().chain(&fresh).copied().collect();
        for conversation in fresh {
            let (messages, has_more) =
                self.shared.store.page(conversation, 0, page).await.map_err(resume_failed)?;
            let seen = self.delivered.entry(conversation).or_insert(0);
            *seen = (*seen).max(messages.last().map(|m| m.seq).unwrap_or(0));
            frames.push(ServerMessage::History { conversation, messages, has_more }.encode());
        }
        // How far each side has read the conversations replayed.
        for conversation in replayed {
            let (user, agents) = self.shared.store.reads(conversation).await.map_err(resume_failed)?;
            for (agent, seq) in [(false, user), (true, agents)] {
                if seq > 0 {
                    frames.push(ServerMessage::Read { conversation, agent, seq }.encode());
                }
            }
        }
        // Who is there, as of now; changes follow live.
        if self.is_agent() {
            for (uid, name) in self.shared.hub.online_users_named() {
                frames.push(ServerMessage::Presence { conversation: uid, online: true, name }.encode());
            }
        } else {
            frames.push(ServerMessage::Agents { online: self.shared.hub.agents_online() }.encode());
        }
        frames.push(ServerMessage::Ready.encode());
        // The replay can be longer than the outbox: write it straight to the socket. Live
        // messages queued meanwhile follow it, minus those the replay already carried.
        for frame in frames {
            self.sink.send(WsMessage::Text(frame.into())).await.map_err(|_| None)?;
        }
        Ok(())
    }

    async fn send(&mut self, id: String, conversation: Option<ConversationId>, text: String) -> Step {
        let conversation = match self.addressed(conversation).await {
            Ok(conversation) => conversation,
            Err(message) => return self.error(ErrorCode::UnknownConversation, message, Some(id)),
        };
        let new = self.new_message(conversation, id.clone(), &text);
        let hub = &self.shared.hub;
        let stored = self.shared.store.append(new, |message| {
            hub.deliver(&Arc::new(message.clone()), true);
        });
        match stored.await {
            Ok(Appended::New(message) | Appended::Repeat(message)) => {
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
        match self.shared.store.page(conversation, before, limit).await {
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
        match self.shared.store.mark_read(conversation, self.is_agent(), seq).await {
            // Already read further: nothing new to tell.
            Ok(stored) if stored > seq => Ok(()),
            Ok(seq) => {
                // Everyone on the conversation hears it, the reader's other tabs and the other
                // agents included: a message read by one agent is read for the team.
                let frame = ServerMessage::Read { conversation, agent: self.is_agent(), seq };
                self.shared.hub.notify(conversation, &frame, None);
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
        if let Some(id) = self.joined {
            let frame = ServerMessage::Typing { conversation, agent: self.is_agent() };
            self.shared.hub.notify(conversation, &frame, Some(id));
        }
        Ok(())
    }

    fn unavailable(&self, err: StoreError) -> Step {
        tracing::error!(%err, "storage error");
        self.error(ErrorCode::Unavailable, "storage is unavailable; retry", None)
    }
}

/// A replay that cannot be read would leave the client waiting for `ready`: close instead,
/// so that it reconnects and resumes again.
fn resume_failed(err: StoreError) -> Option<Close> {
    tracing::error!(%err, "storage error during resume");
    Some(Close::StorageUnavailable)
}
