//! One WebSocket connection, speaking v0 (the original protocol, [`v0`]) or v1 (negotiated
//! with the `kefu.v1` subprotocol, [`v1`]).
//!
//! Every chat message is stored before it is delivered or acknowledged. Bad input gets an
//! answer (a v1 error frame, a v0 plain-text notice) and the connection lives on; a frame far
//! over the limit closes with 1009, a client that stops reading with 1013, shutdown with 1001
//! ([`Close`]). Everything this connection is told goes through its outbox, in order, so that
//! a heartbeat answer never overtakes the echo of a message sent before it.
//!
//! The session runs over any `Sink`/`Stream` of WebSocket messages, so its rules are tested
//! in process with channels (see the tests below) as well as over real sockets.

mod close;
mod gate;
mod v0;
mod v1;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::Message as WsMessage;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use kefu_protocol::v1::{ConversationId, Seq, ServerMessage};
use kefu_protocol::{Role, ServerFrame, AGENT_NAME, AGENT_UID, HEARTBEAT, HEARTBEAT_ACK};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use close::Close;

use crate::auth::Identity;
use crate::hub::{ConnectionId, Hub, Outgoing, OUTBOX_CAPACITY};
use crate::store::{NewMessage, Store};
use gate::RateLimit;

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
pub async fn refuse<S>(mut sink: S, close: Close)
where
    S: Sink<WsMessage> + Unpin,
{
    let _ = sink.send(close.message()).await;
}

/// How a frame handler ends: `Err(Some(close))` closes with that frame, `Err(None)` ends
/// without one (the connection is gone).
type Step = Result<(), Option<Close>>;

struct Session<S> {
    uid: i64,
    /// The user's proven display name, or the agent's account name.
    name: Option<String>,
    v1: bool,
    shared: Arc<Shared>,
    sink: S,
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
pub async fn run<S, R>(sink: S, mut stream: R, identity: Identity, v1: bool, shared: Arc<Shared>)
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let (uid, name) = match identity {
        Identity::Agent { name, .. } => (AGENT_UID, Some(name)),
        Identity::User { uid, name } => (uid, name),
    };
    let (outbox, mut queued) = mpsc::channel::<Outgoing>(OUTBOX_CAPACITY);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    let mut session = Session {
        uid,
        name,
        v1,
        rate: RateLimit::new(shared.max_frames_per_second),
        shared: shared.clone(),
        sink,
        outbox,
        kick: CancellationToken::new(),
        joined: None,
        delivered: HashMap::new(),
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
            _ = tokio::time::sleep_until(idle_deadline) => break Some(Close::Idle),
            _ = shared.shutdown.cancelled() => break Some(Close::ShuttingDown),
            _ = kick.cancelled() => break Some(Close::TooSlow),
            next = queued.recv() => {
                let Some(outgoing) = next else { break None };
                if session.write(outgoing).await.is_err() {
                    break None;
                }
            }
            incoming = stream.next() => {
                idle_deadline = tokio::time::Instant::now() + shared.idle_timeout;
                let step = match incoming {
                    Some(Ok(WsMessage::Text(text))) => session.on_text(text.as_str()).await,
                    Some(Ok(WsMessage::Binary(_))) => session.refuse_binary(),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => Ok(()),
                    Some(Ok(WsMessage::Close(_))) | None => break None,
                    Some(Err(err)) => {
                        tracing::info!(uid, %err, "connection error");
                        break close_for_error(err);
                    }
                };
                if let Err(close) = step {
                    break close;
                }
            }
        }
    };
    if let Some(id) = session.joined {
        shared.hub.leave(id);
    }
    if let Some(close) = close {
        let _ = session.sink.send(close.message()).await;
    }
    tracing::info!(uid, "disconnected");
}

/// The close frame owed for a read error: 1009 for an oversize frame (as the original),
/// none when the connection is already gone.
fn close_for_error(err: axum::Error) -> Option<Close> {
    match err.into_inner().downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some(Close::TooBig),
        Some(tungstenite::Error::Protocol(_)) => Some(Close::ProtocolError),
        _ => None,
    }
}

fn now_text() -> String {
    chrono::Local::now().format(kefu_protocol::CREATE_TIME_FORMAT).to_string()
}

