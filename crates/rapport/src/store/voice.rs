//! The voice room: what analysis reads of the answers and the timeline: the responses with each
//! customer's stage and segment, interviews found by text or tag, voice set against behaviour,
//! and what followed each detractor's answer.

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::{SqlStore, StoreError, StoreResult};
use crate::domain::survey::{NpsCategory, SurveyKind};
use crate::domain::{CustomerId, StoredEvent};

/// Answers and interviews, read for analysis.
#[async_trait]
pub trait Voice: Send + Sync {
    /// The themes staff named, by name, each with its terms.
    async fn theme_names(&self) -> StoreResult<Vec<(String, Vec<String>)>>;
    /// Names a theme (or replaces its terms), at `now`.
    async fn set_theme_name(&self, name: &str, terms: &[String], now: i64) -> StoreResult<()>;
    /// Removes a named theme; says whether there was one.
    async fn remove_theme_name(&self, name: &str) -> StoreResult<bool>;
    /// Interviews, newest first, at most `limit`: those whose text holds `text` (any case) and
    /// that carry `tag`, each bound optional; each with the business's id of its customer.
    async fn interviews(
        &self,
        text: Option<&str>,
        tag: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, StoredEvent)>>;
    /// Voice against behaviour, at most `limit` of each: promoters whose P(alive) fell at their
    /// latest scoring or is below `threshold` (happy but fading), lowest first; detractors who
    /// bought since they answered or whose P(alive) is at least `threshold` (unhappy but active),
    /// latest purchase first.
    async fn voice_behaviour(&self, threshold: f64, limit: u32) -> StoreResult<VoiceBehaviour>;
    /// Every detractor's answer (from a customer) with what followed it: whether staff contacted
    /// them (an interaction or an interview) within `sla` seconds, or at all, their next answer's
    /// category, and whether they bought within `window` seconds after answering.
    async fn recovery(&self, sla: i64, window: i64) -> StoreResult<Vec<RecoveryRow>>;
    /// Every answer that counts (of one survey, or all), oldest first, with the customer's stage
    /// and segment now.
    async fn responses(&self, survey: Option<&str>) -> StoreResult<Vec<AnalysedResponse>>;
    /// The answers given at `from` or later and before `until` (of every survey), as `responses`
    /// reads them: a report reads only its periods'.
    async fn responses_between(&self, from: i64, until: i64) -> StoreResult<Vec<AnalysedResponse>>;
    /// Every interview's words (what the customer needs, wants and fears, and the notes), oldest
    /// first, each with the customer's latest NPS category.
    async fn interview_notes(&self) -> StoreResult<Vec<InterviewNote>>;
    /// The comments staff put in a named theme by hand: comment id and theme name.
    async fn theme_tags(&self) -> StoreResult<Vec<(i64, String)>>;
    /// Puts a comment in a named theme by `by` at `now` (once: a second time changes nothing).
    async fn tag_comment(&self, comment: i64, theme: &str, by: &str, now: i64) -> StoreResult<()>;
    /// Takes a comment out of a theme it was put in by hand; says whether it was.
    async fn untag_comment(&self, comment: i64, theme: &str) -> StoreResult<bool>;
    /// Whether a comment with this id exists: an answer's event, an interview, or an anonymous
    /// answer's response (its id negated).
    async fn comment_exists(&self, comment: i64) -> StoreResult<bool>;
}

/// An interview's words, read for themes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterviewNote {
    /// The interview's event.
    pub event_id: i64,
    /// Its texts, one a line.
    pub text: String,
    /// The customer's latest NPS category.
    pub category: Option<NpsCategory>,
    /// When it was held.
    pub occurred_at: i64,
}

/// A customer whose words and behaviour disagree.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BehaviourRow {
    /// The business's id.
    pub customer_id: String,
    /// Their name, when known.
    pub name: Option<String>,
    /// When they gave their latest NPS answer.
    pub nps_at: i64,
    /// P(alive) at the latest scoring, when scored.
    pub p_alive: Option<f64>,
    /// P(alive) at the scoring before, when there was one.
    pub previous_p_alive: Option<f64>,
    /// Purchases.
    pub purchase_count: i64,
    /// The latest purchase.
    pub last_purchase_at: Option<i64>,
}

