//! `rapport customers list|show|set-stage|log|note`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use rapport::config::Settings;
use rapport::domain::rules::{self, Lines};
use rapport::domain::{EventKind, ExternalId, Money, NewEvent, Stage, StoredEvent};
use rapport::ingest::Ingest;
use rapport::radar::analysis::ScoreRow;
use rapport::store::{CustomerRecord, open_with};
use serde::Serialize;

use super::Output;
use super::output::{count, opt_time, time};

/// What to do with customers.
#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// List customers, optionally only those at one stage.
    #[command(after_help = super::examples::CUSTOMERS_LIST)]
    List(super::customer_list::ListArgs),
    /// A customer's profile, stage and its history, purchase figures and timeline.
    #[command(after_help = super::examples::CUSTOMERS_SHOW)]
    Show(ShowArgs),
    /// Move a customer to a stage by hand (recorded in the log with your reason).
    SetStage(SetStageArgs),
    /// Record an interaction: a call, a visit, an e-mail exchange.
    Log(LogArgs),
    /// Add a note to a customer's timeline.
    Note(NoteArgs),
}

impl CustomersCommand {
    /// The currency given with `--currency`, for the commands that print amounts.
    pub fn currency(&self) -> Option<&str> {
        match self {
            Self::List(args) => args.business.currency.as_deref(),
            Self::Show(args) => args.business.currency.as_deref(),
            _ => None,
        }
    }
}

/// `rapport customers show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The customer's id in your shop system.
    id: String,
    #[command(flatten)]
    pub business: super::output::BusinessCurrency,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `rapport customers set-stage`.
#[derive(Debug, Args)]
pub struct SetStageArgs {
    /// The customer's id in your shop system.
    id: String,
    /// The new stage.
    stage: Stage,
    /// Why, in a few words; kept in the stage history.
    #[arg(long)]
    reason: String,
}

/// `rapport customers log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The customer's id in your shop system (created if new).
    id: String,
    /// How: phone, email, visit, chat, ...
    #[arg(long)]
    channel: String,
    /// What was said or done.
    #[arg(long, default_value = "")]
    note: String,
}

/// `rapport customers note`.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The customer's id in your shop system.
    id: String,
    /// The note.
    text: String,
}

/// Runs a customers command.
pub async fn run(settings: &Settings, command: CustomersCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    let currency = settings.business.currency.as_str();
    match command {
        CustomersCommand::List(args) => super::customer_list::run(&store, args, currency, out).await,
        CustomersCommand::Show(args) => {
            let id = ExternalId::parse(&args.id)?;
            let customer = store
                .customer(&id)
                .await?
                .with_context(|| format!("no customer with id '{id}'"))?;
            let timeline = store.events_of(customer.id).await?;
            let score = store.score(customer.id).await?;
            let detail = Detail::new(customer, timeline, score);
            if args.json {
                return out.json(&detail);
            }
            print_detail(&detail, currency, out)
        }
        CustomersCommand::SetStage(args) => {
            let id = ExternalId::parse(&args.id)?;
            let mut ingest = Ingest::begin(&store, "the command line").await?;
            let reason = required("--reason", &args.reason, 500, Lines::One)?;
            let change = ingest.set_stage(&id, args.stage, reason).await?;
            ingest.finish().await?;
            match change {
                Some(c) => out.line(&format!("{id}: {} → {}", c.from.map_or("(none)", |s| s.as_str()), c.to)),
                None => out.line(&format!("{id} is already at stage {}", args.stage)),
            }
        }
        CustomersCommand::Log(args) => {
            let kind = EventKind::Interaction {
                channel: required("--channel", &args.channel, rules::MAX_CHANNEL, Lines::One)?,
                note: required("--note", &args.note, rules::MAX_NOTE, Lines::Many)?,
            };
            append(&store, &args.id, kind, out).await
        }
        CustomersCommand::Note(args) => {
            let text = required("the note", &args.text, rules::MAX_NOTE, Lines::Many)?;
            append(&store, &args.id, EventKind::Note { text }, out).await
        }
    }
}

/// A text argument under the rules every entry point shares; empty is an error.
fn required(name: &str, raw: &str, max: usize, lines: Lines) -> anyhow::Result<String> {
    rules::text(name, raw, max, lines)?.with_context(|| format!("{name} is empty"))
}

