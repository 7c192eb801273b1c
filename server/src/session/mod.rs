//! One WebSocket connection, speaking v0 (the original protocol, [`v0`]) or v1 (negotiated
//! with the `kefu.v1` subprotocol, [`v1`]).
//!
//! Every chat message is stored before it is delivered or acknowledged. Bad input gets an
//! answer (a v1 error frame, a v0 plain-text notice) and the connection lives on; a frame far
//! over the limit closes with 1009, invalid UTF-8 with 1007, a client that stops reading with
//! 1013, shutdown with 1001 ([`Close`]). Everything this connection is told goes through one
//! queue in order ([`writer`]), so that a heartbeat answer never overtakes the echo of a
//! message sent before it, and the loop below never waits for the client to read.
//!
//! The session runs over any `Sink`/`Stream` of WebSocket messages, so its rules are tested
//! in process with channels (see the tests below) as well as over real sockets.

mod close;
mod friends;
mod gate;
mod replay;
mod team;
mod v0;
mod v1;
pub mod writer;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use kefu_protocol::ids::{Caller, PeerConversationId, UserId};
use kefu_protocol::v1::{ConversationId, Message, Seq, ServerMessage};
use kefu_protocol::{Role, ServerFrame, AGENT_NAME, HEARTBEAT, HEARTBEAT_ACK};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use close::Close;

use crate::auth::{Identity, Invites};
use crate::cluster::limits::Limit;
use crate::cluster::{Cluster, Event};
use crate::hub::{ConnectionId, Hub, Joining, Outgoing, AGENT_OUTBOX_CAPACITY, OUTBOX_CAPACITY};
use crate::limits::Buckets;
use crate::store::{NewMessage, Store};
use gate::RateLimit;
use replay::Replay;
use writer::{QueuedBytes, Writer};

/// What a connection speaks, as negotiated by subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The original's (no subprotocol).
    V0,
    /// `kefu.v1`.
    V1,
    /// `kefu.v2`: v1 with friends and peer conversations.
    V2,
}

/// Bounds of one connection (see the limits table in docs/protocol.md).
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Longest chat text accepted, in UTF-16 units.
    pub max_text_utf16: usize,
    /// Chat and control frames per second per connection (heartbeats are not counted).
    pub max_frames_per_second: u32,
    /// A connection that sends nothing (not even a heartbeat) for this long is closed, so a
    /// vanished client does not stay "online".
    pub idle_timeout: Duration,
    /// A new connection must send its first frame within this.
    pub first_frame_timeout: Duration,
    /// Bytes queued for one connection at most; past it the client is too slow (1013).
    pub max_queued_bytes: usize,
    /// Bytes queued for all connections together at most.
    pub global_max_queued_bytes: usize,
    /// A write the client does not take within this means it stopped reading: dropped.
    pub write_timeout: Duration,
}

impl SessionLimits {
    /// Past this many queued bytes the session stops reading and producing until the client
    /// has taken some: a fast client never meets the hard bound.
    fn high_water(&self) -> usize {
        self.max_queued_bytes / 4
    }
}

/// What a session needs from the server.
pub struct Shared {
    pub hub: Hub,
    pub store: Store,
    pub limits: SessionLimits,
    /// Bytes queued across every connection.
    pub queued_bytes: Arc<QueuedBytes>,
    /// Counted frames per user (all its connections, at every instance) and per client
    /// address, and chat text stored per client address: limits that opening more
    /// connections does not escape.
    pub frames_per_user: Limit<i64>,
    /// The same per agent account: agents share one endpoint number, not one budget.
    pub frames_per_agent: Limit<String>,
    pub frames_per_address: Buckets<IpAddr>,
    pub text_per_address: Buckets<IpAddr>,
    /// Friend requests per user ([`kefu_protocol::friends::MAX_REQUESTS_PER_WINDOW`]).
    pub friend_requests: Limit<i64>,
    pub invites: Invites,
    pub shutdown: CancellationToken,
    /// The other instances, if there are any (`--redis`).
    pub cluster: Option<Arc<Cluster>>,
    /// Agent accounts whose sessions ended (signed out): (name, the epoch now). Live agent
    /// connections of an older epoch close on it.
    pub agent_sessions_ended: tokio::sync::broadcast::Sender<(String, u64)>,
    /// Which agents have a console connected here (for auto-assignment everywhere).
    pub seats: crate::team::Seats,
}

/// Users (or addresses) whose frame limits are remembered at most.
const REMEMBERED: usize = 100_000;

