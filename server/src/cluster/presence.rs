//! Who is online at each instance, kept in Redis:
//!
//! - `kefu:node:{id}`: the instance's presence version; expires after [`NODE_TTL`] unless
//!   refreshed (every [`POLL_EVERY`]), so a killed instance vanishes on its own;
//! - `kefu:online:{id}`: a hash, uid → name ("" for none), of the people connected there
//!   (agents under [`kefu_protocol::AGENT_UID`]); same expiry;
//! - `kefu:nodes`: the set of instance ids (a vanished one is removed by whoever notices).
//!
//! Every [`POLL_EVERY`] each instance writes what changed in its own hash, refreshes its keys,
//! and reads the hashes of the others whose version moved; their union is who is online
//! elsewhere ([`crate::hub::Hub::set_remote`], which announces the changes). So a person who
//! comes or goes at another instance is announced within one poll, and a killed instance's
//! people go offline within [`NODE_TTL`] plus one poll.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Cluster, Remote};
use crate::session::Shared;

/// An instance that has not refreshed its keys for this long is gone.
pub const NODE_TTL: Duration = Duration::from_secs(3);
/// How often each instance writes its presence and reads the others'.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

const NODES: &str = "kefu:nodes";

fn node_key(node: &str) -> String {
    format!("kefu:node:{node}")
}

fn online_key(node: &str) -> String {
    format!("kefu:online:{node}")
}

/// What this instance knows between polls.
#[derive(Default)]
struct Poll {
    /// What this instance's hash holds.
    written: Remote,
    /// Whether the hash must be written whole (first poll, or Redis lost it).
    whole: bool,
    version: u64,
    /// The other instances' hashes, with the version they were read at.
    others: HashMap<String, (String, Remote)>,
}

/// The view of who is elsewhere while Redis settles: after Redis was unreachable, or lost
/// its keys (restarted), the other instances write theirs again within a poll or two; until
/// they have had [`NODE_TTL`] to do so, nobody is taken for gone (arrivals are told at once).
/// Without it, a user on another instance saw an agent go offline and come back 0.5 s later
/// while the agent stayed connected.
#[derive(Default)]
struct Settling {
    /// Departures are not believed before this.
    until: Option<std::time::Instant>,
    /// The last view given to the hub.
    shown: Remote,
}

impl Settling {
    /// Redis was in trouble at `now` (unreachable, or it lost keys): hold departures for a TTL.
    fn trouble(&mut self, now: std::time::Instant) {
        self.until = Some(now + NODE_TTL);
    }

    /// Who is online elsewhere, from what was just read at `now`.
    fn view(&mut self, now: std::time::Instant, read: Remote) -> Remote {
        let settling = self.until.is_some_and(|until| now < until);
        if !settling {
            self.until = None;
            self.shown = read;
        } else {
            // Arrivals and names from what was read; nobody dropped yet.
            self.shown.extend(read);
        }
        self.shown.clone()
    }
}

pub(super) async fn run(cluster: Arc<Cluster>, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut poll = Poll { whole: true, ..Poll::default() };
    let mut settling = Settling::default();
    let mut ticks = tokio::time::interval(POLL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        match poll.step(&cluster, shared.hub.local_people()).await {
            Ok(remote) => {
                let now = std::time::Instant::now();
                if poll.whole {
                    // Redis lost this instance's keys: it lost the others' too.
                    settling.trouble(now);
                }
                let remote = settling.view(now, remote);
                shared.hub.set_remote(remote, |uid| shared.store.friends_of(uid))
            }
            // Who is elsewhere is unknown meanwhile: the last view stays (rather than
            // everyone there flapping offline and back), and for a TTL after it is back.
            Err(err) => {
                cluster.went_wrong("presence", &err);
                poll.whole = true;
                settling.trouble(std::time::Instant::now());
            }
        }
    }
    // Stopping: the others see this instance's people go at their next poll, not after the TTL.
    let mut goodbye = redis::pipe();
    goodbye.del(node_key(&cluster.node)).ignore().del(online_key(&cluster.node)).ignore();
    goodbye.srem(NODES, &cluster.node).ignore();
    let _ = tokio::time::timeout(Duration::from_secs(1), cluster.query_pipeline::<()>(&goodbye)).await;
}

