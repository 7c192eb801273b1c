//! Message storage: an SQLite file in WAL mode through sqlx, schema managed by sqlx
//! migrations (`server/migrations/`).
//!
//! A message is numbered and written before anyone hears of it, under one write lock that
//! also covers its delivery, so every connection sees each conversation in sequence order and
//! an acknowledged message is on disk. `synchronous = NORMAL` in WAL mode keeps committed
//! transactions across a killed process (not across a power cut: use FULL for that).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use kefu_protocol::v1::{ConversationId, Message, Seq};
use kefu_protocol::Role;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::{Mutex, MutexGuard};

mod friends;
pub use friends::{FriendError, Requested};

/// Storage errors, said plainly, with their source kept.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("no randomness for the server key: {0}")]
    Randomness(#[source] getrandom::Error),
    #[error("the database already has messages; seed an empty one")]
    NotEmpty,
}

/// A message to store; the store gives it its sequence number.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub id: String,
    pub uid: i64,
    pub role: Role,
    pub username: String,
    pub avatar: String,
    pub create_time: String,
    pub text: String,
}

/// What [`Store::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now.
    New(Message),
    /// Stored before under the same id: not stored or delivered again.
    Repeat(Message),
}

/// What the store keeps of an agent account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAccount {
    /// Argon2id, PHC string.
    pub password_hash: String,
    /// Sessions carry the epoch they began in; a new password moves it on, ending the older ones.
    pub session_epoch: u64,
}

pub struct Store {
    pool: SqlitePool,
    write: Mutex<()>,
    /// Every conversation's last `seq` and read positions, read once at open and kept with
    /// each write: a resume that has missed nothing costs no query. After a restart, ten
    /// thousand clients resuming at once would otherwise queue ~3 queries each on the pool.
    positions: std::sync::Mutex<Positions>,
    /// Friends, blocks, pairs and people ([`friends`]), kept the same way.
    graph: std::sync::Mutex<friends::Graph>,
}

/// What [`Store::positions`] holds, per conversation.
#[derive(Default)]
struct Positions {
    last_seq: std::collections::HashMap<ConversationId, Seq>,
    /// (user's, agents') read positions.
    reads: std::collections::HashMap<ConversationId, (Seq, Seq)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    conversation: i64,
    seq: i64,
    client_id: String,
    uid: i64,
    role: String,
    username: String,
    avatar: String,
    create_time: String,
    text: String,
}

impl From<Row> for Message {
    fn from(row: Row) -> Self {
        Message {
            conversation: row.conversation,
            seq: row.seq.max(0) as Seq,
            id: row.client_id,
            uid: row.uid,
            role: if row.role == "ai" { Role::Agent } else { Role::User },
            username: row.username,
            avatar: row.avatar,
            create_time: row.create_time,
            text: row.text,
        }
    }
}

/// What a message's JSON frame adds to its text, name, avatar and id, roughly.
const JSON_OVERHEAD: usize = 160;

const COLUMNS: &str = "conversation, seq, client_id, uid, role, username, avatar, create_time, text";

/// Stores one message: binds the [`COLUMNS`] in order.
static INSERT_MESSAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("INSERT INTO messages ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
});

