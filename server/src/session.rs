//! One WebSocket connection, speaking v0 (the original protocol) or v1 (negotiated with the
//! `kefu.v1` subprotocol).
//!
//! Every chat message is stored before it is delivered or acknowledged. Bad input gets an
//! answer (a v1 error frame, a v0 plain-text notice) and the connection lives on; a frame far
//! over the limit closes with 1009, a client that stops reading with 1013, shutdown with 1001.
//! Everything this connection is told goes through its outbox, in order, so that a heartbeat
//! answer never overtakes the echo of a message sent before it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use kefu_protocol::v1::{
    self, ClientMessage, ConversationId, ErrorCode, Position, Seq, ServerMessage, DEFAULT_PAGE, MAX_PAGE,
};
use kefu_protocol::{
    validate_text, Role, ServerFrame, TextError, AGENT_NAME, AGENT_UID, CREATE_TIME_FORMAT, HEARTBEAT,
    HEARTBEAT_ACK,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::Identity;
use crate::hub::{ConnectionId, Hub, Outgoing, OUTBOX_CAPACITY};
use crate::store::{Appended, NewMessage, Store};

/// Close code sent to every client on graceful shutdown ("going away").
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a connection whose path does not name a valid user id.
pub const CLOSE_POLICY: u16 = 1008;
pub use kefu_protocol::CLOSE_UNAUTHORIZED;
/// Close code for a frame far over the text limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a frame that breaks the WebSocket protocol.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code when the server cannot serve a resume.
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// Close code for a client that does not read its frames fast enough.
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// Messages per conversation an agent gets on connecting for conversations it has not seen.
const AGENT_FIRST_PAGE: u32 = 20;

/// What a session needs from the server.
pub struct Shared {
    pub hub: Hub,
    pub store: Store,
    pub max_text_utf16: usize,
    /// Chat and control frames per second per connection (heartbeats are not counted).
    pub max_frames_per_second: u32,
    /// A connection that sends nothing (not even a heartbeat) for this long is closed, so a
    /// vanished client does not stay "online".
    pub idle_timeout: std::time::Duration,
    pub shutdown: CancellationToken,
}

/// Closes a connection that could not prove who it is, with a reason the client can show.
pub async fn refuse(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = socket.send(WsMessage::Close(Some(frame))).await;
}

type Close = (u16, &'static str);
const TOO_SLOW: Close = (CLOSE_TRY_AGAIN_LATER, "client too slow");

/// Token bucket: `rate` frames a second, bursts up to twice that.
struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        RateLimit { rate, tokens: rate * 2.0, last: Instant::now() }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate * 2.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Session {
    uid: i64,
    /// The user's proven display name, or the agent's account name.
    name: Option<String>,
    v1: bool,
    shared: Arc<Shared>,
    sink: SplitSink<WebSocket, WsMessage>,
    outbox: mpsc::Sender<Outgoing>,
    kick: CancellationToken,
    joined: Option<ConnectionId>,
    /// Per conversation, the last sequence number this client has been given (v1), so that a
    /// live message already sent in the replay is not sent twice.
    delivered: HashMap<ConversationId, Seq>,
    rate: RateLimit,
    /// Ids for v0 messages, which carry none of their own.
    v0_counter: u64,
    started: u128,
}

/// Runs one connection until either side closes it or the server stops.
pub async fn run(socket: WebSocket, identity: Identity, v1: bool, shared: Arc<Shared>) {
    let (uid, name) = match identity {
        Identity::Agent { name, .. } => (AGENT_UID, Some(name)),
        Identity::User { uid, name } => (uid, name),
    };
    let (sink, mut stream) = socket.split();
    let (outbox, mut queued) = mpsc::channel::<Outgoing>(OUTBOX_CAPACITY);
    let rate = RateLimit::new(shared.max_frames_per_second);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    let mut session = Session {
        uid,
        name,
        v1,
        shared: shared.clone(),
        sink,
        outbox,
        kick: CancellationToken::new(),
        joined: None,
        delivered: HashMap::new(),
        rate,
        v0_counter: 0,
        started,
    };
    // A v0 client has no resume step: it receives live traffic from the start.
    if !v1 {
        session.join().await;
    }
    tracing::info!(uid, v1, name = session.name.as_deref().unwrap_or(""), "connected");
    let kick = session.kick.clone();

    let mut idle_deadline = tokio::time::Instant::now() + shared.idle_timeout;
    let close: Option<Close> = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(idle_deadline) => break Some((CLOSE_GOING_AWAY, "idle")),
            _ = shared.shutdown.cancelled() => break Some((CLOSE_GOING_AWAY, "server shutting down")),
            _ = kick.cancelled() => break Some(TOO_SLOW),
            next = queued.recv() => {
                let Some(outgoing) = next else { break None };
                if session.write(outgoing).await.is_err() {
                    break None;
                }
            }
            incoming = stream.next() => {
                idle_deadline = tokio::time::Instant::now() + shared.idle_timeout;
                let result = match incoming {
                    Some(Ok(WsMessage::Text(text))) => session.on_text(text.as_str()).await,
                    Some(Ok(WsMessage::Binary(_))) => session.refuse_binary(),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => Ok(()),
                    Some(Ok(WsMessage::Close(_))) | None => break None,
                    Some(Err(err)) => {
                        tracing::info!(uid, %err, "connection error");
                        break close_for_error(err);
                    }
                };
                if let Err(close) = result {
                    break close;
                }
            }
        }
    };
    if let Some(id) = session.joined {
        shared.hub.leave(id);
    }
    if let Some((code, reason)) = close {
        let _ = session.sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
    tracing::info!(uid, "disconnected");
}

/// The close frame owed for a read error: 1009 for an oversize frame (as the original),
/// none when the connection is already gone.
fn close_for_error(err: axum::Error) -> Option<Close> {
    match err.into_inner().downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some((CLOSE_TOO_BIG, "message too big")),
        Some(tungstenite::Error::Protocol(_)) => Some((CLOSE_PROTOCOL, "protocol error")),
        _ => None,
    }
}