async fn append(
    store: &std::sync::Arc<dyn rapport::store::Store>,
    id: &str,
    kind: EventKind,
    out: Output,
) -> anyhow::Result<()> {
    let id = ExternalId::parse(id)?;
    let now = chrono::Utc::now();
    let key = format!(
        "{}:{}:{}",
        kind.name(),
        id,
        now.timestamp_nanos_opt().unwrap_or_default()
    );
    let name = kind.name();
    let mut ingest = Ingest::begin(store, "the command line").await?;
    ingest
        .push(
            &id,
            NewEvent {
                key,
                occurred_at: now.timestamp(),
                kind,
            },
        )
        .await?;
    let report = ingest.finish().await?;
    out.line(&format!("{name} recorded for {id}{}", stage_note(report.stage_changes)))
}

fn stage_note(changes: u64) -> &'static str {
    if changes > 0 { " (stage updated)" } else { "" }
}

/// Everything `customers show` prints.
#[derive(Debug, Serialize)]
struct Detail {
    customer: CustomerRecord,
    score: Option<ScoreRow>,
    stage_history: Vec<StoredEvent>,
    timeline: Vec<StoredEvent>,
}

impl Detail {
    fn new(customer: CustomerRecord, timeline: Vec<StoredEvent>, score: Option<ScoreRow>) -> Self {
        let stage_history = timeline
            .iter()
            .filter(|e| matches!(e.kind, EventKind::StageChange { .. }))
            .cloned()
            .collect();
        Self {
            customer,
            score,
            stage_history,
            timeline,
        }
    }
}

fn print_detail(d: &Detail, currency: &str, out: Output) -> anyhow::Result<()> {
    let c = &d.customer;
    let s = &c.state;
    out.line(&format!("Customer {} (#{})", c.external_id, c.id))?;
    for (label, value) in [("name", &c.name), ("email", &c.email), ("phone", &c.phone)] {
        if let Some(v) = value {
            out.line(&format!("  {label}: {v}"))?;
        }
    }
    for (k, v) in &c.attributes {
        out.line(&format!(
            "  {k}: {}",
            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
        ))?;
    }
    out.line(&format!(
        "  stage: {} since {} (highest reached: {})",
        s.stage.map_or("-", |x| x.as_str()),
        opt_time(s.stage_changed_at),
        s.max_stage.map_or("-", |x| x.as_str())
    ))?;
    out.line(&format!(
        "  purchases: {}, first {}, second sale {}, last {}, total spend {} {currency}",
        s.purchase_count,
        opt_time(s.first_purchase_at),
        opt_time(s.second_purchase_at),
        opt_time(s.last_purchase_at),
        Money(s.total_spend_cents)
    ))?;
    out.line(&format!("  interactions: {}", s.interaction_count))?;
    match &d.score {
        Some(score) => {
            out.line(&format!(
                "  outlook: P(alive) {:.2}, {:.1} purchases expected in 90 days, 12-month value {:.2} {currency}, segment {}",
                score.p_alive,
                score.expected_purchases_90d,
                score.clv_12m,
                score.segment.label()
            ))?;
            out.line(&format!("  why: {}", score.explanation))?;
        }
        None if s.purchase_count == 0 => {
            out.line("  outlook: no purchases yet, so no score: scores need at least one purchase")?
        }
        None => out.line("  outlook: not scored yet (`rapport fit`, then `rapport score`)")?,
    }
    out.line("Stage history")?;
    for e in &d.stage_history {
        if let EventKind::StageChange { from, to, reason } = &e.kind {
            out.line(&format!(
                "  {:<16} {:>8} → {:<8}  {reason}",
                time(e.occurred_at),
                from.map_or("(new)", |s| s.as_str()),
                to.as_str()
            ))?;
        }
    }
    out.line(&format!("Timeline ({})", count(d.timeline.len() as u64, "event")))?;
    for e in &d.timeline {
        out.line(&format!(
            "  {:<16} {:<12} {}",
            time(e.occurred_at),
            e.kind.name(),
            e.kind.describe()
        ))?;
    }
    Ok(())
}
