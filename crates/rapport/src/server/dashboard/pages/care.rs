//! The staff agenda (open tasks with each customer at a glance, completed from the page), the
//! plans and each plan's report against its hold-out.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use serde::Deserialize;

use super::{Layout, MAX_TEXT, PageError};
use crate::care::{DueWindow, due_group};
use crate::domain::Role;
use crate::domain::calendar::Calendar;
use crate::domain::plan::TaskOutcome;
use crate::domain::plan_report::{Comparison, PlanReport, plan_report};
use crate::domain::rules::{self, Lines};
use crate::server::AppState;
use crate::server::dashboard::format::{grouped, url_encode};
use crate::server::dashboard::session::SignedIn;
use crate::store::{TaskDone, TaskQuery};

/// Tasks the agenda page shows at most.
const AGENDA_LIMIT: u32 = 500;

/// One task as the agenda draws it.
pub struct AgendaRow {
    id: i64,
    title: String,
    why: Option<String>,
    plan: Option<String>,
    assignee: Option<String>,
    due: String,
    /// The group's heading, on the first task of each group (overdue, today, this week, later).
    heading: Option<&'static str>,
    customer: String,
    customer_path: String,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    stage: String,
    orders: i64,
    spent: String,
    last_purchase: String,
    last_contact: String,
    p_alive: Option<String>,
    explanation: Option<String>,
}

/// `GET /agenda`.
#[derive(Template, WebTemplate)]
#[template(path = "agenda.html")]
pub struct AgendaPage {
    layout: Layout,
    rows: Vec<AgendaRow>,
    can_write: bool,
    outcomes: Vec<(&'static str, &'static str)>,
    done: Option<String>,
    window: &'static str,
    windows: Vec<&'static str>,
}

/// The agenda's query: which window, and the task just done.
#[derive(Debug, Deserialize)]
pub struct AgendaParams {
    due: Option<String>,
    done: Option<String>,
}

/// `GET /agenda`: open tasks, overdue first, each customer at a glance.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn agenda(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<AgendaParams>,
) -> Result<AgendaPage, PageError> {
    let window: DueWindow = match params.due.as_deref() {
        None | Some("") => DueWindow::Soon,
        Some(text) => text
            .parse()
            .map_err(|e: String| PageError::new(StatusCode::BAD_REQUEST, format!("The due window {e}.")))?,
    };
    let locale = &state.dashboard.locale;
    let calendar = Calendar {
        time_zone: locale.time_zone,
        now: chrono::Utc::now().timestamp(),
    };
    let (due_from, due_before) = window.range(&calendar);
    let query = TaskQuery {
        due_from,
        due_before,
        assignee: None,
        limit: AGENDA_LIMIT,
    };
    let mut last_group = "";
    let rows = state
        .store
        .agenda(&query)
        .await?
        .into_iter()
        .map(|item| {
            let due = item.task.due_at;
            let group = due_group(due, &calendar);
            let heading = (group != last_group).then_some(group);
            last_group = group;
            AgendaRow {
                id: item.task.id,
                heading,
                due: locale.minute(due),
                customer_path: format!("/customers/{}", url_encode(&item.task.customer)),
                customer: item.task.customer,
                title: item.task.title,
                why: item.task.why,
                plan: item.task.plan,
                assignee: item.task.assignee,
                name: item.name,
                phone: item.phone,
                email: item.email,
                stage: item.stage.map_or_else(|| "no stage".to_owned(), |s| s.to_string()),
                orders: item.orders,
                spent: locale.money(item.total_spend_cents),
                last_purchase: locale.opt_day(item.last_purchase_at),
                last_contact: locale.opt_day(item.last_contact_at),
                p_alive: item.p_alive.map(|p| format!("{:.0} %", p * 100.0)),
                explanation: item.explanation,
            }
        })
        .collect();
    Ok(AgendaPage {
        layout: Layout::new(&signed_in, "agenda"),
        rows,
        can_write: signed_in.session.user.role >= Role::Staff,
        outcomes: TaskOutcome::ALL.iter().map(|o| (o.as_str(), o.describe())).collect(),
        done: params.done.filter(|d| !d.is_empty()),
        window: window.as_str(),
        windows: DueWindow::ALL.iter().map(|w| w.as_str()).collect(),
    })
}

/// A task's "done" form.
#[derive(Debug, Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

