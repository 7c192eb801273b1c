//! Several instances of the server behind one load balancer (`--redis`), sharing one
//! PostgreSQL database and one Redis. The database holds every message, position, account and
//! friendship, as on one instance; Redis carries what each instance used to keep to itself:
//!
//! - **fan-out** ([`Event`]): each message stored here, each typing or read notice and each
//!   friend change is published on [`CHANNEL`] once committed; every other instance hands it
//!   to its own connections. One publisher task keeps this instance's order.
//! - **presence** ([`presence`]): who is connected at each instance, in keys that expire when
//!   the instance stops refreshing them (a killed instance's people go offline within
//!   [`presence::NODE_TTL`] plus one poll).
//! - **shared limits** ([`limits`]): sign-in throttle, guests per address, friend requests and
//!   frames per user count across every instance.
//!
//! Nothing is lost with a publish: a connection that sees a gap in a conversation's `seq`
//! fetches what it lacks from the database (a message is published only once stored), and
//! every [`RESYNC_EVERY`], whenever the subscription comes back and whenever an instance
//! vanishes, every connection compares its positions with the database's counters
//! ([`crate::hub::Outgoing::Resync`]). Redis down: messages are still stored and
//! acknowledged (each instance delivers to its own connections), `/readyz` says so, and
//! cross-instance delivery catches up when it returns.

pub mod limits;
pub mod presence;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kefu_protocol::ids::{PeerConversationId, UserId};
use kefu_protocol::v1::{ConversationId, Message, Seq, ServerMessage};
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::session::Shared;

/// The pub/sub channel every instance publishes on and listens to.
pub const CHANNEL: &str = "kefu:events";
/// Every connection checks its positions against the database this often at least.
pub const RESYNC_EVERY: Duration = Duration::from_secs(5);
/// Events waiting for the publisher at most; past it they are dropped (and the resync
/// delivers their messages).
const PUBLISH_QUEUE: usize = 100_000;
/// A Redis command that takes longer has failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Wait between attempts to reach Redis again.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// What one instance tells the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A stored message: `members` for a peer conversation; `to_v0_agents` false for the
    /// extra copies of a v0 broadcast (see [`crate::hub::Hub::deliver`]).
    Message { message: Message, members: Option<(UserId, UserId)>, to_v0_agents: bool },
    /// A notice about a customer-service conversation (typing, read), already encoded.
    Notice { conversation: ConversationId, frame: String },
    /// A v2 frame for some users' connections (peer typing, friend frames), already encoded.
    Tell { uids: Vec<UserId>, frame: String },
    /// A member's read position in a peer conversation.
    MemberRead { conversation: PeerConversationId, uid: UserId, seq: Seq, members: (UserId, UserId) },
    /// Friendships, requests or blocks of these users changed: read the graph again.
    FriendsChanged { uids: Vec<UserId> },
    /// Agent `name` signed out: its connections of an epoch before `epoch` close.
    AgentSessionsEnded { name: String, epoch: u64 },
    /// A team frame for every agent connection, already encoded.
    Agents { frame: String },
}

/// An event and the instance it comes from (which ignores its own).
#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    #[serde(flatten)]
    event: Event,
}

/// This instance's link to the others.
pub struct Cluster {
    /// This instance's id, random per start.
    node: String,
    client: redis::Client,
    publish: mpsc::Sender<Event>,
    /// Taken by the publisher task when it starts.
    queued: Mutex<Option<mpsc::Receiver<Event>>>,
    /// The connection for commands (limits, presence), made again after a failure.
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// The last Redis failure, while it lasts.
    trouble: Mutex<Option<String>>,
    /// Asks for a resync now (the subscription came back, an instance vanished).
    resync: Notify,
}