/// The two lists of voice against behaviour.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct VoiceBehaviour {
    /// Promoters slipping away: happy but fading.
    pub fading_promoters: Vec<BehaviourRow>,
    /// Detractors still buying: unhappy but active.
    pub active_detractors: Vec<BehaviourRow>,
}

/// A detractor's answer and what followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRow {
    /// Whose answer.
    pub customer_id: CustomerId,
    /// When it was given.
    pub answered_at: i64,
    /// The first contact after it, if any.
    pub contacted_at: Option<i64>,
    /// The category of the customer's next answer, if they answered again.
    pub next_category: Option<NpsCategory>,
    /// Their first purchase after answering, if any.
    pub bought_at: Option<i64>,
}

/// An answer as analysis reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysedResponse {
    /// The response's number.
    pub id: i64,
    /// The survey's name.
    pub survey: String,
    /// Which standard it follows.
    pub survey_kind: SurveyKind,
    /// The score.
    pub score: Option<i64>,
    /// Its category.
    pub category: Option<NpsCategory>,
    /// The free text.
    pub comment: Option<String>,
    /// When (Unix seconds).
    pub answered_at: i64,
    /// The customer's stage now (none for an anonymous answer).
    pub stage: Option<String>,
    /// The customer's segment at their latest scoring.
    pub segment: Option<String>,
    /// The care plan whose survey action sent the link answered, if one did.
    pub plan: Option<String>,
    /// The feedback event it was made from (none for an anonymous answer).
    pub event_id: Option<i64>,
}

/// The answers of `survey` (every one's when `None`) given at `from` or later and before `until`,
/// oldest first, with the customer's stage and segment now and the plan that sent each.
async fn select_responses<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    survey: Option<&str>,
    from: i64,
    until: i64,
) -> StoreResult<Vec<AnalysedResponse>> {
    let rows = sqlx::query(
        "SELECT r.id, r.survey, r.survey_kind, r.score, r.category, r.comment, r.answered_at, s.stage, \
         sc.segment, p.name, r.event_id FROM survey_responses r LEFT JOIN customer_state s ON s.customer_id = r.customer_id \
         LEFT JOIN customer_scores sc ON sc.customer_id = r.customer_id \
         LEFT JOIN survey_invitations i ON i.id = r.invitation_id LEFT JOIN survey_sends d ON d.id = i.send_id \
         LEFT JOIN plans p ON p.id = d.plan_id \
         WHERE ($1 IS NULL OR r.survey = $1) AND r.answered_at >= $2 AND r.answered_at < $3 \
         ORDER BY r.answered_at, r.id",
    )
    .bind(survey)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get(2)?;
            let category: Option<String> = row.try_get(4)?;
            Ok(AnalysedResponse {
                id: row.try_get(0)?,
                survey: row.try_get(1)?,
                survey_kind: serde_json::from_value(serde_json::Value::String(kind.clone()))
                    .map_err(|_| StoreError::Corrupt(format!("a response's survey kind '{kind}'")))?,
                score: row.try_get(3)?,
                category: category.map(|c| c.parse()).transpose().map_err(StoreError::Corrupt)?,
                comment: row.try_get(5)?,
                answered_at: row.try_get(6)?,
                stage: row.try_get(7)?,
                segment: row.try_get(8)?,
                plan: row.try_get(9)?,
                event_id: row.try_get(10)?,
            })
        })
        .collect()
}

/// The event columns, read from `events e` after the customer's id (offset 1).
const EVENT_COLUMNS_E: &str = "e.id, e.customer_id, e.kind, e.occurred_at, e.recorded_at, e.event_key, \
     e.amount_cents, e.currency, e.order_id, e.quantity, e.data";