impl Shared {
    pub fn new(
        store: Store,
        config: &crate::Config,
        shutdown: CancellationToken,
        invites: Invites,
        cluster: Option<Arc<Cluster>>,
    ) -> Shared {
        use kefu_protocol::friends::{MAX_REQUESTS_PER_WINDOW, REQUEST_WINDOW_SECS};
        let requests =
            crate::limits::Rate::per(MAX_REQUESTS_PER_WINDOW, Duration::from_secs(REQUEST_WINDOW_SECS));
        let node = cluster.as_ref().map(|c| c.node().to_owned()).unwrap_or_else(crate::team::node_id);
        Shared {
            hub: Hub::default(),
            store,
            limits: config.session.clone(),
            queued_bytes: Arc::new(QueuedBytes::default()),
            frames_per_user: Limit::new("frames", config.per_user_frames, REMEMBERED, cluster.clone()),
            frames_per_agent: Limit::new("agent-frames", config.per_user_frames, REMEMBERED, cluster.clone()),
            frames_per_address: Buckets::new(config.per_address_frames, REMEMBERED),
            text_per_address: Buckets::new(config.per_address_bytes, REMEMBERED),
            friend_requests: Limit::new("friend-requests", requests, REMEMBERED, cluster.clone()),
            invites,
            shutdown,
            cluster,
            agent_sessions_ended: tokio::sync::broadcast::channel(16).0,
            seats: crate::team::Seats::new(node),
        }
    }

    /// Agent `name`'s sessions before `epoch` ended: their live connections close, here and
    /// at the other instances.
    pub fn end_agent_sessions(&self, name: &str, epoch: u64) {
        let _ = self.agent_sessions_ended.send((name.to_owned(), epoch));
        self.publish(|| Event::AgentSessionsEnded { name: name.to_owned(), epoch });
    }

    /// Hands a stored message to the connections that receive it, here and (published) at
    /// the other instances. `members`: a peer conversation's.
    pub fn deliver(&self, message: &Message, members: Option<(UserId, UserId)>, to_v0_agents: bool) {
        let shared = Arc::new(message.clone());
        match members {
            Some(members) => self.hub.deliver_peer(&shared, members),
            None => self.hub.deliver(&shared, to_v0_agents),
        };
        self.publish(|| Event::Message { message: message.clone(), members, to_v0_agents });
    }

    /// [`Hub::notify`], here and at the other instances.
    pub fn notify(&self, conversation: ConversationId, frame: &ServerMessage, except: Option<ConnectionId>) {
        let text = frame.encode();
        self.hub.notify_text(conversation, text.clone().into(), except);
        self.publish(|| Event::Notice { conversation, frame: text });
    }

    /// [`Hub::tell`], here and at the other instances.
    pub fn tell(&self, uids: &[UserId], frame: &ServerMessage, except: Option<ConnectionId>) {
        let text = frame.encode();
        self.hub.tell_text(uids, text.clone().into(), except);
        self.publish(|| Event::Tell { uids: uids.to_vec(), frame: text });
    }

    /// Tells a peer conversation's members that `uid` read it up to `seq`, everywhere.
    pub fn member_read(&self, peer: PeerConversationId, uid: UserId, seq: Seq, members: (UserId, UserId)) {
        let (a, b) = members;
        let conversation = ConversationId::from(peer);
        self.hub.tell(&[a, b], &ServerMessage::MemberRead { conversation, uid, seq }, None);
        self.publish(|| Event::MemberRead { conversation: peer, uid, seq, members });
    }

    /// The friend graph of `uids` changed: their open pages get their lists again, here and
    /// at the other instances (which first read the graph again).
    pub async fn friends_changed(&self, uids: &[UserId]) {
        self.publish(|| Event::FriendsChanged { uids: uids.to_vec() });
        self.tell_friends_lists(uids).await;
    }

    /// Tells every agent connection (v1), here and at the other instances: the team's frames,
    /// which no user connection ever receives.
    pub fn tell_agents(&self, frame: &ServerMessage) {
        self.tell_agents_except(frame, None);
    }

    /// [`Shared::tell_agents`] but for connection `except` here.
    pub fn tell_agents_except(&self, frame: &ServerMessage, except: Option<ConnectionId>) {
        let text = frame.encode();
        self.hub.tell_agents_text(text.clone().into(), except);
        self.publish(|| Event::Agents { frame: text });
    }

    fn publish(&self, event: impl FnOnce() -> Event) {
        if let Some(cluster) = &self.cluster {
            cluster.publish(event());
        }
    }
}

