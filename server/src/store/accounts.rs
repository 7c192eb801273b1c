//! Agent accounts and the server's signing key.

use super::{with_pool, Db, Store, StoreError};

/// What the store keeps of an agent account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAccount {
    /// Argon2id, PHC string.
    pub password_hash: String,
    /// Sessions carry the epoch they began in; a new password moves it on, ending the older ones.
    pub session_epoch: u64,
}

impl Store {
    /// The server's signing key, made (32 random bytes) the first time it is asked for.
    pub async fn server_secret(&self) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(StoreError::Randomness)?;
        let (secret,): (Vec<u8>,) = with_pool!(&self.db, pool => {
            sqlx::query("INSERT INTO settings (key, value) VALUES ('server_secret', $1) ON CONFLICT DO NOTHING")
                .bind(fresh.as_slice())
                .execute(pool)
                .await?;
            sqlx::query_as("SELECT value FROM settings WHERE key = 'server_secret'").fetch_one(pool).await?
        });
        Ok(secret)
    }

    /// Creates agent `name`, or sets a new password hash if it exists. Returns whether it was new.
    pub async fn put_agent(&self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        let existed = self.agent(name).await?.is_some();
        const PUT: &str = "INSERT INTO agents (name, password_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, \
             session_epoch = agents.session_epoch + 1";
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        with_pool!(&self.db, pool => { sqlx::query(PUT).bind(name).bind(password_hash).bind(&now).execute(pool).await?; });
        Ok(!existed)
    }

    /// Ends agent `name`'s sessions of `epoch` (moves the epoch on), unless they have ended
    /// already. Whether they were ended now.
    pub async fn end_agent_sessions(&self, name: &str, epoch: u64) -> Result<bool, StoreError> {
        const END: &str =
            "UPDATE agents SET session_epoch = session_epoch + 1 WHERE name = $1 AND session_epoch = $2";
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        let ended = with_pool!(&self.db, pool => {
            sqlx::query(END).bind(name).bind(epoch).execute(pool).await?.rows_affected()
        });
        Ok(ended > 0)
    }

    /// Agent `name`'s account, if there is one.
    pub async fn agent(&self, name: &str) -> Result<Option<AgentAccount>, StoreError> {
        const AGENT: &str = "SELECT password_hash, session_epoch FROM agents WHERE name = $1";
        let row: Option<(String, i64)> =
            with_pool!(&self.db, pool => sqlx::query_as(AGENT).bind(name).fetch_optional(pool).await?);
        Ok(row
            .map(|(password_hash, epoch)| AgentAccount { password_hash, session_epoch: epoch.max(0) as u64 }))
    }

    pub async fn remove_agent(&self, name: &str) -> Result<bool, StoreError> {
        const REMOVE: &str = "DELETE FROM agents WHERE name = $1";
        let removed =
            with_pool!(&self.db, pool => sqlx::query(REMOVE).bind(name).execute(pool).await?.rows_affected());
        Ok(removed > 0)
    }

    pub async fn agent_names(&self) -> Result<Vec<String>, StoreError> {
        const NAMES: &str = "SELECT name FROM agents ORDER BY name";
        let rows: Vec<(String,)> = with_pool!(&self.db, pool => sqlx::query_as(NAMES).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }
}
