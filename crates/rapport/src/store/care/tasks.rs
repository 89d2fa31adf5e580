//! Tasks, the care room's output: records, the agenda's query and its rows, and completing one.

use sqlx::Row as _;

use crate::domain::plan::TaskOutcome;
use crate::store::backend::Backend;
use crate::store::{StoreError, StoreResult};

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TaskRecord {
    /// The task's number.
    pub id: i64,
    /// The plan that created it.
    pub plan: Option<String>,
    /// The business's id of the customer.
    pub customer: String,
    /// What to do.
    pub title: String,
    /// Why it is due now, in a sentence, when its plan says.
    pub why: Option<String>,
    /// Whose task it is, or anyone's.
    pub assignee: Option<String>,
    /// When it is due (Unix seconds).
    pub due_at: i64,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// `open` or `done`.
    pub status: String,
    /// How it ended, once done.
    pub outcome: Option<TaskOutcome>,
    /// What the person who did it noted.
    pub note: Option<String>,
    /// When it was done (Unix seconds).
    pub completed_at: Option<i64>,
    /// Who did it.
    pub completed_by: Option<String>,
}

/// Which open tasks an agenda lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// Due at this time or later (Unix seconds).
    pub due_from: Option<i64>,
    /// Due before this time.
    pub due_before: Option<i64>,
    /// Only this person's tasks.
    pub assignee: Option<String>,
    /// At most this many, soonest due first.
    pub limit: u32,
}

/// An open task with what the person doing it needs to know of the customer, at a glance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AgendaItem {
    /// The task.
    pub task: TaskRecord,
    /// The customer's name, when known.
    pub name: Option<String>,
    /// E-mail address, when known.
    pub email: Option<String>,
    /// Phone number, when known.
    pub phone: Option<String>,
    /// The customer's stage.
    #[schema(value_type = Option<String>)]
    pub stage: Option<crate::domain::Stage>,
    /// Purchases so far.
    pub orders: i64,
    /// Everything bought, in cents.
    pub total_spend_cents: i64,
    /// The last purchase (Unix seconds).
    pub last_purchase_at: Option<i64>,
    /// The last interaction (Unix seconds).
    pub last_contact_at: Option<i64>,
    /// P(alive) at the latest scoring.
    pub p_alive: Option<f64>,
    /// Why the score is what it is, in words.
    pub explanation: Option<String>,
}

/// A task's completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDone<'a> {
    /// The task's number.
    pub id: i64,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// What the person noted.
    pub note: Option<&'a str>,
    /// Who did it (a user's e-mail, an API key's name, `cli`).
    pub by: &'a str,
    /// When (Unix seconds).
    pub at: i64,
}

pub(in crate::store) const TASK_SELECT: &str = "SELECT t.id, p.name AS plan_name, c.external_id, t.title, t.assignee, t.due_at, t.created_at, \
     t.status, t.outcome, t.note, t.completed_at, t.completed_by, t.why \
     FROM tasks t JOIN customers c ON c.id = t.customer_id LEFT JOIN plans p ON p.id = t.plan_id";

pub(in crate::store) fn task_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<TaskRecord> {
    let outcome: Option<String> = row.try_get(8)?;
    Ok(TaskRecord {
        id: row.try_get(0)?,
        plan: row.try_get(1)?,
        customer: row.try_get(2)?,
        title: row.try_get(3)?,
        assignee: row.try_get(4)?,
        due_at: row.try_get(5)?,
        created_at: row.try_get(6)?,
        status: row.try_get(7)?,
        outcome: outcome
            .as_deref()
            .map(|o| {
                o.parse()
                    .map_err(|_| StoreError::Corrupt(format!("task outcome '{o}'")))
            })
            .transpose()?,
        note: row.try_get(9)?,
        completed_at: row.try_get(10)?,
        completed_by: row.try_get(11)?,
        why: row.try_get(12)?,
    })
}

pub(in crate::store) async fn task_by_id<DB: Backend>(
    conn: &mut DB::Connection,
    id: i64,
) -> StoreResult<Option<TaskRecord>> {
    let sql = format!("{TASK_SELECT} WHERE t.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(task_from_row::<DB>).transpose()
}

pub(in crate::store) async fn complete_task<DB: Backend>(
    conn: &mut DB::Connection,
    done: &TaskDone<'_>,
) -> StoreResult<TaskRecord> {
    let updated = sqlx::query(
        "UPDATE tasks SET status = 'done', outcome = $2, note = $3, completed_at = $4, completed_by = $5 \
         WHERE id = $1 AND status = 'open'",
    )
    .bind(done.id)
    .bind(done.outcome.as_str())
    .bind(done.note)
    .bind(done.at)
    .bind(done.by)
    .execute(&mut *conn)
    .await?;
    let task = task_by_id::<DB>(conn, done.id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no task {}", done.id)))?;
    if DB::rows_affected(&updated) == 0 {
        return Err(StoreError::Conflict(format!(
            "task {} was done already ({})",
            done.id,
            task.outcome.map_or("no outcome", TaskOutcome::describe)
        )));
    }
    Ok(task)
}