/// A replay that cannot be read would leave the client waiting for `ready`: close instead
/// (1011), so that it reconnects and resumes again.
fn resume_failed(err: crate::store::StoreError) -> Option<Close> {
    tracing::error!(%err, "storage error during resume");
    Some((CLOSE_INTERNAL_ERROR, "storage unavailable, reconnect"))
}

fn now_text() -> String {
    chrono::Local::now().format(CREATE_TIME_FORMAT).to_string()
}

impl Session {
    fn is_agent(&self) -> bool {
        self.uid == AGENT_UID
    }

    /// Registers with the hub while no message is being written, so that every message is
    /// either already in the store or delivered live.
    async fn join(&mut self) {
        if self.joined.is_some() {
            return;
        }
        let _writes = self.shared.store.hold_writes().await;
        let name = if self.is_agent() { None } else { self.name.clone() };
        self.joined =
            Some(self.shared.hub.join(self.uid, name, self.v1, self.outbox.clone(), self.kick.clone()));
    }

    /// Writes one queued item to the socket.
    async fn write(&mut self, outgoing: Outgoing) -> Result<(), axum::Error> {
        let text = match outgoing {
            Outgoing::Text(text) => text,
            Outgoing::Message(message) if self.v1 => {
                let seen = self.delivered.entry(message.conversation).or_insert(0);
                if message.seq <= *seen {
                    return Ok(());
                }
                *seen = message.seq;
                ServerMessage::Message((*message).clone()).encode().into()
            }
            Outgoing::Message(message) => ServerFrame::Chat(message.to_v0()).encode().into(),
        };
        self.sink.send(WsMessage::Text(text)).await
    }

    /// Queues a reply for this connection, after whatever is already queued for it.
    fn reply(&self, text: String) -> Result<(), Option<Close>> {
        self.outbox.try_send(Outgoing::Text(text.into())).map_err(|_| Some(TOO_SLOW))
    }