/// An interview event read after one leading column.
fn interview_event<DB: Backend>(row: &DB::Row) -> StoreResult<StoredEvent> {
    let kind: String = row.try_get(3)?;
    super::codec::EventRow {
        customer_id: row.try_get(2)?,
        kind: super::codec::kind_name(&kind)?,
        occurred_at: row.try_get(4)?,
        recorded_at: row.try_get(5)?,
        key: row.try_get(6)?,
        amount_cents: row.try_get(7)?,
        currency: row.try_get(8)?,
        order_id: row.try_get(9)?,
        quantity: row.try_get(10)?,
        data: row.try_get(11)?,
    }
    .decode(row.try_get(1)?)
}

#[async_trait]
impl<DB: Backend> Voice for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn theme_names(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, terms FROM theme_names ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(name, terms)| {
                let terms = serde_json::from_str(&terms)
                    .map_err(|e| StoreError::Corrupt(format!("theme '{name}': terms: {e}")))?;
                Ok((name, terms))
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(terms = terms.len()))]
    async fn set_theme_name(&self, name: &str, terms: &[String], now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO theme_names (name, terms, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET terms = excluded.terms, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(serde_json::to_string(terms).expect("terms serialise"))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn remove_theme_name(&self, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM theme_names WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn interviews(
        &self,
        text: Option<&str>,
        tag: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, StoredEvent)>> {
        // The data column holds the fields as JSON: a text or a quoted tag found in it is found
        // in a field (`\` escapes LIKE's wildcards typed by the user).
        let like = |s: &str| {
            let escaped = s
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        };
        // As JSON writes it (a quote as \"), without the quotes around it.
        let text = text.map(|t| like(serde_json::to_string(t).expect("text serialises").trim_matches('"')));
        let tag = tag.map(|t| like(&serde_json::to_string(&t.to_lowercase()).expect("text serialises")));
        let sql = format!(
            "SELECT c.external_id, {} FROM events e JOIN customers c ON c.id = e.customer_id \
             WHERE e.kind = 'interview' AND ($1 IS NULL OR lower(e.data) LIKE $1 ESCAPE '\\') \
             AND ($2 IS NULL OR lower(e.data) LIKE $2 ESCAPE '\\') ORDER BY e.occurred_at DESC, e.id DESC LIMIT $3",
            EVENT_COLUMNS_E
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(text)
            .bind(tag)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let customer: String = row.try_get(0)?;
                Ok((customer, interview_event::<DB>(row)?))
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn voice_behaviour(&self, threshold: f64, limit: u32) -> StoreResult<VoiceBehaviour> {
        let select = "SELECT c.external_id, c.name, s.nps_at, sc.p_alive, sc.previous_p_alive, s.purchase_count, \
             s.last_purchase_at FROM customer_state s JOIN customers c ON c.id = s.customer_id \
             LEFT JOIN customer_scores sc ON sc.customer_id = s.customer_id";
        let fading = format!(
            "{select} WHERE s.nps_category = 'promoter' AND (sc.p_alive < sc.previous_p_alive OR sc.p_alive < $1) \
             ORDER BY sc.p_alive, c.external_id LIMIT $2"
        );
        let active = format!(
            "{select} WHERE s.nps_category = 'detractor' AND (s.last_purchase_at > s.nps_at OR sc.p_alive >= $1) \
             ORDER BY s.last_purchase_at DESC, c.external_id LIMIT $2"
        );
        let mut lists = VoiceBehaviour::default();
        for (sql, list) in [
            (fading, &mut lists.fading_promoters),
            (active, &mut lists.active_detractors),
        ] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(threshold)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                list.push(BehaviourRow {
                    customer_id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    nps_at: row.try_get::<Option<i64>, _>(2)?.unwrap_or_default(),
                    p_alive: row.try_get(3)?,
                    previous_p_alive: row.try_get(4)?,
                    purchase_count: row.try_get(5)?,
                    last_purchase_at: row.try_get(6)?,
                });
            }
        }
        Ok(lists)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn recovery(&self, sla: i64, window: i64) -> StoreResult<Vec<RecoveryRow>> {
        // `sla` and `window` only bound what is read: the report decides with the times.
        let rows = sqlx::query(
            "SELECT r.customer_id, r.answered_at, \
             (SELECT min(e.occurred_at) FROM events e WHERE e.customer_id = r.customer_id \
              AND e.kind IN ('interaction', 'interview') AND e.occurred_at >= r.answered_at) AS contacted_at, \
             (SELECT n.category FROM survey_responses n WHERE n.customer_id = r.customer_id \
              AND n.answered_at > r.answered_at AND n.category IS NOT NULL \
              ORDER BY n.answered_at, n.id LIMIT 1) AS next_category, \
             (SELECT min(p.occurred_at) FROM events p WHERE p.customer_id = r.customer_id \
              AND p.kind = 'purchase' AND p.occurred_at > r.answered_at \
              AND p.occurred_at <= r.answered_at + $2) AS bought_at \
             FROM survey_responses r WHERE r.category = 'detractor' AND r.customer_id IS NOT NULL \
             AND CAST($1 AS BIGINT) >= 0 ORDER BY r.answered_at, r.id",
        )
        .bind(sla)
        .bind(window)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let next: Option<String> = row.try_get(3)?;
                Ok(RecoveryRow {
                    customer_id: CustomerId(row.try_get(0)?),
                    answered_at: row.try_get(1)?,
                    contacted_at: row.try_get(2)?,
                    next_category: next.map(|c| c.parse()).transpose().map_err(StoreError::Corrupt)?,
                    bought_at: row.try_get(4)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn responses(&self, survey: Option<&str>) -> StoreResult<Vec<AnalysedResponse>> {
        select_responses::<DB>(&self.pool, survey, i64::MIN, i64::MAX).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(from, until))]
    async fn responses_between(&self, from: i64, until: i64) -> StoreResult<Vec<AnalysedResponse>> {
        select_responses::<DB>(&self.pool, None, from, until).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn interview_notes(&self) -> StoreResult<Vec<InterviewNote>> {
        let sql = format!(
            "SELECT s.nps_category, {EVENT_COLUMNS_E} FROM events e \
             LEFT JOIN customer_state s ON s.customer_id = e.customer_id \
             WHERE e.kind = 'interview' ORDER BY e.occurred_at, e.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let category: Option<String> = row.try_get(0)?;
                let event = interview_event::<DB>(row)?;
                let crate::domain::EventKind::Interview {
                    needs,
                    desires,
                    fears,
                    notes,
                    ..
                } = &event.kind
                else {
                    return Err(StoreError::Corrupt(format!("event {} is not an interview", event.id)));
                };
                let text = [needs, desires, fears, notes]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(InterviewNote {
                    event_id: event.id,
                    text,
                    category: category.map(|c| c.parse()).transpose().map_err(StoreError::Corrupt)?,
                    occurred_at: event.occurred_at,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn theme_tags(&self) -> StoreResult<Vec<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT comment_id, theme FROM theme_tags ORDER BY comment_id, theme")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    #[tracing::instrument(level = "debug", skip_all, fields(comment, theme))]
    async fn tag_comment(&self, comment: i64, theme: &str, by: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO theme_tags (comment_id, theme, tagged_by, tagged_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (comment_id, theme) DO NOTHING",
        )
        .bind(comment)
        .bind(theme)
        .bind(by)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(comment, theme))]
    async fn untag_comment(&self, comment: i64, theme: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM theme_tags WHERE comment_id = $1 AND lower(theme) = lower($2)")
            .bind(comment)
            .bind(theme)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(comment))]
    async fn comment_exists(&self, comment: i64) -> StoreResult<bool> {
        // Negated in Rust: the SQL `-$1` of the smallest BIGINT is out of range.
        let Some(response) = comment.checked_neg() else {
            return Ok(false);
        };
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM events WHERE id = $1 AND kind IN ('feedback', 'interview') \
             UNION ALL SELECT CAST(1 AS BIGINT) FROM survey_responses WHERE id = $2 AND event_id IS NULL",
        )
        .bind(comment)
        .bind(response)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}
