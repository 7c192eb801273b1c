//! Who is connected, and who receives each chat message.
//!
//! A conversation is between one user and customer service: its messages go to that user's
//! connections (all tabs) and to the agents, never to other users. The original backend
//! broadcast everything to everyone; the only broadcast left is a v0 agent reply, which has
//! no addressee and is stored as one copy per online user's conversation.
//!
//! With several instances ([`crate::cluster`]) the hub also knows who is online elsewhere
//! ([`Hub::set_remote`]): presence is announced when a person comes online anywhere and when
//! their last connection anywhere has been gone for [`PRESENCE_GRACE`] (a reload, or a tap
//! from one user page to the other, comes back within it and is not shown as leaving).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use kefu_protocol::ids::{Caller, UserId};
use kefu_protocol::v1::{ConversationId, Message, ServerMessage};
use kefu_protocol::AGENT_UID;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a person's last connection may be gone before they are announced offline.
pub const PRESENCE_GRACE: Duration = Duration::from_secs(2);
/// How often the server looks for people gone longer than [`PRESENCE_GRACE`] ([`Hub::sweep`]).
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Identifies one connection (one tab), unique for the server's lifetime.
pub type ConnectionId = u64;

/// Frames waiting for one connection's writer; bounded so a stalled client cannot grow memory.
pub const OUTBOX_CAPACITY: usize = 4096;
/// The same for an agent's connection, which receives every conversation's frames.
pub const AGENT_OUTBOX_CAPACITY: usize = 65_536;

/// What a session's writer receives; each session encodes messages for its protocol.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(Utf8Bytes),
    Message(Arc<Message>),
    /// Every conversation's last `seq` in the store: a v1 connection behind on any of them
    /// fetches what it missed (a message whose publish another instance lost).
    Resync(Arc<HashMap<ConversationId, u64>>),
}

struct Peer {
    uid: i64,
    /// A user's proven display name, told to agents with its presence.
    name: Option<String>,
    v1: bool,
    /// Speaks v2: receives friend frames and peer conversations.
    v2: bool,
    outbox: mpsc::Sender<Outgoing>,
    /// Cancelled when the peer cannot keep up; its session then closes the connection.
    kick: CancellationToken,
}

impl Peer {
    /// Queues a stored message; a peer whose queue is full cannot keep up and is kicked.
    /// Returns whether it was queued.
    fn queue_message(&self, id: ConnectionId, message: &Arc<Message>) -> bool {
        match self.outbox.try_send(Outgoing::Message(message.clone())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(connection = id, uid = self.uid, "client too slow: disconnecting it");
                self.kick.cancel();
                false
            }
            // The session is ending; it removes itself.
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Who a new connection is (see [`Hub::join`]).
pub struct Joining {
    pub caller: Caller,
    /// A user's proven display name, told to agents with its presence.
    pub name: Option<String>,
    pub v1: bool,
    pub v2: bool,
    /// The user's friends, told that the user came online.
    pub friends: Vec<UserId>,
}

/// The registry of live connections, indexed by uid so that joining, leaving and routing a
/// frame cost the connections concerned, not every connection (10,000 users reconnecting at
/// once after a restart would otherwise take 10,000 × 10,000 steps under this lock).
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: ConnectionId,
    /// Each caller's live connections, by its endpoint number ([`Caller::raw`]: only numbers
    /// of a [`Caller`] are ever keys; the agents' all under [`AGENT_UID`]).
    by_uid: HashMap<i64, HashMap<ConnectionId, Peer>>,
    /// Who is online at other instances (agents under [`AGENT_UID`]), with their names.
    remote: HashMap<i64, Option<String>>,
    /// People whose last connection here went, not announced offline yet: at most one per
    /// uid, removed when they come back or by [`Hub::sweep`].
    leaving: HashMap<i64, Leaving>,
}

/// A person gone, within the presence grace.
struct Leaving {
    name: Option<String>,
    /// Their friends, told when they are announced offline.
    friends: Vec<UserId>,
    since: Instant,
}

impl Inner {
    fn connections_of(&self, uid: i64) -> impl Iterator<Item = (&ConnectionId, &Peer)> {
        self.by_uid.get(&uid).into_iter().flatten()
    }