/// `POST /tasks/{id}/complete` (staff): the task done with its outcome, on the customer's
/// timeline; back to the agenda, which says so.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id, task = id))]
pub async fn complete_task(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CompleteForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let unprocessable = |m: String| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let outcome: TaskOutcome = form
        .outcome
        .parse()
        .map_err(|e: crate::domain::ParseError| unprocessable(format!("The {}. Go back and choose one.", e.0)))?;
    let note = rules::text("note", &form.note, MAX_TEXT, Lines::Many)
        .map_err(|e| unprocessable(format!("The {}. Go back and change it.", e.0)))?;
    let done = TaskDone {
        id,
        outcome,
        note: note.as_deref(),
        by: &signed_in.session.user.email,
        at: chrono::Utc::now().timestamp(),
    };
    let task = crate::care::complete_task(&state.store, &done).await?;
    Ok(Redirect::to(&format!(
        "/agenda?done={}#done",
        url_encode(&format!("{} ({})", task.title, outcome.describe()))
    )))
}

/// A plan as the plans page lists it.
pub struct PlanRow {
    name: String,
    path: String,
    trigger: String,
    version: i64,
    paused: bool,
    pending: String,
    done: String,
    held_out: String,
    skipped: String,
    expired: String,
}

/// `GET /plans`.
#[derive(Template, WebTemplate)]
#[template(path = "plans.html")]
pub struct PlansPage {
    layout: Layout,
    plans: Vec<PlanRow>,
    can_manage: bool,
    /// What the last plan file applied changed, or its problems, one per line.
    applied: Vec<String>,
    problems: Vec<String>,
    /// The file as sent, kept in the form after a problem.
    toml: String,
}

/// The plans page's query: what the file just applied changed.
#[derive(Debug, Deserialize)]
pub struct PlansParams {
    applied: Option<String>,
}

/// The plan-file form.
#[derive(Debug, Deserialize)]
pub struct PlanFileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    toml: String,
}

/// The pause and resume buttons.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `GET /plans`: every plan, what its occurrences became, and a link to its report; for admins
/// the form that applies a plan file.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn plans(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<PlansParams>,
) -> Result<PlansPage, PageError> {
    let applied = params
        .applied
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    plans_page(&state, &signed_in, applied, Vec::new(), String::new()).await
}

async fn plans_page(
    state: &AppState,
    signed_in: &SignedIn,
    applied: Vec<String>,
    problems: Vec<String>,
    toml: String,
) -> Result<PlansPage, PageError> {
    let plans = state
        .store
        .plans()
        .await?
        .into_iter()
        .map(|plan| {
            let o = plan.occurrences;
            PlanRow {
                path: format!("/plans/{}", url_encode(&plan.spec.name)),
                trigger: plan.spec.trigger.to_string(),
                name: plan.spec.name,
                version: plan.version,
                paused: plan.paused,
                pending: grouped(o.pending),
                done: grouped(o.done),
                held_out: grouped(o.held_out),
                skipped: grouped(o.skipped),
                expired: grouped(o.expired),
            }
        })
        .collect();
    Ok(PlansPage {
        layout: Layout::new(signed_in, "plans"),
        plans,
        can_manage: signed_in.session.user.role >= Role::Admin,
        applied,
        problems,
        toml,
    })
}

/// `POST /plans` (admin): applies a plan file as `rapport plans apply` does, all or nothing; a
/// file with problems is shown again with each problem's line and field.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn apply_plans(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<PlanFileForm>,
) -> Result<axum::response::Response, PageError> {
    use axum::response::IntoResponse as _;
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Admin)?;
    let specs = match crate::care::plan_file::parse_plans("the form", &form.toml) {
        Ok(specs) if !specs.is_empty() => specs,
        Ok(_) => {
            let problems = vec!["The file holds no [[plan]]: see the example below.".to_owned()];
            let page = plans_page(&state, &signed_in, Vec::new(), problems, form.toml).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(errors) => {
            let problems = errors.0.iter().map(ToString::to_string).collect();
            let page = plans_page(&state, &signed_in, Vec::new(), problems, form.toml).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let changes = state.store.apply_plans(&specs, chrono::Utc::now().timestamp()).await?;
    let said: Vec<String> = changes.iter().map(crate::care::describe_change).collect();
    Ok(Redirect::to(&format!("/plans?applied={}#applied", url_encode(&said.join("\n")))).into_response())
}

/// `POST /plans/{name}/pause` and `/resume` (admin).
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id, paused))]
async fn set_paused(
    state: &AppState,
    signed_in: &SignedIn,
    name: &str,
    form: &CsrfForm,
    paused: bool,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Admin)?;
    if !state
        .store
        .set_plan_paused(name, paused, chrono::Utc::now().timestamp())
        .await?
    {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            format!("There is no plan named '{}'.", rules::printable(name)),
        ));
    }
    Ok(Redirect::to(&format!("/plans/{}", url_encode(name))))
}

