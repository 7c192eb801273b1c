//! One WebSocket connection speaking the original wire protocol.
//!
//! Reads plain-text frames (`heartbeat` or a chat text), answers heartbeats to this
//! connection only, turns chat texts into chat JSON for the [`Hub`] to route, and writes
//! whatever the hub queues for it. Bad input gets a plain-text notice and the connection
//! lives on; shutdown sends close 1001.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use kefu_protocol::{
    validate_text, ChatMessage, Role, ServerFrame, TextError, AGENT_NAME, AGENT_UID, CREATE_TIME_FORMAT,
    HEARTBEAT, HEARTBEAT_ACK,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::{Hub, OUTBOX_CAPACITY};

/// Close code sent to every client on graceful shutdown ("going away").
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a connection whose path does not name a valid user id.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a frame far over the text limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a frame that breaks the WebSocket protocol.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code for a client that does not read its frames fast enough.
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// What a session needs from the server.
pub struct Shared {
    pub hub: Hub,
    pub max_text_utf16: usize,
    pub shutdown: CancellationToken,
}

/// Closes a connection that could not name a user, with a reason the client can show.
pub async fn refuse(mut socket: WebSocket, reason: &'static str) {
    let frame = CloseFrame { code: CLOSE_POLICY, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Runs one connection of user `uid` until either side closes it or the server stops.
pub async fn run(socket: WebSocket, uid: i64, shared: Arc<Shared>) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut queued) = mpsc::channel::<Utf8Bytes>(OUTBOX_CAPACITY);
    let kick = CancellationToken::new();
    let id = shared.hub.join(uid, outbox.clone(), kick.clone());
    tracing::info!(connection = id, uid, "connected");

    let close = loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break Some((CLOSE_GOING_AWAY, "server shutting down")),
            _ = kick.cancelled() => break Some((CLOSE_TRY_AGAIN_LATER, "client too slow")),
            next = queued.recv() => {
                let Some(text) = next else { break None };
                if sink.send(Message::Text(text)).await.is_err() {
                    break None;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let reply = on_text(uid, text.as_str(), &shared);
                    if let Some(reply) = reply {
                        if outbox.try_send(reply.into()).is_err() {
                            break Some((CLOSE_TRY_AGAIN_LATER, "client too slow"));
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let notice = kefu_protocol::notice::binary_not_supported();
                    if outbox.try_send(notice.into()).is_err() {
                        break Some((CLOSE_TRY_AGAIN_LATER, "client too slow"));
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(err)) => {
                    tracing::info!(connection = id, uid, %err, "connection error");
                    break close_for_error(err);
                }
            },
        }
    };
    shared.hub.leave(id);
    if let Some((code, reason)) = close {
        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
    tracing::info!(connection = id, uid, "disconnected");
}

/// The close frame owed for a read error: 1009 for an oversize frame (as the original),
/// none when the connection is already gone.
fn close_for_error(err: axum::Error) -> Option<(u16, &'static str)> {
    match err.into_inner().downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some((CLOSE_TOO_BIG, "message too big")),
        Some(tungstenite::Error::Protocol(_)) => Some((CLOSE_PROTOCOL, "protocol error")),
        _ => None,
    }
}

/// Handles one text frame; returns the reply for this connection only, if any.
fn on_text(uid: i64, text: &str, shared: &Shared) -> Option<String> {
    if text == HEARTBEAT {
        return Some(HEARTBEAT_ACK.to_owned());
    }
    match validate_text(text, shared.max_text_utf16) {
        Ok(()) => {}
        Err(TextError::Empty) => return Some(kefu_protocol::notice::empty_text()),
        Err(TextError::TooLong(len)) => {
            return Some(kefu_protocol::notice::text_too_long(len, shared.max_text_utf16))
        }
        // `heartbeat` was answered above.
        Err(TextError::Reserved) => return None,
    }
    let message = chat_message(uid, text);
    let frame = ServerFrame::Chat(message).encode();
    let delivered = shared.hub.deliver(uid, frame.into());
    tracing::debug!(uid, delivered, "chat message");
    None
}

fn chat_message(uid: i64, text: &str) -> ChatMessage {
    let (role, username) = if uid == AGENT_UID {
        (Role::Agent, AGENT_NAME.to_owned())
    } else {
        (Role::User, format!("user{uid}"))
    };
    ChatMessage {
        uid,
        role,
        username,
        avatar: String::new(),
        create_time: chrono::Local::now().format(CREATE_TIME_FORMAT).to_string(),
        text: text.to_owned(),
    }
}