    /// The connections that receive `conversation`'s frames: its user's and the agents'.
    /// A peer conversation has none here (it goes through [`Hub::deliver_peer`]): agents never
    /// receive one, whoever calls.
    fn recipients(&self, conversation: ConversationId) -> impl Iterator<Item = (&ConnectionId, &Peer)> {
        let user = conversation.support_user();
        let agents = self.connections_of(AGENT_UID).filter(move |_| user.is_some());
        let user = user.and_then(|user| self.by_uid.get(&user.get()));
        agents.chain(user.into_iter().flatten())
    }

    /// Queues `text` for the v2 connections of `uids`, except `except`; a user named twice
    /// (a pair told to its reader alone) is told once.
    fn tell_v2(&self, uids: &[UserId], text: &Utf8Bytes, except: Option<ConnectionId>) {
        for (n, uid) in uids.iter().enumerate() {
            if uids[..n].contains(uid) {
                continue;
            }
            for (id, peer) in self.connections_of(uid.get()) {
                if peer.v2 && Some(*id) != except {
                    let _ = peer.outbox.try_send(Outgoing::Text(text.clone()));
                }
            }
        }
    }

    /// Tells v1 peers that `uid` came online or went offline: a user's presence to the
    /// agents, the agents' presence (any agent at all) to the users; and a user's presence to
    /// their friends (v2), to nobody else.
    fn announce(&self, uid: i64, name: Option<String>, online: bool, friends: &[UserId]) {
        let Some(caller) = Caller::from_raw(uid) else { return };
        if let (Caller::User(user), false) = (caller, friends.is_empty()) {
            let text: Utf8Bytes = ServerMessage::FriendPresence { uid: user, online }.encode().into();
            self.tell_v2(friends, &text, None);
        }
        let frame = match caller {
            Caller::Agent => ServerMessage::Agents { online },
            Caller::User(user) => {
                ServerMessage::Presence { conversation: ConversationId::support(user), online, name }
            }
        };
        let text: Utf8Bytes = frame.encode().into();
        let send = |peer: &Peer| {
            if peer.v1 {
                // A full outbox is handled by the next delivery (which kicks the peer).
                let _ = peer.outbox.try_send(Outgoing::Text(text.clone()));
            }
        };
        if uid == AGENT_UID {
            self.by_uid
                .iter()
                .filter(|(uid, _)| **uid != AGENT_UID)
                .flat_map(|(_, c)| c.values())
                .for_each(send);
        } else {
            self.connections_of(AGENT_UID).for_each(|(_, peer)| send(peer));
        }
    }
}

impl Hub {
    /// Registers a connection; frames for it arrive on `outbox`. `friends`: the user's
    /// friends, told when the user comes online.
    pub fn join(
        &self,
        joining: Joining,
        outbox: mpsc::Sender<Outgoing>,
        kick: CancellationToken,
    ) -> ConnectionId {
        let Joining { caller, name, v1, v2, friends } = joining;
        let uid = caller.raw();
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let connections = inner.by_uid.entry(uid).or_default();
        let first = connections.is_empty();
        connections.insert(id, Peer { uid, name: name.clone(), v1, v2, outbox, kick });
        inner.leaving.remove(&uid);
        // Also when back within the grace: whoever came meanwhile was told they are offline
        // (the others are told what they know, which changes nothing for them).
        if first && !inner.remote.contains_key(&uid) {
            inner.announce(uid, name, true, &friends);
        }
        id
    }

    /// Removes connection `id` of `uid`. If it was the person's last, they are announced
    /// offline (`friends` told too) by the first [`Hub::sweep`] after [`PRESENCE_GRACE`],
    /// unless they are back by then.
    pub fn leave(&self, caller: Caller, id: ConnectionId, friends: &[UserId]) {
        self.leave_at(caller, id, friends, Instant::now());
    }

