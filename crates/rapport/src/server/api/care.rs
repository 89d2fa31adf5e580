//! `/api/v1/plans` (read by viewers, changed by admins) and `/api/v1/tasks` (read by viewers,
//! completed, snoozed and reassigned by staff): care plans and the agenda they fill.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::timestamp;
use crate::care::DueWindow;
use crate::care::plan_file::parse_plans;
use crate::domain::Stage;
use crate::domain::calendar::Calendar;
use crate::domain::plan::{Span, TaskOutcome};
use crate::domain::plan_report::PlanReport;
use crate::domain::rules::{self, Lines};
use crate::server::AppState;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::{AgendaItem, OccurrenceCounts, PlanChange, PlanRecord, TaskDone, TaskQuery, TaskRecord};

/// The most tasks one request lists.
const MAX_LIMIT: u32 = 1_000;

/// A plan as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// The plan's unique name.
    pub name: String,
    /// The version in force.
    pub version: i64,
    /// Paused plans record their due occurrences as skipped.
    pub paused: bool,
    /// When it is due, in words.
    pub trigger: String,
    /// The version in force as stored: trigger, conditions, action, hold-out, expiry.
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// What its occurrences became.
    pub occurrences: OccurrencesView,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Every version, oldest first, with what its occurrences became (in `GET /plans/{name}`;
    /// empty in the list).
    pub history: Vec<PlanVersionView>,
}

/// One version of a plan and what it did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanVersionView {
    /// The version's number, from 1.
    pub version: i64,
    /// When it took effect.
    pub created_at: String,
    /// When it is due, in words.
    pub trigger: String,
    /// What it does: task, email or webhook.
    pub action: String,
    /// What the occurrences it ran became.
    pub occurrences: OccurrencesView,
}

/// A plan's occurrences by what became of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrencesView {
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

impl From<OccurrenceCounts> for OccurrencesView {
    fn from(c: OccurrenceCounts) -> Self {
        Self {
            pending: c.pending,
            done: c.done,
            held_out: c.held_out,
            skipped: c.skipped,
            expired: c.expired,
        }
    }
}

fn plan_view(plan: PlanRecord) -> PlanView {
    PlanView {
        name: plan.spec.name.clone(),
        version: plan.version,
        paused: plan.paused,
        trigger: plan.spec.trigger.to_string(),
        spec: serde_json::to_value(&plan.spec).expect("plans serialize"),
        occurrences: plan.occurrences.into(),
        created_at: timestamp(plan.created_at),
        updated_at: timestamp(plan.updated_at),
        history: Vec::new(),
    }
}

/// A plan file to apply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// The plans as TOML, as `rapport plans apply` reads them (README.md, "Care plans").
    pub toml: String,
}

/// What applying a file did to one plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanChangeView {
    /// `created`, `updated` or `unchanged`.
    pub change: String,
    /// The plan's name.
    pub name: String,
    /// The version in force after the change.
    pub version: Option<i64>,
    /// Occurrences planned from the history.
    pub planned: u64,
}

/// Every plan, by name.
#[utoipa::path(get, path = "/plans", tag = "care", responses((status = 200, body = Vec<PlanView>)))]
#[tracing::instrument(skip_all)]
pub async fn list_plans(State(state): State<AppState>) -> Result<ApiJson<Vec<PlanView>>, ApiError> {
    Ok(ApiJson(state.store.plans().await?.into_iter().map(plan_view).collect()))
}

