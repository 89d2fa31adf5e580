//! The care room: plans and their versions, the occurrences planned from the log, and the tasks
//! they create. Occurrences are planned by SQL over the events that cause them (in the
//! transaction that stores those events, or over the history when a plan is created), keyed by
//! plan, customer and cause, so a cause seen twice plans once; the scheduler claims the due ones
//! and settles each in one transaction with what it created (`CareTx`).

use async_trait::async_trait;
use sqlx::Row as _;

mod planning;
mod tasks;

use super::backend::Backend;
use super::customers::customer_from_row;
use super::sql::CUSTOMER_SELECT;
use super::versioned::PLANS;
use super::{SqlStore, StoreError, StoreResult};
use crate::domain::CustomerId;
use crate::domain::plan::{CareContext, FeedbackFacts, OccurrenceStatus, PlanSpec, Rhythm, ScoreFacts};
use crate::domain::plan_report::Enrolled;
use planning::plan_occurrences;
pub(super) use planning::{last_fire, plan_fire, plan_from_scoring, plan_new_events};
pub(super) use tasks::complete_task;
pub use tasks::{AgendaItem, TaskDone, TaskQuery, TaskRecord};
use tasks::{TASK_SELECT, task_by_id, task_from_row};

/// A plan as stored, with the version in force and what its occurrences became.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlanRecord {
    /// The plan's number.
    pub id: i64,
    /// The version in force (1 for a plan never edited).
    pub version: i64,
    /// Paused plans record their due occurrences as skipped.
    pub paused: bool,
    /// The version in force.
    pub spec: PlanSpec,
    /// When the plan was created (Unix seconds).
    pub created_at: i64,
    /// When it last changed: a new version, a pause or a resume.
    pub updated_at: i64,
    /// Its occurrences by what became of them, with those from history that were already past
    /// their expiry when planned counted as expired.
    pub occurrences: OccurrenceCounts,
}

/// How many of a plan's occurrences are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OccurrenceCounts {
    /// Planned, not yet run.
    pub pending: i64,
    /// Acted on.
    pub done: i64,
    /// In the hold-out.
    pub held_out: i64,
    /// Skipped for a recorded reason.
    pub skipped: i64,
    /// Too late to act on.
    pub expired: i64,
}

/// One version of a plan and what the occurrences it ran became: an edited plan keeps the
/// history of what each version did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlanVersionRecord {
    /// The version's number, from 1.
    pub version: i64,
    /// When it took effect (Unix seconds).
    pub created_at: i64,
    /// The plan as this version wrote it.
    pub spec: PlanSpec,
    /// What the occurrences this version ran became (pending ones belong to no version yet), with
    /// the history past expiry when it was planned counted as expired.
    pub occurrences: OccurrenceCounts,
}

/// What `apply_plans` did to one plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum PlanChange {
    /// A new plan, with what it planned from the history.
    Created {
        /// The plan's name.
        name: String,
        /// Occurrences planned.
        planned: u64,
        /// Occurrences of the history already past their expiry, counted as expired.
        expired: u64,
    },
    /// A new version of an existing plan.
    Updated {
        /// The plan's name.
        name: String,
        /// The version replaced.
        from: i64,
        /// The new version.
        to: i64,
        /// Its trigger changed: the old trigger's pending occurrences were withdrawn and the new
        /// one planned from the history (causes the plan already ran are not planned again).
        replanned: bool,
        /// Occurrences planned for the new trigger.
        planned: u64,
        /// Pending occurrences of the old trigger, withdrawn.
        withdrawn: u64,
    },
    /// The file says what the plan already says.
    Unchanged {
        /// The plan's name.
        name: String,
    },
}

/// A planned occurrence the scheduler claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueOccurrence {
    /// The occurrence's number.
    pub id: i64,
    /// Its plan.
    pub plan_id: i64,
    /// For whom.
    pub customer_id: CustomerId,
    /// What caused it.
    pub cause: String,
    /// When it was due (Unix seconds).
    pub due_at: i64,
}

