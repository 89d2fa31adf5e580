//! The mail room: the outbox of e-mail messages. A message is written in the transaction of what
//! causes it (`MailTx`, reached through `WriteTx::mail`), then claimed under a lease by one
//! delivery worker at a time, every attempt logged, until it is sent or fails.

use async_trait::async_trait;
use base64::Engine as _;
use sqlx::Row as _;

use super::backend::Backend;
use super::outbox::{Claim, NextStep, stamp_claim};
use super::{SqlStore, StoreError, StoreResult};
use crate::domain::link::LinkKey;
use crate::domain::{CustomerId, Email};

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// The customer it is for, when it is for one.
    pub customer_id: Option<CustomerId>,
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text_body: String,
    /// The HTML part.
    pub html_body: String,
    /// Further headers, sent as given (`List-Unsubscribe`, `List-Unsubscribe-Post`, ...).
    pub headers: Vec<(String, String)>,
    /// The care plan and occurrence that wrote it, when one did.
    pub plan: Option<(i64, i64)>,
    /// Why it goes now, in a sentence for staff (never sent).
    pub why: Option<String>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Waiting for its next attempt.
    Queued,
    /// An SMTP server accepted it.
    Sent,
    /// Rejected for good, or every attempt of the retry schedule failed.
    Failed,
}

impl MailStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Queued => "queued",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    /// The status a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Queued, Self::Sent, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A stored message, without its bodies, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailRecord {
    /// The message's number.
    pub id: i64,
    /// The customer it is for.
    pub customer_id: Option<i64>,
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The `Message-ID` header, the same on every attempt.
    pub message_id: String,
    /// When it was written (Unix seconds).
    pub created_at: i64,
    /// Where it stands.
    pub status: MailStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it is tried next, while queued (Unix milliseconds).
    pub next_attempt_ms: i64,
    /// When a server accepted it (Unix seconds).
    pub sent_at: Option<i64>,
    /// The last failed attempt's reply or error.
    pub last_error: Option<String>,
    /// The care plan that wrote it.
    pub plan_id: Option<i64>,
    /// Why it went when it did, for staff.
    pub why: Option<String>,
}

/// A page of the outbox, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailPage {
    /// Only messages in this state.
    pub status: Option<MailStatus>,
    /// Only messages with a smaller number.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MailCounts {
    /// Waiting to be sent.
    pub queued: i64,
    /// Accepted by an SMTP server.
    pub sent: i64,
    /// Given up.
    pub failed: i64,
}

/// A message a worker holds, with everything needed to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    /// The message's number.
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text_body: String,
    /// The HTML part.
    pub html_body: String,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// The `Message-ID` header.
    pub message_id: String,
}

/// One attempt to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttempt {
    /// When it started (Unix milliseconds).
    pub attempted_ms: i64,
    /// The SMTP server's reply, or why none came.
    pub reply: String,
    /// How long it took.
    pub duration_ms: i64,
}

/// An attempt made under the claim `claimed_by`, and what follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttemptResult {
    /// The message's number.
    pub mail_id: i64,
    /// The claim it was made under.
    pub claimed_by: String,
    /// The attempt.
    pub attempt: MailAttempt,
    /// Sent, another try at a time, or given up.
    pub next: NextStep,
}

/// A logged attempt, with what it led to (`sent`, `retry` or `failed`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailAttemptRecord {
    /// When it started (Unix milliseconds).
    pub attempted_ms: i64,
    /// `sent`, `retry` or `failed`.
    pub outcome: String,
    /// The SMTP server's reply, or why none came.
    pub reply: String,
    /// How long it took.
    pub duration_ms: i64,
}

/// The outbox outside a write transaction: what delivery workers and lists do.
#[async_trait]
pub trait Mail: Send + Sync {
    /// Takes queued messages due at `claim.now_ms` that no live claim holds, oldest due first,
    /// for one worker until `claim.until_ms`.
    async fn claim_mail(&self, claim: &Claim) -> StoreResult<Vec<ClaimedMail>>;
    /// Logs an attempt and moves its message on (unless its claim lapsed meanwhile: then only
    /// the attempt is logged, and the message is the new holder's).
    async fn record_mail_attempt(&self, result: &MailAttemptResult) -> StoreResult<()>;
    /// A page of messages, newest first.
    async fn mail_messages(&self, page: MailPage) -> StoreResult<Vec<MailRecord>>;
    /// A message's attempts, oldest first.
    async fn mail_attempts(&self, mail_id: i64) -> StoreResult<Vec<MailAttemptRecord>>;
    /// How many messages are in each state.
    async fn count_mail(&self) -> StoreResult<MailCounts>;
    /// The key that signs links for `purpose`, made and stored by the first caller (at `now`).
    async fn link_key(&self, purpose: &str, now: i64) -> StoreResult<LinkKey>;
}

