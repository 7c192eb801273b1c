//! Whole databases at once: made-up conversations for the benchmarks (`seed`), and everything
//! copied into another, empty database (`copy-to`, typically SQLite into PostgreSQL).

use super::{last_seqs, with_pool, Db, Row, Store, StoreError, COLUMNS, INSERT_MESSAGE, RECOUNT};

impl Store {
    /// Adds `conversations` made-up conversations (user ids 1..) holding `messages` messages in
    /// all, alternating user and agent, spread evenly, with times one minute apart ending now.
    /// For benchmarks; refuses a database that already has messages.
    pub async fn seed(&self, conversations: u32, messages: u32) -> Result<(), StoreError> {
        if !self.conversations().await?.is_empty() {
            return Err(StoreError::NotEmpty);
        }
        let conversations = conversations.max(1);
        let now = chrono::Local::now();
        let _writing = self.writes.graph().lock().await;
        with_pool!(&self.db, pool => {
        let mut tx = pool.begin().await?;
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
        for statement in RECOUNT {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        });
        let last = last_seqs(&self.db).await?;
        self.positions().last_seq = last;
        Ok(())
    }
}

impl Store {
    /// Gives the seeded conversations team states, for benchmarks: of every ten, seven
    /// resolved, one snoozed (until the user writes) and two open; each ten assigned to one of
    /// the agent accounts in turn, so every agent has as many open (none: unassigned).
    pub async fn seed_team(&self) -> Result<u64, StoreError> {
        let agents = self.agent_names().await?;
        let conversations = self.conversations().await?;
        const PUT: &str = "INSERT INTO team_conversations (conversation, status, assignee, snooze_until, opened_at) \
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (conversation) DO UPDATE SET status = excluded.status, \
             assignee = excluded.assignee";
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for (n, conversation) in conversations.iter().enumerate() {
                let status = match n % 10 { 0..=6 => "resolved", 7 => "snoozed", _ => "open" };
                let assignee = (!agents.is_empty()).then(|| agents[(n / 10) % agents.len()].clone());
                sqlx::query(PUT).bind(conversation.get()).bind(status).bind(assignee).bind(n as i64).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(conversations.len() as u64)
    }
}

/// Messages copied per statement by [`Store::copy_into`].
const COPY_CHUNK: i64 = 1_000;

/// What [`Store::copy_into`] copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub messages: u64,
    pub reads: u64,
    pub agents: u64,
    pub people: u64,
    pub pairs: u64,
    pub requests: u64,
    pub blocks: u64,
}

impl Store {
    /// Copies everything into `target`, an empty database (typically an SQLite file into
    /// PostgreSQL: `kefu-server --database kefu.db copy-to postgres://…`). Messages go over
    /// in statements of [`COPY_CHUNK`] rows; ids, sequence numbers, read positions, accounts,
    /// the server key (so sessions and tokens stay valid), friends, requests and blocks are
    /// kept as they are. Run it with the server stopped.
    pub async fn copy_into(&self, target: &Store) -> Result<Copied, StoreError> {
        const ANY_ROW: &str = "SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM agents) \
             + (SELECT COUNT(*) FROM pairs) + (SELECT COUNT(*) FROM people)";
        let (rows,): (i64,) = with_pool!(&target.db, pool => sqlx::query_as(ANY_ROW).fetch_one(pool).await?);
        if rows > 0 {
            return Err(StoreError::TargetNotEmpty);
        }
        let mut copied = Copied::default();
        let _writing = target.hold_writes().await;
        let (mut after_conversation, mut after_seq) = (i64::MIN, 0_i64);
        loop {
            let chunk: Vec<Row> = with_pool!(&self.db, pool => {
                sqlx::query_as::<_, Row>(&format!(
                    "SELECT {COLUMNS} FROM messages WHERE conversation > $1 OR (conversation = $1 AND seq > $2) \
                     ORDER BY conversation, seq LIMIT $3"
                ))
                .bind(after_conversation)
                .bind(after_seq)
                .bind(COPY_CHUNK)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = chunk.last() else { break };
            (after_conversation, after_seq) = (last.conversation.get(), last.seq);
            copied.messages += chunk.len() as u64;
            with_pool!(&target.db, pool => {
                let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO messages ({COLUMNS}) "));
                insert.push_values(&chunk, |mut row, m| {
                    row.push_bind(m.conversation.get()).push_bind(m.seq).push_bind(&m.client_id).push_bind(m.uid)
                        .push_bind(&m.role).push_bind(&m.username).push_bind(&m.avatar).push_bind(&m.create_time)
                        .push_bind(&m.text);
                });
                insert.build().execute(pool).await?;
            });
        }
        // The other tables are small: read whole, written in one transaction.
        let reads: Vec<(i64, String, i64)> = with_pool!(&self.db, pool => sqlx::query_as("SELECT conversation, side, seq FROM reads").fetch_all(pool).await?);
        let agents: Vec<(String, String, String, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as("SELECT name, password_hash, created_at, session_epoch FROM agents").fetch_all(pool).await?
        });
        let settings: Vec<(String, Vec<u8>)> = with_pool!(&self.db, pool => sqlx::query_as("SELECT key, value FROM settings").fetch_all(pool).await?);
        let people: Vec<(i64, String, String)> = with_pool!(&self.db, pool => sqlx::query_as("SELECT uid, name, avatar FROM people").fetch_all(pool).await?);
        let pairs: Vec<(i64, i64, i64, i64)> = with_pool!(&self.db, pool => sqlx::query_as("SELECT id, low, high, friends FROM pairs").fetch_all(pool).await?);
        let requests: Vec<(i64, i64, String, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as("SELECT from_uid, to_uid, note, sent FROM friend_requests").fetch_all(pool).await?
        });
        let blocks: Vec<(i64, i64)> = with_pool!(&self.db, pool => sqlx::query_as("SELECT blocker, blocked FROM blocks").fetch_all(pool).await?);
        let postgres = matches!(target.db, Db::Postgres(_));
        with_pool!(&target.db, pool => {
            let mut tx = pool.begin().await?;
            for (conversation, side, seq) in &reads {
                sqlx::query("INSERT INTO reads (conversation, side, seq) VALUES ($1, $2, $3)")
                    .bind(conversation).bind(side).bind(seq).execute(&mut *tx).await?;
            }
            for (name, hash, created, epoch) in &agents {
                sqlx::query("INSERT INTO agents (name, password_hash, created_at, session_epoch) VALUES ($1, $2, $3, $4)")
                    .bind(name).bind(hash).bind(created).bind(epoch).execute(&mut *tx).await?;
            }
            for (key, value) in &settings {
                sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                    .bind(key).bind(value.as_slice()).execute(&mut *tx).await?;
            }
            for (uid, name, avatar) in &people {
                sqlx::query("INSERT INTO people (uid, name, avatar) VALUES ($1, $2, $3)")
                    .bind(uid).bind(name).bind(avatar).execute(&mut *tx).await?;
            }
            for (id, low, high, friends) in &pairs {
                sqlx::query("INSERT INTO pairs (id, low, high, friends) VALUES ($1, $2, $3, $4)")
                    .bind(id).bind(low).bind(high).bind(friends).execute(&mut *tx).await?;
            }
            for (from, to, note, sent) in &requests {
                sqlx::query("INSERT INTO friend_requests (from_uid, to_uid, note, sent) VALUES ($1, $2, $3, $4)")
                    .bind(from).bind(to).bind(note).bind(sent).execute(&mut *tx).await?;
            }
            for (blocker, blocked) in &blocks {
                sqlx::query("INSERT INTO blocks (blocker, blocked) VALUES ($1, $2)")
                    .bind(blocker).bind(blocked).execute(&mut *tx).await?;
            }
            for statement in RECOUNT {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            if postgres {
                // Ids given explicitly: the next new pair must come after them.
                sqlx::query("SELECT setval(pg_get_serial_sequence('pairs', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM pairs")
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        copied.reads = reads.len() as u64;
        copied.agents = agents.len() as u64;
        copied.people = people.len() as u64;
        copied.pairs = pairs.len() as u64;
        copied.requests = requests.len() as u64;
        copied.blocks = blocks.len() as u64;
        self.copy_team_into(target).await?;
        Ok(copied)
    }

    /// The team inbox's records for [`Store::copy_into`]: states, timelines, canned replies,
    /// capacities (seats are not copied: they belong to running instances).
    async fn copy_team_into(&self, target: &Store) -> Result<(), StoreError> {
        type State = (i64, String, Option<String>, Option<i64>, i64, Option<String>);
        type Event = (i64, i64, String, Option<String>, Option<String>, String, Option<String>, i64, i64);
        let states: Vec<State> = with_pool!(&self.db, pool => sqlx::query_as(
            "SELECT conversation, status, assignee, snooze_until, opened_at, declined_by FROM team_conversations").fetch_all(pool).await?);
        let events: Vec<Event> = with_pool!(&self.db, pool => sqlx::query_as(
            "SELECT event, conversation, kind, by_agent, to_agent, text, client_id, after_seq, at FROM team_events").fetch_all(pool).await?);
        let canned: Vec<(i64, String, String)> = with_pool!(&self.db, pool => sqlx::query_as(
            "SELECT id, shortcut, text FROM canned_replies").fetch_all(pool).await?);
        let agents: Vec<(String, i64, i64)> = with_pool!(&self.db, pool => sqlx::query_as(
            "SELECT name, capacity, last_assigned_at FROM agents").fetch_all(pool).await?);
        let postgres = matches!(target.db, Db::Postgres(_));
        with_pool!(&target.db, pool => {
            let mut tx = pool.begin().await?;
            // The target's migration gave its (empty) conversations no state: replaced whole.
            sqlx::query("DELETE FROM team_conversations").execute(&mut *tx).await?;
            for (conversation, status, assignee, until, opened, declined) in &states {
                sqlx::query("INSERT INTO team_conversations (conversation, status, assignee, snooze_until, opened_at, declined_by) \
                     VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(conversation).bind(status).bind(assignee).bind(until).bind(opened).bind(declined).execute(&mut *tx).await?;
            }
            for (event, conversation, kind, by, to, text, id, after, at) in &events {
                sqlx::query("INSERT INTO team_events (event, conversation, kind, by_agent, to_agent, text, client_id, after_seq, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(event).bind(conversation).bind(kind).bind(by).bind(to).bind(text).bind(id).bind(after).bind(at)
                    .execute(&mut *tx).await?;
            }
            for (id, shortcut, text) in &canned {
                sqlx::query("INSERT INTO canned_replies (id, shortcut, text) VALUES ($1, $2, $3)")
                    .bind(id).bind(shortcut).bind(text).execute(&mut *tx).await?;
            }
            for (name, capacity, last) in &agents {
                sqlx::query("UPDATE agents SET capacity = $2, last_assigned_at = $3 WHERE name = $1")
                    .bind(name).bind(capacity).bind(last).execute(&mut *tx).await?;
            }
            if postgres {
                for (table, column) in [("team_events", "event"), ("canned_replies", "id")] {
                    sqlx::query(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
                    ))
                    .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
