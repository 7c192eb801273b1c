//! The team's people and shared texts: which agents have a console connected (seats, per
//! instance, renewed while connected), their loads and capacities, and the canned replies.

use kefu_protocol::team::{AgentLoad, Canned, MAX_CANNED};

use super::team::TeamError;
use super::{with_pool, Db, Store, StoreError};

impl Store {
    /// Every agent account with its load and whether it has a console connected.
    pub async fn agent_loads(&self, now: i64) -> Result<Vec<AgentLoad>, StoreError> {
        const LOADS: &str = "SELECT a.name, a.capacity, \
             (SELECT COUNT(*) FROM team_conversations t WHERE t.assignee = a.name AND t.status = 'open'), \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM agent_seats s WHERE s.name = a.name AND s.expires_at > $1) \
             THEN 1 ELSE 0 END AS BIGINT) FROM agents a ORDER BY a.name";
        let rows: Vec<(String, i64, i64, i64)> =
            with_pool!(&self.db, pool => sqlx::query_as(LOADS).bind(now).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(name, capacity, open, online)| AgentLoad {
                name,
                online: online != 0,
                open: open.clamp(0, u32::MAX as i64) as u32,
                capacity: capacity.clamp(0, u32::MAX as i64) as u32,
            })
            .collect())
    }

    /// Agent `name` has a console connected at instance `node` until `expires_at` (renewed
    /// while it lasts; an instance killed stops renewing).
    pub async fn seat(&self, name: &str, node: &str, expires_at: i64) -> Result<(), StoreError> {
        const SEAT: &str = "INSERT INTO agent_seats (name, node, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name, node) DO UPDATE SET expires_at = excluded.expires_at";
        with_pool!(&self.db, pool => {
            sqlx::query(SEAT).bind(name).bind(node).bind(expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// Agent `name`'s last console at instance `node` went.
    pub async fn unseat(&self, name: &str, node: &str) -> Result<(), StoreError> {
        const UNSEAT: &str = "DELETE FROM agent_seats WHERE name = $1 AND node = $2";
        with_pool!(&self.db, pool => { sqlx::query(UNSEAT).bind(name).bind(node).execute(pool).await?; });
        Ok(())
    }

    /// Sets agent `name`'s capacity; whether the account exists.
    pub async fn set_capacity(&self, name: &str, capacity: u32) -> Result<bool, StoreError> {
        const SET: &str = "UPDATE agents SET capacity = $2 WHERE name = $1";
        let changed = with_pool!(&self.db, pool => {
            sqlx::query(SET).bind(name).bind(i64::from(capacity)).execute(pool).await?.rows_affected()
        });
        Ok(changed > 0)
    }

    /// The team's canned replies, by shortcut.
    pub async fn canned(&self) -> Result<Vec<Canned>, StoreError> {
        const ALL: &str = "SELECT id, shortcut, text FROM canned_replies ORDER BY shortcut";
        let rows: Vec<(i64, String, String)> =
            with_pool!(&self.db, pool => sqlx::query_as(ALL).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id, shortcut, text)| Canned { id, shortcut, text }).collect())
    }

    /// Adds a canned reply (`id` absent) or changes reply `id`.
    pub async fn save_canned(&self, id: Option<i64>, shortcut: &str, text: &str) -> Result<(), TeamError> {
        const ADD: &str = "INSERT INTO canned_replies (shortcut, text) SELECT $1, $2 \
             WHERE (SELECT COUNT(*) FROM canned_replies) < $3";
        const CHANGE: &str = "UPDATE canned_replies SET shortcut = $2, text = $3 WHERE id = $1";
        let saved: Result<u64, sqlx::Error> = with_pool!(&self.db, pool => match id {
            None => sqlx::query(ADD).bind(shortcut).bind(text).bind(MAX_CANNED as i64).execute(pool).await.map(|d| d.rows_affected()),
            Some(id) => sqlx::query(CHANGE).bind(id).bind(shortcut).bind(text).execute(pool).await.map(|d| d.rows_affected()),
        });
        match saved {
            Ok(done) if done > 0 => Ok(()),
            Ok(_) if id.is_some() => Err(TeamError::BadCanned("no such canned reply".into())),
            Ok(_) => Err(TeamError::BadCanned(format!("at most {MAX_CANNED} canned replies"))),
            Err(err) if err.as_database_error().is_some_and(|e| e.is_unique_violation()) => {
                Err(TeamError::BadCanned(format!("another reply has the shortcut /{shortcut}")))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes canned reply `id`; whether there was one.
    pub async fn delete_canned(&self, id: i64) -> Result<bool, StoreError> {
        const DELETE: &str = "DELETE FROM canned_replies WHERE id = $1";
        let gone =
            with_pool!(&self.db, pool => sqlx::query(DELETE).bind(id).execute(pool).await?.rows_affected());
        Ok(gone > 0)
    }
}