/// Waits for the next account whose sessions ended (never, for a user): whether it is this
/// agent's, from before its epoch moved on.
async fn ended_session(
    ended: &mut Option<tokio::sync::broadcast::Receiver<(String, u64)>>,
    account: Option<&(String, u64)>,
) -> bool {
    let (Some(ended), Some((name, epoch))) = (ended, account) else { return std::future::pending().await };
    match ended.recv().await {
        Ok((ended_name, now)) => ended_name == *name && *epoch < now,
        // Missed some (many sign-outs at once): a lost one only delays this connection's end
        // to its next reconnect, where the epoch is checked.
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => false,
        Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
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

/// How long a closing connection may take to write what is queued and its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

struct Session {
    /// Who is connected: the agents, or one user (never any other number).
    caller: Caller,
    /// Where the client connects from (behind a trusted proxy: the address it forwarded).
    client: IpAddr,
    /// The user's proven display name, or the agent's account name.
    name: Option<String>,
    /// The user's picture URL, from the app's token.
    avatar: Option<String>,
    v1: bool,
    /// v2: friends and peer conversations (users only).
    v2: bool,
    shared: Arc<Shared>,
    writer: Writer,
    outbox: mpsc::Sender<Outgoing>,
    /// What the hub queued for this connection (the other end of `outbox`).
    delivered_by_hub: mpsc::Receiver<Outgoing>,
    kick: CancellationToken,
    joined: Option<ConnectionId>,
    /// Per conversation, the last sequence number this client has been given (v1), so that a
    /// live message already sent in the replay is not sent twice.
    delivered: HashMap<ConversationId, Seq>,
    /// The replay under way after `resume`; live messages wait until it is done.
    replay: Option<Replay>,
    /// Whether this connection has resumed (a second `resume` is refused).
    resumed: bool,
    rate: RateLimit,
    /// Ids for v0 messages, which carry none of their own.
    v0_counter: u64,
    started: u128,
}

/// Runs one connection until either side closes it or the server stops.
pub async fn run<S, R>(
    sink: S,
    mut stream: R,
    identity: Identity,
    client: IpAddr,
    protocol: Protocol,
    shared: Arc<Shared>,
) where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send + 'static,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let (caller, name, avatar, account) = match identity {
        Identity::Agent { name, epoch } => (Caller::Agent, Some(name.clone()), None, Some((name, epoch))),
        Identity::User { uid, name, avatar } => (Caller::User(uid), name, avatar, None),
    };
    let uid = caller.raw();
    // An agent's connection closes when its account signs out (wherever that happens).
    let mut sessions_ended = account.as_ref().map(|_| shared.agent_sessions_ended.subscribe());
    let v1 = protocol != Protocol::V0;
    let limits = shared.limits.clone();
    let writer = Writer::spawn(
        sink,
        limits.max_queued_bytes,
        shared.queued_bytes.clone(),
        limits.global_max_queued_bytes,
        limits.write_timeout,
    );
    // Agents receive every conversation's traffic, and wait for their (larger) replay before
    // live frames flow: after a restart, thousands of users coming back (a presence frame
    // each) plus live messages must not fill an agent's queue and kick it, which would start
    // its replay over and over. Frames are shared (`Arc`), so a longer queue costs little;
    // the writer's byte bound still holds.
    let capacity = if caller == Caller::Agent { AGENT_OUTBOX_CAPACITY } else { OUTBOX_CAPACITY };
    let (outbox, delivered_by_hub) = mpsc::channel::<Outgoing>(capacity);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    let mut session = Session {
        caller,
        client,
        name,
        avatar,
        v1,
        v2: protocol == Protocol::V2 && caller != Caller::Agent,
        rate: RateLimit::new(limits.max_frames_per_second),
        shared: shared.clone(),
        writer,
        outbox,
        delivered_by_hub,
        kick: CancellationToken::new(),
        joined: None,
        delivered: HashMap::new(),
        replay: None,
        resumed: false,
        v0_counter: 0,
        started,
    };
    // A v0 client has no resume step: it receives live traffic from the start.
    if !v1 {
        session.join().await;
    }
    tracing::info!(uid, v1, name = session.name.as_deref().unwrap_or(""), "connected");
    let (kick, broken) = (session.kick.clone(), session.writer.broken.clone());

    let mut deadline = tokio::time::Instant::now() + limits.first_frame_timeout.min(limits.idle_timeout);
    let mut heard = false;
    let close: Option<Close> = loop {
        // Above the high-water mark, nothing new is taken on until the client has read some.
        let keeping_up = session.writer.queued() <= limits.high_water();
        let replaying = session.replay.is_some();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                break Some(if heard { Close::Idle } else { Close::Silent });
            }
            _ = shared.shutdown.cancelled() => break Some(Close::ShuttingDown),
            _ = kick.cancelled() => break Some(Close::TooSlow),
            ended = ended_session(&mut sessions_ended, account.as_ref()) => {
                if ended {
                    break Some(Close::Unauthorized(crate::app::SESSION_ENDED.into()));
                }
            }
            _ = broken.cancelled() => break None,
            _ = session.writer.room(limits.high_water()), if !keeping_up => {}
            _ = std::future::ready(()), if replaying && keeping_up => {
                if let Err(close) = session.replay_step().await {
                    break close;
                }
            }
            next = session.delivered_by_hub.recv(), if keeping_up && !replaying => {
                let Some(outgoing) = next else { break None };
                if let Err(close) = session.write(outgoing) {
                    break close;
                }
            }
            incoming = stream.next(), if keeping_up => {
                heard = true;
                deadline = tokio::time::Instant::now() + limits.idle_timeout;
                let step = match incoming {
                    Some(Ok(WsMessage::Text(text))) => session.on_text(text.as_str()).await,
                    Some(Ok(WsMessage::Binary(_))) => session.refuse_binary().await,
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => Ok(()),
                    // The client closes: its close frame is answered as the writer closes.
                    Some(Ok(WsMessage::Close(_))) => Err(None),
                    None => break None,
                    Some(Err(err)) => {
                        tracing::info!(uid, %err, "connection error");
                        Err(close_for_error(err))
                    }
                };
                if let Err(close) = step {
                    break close;
                }
            }
        }
    };
    if let Some(id) = session.joined {
        shared.hub.leave(session.caller, id, &session.friends());
        if let (true, true, Some(name)) = (session.is_agent(), v1, session.name.as_deref()) {
            match shared.seats.leave(&shared.store, name).await {
                Ok(true) => session.tell_loads(None).await,
                Ok(false) => {}
                Err(err) => tracing::error!(%err, "cannot note an agent's seat gone"),
            }
        }
    }
    session.writer.close(close.map(|close| close.message()), CLOSE_GRACE).await;
    tracing::info!(uid, "disconnected");
}

