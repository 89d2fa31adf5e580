//! The report-back room: "you said, we did", what the business did about a theme of its
//! customers' comments, as staff recorded it.

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::{SqlStore, StoreResult};

/// What staff record: one thing the business did about what customers said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoiceAction {
    /// The theme it answers.
    pub theme: String,
    /// What customers said.
    pub said: String,
    /// What the business did.
    pub did: String,
    /// The day it was done, as its midnight UTC (`voice::actions::day_seconds`).
    pub done_at: i64,
    /// Listed on the public page.
    pub public: bool,
    /// Who recorded it.
    pub by: String,
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VoiceAction {
    /// Its number.
    pub id: i64,
    /// The theme it answers.
    pub theme: String,
    /// What customers said.
    pub said: String,
    /// What the business did.
    pub did: String,
    /// The day it was done, as its midnight UTC.
    pub done_at: i64,
    /// Listed on the public page.
    pub public: bool,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: i64,
}

/// "You said, we did", recorded and read.
#[async_trait]
pub trait VoiceActions: Send + Sync {
    /// Records an action at `now`; returns its number.
    async fn add_voice_action(&self, action: &NewVoiceAction, now: i64) -> StoreResult<i64>;
    /// The actions done on days from `from` to before `until` (each a day's midnight UTC), latest first; only the public
    /// ones when `public_only`; at most `limit`.
    async fn voice_actions(
        &self,
        from: i64,
        until: i64,
        public_only: bool,
        limit: u32,
    ) -> StoreResult<Vec<VoiceAction>>;
    /// Removes an action recorded by mistake; says whether there was one.
    async fn remove_voice_action(&self, id: i64) -> StoreResult<bool>;
}

#[async_trait]
impl<DB: Backend> VoiceActions for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(theme = action.theme))]
    async fn add_voice_action(&self, action: &NewVoiceAction, now: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO voice_actions (theme, said, did, done_at, public, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&action.theme)
        .bind(&action.said)
        .bind(&action.did)
        .bind(action.done_at)
        .bind(action.public)
        .bind(&action.by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(from, until, public_only))]
    async fn voice_actions(
        &self,
        from: i64,
        until: i64,
        public_only: bool,
        limit: u32,
    ) -> StoreResult<Vec<VoiceAction>> {
        let rows = sqlx::query(
            "SELECT id, theme, said, did, done_at, public, recorded_by, recorded_at FROM voice_actions \
             WHERE done_at >= $1 AND done_at < $2 AND (public OR NOT $3) ORDER BY done_at DESC, id DESC LIMIT $4",
        )
        .bind(from)
        .bind(until)
        .bind(public_only)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(VoiceAction {
                    id: row.try_get(0)?,
                    theme: row.try_get(1)?,
                    said: row.try_get(2)?,
                    did: row.try_get(3)?,
                    done_at: row.try_get(4)?,
                    public: row.try_get(5)?,
                    recorded_by: row.try_get(6)?,
                    recorded_at: row.try_get(7)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id))]
    async fn remove_voice_action(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM voice_actions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }
}