    fn error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        id: Option<String>,
    ) -> Result<(), Option<Close>> {
        self.reply(ServerMessage::error(code, message, id).encode())
    }

    fn refuse_binary(&self) -> Result<(), Option<Close>> {
        if self.v1 {
            self.error(ErrorCode::Binary, "binary frames are not part of the protocol", None)
        } else {
            self.reply(kefu_protocol::notice::binary_not_supported())
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Option<Close>> {
        if text == HEARTBEAT {
            return self.reply(HEARTBEAT_ACK.to_owned());
        }
        if self.v1 {
            self.on_v1(text).await
        } else {
            self.on_v0(text).await
        }
    }

    // ---- v0: the original protocol ----

    async fn on_v0(&mut self, text: &str) -> Result<(), Option<Close>> {
        match validate_text(text, self.shared.max_text_utf16) {
            Ok(()) | Err(TextError::Reserved) => {}
            Err(TextError::Empty) => return self.reply(kefu_protocol::notice::empty_text()),
            Err(TextError::TooLong(len)) => {
                return self.reply(kefu_protocol::notice::text_too_long(len, self.shared.max_text_utf16))
            }
        }
        if !self.rate.allow() {
            return self.reply(kefu_protocol::notice::rate_limited());
        }
        let conversations: Vec<ConversationId> = if self.is_agent() {
            self.shared.hub.online_users().into_iter().collect()
        } else {
            vec![self.uid]
        };
        if conversations.is_empty() {
            return self.reply(kefu_protocol::notice::nobody_online());
        }
        for (index, conversation) in conversations.into_iter().enumerate() {
            self.v0_counter += 1;
            let id = format!("v0-{}-{}-{}", self.uid.unsigned_abs(), self.started, self.v0_counter);
            let new = self.new_message(conversation, id, text);
            let hub = &self.shared.hub;
            let stored = self.shared.store.append(new, |message| {
                hub.deliver(&Arc::new(message.clone()), index == 0);
            });
            if let Err(err) = stored.await {
                tracing::error!(%err, "cannot store a message");
                return self.reply(kefu_protocol::notice::unavailable());
            }
        }
        Ok(())
    }

    fn new_message(&self, conversation: ConversationId, id: String, text: &str) -> NewMessage {
        let (role, username) = if self.is_agent() {
            (Role::Agent, AGENT_NAME.to_owned())
        } else {
            (Role::User, self.name.clone().unwrap_or_else(|| format!("user{}", self.uid)))
        };
        NewMessage {
            conversation,
            id,
            uid: self.uid,
            role,
            username,
            avatar: String::new(),
            create_time: now_text(),
            text: text.to_owned(),
        }
    }

    // ---- v1 ----

    async fn on_v1(&mut self, text: &str) -> Result<(), Option<Close>> {
        let message = match ClientMessage::decode(text) {
            Ok(message) => message,
            Err(err) => return self.error(err.code, err.message, None),
        };
        match message {
            ClientMessage::Resume { after } => {
                if !self.rate.allow() {
                    return self.error(ErrorCode::RateLimited, "too many frames; slow down", None);
                }
                self.resume(after).await
            }
            ClientMessage::Send { id, conversation, text } => self.send(id, conversation, text).await,
            ClientMessage::Read { conversation, seq } => {
                if !self.rate.allow() {
                    return self.error(ErrorCode::RateLimited, "too many frames; slow down", None);
                }
                self.read(conversation, seq).await
            }
            ClientMessage::Typing { conversation } => {
                if !self.rate.allow() {
                    return self.error(ErrorCode::RateLimited, "too many frames; slow down", None);
                }
                self.typing(conversation).await
            }
            ClientMessage::History { conversation, before, limit } => {
                if !self.rate.allow() {
                    return self.error(ErrorCode::RateLimited, "too many frames; slow down", None);
                }
                self.history(conversation, before, limit).await
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

    async fn resume(&mut self, after: Vec<Position>) -> Result<(), Option<Close>> {
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
            let messages = match self.shared.store.after(conversation, seq).await {
                Ok(messages) => messages,
                Err(err) => return Err(resume_failed(err)),
            };
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
            match self.shared.store.conversations().await {
                Ok(all) => all.into_iter().filter(|c| !resumed.contains(c)).collect(),
                Err(err) => return Err(resume_failed(err)),
            }
        } else if resumed.contains(&self.uid) {
            vec![]
        } else {
            vec![self.uid]
        };
        let page = if self.is_agent() { AGENT_FIRST_PAGE } else { DEFAULT_PAGE };
        let replayed: Vec<ConversationId> = resumed.iter().chain(&fresh).copied().collect();
        for conversation in fresh {
            let (messages, has_more) = match self.shared.store.page(conversation, 0, page).await {
                Ok(page) => page,
                Err(err) => return Err(resume_failed(err)),
            };
            let seen = self.delivered.entry(conversation).or_insert(0);
            *seen = (*seen).max(messages.last().map(|m| m.seq).unwrap_or(0));
            frames.push(ServerMessage::History { conversation, messages, has_more }.encode());
        }
        // How far each side has read the conversations replayed.
        for conversation in replayed {
            let (user, agents) = match self.shared.store.reads(conversation).await {
                Ok(reads) => reads,
                Err(err) => return Err(resume_failed(err)),
            };
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

    async fn send(
        &mut self,
        id: String,
        conversation: Option<ConversationId>,
        text: String,
    ) -> Result<(), Option<Close>> {
        if !v1::valid_id(&id) {
            return self.error(ErrorCode::BadId, "id must be 1-64 characters of A-Z a-z 0-9 - _", None);
        }
        match validate_text(&text, self.shared.max_text_utf16) {
            Ok(()) | Err(TextError::Reserved) => {}
            Err(TextError::Empty) => return self.error(ErrorCode::EmptyText, "message is empty", Some(id)),
            Err(TextError::TooLong(len)) => {
                let limit = self.shared.max_text_utf16;
                let message = format!("message too long: {len} UTF-16 units, the limit is {limit}");
                return self.error(ErrorCode::Oversize, message, Some(id));
            }
        }
        if !self.rate.allow() {
            return self.error(ErrorCode::RateLimited, "too many messages; slow down", Some(id));
        }
        let conversation = match (self.is_agent(), conversation) {
            (false, None) => self.uid,
            (_, Some(conversation)) if self.may_use(conversation).await => conversation,
            (true, None) => {
                return self.error(
                    ErrorCode::UnknownConversation,
                    "an agent's message needs a conversation",
                    Some(id),
                )
            }
            (_, Some(conversation)) => {
                return self.error(
                    ErrorCode::UnknownConversation,
                    format!("no conversation {conversation} here"),
                    Some(id),
                )
            }
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

    async fn history(
        &mut self,
        conversation: ConversationId,
        before: Seq,
        limit: Option<u32>,
    ) -> Result<(), Option<Close>> {
        if !self.may_use(conversation).await {
            return self.error(
                ErrorCode::UnknownConversation,
                format!("no conversation {conversation} here"),
                None,
            );
        }
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        match self.shared.store.page(conversation, before, limit).await {
            Ok((messages, has_more)) => {
                self.reply(ServerMessage::History { conversation, messages, has_more }.encode())
            }
            Err(err) => self.unavailable(err),
        }
    }

    async fn read(&mut self, conversation: Option<ConversationId>, seq: Seq) -> Result<(), Option<Close>> {
        let conversation = match (self.is_agent(), conversation) {
            (false, None) => self.uid,
            (_, Some(conversation)) if self.may_use(conversation).await => conversation,
            _ => return self.error(ErrorCode::UnknownConversation, "reading no conversation of yours", None),
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

    async fn typing(&mut self, conversation: Option<ConversationId>) -> Result<(), Option<Close>> {
        let conversation = match (self.is_agent(), conversation) {
            (false, None) => self.uid,
            (_, Some(conversation)) if self.may_use(conversation).await => conversation,
            _ => {
                return self.error(
                    ErrorCode::UnknownConversation,
                    "typing into no conversation of yours",
                    None,
                )
            }
        };
        if let Some(id) = self.joined {
            let frame = ServerMessage::Typing { conversation, agent: self.is_agent() };
            self.shared.hub.notify(conversation, &frame, Some(id));
        }
        Ok(())
    }

    fn unavailable(&self, err: crate::store::StoreError) -> Result<(), Option<Close>> {
        tracing::error!(%err, "storage error");
        self.error(ErrorCode::Unavailable, "storage is unavailable; retry", None)
    }
}
