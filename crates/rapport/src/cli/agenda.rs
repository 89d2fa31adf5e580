//! `rapport agenda`: the staff's open tasks with each customer's context; and `rapport tasks`:
//! complete, snooze or reassign one.

use clap::{Args, Subcommand};
use rapport::care::{DueWindow, due_group};
use rapport::config::Settings;
use rapport::domain::calendar::Calendar;
use rapport::domain::plan::{Span, TaskOutcome};
use rapport::store::{AgendaItem, TaskDone, TaskQuery, open_with};

use super::Output;
use super::output::{opt_time, time};

/// `rapport agenda`.
#[derive(Debug, Args)]
pub struct AgendaArgs {
    /// Which tasks, by when they are due (days in the business's time zone): soon (overdue and
    /// the next seven days), today, week, overdue or all.
    #[arg(long, default_value = "soon")]
    pub due: DueWindow,
    /// Only this person's tasks (a dashboard user's e-mail).
    #[arg(long, value_name = "EMAIL")]
    pub assignee: Option<String>,
    /// At most this many tasks, soonest due first.
    #[arg(long, default_value_t = 200)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport tasks ...`.
#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Mark a task done with its outcome; it goes on the customer's timeline as an interaction.
    Complete(CompleteArgs),
    /// Move a task's due time.
    Snooze(SnoozeArgs),
    /// Give a task to someone else.
    Reassign(ReassignArgs),
}

/// `rapport tasks complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The task's number, as the agenda shows it.
    pub id: i64,
    /// reached, left_message, no_answer, not_interested or problem_found.
    #[arg(long)]
    pub outcome: TaskOutcome,
    /// What was said or found.
    #[arg(long)]
    pub note: Option<String>,
}

/// `rapport tasks snooze`.
#[derive(Debug, Args)]
pub struct SnoozeArgs {
    /// The task's number.
    pub id: i64,
    /// How long from now, such as 2d or 4h.
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: String,
}

/// `rapport tasks reassign`.
#[derive(Debug, Args)]
pub struct ReassignArgs {
    /// The task's number.
    pub id: i64,
    /// Whose task it becomes (a dashboard user's e-mail); without it, anyone's.
    #[arg(long, value_name = "EMAIL")]
    pub to: Option<String>,
}

/// Runs `rapport agenda`.
pub async fn agenda(settings: &Settings, args: AgendaArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    let calendar = Calendar {
        time_zone: settings.business.time_zone,
        now: chrono::Utc::now().timestamp(),
    };
    let (due_from, due_before) = args.due.range(&calendar);
    let query = TaskQuery {
        due_from,
        due_before,
        assignee: args.assignee,
        limit: args.limit,
    };
    let items = store.agenda(&query).await?;
    if args.json {
        return out.json(&items);
    }
    if items.is_empty() {
        return out.line("nothing on the agenda: no open task is due in that time");
    }
    let mut heading = "";
    for item in &items {
        let group = due_group(item.task.due_at, &calendar);
        if group != heading {
            out.line(&format!("{group}:"))?;
            heading = group;
        }
        out.line(&item_lines(item))?;
    }
    Ok(())
}

/// A task in two lines: what to do, then who the customer is.
fn item_lines(item: &AgendaItem) -> String {
    let task = &item.task;
    let mut first = format!("  #{:<5} due {}  {}", task.id, time(task.due_at), task.title);
    if let Some(plan) = &task.plan {
        first.push_str(&format!("  [{plan}]"));
    }
    if let Some(assignee) = &task.assignee {
        first.push_str(&format!("  for {assignee}"));
    }
    let who = match &item.name {
        Some(name) => format!("{name} ({})", task.customer),
        None => task.customer.clone(),
    };
    let stage = item.stage.map_or_else(|| "no stage".to_owned(), |s| s.to_string());
    let mut second = format!(
        "         {who} · {stage} · {} orders, {:.2} spent · last purchase {} · last contact {}",
        item.orders,
        item.total_spend_cents as f64 / 100.0,
        opt_time(item.last_purchase_at),
        opt_time(item.last_contact_at)
    );
    if let Some(p) = item.p_alive {
        second.push_str(&format!(" · P(alive) {:.0}%", p * 100.0));
    }
    if let Some(explanation) = &item.explanation {
        second.push_str(&format!(": {explanation}"));
    }
    match &task.why {
        Some(why) => format!("{first}\n         why now: {why}\n{second}"),
        None => format!("{first}\n{second}"),
    }
}

/// Runs a `tasks` command.
pub async fn tasks(settings: &Settings, command: TasksCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    let now = chrono::Utc::now().timestamp();
    match command {
        TasksCommand::Complete(args) => {
            let done = TaskDone {
                id: args.id,
                outcome: args.outcome,
                note: args.note.as_deref(),
                by: "cli",
                at: now,
            };
            let task = rapport::care::complete_task(&store, &done).await?;
            out.line(&format!(
                "task {} done ({}): on {}'s timeline",
                task.id,
                args.outcome.describe(),
                task.customer
            ))
        }
        TasksCommand::Snooze(args) => {
            let span = Span::parse(&args.duration).map_err(|e| anyhow::anyhow!("--for: {e}"))?;
            if !store.snooze_task(args.id, now + span.seconds).await? {
                anyhow::bail!("there is no open task {}", args.id);
            }
            out.line(&format!("task {} is due {} now", args.id, time(now + span.seconds)))
        }
        TasksCommand::Reassign(args) => {
            if !store.reassign_task(args.id, args.to.as_deref()).await? {
                anyhow::bail!("there is no open task {}", args.id);
            }
            match &args.to {
                Some(to) => out.line(&format!("task {} is {to}'s now", args.id)),
                None => out.line(&format!("task {} is anyone's now", args.id)),
            }
        }
    }
}