/// What became of a claimed occurrence, and the task it created.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The occurrence's number.
    pub occurrence_id: i64,
    /// What became of it.
    pub status: OccurrenceStatus,
    /// Why, for skipped and expired ones.
    pub reason: Option<String>,
    /// The plan's version that decided.
    pub version: i64,
    /// The task it created.
    pub task: Option<NewTask>,
    /// The message it queued.
    pub mail: Option<super::NewMail>,
    /// The plan's next occurrence for the same customer, `(cause, due_at)`: next year's
    /// anniversary.
    pub follow_up: Option<(String, i64)>,
}

/// A task to put on the staff agenda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The plan that created it.
    pub plan_id: i64,
    /// For whom.
    pub customer_id: CustomerId,
    /// What to do.
    pub title: String,
    /// Whose task it is, or anyone's.
    pub assignee: Option<String>,
    /// When it is due (Unix seconds).
    pub due_at: i64,
    /// Why it is due now, in a sentence.
    pub why: Option<String>,
}

/// Plans and the tasks they create, outside a write transaction.
#[async_trait]
pub trait Plans: Send + Sync {
    /// Creates or updates each plan by name, in one transaction, each new plan or trigger planned
    /// from the whole log (occurrences due before `now` minus the plan's `expire_after` only
    /// counted); says what changed, in input order.
    async fn apply_plans(&self, specs: &[PlanSpec], now: i64) -> StoreResult<Vec<PlanChange>>;
    /// Every plan, by name.
    async fn plans(&self) -> StoreResult<Vec<PlanRecord>>;
    /// One plan by name.
    async fn plan(&self, name: &str) -> StoreResult<Option<PlanRecord>>;
    /// Every version of a plan, oldest first, with what each one's occurrences became.
    async fn plan_history(&self, plan_id: i64) -> StoreResult<Vec<PlanVersionRecord>>;
    /// Pauses or resumes a plan; false when there is no such plan.
    async fn set_plan_paused(&self, name: &str, paused: bool, now: i64) -> StoreResult<bool>;
    /// Open tasks, soonest due first, at most `limit`.
    async fn open_tasks(&self, limit: u32) -> StoreResult<Vec<TaskRecord>>;
    /// What became of each customer after the plan first acted for them or held them out: the
    /// rows of its report against the hold-out.
    async fn plan_enrolments(&self, plan_id: i64) -> StoreResult<Vec<Enrolled>>;
    /// Open tasks as the agenda shows them, each with its customer's context.
    async fn agenda(&self, query: &TaskQuery) -> StoreResult<Vec<AgendaItem>>;
    /// One task, open or done.
    async fn task(&self, id: i64) -> StoreResult<Option<TaskRecord>>;
    /// Moves an open task's due time; false when there is no such open task.
    async fn snooze_task(&self, id: i64, until: i64) -> StoreResult<bool>;
    /// Gives an open task to someone else (`None`: anyone); false when there is no such open task.
    async fn reassign_task(&self, id: i64, assignee: Option<&str>) -> StoreResult<bool>;
}