/// Create or update plans by name from a plan file: all of them, or none when the file has an
/// error (the 422 names its line and field).
#[utoipa::path(post, path = "/plans", tag = "care", request_body = PlanFile,
    responses((status = 200, body = Vec<PlanChangeView>), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn apply_plans(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PlanFile>,
) -> Result<ApiJson<Vec<PlanChangeView>>, ApiError> {
    let specs = parse_plans("toml", &body.toml).map_err(|e| ApiError::invalid("toml", e.to_string()))?;
    if specs.is_empty() {
        return Err(ApiError::invalid("toml", "the file holds no [[plan]]"));
    }
    let changes = state.store.apply_plans(&specs, chrono::Utc::now().timestamp()).await?;
    Ok(ApiJson(
        changes
            .into_iter()
            .map(|change| match change {
                PlanChange::Created { name, planned, .. } => PlanChangeView {
                    change: "created".into(),
                    name,
                    version: Some(1),
                    planned,
                },
                PlanChange::Updated { name, to, planned, .. } => PlanChangeView {
                    change: "updated".into(),
                    name,
                    version: Some(to),
                    planned,
                },
                PlanChange::Unchanged { name } => PlanChangeView {
                    change: "unchanged".into(),
                    name,
                    version: None,
                    planned: 0,
                },
            })
            .collect(),
    ))
}

/// One plan.
#[utoipa::path(get, path = "/plans/{name}", tag = "care", params(("name" = String, Path, description = "The plan's name")),
    responses((status = 200, body = PlanView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get_plan(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<PlanView>, ApiError> {
    let plan = state.store.plan(&name).await?.ok_or_else(|| no_plan(&name))?;
    let history = state.store.plan_history(plan.id).await?;
    let mut view = plan_view(plan);
    view.history = history
        .into_iter()
        .map(|v| PlanVersionView {
            version: v.version,
            created_at: timestamp(v.created_at),
            trigger: v.spec.trigger.to_string(),
            action: v.spec.action.kind().to_owned(),
            occurrences: v.occurrences.into(),
        })
        .collect();
    Ok(ApiJson(view))
}

fn no_plan(name: &str) -> ApiError {
    ApiError::not_found(format!("there is no plan named '{}'", rules::printable(name)))
}

/// Does the plan work? Its treated customers against its hold-out since enrolment, each
/// difference with a 95 % confidence interval.
#[utoipa::path(get, path = "/plans/{name}/report", tag = "care", params(("name" = String, Path, description = "The plan's name")),
    responses((status = 200, body = PlanReport), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn plan_report(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<PlanReport>, ApiError> {
    let plan = state.store.plan(&name).await?.ok_or_else(|| no_plan(&name))?;
    let enrolled = state.store.plan_enrolments(plan.id).await?;
    let now = chrono::Utc::now().timestamp();
    Ok(ApiJson(crate::domain::plan_report::plan_report(
        &plan.spec.name,
        &enrolled,
        now,
    )))
}

/// Pause a plan: its due occurrences are recorded as skipped until it is resumed.
#[utoipa::path(post, path = "/plans/{name}/pause", tag = "care", params(("name" = String, Path, description = "The plan's name")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn pause_plan(State(state): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<StatusCode, ApiError> {
    set_paused(&state, &name, true).await
}

/// Resume a paused plan.
#[utoipa::path(post, path = "/plans/{name}/resume", tag = "care", params(("name" = String, Path, description = "The plan's name")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn resume_plan(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    set_paused(&state, &name, false).await
}

async fn set_paused(state: &AppState, name: &str, paused: bool) -> Result<StatusCode, ApiError> {
    if state
        .store
        .set_plan_paused(name, paused, chrono::Utc::now().timestamp())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_plan(name))
    }
}

/// A task as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
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
    /// When it is due.
    pub due_at: String,
    /// When it was created.
    pub created_at: String,
    /// `open` or `done`.
    pub status: String,
    /// How it ended, once done.
    pub outcome: Option<TaskOutcome>,
    /// What the person who did it noted.
    pub note: Option<String>,
    /// When it was done.
    pub completed_at: Option<String>,
    /// Who did it.
    pub completed_by: Option<String>,
}

fn task_view(task: TaskRecord) -> TaskView {
    TaskView {
        id: task.id,
        plan: task.plan,
        customer: task.customer,
        title: task.title,
        why: task.why,
        assignee: task.assignee,
        due_at: timestamp(task.due_at),
        created_at: timestamp(task.created_at),
        status: task.status,
        outcome: task.outcome,
        note: task.note,
        completed_at: task.completed_at.map(timestamp),
        completed_by: task.completed_by,
    }
}

/// An open task with its customer's context.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaView {
    /// The task.
    pub task: TaskView,
    /// The customer's name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Lifecycle stage.
    pub stage: Option<Stage>,
    /// Purchases so far.
    pub orders: i64,
    /// Everything bought, a decimal string ("123.45").
    pub total_spent: String,
    /// The last purchase.
    pub last_purchase_at: Option<String>,
    /// The last interaction.
    pub last_contact_at: Option<String>,
    /// P(alive) at the latest scoring.
    pub p_alive: Option<f64>,
    /// Why the score is what it is.
    pub explanation: Option<String>,
}

fn agenda_view(item: AgendaItem) -> AgendaView {
    AgendaView {
        task: task_view(item.task),
        name: item.name,
        email: item.email,
        phone: item.phone,
        stage: item.stage,
        orders: item.orders,
        total_spent: crate::domain::Money(item.total_spend_cents).to_string(),
        last_purchase_at: item.last_purchase_at.map(timestamp),
        last_contact_at: item.last_contact_at.map(timestamp),
        p_alive: item.p_alive,
        explanation: item.explanation,
    }
}

