//! The feedback room: survey sends, each customer's personal link (invitation), and the
//! responses projected from the log's feedback events. A response row is derived, never the
//! source: `rapport rebuild` makes the event-made ones again (anonymous answers, which have no
//! customer, are kept as they are).

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::{SqlStore, StoreError, StoreResult, SurveyRecord};
use crate::domain::survey::{Answers, NpsCategory, SurveyKind};
use crate::domain::{CustomerId, EventKind, StoredEvent};

/// An answer that counts, as the responses table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    /// The survey's name.
    pub survey: String,
    /// The version answered.
    pub version: i64,
    /// Which standard the survey follows.
    pub survey_kind: SurveyKind,
    /// Who answered; `None` through the survey's anonymous link.
    pub customer_id: Option<CustomerId>,
    /// The personal link answered: its latest answer replaces an earlier one.
    pub invitation_id: Option<i64>,
    /// The feedback event it was made from.
    pub event_id: Option<i64>,
    /// The standard question's score.
    pub score: Option<i64>,
    /// Where the score puts the customer.
    pub category: Option<NpsCategory>,
    /// The free-text answers, joined.
    pub comment: Option<String>,
    /// Every answer.
    pub answers: Answers,
    /// When it was answered (Unix seconds).
    pub answered_at: i64,
}

impl ResponseRow {
    /// The row a stored feedback event makes; `None` for other events.
    pub fn from_event(event: &StoredEvent) -> Option<Self> {
        let EventKind::Feedback {
            survey,
            version,
            survey_kind,
            invitation,
            score,
            category,
            answers,
        } = &event.kind
        else {
            return None;
        };
        Some(Self {
            survey: survey.clone(),
            version: *version,
            survey_kind: *survey_kind,
            customer_id: Some(event.customer_id),
            invitation_id: *invitation,
            event_id: Some(event.id),
            score: *score,
            category: *category,
            comment: answers.comment(),
            answers: answers.clone(),
            answered_at: event.occurred_at,
        })
    }
}

/// A personal link about to be stored with the message that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitation {
    /// Drawn at random by the caller (`new_invitation_id`), signed into the link.
    pub id: i64,
    /// The survey's number.
    pub survey_id: i64,
    /// The version in force when it was sent: the one the page shows.
    pub version: i64,
    /// Who it is for.
    pub customer_id: CustomerId,
    /// When the link stops working.
    pub expires_at: i64,
}

/// A personal link as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvitationRecord {
    /// Its number, as the link carries it.
    pub id: i64,
    /// The send it belongs to.
    pub send_id: i64,
    /// The survey's number.
    pub survey_id: i64,
    /// The survey's name.
    pub survey: String,
    /// The version it asks.
    pub version: i64,
    /// Who it is for.
    pub customer_id: CustomerId,
    /// When it was made.
    pub created_at: i64,
    /// When the link stops working.
    pub expires_at: i64,
    /// Reminders sent.
    pub reminders: i64,
    /// When the invitation or its latest reminder was queued.
    pub last_mailed_at: i64,
    /// The first answer, if any.
    pub responded_at: Option<i64>,
}

/// A send with its response rate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SendRecord {
    /// Its number.
    pub id: i64,
    /// The survey's name.
    pub survey: String,
    /// What sent it.
    pub label: String,
    /// When.
    pub created_at: i64,
    /// Personal links sent.
    pub invited: i64,
    /// Of those, answered.
    pub responded: i64,
    /// Reminders sent.
    pub reminders: i64,
}

impl SendRecord {
    /// Answered links per link sent, from 0 to 1 (0 for a send of none).
    pub fn response_rate(&self) -> f64 {
        if self.invited == 0 {
            0.0
        } else {
            self.responded as f64 / self.invited as f64
        }
    }
}

/// Who a send is for: every bound that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct Audience<'a> {
    /// The survey sent (its number).
    pub survey_id: i64,
    /// At this stage.
    pub stage: Option<crate::domain::Stage>,
    /// In this segment.
    pub segment: Option<rapport_models::Segment>,
    /// Bought at this time or later.
    pub purchased_since: Option<i64>,
    /// Among these customers.
    pub only: Option<&'a [CustomerId]>,
}

