//! What keeps old signed things from acting again: each user's invite generation (an invite
//! link works only in the generation it was made in) and the app's friendship bodies already
//! applied per pair (a body older than the last one, or the same one again, is refused). Both
//! live in the database, so every instance agrees.

use kefu_protocol::ids::UserId;

use super::{with_pool, Db, Store, StoreError};

/// What [`Store::apply_app_body`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppBody {
    /// New: apply it.
    Fresh,
    /// Issued before a body already applied to the pair, or that very body again.
    Stale,
}

impl Store {
    /// `uid`'s invite generation (0 until it first moves on).
    pub async fn invite_epoch(&self, uid: UserId) -> Result<u64, StoreError> {
        const EPOCH: &str = "SELECT epoch FROM invite_epochs WHERE uid = $1";
        let row: Option<(i64,)> =
            with_pool!(&self.db, pool => sqlx::query_as(EPOCH).bind(uid.get()).fetch_optional(pool).await?);
        Ok(row.map_or(0, |(epoch,)| epoch.max(0) as u64))
    }

    /// Moves the invite generation of each of `uids` on: their earlier invite links stop
    /// working. Called with the graph's write lock held, with the change that calls for it.
    pub(super) async fn renew_invites(&self, uids: &[UserId]) -> Result<(), StoreError> {
        const RENEW: &str = "INSERT INTO invite_epochs (uid, epoch) VALUES ($1, 1) \
             ON CONFLICT (uid) DO UPDATE SET epoch = invite_epochs.epoch + 1";
        for uid in uids {
            with_pool!(&self.db, pool => { sqlx::query(RENEW).bind(uid.get()).execute(pool).await?; });
        }
        Ok(())
    }

    /// The person asks for a new invite link: the old ones stop working.
    pub async fn new_invite(&self, uid: UserId) -> Result<(), StoreError> {
        let _writing = self.writes.graph().lock().await;
        self.renew_invites(&[uid]).await
    }

    /// Notes an app's friendship body for the pair `(a, b)`, issued at `iat` (Unix seconds),
    /// identified by `digest` (its signature), unless it is stale. Bodies of the latest second
    /// are kept, the older forgotten: at most a few rows per pair.
    pub async fn apply_app_body(
        &self,
        a: UserId,
        b: UserId,
        iat: u64,
        digest: &str,
    ) -> Result<AppBody, StoreError> {
        let (low, high) = (a.min(b), a.max(b));
        let iat = iat.min(i64::MAX as u64) as i64;
        let _writing = self.writes.graph().lock().await;
        const LATEST: &str = "SELECT MAX(iat) FROM app_bodies WHERE low = $1 AND high = $2";
        const SAME: &str = "SELECT 1 FROM app_bodies WHERE low = $1 AND high = $2 AND digest = $3";
        const FORGET: &str = "DELETE FROM app_bodies WHERE low = $1 AND high = $2 AND iat < $3";
        const NOTE: &str = "INSERT INTO app_bodies (low, high, iat, digest) VALUES ($1, $2, $3, $4)";
        with_pool!(&self.db, pool => {
            let (latest,): (Option<i64>,) =
                sqlx::query_as(LATEST).bind(low.get()).bind(high.get()).fetch_one(pool).await?;
            let same: Option<(i32,)> = sqlx::query_as(SAME)
                .bind(low.get()).bind(high.get()).bind(digest).fetch_optional(pool).await?;
            if latest.is_some_and(|latest| iat < latest) || same.is_some() {
                return Ok(AppBody::Stale);
            }
            sqlx::query(FORGET).bind(low.get()).bind(high.get()).bind(iat).execute(pool).await?;
            let noted = sqlx::query(NOTE).bind(low.get()).bind(high.get()).bind(iat).bind(digest).execute(pool).await;
            // The same body noted by another instance at the same moment: a replay too.
            match noted {
                Err(err) if err.as_database_error().is_some_and(|e| e.is_unique_violation()) => {
                    return Ok(AppBody::Stale)
                }
                noted => noted?,
            };
        });
        Ok(AppBody::Fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_databases;

    #[tokio::test]
    async fn an_app_body_applies_once_and_never_after_a_later_one() {
        for database in test_databases("app-bodies") {
            let store = Store::open(&database).await.expect("open");
            let (a, b) = (UserId::lit(1), UserId::lit(2));
            assert_eq!(store.apply_app_body(a, b, 100, "true-1").await.expect("note"), AppBody::Fresh);
            assert_eq!(
                store.apply_app_body(b, a, 100, "false-1").await.expect("note"),
                AppBody::Fresh,
                "same second"
            );
            assert_eq!(
                store.apply_app_body(a, b, 100, "true-1").await.expect("note"),
                AppBody::Stale,
                "replayed"
            );
            assert_eq!(store.apply_app_body(a, b, 101, "true-2").await.expect("note"), AppBody::Fresh);
            assert_eq!(
                store.apply_app_body(a, b, 100, "false-1").await.expect("note"),
                AppBody::Stale,
                "older"
            );
            assert_eq!(
                store.apply_app_body(a, UserId::lit(3), 50, "x").await.expect("note"),
                AppBody::Fresh,
                "another pair"
            );
        }
    }

    #[tokio::test]
    async fn invite_generations_move_on() {
        for database in test_databases("invite-epochs") {
            let store = Store::open(&database).await.expect("open");
            let ann = UserId::lit(1);
            assert_eq!(store.invite_epoch(ann).await.expect("epoch"), 0);
            store.new_invite(ann).await.expect("new");
            store.new_invite(ann).await.expect("new");
            assert_eq!(store.invite_epoch(ann).await.expect("epoch"), 2);
            let reopened = Store::open(&database).await.expect("reopen");
            assert_eq!(reopened.invite_epoch(ann).await.expect("epoch"), 2);
        }
    }
}
