//! `rapport surveys`: surveys applied from a TOML file, the built-in ones written, listed and
//! shown.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use rapport::care::email::RunSettings;
use rapport::config::Settings;
use rapport::domain::plan::Span;
use rapport::domain::survey::SurveySpec;
use rapport::store::{Audience, SurveyChange, SurveyRecord, open_with};
use rapport::voice::invite::{SURVEY_PUBLIC, public_url, qr_svg};
use rapport::voice::send::send_survey;
use rapport::voice::survey_file::parse_surveys;

use super::Output;

/// `rapport surveys ...`.
#[derive(Debug, Subcommand)]
pub enum SurveysCommand {
    /// Write the built-in surveys nps, csat and ces into the database (surveys of those names get
    /// a new version with the built-in questions).
    Init(JsonArg),
    /// Create or update the surveys of a TOML file by name (all of them, or none when the file has
    /// a problem) and print what changed.
    Apply(ApplyArgs),
    /// List the surveys.
    List(JsonArg),
    /// Show one survey: its questions as customers see them.
    Show(ShowArgs),
    /// E-mail a survey's personal link to the customers the filters select (every customer
    /// without one), each under the consent and contact-cap rules; print what was sent and why
    /// the rest were not.
    Send(SendArgs),
    /// List the sends of every survey (or of one) with their response rates.
    Sends(SendsArgs),
    /// Print the survey's anonymous link: anyone who follows it answers, as nobody in particular.
    Link(ShowArgs),
    /// Write a QR code of the survey's anonymous link as SVG (for the counter, a receipt, a poster).
    Qr(QrArgs),
}