/// The close frame owed for a read error: 1009 for an oversize frame (as the original), 1007
/// for text that is not UTF-8, 1002 for a broken frame; none when the connection is gone.
fn close_for_error(err: axum::Error) -> Option<Close> {
    match err.into_inner().downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some(Close::TooBig),
        Some(tungstenite::Error::Utf8(_)) => Some(Close::InvalidUtf8),
        Some(tungstenite::Error::Protocol(_)) => Some(Close::ProtocolError),
        _ => None,
    }
}

fn now_text() -> String {
    chrono::Local::now().format(kefu_protocol::CREATE_TIME_FORMAT).to_string()
}

impl Session {
    fn is_agent(&self) -> bool {
        self.caller == Caller::Agent
    }

    /// The connected user (`None`: an agent).
    fn user(&self) -> Option<UserId> {
        self.caller.user()
    }

    /// The endpoint's number, for logs and per-user limits.
    fn uid(&self) -> i64 {
        self.caller.raw()
    }

    /// Registers with the hub while no message is being written, so that every message is
    /// either already in the store or delivered live.
    async fn join(&mut self) {
        if self.joined.is_some() {
            return;
        }
        if self.v2 {
            // Friend lists show the name a user last came with.
            let name = self.name.clone().unwrap_or_default();
            let avatar = self.avatar.clone().unwrap_or_default();
            if let Some(user) = self.user() {
                if let Err(err) = self.shared.store.remember_person(user, &name, &avatar).await {
                    tracing::error!(%err, "cannot note a user's name");
                }
            }
        }
        let _writes = self.shared.store.hold_writes().await;
        let name = if self.is_agent() { None } else { self.name.clone() };
        let joining =
            Joining { caller: self.caller, name, v1: self.v1, v2: self.v2, friends: self.friends() };
        self.joined = Some(self.shared.hub.join(joining, self.outbox.clone(), self.kick.clone()));
        drop(_writes);
        // An agent's console counts as signed in for auto-assignment (v0 consoles see no team).
        if let (true, true, Some(name)) = (self.is_agent(), self.v1, self.name.clone()) {
            match self.shared.seats.sit(&self.shared.store, &name).await {
                Ok(true) => self.hand_out_waiting(self.joined).await,
                Ok(false) => {}
                Err(err) => tracing::error!(%err, "cannot note an agent's seat"),
            }
        }
    }

