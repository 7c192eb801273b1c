//! Where each conversation stands: its last `seq` and both sides' read positions, kept in
//! memory beside the database (read once at open, kept with each write, told by the other
//! instances' events and the resync), so that a resume that has missed nothing costs no query.

use kefu_protocol::v1::{ConversationId, Seq};

use std::collections::HashMap;

use super::{with_pool, Db, Store, StoreError};

/// What [`Store::positions`] holds, per conversation.
#[derive(Default)]
pub(super) struct Positions {
    pub(super) last_seq: HashMap<ConversationId, Seq>,
    /// (user's, agents') read positions.
    pub(super) reads: HashMap<ConversationId, (Seq, Seq)>,
}

/// Every conversation's last `seq`, read from the messages.
pub(super) async fn last_seqs(db: &Db) -> Result<HashMap<ConversationId, Seq>, StoreError> {
    const LAST: &str = "SELECT conversation, MAX(seq) FROM messages GROUP BY conversation";
    let last: Vec<(i64, i64)> = with_pool!(db, pool => sqlx::query_as(LAST).fetch_all(pool).await?);
    Ok(stored_positions(last))
}

/// Conversations' positions as stored; a number outside the ranges of [`kefu_protocol::ids`]
/// (none is ever written) names no conversation and is left out.
pub(super) fn stored_positions(rows: Vec<(i64, i64)>) -> HashMap<ConversationId, Seq> {
    rows.into_iter()
        .filter_map(|(conversation, seq)| Some((ConversationId::new(conversation)?, seq.max(0) as Seq)))
        .collect()
}

impl Store {
    /// Every conversation's last `seq`, from the database (for a resync across instances).
    pub async fn last_seqs(&self) -> Result<HashMap<ConversationId, Seq>, StoreError> {
        const COUNTERS: &str = "SELECT conversation, last_seq FROM counters";
        let rows: Vec<(i64, i64)> =
            with_pool!(&self.db, pool => sqlx::query_as(COUNTERS).fetch_all(pool).await?);
        Ok(stored_positions(rows))
    }

    /// Notes every conversation's last `seq` as read from the database by a resync.
    pub fn note_last_seqs(&self, last_seqs: &HashMap<ConversationId, Seq>) {
        let mut positions = self.positions();
        for (conversation, seq) in last_seqs {
            let last = positions.last_seq.entry(*conversation).or_insert(0);
            *last = (*last).max(*seq);
        }
    }

    /// Notes a read position another instance stored.
    pub fn note_read(&self, conversation: ConversationId, agent: bool, seq: Seq) {
        let mut positions = self.positions();
        let entry = positions.reads.entry(conversation).or_default();
        let side = if agent { &mut entry.1 } else { &mut entry.0 };
        *side = (*side).max(seq);
    }

    /// Notes a message another instance stored (its publish reached this one).
    pub fn note_message(&self, conversation: ConversationId, seq: Seq) {
        let mut positions = self.positions();
        let last = positions.last_seq.entry(conversation).or_insert(0);
        *last = (*last).max(seq);
    }

    /// The last sequence number of a conversation (0: no message yet).
    pub async fn last_seq(&self, conversation: ConversationId) -> Result<Seq, StoreError> {
        Ok(self.positions().last_seq.get(&conversation).copied().unwrap_or(0))
    }

    /// The last `seq` of each of `claimed`'s conversations, for clamping a resume: from memory
    /// where it knows as far as the client claims; else from the database (one statement for
    /// all), noted in memory. Another instance may have stored messages this one has not heard
    /// of (Redis down, or just back): clamping to this instance's memory would take a client
    /// back to a position it is past, and give it again what it has.
    pub async fn last_seqs_for(
        &self,
        claimed: &[(ConversationId, Seq)],
    ) -> Result<HashMap<ConversationId, Seq>, StoreError> {
        let mut last: HashMap<ConversationId, Seq> = {
            let positions = self.positions();
            claimed.iter().map(|(c, _)| (*c, positions.last_seq.get(c).copied().unwrap_or(0))).collect()
        };
        let unsure: Vec<ConversationId> = claimed
            .iter()
            .filter(|(c, seq)| *seq > last.get(c).copied().unwrap_or(0))
            .map(|(c, _)| *c)
            .collect();
        for chunk in unsure.chunks(1_000) {
            let list = (1..=chunk.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
            let statement =
                format!("SELECT conversation, last_seq FROM counters WHERE conversation IN ({list})");
            let rows: Vec<(i64, i64)> = with_pool!(&self.db, pool => {
                let mut query = sqlx::query_as(&statement);
                for conversation in chunk {
                    query = query.bind(conversation.get());
                }
                query.fetch_all(pool).await?
            });
            for (conversation, seq) in stored_positions(rows) {
                self.note_message(conversation, seq);
                let known = last.entry(conversation).or_insert(0);
                *known = (*known).max(seq);
            }
        }
        Ok(last)
    }

    pub(super) fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        // A panic while holding it cannot leave the maps half-written (single inserts).
        self.positions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let _writing = self.writes.conversation(conversation).lock().await;
        // WHERE true: SQLite's parser needs a WHERE before an upsert's ON CONFLICT.
        const MARK: &str = "INSERT INTO reads (conversation, side, seq) \
             SELECT $1, $2, CASE WHEN $3 < last THEN $3 ELSE last END \
             FROM (SELECT COALESCE(MAX(seq), 0) AS last FROM messages WHERE conversation = $1) AS m WHERE true \
             ON CONFLICT (conversation, side) DO UPDATE \
             SET seq = CASE WHEN excluded.seq > reads.seq THEN excluded.seq ELSE reads.seq END RETURNING seq";
        let (stored,): (i64,) = with_pool!(&self.db, pool => {
            sqlx::query_as(MARK).bind(conversation.get()).bind(side).bind(seq.min(i64::MAX as u64) as i64).fetch_one(pool).await?
        });
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
}
