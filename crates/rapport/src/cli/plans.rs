//! `rapport plans`: care plans applied from a TOML file, listed, shown, paused and resumed; and
//! `rapport run-due`, the scheduler and the mail delivery run once (for cron, or to catch up).

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::TimeZone as _;
use clap::{Args, Subcommand};
use rapport::care::plan_file::parse_plans;
use rapport::config::Settings;
use rapport::domain::plan::{Action, PlanSpec};
use rapport::domain::plan_report::{Comparison, PlanReport, plan_report};
use rapport::domain::state::format_day;
use rapport::mail::DeliverySettings;
use rapport::store::{PlanChange, PlanRecord, PlanVersionRecord, open_with};

use super::Output;
use super::output::count;

/// `rapport plans ...`.
#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Write the built-in plans into the database (thank-you, second-order, week check-in,
    /// win-back, two-year check-in); plans of those names are updated to the built-in text.
    Init(InitArgs),
    /// Create or update the plans of a TOML file by name (all of them, or none when the file has
    /// an error) and print what changed.
    Apply(ApplyArgs),
    /// List the plans with what their occurrences became.
    List(ListArgs),
    /// Show one plan: its rule as stored and what it did.
    Show(ShowArgs),
    /// Does the plan work? Its treated customers against its hold-out since enrolment.
    Report(ShowArgs),
    /// Pause a plan: its due occurrences are recorded as skipped until it is resumed.
    Pause(NameArg),
    /// Resume a paused plan.
    Resume(NameArg),
}

/// `rapport plans apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file (README.md, "Care plans", shows its fields).
    pub file: PathBuf,
    /// The time to plan from instead of now, for tests and replays: history due longer ago than a
    /// plan's expire_after is counted, not planned (RFC 3339, or a date: midnight in the business's
    /// time zone).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport plans init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The time to plan from instead of now (as for `apply`).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport plans list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport plans show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan's name.
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A plan's name alone.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The plan's name.
    pub name: String,
}

/// `rapport run-due`.
#[derive(Debug, Args)]
pub struct RunDueArgs {
    /// Run what is due at this time instead of now (RFC 3339, or a date: midnight in the
    /// business's time zone).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The clock of a command: `--now` when given, else the system's.
fn clock(now: Option<&str>, settings: &Settings) -> anyhow::Result<i64> {
    let Some(text) = now else {
        return Ok(chrono::Utc::now().timestamp());
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("--now '{text}' is not a time: write 2026-03-05 or 2026-03-05T09:00:00+01:00"))?;
    let zone = settings.business.time_zone;
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    let local = zone
        .from_local_datetime(&midnight)
        .earliest()
        .with_context(|| format!("--now '{text}': midnight does not exist in {zone}"))?;
    Ok(local.timestamp())
}

/// Runs a `plans` command.
pub async fn run(settings: &Settings, command: PlansCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    match command {
        PlansCommand::Apply(args) => {
            let name = args.file.display().to_string();
            let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
            let specs = parse_plans(&name, &text)?;
            if specs.is_empty() {
                anyhow::bail!("{name} holds no [[plan]]: nothing to apply");
            }
            let now = clock(args.now.as_deref(), settings)?;
            print_changes(&store.apply_plans(&specs, now).await?, args.json, out)
        }
        PlansCommand::Init(args) => {
            let now = clock(args.now.as_deref(), settings)?;
            let changes = store.apply_plans(&rapport::care::built_in_plans(), now).await?;
            print_changes(&changes, args.json, out)
        }
        PlansCommand::List(args) => {
            let plans = store.plans().await?;
            if args.json {
                return out.json(&plans);
            }
            if plans.is_empty() {
                return out.line("no plans yet: `rapport plans apply FILE` creates them (README.md, \"Care plans\")");
            }
            for plan in &plans {
                out.line(&summary_line(plan))?;
            }
            Ok(())
        }
        PlansCommand::Show(args) => {
            let plan = store
                .plan(&args.name)
                .await?
                .with_context(|| format!("no plan is named '{}' (`rapport plans list` shows them)", args.name))?;
            let history = store.plan_history(plan.id).await?;
            if args.json {
                #[derive(serde::Serialize)]
                struct Shown<'a> {
                    #[serde(flatten)]
                    plan: &'a PlanRecord,
                    history: &'a [PlanVersionRecord],
                }
                return out.json(&Shown {
                    plan: &plan,
                    history: &history,
                });
            }
            out.line(&show(&plan, &history))
        }
        PlansCommand::Report(args) => {
            let plan = store
                .plan(&args.name)
                .await?
                .with_context(|| format!("no plan is named '{}' (`rapport plans list` shows them)", args.name))?;
            let enrolled = store.plan_enrolments(plan.id).await?;
            let report = plan_report(&plan.spec.name, &enrolled, chrono::Utc::now().timestamp());
            if args.json {
                return out.json(&report);
            }
            out.line(&report_text(&report))
        }
        PlansCommand::Pause(args) => pause(&store, &args.name, true, out).await,
        PlansCommand::Resume(args) => pause(&store, &args.name, false, out).await,
    }
}