/// The mail room's part of a write transaction (`WriteTx::mail`).
#[async_trait]
pub trait MailTx: Send {
    /// Queues messages, due at once, each with a new `Message-ID`; returns those ids in input
    /// order. `now` in Unix seconds.
    async fn enqueue_mail(&mut self, mails: &[NewMail], now: i64) -> StoreResult<Vec<String>>;
    /// Holds these customers' contact history until the transaction ends, so that two writers
    /// checking the contact cap for one customer take turns (customers sorted, so no deadlock).
    async fn lock_recipients(&mut self, customers: &[CustomerId]) -> StoreResult<()>;
    /// When these customers were written to at `since` or later (messages not failed).
    async fn recent_mail(&mut self, customers: &[CustomerId], since: i64) -> StoreResult<Vec<(CustomerId, i64)>>;
    /// `Mail::link_key` inside the transaction.
    async fn link_key(&mut self, purpose: &str, now: i64) -> StoreResult<LinkKey>;
}

const MAIL_SELECT: &str = "SELECT id, customer_id, to_address, subject, message_id, created_at, status, attempts, \
     next_attempt_ms, sent_at, last_error, plan_id, why FROM mail_messages";

#[async_trait]
impl<DB: Backend> Mail for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(limit = claim.limit))]
    async fn claim_mail(&self, claim: &Claim) -> StoreResult<Vec<ClaimedMail>> {
        stamp_claim(&self.pool, claim, "mail_messages", MailStatus::Queued.as_str(), "").await?;
        let rows = sqlx::query(
            "SELECT id, attempts, to_address, subject, text_body, html_body, headers, message_id \
             FROM mail_messages WHERE claimed_by = $1 AND status = 'queued' ORDER BY next_attempt_ms, id",
        )
        .bind(&claim.by)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get(0)?;
                let headers: String = row.try_get(6)?;
                Ok(ClaimedMail {
                    id,
                    attempts: count(row.try_get(1)?),
                    to: row.try_get(2)?,
                    subject: row.try_get(3)?,
                    text_body: row.try_get(4)?,
                    html_body: row.try_get(5)?,
                    headers: serde_json::from_str(&headers)
                        .map_err(|e| StoreError::Corrupt(format!("mail message {id}'s headers: {e}")))?,
                    message_id: row.try_get(7)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(mail = result.mail_id))]
    async fn record_mail_attempt(&self, result: &MailAttemptResult) -> StoreResult<()> {
        let attempt = &result.attempt;
        let (status, outcome, next_ms) = match result.next {
            NextStep::Delivered => (MailStatus::Sent, "sent", attempt.attempted_ms),
            NextStep::RetryAt(at) => (MailStatus::Queued, "retry", at),
            NextStep::GiveUp => (MailStatus::Failed, "failed", attempt.attempted_ms),
        };
        let sent_at = (status == MailStatus::Sent).then_some(attempt.attempted_ms.div_euclid(1000));
        let error = (status != MailStatus::Sent).then_some(attempt.reply.as_str());
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO mail_attempts (mail_id, attempted_ms, outcome, reply, duration_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(result.mail_id)
        .bind(attempt.attempted_ms)
        .bind(outcome)
        .bind(&attempt.reply)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE mail_messages SET attempts = attempts + 1, status = $3, next_attempt_ms = $4, \
             sent_at = $5, last_error = COALESCE($6, last_error), claimed_by = NULL, claimed_until_ms = NULL \
             WHERE id = $1 AND claimed_by = $2",
        )
        .bind(result.mail_id)
        .bind(&result.claimed_by)
        .bind(status.as_str())
        .bind(next_ms)
        .bind(sent_at)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit = page.limit))]
    async fn mail_messages(&self, page: MailPage) -> StoreResult<Vec<MailRecord>> {
        let sql = format!("{MAIL_SELECT} WHERE ($1 IS NULL OR status = $1) AND id < $2 ORDER BY id DESC LIMIT $3");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(page.status.map(MailStatus::as_str))
            .bind(page.before.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(mail_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(mail = mail_id))]
    async fn mail_attempts(&self, mail_id: i64) -> StoreResult<Vec<MailAttemptRecord>> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT attempted_ms, outcome, reply, duration_ms FROM mail_attempts WHERE mail_id = $1 ORDER BY id",
        )
        .bind(mail_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(attempted_ms, outcome, reply, duration_ms)| MailAttemptRecord {
                attempted_ms,
                outcome,
                reply,
                duration_ms,
            })
            .collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(purpose))]
    async fn link_key(&self, purpose: &str, now: i64) -> StoreResult<LinkKey> {
        let mut conn = self.pool.acquire().await?;
        link_key::<DB>(&mut conn, purpose, now).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn count_mail(&self) -> StoreResult<MailCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, count(*) FROM mail_messages GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = MailCounts::default();
        for (status, n) in rows {
            match MailStatus::parse(&status) {
                Some(MailStatus::Queued) => counts.queued = n,
                Some(MailStatus::Sent) => counts.sent = n,
                Some(MailStatus::Failed) => counts.failed = n,
                None => return Err(StoreError::Corrupt(format!("mail status '{status}'"))),
            }
        }
        Ok(counts)
    }
}

