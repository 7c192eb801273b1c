//! Message storage through sqlx: an SQLite file in WAL mode (the default), or PostgreSQL
//! (`--database postgres://…`). The same schema for both, in each one's dialect
//! (`server/migrations/sqlite`, `server/migrations/postgres`, same versions), managed by sqlx
//! migrations; the same queries for both (numbered `$1` parameters, `ON CONFLICT`,
//! `RETURNING` and `CASE` rather than either one's own functions).
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
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

mod accounts;
mod bulk;
mod friends;
mod invites;
mod positions;
mod seats;
mod team;
pub use accounts::AgentAccount;
pub use bulk::Copied;
pub use friends::{FriendError, Requested};
pub use invites::AppBody;
use positions::{last_seqs, Positions};
pub use team::{Change, TeamError};

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
    #[error("the target database is not empty; copy into a new one")]
    TargetNotEmpty,
    #[error("no peer conversation numbers are left (2^53 pairs)")]
    IdsExhausted,
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

/// The database behind the store.
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has: the same code, compiled
/// once per database.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// How a writing transaction begins: SQLite's IMMEDIATE takes the write lock at once, so
/// that it never has to upgrade from reading to writing (which SQLite refuses with
/// SQLITE_BUSY, whatever the busy timeout, when another connection wrote in between).
fn begin_write(db: &Db) -> &'static str {
    match db {
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
        Db::Postgres(_) => "BEGIN",
    }
}

/// Writers take turns per conversation, so that deliveries follow the sequence order. One lock
/// for SQLite (it has one writer anyway); on PostgreSQL conversations are spread over
/// [`POSTGRES_WRITE_SHARDS`] locks, and friend changes have their own, so that writers to
/// different conversations commit side by side.
struct WriteLocks {
    shards: Box<[Mutex<()>]>,
    graph: Option<Mutex<()>>,
}

const POSTGRES_WRITE_SHARDS: usize = 64;

impl WriteLocks {
    fn new(shards: usize, graph_apart: bool) -> WriteLocks {
        let shards = (0..shards.max(1)).map(|_| Mutex::new(())).collect();
        WriteLocks { shards, graph: graph_apart.then(|| Mutex::new(())) }
    }

    fn conversation(&self, conversation: ConversationId) -> &Mutex<()> {
        &self.shards[conversation.get().rem_euclid(self.shards.len() as i64) as usize]
    }

    fn graph(&self) -> &Mutex<()> {
        self.graph.as_ref().unwrap_or(&self.shards[0])
    }
}

pub struct Store {
    db: Db,
    writes: WriteLocks,
    /// Every conversation's last `seq` and read positions, read once at open and kept with
    /// each write: a resume that has missed nothing costs no query. After a restart, ten
    /// thousand clients resuming at once would otherwise queue ~3 queries each on the pool.
    positions: std::sync::Mutex<Positions>,
    /// Friends, blocks, pairs and people ([`friends`]), kept the same way. With several
    /// instances ([`crate::cluster`]) the others' writes reach these through their events
    /// ([`Store::note_message`], [`Store::note_read`], [`Store::reload_graph`]) and the resync
    /// ([`Store::note_last_seqs`]), which also repairs what a lost event left stale.
    graph: std::sync::Mutex<friends::Graph>,
}

/// How long a statement waits for a PostgreSQL connection before the store gives up
/// (`unavailable`): below the page's heartbeat timeout, so that a link is never taken for
/// dead while the database is.
pub const WRITE_WAIT: Duration = Duration::from_secs(1);

#[derive(sqlx::FromRow)]
struct Row {
    /// A row outside the ranges of [`kefu_protocol::ids`] is an error, never a message.
    #[sqlx(try_from = "i64")]
    conversation: ConversationId,
    seq: i64,
    client_id: String,
    uid: i64,
    role: String,
    username: String,
    avatar: String,
    create_time: String,
    text: String,
}