async fn pause(
    store: &std::sync::Arc<dyn rapport::store::Store>,
    name: &str,
    paused: bool,
    out: Output,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp();
    if !store.set_plan_paused(name, paused, now).await? {
        anyhow::bail!("no plan is named '{name}' (`rapport plans list` shows them)");
    }
    out.line(&format!("plan '{name}' {}", if paused { "paused" } else { "resumed" }))
}

/// Runs `rapport run-due`.
pub async fn run_due(settings: &Settings, args: RunDueArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    let now = clock(args.now.as_deref(), settings)?;
    let run = rapport::care::email::RunSettings::from_settings(settings);
    let report = rapport::care::run_due(&store, &run, now).await?;
    // Then the mail that is due, as the server's worker would send it.
    let delivery = DeliverySettings::from_config(&settings.mail);
    let mail = rapport::mail::deliver_due(&store, &delivery, now).await?;
    if args.json {
        #[derive(serde::Serialize)]
        struct RunDue<'a> {
            #[serde(flatten)]
            care: &'a rapport::care::RunReport,
            mail: &'a rapport::mail::DeliveryReport,
        }
        return out.json(&RunDue {
            care: &report,
            mail: &mail,
        });
    }
    let mut line = format!(
        "{} run: {} created, {} queued, {}, {} held out, {} expired",
        count(report.due, "due occurrence"),
        count(report.tasks_created, "task"),
        count(report.emails_queued, "e-mail"),
        count(report.webhooks_queued, "webhook message"),
        report.held_out,
        report.expired
    );
    // Expired ones are in the line already.
    for (reason, n) in report.skipped.iter().filter(|(reason, _)| *reason != "expired") {
        line.push_str(&format!(", {n} skipped ({reason})"));
    }
    out.line(&line)?;
    out.line(&match mail.unsent_without_smtp {
        Some(queued) => format!(
            "mail: {} waiting, no SMTP server is set ([mail] smtp_url)",
            count(queued as u64, "message")
        ),
        None => format!(
            "mail: {} sent, {} to retry, {} failed",
            count(mail.sent, "message"),
            mail.retrying,
            mail.failed
        ),
    })
}

fn print_changes(changes: &[PlanChange], json: bool, out: Output) -> anyhow::Result<()> {
    if json {
        return out.json(&changes);
    }
    for change in changes {
        out.line(&rapport::care::describe_change(change))?;
    }
    Ok(())
}