impl Poll {
    /// Writes this instance's changes, reads the others'; returns who is online elsewhere.
    async fn step(&mut self, cluster: &Cluster, local: Remote) -> redis::RedisResult<Remote> {
        let node = cluster.node.as_str();
        let (online, ttl) = (online_key(node), NODE_TTL.as_millis() as u64);
        let mut write = redis::pipe();
        let mut changed: Vec<(String, String)> = Vec::new();
        let mut gone: Vec<String> = Vec::new();
        if self.whole {
            write.del(&online).ignore();
            changed
                .extend(local.iter().map(|(uid, name)| (uid.to_string(), name.clone().unwrap_or_default())));
        } else {
            for (uid, name) in &local {
                if self.written.get(uid) != Some(name) {
                    changed.push((uid.to_string(), name.clone().unwrap_or_default()));
                }
            }
            gone.extend(self.written.keys().filter(|uid| !local.contains_key(uid)).map(i64::to_string));
        }
        let moved = self.whole || !changed.is_empty() || !gone.is_empty();
        if moved {
            self.version += 1;
        }
        if !changed.is_empty() {
            write.hset_multiple(&online, &changed).ignore();
        }
        if !gone.is_empty() {
            write.hdel(&online, &gone).ignore();
        }
        write.pexpire(&online, ttl as i64).ignore();
        write.cmd("SET").arg(node_key(node)).arg(self.version).arg("PX").arg(ttl).arg("GET");
        write.sadd(NODES, node).ignore();
        write.smembers(NODES);
        let (before, nodes): (Option<String>, Vec<String>) = cluster.query_pipeline(&write).await?;
        self.written = local;
        let lost = before.is_none() && !self.whole;
        self.whole = lost;
        if lost {
            // Redis lost this instance's keys (restarted, or this instance stalled past the
            // TTL): written again whole at the next poll; what was published meanwhile may be
            // lost too.
            tracing::warn!("redis: this instance's presence was lost; writing it again");
            cluster.resync_now();
        }

        let others: Vec<String> = nodes.into_iter().filter(|other| other != node).collect();
        let mut versions = redis::pipe();
        for other in &others {
            versions.get(node_key(other));
        }
        let versions: Vec<Option<String>> =
            if others.is_empty() { vec![] } else { cluster.query_pipeline(&versions).await? };
        let mut read = redis::pipe();
        let mut reading = Vec::new();
        let mut vanished = redis::pipe();
        let mut any_vanished = false;
        for (other, version) in others.iter().zip(versions) {
            match version {
                None => {
                    tracing::info!(node = other, "an instance vanished: its people are offline");
                    vanished.srem(NODES, other).ignore().del(online_key(other)).ignore();
                    any_vanished = true;
                    self.others.remove(other);
                }
                Some(version) if self.others.get(other).is_some_and(|(seen, _)| *seen == version) => {}
                Some(version) => {
                    read.hgetall(online_key(other));
                    reading.push((other.clone(), version));
                }
            }
        }
        if any_vanished {
            cluster.query_pipeline::<()>(&vanished).await?;
            // What it stored but could not publish reaches everyone now.
            cluster.resync_now();
        }
        if !reading.is_empty() {
            let hashes: Vec<HashMap<String, String>> = cluster.query_pipeline(&read).await?;
            for ((other, version), hash) in reading.into_iter().zip(hashes) {
                let people = hash
                    .into_iter()
                    .filter_map(|(uid, name)| Some((uid.parse().ok()?, (!name.is_empty()).then_some(name))))
                    .collect();
                self.others.insert(other, (version, people));
            }
        }
        self.others.retain(|other, _| others.contains(other));
        let mut remote = Remote::new();
        for (_, people) in self.others.values() {
            for (uid, name) in people {
                let entry = remote.entry(*uid).or_insert(None);
                if entry.is_none() {
                    entry.clone_from(name);
                }
            }
        }
        cluster.went_right();
        Ok(remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_is_taken_for_gone_while_redis_settles_but_arrivals_are_told() {
        let start = std::time::Instant::now();
        let mut settling = Settling::default();
        let agent_and_five = Remote::from([(-1, Some("Mei".to_owned())), (5, None)]);
        assert_eq!(settling.view(start, agent_and_five.clone()), agent_and_five);
        // Redis restarted: the first read after it lacks the instance that has not written yet.
        settling.trouble(start);
        let partial = Remote::from([(6, None)]);
        let shown = settling.view(start + POLL_EVERY, partial);
        assert_eq!(shown.len(), 3, "5 and the agent kept, 6 told: {shown:?}");
        // Past the TTL, what is read is believed: 5 really went.
        let later = Remote::from([(-1, Some("Mei".to_owned())), (6, None)]);
        assert_eq!(settling.view(start + NODE_TTL, later.clone()), later);
    }
}