/// `POST /plans/{name}/pause` (admin): due occurrences are skipped until it is resumed.
pub async fn pause_plan(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    set_paused(&state, &signed_in, &name, &form, true).await
}

/// `POST /plans/{name}/resume` (admin).
pub async fn resume_plan(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    set_paused(&state, &signed_in, &name, &form, false).await
}

/// One row of a plan report's table.
pub struct ReportRow {
    label: &'static str,
    treated: String,
    held_out: String,
    difference: String,
    ci: String,
    customers: String,
}

/// `GET /plans/{name}`.
#[derive(Template, WebTemplate)]
#[template(path = "plan.html")]
pub struct PlanPage {
    layout: Layout,
    name: String,
    description: Option<String>,
    trigger: String,
    version: i64,
    paused: bool,
    holdout: String,
    sentence: String,
    rows: Vec<ReportRow>,
    history: Vec<VersionRow>,
    can_manage: bool,
    path: String,
}

/// One version of the plan as its page lists it.
pub struct VersionRow {
    version: i64,
    since: String,
    trigger: String,
    action: &'static str,
    done: String,
    held_out: String,
    skipped: String,
    expired: String,
}

/// `GET /plans/{name}`: the plan, its report against the hold-out and what each version did.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn plan(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(name): Path<String>,
) -> Result<PlanPage, PageError> {
    let plan = state.store.plan(&name).await?.ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            format!("There is no plan named '{}'.", rules::printable(&name)),
        )
    })?;
    let enrolled = state.store.plan_enrolments(plan.id).await?;
    let locale = &state.dashboard.locale;
    let history = state
        .store
        .plan_history(plan.id)
        .await?
        .into_iter()
        .map(|v| VersionRow {
            version: v.version,
            since: locale.day(v.created_at),
            trigger: v.spec.trigger.to_string(),
            action: v.spec.action.kind(),
            done: grouped(v.occurrences.done),
            held_out: grouped(v.occurrences.held_out),
            skipped: grouped(v.occurrences.skipped),
            expired: grouped(v.occurrences.expired),
        })
        .collect();
    let report = plan_report(&plan.spec.name, &enrolled, chrono::Utc::now().timestamp());
    Ok(PlanPage {
        layout: Layout::new(&signed_in, "plans"),
        rows: report_rows(&report, locale),
        history,
        can_manage: signed_in.session.user.role >= Role::Admin,
        path: format!("/plans/{}", url_encode(&plan.spec.name)),
        sentence: report.sentence,
        description: plan.spec.description.clone(),
        trigger: plan.spec.trigger.to_string(),
        version: plan.version,
        paused: plan.paused,
        holdout: format!("{:.0} %", plan.spec.holdout * 100.0),
        name: plan.spec.name,
    })
}

fn report_rows(report: &PlanReport, locale: &crate::server::dashboard::format::Locale) -> Vec<ReportRow> {
    let share = |x: f64| {
        if x.is_nan() {
            "–".to_owned()
        } else {
            format!("{:.1} %", x * 100.0)
        }
    };
    let points = |x: f64| {
        if x.is_nan() {
            "–".to_owned()
        } else {
            format!("{:+.1} points", x * 100.0)
        }
    };
    let money = |x: f64| {
        if x.is_nan() { "–".to_owned() } else { locale.amount(x) }
    };
    let row = |label, c: &Comparison, value: &dyn Fn(f64) -> String, diff: &dyn Fn(f64) -> String| ReportRow {
        label,
        treated: value(c.treated),
        held_out: value(c.held_out),
        difference: diff(c.difference),
        ci: format!("{} to {}", diff(c.ci95[0]), diff(c.ci95[1])),
        customers: format!(
            "{} / {}",
            grouped(c.treated_customers as i64),
            grouped(c.held_out_customers as i64)
        ),
    };
    vec![
        row("Bought again within 30 days", &report.repeat_30d, &share, &points),
        row("Bought again within 90 days", &report.repeat_90d, &share, &points),
        row("Bought again within 365 days", &report.repeat_365d, &share, &points),
        row("Revenue per customer, 90 days", &report.revenue_90d, &money, &money),
        row("P(alive) above one half", &report.alive, &share, &points),
    ]
}