/// The care room's part of a write transaction (`WriteTx::care`).
#[async_trait]
pub trait CareTx: Send {
    /// Plans every plan's occurrences caused by the events with ids from `from_event_id` on (the
    /// ones this transaction stored); those already past their plan's expiry at `now` are only
    /// counted. Returns how many were planned.
    async fn plan_new_events(&mut self, from_event_id: i64, now: i64) -> StoreResult<u64>;
    /// Takes up to `limit` pending occurrences due at `now` or earlier, soonest first, that no
    /// other transaction holds (they are this transaction's until it ends).
    async fn claim_due(&mut self, now: i64, limit: u32) -> StoreResult<Vec<DueOccurrence>>;
    /// Every plan with its version in force (without counts).
    async fn plans_in_force(&mut self) -> StoreResult<Vec<PlanRecord>>;
    /// What plans read of these customers: profile, state, latest scores, last contact.
    async fn care_contexts(&mut self, customers: &[CustomerId]) -> StoreResult<Vec<(CustomerId, CareContext)>>;
    /// Records what became of claimed occurrences and creates their tasks and messages.
    async fn settle_occurrences(&mut self, settled: &[Settled], now: i64) -> StoreResult<()>;
    /// The business's gap from first to second purchase at `percent` (0 to 100), computed at
    /// most `max_age` seconds before `now` (computed again when older).
    async fn rhythm(&mut self, percent: i64, now: i64, max_age: i64) -> StoreResult<Option<Rhythm>>;
    /// Plans the `p_alive_below` occurrences of the scoring at `scored_at`: customers whose
    /// P(alive) fell from at least a plan's threshold to below it. Returns how many.
    async fn plan_from_scoring(&mut self, scored_at: i64, now: i64) -> StoreResult<u64>;
    /// When a `schedule` plan last fired (the due time of its latest occurrence), if ever.
    async fn last_fire(&mut self, plan_id: i64) -> StoreResult<Option<i64>>;
    /// Plans a `schedule` plan's firing at `at` for every customer at the plan's stages (the
    /// other conditions are checked when it runs); a firing already `expired` is only counted on
    /// the plan's version. Returns how many were planned.
    async fn plan_fire(&mut self, plan: &PlanRecord, at: i64, now: i64, expired: bool) -> StoreResult<u64>;
    /// Marks an open task done with its outcome; `NotFound` when there is no such task,
    /// `Conflict` when it is done already.
    async fn complete_task(&mut self, done: &TaskDone<'_>) -> StoreResult<TaskRecord>;
}

/// Computes the business's days from first to second purchase at every percentile.
async fn refresh_rhythm<DB: Backend>(conn: &mut DB::Connection, now: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM business_rhythm").execute(&mut *conn).await?;
    sqlx::query(
        "WITH RECURSIVE pct(p) AS (SELECT 0 UNION ALL SELECT p + 1 FROM pct WHERE p < 100), \
         gaps AS (SELECT second_purchase_at - first_purchase_at AS gap, \
         row_number() OVER (ORDER BY second_purchase_at - first_purchase_at) AS r, count(*) OVER () AS n \
         FROM customer_state WHERE second_purchase_at IS NOT NULL) \
         INSERT INTO business_rhythm (percent, second_purchase_gap, customers, computed_at) \
         SELECT pct.p, gaps.gap, gaps.n, $1 FROM pct JOIN gaps ON gaps.r = 1 + (pct.p * (gaps.n - 1)) / 100",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const PLAN_SELECT: &str = "SELECT p.id, p.version, p.paused, p.created_at, p.updated_at, v.spec, v.expired_at_planning \
     FROM plans p JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version";

fn plan_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<PlanRecord> {
    let id: i64 = row.try_get(0)?;
    let spec: String = row.try_get(5)?;
    Ok(PlanRecord {
        id,
        version: row.try_get(1)?,
        paused: row.try_get::<bool, _>(2)?,
        created_at: row.try_get(3)?,
        updated_at: row.try_get(4)?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("plan {id}: {e}")))?,
        occurrences: OccurrenceCounts {
            expired: row.try_get(6)?,
            ..Default::default()
        },
    })
}

async fn plans_where<DB: Backend>(conn: &mut DB::Connection, name: Option<&str>) -> StoreResult<Vec<PlanRecord>> {
    let sql = format!("{PLAN_SELECT} WHERE ($1 IS NULL OR p.name = $1) ORDER BY p.name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(plan_from_row::<DB>).collect()
}

/// Adds each plan's occurrence counts by status.
async fn count_occurrences<DB: Backend>(conn: &mut DB::Connection, plans: &mut [PlanRecord]) -> StoreResult<()> {
    let rows = sqlx::query("SELECT plan_id, status, count(*) FROM plan_occurrences GROUP BY plan_id, status")
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        let plan_id: i64 = row.try_get(0)?;
        let status: String = row.try_get(1)?;
        let n: i64 = row.try_get(2)?;
        let Some(plan) = plans.iter_mut().find(|p| p.id == plan_id) else {
            continue;
        };
        plan.occurrences.add(&status, n)?;
    }
    Ok(())
}

impl OccurrenceCounts {
    /// Adds `n` occurrences in the stored `status`.
    fn add(&mut self, status: &str, n: i64) -> StoreResult<()> {
        match status {
            "pending" => self.pending += n,
            "done" => self.done += n,
            "held_out" => self.held_out += n,
            "skipped" => self.skipped += n,
            "expired" => self.expired += n,
            other => return Err(StoreError::Corrupt(format!("occurrence status '{other}'"))),
        }
        Ok(())
    }
}

/// One plan created or updated from `spec`, inside `apply_plans`'s transaction.
async fn apply_one<DB: Backend>(conn: &mut DB::Connection, spec: &PlanSpec, now: i64) -> StoreResult<PlanChange> {
    let json = serde_json::to_string(spec).expect("plans serialize");
    let name = spec.name.clone();
    let Some(existing) = plans_where::<DB>(conn, Some(&spec.name)).await?.pop() else {
        PLANS.create::<DB>(conn, &spec.name, &json, now).await?;
        let plan = plans_where::<DB>(conn, Some(&spec.name))
            .await?
            .pop()
            .expect("just created");
        let (planned, expired) = plan_occurrences::<DB>(conn, &plan, 0, now).await?;
        return Ok(PlanChange::Created { name, planned, expired });
    };
    if existing.spec == *spec {
        return Ok(PlanChange::Unchanged { name });
    }
    let version = existing.version + 1;
    PLANS.add_version::<DB>(conn, existing.id, version, &json, now).await?;
    let replanned = existing.spec.trigger != spec.trigger;
    let (mut planned, mut withdrawn) = (0, 0);
    if replanned {
        // Pending occurrences never acted: they are planned again under the new trigger (new due
        // times), while a cause the plan already acted on, held out or skipped keeps its record
        // and is not planned twice.
        let done = sqlx::query("DELETE FROM plan_occurrences WHERE plan_id = $1 AND status = 'pending'")
            .bind(existing.id)
            .execute(&mut *conn)
            .await?;
        withdrawn = DB::rows_affected(&done);
        let plan = plans_where::<DB>(conn, Some(&spec.name)).await?.pop().expect("exists");
        planned = plan_occurrences::<DB>(conn, &plan, 0, now).await?.0;
    }
    Ok(PlanChange::Updated {
        name,
        from: existing.version,
        to: version,
        replanned,
        planned,
        withdrawn,
    })
}

#[async_trait]
impl<DB: Backend> Plans for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(plans = specs.len()))]
    async fn apply_plans(&self, specs: &[PlanSpec], now: i64) -> StoreResult<Vec<PlanChange>> {
        let mut tx = DB::begin(&self.pool).await?;
        // Events stored by a transaction still open would be missed by both the history planned
        // here and that transaction's own planning (it read the plans before this one existed):
        // wait for writers of the log to finish, and hold new ones off until this commits.
        if !DB::LOCK_LOG.is_empty() {
            sqlx::query(DB::LOCK_LOG).execute(&mut *tx).await?;
        }
        refresh_rhythm::<DB>(&mut tx, now).await?;
        let mut changes = Vec::with_capacity(specs.len());
        for spec in specs {
            changes.push(apply_one::<DB>(&mut tx, spec, now).await?);
        }
        tx.commit().await?;
        Ok(changes)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn plans(&self) -> StoreResult<Vec<PlanRecord>> {
        let mut conn = self.pool.acquire().await?;
        let mut plans = plans_where::<DB>(&mut conn, None).await?;
        count_occurrences::<DB>(&mut conn, &mut plans).await?;
        Ok(plans)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn plan(&self, name: &str) -> StoreResult<Option<PlanRecord>> {
        let mut conn = self.pool.acquire().await?;
        let mut plans = plans_where::<DB>(&mut conn, Some(name)).await?;
        count_occurrences::<DB>(&mut conn, &mut plans).await?;
        Ok(plans.pop())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(plan = plan_id))]
    async fn plan_history(&self, plan_id: i64) -> StoreResult<Vec<PlanVersionRecord>> {
        let rows = sqlx::query(
            "SELECT v.version, v.created_at, v.spec, v.expired_at_planning, o.status, count(o.id) \
             FROM plan_versions v LEFT JOIN plan_occurrences o ON o.plan_id = v.plan_id AND o.version = v.version \
             WHERE v.plan_id = $1 GROUP BY v.version, v.created_at, v.spec, v.expired_at_planning, o.status \
             ORDER BY v.version",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        let mut history: Vec<PlanVersionRecord> = Vec::new();
        for row in rows {
            let version: i64 = row.try_get(0)?;
            if history.last().is_none_or(|v| v.version != version) {
                let spec: String = row.try_get(2)?;
                history.push(PlanVersionRecord {
                    version,
                    created_at: row.try_get(1)?,
                    spec: serde_json::from_str(&spec)
                        .map_err(|e| StoreError::Corrupt(format!("plan {plan_id} version {version}: {e}")))?,
                    occurrences: OccurrenceCounts {
                        expired: row.try_get(3)?,
                        ..Default::default()
                    },
                });
            }
            let counts = &mut history.last_mut().expect("pushed above").occurrences;
            // A version that ran nothing joins no occurrence: one row without a status.
            if let Some(status) = row.try_get::<Option<String>, _>(4)? {
                counts.add(&status, row.try_get(5)?)?;
            }
        }
        Ok(history)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(paused))]
    async fn set_plan_paused(&self, name: &str, paused: bool, now: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE plans SET paused = $2, updated_at = $3 WHERE name = $1")
            .bind(name)
            .bind(paused)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn open_tasks(&self, limit: u32) -> StoreResult<Vec<TaskRecord>> {
        let sql = format!("{TASK_SELECT} WHERE t.status = 'open' ORDER BY t.due_at, t.id LIMIT $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(task_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(plan = plan_id))]
    async fn plan_enrolments(&self, plan_id: i64) -> StoreResult<Vec<Enrolled>> {
        let rows = sqlx::query(
            "WITH enrolled AS (SELECT customer_id, min(status) AS status, min(finished_at) AS t \
             FROM plan_occurrences WHERE plan_id = $1 AND status IN ('done', 'held_out') GROUP BY customer_id) \
             SELECT e.status, e.t, \
             (SELECT min(p.occurred_at) FROM events p WHERE p.customer_id = e.customer_id AND p.kind = 'purchase' \
              AND p.occurred_at > e.t) AS next_purchase, \
             (SELECT CAST(coalesce(sum(p.amount_cents), 0) AS BIGINT) FROM events p WHERE p.customer_id = e.customer_id \
              AND p.kind = 'purchase' AND p.occurred_at > e.t AND p.occurred_at <= e.t + 7776000) AS revenue, \
             sc.p_alive FROM enrolled e LEFT JOIN customer_scores sc ON sc.customer_id = e.customer_id",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get(0)?;
                Ok(Enrolled {
                    treated: status == "done",
                    enrolled_at: row.try_get(1)?,
                    next_purchase_at: row.try_get(2)?,
                    revenue_90d_cents: row.try_get(3)?,
                    p_alive: row.try_get(4)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit = query.limit))]
    async fn agenda(&self, query: &TaskQuery) -> StoreResult<Vec<AgendaItem>> {
        let (columns, from) = TASK_SELECT.split_once(" FROM ").expect("a select has a FROM");
        let sql = format!(
            "{columns}, c.name, c.email, c.phone, s.stage, s.purchase_count, s.total_spend_cents, s.last_purchase_at, \
             sc.p_alive, sc.explanation, \
             (SELECT max(e.occurred_at) FROM events e WHERE e.customer_id = c.id AND e.kind = 'interaction') \
             AS last_contact_at \
             FROM {from} LEFT JOIN customer_state s ON s.customer_id = c.id \
             LEFT JOIN customer_scores sc ON sc.customer_id = c.id \
             WHERE t.status = 'open' AND ($1 IS NULL OR t.due_at >= $1) AND ($2 IS NULL OR t.due_at < $2) \
             AND ($3 IS NULL OR t.assignee = $3) ORDER BY t.due_at, t.id LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.due_from)
            .bind(query.due_before)
            .bind(query.assignee.as_deref())
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let stage: Option<String> = row.try_get("stage")?;
                Ok(AgendaItem {
                    task: task_from_row::<DB>(row)?,
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                    phone: row.try_get("phone")?,
                    stage: stage.as_deref().map(super::codec::stage).transpose()?,
                    orders: row.try_get::<Option<i64>, _>("purchase_count")?.unwrap_or_default(),
                    total_spend_cents: row.try_get::<Option<i64>, _>("total_spend_cents")?.unwrap_or_default(),
                    last_purchase_at: row.try_get("last_purchase_at")?,
                    last_contact_at: row.try_get("last_contact_at")?,
                    p_alive: row.try_get("p_alive")?,
                    explanation: row.try_get("explanation")?,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task = id))]
    async fn task(&self, id: i64) -> StoreResult<Option<TaskRecord>> {
        let mut conn = self.pool.acquire().await?;
        task_by_id::<DB>(&mut conn, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task = id))]
    async fn snooze_task(&self, id: i64, until: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tasks SET due_at = $2 WHERE id = $1 AND status = 'open'")
            .bind(id)
            .bind(until)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task = id))]
    async fn reassign_task(&self, id: i64, assignee: Option<&str>) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tasks SET assignee = $2 WHERE id = $1 AND status = 'open'")
            .bind(id)
            .bind(assignee)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }
}

/// `CareTx` for a backend's write transaction (`SqlTx` hands its connection here).
pub(super) async fn rhythm<DB: Backend>(
    conn: &mut DB::Connection,
    percent: i64,
    now: i64,
    max_age: i64,
) -> StoreResult<Option<Rhythm>> {
    let computed: Option<i64> = sqlx::query_scalar("SELECT max(computed_at) FROM business_rhythm")
        .fetch_one(&mut *conn)
        .await?;
    if computed.is_none_or(|at| now - at > max_age) {
        refresh_rhythm::<DB>(conn, now).await?;
    }
    let row = sqlx::query("SELECT second_purchase_gap, customers FROM business_rhythm WHERE percent = $1")
        .bind(percent)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        Ok(Rhythm {
            gap: row.try_get(0)?,
            customers: row.try_get(1)?,
        })
    })
    .transpose()
}