/// `rapport surveys qr`.
#[derive(Debug, Args)]
pub struct QrArgs {
    /// The survey's name.
    pub name: String,
    /// Write the SVG here instead of to standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `rapport surveys send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The survey's name.
    pub survey: String,
    /// Only customers at this stage (suspect, prospect, customer, client, partner).
    #[arg(long)]
    pub stage: Option<rapport::domain::Stage>,
    /// Only customers in this segment of their latest scores (champions, loyal, at_risk, ...).
    #[arg(long)]
    pub segment: Option<String>,
    /// Only customers who bought within this time before now: 30d, 2w, 12h.
    #[arg(long, value_name = "SPAN")]
    pub purchased_within: Option<String>,
    /// Only the customers named in this file, one id per line (blank lines and lines starting
    /// with # are skipped).
    #[arg(long, value_name = "FILE")]
    pub customers: Option<PathBuf>,
    /// Count who would be sent to and who skipped, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport surveys sends`.
#[derive(Debug, Args)]
pub struct SendsArgs {
    /// Only this survey's sends.
    pub survey: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--json` alone.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport surveys apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The survey file (README.md, "Surveys", shows its fields).
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport surveys show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The survey's name.
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `surveys` command.
pub async fn run(settings: &Settings, command: SurveysCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    let now = chrono::Utc::now().timestamp();
    match command {
        SurveysCommand::Init(args) => {
            let changes = store.apply_surveys(&SurveySpec::built_in(), now).await?;
            print_changes(&changes, args.json, out)
        }
        SurveysCommand::Apply(args) => {
            let name = args.file.display().to_string();
            let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
            let specs = parse_surveys(&name, &text)?;
            if specs.is_empty() {
                anyhow::bail!("{name} holds no [[survey]]: README.md, \"Surveys\", shows one");
            }
            let changes = store.apply_surveys(&specs, now).await?;
            print_changes(&changes, args.json, out)
        }
        SurveysCommand::List(args) => {
            let surveys = store.surveys().await?;
            if args.json {
                return out.json(&surveys);
            }
            if surveys.is_empty() {
                return out.line("no surveys yet: `rapport surveys init` writes nps, csat and ces");
            }
            for survey in &surveys {
                out.line(&format!(
                    "{:<24} v{:<3} {:<7} {} question(s): {}",
                    survey.spec.name,
                    survey.version,
                    survey.spec.kind.as_str(),
                    survey.spec.questions.len(),
                    survey.spec.title
                ))?;
            }
            Ok(())
        }
        SurveysCommand::Show(args) => {
            let survey = store
                .survey(&args.name)
                .await?
                .with_context(|| format!("no survey is named '{}' (`rapport surveys list` shows them)", args.name))?;
            if args.json {
                return out.json(&survey);
            }
            out.line(&show(&survey))
        }
        SurveysCommand::Send(args) => send(settings, &store, args, now, out).await,
        SurveysCommand::Link(args) => {
            let url = anonymous_url(settings, &store, &args.name, now).await?;
            if args.json {
                return out.json(&serde_json::json!({"survey": args.name, "url": url}));
            }
            out.line(&url)
        }
        SurveysCommand::Qr(args) => {
            let url = anonymous_url(settings, &store, &args.name, now).await?;
            let svg = qr_svg(&url).context("the survey's link is too long for a QR code: shorten mail.public_url")?;
            match &args.out {
                Some(path) => {
                    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
                    out.line(&format!("wrote a QR code of {url} to {}", path.display()))
                }
                None => out.line(svg.trim_end()),
            }
        }
        SurveysCommand::Sends(args) => {
            let sends = store.sends(args.survey.as_deref()).await?;
            if args.json {
                return out.json(&sends);
            }
            if sends.is_empty() {
                return out.line("no sends yet: `rapport surveys send SURVEY` or a plan's survey action makes one");
            }
            for s in &sends {
                out.line(&format!(
                    "#{:<5} {} {:<12} {:>6} invited {:>6} answered ({:>5.1} %) {:>5} reminders  {}",
                    s.id,
                    rapport::domain::state::format_day(s.created_at.div_euclid(86_400)),
                    s.survey,
                    s.invited,
                    s.responded,
                    s.response_rate() * 100.0,
                    s.reminders,
                    s.label
                ))?;
            }
            Ok(())
        }
    }
}

async fn send(
    settings: &Settings,
    store: &std::sync::Arc<dyn rapport::store::Store>,
    args: SendArgs,
    now: i64,
    out: Output,
) -> anyhow::Result<()> {
    let segment = args
        .segment
        .as_deref()
        .map(|s| {
            serde_json::from_value::<rapport_models::Segment>(serde_json::Value::String(s.trim().to_lowercase()))
                .map_err(|_| {
                    anyhow::anyhow!("--segment: '{s}' is not a segment (`rapport customers list --help` names them)")
                })
        })
        .transpose()?;
    let purchased_since = args
        .purchased_within
        .as_deref()
        .map(|raw| match Span::parse(raw) {
            // A zero span asks for purchases made after now: the send would match nobody.
            Ok(span) if span.seconds == 0 => Err(format!("'{}' matches nobody: use 1m or more", raw.trim())),
            parsed => parsed.map(|span| now - span.seconds),
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("--purchased-within: {e}"))?;
    let only = match &args.customers {
        Some(path) => Some(customers_in(store, path).await?),
        None => None,
    };
    let mut label = format!("rapport surveys send {}", args.survey);
    for (flag, value) in [
        ("--stage", args.stage.map(|s| s.to_string())),
        ("--segment", args.segment.clone()),
        ("--purchased-within", args.purchased_within.clone()),
        ("--customers", args.customers.as_ref().map(|p| p.display().to_string())),
    ] {
        if let Some(value) = value {
            label.push_str(&format!(" {flag} {value}"));
        }
    }
    let audience = Audience {
        stage: args.stage,
        segment,
        purchased_since,
        only: only.as_deref(),
        ..Audience::default()
    };
    let run = RunSettings::from_settings(settings);
    let report = send_survey(store, &run, &args.survey, audience, &label, args.dry_run, now).await?;
    if args.json {
        return out.json(&report);
    }
    let verb = if report.dry_run { "would e-mail" } else { "e-mailed" };
    let mut line = format!(
        "{}: {} matched, {verb} {} personal link(s)",
        report.survey, report.matched, report.invited
    );
    if let Some(send) = report.send_id {
        line.push_str(&format!(" (send #{send})"));
    }
    out.line(&line)?;
    for (reason, n) in &report.skipped {
        out.line(&format!("  skipped {n}: {reason}"))?;
    }
    if !report.dry_run && report.invited > 0 && settings.mail.smtp_url.is_empty() {
        out.line("  the messages wait in the outbox: no SMTP server is set (mail.smtp_url)")?;
    }
    Ok(())
}

/// A survey's anonymous link, for an existing survey.
async fn anonymous_url(
    settings: &Settings,
    store: &std::sync::Arc<dyn rapport::store::Store>,
    name: &str,
    now: i64,
) -> anyhow::Result<String> {
    store
        .survey(name)
        .await?
        .with_context(|| format!("no survey is named '{name}' (`rapport surveys list` shows them)"))?;
    let key = store.link_key(SURVEY_PUBLIC, now).await?;
    Ok(public_url(
        &rapport::care::email::MailContext::from_settings(settings),
        &key,
        name,
    ))
}

/// The customers a `--customers` file names, one id per line; an id that is not a customer is
/// an error naming its line.
async fn customers_in(
    store: &std::sync::Arc<dyn rapport::store::Store>,
    path: &std::path::Path,
) -> anyhow::Result<Vec<rapport::domain::CustomerId>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    // Spreadsheets and some editors start a UTF-8 file with a byte-order mark; as the importer
    // does, it is dropped, or the first id would carry it and match no customer.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = rapport::domain::ExternalId::parse(line).map_err(|e| anyhow::anyhow!("{name}:{}: {}", n + 1, e.0))?;
        ids.push((n + 1, id));
    }
    let mut tx = store.begin().await?;
    let names: Vec<&str> = ids.iter().map(|(_, id)| id.as_str()).collect();
    let found: std::collections::HashMap<String, rapport::domain::CustomerId> =
        tx.customer_ids(&names).await?.into_iter().collect();
    let mut customers = Vec::with_capacity(ids.len());
    for (line, id) in &ids {
        let Some(customer) = found.get(id.as_str()) else {
            anyhow::bail!("{name}:{line}: there is no customer '{id}': nothing was sent");
        };
        customers.push(*customer);
    }
    customers.sort_unstable();
    customers.dedup();
    Ok(customers)
}

fn print_changes(changes: &[SurveyChange], json: bool, out: Output) -> anyhow::Result<()> {
    if json {
        return out.json(&changes);
    }
    for change in changes {
        out.line(&change.describe())?;
    }
    Ok(())
}

fn show(survey: &SurveyRecord) -> String {
    let spec = &survey.spec;
    let mut lines = vec![format!(
        "survey '{}' (version {}, {}): {}",
        spec.name, survey.version, spec.kind, spec.title
    )];
    if let Some(intro) = &spec.intro {
        lines.push(format!("  {intro}"));
    }
    for (i, q) in spec.questions.iter().enumerate() {
        lines.push(format!("  {}. [{}] {} ({})", i + 1, q.key, q.text, q.describe_answer()));
    }
    lines.push(format!("  thank you: {}", spec.thank_you));
    lines.join("\n")
}
