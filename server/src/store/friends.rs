//! Friends, requests, blocks and peer conversations in the store. The graph (who is friends
//! with whom, who blocked whom, each pair's conversation, people's names) is read once at
//! open and kept in memory beside the tables, like the read positions: routing a message or
//! a presence change costs no query. Every change is written under the store's write lock,
//! then applied to the graph.

use std::collections::{HashMap, HashSet};

use super::{begin_write, with_pool, Db, Row, Store, StoreError, COLUMNS};
use kefu_protocol::friends::{
    Friend, Friends, Person, Request, MAX_FRIENDS, MAX_PENDING_REQUESTS, REQUEST_EXPIRY_SECS,
};
use kefu_protocol::ids::{PeerConversationId, UserId};
use kefu_protocol::v1::{ConversationId, Message, Seq};

/// Why a friend operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum FriendError {
    #[error("not friends")]
    NotFriends,
    #[error("one of you has blocked the other")]
    Blocked,
    #[error("at most {MAX_FRIENDS} friends")]
    TooManyFriends,
    #[error("no such user")]
    UnknownUser,
    #[error("no such request")]
    NoRequest,
    #[error("{MAX_PENDING_REQUESTS} requests are already waiting for this user's answer")]
    RequestsFull,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for FriendError {
    fn from(err: sqlx::Error) -> Self {
        FriendError::Store(err.into())
    }
}

/// What [`Store::request_friend`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A request is pending (new, or the same one again).
    Pending,
    /// They had asked too (or were already friends): friends now, in this conversation.
    Friends(ConversationId),
}

/// The friend graph, in memory.
#[derive(Default)]
pub(super) struct Graph {
    /// Every pair ever made, by its conversation: (low uid, high uid).
    pairs: HashMap<PeerConversationId, (UserId, UserId)>,
    /// Each user's pairs (friends now or before): the peer conversations they may resume.
    pairs_of: HashMap<UserId, Vec<PeerConversationId>>,
    /// Each user's current friends, with their conversation.
    friends: HashMap<UserId, HashMap<UserId, PeerConversationId>>,
    /// (blocker, blocked).
    blocks: HashSet<(UserId, UserId)>,
    /// Name and avatar each user last connected with.
    people: HashMap<UserId, (String, String)>,
    /// Read positions in peer conversations: (conversation, member) → seq.
    member_reads: HashMap<(PeerConversationId, UserId), Seq>,
}

fn ordered(a: UserId, b: UserId) -> (UserId, UserId) {
    (a.min(b), a.max(b))
}

/// A pair's conversation id from its row id (1, 2, …): -2, -3, …; `None` past the range.
fn conversation_id(pair_id: i64) -> Option<PeerConversationId> {
    PeerConversationId::new((-1i64).checked_sub(pair_id)?)
}

/// Two stored user ids, if both are in range (none other is ever written).
fn users(a: i64, b: i64) -> Option<(UserId, UserId)> {
    Some((UserId::new(a)?, UserId::new(b)?))
}

impl Graph {
    pub(super) async fn load(db: &Db) -> Result<Graph, StoreError> {
        let mut graph = Graph::default();
        let pairs: Vec<(i64, i64, i64, bool)> = with_pool!(db, pool => {
            sqlx::query_as("SELECT id, low, high, friends <> 0 FROM pairs").fetch_all(pool).await?
        });
        for (id, low, high, friends) in pairs {
            let (Some(conversation), Some((low, high))) = (conversation_id(id), users(low, high)) else {
                continue;
            };
            graph.add_pair(conversation, low, high);
            if friends {
                graph.link(low, high, conversation);
            }
        }
        let blocks: Vec<(i64, i64)> = with_pool!(db, pool => sqlx::query_as("SELECT blocker, blocked FROM blocks").fetch_all(pool).await?);
        graph.blocks.extend(blocks.into_iter().filter_map(|(a, b)| users(a, b)));
        let people: Vec<(i64, String, String)> = with_pool!(db, pool => sqlx::query_as("SELECT uid, name, avatar FROM people").fetch_all(pool).await?);
        graph.people.extend(
            people.into_iter().filter_map(|(uid, name, avatar)| Some((UserId::new(uid)?, (name, avatar)))),
        );
        const READS: &str = "SELECT conversation, side, seq FROM reads WHERE conversation <= -2";
        let reads: Vec<(i64, String, i64)> =
            with_pool!(db, pool => sqlx::query_as(READS).fetch_all(pool).await?);
        for (conversation, side, seq) in reads {
            if let (Some(conversation), Ok(uid)) =
                (PeerConversationId::new(conversation), side.parse::<UserId>())
            {
                graph.member_reads.insert((conversation, uid), seq.max(0) as Seq);
            }
        }
        Ok(graph)
    }