/// A page from up to `limit + 1` rows, newest first: at most `limit` messages, oldest first,
/// cut short (newest kept) where their JSON would pass `max_bytes`; and whether older exist.
fn cut_page(mut rows: Vec<Row>, limit: u32, max_bytes: usize) -> (Vec<Message>, bool) {
    let mut has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut bytes = 0;
    let mut kept = 0;
    for row in &rows {
        bytes += JSON_OVERHEAD + row.text.len() + row.username.len() + row.avatar.len() + row.client_id.len();
        if kept > 0 && bytes > max_bytes {
            has_more = true;
            break;
        }
        kept += 1;
    }
    rows.truncate(kept);
    rows.reverse();
    (rows.into_iter().map(Message::from).collect(), has_more)
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
    format!("INSERT INTO messages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
});

/// The next `seq` of conversation `$1`, counted in its row of `counters`, which stays locked
/// until the transaction ends: writers on several servers cannot take the same number, and a
/// transaction that fails gives its number back.
const NEXT_SEQ: &str = "INSERT INTO counters (conversation, last_seq) VALUES ($1, 1) \
     ON CONFLICT (conversation) DO UPDATE SET last_seq = counters.last_seq + 1 RETURNING last_seq";

/// PostgreSQL stores a new message in one statement, one round trip: the counter row is
/// incremented (and locked until the statement commits) unless the id is already there, and
/// the message inserted with the number it returned. No row back: a repeat.
static APPEND_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH next AS ( \
           INSERT INTO counters (conversation, last_seq) \
           SELECT $1::BIGINT, 1 WHERE NOT EXISTS \
             (SELECT 1 FROM messages WHERE conversation = $1::BIGINT AND client_id = $2::TEXT) \
           ON CONFLICT (conversation) DO UPDATE SET last_seq = counters.last_seq + 1 \
           RETURNING last_seq) \
         INSERT INTO messages ({COLUMNS}) \
         SELECT $1::BIGINT, last_seq, $2::TEXT, $3, $4, $5, $6, $7, $8 FROM next RETURNING seq"
    )
});

/// Binds `new`'s [`COLUMNS`] after `conversation` and `seq` (`client_id` to `text`) to a
/// query: the same run for both databases' ways of storing a message.
macro_rules! bind_message {
    ($query:expr, $new:expr) => {
        $query
            .bind(&$new.id)
            .bind($new.uid)
            .bind(role_text($new.role))
            .bind(&$new.username)
            .bind(&$new.avatar)
            .bind(&$new.create_time)
            .bind(&$new.text)
    };
}

/// Stores `new` on PostgreSQL: its `seq`, or `None` if its id is already in the conversation.
async fn append_postgres(pool: &sqlx::PgPool, new: &NewMessage) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> =
        bind_message!(sqlx::query_as(&APPEND_POSTGRES).bind(new.conversation.get()), new)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(seq,)| seq))
}

/// Stores `new` on SQLite (one writer at a time): its `seq`, or `None` if its id is already in
/// the conversation.
async fn append_sqlite(pool: &sqlx::SqlitePool, new: &NewMessage) -> Result<Option<i64>, sqlx::Error> {
    const EXISTS: &str = "SELECT seq FROM messages WHERE conversation = $1 AND client_id = $2";
    let existing: Option<(i64,)> =
        sqlx::query_as(EXISTS).bind(new.conversation.get()).bind(&new.id).fetch_optional(pool).await?;
    if existing.is_some() {
        return Ok(None);
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let (seq,): (i64,) = sqlx::query_as(NEXT_SEQ).bind(new.conversation.get()).fetch_one(&mut *tx).await?;
    bind_message!(sqlx::query(&INSERT_MESSAGE).bind(new.conversation.get()).bind(seq), new)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(seq))
}

/// How a role is stored (the original's names).
fn role_text(role: Role) -> &'static str {
    if role == Role::Agent {
        "ai"
    } else {
        "user"
    }
}