    fn leave_at(&self, caller: Caller, id: ConnectionId, friends: &[UserId], now: Instant) {
        let uid = caller.raw();
        let mut inner = self.lock();
        let Some(connections) = inner.by_uid.get_mut(&uid) else { return };
        let Some(peer) = connections.remove(&id) else { return };
        if connections.is_empty() {
            inner.by_uid.remove(&uid);
            inner.leaving.insert(uid, Leaving { name: peer.name, friends: friends.to_vec(), since: now });
        }
    }

    /// Announces offline the people gone for [`PRESENCE_GRACE`] by `now` (and not online at
    /// another instance). The server calls it every [`SWEEP_EVERY`].
    pub fn sweep(&self, now: Instant) {
        let mut inner = self.lock();
        let gone: Vec<i64> = inner
            .leaving
            .iter()
            .filter(|(_, leaving)| now.saturating_duration_since(leaving.since) >= PRESENCE_GRACE)
            .map(|(uid, _)| *uid)
            .collect();
        for uid in gone {
            let Some(leaving) = inner.leaving.remove(&uid) else { continue };
            if !inner.remote.contains_key(&uid) {
                inner.announce(uid, leaving.name, false, &leaving.friends);
            }
        }
    }

    /// Sets who is online at other instances; whoever came or went there and has no
    /// connection here is announced. `friends_of` names a user's friends (told of it); it
    /// runs under the hub's lock, so it must never wait for the hub (lock order: hub, then
    /// the store's friend graph).
    pub fn set_remote(
        &self,
        remote: HashMap<i64, Option<String>>,
        friends_of: impl Fn(UserId) -> Vec<UserId>,
    ) {
        let mut inner = self.lock();
        let old = std::mem::replace(&mut inner.remote, remote);
        let came: Vec<(i64, Option<String>)> = inner
            .remote
            .iter()
            .filter(|(uid, _)| !old.contains_key(uid) && !inner.by_uid.contains_key(uid))
            .map(|(uid, name)| (*uid, name.clone()))
            .collect();
        for (uid, name) in came {
            let friends = UserId::new(uid).map(&friends_of).unwrap_or_default();
            inner.announce(uid, name, true, &friends);
        }
        for (uid, name) in old {
            // Someone within their grace here is announced by the sweep, if not back.
            let here = inner.by_uid.contains_key(&uid) || inner.leaving.contains_key(&uid);
            if !inner.remote.contains_key(&uid) && !here {
                let friends = UserId::new(uid).map(&friends_of).unwrap_or_default();
                inner.announce(uid, name, false, &friends);
            }
        }
    }

    /// Who has a connection at this instance (agents under [`AGENT_UID`]), with their names:
    /// what this instance tells the others.
    pub fn local_people(&self) -> HashMap<i64, Option<String>> {
        let inner = self.lock();
        let named = |(uid, connections): (&i64, &HashMap<ConnectionId, Peer>)| {
            (*uid, connections.values().find_map(|p| p.name.clone()))
        };
        // Those within their grace too: the other instances must not announce them offline
        // before this one would.
        let leaving = inner.leaving.iter().map(|(uid, leaving)| (*uid, leaving.name.clone()));
        leaving.chain(inner.by_uid.iter().map(named)).collect()
    }

    /// Asks every v1 connection to catch up with `last_seqs` (see [`Outgoing::Resync`]).
    pub fn resync(&self, last_seqs: &Arc<HashMap<ConversationId, u64>>) {
        let inner = self.lock();
        for peer in inner.by_uid.values().flat_map(HashMap::values).filter(|peer| peer.v1) {
            // A full queue is caught up by the next resync.
            let _ = peer.outbox.try_send(Outgoing::Resync(last_seqs.clone()));
        }
    }

    /// Queues a stored message of a peer conversation for its two members' v2 connections.
    pub fn deliver_peer(&self, message: &Arc<Message>, members: (UserId, UserId)) -> usize {
        let inner = self.lock();
        let mut delivered = 0;
        let (a, b) = members;
        for uid in [a, b] {
            for (id, peer) in inner.connections_of(uid.get()).filter(|(_, peer)| peer.v2) {
                delivered += usize::from(peer.queue_message(*id, message));
            }
        }
        delivered
    }

