//! The team inbox's moving parts. The records live in the store's team room
//! (`store/team.rs`), who gets a conversation in [`crate::assignment`]; here:
//!
//! - [`Seats`]: which agents have a console connected at this instance, kept in the database
//!   (renewed every [`TICK`], expiring after [`SEAT_TTL_MS`]: an instance killed stops
//!   renewing), so that auto-assignment on any instance knows who is signed in anywhere.
//! - [`frames`]: what agents are told of a change (users are never told anything of it).
//! - [`tick`]: snoozes that end, waiting conversations handed out (oldest first), seats
//!   renewed — each instance every [`TICK`]; the database's turns keep two instances from
//!   doing one thing twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kefu_protocol::v1::ServerMessage;

use crate::store::{Change, Store, StoreError};

/// How often each instance renews its seats, wakes snoozed conversations and hands out
/// waiting ones.
pub const TICK: Duration = Duration::from_secs(1);
/// A seat not renewed for this long is gone (its instance was killed).
pub const SEAT_TTL_MS: i64 = 15_000;
/// Conversations handed out or woken per tick (or per hand-out) at most (the rest at the next).
pub const PER_TICK: usize = 1_000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The agents with a console connected at this instance, counted per account.
pub struct Seats {
    node: String,
    counts: Mutex<HashMap<String, usize>>,
}

impl Seats {
    /// `node`: this instance's id (random per start).
    pub fn new(node: String) -> Seats {
        Seats { node, counts: Mutex::new(HashMap::new()) }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Agent `name` connected a console here; whether it is its first one here.
    pub async fn sit(&self, store: &Store, name: &str) -> Result<bool, StoreError> {
        let first = {
            let mut counts = self.counts();
            let count = counts.entry(name.to_owned()).or_insert(0);
            *count += 1;
            *count == 1
        };
        // Renewed even when not the first: a seat lost to a database outage comes back.
        store.seat(name, &self.node, now_ms() + SEAT_TTL_MS).await?;
        Ok(first)
    }

    /// Agent `name`'s console here went; whether it was its last one here.
    pub async fn leave(&self, store: &Store, name: &str) -> Result<bool, StoreError> {
        let last = {
            let mut counts = self.counts();
            match counts.get_mut(name) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    counts.remove(name);
                    true
                }
                None => false,
            }
        };
        if last {
            store.unseat(name, &self.node).await?;
        }
        Ok(last)
    }

    /// Renews every seat of this instance.
    async fn renew(&self, store: &Store) -> Result<(), StoreError> {
        let names: Vec<String> = self.counts().keys().cloned().collect();
        let expires_at = now_ms() + SEAT_TTL_MS;
        for name in names {
            store.seat(&name, &self.node, expires_at).await?;
        }
        Ok(())
    }
}

/// What agents are told of a change: its new timeline entries, then the conversation's state
/// (last: a console that has the state has heard of what led to it).
pub fn frames(change: &Change) -> Vec<ServerMessage> {
    let mut frames: Vec<ServerMessage> =
        change.events.iter().cloned().map(ServerMessage::TeamEvent).collect();
    frames.push(ServerMessage::TeamState(change.state.clone()));
    frames
}

/// Every agent's load, as a frame.
pub async fn loads(store: &Store) -> Result<ServerMessage, StoreError> {
    Ok(ServerMessage::TeamAgents { agents: store.agent_loads(now_ms()).await? })
}

/// One round of the team's timed work at this instance; the frames to tell agents.
pub async fn tick(store: &Store, seats: &Seats) -> Result<Vec<ServerMessage>, StoreError> {
    seats.renew(store).await?;
    let now = now_ms();
    let mut changes = store.wake_snoozed(now, PER_TICK).await?;
    changes.extend(store.assign_waiting(now, PER_TICK).await?);
    let mut told: Vec<ServerMessage> = changes.iter().flat_map(frames).collect();
    if !changes.is_empty() {
        told.push(loads(store).await?);
    }
    Ok(told)
}

/// A random id for this instance's seats.
pub fn node_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!("{:016x}", u64::from_le_bytes(bytes))
}