/// Sets every conversation's counter from its messages (after messages were written
/// directly: seeding, copying).
const RECOUNT: [&str; 2] = [
    "DELETE FROM counters",
    "INSERT INTO counters (conversation, last_seq) SELECT conversation, MAX(seq) FROM messages GROUP BY conversation",
];

/// Whether `database` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres(database: &Path) -> bool {
    database.to_str().is_some_and(|d| d.starts_with("postgres://") || d.starts_with("postgresql://"))
}

/// `database` as it may be shown in a log or an error: a PostgreSQL URL without its password.
pub fn shown(database: &Path) -> String {
    let text = database.display().to_string();
    if !is_postgres(database) {
        return text;
    }
    match text.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (user, host))) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => text,
    }
}

impl Store {
    /// Opens the database — a PostgreSQL URL (`postgres://user:password@host/db`), or else
    /// an SQLite file, created if needed — and brings its schema up to date.
    pub async fn open(database: &Path) -> Result<Store, StoreError> {
        let db = if is_postgres(database) {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                // A write that cannot reach the database soon is answered `unavailable` (the
                // page sends it again) well within the page's heartbeat timeout (1.5 s),
                // rather than leaving the connection silent through an outage.
                .acquire_timeout(WRITE_WAIT)
                .connect(&database.display().to_string())
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Db::Postgres(pool)
        } else {
            let url = format!("sqlite://{}", database.display());
            let options = SqliteConnectOptions::from_str(&url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Db::Sqlite(pool)
        };
        let mut positions = Positions { last_seq: last_seqs(&db).await?, ..Positions::default() };
        const READS: &str = "SELECT conversation, side, seq FROM reads";
        let reads: Vec<(i64, String, i64)> =
            with_pool!(&db, pool => sqlx::query_as(READS).fetch_all(pool).await?);
        for (conversation, side, seq) in reads {
            let Some(conversation) = ConversationId::new(conversation) else { continue };
            let entry = positions.reads.entry(conversation).or_default();
            match side.as_str() {
                "agent" => entry.1 = seq.max(0) as Seq,
                "user" => entry.0 = seq.max(0) as Seq,
                // A member's position in a peer conversation: the graph keeps those.
                _ => {}
            }
        }
        let graph = friends::Graph::load(&db).await?;
        let is_pg = matches!(db, Db::Postgres(_));
        Ok(Store {
            db,
            writes: if is_pg {
                WriteLocks::new(POSTGRES_WRITE_SHARDS, true)
            } else {
                WriteLocks::new(1, false)
            },
            positions: std::sync::Mutex::new(positions),
            graph: std::sync::Mutex::new(graph),
        })
    }

    /// Reads the friend graph again (another instance changed it).
    pub async fn reload_graph(&self) -> Result<(), StoreError> {
        let graph = friends::Graph::load(&self.db).await?;
        *self.graph.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = graph;
        Ok(())
    }

    /// Whether the database takes a write now: its write lock is taken and given back (no
    /// change made, nothing synced). For `/readyz`.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await?.rollback().await?,
            // Reachable, and not a read-only standby.
            Db::Postgres(pool) => {
                let (standby,): (bool,) =
                    sqlx::query_as("SELECT pg_is_in_recovery()").fetch_one(pool).await?;
                if standby {
                    return Err(StoreError::Database(sqlx::Error::Protocol("a read-only standby".into())));
                }
            }
        }
        Ok(())
    }

    /// Holds back writes (and so deliveries) while a connection joins, so that it either finds
    /// a message in the store or receives it live.
    pub async fn hold_writes(&self) -> Vec<MutexGuard<'_, ()>> {
        // In one order, while each writer holds one lock at most: no deadlock.
        let mut held = Vec::with_capacity(self.writes.shards.len());
        for shard in self.writes.shards.iter() {
            held.push(shard.lock().await);
        }
        held
    }

    /// Stores `new` unless its id is already in the conversation. `deliver` runs under the
    /// write lock right after the commit, so deliveries happen in sequence order.
    pub async fn append(
        &self,
        new: NewMessage,
        deliver: impl FnOnce(&Message),
    ) -> Result<Appended, StoreError> {
        let _writing = self.writes.conversation(new.conversation).lock().await;
        let stored = match &self.db {
            Db::Postgres(pool) => append_postgres(pool, &new).await,
            Db::Sqlite(pool) => append_sqlite(pool, &new).await,
        };
        let seq = match stored {
            Ok(Some(seq)) => seq,
            // Stored before: the same answer as then. Also when another instance stored the
            // same id (a retry that reached it) at the same moment: the unique key refused
            // this one.
            Ok(None) => return self.repeat(&new).await,
            Err(err) if err.as_database_error().is_some_and(|e| e.is_unique_violation()) => {
                return self.repeat(&new).await
            }
            Err(err) => return Err(err.into()),
        };
        let mut positions = self.positions();
        let last = positions.last_seq.entry(new.conversation).or_insert(0);
        *last = (*last).max(seq.max(0) as Seq);
        drop(positions);
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

    /// The message already stored with `new`'s id, as a repeat.
    async fn repeat(&self, new: &NewMessage) -> Result<Appended, StoreError> {
        let row = with_pool!(&self.db, pool => {
            sqlx::query_as::<_, Row>(&format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation = $1 AND client_id = $2"
            ))
            .bind(new.conversation.get())
            .bind(&new.id)
            .fetch_one(pool)
            .await?
        });
        Ok(Appended::Repeat(row.into()))
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
        let rows = with_pool!(&self.db, pool => {
            sqlx::query_as::<_, Row>(&format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .bind(conversation.get())
            .bind(seq.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Message::from).collect())
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
        let rows = with_pool!(&self.db, pool => {
            sqlx::query_as::<_, Row>(&format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
            ))
            .bind(conversation.get())
            .bind(before)
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await?
        });
        Ok(cut_page(rows, limit, max_bytes))
    }

    /// The latest page of each of `conversations` (as [`Store::page`] with `before` 0), in
    /// their order, read in one statement: an agent's replay pages thousands of conversations,
    /// and one query each cost more than the pages.
    pub async fn latest_pages(
        &self,
        conversations: &[ConversationId],
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<(ConversationId, Vec<Message>, bool)>, StoreError> {
        if conversations.is_empty() {
            return Ok(vec![]);
        }
        // One term per conversation, each an index range scan like `page`'s.
        let statement = (1..=conversations.len())
            .map(|n| {
                format!(
                    "SELECT * FROM (SELECT {COLUMNS} FROM messages WHERE conversation = ${n} \
                     ORDER BY seq DESC LIMIT {}) AS page{n}",
                    u64::from(limit) + 1
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows = with_pool!(&self.db, pool => {
            let mut query = sqlx::query_as::<_, Row>(&statement);
            for &conversation in conversations {
                query = query.bind(conversation.get());
            }
            query.fetch_all(pool).await?
        });
        let mut by_conversation: std::collections::HashMap<ConversationId, Vec<Row>> = Default::default();
        for row in rows {
            by_conversation.entry(row.conversation).or_default().push(row);
        }
        Ok(conversations
            .iter()
            .map(|&conversation| {
                let mut rows = by_conversation.remove(&conversation).unwrap_or_default();
                rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.seq));
                let (messages, has_more) = cut_page(rows, limit, max_bytes);
                (conversation, messages, has_more)
            })
            .collect())
    }

    /// Every customer-service conversation that has messages (peer conversations are not
    /// the agents' business).
    pub async fn conversations(&self) -> Result<Vec<ConversationId>, StoreError> {
        const LIST: &str =
            "SELECT DISTINCT conversation FROM messages WHERE conversation >= 0 ORDER BY conversation";
        let rows: Vec<(i64,)> = with_pool!(&self.db, pool => sqlx::query_as(LIST).fetch_all(pool).await?);
        Ok(rows.into_iter().filter_map(|(c,)| ConversationId::new(c)).collect())
    }

    pub async fn has_conversation(&self, conversation: ConversationId) -> Result<bool, StoreError> {
        const ANY: &str = "SELECT conversation FROM messages WHERE conversation = $1 LIMIT 1";
        let row: Option<(i64,)> = with_pool!(&self.db, pool => sqlx::query_as(ANY).bind(conversation.get()).fetch_optional(pool).await?);
        Ok(row.is_some())
    }
}

/// For the store's tests: a fresh SQLite file and a fresh PostgreSQL database (a throwaway
/// cluster, `kefu_testkit::postgres`), so that every store test runs on both.
#[cfg(test)]
pub(crate) fn test_databases(name: &str) -> Vec<std::path::PathBuf> {
    let file = std::env::temp_dir().join(format!("kefu-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    vec![file, std::path::PathBuf::from(kefu_testkit::postgres::fresh_database(name))]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(raw: i64) -> ConversationId {
        ConversationId::lit(raw)
    }

    fn new(conversation: i64, id: &str, text: &str) -> NewMessage {
        NewMessage {
            conversation: c(conversation),
            id: id.into(),
            uid: conversation,
            role: Role::User,
            username: format!("user{conversation}"),
            avatar: String::new(),
            create_time: "2026-11-26 10:00:00".into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_postgres_url_is_shown_without_its_password() {
        let url = Path::new("postgres://kefu:s3cret@db.example:5432/kefu");
        assert!(is_postgres(url) && !is_postgres(Path::new("kefu.db")));
        assert_eq!(shown(url), "postgres://kefu@db.example:5432/kefu");
        assert_eq!(shown(Path::new("/var/lib/kefu/kefu.db")), "/var/lib/kefu/kefu.db");
    }

    #[tokio::test]
    async fn numbers_per_conversation_dedupes_and_survives_reopen() {
        for path in test_databases("store-basic") {
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
                assert_eq!(
                    delivered,
                    vec![(c(5), 1), (c(5), 2), (c(6), 1)],
                    "a repeat is not delivered again"
                );
            }
            let store = Store::open(&path).await.expect("reopen");
            let seqs: Vec<u64> =
                store.after(c(5), 0, 100).await.expect("after").iter().map(|m| m.seq).collect();
            assert_eq!(seqs, vec![1, 2]);
            assert_eq!(store.conversations().await.expect("list"), vec![c(5), c(6)]);
            assert!(store.has_conversation(c(6)).await.expect("has"));
            assert!(!store.has_conversation(c(7)).await.expect("has"));
        }
    }

    #[tokio::test]
    async fn two_servers_writing_to_one_database_number_without_gaps() {
        for database in test_databases("store-two-writers") {
            // Two stores, as two servers would hold: no lock of this process is shared.
            let (one, two) =
                (Store::open(&database).await.expect("open"), Store::open(&database).await.expect("open"));
            let write = |store: Store, who: &'static str| async move {
                let mut seqs = vec![];
                for n in 0..40 {
                    match store.append(new(5, &format!("{who}{n}"), who), |_| {}).await.expect("append") {
                        Appended::New(message) => seqs.push(message.seq),
                        Appended::Repeat(message) => panic!("not a repeat: {message:?}"),
                    }
                }
                seqs
            };
            let (a, b) = tokio::join!(tokio::spawn(write(one, "a")), tokio::spawn(write(two, "b")));
            let mut seqs: Vec<u64> = a.expect("one").into_iter().chain(b.expect("two")).collect();
            seqs.sort_unstable();
            assert_eq!(seqs, (1..=80).collect::<Vec<u64>>(), "{}: each number once", database.display());
            let reopened = Store::open(&database).await.expect("reopen");
            assert_eq!(reopened.after(c(5), 0, 100).await.expect("after").len(), 80);
            assert_eq!(reopened.last_seq(c(5)).await.expect("last"), 80);
        }
    }

    #[tokio::test]
    async fn read_positions_only_move_forward() {
        for database in test_databases("store-reads") {
            let store = Store::open(&database).await.expect("open");
            assert_eq!(store.reads(c(5)).await.expect("reads"), (0, 0));
            for n in 1..=3 {
                store.append(new(5, &format!("m{n}"), "hi"), |_| {}).await.expect("append");
            }
            assert_eq!(
                store.mark_read(c(5), true, 1_000_000_000).await.expect("mark"),
                3,
                "never past the last"
            );
            assert_eq!(store.mark_read(c(5), true, 3).await.expect("mark"), 3);
            assert_eq!(store.mark_read(c(5), true, 2).await.expect("mark"), 3, "never backwards");
            assert_eq!(store.mark_read(c(5), false, 1).await.expect("mark"), 1);
            assert_eq!(store.reads(c(5)).await.expect("reads"), (1, 3));
        }
    }

    #[tokio::test]
    async fn pages_go_backwards() {
        for database in test_databases("store-pages") {
            let store = Store::open(&database).await.expect("open");
            for n in 1..=7 {
                store.append(new(9, &format!("m{n}"), &format!("t{n}")), |_| {}).await.expect("append");
            }
            let (latest, more) = store.page(c(9), 0, 3, usize::MAX).await.expect("page");
            assert_eq!(latest.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![5, 6, 7]);
            assert!(more);
            let (older, more) = store.page(c(9), 5, 3, usize::MAX).await.expect("page");
            assert_eq!(older.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
            assert!(more);
            let (oldest, more) = store.page(c(9), 2, 3, usize::MAX).await.expect("page");
            assert_eq!(oldest.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
            assert!(!more);
            assert_eq!(store.after(c(9), 5, 100).await.expect("after").len(), 2);
            assert_eq!(store.after(c(9), 0, 3).await.expect("after").len(), 3, "a chunk at a time");
            assert_eq!(store.last_seq(c(9)).await.expect("last"), 7);
            // A byte budget cuts a page short, keeping the newest, and says there is more.
            let (cut, more) = store.page(c(9), 0, 7, 2 * (JSON_OVERHEAD + 40)).await.expect("page");
            assert_eq!((cut.iter().map(|m| m.seq).collect::<Vec<_>>(), more), (vec![6, 7], true));
        }
    }

    #[tokio::test]
    async fn latest_pages_in_one_statement_are_each_conversations_latest_page() {
        for database in test_databases("store-latest-pages") {
            let store = Store::open(&database).await.expect("open");
            // 9: seven messages (more than a page), 10: two, 11: none; interleaved.
            for n in 1..=7 {
                store.append(new(9, &format!("m{n}"), &format!("nine {n}")), |_| {}).await.expect("append");
                if n <= 2 {
                    store
                        .append(new(10, &format!("m{n}"), &format!("ten {n}")), |_| {})
                        .await
                        .expect("append");
                }
            }
            for (limit, max_bytes) in [(3, usize::MAX), (20, usize::MAX), (7, 2 * (JSON_OVERHEAD + 40))] {
                let asked = [c(10), c(11), c(9)];
                let pages = store.latest_pages(&asked, limit, max_bytes).await.expect("pages");
                assert_eq!(pages.iter().map(|p| p.0).collect::<Vec<_>>(), asked, "in the order asked");
                for (conversation, messages, has_more) in pages {
                    let one = store.page(conversation, 0, limit, max_bytes).await.expect("page");
                    assert_eq!((messages, has_more), one, "conversation {conversation}, limit {limit}");
                }
            }
            let (_, nine, more) = store.latest_pages(&[c(9)], 3, usize::MAX).await.expect("pages").remove(0);
            assert_eq!((nine.iter().map(|m| m.seq).collect::<Vec<_>>(), more), (vec![5, 6, 7], true));
            assert!(store.latest_pages(&[], 3, usize::MAX).await.expect("none").is_empty());
        }
    }
}