    /// Passes a frame to the v2 connections of `uids` (a peer conversation's members, or one
    /// user), except `except`.
    pub fn tell(&self, uids: &[UserId], frame: &ServerMessage, except: Option<ConnectionId>) {
        self.tell_text(uids, frame.encode().into(), except);
    }

    /// [`Hub::tell`] with the frame already encoded.
    pub fn tell_text(&self, uids: &[UserId], text: Utf8Bytes, except: Option<ConnectionId>) {
        self.lock().tell_v2(uids, &text, except);
    }

    /// Whether any agent is connected.
    pub fn agents_online(&self) -> bool {
        self.is_online(Caller::Agent)
    }

    /// Users (not agents) with at least one live connection, here or at another instance.
    pub fn online_users(&self) -> BTreeSet<UserId> {
        let inner = self.lock();
        let everyone = inner.by_uid.keys().chain(inner.remote.keys());
        everyone.copied().filter_map(UserId::new).collect()
    }

    /// [`Hub::online_users`] with the name each was proven to have, if any.
    pub fn online_users_named(&self) -> std::collections::BTreeMap<UserId, Option<String>> {
        let inner = self.lock();
        let remote = inner.remote.iter().map(|(uid, name)| (*uid, name.clone()));
        let local = inner
            .by_uid
            .iter()
            .map(|(uid, connections)| (*uid, connections.values().find_map(|p| p.name.clone())));
        // Local last: a name proven here wins.
        remote.chain(local).filter_map(|(uid, name)| Some((UserId::new(uid)?, name))).collect()
    }

    pub fn is_online(&self, who: Caller) -> bool {
        let inner = self.lock();
        inner.by_uid.contains_key(&who.raw()) || inner.remote.contains_key(&who.raw())
    }

    /// Queues a stored message for every connection that receives it (its user's, the
    /// agents'). v0 agents see one conversation-less stream, so for the extra copies of a
    /// broadcast they are skipped (`to_v0_agents = false`). Returns how many connections it
    /// was queued for.
    pub fn deliver(&self, message: &Arc<Message>, to_v0_agents: bool) -> usize {
        let inner = self.lock();
        let mut delivered = 0;
        let recipients = inner
            .recipients(message.conversation)
            .filter(|(_, peer)| to_v0_agents || peer.v1 || peer.uid != AGENT_UID);
        for (id, peer) in recipients {
            delivered += usize::from(peer.queue_message(*id, message));
        }
        delivered
    }

    /// Passes a notice about `conversation` (typing, read) to the v1 connections that receive
    /// the conversation (its user's, the agents'), except `except` (the one it came from,
    /// when it needs no echo).
    pub fn notify(&self, conversation: ConversationId, frame: &ServerMessage, except: Option<ConnectionId>) {
        self.notify_text(conversation, frame.encode().into(), except);
    }

    /// [`Hub::notify`] with the frame already encoded.
    pub fn notify_text(&self, conversation: ConversationId, text: Utf8Bytes, except: Option<ConnectionId>) {
        let inner = self.lock();
        let recipients = inner.recipients(conversation).filter(|(id, peer)| Some(**id) != except && peer.v1);
        for (_, peer) in recipients {
            // A notice that does not fit is not worth kicking anyone for.
            let _ = peer.outbox.try_send(Outgoing::Text(text.clone()));
        }
    }