/// `MailTx::enqueue_mail` for a backend's write transaction (`SqlTx` hands its connection here).
pub(super) async fn enqueue_mail<DB: Backend>(
    conn: &mut DB::Connection,
    mails: &[NewMail],
    now: i64,
) -> StoreResult<Vec<String>> {
    if mails.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = mails.iter().map(|_| message_id()).collect();
    let rows: Vec<_> = mails
        .iter()
        .zip(&ids)
        .map(|(m, id)| {
            let headers = serde_json::to_string(&m.headers).expect("headers serialize");
            serde_json::json!([
                m.customer_id.map(|c| c.0),
                m.to.as_str(),
                m.subject,
                m.text_body,
                m.html_body,
                headers,
                id,
                m.plan.map(|(plan, _)| plan),
                m.plan.map(|(_, occurrence)| occurrence),
                m.why
            ])
        })
        .collect();
    let sql = format!(
        "INSERT INTO mail_messages (customer_id, to_address, subject, text_body, html_body, headers, message_id, \
         created_at, status, attempts, next_attempt_ms, plan_id, occurrence_id, why) \
         SELECT CAST(value->>0 AS BIGINT), value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, \
         $2, 'queued', 0, $3, CAST(value->>7 AS BIGINT), CAST(value->>8 AS BIGINT), value->>9 FROM {}",
        DB::JSON_ROWS
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(now)
        .bind(now.saturating_mul(1000))
        .execute(&mut *conn)
        .await?;
    Ok(ids)
}

/// `MailTx::lock_recipients` for a backend's write transaction.
pub(super) async fn lock_recipients<DB: Backend>(
    conn: &mut DB::Connection,
    customers: &[CustomerId],
) -> StoreResult<()> {
    if DB::LOCK_RECIPIENTS.is_empty() || customers.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
    ids.sort_unstable();
    ids.dedup();
    sqlx::query(DB::LOCK_RECIPIENTS)
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `MailTx::recent_mail` for a backend's write transaction.
pub(super) async fn recent_mail<DB: Backend>(
    conn: &mut DB::Connection,
    customers: &[CustomerId],
    since: i64,
) -> StoreResult<Vec<(CustomerId, i64)>> {
    let ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
    let sql = format!(
        "SELECT customer_id, created_at FROM mail_messages WHERE customer_id IN \
         (SELECT CAST(value AS BIGINT) FROM {}) AND created_at >= $2 AND status <> 'failed'",
        DB::JSON_ROWS
    );
    let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
        .bind(since)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(|(c, at)| (CustomerId(c), at)).collect())
}

/// The signing key for `purpose`: the stored one, or a new random one stored first (when two
/// processes race, both read back the one that was stored).
pub(super) async fn link_key<DB: Backend>(conn: &mut DB::Connection, purpose: &str, now: i64) -> StoreResult<LinkKey> {
    let stored: Option<String> = sqlx::query_scalar("SELECT secret FROM link_keys WHERE purpose = $1")
        .bind(purpose)
        .fetch_optional(&mut *conn)
        .await?;
    let secret = match stored {
        Some(secret) => secret,
        None => {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes);
            let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
            sqlx::query(
                "INSERT INTO link_keys (purpose, secret, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (purpose) DO NOTHING",
            )
            .bind(purpose)
            .bind(&secret)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            sqlx::query_scalar("SELECT secret FROM link_keys WHERE purpose = $1")
                .bind(purpose)
                .fetch_one(&mut *conn)
                .await?
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret.as_bytes())
        .map_err(|e| StoreError::Corrupt(format!("link key '{purpose}': {e}")))?;
    Ok(LinkKey::new(bytes))
}

/// A new `Message-ID`: 22 random URL-safe characters at a reserved domain, unique without
/// knowing the sender's.
fn message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let local = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!("<{local}@rapport.invalid>")
}

fn mail_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<MailRecord> {
    let status: String = row.try_get(6)?;
    Ok(MailRecord {
        id: row.try_get(0)?,
        customer_id: row.try_get(1)?,
        to: row.try_get(2)?,
        subject: row.try_get(3)?,
        message_id: row.try_get(4)?,
        created_at: row.try_get(5)?,
        status: MailStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("mail status '{status}'")))?,
        attempts: count(row.try_get(7)?),
        next_attempt_ms: row.try_get(8)?,
        sent_at: row.try_get(9)?,
        last_error: row.try_get(10)?,
        plan_id: row.try_get(11)?,
        why: row.try_get(12)?,
    })
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