impl Cluster {
    /// A link through the Redis at `url` (`redis://host:port`); nothing is connected yet.
    pub fn new(url: &str) -> redis::RedisResult<Cluster> {
        let client = redis::Client::open(url)?;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id)
            .map_err(|err| redis::RedisError::from(std::io::Error::other(err.to_string())))?;
        let node = id.iter().map(|b| format!("{b:02x}")).collect();
        let (publish, queued) = mpsc::channel(PUBLISH_QUEUE);
        Ok(Cluster {
            node,
            client,
            publish,
            queued: Mutex::new(Some(queued)),
            connection: tokio::sync::Mutex::new(None),
            trouble: Mutex::new(None),
            resync: Notify::new(),
        })
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Queues `event` for the other instances, in the order of the calls.
    pub fn publish(&self, event: Event) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.publish.try_send(event) {
            tracing::warn!("redis: publish queue full, an event dropped (the resync delivers its message)");
        }
    }

    /// `Err(reason)` while Redis cannot be reached (for `/readyz`).
    pub fn status(&self) -> Result<(), String> {
        match self.trouble.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    fn went_wrong(&self, what: &str, err: &dyn std::fmt::Display) {
        let mut trouble = self.trouble.lock().unwrap_or_else(|p| p.into_inner());
        if trouble.is_none() {
            tracing::error!(%err, "redis unavailable ({what}): messages are stored and delivered at this instance; other instances catch up when it returns");
        }
        *trouble = Some(format!("redis unavailable: {err}"));
    }

    fn went_right(&self) {
        if self.trouble.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
            tracing::info!("redis reachable again");
        }
    }

    /// Runs `command` on the shared connection (made if needed), within [`COMMAND_TIMEOUT`].
    pub async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> redis::RedisResult<T> {
        let mut connection = self.connection().await?;
        command.query_async(&mut connection).await.inspect_err(|_| self.forget_connection())
    }

    /// Runs `pipeline` like [`Cluster::query`].
    pub async fn query_pipeline<T: redis::FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> redis::RedisResult<T> {
        let mut connection = self.connection().await?;
        pipeline.query_async(&mut connection).await.inspect_err(|_| self.forget_connection())
    }

    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT);
        let connection = self.client.get_multiplexed_async_connection_with_config(&config).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    fn forget_connection(&self) {
        if let Ok(mut slot) = self.connection.try_lock() {
            *slot = None;
        }
    }

    /// Starts the publisher, the subscriber, presence and the resync; they end with
    /// `shutdown` (presence first removes this instance's keys).
    pub fn start(self: &Arc<Self>, shared: &Arc<Shared>, shutdown: &CancellationToken) {
        if let Some(queued) = self.queued.lock().unwrap_or_else(|p| p.into_inner()).take() {
            tokio::spawn(self.clone().publisher(queued, shutdown.clone()));
        }
        tokio::spawn(self.clone().subscriber(shared.clone(), shutdown.clone()));
        tokio::spawn(presence::run(self.clone(), shared.clone(), shutdown.clone()));
        tokio::spawn(self.clone().resyncer(shared.clone(), shutdown.clone()));
    }

    /// Publishes queued events in order, as many per round trip as are waiting.
    async fn publisher(self: Arc<Self>, mut queued: mpsc::Receiver<Event>, shutdown: CancellationToken) {
        let mut batch = Vec::new();
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = queued.recv_many(&mut batch, 1024) => received,
            };
            if received == 0 {
                return;
            }
            let mut pipeline = redis::pipe();
            for event in batch.drain(..) {
                let envelope = Envelope { node: self.node.clone(), event };
                match serde_json::to_string(&envelope) {
                    Ok(text) => {
                        pipeline.publish(CHANNEL, text).ignore();
                    }
                    Err(err) => tracing::error!(%err, "cannot encode an event"),
                }
            }
            match self.query_pipeline::<()>(&pipeline).await {
                Ok(()) => self.went_right(),
                // Lost: their messages reach the other instances by the resync.
                Err(err) => self.went_wrong("publish", &err),
            }
        }
    }

    /// Listens to [`CHANNEL`] and applies the other instances' events; after every
    /// (re)subscription a resync catches up with what was published meanwhile.
    async fn subscriber(self: Arc<Self>, shared: Arc<Shared>, shutdown: CancellationToken) {
        use futures_util::StreamExt;
        loop {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(CHANNEL).await?;
                redis::RedisResult::Ok(pubsub)
            };
            let pubsub = tokio::select! {
                _ = shutdown.cancelled() => return,
                subscribed = tokio::time::timeout(COMMAND_TIMEOUT, subscribed) => subscribed,
            };
            match pubsub {
                Ok(Ok(pubsub)) => {
                    tracing::info!(node = self.node, "redis: subscribed to {CHANNEL}");
                    self.went_right();
                    self.resync.notify_one();
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let message = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            message = messages.next() => message,
                        };
                        let Some(message) = message else { break };
                        let Ok(text) = message.get_payload::<String>() else { continue };
                        match serde_json::from_str::<Envelope>(&text) {
                            Ok(envelope) if envelope.node != self.node => {
                                apply(&shared, envelope.event).await
                            }
                            Ok(_) => {}
                            Err(err) => tracing::warn!(%err, "redis: an event not understood"),
                        }
                    }
                    self.went_wrong("subscription", &"the subscription ended");
                }
                Ok(Err(err)) => self.went_wrong("subscribe", &err),
                Err(_) => self.went_wrong("subscribe", &"timed out"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RECONNECT_EVERY) => {}
            }
        }
    }

    /// Asks every connection to compare its positions with the database's, every
    /// [`RESYNC_EVERY`] and when asked ([`Cluster::resync_now`]).
    async fn resyncer(self: Arc<Self>, shared: Arc<Shared>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RESYNC_EVERY) => {}
                _ = self.resync.notified() => {}
            }
            match shared.store.last_seqs().await {
                Ok(last) => {
                    shared.store.note_last_seqs(&last);
                    shared.hub.resync(&Arc::new(last));
                }
                Err(err) => tracing::warn!(%err, "resync: cannot read the counters"),
            }
        }
    }

    /// Asks for a resync at once.
    pub fn resync_now(&self) {
        self.resync.notify_one();
    }
}

