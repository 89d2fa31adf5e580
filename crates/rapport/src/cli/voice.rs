//! `rapport voice`: what customers said, as scores by month, week, stage, segment or survey with
//! their 95 % intervals, and `rapport voice themes`: what detractors and promoters write about.

use clap::{Args, Subcommand};
use rapport::config::Settings;
use rapport::store::open_with;
use rapport::voice::analysis::{GroupBy, VoiceRow, summarise, themes};
use rapport::voice::themes::{ThemeOptions, ThemeRules};

use super::Output;

/// `rapport voice`.
#[derive(Debug, Args)]
pub struct VoiceArgs {
    /// Themes instead of scores.
    #[command(subcommand)]
    pub command: Option<VoiceCommand>,
    /// Group by month, week, stage, segment or survey.
    #[arg(long, default_value = "month")]
    pub by: GroupBy,
    /// Only this survey's answers.
    #[arg(long)]
    pub survey: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport voice ...`.
#[derive(Debug, Subcommand)]
pub enum VoiceCommand {
    /// The themes of the comments: what detractors mention more than promoters, and the reverse,
    /// each with its count, its NPS and three quotes.
    Themes(ThemesArgs),
}

/// `rapport voice themes`.
#[derive(Debug, Args)]
pub struct ThemesArgs {
    /// Only this survey's comments.
    #[arg(long)]
    pub survey: Option<String>,
    /// The fewest comments a theme needs.
    #[arg(long, default_value_t = rapport::voice::themes::DEFAULT_MIN_COUNT)]
    pub min_count: u32,
    /// Themes shown on each side.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `rapport voice`.
pub async fn run(settings: &Settings, args: VoiceArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    if let Some(VoiceCommand::Themes(t)) = args.command {
        let responses = store.responses(t.survey.as_deref()).await?;
        let options = ThemeOptions {
            min_count: t.min_count,
            ..ThemeOptions::default()
        };
        let report = themes(&responses, &ThemeRules::default(), &options)?;
        if t.json {
            return out.json(&report);
        }
        let c = &report.comments;
        out.line(&format!(
            "{} comments: {} from detractors, {} passives, {} promoters",
            c.total(),
            c.detractors,
            c.passives,
            c.promoters
        ))?;
        for (title, side) in [
            (
                "What detractors mention more",
                report.detractor_themes().take(t.top).collect::<Vec<_>>(),
            ),
            (
                "What promoters mention more",
                report.promoter_themes().take(t.top).collect(),
            ),
        ] {
            out.line(&format!("\n{title}:"))?;
            if side.is_empty() {
                out.line("  (nothing yet: too few comments)")?;
            }
            for theme in side {
                let nps = theme.nps.map_or("-".to_owned(), |n| format!("{n:+.0}"));
                out.line(&format!(
                    "  {:<24} {:>5} comments  NPS {:>4}  z {:+.2}",
                    theme.label, theme.count, nps, theme.z
                ))?;
                for quote in &theme.quotes {
                    out.line(&format!("      \u{201c}{}\u{201d}", quote.text))?;
                }
            }
        }
        return Ok(());
    }
    let responses = store.responses(args.survey.as_deref()).await?;
    let rows = summarise(&responses, args.by, settings.business.time_zone);
    if args.json {
        return out.json(&rows);
    }
    if rows.is_empty() {
        return out.line("no answers yet: `rapport surveys send` or a plan's survey action asks for them");
    }
    for row in &rows {
        out.line(&describe(row))?;
    }
    Ok(())
}

/// One row: "2026-03  nps    n=  120  NPS +32 (95 % CI +19 to +45)".
fn describe(row: &VoiceRow) -> String {
    let head = format!("{:<12} {:<5} n={:>6}", row.group, row.kind.as_str(), row.n());
    let interval = |label: &str, i: Option<rapport::voice::stats::Interval>, unit: &str| match i {
        Some(i) => format!("{label} {:.1}{unit} (95 % CI {:.1} to {:.1})", i.value, i.low, i.high),
        None => format!("{label} -"),
    };
    match (row.nps, row.scale) {
        (Some(nps), _) => format!(
            "{head}  {}  ({} promoters, {} passives, {} detractors)",
            interval("NPS", nps.score, ""),
            nps.promoters,
            nps.passives,
            nps.detractors
        ),
        (None, Some(scale)) => format!(
            "{head}  {}  {}",
            interval("satisfied/easy", scale.good_share, " %"),
            interval("mean", scale.mean, "")
        ),
        (None, None) => head,
    }
}
