//! Who is connected, and who receives each chat message.
//!
//! The original backend broadcast every message to every client. Here a user's message goes to
//! that user's own connections (all tabs) and to the agents; an agent's message has no
//! addressee in the original protocol, so it still reaches everyone.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::ws::Utf8Bytes;
use kefu_protocol::AGENT_UID;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Identifies one connection (one tab), unique for the server's lifetime.
pub type ConnectionId = u64;

/// Frames waiting for one connection's writer; bounded so a stalled client cannot grow memory.
pub const OUTBOX_CAPACITY: usize = 1024;

/// Whether a connection of `recipient_uid` receives a chat message sent by `sender_uid`.
pub fn receives(recipient_uid: i64, sender_uid: i64) -> bool {
    sender_uid == AGENT_UID || recipient_uid == sender_uid || recipient_uid == AGENT_UID
}

struct Peer {
    uid: i64,
    outbox: mpsc::Sender<Utf8Bytes>,
    /// Cancelled when the peer cannot keep up; its session then closes the connection.
    kick: CancellationToken,
}

/// The registry of live connections.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: ConnectionId,
    peers: HashMap<ConnectionId, Peer>,
}

impl Hub {
    /// Registers a connection; frames for it arrive on `outbox`.
    pub fn join(&self, uid: i64, outbox: mpsc::Sender<Utf8Bytes>, kick: CancellationToken) -> ConnectionId {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.peers.insert(id, Peer { uid, outbox, kick });
        id
    }

    pub fn leave(&self, id: ConnectionId) {
        self.lock().peers.remove(&id);
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.lock().peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a chat frame from `sender_uid` for every connection that [`receives`] it.
    /// Returns how many connections it was queued for.
    pub fn deliver(&self, sender_uid: i64, frame: Utf8Bytes) -> usize {
        let inner = self.lock();
        let mut delivered = 0;
        for (id, peer) in inner.peers.iter().filter(|(_, peer)| receives(peer.uid, sender_uid)) {
            match peer.outbox.try_send(frame.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(connection = id, uid = peer.uid, "client too slow: disconnecting it");
                    peer.kick.cancel();
                }
                // The session is ending; it removes itself.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        delivered
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_message_reaches_that_user_and_the_agents_only() {
        assert!(receives(5, 5));
        assert!(receives(AGENT_UID, 5));
        assert!(!receives(6, 5));
    }

    #[test]
    fn an_agents_message_reaches_everyone() {
        assert!(receives(5, AGENT_UID));
        assert!(receives(6, AGENT_UID));
        assert!(receives(AGENT_UID, AGENT_UID));
    }

    #[tokio::test]
    async fn deliver_routes_and_kicks_a_stalled_peer() {
        let hub = Hub::default();
        let (tx5, mut rx5) = mpsc::channel(OUTBOX_CAPACITY);
        let (tx6, mut rx6) = mpsc::channel(OUTBOX_CAPACITY);
        let (tx_agent, mut rx_agent) = mpsc::channel(1);
        let agent_kick = CancellationToken::new();
        hub.join(5, tx5, CancellationToken::new());
        let six = hub.join(6, tx6, CancellationToken::new());
        hub.join(AGENT_UID, tx_agent, agent_kick.clone());

        assert_eq!(hub.deliver(5, "a".into()), 2);
        assert_eq!(rx5.recv().await.as_deref(), Some("a"));
        assert_eq!(rx_agent.recv().await.as_deref(), Some("a"));
        assert!(rx6.try_recv().is_err());

        // The agent's outbox holds one frame: the second overflows and kicks it.
        hub.deliver(5, "b".into());
        assert!(!agent_kick.is_cancelled());
        hub.deliver(5, "c".into());
        assert!(agent_kick.is_cancelled());

        hub.leave(six);
        assert_eq!(hub.len(), 2);
    }
}