/// Which tasks to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TaskParams {
    /// soon (overdue and the next seven days, the default), today, week, overdue or all; days
    /// in the business's time zone.
    pub due: Option<DueWindow>,
    /// Only this person's tasks.
    pub assignee: Option<String>,
    /// At most this many, soonest due first (1 to 1,000, default 200).
    pub limit: Option<u32>,
}

/// Open tasks, soonest due first, each with its customer's context: the staff agenda.
#[utoipa::path(get, path = "/tasks", tag = "care", params(TaskParams),
    responses((status = 200, body = Vec<AgendaView>), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_tasks(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<TaskParams>,
) -> Result<ApiJson<Vec<AgendaView>>, ApiError> {
    let limit = params.limit.unwrap_or(200);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be 1 to {MAX_LIMIT}, not {limit}"),
        ));
    }
    let calendar = Calendar {
        time_zone: state.settings.business.time_zone,
        now: chrono::Utc::now().timestamp(),
    };
    let (due_from, due_before) = params.due.unwrap_or_default().range(&calendar);
    let query = TaskQuery {
        due_from,
        due_before,
        assignee: params.assignee,
        limit,
    };
    Ok(ApiJson(
        state.store.agenda(&query).await?.into_iter().map(agenda_view).collect(),
    ))
}

/// One task, open or done.
#[utoipa::path(get, path = "/tasks/{id}", tag = "care", params(("id" = i64, Path, description = "The task's number")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(task = id))]
pub async fn get_task(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<ApiJson<TaskView>, ApiError> {
    let task = state.store.task(id).await?.ok_or_else(|| no_task(id))?;
    Ok(ApiJson(task_view(task)))
}

fn no_task(id: i64) -> ApiError {
    ApiError::not_found(format!("there is no task {id}"))
}

/// How a task ended.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// How it ended.
    pub outcome: TaskOutcome,
    /// What was said or found (at most 2,000 characters).
    pub note: Option<String>,
}

/// Complete a task: its outcome goes on the customer's timeline as an interaction. A task done
/// already is a 409.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "care", request_body = Completion,
    params(("id" = i64, Path, description = "The task's number")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(task = id))]
pub async fn complete_task(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Completion>,
) -> Result<ApiJson<TaskView>, ApiError> {
    let note = body
        .note
        .as_deref()
        .map(|n| rules::text("note", n, 2_000, Lines::Many))
        .transpose()
        .map_err(|e| ApiError::invalid("note", e.0))?
        .flatten();
    let done = TaskDone {
        id,
        outcome: body.outcome,
        note: note.as_deref(),
        by: &format!("API key {}", principal.name),
        at: chrono::Utc::now().timestamp(),
    };
    let task = crate::care::complete_task(&state.store, &done).await?;
    Ok(ApiJson(task_view(task)))
}

/// Move a task's due time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Snooze {
    /// How long from now: a whole number and m, h, d or w ("2d").
    #[serde(rename = "for")]
    pub duration: String,
}

/// Snooze an open task.
#[utoipa::path(post, path = "/tasks/{id}/snooze", tag = "care", request_body = Snooze,
    params(("id" = i64, Path, description = "The task's number")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(task = id))]
pub async fn snooze_task(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Snooze>,
) -> Result<ApiJson<TaskView>, ApiError> {
    let span = Span::parse(&body.duration).map_err(|e| ApiError::invalid("for", e))?;
    let until = chrono::Utc::now().timestamp() + span.seconds;
    if !state.store.snooze_task(id, until).await? {
        return Err(ApiError::not_found(format!("there is no open task {id}")));
    }
    get_task(State(state), ApiPath(id)).await
}

/// Whose task it becomes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    /// A dashboard user's e-mail, or null for anyone.
    pub assignee: Option<String>,
}

/// Give an open task to someone else.
#[utoipa::path(post, path = "/tasks/{id}/reassign", tag = "care", request_body = Reassign,
    params(("id" = i64, Path, description = "The task's number")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(task = id))]
pub async fn reassign_task(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Reassign>,
) -> Result<ApiJson<TaskView>, ApiError> {
    let assignee = body
        .assignee
        .as_deref()
        .map(|a| rules::text("assignee", a, 200, Lines::One))
        .transpose()
        .map_err(|e| ApiError::invalid("assignee", e.0))?
        .flatten();
    if !state.store.reassign_task(id, assignee.as_deref()).await? {
        return Err(ApiError::not_found(format!("there is no open task {id}")));
    }
    get_task(State(state), ApiPath(id)).await
}