/// `FeedbackTx::audience` for a backend's write transaction.
pub(super) async fn audience<DB: Backend>(
    conn: &mut DB::Connection,
    audience: &Audience<'_>,
    now: i64,
) -> StoreResult<Vec<(CustomerId, bool)>> {
    let segment = audience
        .segment
        .map(|s| serde_json::to_value(s).expect("segments serialise"))
        .and_then(|v| v.as_str().map(str::to_owned));
    let only = audience
        .only
        .map(|ids| serde_json::to_string(&ids.iter().map(|c| c.0).collect::<Vec<_>>()).expect("ids serialise"));
    // $1 is the JSON of the customers named (or an empty list, unused): JSON_ROWS reads $1.
    let sql = format!(
        "SELECT s.customer_id, CAST(CASE WHEN EXISTS (SELECT 1 FROM survey_invitations i \
         WHERE i.customer_id = s.customer_id AND i.survey_id = $2 AND i.expires_at > $3 \
         AND i.responded_at IS NULL) THEN 1 ELSE 0 END AS BIGINT) \
         FROM customer_state s LEFT JOIN customer_scores sc ON sc.customer_id = s.customer_id \
         WHERE ($4 IS NULL OR s.stage = $4) AND ($5 IS NULL OR sc.segment = $5) \
         AND ($6 IS NULL OR s.last_purchase_at >= $6) \
         AND ($7 = 0 OR s.customer_id IN (SELECT CAST(value AS BIGINT) FROM {})) ORDER BY s.customer_id",
        DB::JSON_ROWS
    );
    let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(only.clone().unwrap_or_else(|| "[]".to_owned()))
        .bind(audience.survey_id)
        .bind(now)
        .bind(audience.stage.map(|s| s.as_str()))
        .bind(segment)
        .bind(audience.purchased_since)
        .bind(i64::from(only.is_some()))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, invited)| (CustomerId(id), invited != 0))
        .collect())
}

/// A random positive id for a personal link: known before it is stored, so the message that
/// carries it can be written in the same transaction; 63 bits make a clash practically impossible
/// (and the primary key refuses one).
pub fn new_invitation_id() -> i64 {
    (rand::random::<u64>() >> 1).max(1) as i64
}

