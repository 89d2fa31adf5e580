//! The `rapport` command line: clap definitions, each command a thin function over the library.

mod agenda;
mod analyze;
mod config;
mod customer_list;
mod customers;
mod demo;
mod examples;
mod fit;
mod funnel;
mod import;
mod interviews;
mod keys;
mod output;
mod plans;
mod rebuild;
mod score;
mod serve;
mod surveys;
mod users;
mod voice;
mod voice_report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rapport::config::{Settings, Sources};

pub use output::Output;

/// Rapport: see which customers stay, which are slipping, and who to call next.
#[derive(Debug, Parser)]
#[command(name = "rapport", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Database: sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST/DB [setting
    /// database.url, RAPPORT_DATABASE_URL; default sqlite://rapport.db].
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// Settings file [default: rapport.toml beside a SQLite database, or in the working directory
    /// for PostgreSQL, when there is one]. `rapport config show` prints what is in effect.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the database schema up to date (every command also does this first).
    Migrate,
    /// Load purchases or customer lists from delimited files.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// List, inspect and update customers.
    #[command(subcommand)]
    Customers(customers::CustomersCommand),
    /// Customers per lifecycle stage, conversion between stages, and when the second sale comes.
    #[command(after_help = examples::FUNNEL)]
    Funnel(funnel::FunnelArgs),
    /// Recompute every customer's state from the event log.
    Rebuild(rebuild::RebuildArgs),
    /// Fit a defection model to a purchase file and score every customer (no database needed).
    #[command(after_help = examples::ANALYZE)]
    Analyze(analyze::AnalyzeArgs),
    /// Fit a defection model to the purchases in the database and store it as a new version.
    #[command(after_help = examples::FIT)]
    Fit(fit::FitArgs),
    /// Score every customer (P(alive), expected purchases, value, segment) with the latest model.
    #[command(after_help = examples::SCORE)]
    Score(score::ScoreArgs),
    /// Care plans: apply them from a TOML file, list, show, pause and resume them.
    #[command(subcommand)]
    Plans(plans::PlansCommand),
    /// Surveys: write the built-in ones, apply them from a TOML file, list, show and send them.
    #[command(subcommand)]
    Surveys(surveys::SurveysCommand),
    /// What customers said: NPS, CSAT and CES by month, stage, segment or survey with 95 %
    /// intervals; `voice themes`: what detractors and promoters write about.
    Voice(voice::VoiceArgs),
    /// Interviews: log what a customer needs, wants and fears; search them by text or tag.
    #[command(subcommand)]
    Interviews(interviews::InterviewsCommand),
    /// The staff's open tasks, overdue and due soon, each with its customer's context.
    Agenda(agenda::AgendaArgs),
    /// Complete, snooze or reassign a task.
    #[command(subcommand)]
    Tasks(agenda::TasksCommand),
    /// Run every care-plan occurrence that is due (what `rapport serve` does in the background),
    /// once: for cron, or to catch up by hand.
    RunDue(plans::RunDueArgs),
    /// Fill the database with a realistic synthetic business to explore.
    Demo(demo::DemoArgs),
    /// Serve the JSON API (and its reference page) until SIGTERM or Ctrl-C.
    #[command(after_help = examples::SERVE)]
    Serve(serve::ServeArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Show the settings in effect and where each comes from.
    #[command(subcommand, after_help = examples::CONFIG)]
    Config(config::ConfigCommand),
}

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // A server logs each request by default; commands log only warnings.
    let default_filter = if matches!(cli.command, Command::Serve(_)) {
        "info,sqlx=warn"
    } else {
        "warn,sqlx=error"
    };
    init_logging(default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let out = Output::stdout();
    let sources = Sources {
        file: cli.config.clone(),
        flags: config::flags(&cli),
    };
    let loaded = Settings::load(&sources)?;
    let settings = &loaded.settings;
    let db = &settings.database;
    match cli.command {
        Command::Migrate => {
            let store = rapport::store::open_with(db).await?;
            out.line(&format!("database {} is up to date", store.backend()))
        }
        Command::Import(command) => import::run(settings, command, out).await,
        Command::Customers(command) => customers::run(settings, command, out).await,
        Command::Funnel(args) => funnel::run(db, args, out).await,
        Command::Rebuild(args) => rebuild::run(db, args, out).await,
        Command::Demo(args) => demo::run(settings, args, out).await,
        Command::Analyze(args) => analyze::run(args, settings.business.time_zone, out),
        Command::Fit(args) => fit::run(db, args, out).await,
        Command::Score(args) => score::run(settings, args, out).await,
        Command::Serve(_) => serve::run(settings, out).await,
        Command::Plans(command) => plans::run(settings, command, out).await,
        Command::RunDue(args) => plans::run_due(settings, args, out).await,
        Command::Surveys(command) => surveys::run(settings, command, out).await,
        Command::Voice(args) => voice::run(settings, args, out).await,
        Command::Interviews(command) => interviews::run(settings, command, out).await,
        Command::Agenda(args) => agenda::agenda(settings, args, out).await,
        Command::Tasks(command) => agenda::tasks(settings, command, out).await,
        Command::Keys(command) => keys::run(db, command, out).await,
        Command::Users(command) => users::run(db, command, out).await,
        Command::Config(command) => config::run(&loaded, command, out),
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", rapport::domain::rules::printable(&message(error)));
    ExitCode::FAILURE
}

/// An error and its causes on one line, each cause once: many errors already quote their cause
/// ("file: No such file"), and printing the chain would repeat it.
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

/// Logs to standard error, filtered by `RAPPORT_LOG` (e.g. `debug`, `info,sqlx=warn`); one JSON
/// object per line when `RAPPORT_LOG_FORMAT=json`, for log collectors. Colour only on a terminal.
fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAPPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // `RAPPORT_LOG_SPANS=1` also logs each span as it closes, with the time spent in it: with
    // `RAPPORT_LOG=rapport=debug`, how long every store call took.
    let spans = if std::env::var("RAPPORT_LOG_SPANS").is_ok_and(|v| v == "1") {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_ansi(output::colour_on_stderr())
        .with_writer(std::io::stderr);
    let _ = if std::env::var("RAPPORT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