    /// The user's friends (an agent has none).
    fn friends(&self) -> Vec<UserId> {
        self.user().map(|user| self.shared.store.friends_of(user)).unwrap_or_default()
    }

    /// Whether one more counted frame (carrying `text_bytes` of chat text) may pass: the
    /// connection's limit, its user's and its address's.
    async fn allow(&mut self, text_bytes: usize) -> bool {
        let now = Instant::now();
        self.rate.allow()
            && self.shared.frames_per_address.take(&self.client, now)
            && (text_bytes == 0 || self.shared.text_per_address.take_n(&self.client, text_bytes as f64, now))
            && match (self.is_agent(), &self.name) {
                (true, Some(name)) => self.shared.frames_per_agent.take(name).await,
                _ => self.shared.frames_per_user.take(&self.uid()).await,
            }
    }

    /// Queues one item from the hub for the client.
    fn write(&mut self, outgoing: Outgoing) -> Step {
        let text: Utf8Bytes = match outgoing {
            Outgoing::Text(text) => text,
            Outgoing::Message(message) if self.v1 => {
                let conversation = message.conversation;
                let seen = self.delivered.get(&conversation).copied();
                match seen {
                    Some(seen) if message.seq <= seen => return Ok(()),
                    // A message before this one never came (its publish by another instance was
                    // lost): the store has them all, since a message is published only once
                    // stored. The fill carries this one too.
                    Some(seen) if message.seq > seen + 1 => {
                        self.fill_gaps(vec![(conversation, seen)]);
                        return Ok(());
                    }
                    // A customer-service conversation new since the replay starts at 1.
                    None if message.seq > 1 && !conversation.is_peer() => {
                        self.fill_gaps(vec![(conversation, 0)]);
                        return Ok(());
                    }
                    _ => {}
                }
                self.delivered.insert(conversation, message.seq);
                ServerMessage::Message((*message).clone()).encode().into()
            }
            Outgoing::Message(message) => ServerFrame::Chat(message.to_v0()).encode().into(),
            Outgoing::Resync(last_seqs) => {
                self.catch_up(&last_seqs);
                return Ok(());
            }
        };
        self.queue(text)
    }

    /// Queues a frame for this connection, after whatever is already queued for it.
    fn queue(&self, text: Utf8Bytes) -> Step {
        self.writer.send(text).map_err(|full| {
            tracing::warn!(uid = self.uid(), ?full, "client too slow: closing");
            Some(Close::TooSlow)
        })
    }

    /// Queues a reply for this connection, after what the hub has queued for it: a reply
    /// never overtakes a message delivered before it (the echo of the client's own message
    /// before its ack, before the heartbeat answer sent after it). During a replay, live
    /// messages wait for the replay to end, and replies go ahead of them.
    fn reply(&mut self, text: String) -> Step {
        // A gap found on the way starts a fill: what follows waits for it.
        while self.replay.is_none() {
            let Ok(outgoing) = self.delivered_by_hub.try_recv() else { break };
            self.write(outgoing)?;
        }
        self.queue(text.into())
    }

    /// Fetches from the store what this connection lacks of each conversation after the
    /// given position (a quiet replay: no `ready` at its end); live messages wait for it.
    fn fill_gaps(&mut self, after: Vec<(ConversationId, Seq)>) {
        if after.is_empty() || !self.v1 {
            return;
        }
        tracing::info!(uid = self.uid(), conversations = after.len(), "filling a gap from the store");
        self.replay = Some(Replay { after: after.into(), quiet: true, ..Replay::default() });
    }

    /// Catches up with the store's last positions (after a resync): the conversations this
    /// connection is behind on, and for agents the customer-service conversations begun
    /// since their replay.
    fn catch_up(&mut self, last_seqs: &HashMap<ConversationId, Seq>) {
        let mut behind: Vec<(ConversationId, Seq)> = self
            .delivered
            .iter()
            .filter(|(conversation, seen)| last_seqs.get(conversation).is_some_and(|last| last > seen))
            .map(|(conversation, seen)| (*conversation, *seen))
            .collect();
        if self.is_agent() {
            let new = last_seqs.keys().filter(|c| !c.is_peer() && !self.delivered.contains_key(c));
            behind.extend(new.map(|conversation| (*conversation, 0)));
        }
        self.fill_gaps(behind);
    }

