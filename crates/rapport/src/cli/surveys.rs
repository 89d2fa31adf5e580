//! `rapport surveys`: surveys applied from a TOML file, the built-in ones written, listed and
//! shown.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use rapport::config::Settings;
use rapport::domain::survey::{QuestionKind, SurveySpec};
use rapport::store::{SurveyChange, SurveyRecord, open_with};
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
    }
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
        let how = match &q.kind {
            QuestionKind::Scale { min, max, low, high } => match (low, high) {
                (Some(low), Some(high)) => format!("{min} ({low}) to {max} ({high})"),
                _ => format!("{min} to {max}"),
            },
            QuestionKind::SingleChoice { options } => format!("one of: {}", options.join(" / ")),
            QuestionKind::MultipleChoice { options } => format!("any of: {}", options.join(" / ")),
            QuestionKind::Text => "free text".to_owned(),
        };
        let required = if q.required { ", required" } else { "" };
        lines.push(format!("  {}. [{}] {} ({how}{required})", i + 1, q.key, q.text));
    }
    lines.push(format!("  thank you: {}", spec.thank_you));
    lines.join("\n")
}
