//! The access room: API keys and their revocations, dashboard users and sessions, and the
//! answers kept for requests with an `Idempotency-Key`.

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::sql::API_KEY_SELECT;
use super::{ApiKeyRecord, NewSession, SessionRecord, SqlStore, StoreError, StoreResult, StoredResponse, UserRecord};
use crate::domain::{ParseError, Role};

/// Who may do what: API keys, dashboard users and sessions, and the answers replayed for
/// idempotent requests. Secrets arrive and are kept as hashes only.
#[async_trait]
pub trait Access: Send + Sync {
    /// Stores a new API key (by its hash) and returns its number.
    async fn create_api_key(&self, name: &str, role: Role, prefix: &str, key_hash: &str, now: i64) -> StoreResult<i64>;
    /// The unrevoked key with this hash.
    async fn api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every key, revoked ones included, oldest first.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key and steps the revocation generation; false when there is no such unrevoked key.
    async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<bool>;
    /// The revocation generation: a counter every key revocation steps, so servers that cache
    /// key lookups learn cheaply that they must look again.
    async fn key_revocations(&self) -> StoreResult<i64>;
    /// Creates a dashboard user; `Conflict` when the e-mail address is taken.
    async fn create_user(&self, email: &str, role: Role, password_hash: &str, now: i64) -> StoreResult<i64>;
    /// The user with this e-mail address (compared case-insensitively).
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// Starts a session.
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    /// The session with this token hash, unless it has expired by `now`.
    async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<SessionRecord>>;
    /// Ends a session (and any expired ones).
    async fn delete_session(&self, token_hash: &str, now: i64) -> StoreResult<()>;
    /// The answer given earlier to this API key's request with this idempotency key.
    async fn stored_response(&self, key_id: i64, idem_key: &str) -> StoreResult<Option<StoredResponse>>;
    /// Remembers an answer; a second answer under the same keys is ignored (the first stands).
    async fn save_response(&self, key_id: i64, idem_key: &str, response: &StoredResponse, now: i64) -> StoreResult<()>;
}

#[async_trait]
impl<DB: Backend> Access for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(role = role.as_str()))]
    async fn create_api_key(&self, name: &str, role: Role, prefix: &str, key_hash: &str, now: i64) -> StoreResult<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (name, role, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(prefix)
        .bind(key_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let sql = format!("{API_KEY_SELECT} WHERE key_hash = $1 AND revoked_at IS NULL");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(api_key_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let sql = format!("{API_KEY_SELECT} ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(api_key_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = id))]
    async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<bool> {
        // The revocation and the generation's step commit together: a server that sees
        // the new generation finds the key revoked.
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let revoked = DB::rows_affected(&done) == 1;
        if revoked {
            sqlx::query("UPDATE key_revocations SET generation = generation + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn key_revocations(&self) -> StoreResult<i64> {
        let generation = sqlx::query_scalar("SELECT generation FROM key_revocations WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(generation)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(role = role.as_str()))]
    async fn create_user(&self, email: &str, role: Role, password_hash: &str, now: i64) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO users (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(email.trim().to_lowercase())
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| conflict(e, || format!("a user with e-mail '{email}' exists already")))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT id, email, role, password_hash, created_at FROM users WHERE email = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user = session.user_id))]
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.token_hash)
        .bind(session.user_id)
        .bind(session.csrf_token)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.role, u.password_hash, u.created_at, s.csrf_token, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user: user_from_row::<DB>(&row)?,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_session(&self, token_hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
            .bind(token_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = key_id))]
    async fn stored_response(&self, key_id: i64, idem_key: &str) -> StoreResult<Option<StoredResponse>> {
        let row: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2",
        )
        .bind(key_id)
        .bind(idem_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(request_hash, status, body)| StoredResponse {
            request_hash,
            status: status.clamp(100, 599) as u16,
            body,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = key_id, status = response.status))]
    async fn save_response(&self, key_id: i64, idem_key: &str, response: &StoredResponse, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (api_key_id, idem_key) DO NOTHING",
        )
        .bind(key_id)
        .bind(idem_key)
        .bind(&response.request_hash)
        .bind(i64::from(response.status))
        .bind(&response.body)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn api_key_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<ApiKeyRecord> {
    let role: String = row.try_get(2)?;
    Ok(ApiKeyRecord {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        role: role.parse().map_err(|e: ParseError| StoreError::Corrupt(e.0))?,
        prefix: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
    })
}

fn user_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<UserRecord> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: role.parse().map_err(|e: ParseError| StoreError::Corrupt(e.0))?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A unique-constraint violation as `Conflict` with this message; other errors unchanged.
fn conflict(error: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict(message()),
        _ => error.into(),
    }
}