    async fn refuse_binary(&mut self) -> Step {
        if !self.allow(0).await {
            return if self.v1 {
                self.error(kefu_protocol::v1::ErrorCode::RateLimited, "too many frames; slow down", None)
            } else {
                self.reply(kefu_protocol::notice::rate_limited())
            };
        }
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

    /// A message from this connection's person into `conversation`, for the store.
    fn new_message(&self, conversation: ConversationId, id: String, text: &str) -> NewMessage {
        let (role, username) = if self.is_agent() {
            // The signed-in agent's account name: visitors see who answers them.
            (Role::Agent, self.name.clone().unwrap_or_else(|| AGENT_NAME.to_owned()))
        } else {
            (Role::User, self.name.clone().unwrap_or_else(|| format!("user{}", self.uid())))
        };
        NewMessage {
            conversation,
            id,
            uid: self.uid(),
            role,
            username,
            avatar: self.avatar.clone().unwrap_or_default(),
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
            let client = IpAddr::from([127, 0, 0, 1]);
            let protocol = if v1 { Protocol::V1 } else { Protocol::V0 };
            let task = tokio::spawn(run(sink, incoming, identity, client, protocol, shared.clone()));
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
            loop {
                match self.next_v1().await {
                    ServerMessage::Error { code, id, .. } => return (code, id),
                    // An agent's console coming is told to the agents (its own included).
                    ServerMessage::TeamAgents { .. } => {}
                    other => panic!("expected an error, got {other:?}"),
                }
            }
        }
    }

    /// What a server started with `args` gives its sessions, over a fresh database.
    async fn shared_with(name: &str, args: &[&str]) -> Arc<Shared> {
        let path = std::env::temp_dir().join(format!("kefu-session-{}-{name}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let config = crate::cli::parse(std::iter::once("kefu-server").chain(args.iter().copied()))
            .expect("arguments")
            .config();
        let store = Store::open(&path).await.expect("store");
        Arc::new(Shared::new(store, &config, CancellationToken::new(), Invites::new(b"test"), None))
    }

    async fn shared(name: &str, max_frames_per_second: u32) -> Arc<Shared> {
        shared_with(name, &["--max-frames-per-second", &max_frames_per_second.to_string()]).await
    }

    fn user(uid: i64) -> Identity {
        Identity::User { uid: UserId::lit(uid), name: None, avatar: None }
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
    async fn the_senders_own_message_comes_before_its_ack_every_time() {
        let shared = shared("echo-ack", 1000).await;
        let mut client = Client::connect(&shared, user(5), true);
        client.resume().await;
        for n in 0..50 {
            client.send_v1(ClientMessage::Send {
                id: format!("m{n}"),
                conversation: None,
                text: "hi".into(),
            });
            client.send(HEARTBEAT);
            assert!(matches!(client.next_v1().await, ServerMessage::Message(m) if m.id == format!("m{n}")));
            assert!(matches!(client.next_v1().await, ServerMessage::Ack { id, .. } if id == format!("m{n}")));
            assert_eq!(client.next_text().await, HEARTBEAT_ACK);
        }
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
        // ...the next frame of any kind does not (a broken one neither), and a refused send is named.
        client.send("{not json");
        assert_eq!(client.next_error().await, (ErrorCode::RateLimited, None));
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
            ClientMessage::Send {
                id: "s".into(),
                conversation: Some(kefu_protocol::v1::ConversationId::lit(6)),
                text: "psst".into(),
            },
            ClientMessage::Typing { conversation: Some(kefu_protocol::v1::ConversationId::lit(6)) },
            ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(6)), seq: 1 },
            ClientMessage::History {
                conversation: kefu_protocol::v1::ConversationId::lit(6),
                before: 0,
                limit: None,
            },
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
        // User 5 is online, so its conversation exists for the agent.
        agent
            .send_v1(ClientMessage::Typing { conversation: Some(kefu_protocol::v1::ConversationId::lit(5)) });
        assert_eq!(five.next_v1().await, ServerMessage::Agents { online: true }, "the agent came");
        assert_eq!(
            five.next_v1().await,
            ServerMessage::Typing { conversation: kefu_protocol::v1::ConversationId::lit(5), agent: true }
        );
    }

    /// Stores a message the way another instance would, without delivering it here.
    async fn stored_elsewhere(shared: &Shared, conversation: i64, id: &str) -> Arc<Message> {
        let new = NewMessage {
            conversation: ConversationId::lit(conversation),
            id: id.into(),
            uid: conversation,
            role: Role::User,
            username: "u".into(),
            avatar: String::new(),
            create_time: now_text(),
            text: id.into(),
        };
        match shared.store.append(new, |_| {}).await.expect("stored") {
            crate::store::Appended::New(message) => Arc::new(message),
            other => panic!("expected a new message, got {other:?}"),
        }
    }

    async fn next_message(client: &mut Client) -> Message {
        loop {
            if let ServerMessage::Message(message) = client.next_v1().await {
                return message;
            }
        }
    }

    #[tokio::test]
    async fn a_gap_in_what_arrives_is_filled_from_the_store_in_order() {
        let shared = shared("gap", 100).await;
        let mut client = Client::connect(&shared, user(5), true);
        client.resume().await;
        // Messages 1 and 2 were published by another instance and lost; 3 arrives.
        stored_elsewhere(&shared, 5, "one").await;
        stored_elsewhere(&shared, 5, "two").await;
        let three = stored_elsewhere(&shared, 5, "three").await;
        shared.hub.deliver(&three, true);
        for (seq, text) in [(1, "one"), (2, "two"), (3, "three")] {
            let message = next_message(&mut client).await;
            assert_eq!((message.seq, message.text.as_str()), (seq, text));
        }
        // 4 is lost with nothing after it: the resync brings it; a repeat of 3 is not sent again.
        stored_elsewhere(&shared, 5, "four").await;
        shared.hub.deliver(&three, true);
        shared.hub.resync(&Arc::new(shared.store.last_seqs().await.expect("counters")));
        let message = next_message(&mut client).await;
        assert_eq!((message.seq, message.text.as_str()), (4, "four"));
        client.send(HEARTBEAT);
        assert_eq!(client.next_text().await, HEARTBEAT_ACK, "nothing else came");
    }

    #[tokio::test]
    async fn an_agent_catches_up_with_a_conversation_begun_after_its_replay() {
        let shared = shared("gap-agent", 100).await;
        let mut agent = Client::connect(&shared, agent(), true);
        agent.resume().await;
        stored_elsewhere(&shared, 8, "first").await;
        shared.hub.resync(&Arc::new(shared.store.last_seqs().await.expect("counters")));
        let message = next_message(&mut agent).await;
        assert_eq!((message.conversation.get(), message.seq, message.text.as_str()), (8, 1, "first"));
    }

    #[tokio::test]
    async fn an_agents_replay_read_in_batches_carries_each_message_once_in_order() {
        let shared = shared("batches", 100).await;
        // More conversations than one batch of pages read ahead, two messages each.
        let conversations = 2 * super::replay::FRESH_BATCH as i64 + 50;
        for conversation in 1..=conversations {
            for id in ["a", "b"] {
                stored_elsewhere(&shared, conversation, id).await;
            }
        }
        let mut agent = Client::connect(&shared, agent(), true);
        agent.send_v1(ClientMessage::Resume { after: vec![] });
        let mut seen: HashMap<ConversationId, Vec<Seq>> = HashMap::new();
        let mut live_sent = false;
        loop {
            match agent.next_v1().await {
                ServerMessage::History { conversation, messages, .. } => {
                    seen.entry(conversation).or_default().extend(messages.iter().map(|m| m.seq));
                    if !live_sent {
                        // Written during the replay: to a conversation already paged, one in
                        // the batch read ahead, and one in a batch not read yet.
                        // (Three different ones: the first page may be of the last conversation.)
                        let targets = std::collections::BTreeSet::from([
                            conversation.get(),
                            conversation.get() % conversations + 1,
                            conversations,
                        ]);
                        for conversation in targets {
                            let message = stored_elsewhere(&shared, conversation, "live").await;
                            shared.hub.deliver(&message, true);
                        }
                        live_sent = true;
                    }
                }
                ServerMessage::Message(message) => {
                    seen.entry(message.conversation).or_default().push(message.seq)
                }
                ServerMessage::Ready => break,
                _ => {}
            }
        }
        // Live messages held back during the replay come after `ready`.
        agent.send(HEARTBEAT);
        loop {
            match agent.next().await {
                WsMessage::Text(text) if text.as_str() == HEARTBEAT_ACK => break,
                WsMessage::Text(text) => {
                    if let Ok(ServerMessage::Message(message)) = ServerMessage::decode(text.as_str()) {
                        seen.entry(message.conversation).or_default().push(message.seq);
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen.len(), conversations as usize, "every conversation paged");
        for (conversation, seqs) in seen {
            let last = shared.store.last_seq(conversation).await.expect("last");
            assert_eq!(
                seqs,
                (1..=last).collect::<Vec<_>>(),
                "conversation {conversation}: each once, in order"
            );
        }
    }

    #[tokio::test]
    async fn shutdown_closes_with_1001_and_the_user_leaves_the_hub() {
        let shared = shared("shutdown", 20).await;
        let mut client = Client::connect(&shared, user(7), false);
        client.send(HEARTBEAT);
        assert_eq!(client.next_text().await, HEARTBEAT_ACK);
        assert!(shared.hub.is_online(Caller::User(UserId::lit(7))));
        shared.shutdown.cancel();
        match client.next().await {
            WsMessage::Close(Some(frame)) => {
                assert_eq!((frame.code, frame.reason.as_str()), (1001, "server shutting down"))
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        client.task.await.expect("the session ends");
        assert!(!shared.hub.is_online(Caller::User(UserId::lit(7))));
    }

    #[tokio::test]
    async fn a_client_that_goes_away_leaves_the_hub_without_a_close_frame() {
        let shared = shared("gone", 20).await;
        let mut client = Client::connect(&shared, user(8), false);
        client.send(HEARTBEAT);
        assert_eq!(client.next_text().await, HEARTBEAT_ACK);
        drop(client.to_session);
        client.task.await.expect("the session ends");
        assert!(!shared.hub.is_online(Caller::User(UserId::lit(8))));
        assert!(client.from_session.next().await.is_none(), "nothing more written");
    }

    mod arbitrary_frames {
        use super::*;
        use kefu_protocol::v1::Position;
        use proptest::prelude::*;

        fn frame() -> impl Strategy<Value = WsMessage> {
            // Any number: one outside the ids' ranges is not a frame (malformed).
            let conversation = prop_oneof![Just(5i64), Just(6), Just(-1), Just(-2), any::<i64>()]
                .prop_filter_map("a conversation id", ConversationId::new);
            let client_message = prop_oneof![
                proptest::collection::vec((conversation.clone(), any::<u64>()), 0..4).prop_map(|after| {
                    let after =
                        after.into_iter().map(|(conversation, seq)| Position { conversation, seq }).collect();
                    ClientMessage::Resume { after }
                }),
                ("[a-z0-9_-]{0,70}", proptest::option::of(conversation.clone()), ".{0,40}")
                    .prop_map(|(id, conversation, text)| ClientMessage::Send { id, conversation, text }),
                (conversation.clone(), any::<u64>(), proptest::option::of(any::<u32>())).prop_map(
                    |(conversation, before, limit)| ClientMessage::History { conversation, before, limit }
                ),
                (proptest::option::of(conversation.clone()), any::<u64>())
                    .prop_map(|(conversation, seq)| ClientMessage::Read { conversation, seq }),
                proptest::option::of(conversation)
                    .prop_map(|conversation| ClientMessage::Typing { conversation }),
            ];
            prop_oneof![
                4 => client_message.prop_map(|m| WsMessage::Text(m.encode().into())),
                2 => ".{0,60}".prop_map(|text| WsMessage::Text(text.into())),
                1 => r#"\{"type":"[a-z]{0,8}"(,"[a-z]{1,6}":[0-9a-z"\[\]{},]{0,12})?\}"#.prop_map(|t| WsMessage::Text(t.into())),
                1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| WsMessage::Binary(b.into())),
                1 => Just(WsMessage::Ping(vec![1u8].into())),
                1 => Just(WsMessage::Text(HEARTBEAT.into())),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

            /// Whatever a client sends (short of a close), the session answers in order and
            /// lives on: a heartbeat after it all is answered, and nothing it wrote is a close.
            #[test]
            fn any_frames_are_answered_and_the_session_lives_on(
                frames in proptest::collection::vec(frame(), 0..24),
                v1 in any::<bool>(),
                as_agent in any::<bool>(),
            ) {
                static CASE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    let shared = shared_with(&format!("fuzz-{case}"), &["--max-frames-per-second", "1000"]).await;
                    let identity = if as_agent { agent() } else { user(5) };
                    let mut client = Client::connect(&shared, identity, v1);
                    for frame in frames {
                        client.to_session.unbounded_send(Ok(frame)).expect("session alive");
                    }
                    client.send(HEARTBEAT);
                    loop {
                        match client.next().await {
                            WsMessage::Text(text) if text.as_str() == HEARTBEAT_ACK => break,
                            WsMessage::Text(text) => {
                                if v1 {
                                    assert!(ServerMessage::decode(text.as_str()).is_ok(), "not a v1 frame: {text}");
                                }
                            }
                            other => panic!("the session wrote {other:?}"),
                        }
                    }
                    shared.shutdown.cancel();
                    client.task.await.expect("the session ends cleanly");
                });
            }
        }
    }
}