pub(super) async fn claim_due<DB: Backend>(
    conn: &mut DB::Connection,
    now: i64,
    limit: u32,
) -> StoreResult<Vec<DueOccurrence>> {
    let sql = format!(
        "SELECT id, plan_id, customer_id, cause, due_at FROM plan_occurrences \
         WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 {}",
        DB::SKIP_LOCKED
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(DueOccurrence {
                id: row.try_get(0)?,
                plan_id: row.try_get(1)?,
                customer_id: CustomerId(row.try_get(2)?),
                cause: row.try_get(3)?,
                due_at: row.try_get(4)?,
            })
        })
        .collect()
}

pub(super) async fn plans_in_force<DB: Backend>(conn: &mut DB::Connection) -> StoreResult<Vec<PlanRecord>> {
    plans_where::<DB>(conn, None).await
}

pub(super) async fn care_contexts<DB: Backend>(
    conn: &mut DB::Connection,
    customers: &[CustomerId],
) -> StoreResult<Vec<(CustomerId, CareContext)>> {
    let ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
    let (columns, from) = CUSTOMER_SELECT.split_once(" FROM ").expect("a select has a FROM");
    let sql = format!(
        "{columns}, sc.p_alive, sc.clv_12m, sc.segment, sc.expected_days_to_next_purchase, \
         (SELECT max(e.occurred_at) FROM events e WHERE e.customer_id = c.id AND e.kind IN ('interaction', 'interview')) AS last_contact_at, \
         fr.survey AS fb_survey, fr.score AS fb_score, fr.category AS fb_category, fr.comment AS fb_comment, \
         fr.answered_at AS fb_at \
         FROM {from} LEFT JOIN customer_scores sc ON sc.customer_id = c.id \
         LEFT JOIN survey_responses fr ON fr.id = (SELECT r.id FROM survey_responses r WHERE r.customer_id = c.id \
         ORDER BY r.answered_at DESC, r.id DESC LIMIT 1) \
         WHERE c.id IN (SELECT CAST(value AS BIGINT) FROM {})",
        DB::JSON_ROWS
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let record = customer_from_row::<DB>(row)?;
            let segment: Option<String> = row.try_get("segment")?;
            let score = match segment {
                Some(segment) => Some(ScoreFacts {
                    p_alive: row.try_get("p_alive")?,
                    clv_12m: row.try_get("clv_12m")?,
                    segment: serde_json::from_value(serde_json::Value::String(segment.clone()))
                        .map_err(|_| StoreError::Corrupt(format!("segment '{segment}'")))?,
                    expected_days_to_next: row.try_get("expected_days_to_next_purchase")?,
                }),
                None => None,
            };
            Ok((
                record.id,
                CareContext {
                    external_id: record.external_id,
                    name: record.name,
                    email: record.email,
                    attributes: record.attributes,
                    state: record.state,
                    score,
                    last_contact_at: row.try_get("last_contact_at")?,
                    last_feedback: feedback_facts::<DB>(row)?,
                },
            ))
        })
        .collect()
}