impl<S> Session<S>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin,
{
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
    fn reply(&self, text: String) -> Step {
        self.outbox.try_send(Outgoing::Text(text.into())).map_err(|_| Some(Close::TooSlow))
    }

    fn refuse_binary(&self) -> Step {
        if self.v1 {
            self.error(
                kefu_protocol::v1::ErrorCode::Binary,
                "binary frames are not part of the protocol",
                None,
            )
        } else {
            self.reply(kefu_protocol::notice::binary_not_supported())
        }
    }

    async fn on_text(&mut self, text: &str) -> Step {
        if text == HEARTBEAT {
            return self.reply(HEARTBEAT_ACK.to_owned());
        }
        if self.v1 {
            self.on_v1(text).await
        } else {
            self.on_v0(text).await
        }
    }
}

impl<S> Session<S> {
    /// A message from this connection's person into `conversation`, for the store.
    fn new_message(&self, conversation: ConversationId, id: String, text: &str) -> NewMessage {
        let (role, username) = if self.uid == AGENT_UID {
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
}

/// The session's rules, driven over channels instead of a socket.
#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc as chan;
    use kefu_protocol::v1::{ClientMessage, ErrorCode};
    use std::time::Duration;

    type Incoming = chan::UnboundedSender<Result<WsMessage, axum::Error>>;

    /// One connection to a session: what the client sends, and what the session wrote.
    struct Client {
        to_session: Incoming,
        from_session: chan::UnboundedReceiver<WsMessage>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Client {
        fn connect(shared: &Arc<Shared>, identity: Identity, v1: bool) -> Client {
            let (written, from_session) = chan::unbounded::<WsMessage>();
            let (to_session, incoming) = chan::unbounded();
            let sink = written.sink_map_err(axum::Error::new);
            let task = tokio::spawn(run(sink, incoming, identity, v1, shared.clone()));
            Client { to_session, from_session, task }
        }

        fn send(&self, text: &str) {
            self.to_session.unbounded_send(Ok(WsMessage::Text(text.into()))).expect("session alive");
        }

        fn send_v1(&self, frame: ClientMessage) {
            self.send(&frame.encode());
        }

        /// The next frame the session wrote.
        async fn next(&mut self) -> WsMessage {
            tokio::time::timeout(Duration::from_secs(5), self.from_session.next())
                .await
                .expect("a frame within the deadline")
                .expect("the session still writes")
        }

        async fn next_text(&mut self) -> String {
            match self.next().await {
                WsMessage::Text(text) => text.as_str().to_owned(),
                other => panic!("expected text, got {other:?}"),
            }
        }

        async fn next_v1(&mut self) -> ServerMessage {
            let text = self.next_text().await;
            ServerMessage::decode(&text).unwrap_or_else(|err| panic!("{text}: {err}"))
        }

        /// Resumes and reads the replay up to `ready`.
        async fn resume(&mut self) {
            self.send_v1(ClientMessage::Resume { after: vec![] });
            while self.next_v1().await != ServerMessage::Ready {}
        }

        async fn next_error(&mut self) -> (ErrorCode, Option<String>) {
            match self.next_v1().await {
                ServerMessage::Error { code, id, .. } => (code, id),
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }

    async fn shared(name: &str, max_frames_per_second: u32) -> Arc<Shared> {
        let path = std::env::temp_dir().join(format!("kefu-session-{}-{name}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Arc::new(Shared {
            hub: Hub::default(),
            store: Store::open(&path).await.expect("store"),
            max_text_utf16: kefu_protocol::MAX_TEXT_UTF16,
            max_frames_per_second,
            idle_timeout: Duration::from_secs(30),
            shutdown: CancellationToken::new(),
        })
    }

    fn user(uid: i64) -> Identity {
        Identity::User { uid, name: None }
    }

    fn agent() -> Identity {
        Identity::Agent { name: "alice".into(), epoch: 0 }
    }

    #[tokio::test]
    async fn a_heartbeat_answer_never_overtakes_the_echo_of_the_message_before_it() {
        let shared = shared("order", 20).await;
        let mut client = Client::connect(&shared, user(5), false);
        client.send("hello");
        client.send(HEARTBEAT);
        match ServerFrame::decode(&client.next_text().await) {
            ServerFrame::Chat(message) => assert_eq!(message.text, "hello"),
            other => panic!("expected the echo first, got {other:?}"),
        }
        assert_eq!(client.next_text().await, HEARTBEAT_ACK);
    }

    #[tokio::test]
    async fn every_counted_frame_passes_one_rate_gate_and_heartbeats_do_not_count() {
        // One frame a second, bursts of two: a second of slack before a token comes back.
        let shared = shared("gate", 1).await;
        let mut client = Client::connect(&shared, user(5), true);
        // A burst of twice the rate passes: the resume and a typing notice (which is not
        // echoed to the typist)...
        client.resume().await;
        client.send_v1(ClientMessage::Typing { conversation: None });
        // ...the next frame of any kind does not, and a refused send is named.
        client.send_v1(ClientMessage::Read { conversation: None, seq: 0 });
        assert_eq!(client.next_error().await, (ErrorCode::RateLimited, None));
        client.send_v1(ClientMessage::Send { id: "m1".into(), conversation: None, text: "hi".into() });
        assert_eq!(client.next_error().await, (ErrorCode::RateLimited, Some("m1".into())));
        // A send that could never be stored is refused for what it is, before it counts.
        client.send_v1(ClientMessage::Send { id: "bad id".into(), conversation: None, text: "hi".into() });
        assert_eq!(client.next_error().await, (ErrorCode::BadId, None));
        for _ in 0..30 {
            client.send(HEARTBEAT);
            assert_eq!(client.next_text().await, HEARTBEAT_ACK);
        }
    }

    #[tokio::test]
    async fn frames_naming_a_conversation_follow_one_rule() {
        let shared = shared("addressing", 100).await;
        let mut five = Client::connect(&shared, user(5), true);
        five.resume().await;
        let frames = [
            ClientMessage::Send { id: "s".into(), conversation: Some(6), text: "psst".into() },
            ClientMessage::Typing { conversation: Some(6) },
            ClientMessage::Read { conversation: Some(6), seq: 1 },
            ClientMessage::History { conversation: 6, before: 0, limit: None },
        ];
        for frame in frames {
            let id = matches!(frame, ClientMessage::Send { .. }).then(|| "s".to_owned());
            five.send_v1(frame);
            assert_eq!(five.next_error().await, (ErrorCode::UnknownConversation, id));
        }
        // An agent must name a conversation, and one that exists.
        let mut agent = Client::connect(&shared, agent(), true);
        agent.resume().await;
        agent.send_v1(ClientMessage::Send { id: "a".into(), conversation: None, text: "hi".into() });
        assert_eq!(agent.next_error().await, (ErrorCode::UnknownConversation, Some("a".into())));
        agent.send_v1(ClientMessage::Typing { conversation: Some(AGENT_UID) });
        assert_eq!(agent.next_error().await, (ErrorCode::UnknownConversation, None));
        // User 5 is online, so its conversation exists for the agent.
        agent.send_v1(ClientMessage::Typing { conversation: Some(5) });
        assert_eq!(five.next_v1().await, ServerMessage::Agents { online: true }, "the agent came");
        assert_eq!(five.next_v1().await, ServerMessage::Typing { conversation: 5, agent: true });
    }

    #[tokio::test]
    async fn shutdown_closes_with_1001_and_the_user_leaves_the_hub() {
        let shared = shared("shutdown", 20).await;
        let mut client = Client::connect(&shared, user(7), false);
        client.send(HEARTBEAT);
        assert_eq!(client.next_text().await, HEARTBEAT_ACK);
        assert!(shared.hub.is_online(7));
        shared.shutdown.cancel();
        match client.next().await {
            WsMessage::Close(Some(frame)) => {
                assert_eq!((frame.code, frame.reason.as_str()), (1001, "server shutting down"))
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        client.task.await.expect("the session ends");
        assert!(!shared.hub.is_online(7));
    }

    #[tokio::test]
    async fn a_client_that_goes_away_leaves_the_hub_without_a_close_frame() {
        let shared = shared("gone", 20).await;
        let mut client = Client::connect(&shared, user(8), false);
        client.send(HEARTBEAT);
        assert_eq!(client.next_text().await, HEARTBEAT_ACK);
        drop(client.to_session);
        client.task.await.expect("the session ends");
        assert!(!shared.hub.is_online(8));
        assert!(client.from_session.next().await.is_none(), "nothing more written");
    }
}