    /// Queues a team frame for every v1 agent connection (never a user's: the team inbox's
    /// frames, notes included, go through here only).
    pub fn tell_agents_text(&self, text: Utf8Bytes, except: Option<ConnectionId>) {
        let inner = self.lock();
        for (_, peer) in inner.connections_of(AGENT_UID).filter(|(id, peer)| peer.v1 && Some(**id) != except)
        {
            // As a notice: one that does not fit is not worth kicking anyone for.
            let _ = peer.outbox.try_send(Outgoing::Text(text.clone()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller whose endpoint number is `raw`.
    fn c(raw: i64) -> Caller {
        Caller::from_raw(raw).expect("a caller")
    }

    fn u(raw: i64) -> UserId {
        UserId::lit(raw)
    }
    use kefu_protocol::Role;

    fn joining(uid: i64, name: Option<String>, v1: bool) -> Joining {
        Joining { caller: c(uid), name, v1, v2: false, friends: vec![] }
    }

    fn message(conversation: i64, text: &str) -> Arc<Message> {
        Arc::new(Message {
            conversation: ConversationId::lit(conversation),
            seq: 1,
            id: text.into(),
            uid: conversation,
            role: Role::User,
            username: String::new(),
            avatar: String::new(),
            create_time: String::new(),
            text: text.into(),
        })
    }

    /// Drains the outbox; true if it held no chat message (presence notices are fine).
    fn no_message(rx: &mut mpsc::Receiver<Outgoing>) -> bool {
        let mut none = true;
        while let Ok(outgoing) = rx.try_recv() {
            none &= !matches!(outgoing, Outgoing::Message(_));
        }
        none
    }

    /// The text of the next chat message queued, skipping presence notices.
    async fn next_text(rx: &mut mpsc::Receiver<Outgoing>) -> Option<String> {
        loop {
            match rx.recv().await? {
                Outgoing::Message(m) => return Some(m.text.clone()),
                Outgoing::Text(_) | Outgoing::Resync(_) => continue,
            }
        }
    }

    #[tokio::test]
    async fn deliver_routes_skips_v0_agents_for_copies_and_kicks_a_stalled_peer() {
        let hub = Hub::default();
        let (tx5, mut rx5) = mpsc::channel(OUTBOX_CAPACITY);
        let (tx6, mut rx6) = mpsc::channel(OUTBOX_CAPACITY);
        let (tx_v0_agent, mut rx_v0_agent) = mpsc::channel(OUTBOX_CAPACITY);
        let (tx_agent, mut rx_agent) = mpsc::channel(1);
        let agent_kick = CancellationToken::new();
        hub.join(joining(5, None, false), tx5, CancellationToken::new());
        let six = hub.join(joining(6, None, true), tx6, CancellationToken::new());
        hub.join(joining(AGENT_UID, None, false), tx_v0_agent, CancellationToken::new());
        hub.join(joining(AGENT_UID, None, true), tx_agent, agent_kick.clone());
        assert_eq!(hub.online_users(), BTreeSet::from([u(5), u(6)]));

        assert_eq!(hub.deliver(&message(5, "a"), true), 3);
        assert_eq!(next_text(&mut rx5).await.as_deref(), Some("a"));
        assert_eq!(next_text(&mut rx_agent).await.as_deref(), Some("a"));
        assert_eq!(next_text(&mut rx_v0_agent).await.as_deref(), Some("a"));
        assert!(no_message(&mut rx6));

        // A broadcast copy skips the v0 agent, still reaches the v1 agent and the user.
        assert_eq!(hub.deliver(&message(6, "copy"), false), 2);
        assert_eq!(next_text(&mut rx6).await.as_deref(), Some("copy"));
        assert!(no_message(&mut rx_v0_agent));

        // The v1 agent's outbox now holds one frame: the next overflows and kicks it.
        assert!(!agent_kick.is_cancelled());
        hub.deliver(&message(5, "c"), true);
        assert!(agent_kick.is_cancelled());

        hub.leave(c(6), six, &[]);
        assert!(hub.is_online(c(5)) && hub.agents_online());
        assert!(!hub.is_online(c(6)));
    }

    fn texts(rx: &mut mpsc::Receiver<Outgoing>) -> Vec<String> {
        let mut texts = vec![];
        while let Ok(Outgoing::Text(text)) = rx.try_recv() {
            texts.push(text.as_str().to_owned());
        }
        texts
    }

    #[test]
    fn presence_is_announced_on_first_join_and_last_leave_to_v1_peers() {
        let hub = Hub::default();
        let (agent_tx, mut agent_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (user_tx, mut user_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (tab_tx, _tab_rx) = mpsc::channel(OUTBOX_CAPACITY);
        hub.join(joining(AGENT_UID, None, true), agent_tx, CancellationToken::new());
        let first = hub.join(joining(5, Some("Alice".into()), true), user_tx, CancellationToken::new());
        assert_eq!(
            texts(&mut agent_rx),
            vec![r#"{"type":"presence","conversation":5,"online":true,"name":"Alice"}"#]
        );
        assert_eq!(hub.online_users_named().get(&u(5)), Some(&Some("Alice".to_owned())));
        let second = hub.join(joining(5, None, true), tab_tx, CancellationToken::new());
        assert!(texts(&mut agent_rx).is_empty(), "a second tab is not news");
        let now = Instant::now();
        hub.leave_at(c(5), first, &[], now);
        assert!(texts(&mut agent_rx).is_empty());
        hub.leave_at(c(5), second, &[], now);
        hub.sweep(now + PRESENCE_GRACE / 2);
        assert!(texts(&mut agent_rx).is_empty(), "not before the grace is over");
        hub.sweep(now + PRESENCE_GRACE);
        assert_eq!(texts(&mut agent_rx), vec![r#"{"type":"presence","conversation":5,"online":false}"#]);
        hub.sweep(now + PRESENCE_GRACE * 2);
        assert!(texts(&mut agent_rx).is_empty(), "once");
        assert!(hub.online_users_named().is_empty());
        assert!(texts(&mut user_rx).is_empty(), "users are not told about other users");
        assert!(hub.agents_online());
    }

    #[test]
    fn presence_elsewhere_is_announced_once_whichever_instance_people_are_on() {
        let hub = Hub::default();
        let (agent_tx, mut agent_rx) = mpsc::channel(OUTBOX_CAPACITY);
        hub.join(joining(AGENT_UID, None, true), agent_tx, CancellationToken::new());
        hub.set_remote(HashMap::from([(5, Some("Ann".to_owned())), (6, None)]), |_| vec![]);
        let mut told = texts(&mut agent_rx);
        told.sort();
        assert_eq!(
            told,
            vec![
                r#"{"type":"presence","conversation":5,"online":true,"name":"Ann"}"#,
                r#"{"type":"presence","conversation":6,"online":true}"#,
            ]
        );
        assert!(hub.is_online(c(5)) && hub.online_users() == BTreeSet::from([u(5), u(6)]));
        // 6 opens a tab here too: not news; then leaves the other instance: still online here.
        let (tab_tx, _tab_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let tab = hub.join(joining(6, None, true), tab_tx, CancellationToken::new());
        hub.set_remote(HashMap::from([(5, Some("Ann".to_owned()))]), |_| vec![]);
        assert!(texts(&mut agent_rx).is_empty());
        // 5's instance vanishes: offline; 6's last tab here goes: offline.
        hub.set_remote(HashMap::new(), |_| vec![]);
        assert_eq!(
            texts(&mut agent_rx),
            vec![r#"{"type":"presence","conversation":5,"online":false,"name":"Ann"}"#]
        );
        let now = Instant::now();
        hub.leave_at(c(6), tab, &[], now);
        assert_eq!(hub.local_people().get(&6), Some(&None), "within its grace: online to the others");
        hub.set_remote(HashMap::new(), |_| vec![]);
        assert!(texts(&mut agent_rx).is_empty());
        hub.sweep(now + PRESENCE_GRACE);
        assert_eq!(texts(&mut agent_rx), vec![r#"{"type":"presence","conversation":6,"online":false}"#]);
        assert!(hub.online_users().is_empty());
        assert_eq!(hub.local_people().keys().copied().collect::<Vec<_>>(), vec![AGENT_UID]);
    }

    #[tokio::test]
    async fn peer_messages_and_presence_reach_friends_on_v2_only_never_agents() {
        let hub = Hub::default();
        let (agent_tx, mut agent_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (ann_tx, mut ann_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (ann_v1_tx, mut ann_v1_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (stranger_tx, mut stranger_rx) = mpsc::channel(OUTBOX_CAPACITY);
        hub.join(joining(AGENT_UID, None, true), agent_tx, CancellationToken::new());
        hub.join(Joining { v2: true, ..joining(5, None, true) }, ann_tx, CancellationToken::new());
        hub.join(joining(5, None, true), ann_v1_tx, CancellationToken::new());
        hub.join(Joining { v2: true, ..joining(7, None, true) }, stranger_tx, CancellationToken::new());
        let (bob_tx, _bob_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let bob = hub.join(
            Joining { v2: true, friends: vec![u(5)], ..joining(6, None, true) },
            bob_tx,
            CancellationToken::new(),
        );
        assert_eq!(texts(&mut ann_rx), vec![r#"{"type":"friend_presence","uid":6,"online":true}"#]);
        assert!(texts(&mut ann_v1_rx).is_empty(), "a v1 tab knows nothing of friends");
        assert!(texts(&mut stranger_rx).is_empty(), "presence goes to friends only");

        assert_eq!(hub.deliver_peer(&message(-2, "hi Ann"), (u(5), u(6))), 2, "Ann's v2 tab and Bob");
        assert_eq!(next_text(&mut ann_rx).await.as_deref(), Some("hi Ann"));
        assert!(no_message(&mut ann_v1_rx) && no_message(&mut stranger_rx));
        assert!(no_message(&mut agent_rx), "agents never see a peer conversation");
        assert_eq!(hub.deliver(&message(-2, "misrouted"), true), 0, "even when asked to");
        hub.notify(
            ConversationId::lit(-2),
            &ServerMessage::Typing { conversation: ConversationId::lit(-2), agent: false },
            None,
        );
        assert!(texts(&mut agent_rx).iter().all(|t| t.contains("presence")));

        let now = Instant::now();
        hub.leave_at(c(6), bob, &[u(5)], now);
        hub.sweep(now + PRESENCE_GRACE);
        assert_eq!(texts(&mut ann_rx), vec![r#"{"type":"friend_presence","uid":6,"online":false}"#]);
    }

    /// A reload, or a tap from one user page to the other: the person is back within the
    /// grace and nobody who saw them online sees them leave.
    #[test]
    fn coming_back_within_the_grace_is_not_announced_as_leaving() {
        let hub = Hub::default();
        let (agent_tx, mut agent_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (ann_tx, mut ann_rx) = mpsc::channel(OUTBOX_CAPACITY);
        hub.join(joining(AGENT_UID, None, true), agent_tx, CancellationToken::new());
        hub.join(Joining { v2: true, ..joining(5, None, true) }, ann_tx, CancellationToken::new());
        texts(&mut agent_rx);
        let (bob_tx, _bob_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let bob = Joining { v2: true, friends: vec![u(5)], ..joining(6, None, true) };
        let page = hub.join(bob, bob_tx, CancellationToken::new());
        let online = (
            vec![r#"{"type":"presence","conversation":6,"online":true}"#.to_owned()],
            vec![r#"{"type":"friend_presence","uid":6,"online":true}"#.to_owned()],
        );
        assert_eq!((texts(&mut agent_rx), texts(&mut ann_rx)), online);
        let now = Instant::now();
        hub.leave_at(c(6), page, &[u(5)], now);
        assert!(!hub.is_online(c(6)), "no connection: nothing is routed to it");
        let (bob_tx, _bob_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let bob = Joining { v2: true, friends: vec![u(5)], ..joining(6, None, true) };
        let other_page = hub.join(bob, bob_tx, CancellationToken::new());
        hub.sweep(now + PRESENCE_GRACE * 2);
        // Told again that Bob is online (whoever came meanwhile learnt otherwise); never offline.
        assert_eq!((texts(&mut agent_rx), texts(&mut ann_rx)), online);
        // Gone for good this time.
        let later = now + PRESENCE_GRACE * 3;
        hub.leave_at(c(6), other_page, &[u(5)], later);
        hub.sweep(later + PRESENCE_GRACE);
        assert_eq!(texts(&mut ann_rx), vec![r#"{"type":"friend_presence","uid":6,"online":false}"#]);
        assert_eq!(texts(&mut agent_rx), vec![r#"{"type":"presence","conversation":6,"online":false}"#]);
    }
}