/// The feedback room's statements inside a write transaction.
#[async_trait]
pub trait FeedbackTx: Send {
    /// Projects answers: an invitation's latest answer replaces its earlier one, an event's row
    /// is written once.
    async fn record_responses(&mut self, rows: &[ResponseRow]) -> StoreResult<()>;
    /// Deletes every response made from an event (before a rebuild makes them again).
    async fn clear_event_responses(&mut self) -> StoreResult<()>;
    /// The send of a plan's survey action, made the first time the plan sends.
    async fn plan_send(&mut self, survey_id: i64, plan_id: i64, label: &str, now: i64) -> StoreResult<i64>;
    /// A new send (a `rapport surveys send` run).
    async fn create_send(&mut self, survey_id: i64, label: &str, now: i64) -> StoreResult<i64>;
    /// Stores personal links of a send, each mailed at `now`.
    async fn insert_invitations(&mut self, send_id: i64, invitations: &[NewInvitation], now: i64) -> StoreResult<()>;
    /// Takes up to `limit` unanswered, unexpired links last mailed at `mailed_before` or earlier
    /// with fewer than `max_reminders` reminders, that no other transaction holds.
    async fn claim_reminders(
        &mut self,
        now: i64,
        mailed_before: i64,
        max_reminders: i64,
        limit: u32,
    ) -> StoreResult<Vec<InvitationRecord>>;
    /// The customers a send reaches, by id: at `stage`, in `segment` (by their latest scores),
    /// with a purchase at `purchased_since` or later, or among `only` (each `None`: anyone); each
    /// with whether an unanswered, unexpired link to the survey is already theirs.
    async fn audience(&mut self, audience: &Audience<'_>, now: i64) -> StoreResult<Vec<(CustomerId, bool)>>;
    /// The surveys with these names, each with its version in force (the missing left out).
    async fn surveys_named(&mut self, names: &[&str]) -> StoreResult<Vec<SurveyRecord>>;
    /// Counts a reminder for each link (queued at `now`, or skipped: a skipped one is not tried
    /// again before the next gap).
    async fn mark_reminded(&mut self, ids: &[i64], now: i64) -> StoreResult<()>;
}

/// Sends, links and responses, read.
#[async_trait]
pub trait Feedback: Send + Sync {
    /// One personal link.
    async fn invitation(&self, id: i64) -> StoreResult<Option<InvitationRecord>>;
    /// The personal links made at `from` or later and before `until`, oldest first.
    async fn invitations_made(&self, from: i64, until: i64) -> StoreResult<Vec<InvitationRecord>>;
    /// The latest answer given through a personal link.
    async fn invitation_response(&self, id: i64) -> StoreResult<Option<ResponseRow>>;
    /// Stores an answer given through a survey's anonymous link.
    async fn record_anonymous(&self, row: &ResponseRow) -> StoreResult<()>;
    /// Every send, newest first, with its response rate (of one survey, or all).
    async fn sends(&self, survey: Option<&str>) -> StoreResult<Vec<SendRecord>>;
}

const INVITATION_SELECT: &str = "SELECT i.id, i.send_id, i.survey_id, s.name, i.version, i.customer_id, \
     i.created_at, i.expires_at, i.reminders, i.last_mailed_at, i.responded_at \
     FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id";

fn invitation_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<InvitationRecord> {
    Ok(InvitationRecord {
        id: row.try_get(0)?,
        send_id: row.try_get(1)?,
        survey_id: row.try_get(2)?,
        survey: row.try_get(3)?,
        version: row.try_get(4)?,
        customer_id: CustomerId(row.try_get(5)?),
        created_at: row.try_get(6)?,
        expires_at: row.try_get(7)?,
        reminders: row.try_get(8)?,
        last_mailed_at: row.try_get(9)?,
        responded_at: row.try_get(10)?,
    })
}

const RESPONSE_COLUMNS: &str = "survey, version, survey_kind, customer_id, invitation_id, event_id, score, \
     category, comment, answers, answered_at";

fn response_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<ResponseRow> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("a survey response's {what}: {e}"));
    let kind: String = row.try_get(2)?;
    let category: Option<String> = row.try_get(7)?;
    let answers: String = row.try_get(9)?;
    Ok(ResponseRow {
        survey: row.try_get(0)?,
        version: row.try_get(1)?,
        survey_kind: serde_json::from_value(serde_json::Value::String(kind))
            .map_err(|e| corrupt("kind", e.to_string()))?,
        customer_id: row.try_get::<Option<i64>, _>(3)?.map(CustomerId),
        invitation_id: row.try_get(4)?,
        event_id: row.try_get(5)?,
        score: row.try_get(6)?,
        category: category
            .map(|c| c.parse())
            .transpose()
            .map_err(|e| corrupt("category", e))?,
        comment: row.try_get(8)?,
        answers: serde_json::from_str(&answers).map_err(|e| corrupt("answers", e.to_string()))?,
        answered_at: row.try_get(10)?,
    })
}