    fn add_pair(&mut self, conversation: PeerConversationId, low: UserId, high: UserId) {
        // A renewed friendship finds its pair already there.
        if self.pairs.insert(conversation, (low, high)).is_none() {
            for uid in [low, high] {
                self.pairs_of.entry(uid).or_default().push(conversation);
            }
        }
    }

    fn link(&mut self, a: UserId, b: UserId, conversation: PeerConversationId) {
        self.friends.entry(a).or_default().insert(b, conversation);
        self.friends.entry(b).or_default().insert(a, conversation);
    }

    fn unlink(&mut self, a: UserId, b: UserId) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(friends) = self.friends.get_mut(&x) {
                friends.remove(&y);
                if friends.is_empty() {
                    self.friends.remove(&x);
                }
            }
        }
    }

    fn friend_count(&self, uid: UserId) -> usize {
        self.friends.get(&uid).map_or(0, HashMap::len)
    }

    fn blocked_either_way(&self, a: UserId, b: UserId) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }

    fn person(&self, uid: UserId) -> Person {
        let (name, avatar) = self.people.get(&uid).cloned().unwrap_or_default();
        Person { uid, name, avatar }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Every request between two users, either way.
const DELETE_REQUESTS: &str =
    "DELETE FROM friend_requests WHERE (from_uid = $1 AND to_uid = $2) OR (from_uid = $2 AND to_uid = $1)";

impl Store {
    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The two members of a peer conversation.
    pub fn members(&self, conversation: PeerConversationId) -> Option<(UserId, UserId)> {
        self.graph().pairs.get(&conversation).copied()
    }

    /// `uid`'s current friends.
    pub fn friends_of(&self, uid: UserId) -> Vec<UserId> {
        self.graph().friends.get(&uid).map(|f| f.keys().copied().collect()).unwrap_or_default()
    }

    pub fn are_friends(&self, a: UserId, b: UserId) -> bool {
        self.graph().friends.get(&a).is_some_and(|f| f.contains_key(&b))
    }

    /// Whether one of `a` and `b` has blocked the other.
    pub fn blocked_either_way(&self, a: UserId, b: UserId) -> bool {
        self.graph().blocked_either_way(a, b)
    }

    /// Every peer conversation `uid` is a member of (friends now or before).
    pub fn peer_conversations_of(&self, uid: UserId) -> Vec<PeerConversationId> {
        self.graph().pairs_of.get(&uid).cloned().unwrap_or_default()
    }

    /// The name `uid` last connected with (empty if none).
    pub fn person_name(&self, uid: UserId) -> String {
        self.graph().people.get(&uid).map(|(name, _)| name.clone()).unwrap_or_default()
    }

    /// Whether the server has seen `uid`.
    pub fn knows(&self, uid: UserId) -> bool {
        self.graph().people.contains_key(&uid)
    }

    /// Notes the name and avatar `uid` connects with (written only when they change).
    pub async fn remember_person(&self, uid: UserId, name: &str, avatar: &str) -> Result<(), StoreError> {
        if self.graph().people.get(&uid).is_some_and(|(n, a)| n == name && a == avatar) {
            return Ok(());
        }
        let _writing = self.writes.graph().lock().await;
        const PERSON: &str = "INSERT INTO people (uid, name, avatar) VALUES ($1, $2, $3) \
             ON CONFLICT (uid) DO UPDATE SET name = excluded.name, avatar = excluded.avatar";
        with_pool!(&self.db, pool => { sqlx::query(PERSON).bind(uid.get()).bind(name).bind(avatar).execute(pool).await?; });
        self.graph().people.insert(uid, (name.to_owned(), avatar.to_owned()));
        Ok(())
    }

    /// `from` asks `to` to be friends; if `to` had asked `from` (a crossing request), they are
    /// friends at once.
    pub async fn request_friend(
        &self,
        from: UserId,
        to: UserId,
        note: &str,
    ) -> Result<Requested, FriendError> {
        let now = now_secs();
        let _writing = self.writes.graph().lock().await;
        {
            let graph = self.graph();
            if from == to || !graph.people.contains_key(&to) {
                return Err(FriendError::UnknownUser);
            }
            if graph.blocked_either_way(from, to) {
                return Err(FriendError::Blocked);
            }
            if let Some(conversation) = graph.friends.get(&from).and_then(|f| f.get(&to)) {
                return Ok(Requested::Friends((*conversation).into()));
            }
        }
        const CROSSING: &str =
            "SELECT sent FROM friend_requests WHERE from_uid = $1 AND to_uid = $2 AND sent >= $3";
        let since = now.saturating_sub(REQUEST_EXPIRY_SECS) as i64;
        let crossing: Option<(i64,)> = with_pool!(&self.db, pool => {
            sqlx::query_as(CROSSING).bind(to.get()).bind(from.get()).bind(since).fetch_optional(pool).await?
        });
        if crossing.is_some() {
            return Ok(Requested::Friends(self.befriend_locked(from, to).await?.into()));
        }
        self.check_room(from, to)?;
        // A bounded inbox: a crowd cannot bury someone in requests (a repeat of one pending
        // is not a new one).
        const WAITING: &str =
            "SELECT COUNT(*) FROM friend_requests WHERE to_uid = $1 AND sent >= $2 AND from_uid <> $3";
        let (waiting,): (i64,) = with_pool!(&self.db, pool => {
            sqlx::query_as(WAITING).bind(to.get()).bind(since).bind(from.get()).fetch_one(pool).await?
        });
        if waiting >= MAX_PENDING_REQUESTS as i64 {
            return Err(FriendError::RequestsFull);
        }
        const REQUEST: &str =
            "INSERT INTO friend_requests (from_uid, to_uid, note, sent) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (from_uid, to_uid) DO UPDATE SET note = excluded.note";
        with_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM friend_requests WHERE sent < $1").bind(since).execute(pool).await?;
            sqlx::query(REQUEST).bind(from.get()).bind(to.get()).bind(note).bind(now as i64).execute(pool).await?;
        });
        Ok(Requested::Pending)
    }

    /// `me` answers `from`'s request; `Some(conversation)` when accepted.
    pub async fn answer_request(
        &self,
        me: UserId,
        from: UserId,
        accept: bool,
    ) -> Result<Option<ConversationId>, FriendError> {
        let _writing = self.writes.graph().lock().await;
        const FOUND: &str = "SELECT sent FROM friend_requests WHERE from_uid = $1 AND to_uid = $2";
        let found: Option<(i64,)> = with_pool!(&self.db, pool => sqlx::query_as(FOUND).bind(from.get()).bind(me.get()).fetch_optional(pool).await?);
        match found {
            Some((sent,)) if (sent.max(0) as u64) >= now_secs().saturating_sub(REQUEST_EXPIRY_SECS) => {}
            _ => return Err(FriendError::NoRequest),
        }
        if !accept {
            self.delete_requests(me, from).await?;
            return Ok(None);
        }
        Ok(Some(self.befriend_locked(me, from).await?.into()))
    }

    /// `me` withdraws their request to `to`.
    pub async fn cancel_request(&self, me: UserId, to: UserId) -> Result<(), FriendError> {
        let _writing = self.writes.graph().lock().await;
        const CANCEL: &str = "DELETE FROM friend_requests WHERE from_uid = $1 AND to_uid = $2";
        let done = with_pool!(&self.db, pool => sqlx::query(CANCEL).bind(me.get()).bind(to.get()).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(FriendError::NoRequest);
        }
        Ok(())
    }

    /// Benchmark data: `uid` ("Me") with `friends` friends (uids `uid + 1` …, "Friend N"),
    /// and `messages` peer messages spread over their conversations, alternating sender,
    /// the newest last. Refuses a database that already has messages.
    pub async fn seed_friends(&self, uid: UserId, friends: u32, messages: u32) -> Result<(), FriendError> {
        if !self.conversations().await?.is_empty() || !self.friends_of(uid).is_empty() {
            return Err(StoreError::NotEmpty.into());
        }
        let friends = friends.clamp(1, MAX_FRIENDS as u32);
        self.remember_person(uid, "Me", "").await?;
        let mut pairs = Vec::with_capacity(friends as usize);
        for n in 1..=i64::from(friends) {
            let friend = UserId::new(uid.get() + n).ok_or(FriendError::UnknownUser)?;
            self.remember_person(friend, &format!("Friend {n}"), "").await?;
            pairs.push((friend, self.make_friends(uid, friend).await?));
        }
        let now = chrono::Local::now();
        let _writing = self.writes.graph().lock().await;
        with_pool!(&self.db, pool => {
        let mut tx = pool.begin().await?;
        for n in 0..messages {
            let (friend, conversation) = pairs[(n % friends) as usize];
            let seq = i64::from(n / friends) + 1;
            let (from, name) = if seq % 2 == 0 { (uid, "Me".to_owned()) } else { (friend, format!("Friend {}", friend.get() - uid.get())) };
            let time = now - chrono::Duration::seconds(i64::from(messages - n));
            sqlx::query(&super::INSERT_MESSAGE)
                .bind(conversation.get())
                .bind(seq)
                .bind(format!("seed-{n}"))
                .bind(from.get())
                .bind("user")
                .bind(name)
                .bind("")
                .bind(time.format(kefu_protocol::CREATE_TIME_FORMAT).to_string())
                .bind(format!("Message {seq} between {uid} and {friend}"))
                .execute(&mut *tx)
                .await?;
        }
        for statement in super::RECOUNT {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        });
        let last = super::last_seqs(&self.db).await?;
        self.positions().last_seq = last;
        Ok(())
    }

    /// Makes `a` and `b` friends without a request (an invite link, the app's backend).
    pub async fn make_friends(&self, a: UserId, b: UserId) -> Result<ConversationId, FriendError> {
        let _writing = self.writes.graph().lock().await;
        if a == b {
            return Err(FriendError::UnknownUser);
        }
        if self.graph().blocked_either_way(a, b) {
            return Err(FriendError::Blocked);
        }
        Ok(self.befriend_locked(a, b).await?.into())
    }

    /// Ends the friendship of `a` and `b` (the conversation stays, closed to new messages).
    pub async fn end_friendship(&self, a: UserId, b: UserId) -> Result<(), FriendError> {
        let _writing = self.writes.graph().lock().await;
        if !self.are_friends(a, b) {
            return Err(FriendError::NotFriends);
        }
        self.unlink_locked(a, b).await?;
        // An invite either had from before must not make them friends again.
        Ok(self.renew_invites(&[a, b]).await?)
    }

    /// `me` blocks `other`: no friendship, no requests either way, refused from now on.
    pub async fn block(&self, me: UserId, other: UserId) -> Result<(), FriendError> {
        let _writing = self.writes.graph().lock().await;
        if me == other || !self.knows(other) {
            return Err(FriendError::UnknownUser);
        }
        const BLOCK: &str = "INSERT INTO blocks (blocker, blocked) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        with_pool!(&self.db, pool => { sqlx::query(BLOCK).bind(me.get()).bind(other.get()).execute(pool).await?; });
        self.delete_requests(me, other).await?;
        self.unlink_locked(me, other).await?;
        self.renew_invites(&[me, other]).await?;
        self.graph().blocks.insert((me, other));
        Ok(())
    }

    pub async fn unblock(&self, me: UserId, other: UserId) -> Result<(), FriendError> {
        let _writing = self.writes.graph().lock().await;
        const UNBLOCK: &str = "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2";
        with_pool!(&self.db, pool => { sqlx::query(UNBLOCK).bind(me.get()).bind(other.get()).execute(pool).await?; });
        // An invite from before the block must not make them friends now.
        self.renew_invites(&[me, other]).await?;
        self.graph().blocks.remove(&(me, other));
        Ok(())
    }

    /// A user's friends screen. `online` says who is connected.
    pub async fn friends_snapshot(
        &self,
        uid: UserId,
        online: impl Fn(UserId) -> bool,
        invite: String,
    ) -> Result<Friends, StoreError> {
        let incoming = self.pending_requests(uid, "from_uid", "to_uid").await?;
        let outgoing = self.pending_requests(uid, "to_uid", "from_uid").await?;
        // The latest message and the unread count of every friend's conversation, in two
        // queries whatever the number of friends. Per friend, read once under the locks:
        // (conversation, friend, last seq, the reader's position).
        let per_friend: Vec<(ConversationId, UserId, Seq, Seq)> = {
            let graph = self.graph();
            let positions = self.positions();
            let friends = graph.friends.get(&uid).into_iter().flatten();
            friends
                .map(|(friend, peer)| {
                    let conversation = ConversationId::from(*peer);
                    let last = positions.last_seq.get(&conversation).copied().unwrap_or(0);
                    let read = graph.member_reads.get(&(*peer, uid)).copied().unwrap_or(0);
                    (conversation, *friend, last, read.min(last))
                })
                .collect()
        };
        let wanted: Vec<(ConversationId, Seq)> = per_friend
            .iter()
            .filter(|f| f.2 > 0)
            .map(|&(conversation, _, last, _)| (conversation, last))
            .collect();
        let reads: Vec<(ConversationId, Seq)> =
            per_friend.iter().map(|&(conversation, _, _, read)| (conversation, read)).collect();
        // (conversation, seq) pairs as a VALUES list: one query for every friend.
        let last_rows: Vec<Row> = if wanted.is_empty() {
            vec![]
        } else {
            with_pool!(&self.db, pool => {
                let mut query = sqlx::QueryBuilder::new("WITH w (c, s) AS (");
                query.push_values(&wanted, |mut row, &(conversation, seq)| {
                    row.push_bind(conversation.get()).push_bind(seq as i64);
                });
                query.push(format!(") SELECT {COLUMNS} FROM messages JOIN w ON conversation = w.c AND seq = w.s"));
                query.build_query_as::<Row>().fetch_all(pool).await?
            })
        };
        let mut last: HashMap<ConversationId, Message> =
            last_rows.into_iter().map(Message::from).map(|m| (m.conversation, m)).collect();
        let unread_rows: Vec<(i64, i64)> = if reads.is_empty() {
            vec![]
        } else {
            with_pool!(&self.db, pool => {
                let mut query = sqlx::QueryBuilder::new("WITH r (c, s) AS (");
                query.push_values(&reads, |mut row, &(conversation, seq)| {
                    row.push_bind(conversation.get()).push_bind(seq as i64);
                });
                query.push(") SELECT conversation, COUNT(*) FROM messages JOIN r ON conversation = r.c AND seq > r.s WHERE uid <> ");
                query.push_bind(uid.get()).push(" GROUP BY conversation");
                query.build_query_as::<(i64, i64)>().fetch_all(pool).await?
            })
        };
        let unread: HashMap<ConversationId, u64> = unread_rows
            .into_iter()
            .filter_map(|(c, n)| Some((ConversationId::new(c)?, n.max(0) as u64)))
            .collect();
        // Asked before the graph is locked: `online` asks the hub, which holds its own lock
        // while it reads friends from the graph (lock order: hub, then graph).
        let online: HashMap<UserId, bool> = per_friend.iter().map(|f| (f.1, online(f.1))).collect();
        let graph = self.graph();
        let request = |(other, note, sent): (i64, String, i64)| {
            Some(Request { person: graph.person(UserId::new(other)?), note, sent: sent.max(0) as u64 })
        };
        let mut friends: Vec<Friend> = per_friend
            .into_iter()
            .map(|(conversation, friend, _, _)| Friend {
                person: graph.person(friend),
                conversation,
                online: online.get(&friend).copied().unwrap_or(false),
                last: last.remove(&conversation),
                unread: unread.get(&conversation).copied().unwrap_or(0),
            })
            .collect();
        kefu_protocol::friends::sort_recent_first(&mut friends);
        let mut blocked: Vec<Person> = graph
            .blocks
            .iter()
            .filter(|(blocker, _)| *blocker == uid)
            .map(|(_, other)| graph.person(*other))
            .collect();
        blocked.sort_by_key(|p| p.uid);
        Ok(Friends {
            friends,
            incoming: incoming.into_iter().filter_map(request).collect(),
            outgoing: outgoing.into_iter().filter_map(request).collect(),
            blocked,
            invite,
        })
    }

    /// Requests not expired where `uid` is in column `mine`: (the other, note, sent), newest first.
    async fn pending_requests(
        &self,
        uid: UserId,
        other: &str,
        mine: &str,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let since = now_secs().saturating_sub(REQUEST_EXPIRY_SECS) as i64;
        let query = format!(
            "SELECT {other}, note, sent FROM friend_requests WHERE {mine} = $1 AND sent >= $2 ORDER BY sent DESC"
        );
        Ok(
            with_pool!(&self.db, pool => sqlx::query_as(&query).bind(uid.get()).bind(since).fetch_all(pool).await?),
        )
    }

    /// Advances `uid`'s read position in a peer conversation (never backwards, never past the
    /// last message); returns the position now stored.
    pub async fn mark_member_read(
        &self,
        peer: PeerConversationId,
        uid: UserId,
        seq: Seq,
    ) -> Result<Seq, StoreError> {
        let conversation = ConversationId::from(peer);
        let _writing = self.writes.conversation(conversation).lock().await;
        let last = self.last_seq(conversation).await?;
        let stored_before = self.graph().member_reads.get(&(peer, uid)).copied().unwrap_or(0);
        let seq = seq.min(last);
        if seq <= stored_before {
            return Ok(stored_before);
        }
        const MARK: &str = "INSERT INTO reads (conversation, side, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (conversation, side) DO UPDATE \
             SET seq = CASE WHEN excluded.seq > reads.seq THEN excluded.seq ELSE reads.seq END";
        let side = uid.to_string();
        with_pool!(&self.db, pool => { sqlx::query(MARK).bind(conversation.get()).bind(&side).bind(seq as i64).execute(pool).await?; });
        self.graph().member_reads.insert((peer, uid), seq);
        Ok(seq)
    }

    /// Notes a member's read position stored by another instance.
    pub fn note_member_read(&self, conversation: PeerConversationId, uid: UserId, seq: Seq) {
        let mut graph = self.graph();
        let stored = graph.member_reads.entry((conversation, uid)).or_insert(0);
        *stored = (*stored).max(seq);
    }

    /// Both members' read positions in a peer conversation.
    pub fn member_reads(&self, conversation: PeerConversationId) -> Vec<(UserId, Seq)> {
        let graph = self.graph();
        let Some((a, b)) = graph.pairs.get(&conversation).copied() else { return vec![] };
        [a, b]
            .into_iter()
            .map(|uid| (uid, graph.member_reads.get(&(conversation, uid)).copied().unwrap_or(0)))
            .collect()
    }

    fn check_room(&self, a: UserId, b: UserId) -> Result<(), FriendError> {
        let graph = self.graph();
        if graph.friend_count(a) >= MAX_FRIENDS || graph.friend_count(b) >= MAX_FRIENDS {
            return Err(FriendError::TooManyFriends);
        }
        Ok(())
    }

    /// Makes them friends (the write lock held): the pair's row (made once), its flag, no
    /// more requests between them.
    async fn befriend_locked(&self, a: UserId, b: UserId) -> Result<PeerConversationId, FriendError> {
        if let Some(conversation) = self.graph().friends.get(&a).and_then(|f| f.get(&b)) {
            return Ok(*conversation);
        }
        self.check_room(a, b)?;
        let (low, high) = ordered(a, b);
        const PAIR: &str = "INSERT INTO pairs (low, high, friends) VALUES ($1, $2, 1) \
             ON CONFLICT (low, high) DO UPDATE SET friends = 1 RETURNING id";
        const KNOWN: &str = "INSERT INTO people (uid, name) VALUES ($1, '') ON CONFLICT DO NOTHING";
        let begin = begin_write(&self.db);
        let id: i64 = with_pool!(&self.db, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let (id,): (i64,) = sqlx::query_as(PAIR).bind(low.get()).bind(high.get()).fetch_one(&mut *tx).await?;
            sqlx::query(DELETE_REQUESTS).bind(a.get()).bind(b.get()).execute(&mut *tx).await?;
            // Someone the app's backend names may not have connected yet: known, without a name.
            for uid in [a, b] {
                sqlx::query(KNOWN).bind(uid.get()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        });
        let conversation = conversation_id(id).ok_or(StoreError::IdsExhausted)?;
        let mut graph = self.graph();
        graph.add_pair(conversation, low, high);
        graph.link(a, b, conversation);
        for uid in [a, b] {
            graph.people.entry(uid).or_default();
        }
        Ok(conversation)
    }

    async fn unlink_locked(&self, a: UserId, b: UserId) -> Result<(), FriendError> {
        let (low, high) = ordered(a, b);
        const UNLINK: &str = "UPDATE pairs SET friends = 0 WHERE low = $1 AND high = $2";
        with_pool!(&self.db, pool => { sqlx::query(UNLINK).bind(low.get()).bind(high.get()).execute(pool).await?; });
        self.graph().unlink(a, b);
        Ok(())
    }

    async fn delete_requests(&self, a: UserId, b: UserId) -> Result<(), FriendError> {
        with_pool!(&self.db, pool => { sqlx::query(DELETE_REQUESTS).bind(a.get()).bind(b.get()).execute(pool).await?; });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(raw: i64) -> UserId {
        UserId::lit(raw)
    }

    use crate::store::test_databases;

    #[tokio::test]
    async fn seeded_friends_have_their_messages_in_order_and_a_second_seed_is_refused() {
        for database in test_databases("friends-seed") {
            let store = Store::open(&database).await.expect("open");
            store.seed_friends(u(10), 4, 22).await.expect("seed");
            let mut friends = store.friends_of(u(10));
            friends.sort_unstable();
            assert_eq!(friends, vec![u(11), u(12), u(13), u(14)]);
            assert_eq!(store.person_name(u(12)), "Friend 2");
            let conversations = store.peer_conversations_of(u(10));
            let mut lasts = vec![];
            for conversation in conversations {
                lasts.push(store.last_seq(conversation.into()).await.expect("last"));
            }
            lasts.sort_unstable();
            assert_eq!(lasts, vec![5, 5, 6, 6], "22 messages over 4 conversations, seq without gaps");
            assert!(matches!(
                store.seed_friends(u(10), 4, 22).await,
                Err(FriendError::Store(StoreError::NotEmpty))
            ));
        }
    }

    #[tokio::test]
    async fn at_most_max_friends_each_and_the_graph_survives_reopening() {
        for database in test_databases("friends-max") {
            let store = Store::open(&database).await.expect("open");
            for friend in 1..=MAX_FRIENDS as i64 {
                store.make_friends(u(0), u(friend)).await.expect("room for one more");
            }
            assert!(matches!(store.make_friends(u(0), u(5_000)).await, Err(FriendError::TooManyFriends)));
            store.remember_person(u(5_000), "Late", "").await.expect("person");
            assert!(matches!(
                store.request_friend(u(5_000), u(0), "").await,
                Err(FriendError::TooManyFriends)
            ));
            store.end_friendship(u(0), u(7)).await.expect("one less");
            let conversation = store.make_friends(u(0), u(5_000)).await.expect("room again");
            assert!(conversation.is_peer());
            // A renewed friendship continues its conversation.
            store.end_friendship(u(0), u(5_000)).await.expect("end");
            assert_eq!(store.make_friends(u(5_000), u(0)).await.expect("again"), conversation);
            assert_eq!(store.members(conversation.peer().expect("peer")), Some((u(0), u(5_000))));
            let reopened = Store::open(&database).await.expect("reopen");
            assert_eq!(reopened.friends_of(u(0)).len(), MAX_FRIENDS);
            assert!(reopened.are_friends(u(5_000), u(0)) && !reopened.are_friends(u(0), u(7)));
        }
    }

    #[tokio::test]
    async fn a_request_expires_after_thirty_days() {
        for database in test_databases("friends-expiry") {
            let store = Store::open(&database).await.expect("open");
            for (uid, name) in [(1, "Ann"), (2, "Bob")] {
                store.remember_person(u(uid), name, "").await.expect("person");
            }
            let old = now_secs() - REQUEST_EXPIRY_SECS - 60;
            const OLD: &str =
                "INSERT INTO friend_requests (from_uid, to_uid, note, sent) VALUES (1, 2, 'old', $1)";
            with_pool!(&store.db, pool => {
                sqlx::query(OLD).bind(old as i64).execute(pool).await.expect("an old request");
            });
            assert!(matches!(store.answer_request(u(2), u(1), true).await, Err(FriendError::NoRequest)));
            let bobs = store.friends_snapshot(u(2), |_| false, String::new()).await.expect("list");
            assert!(bobs.incoming.is_empty(), "an expired request is not shown");
            assert_eq!(
                store.request_friend(u(2), u(1), "").await.expect("request"),
                Requested::Pending,
                "no crossing"
            );
            assert_eq!(
                store.request_friend(u(1), u(2), "").await.expect("request"),
                Requested::Friends(ConversationId::lit(-2))
            );
        }
    }
}