/// Every conversation's last `seq`, read from the messages.
async fn last_seqs(pool: &SqlitePool) -> Result<std::collections::HashMap<ConversationId, Seq>, StoreError> {
    let last: Vec<(i64, i64)> =
        sqlx::query_as("SELECT conversation, MAX(seq) FROM messages GROUP BY conversation").fetch_all(pool).await?;
    Ok(last.into_iter().map(|(conversation, seq)| (conversation, seq.max(0) as Seq)).collect())
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let mut positions = Positions { last_seq: last_seqs(&pool).await?, ..Positions::default() };
        let reads: Vec<(i64, String, i64)> = sqlx::query_as("SELECT conversation, side, seq FROM reads").fetch_all(&pool).await?;
        for (conversation, side, seq) in reads {
            let entry = positions.reads.entry(conversation).or_default();
            match side.as_str() {
                "agent" => entry.1 = seq.max(0) as Seq,
                "user" => entry.0 = seq.max(0) as Seq,
                // A member's position in a peer conversation: the graph keeps those.
                _ => {}
            }
        }
        let graph = friends::Graph::load(&pool).await?;
        Ok(Store {
            pool,
            write: Mutex::new(()),
            positions: std::sync::Mutex::new(positions),
            graph: std::sync::Mutex::new(graph),
        })
    }

    /// Whether the database takes a write now: its write lock is taken and given back (no
    /// change made, nothing synced). For `/readyz`.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        tx.rollback().await?;
        Ok(())
    }

    /// Holds back writes (and so deliveries) while a connection joins, so that it either finds
    /// a message in the store or receives it live.
    pub async fn hold_writes(&self) -> MutexGuard<'_, ()> {
        self.write.lock().await
    }

    /// Stores `new` unless its id is already in the conversation. `deliver` runs under the
    /// write lock right after the commit, so deliveries happen in sequence order.
    pub async fn append(
        &self,
        new: NewMessage,
        deliver: impl FnOnce(&Message),
    ) -> Result<Appended, StoreError> {
        let _writing = self.write.lock().await;
        let existing = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation = ? AND client_id = ?"
        ))
        .bind(new.conversation)
        .bind(&new.id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = existing {
            return Ok(Appended::Repeat(row.into()));
        }
        // IMMEDIATE: the transaction takes the write lock at once, so that it never has to
        // upgrade from reading to writing (which SQLite refuses with SQLITE_BUSY, whatever the
        // busy timeout, when another connection wrote in between).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (seq,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation = ?")
                .bind(new.conversation)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(&INSERT_MESSAGE)
            .bind(new.conversation)
            .bind(seq)
            .bind(&new.id)
            .bind(new.uid)
            .bind(if new.role == Role::Agent { "ai" } else { "user" })
            .bind(&new.username)
            .bind(&new.avatar)
            .bind(&new.create_time)
            .bind(&new.text)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.positions().last_seq.insert(new.conversation, seq.max(0) as Seq);
        let message = Message {
            conversation: new.conversation,
            seq: seq.max(0) as Seq,
            id: new.id,
            uid: new.uid,
            role: new.role,
            username: new.username,
            avatar: new.avatar,
            create_time: new.create_time,
            text: new.text,
        };
        deliver(&message);
        Ok(Appended::New(message))
    }

    /// Up to `limit` messages of a conversation after `seq`, in order.
    pub async fn after(
        &self,
        conversation: ConversationId,
        seq: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        if self.positions().last_seq.get(&conversation).is_none_or(|&last| seq >= last) {
            return Ok(vec![]);
        }
        let rows = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(conversation)
        .bind(seq.min(i64::MAX as u64) as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// The last sequence number of a conversation (0: no message yet).
    pub async fn last_seq(&self, conversation: ConversationId) -> Result<Seq, StoreError> {
        Ok(self.positions().last_seq.get(&conversation).copied().unwrap_or(0))
    }

    fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        // A panic while holding it cannot leave the maps half-written (single inserts).
        self.positions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Up to `limit` messages just before `before` (0: the latest), oldest first, and whether
    /// older ones exist; cut short (newest kept) where their JSON would pass `max_bytes`.
    pub async fn page(
        &self,
        conversation: ConversationId,
        before: Seq,
        limit: u32,
        max_bytes: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let before = if before == 0 { i64::MAX } else { before.min(i64::MAX as u64) as i64 };
        let mut rows = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(conversation)
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        // Newest first here: keep messages while they fit.
        let mut bytes = 0;
        let mut kept = 0;
        for row in &rows {
            bytes +=
                JSON_OVERHEAD + row.text.len() + row.username.len() + row.avatar.len() + row.client_id.len();
            if kept > 0 && bytes > max_bytes {
                has_more = true;
                break;
            }
            kept += 1;
        }
        rows.truncate(kept);
        rows.reverse();
        Ok((rows.into_iter().map(Message::from).collect(), has_more))
    }

    /// Every customer-service conversation that has messages (peer conversations are not
    /// the agents' business).
    pub async fn conversations(&self) -> Result<Vec<ConversationId>, StoreError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT DISTINCT conversation FROM messages WHERE conversation >= 0 ORDER BY conversation")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    /// Advances a side's read position (never backwards, never past the last message);
    /// returns the position now stored. Written under the write lock, like every write.
    pub async fn mark_read(
        &self,
        conversation: ConversationId,
        agent: bool,
        seq: Seq,
    ) -> Result<Seq, StoreError> {
        let side = if agent { "agent" } else { "user" };
        let _writing = self.write.lock().await;
        let (stored,): (i64,) = sqlx::query_as(
            "INSERT INTO reads (conversation, side, seq) \
             VALUES (?1, ?2, MIN(?3, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation = ?1))) \
             ON CONFLICT (conversation, side) DO UPDATE SET seq = MAX(seq, excluded.seq) RETURNING seq",
        )
        .bind(conversation)
        .bind(side)
        .bind(seq.min(i64::MAX as u64) as i64)
        .fetch_one(&self.pool)
        .await?;
        let stored = stored.max(0) as Seq;
        let mut positions = self.positions();
        let entry = positions.reads.entry(conversation).or_default();
        if agent {
            entry.1 = stored;
        } else {
            entry.0 = stored;
        }
        Ok(stored)
    }

    /// Read positions of a conversation: (user's, agents').
    pub async fn reads(&self, conversation: ConversationId) -> Result<(Seq, Seq), StoreError> {
        Ok(self.positions().reads.get(&conversation).copied().unwrap_or_default())
    }

    /// Adds `conversations` made-up conversations (user ids 1..) holding `messages` messages in
    /// all, alternating user and agent, spread evenly, with times one minute apart ending now.
    /// For benchmarks; refuses a database that already has messages.
    pub async fn seed(&self, conversations: u32, messages: u32) -> Result<(), StoreError> {
        if !self.conversations().await?.is_empty() {
            return Err(StoreError::NotEmpty);
        }
        let conversations = conversations.max(1);
        let now = chrono::Local::now();
        let _writing = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        for n in 0..messages {
            let conversation = i64::from(n % conversations) + 1;
            let seq = i64::from(n / conversations) + 1;
            let agent = seq % 2 == 0;
            let minutes = i64::from(messages - n);
            let time = now - chrono::Duration::minutes(minutes);
            sqlx::query(&INSERT_MESSAGE)
                .bind(conversation)
                .bind(seq)
                .bind(format!("seed-{n}"))
                .bind(if agent { kefu_protocol::AGENT_UID } else { conversation })
                .bind(if agent { "ai" } else { "user" })
                .bind(if agent {
                    kefu_protocol::AGENT_NAME.to_owned()
                } else {
                    format!("Customer {conversation}")
                })
                .bind("")
                .bind(time.format(kefu_protocol::CREATE_TIME_FORMAT).to_string())
                .bind(format!("Message {seq} of conversation {conversation}: how can we help?"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let last = last_seqs(&self.pool).await?;
        self.positions().last_seq = last;
        Ok(())
    }

    /// The server's signing key, made (32 random bytes) the first time it is asked for.
    pub async fn server_secret(&self) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(StoreError::Randomness)?;
        sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES ('server_secret', ?)")
            .bind(fresh.as_slice())
            .execute(&self.pool)
            .await?;
        let (secret,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM settings WHERE key = 'server_secret'")
            .fetch_one(&self.pool)
            .await?;
        Ok(secret)
    }

    /// Creates agent `name`, or sets a new password hash if it exists. Returns whether it was new.
    pub async fn put_agent(&self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        let existed = self.agent(name).await?.is_some();
        sqlx::query(
            "INSERT INTO agents (name, password_hash, created_at) VALUES (?, ?, datetime('now')) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, \
             session_epoch = session_epoch + 1",
        )
        .bind(name)
        .bind(password_hash)
        .execute(&self.pool)
        .await?;
        Ok(!existed)
    }

    /// Agent `name`'s account, if there is one.
    pub async fn agent(&self, name: &str) -> Result<Option<AgentAccount>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT password_hash, session_epoch FROM agents WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row
            .map(|(password_hash, epoch)| AgentAccount { password_hash, session_epoch: epoch.max(0) as u64 }))
    }

    pub async fn remove_agent(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM agents WHERE name = ?").bind(name).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn agent_names(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM agents ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    pub async fn has_conversation(&self, conversation: ConversationId) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM messages WHERE conversation = ? LIMIT 1")
            .bind(conversation)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(conversation: i64, id: &str, text: &str) -> NewMessage {
        NewMessage {
            conversation,
            id: id.into(),
            uid: conversation,
            role: Role::User,
            username: format!("user{conversation}"),
            avatar: String::new(),
            create_time: "2026-11-26 10:00:00".into(),
            text: text.into(),
        }
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("kefu-store-{}-{name}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    }

    #[tokio::test]
    async fn numbers_per_conversation_dedupes_and_survives_reopen() {
        let path = temp_db("basic");
        {
            let store = Store::open(&path).await.expect("open");
            let mut delivered = vec![];
            for (conversation, id) in [(5, "a"), (5, "b"), (6, "a"), (5, "a")] {
                let result = store
                    .append(new(conversation, id, id), |m| delivered.push((m.conversation, m.seq)))
                    .await
                    .expect("append");
                if (conversation, id) == (5, "a") && delivered.len() == 3 {
                    assert!(matches!(result, Appended::Repeat(ref m) if m.seq == 1), "{result:?}");
                }
            }
            assert_eq!(delivered, vec![(5, 1), (5, 2), (6, 1)], "a repeat is not delivered again");
        }
        let store = Store::open(&path).await.expect("reopen");
        let seqs: Vec<u64> = store.after(5, 0, 100).await.expect("after").iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        assert_eq!(store.conversations().await.expect("list"), vec![5, 6]);
        assert!(store.has_conversation(6).await.expect("has"));
        assert!(!store.has_conversation(7).await.expect("has"));
    }

    #[tokio::test]
    async fn read_positions_only_move_forward() {
        let store = Store::open(&temp_db("reads")).await.expect("open");
        assert_eq!(store.reads(5).await.expect("reads"), (0, 0));
        for n in 1..=3 {
            store.append(new(5, &format!("m{n}"), "hi"), |_| {}).await.expect("append");
        }
        assert_eq!(store.mark_read(5, true, 1_000_000_000).await.expect("mark"), 3, "never past the last");
        assert_eq!(store.mark_read(5, true, 3).await.expect("mark"), 3);
        assert_eq!(store.mark_read(5, true, 2).await.expect("mark"), 3, "never backwards");
        assert_eq!(store.mark_read(5, false, 1).await.expect("mark"), 1);
        assert_eq!(store.reads(5).await.expect("reads"), (1, 3));
    }

    #[tokio::test]
    async fn pages_go_backwards() {
        let store = Store::open(&temp_db("pages")).await.expect("open");
        for n in 1..=7 {
            store.append(new(9, &format!("m{n}"), &format!("t{n}")), |_| {}).await.expect("append");
        }
        let (latest, more) = store.page(9, 0, 3, usize::MAX).await.expect("page");
        assert_eq!(latest.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![5, 6, 7]);
        assert!(more);
        let (older, more) = store.page(9, 5, 3, usize::MAX).await.expect("page");
        assert_eq!(older.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert!(more);
        let (oldest, more) = store.page(9, 2, 3, usize::MAX).await.expect("page");
        assert_eq!(oldest.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
        assert!(!more);
        assert_eq!(store.after(9, 5, 100).await.expect("after").len(), 2);
        assert_eq!(store.after(9, 0, 3).await.expect("after").len(), 3, "a chunk at a time");
        assert_eq!(store.last_seq(9).await.expect("last"), 7);
        // A byte budget cuts a page short, keeping the newest, and says there is more.
        let (cut, more) = store.page(9, 0, 7, 2 * (JSON_OVERHEAD + 40)).await.expect("page");
        assert_eq!((cut.iter().map(|m| m.seq).collect::<Vec<_>>(), more), (vec![6, 7], true));
    }
}