/// Writes responses; one with an invitation replaces that invitation's row when it is later (by
/// time, then by event), and marks the invitation answered at its first answer. Written a
/// thousand at a time: a rebuild projects every answer in the log.
pub(super) async fn record_responses<DB: Backend>(conn: &mut DB::Connection, rows: &[ResponseRow]) -> StoreResult<()> {
    // One statement cannot update a row twice (PostgreSQL refuses): an invitation's latest
    // answer of the batch is the one written, its earliest the one that marks it answered.
    let mut latest: BTreeMap<i64, &ResponseRow> = BTreeMap::new();
    let mut first: BTreeMap<i64, i64> = BTreeMap::new();
    let mut others = Vec::new();
    let order = |r: &ResponseRow| (r.answered_at, r.event_id.unwrap_or(0));
    for row in rows {
        let Some(invitation) = row.invitation_id else {
            others.push(row);
            continue;
        };
        let kept = latest.entry(invitation).or_insert(row);
        if order(row) > order(kept) {
            *kept = row;
        }
        let at = first.entry(invitation).or_insert(row.answered_at);
        *at = (*at).min(row.answered_at);
    }
    let replace = format!(
        "ON CONFLICT (invitation_id) DO UPDATE SET {} WHERE survey_responses.answered_at < excluded.answered_at \
         OR (survey_responses.answered_at = excluded.answered_at \
         AND coalesce(survey_responses.event_id, 0) < coalesce(excluded.event_id, 0))",
        RESPONSE_COLUMNS
            .split(", ")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let invited: Vec<&ResponseRow> = latest.into_values().collect();
    for (batch, conflict) in [(invited, replace.as_str()), (others, "ON CONFLICT DO NOTHING")] {
        for chunk in batch.chunks(1_000) {
            let json: Vec<serde_json::Value> = chunk
                .iter()
                .map(|r| {
                    serde_json::json!([
                        r.survey,
                        r.version,
                        r.survey_kind.as_str(),
                        r.customer_id.map(|c| c.0),
                        r.invitation_id,
                        r.event_id,
                        r.score,
                        r.category.map(NpsCategory::as_str),
                        r.comment,
                        serde_json::to_string(&r.answers).expect("answers serialise"),
                        r.answered_at
                    ])
                })
                .collect();
            // `WHERE true`: SQLite reads `ON CONFLICT` after a bare `FROM` as a join's.
            let sql = format!(
                "INSERT INTO survey_responses ({RESPONSE_COLUMNS}) SELECT value->>0, CAST(value->>1 AS BIGINT), \
                 value->>2, CAST(value->>3 AS BIGINT), CAST(value->>4 AS BIGINT), CAST(value->>5 AS BIGINT), \
                 CAST(value->>6 AS BIGINT), value->>7, value->>8, value->>9, CAST(value->>10 AS BIGINT) \
                 FROM {} WHERE true {conflict}",
                DB::JSON_ROWS
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(serde_json::Value::Array(json).to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    let first: Vec<(i64, i64)> = first.into_iter().collect();
    for chunk in first.chunks(1_000) {
        let json = serde_json::to_string(chunk).expect("pairs serialise");
        let sql = format!(
            "UPDATE survey_invitations SET responded_at = a.at FROM (SELECT CAST(value->>0 AS BIGINT) AS id, \
             CAST(value->>1 AS BIGINT) AS at FROM {}) a \
             WHERE survey_invitations.id = a.id AND (responded_at IS NULL OR responded_at > a.at)",
            DB::JSON_ROWS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(json)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn clear_event_responses<DB: Backend>(conn: &mut DB::Connection) -> StoreResult<()> {
    sqlx::query("DELETE FROM survey_responses WHERE event_id IS NOT NULL")
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE survey_invitations SET responded_at = NULL")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn plan_send<DB: Backend>(
    conn: &mut DB::Connection,
    survey_id: i64,
    plan_id: i64,
    label: &str,
    now: i64,
) -> StoreResult<i64> {
    sqlx::query(
        "INSERT INTO survey_sends (survey_id, label, plan_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (plan_id) DO NOTHING",
    )
    .bind(survey_id)
    .bind(label)
    .bind(plan_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar("SELECT id FROM survey_sends WHERE plan_id = $1")
        .bind(plan_id)
        .fetch_one(&mut *conn)
        .await?)
}

pub(super) async fn create_send<DB: Backend>(
    conn: &mut DB::Connection,
    survey_id: i64,
    label: &str,
    now: i64,
) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("INSERT INTO survey_sends (survey_id, label, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(survey_id)
            .bind(label)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?,
    )
}

pub(super) async fn insert_invitations<DB: Backend>(
    conn: &mut DB::Connection,
    send_id: i64,
    invitations: &[NewInvitation],
    now: i64,
) -> StoreResult<()> {
    for chunk in invitations.chunks(2_000) {
        let json: Vec<serde_json::Value> = chunk
            .iter()
            .map(|i| serde_json::json!([i.id, i.survey_id, i.version, i.customer_id.0, i.expires_at]))
            .collect();
        let sql = format!(
            "INSERT INTO survey_invitations (id, send_id, survey_id, version, customer_id, created_at, expires_at, \
             last_mailed_at) SELECT CAST(value->>0 AS BIGINT), $2, CAST(value->>1 AS BIGINT), \
             CAST(value->>2 AS BIGINT), CAST(value->>3 AS BIGINT), $3, CAST(value->>4 AS BIGINT), $3 FROM {}",
            DB::JSON_ROWS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::Value::Array(json).to_string())
            .bind(send_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn claim_reminders<DB: Backend>(
    conn: &mut DB::Connection,
    now: i64,
    mailed_before: i64,
    max_reminders: i64,
    limit: u32,
) -> StoreResult<Vec<InvitationRecord>> {
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM survey_invitations WHERE responded_at IS NULL AND last_mailed_at <= $1 \
         AND expires_at > $2 AND reminders < $3 ORDER BY last_mailed_at, id LIMIT $4 {}",
        DB::SKIP_LOCKED
    )))
    .bind(mailed_before)
    .bind(now)
    .bind(max_reminders)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{INVITATION_SELECT} WHERE i.id IN (SELECT CAST(value AS BIGINT) FROM {}) ORDER BY i.id",
        DB::JSON_ROWS
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(&ids).expect("ids serialise"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(invitation_from_row::<DB>).collect()
}

pub(super) async fn mark_reminded<DB: Backend>(conn: &mut DB::Connection, ids: &[i64], now: i64) -> StoreResult<()> {
    let sql = format!(
        "UPDATE survey_invitations SET reminders = reminders + 1, last_mailed_at = $2 \
         WHERE id IN (SELECT CAST(value AS BIGINT) FROM {})",
        DB::JSON_ROWS
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(ids).expect("ids serialise"))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl<DB: Backend> Feedback for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(invitation = id))]
    async fn invitation(&self, id: i64) -> StoreResult<Option<InvitationRecord>> {
        let sql = format!("{INVITATION_SELECT} WHERE i.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(invitation_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn invitations_made(&self, from: i64, until: i64) -> StoreResult<Vec<InvitationRecord>> {
        let sql =
            format!("{INVITATION_SELECT} WHERE i.created_at >= $1 AND i.created_at < $2 ORDER BY i.created_at, i.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from)
            .bind(until)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(invitation_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(invitation = id))]
    async fn invitation_response(&self, id: i64) -> StoreResult<Option<ResponseRow>> {
        let sql = format!("SELECT {RESPONSE_COLUMNS} FROM survey_responses WHERE invitation_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(response_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(survey = row.survey))]
    async fn record_anonymous(&self, row: &ResponseRow) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        record_responses::<DB>(&mut conn, std::slice::from_ref(row)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn sends(&self, survey: Option<&str>) -> StoreResult<Vec<SendRecord>> {
        let rows = sqlx::query(
            "SELECT d.id, s.name, d.label, d.created_at, count(i.id), count(i.responded_at), \
             CAST(coalesce(sum(i.reminders), 0) AS BIGINT) \
             FROM survey_sends d JOIN surveys s ON s.id = d.survey_id \
             LEFT JOIN survey_invitations i ON i.send_id = d.id \
             WHERE $1 IS NULL OR s.name = $1 \
             GROUP BY d.id, s.name, d.label, d.created_at ORDER BY d.created_at DESC, d.id DESC",
        )
        .bind(survey)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SendRecord {
                    id: row.try_get(0)?,
                    survey: row.try_get(1)?,
                    label: row.try_get(2)?,
                    created_at: row.try_get(3)?,
                    invited: row.try_get(4)?,
                    responded: row.try_get(5)?,
                    reminders: row.try_get(6)?,
                })
            })
            .collect()
    }
}