/// The latest answer `care_contexts` joined, if any.
fn feedback_facts<DB: Backend>(row: &DB::Row) -> StoreResult<Option<FeedbackFacts>> {
    let Some(survey) = row.try_get::<Option<String>, _>("fb_survey")? else {
        return Ok(None);
    };
    let category: Option<String> = row.try_get("fb_category")?;
    Ok(Some(FeedbackFacts {
        survey,
        score: row.try_get("fb_score")?,
        category: category.map(|c| c.parse()).transpose().map_err(StoreError::Corrupt)?,
        comment: row.try_get("fb_comment")?,
        at: row.try_get("fb_at")?,
    }))
}

pub(super) async fn settle_occurrences<DB: Backend>(
    conn: &mut DB::Connection,
    settled: &[Settled],
    now: i64,
) -> StoreResult<()> {
    if settled.is_empty() {
        return Ok(());
    }
    // A batch's rows go in as one JSON document per statement: a statement a row cost a run of
    // hundreds of thousands of occurrences most of its time.
    let run = |sql: String, rows: Vec<serde_json::Value>| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::Value::Array(rows).to_string())
            .bind(now)
    };
    let outcomes = settled
        .iter()
        .map(|s| serde_json::json!([s.occurrence_id, s.status.as_str(), s.reason, s.version]))
        .collect();
    run(
        format!(
            "UPDATE plan_occurrences SET status = j.status, reason = j.reason, version = j.version, finished_at = $2 \
             FROM (SELECT CAST(value->>0 AS BIGINT) AS id, value->>1 AS status, value->>2 AS reason, \
             CAST(value->>3 AS BIGINT) AS version FROM {}) j WHERE plan_occurrences.id = j.id",
            DB::JSON_ROWS
        ),
        outcomes,
    )
    .execute(&mut *conn)
    .await?;
    let tasks: Vec<serde_json::Value> = settled
        .iter()
        .filter_map(|s| s.task.as_ref().map(|t| (s.occurrence_id, t)))
        .map(|(occurrence, t)| {
            serde_json::json!([
                occurrence,
                t.plan_id,
                t.customer_id.0,
                t.title,
                t.assignee,
                t.due_at,
                t.why
            ])
        })
        .collect();
    if !tasks.is_empty() {
        run(
            format!(
                "INSERT INTO tasks (occurrence_id, plan_id, customer_id, title, assignee, due_at, created_at, why) \
                 SELECT CAST(value->>0 AS BIGINT), CAST(value->>1 AS BIGINT), CAST(value->>2 AS BIGINT), value->>3, \
                 value->>4, CAST(value->>5 AS BIGINT), $2, value->>6 FROM {}",
                DB::JSON_ROWS
            ),
            tasks,
        )
        .execute(&mut *conn)
        .await?;
    }
    let mails: Vec<super::NewMail> = settled.iter().filter_map(|s| s.mail.clone()).collect();
    super::mail::enqueue_mail::<DB>(conn, &mails, now).await?;
    let follow_ups: Vec<serde_json::Value> = settled
        .iter()
        .filter_map(|s| {
            s.follow_up
                .as_ref()
                .map(|(cause, due)| serde_json::json!([s.occurrence_id, cause, due]))
        })
        .collect();
    if !follow_ups.is_empty() {
        run(
            format!(
                "INSERT INTO plan_occurrences (plan_id, customer_id, cause, due_at, planned_at) \
                 SELECT o.plan_id, o.customer_id, value->>1, CAST(value->>2 AS BIGINT), $2 FROM {} \
                 JOIN plan_occurrences o ON o.id = CAST(value->>0 AS BIGINT) \
                 WHERE true ON CONFLICT (plan_id, customer_id, cause) DO NOTHING",
                DB::JSON_ROWS
            ),
            follow_ups,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