fn report_text(report: &PlanReport) -> String {
    let share = |x: f64| {
        if x.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.1} %", x * 100.0)
        }
    };
    let money = |x: f64| if x.is_nan() { "-".to_owned() } else { format!("{x:.2}") };
    let row = |label: &str, c: &Comparison, show: &dyn Fn(f64) -> String| {
        format!(
            "  {label:<34} {:>9} {:>9} {:>10}  [{}, {}]  ({} / {} customers)",
            show(c.treated),
            show(c.held_out),
            show(c.difference),
            show(c.ci95[0]),
            show(c.ci95[1]),
            c.treated_customers,
            c.held_out_customers
        )
    };
    [
        report.sentence.clone(),
        format!(
            "  {:<34} {:>9} {:>9} {:>10}  95 % CI",
            "", "treated", "held out", "difference"
        ),
        row("bought again within 30 days", &report.repeat_30d, &share),
        row("bought again within 90 days", &report.repeat_90d, &share),
        row("bought again within 365 days", &report.repeat_365d, &share),
        row("revenue per customer, 90 days", &report.revenue_90d, &money),
        row("P(alive) above one half", &report.alive, &share),
    ]
    .join("\n")
}

fn summary_line(plan: &PlanRecord) -> String {
    let o = plan.occurrences;
    format!(
        "{:<28} v{:<3} {:<7} {:<40} pending {}, done {}, held out {}, skipped {}, expired {}",
        plan.spec.name,
        plan.version,
        if plan.paused { "paused" } else { "active" },
        plan.spec.trigger.to_string(),
        o.pending,
        o.done,
        o.held_out,
        o.skipped,
        o.expired
    )
}

fn show(plan: &PlanRecord, history: &[PlanVersionRecord]) -> String {
    let spec: &PlanSpec = &plan.spec;
    let mut lines = vec![format!(
        "plan '{}' (version {}, {})",
        spec.name,
        plan.version,
        if plan.paused { "paused" } else { "active" }
    )];
    if let Some(description) = &spec.description {
        lines.push(format!("  {description}"));
    }
    lines.push(format!("  due: {}", spec.trigger));
    let when = serde_json::to_string(&spec.when).expect("conditions serialize");
    if when != "{}" {
        lines.push(format!("  when: {when}"));
    }
    match &spec.action {
        Action::Task {
            template,
            due_in,
            assignee,
        } => lines.push(format!(
            "  action: task \"{}\", due {due_in} after it fires{}",
            template.as_str(),
            assignee.as_ref().map(|a| format!(", for {a}")).unwrap_or_default()
        )),
        Action::Email { subject, text, html } => {
            lines.push(format!(
                "  action: e-mail \"{}\" to customers who gave consent ({} HTML part)",
                subject.as_str(),
                if html.is_some() { "its own" } else { "a plain" }
            ));
            for line in text.as_str().lines() {
                lines.push(format!("    | {line}"));
            }
        }
        Action::Webhook => {
            lines.push("  action: a plan.fired webhook message to each subscription that wants it".into())
        }
        Action::Survey { survey } => lines.push(format!(
            "  action: the survey '{survey}' e-mailed as a personal link to customers who gave consent"
        )),
    }
    lines.push(format!(
        "  hold-out: {:.0}% of customers; occurrences expire {} after they are due",
        spec.holdout * 100.0,
        spec.expire_after
    ));
    let o = plan.occurrences;
    lines.push(format!(
        "  occurrences: {} pending, {} done, {} held out, {} skipped, {} expired",
        o.pending, o.done, o.held_out, o.skipped, o.expired
    ));
    if history.len() > 1 {
        lines.push("  history:".to_owned());
        for v in history {
            let o = v.occurrences;
            lines.push(format!(
                "    v{} from {}: {}, {}; ran {} done, {} held out, {} skipped, {} expired",
                v.version,
                format_day(v.created_at.div_euclid(86_400)),
                v.spec.trigger,
                v.spec.action.kind(),
                o.done,
                o.held_out,
                o.skipped,
                o.expired
            ));
        }
    }
    lines.join("\n")
}