/// Hands another instance's event to this instance's connections.
async fn apply(shared: &Shared, event: Event) {
    match event {
        Event::Message { message, members, to_v0_agents } => {
            shared.store.note_message(message.conversation, message.seq);
            let message = Arc::new(message);
            match members {
                Some(members) => shared.hub.deliver_peer(&message, members),
                None => shared.hub.deliver(&message, to_v0_agents),
            };
        }
        Event::Notice { conversation, frame } => {
            if let Ok(ServerMessage::Read { agent, seq, .. }) = ServerMessage::decode(&frame) {
                shared.store.note_read(conversation, agent, seq);
            }
            shared.hub.notify_text(conversation, frame.into(), None);
        }
        Event::Tell { uids, frame } => shared.hub.tell_text(&uids, frame.into(), None),
        Event::MemberRead { conversation, uid, seq, members: (a, b) } => {
            shared.store.note_member_read(conversation, uid, seq);
            let frame = ServerMessage::MemberRead { conversation: conversation.into(), uid, seq };
            shared.hub.tell(&[a, b], &frame, None);
        }
        Event::FriendsChanged { uids } => {
            if let Err(err) = shared.store.reload_graph().await {
                tracing::error!(%err, "cannot read the friend graph again");
            }
            shared.tell_friends_lists(&uids).await;
        }
        Event::AgentSessionsEnded { name, epoch } => {
            let _ = shared.agent_sessions_ended.send((name, epoch));
        }
        Event::Agents { frame } => shared.hub.tell_agents_text(frame.into(), None),
    }
}

/// Who is online at the other instances, from their presence hashes.
pub type Remote = HashMap<i64, Option<String>>;
