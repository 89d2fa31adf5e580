//! `rapport voice report|did|actions|remove-action`: the report back for a period, and the "you
//! said, we did" actions staff record for it.

use clap::{Args, ValueEnum};
use rapport::config::Settings;
use rapport::store::Store;
use rapport::voice::actions::ActionInput;
use rapport::voice::report::{Period, load, theme_choices};
use rapport::voice::report_view::{ReportView, markdown, standalone_html};

use super::Output;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown, for a newsletter or a wiki.
    Markdown,
    /// One HTML file with its style inside, to mail or print.
    Html,
}

/// `rapport voice report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A quarter (2026-Q3), a month (2026-07) or a year (2026); the current quarter by default.
    #[arg(long)]
    pub period: Option<String>,
    /// Markdown or HTML.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ReportFormat,
}

/// `rapport voice did`.
#[derive(Debug, Args)]
pub struct DidArgs {
    /// The theme it answers, as `rapport voice themes` shows it.
    #[arg(long)]
    pub theme: String,
    /// What customers said.
    #[arg(long)]
    pub said: String,
    /// What the business did.
    #[arg(long)]
    pub did: String,
    /// The day it was done (YYYY-MM-DD); today by default.
    #[arg(long)]
    pub on: Option<String>,
    /// Keep it off the public `/you-said` page.
    #[arg(long)]
    pub private: bool,
    /// Who records it; `$USER` by default.
    #[arg(long)]
    pub by: Option<String>,
}

/// `rapport voice actions`.
#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// Only this period's (2026-Q3, 2026-07, 2026); every one by default.
    #[arg(long)]
    pub period: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport voice remove-action`.
#[derive(Debug, Args)]
pub struct RemoveActionArgs {
    /// The action's number, as `rapport voice actions` shows it.
    pub id: i64,
}

fn period(settings: &Settings, text: Option<&str>, now: i64) -> anyhow::Result<Period> {
    let zone = settings.business.time_zone;
    match text {
        Some(text) => Period::parse(text, zone).map_err(|e| anyhow::anyhow!("--period: {e}")),
        None => Ok(Period::quarter_of(now, zone)),
    }
}

/// Prints the report back.
pub async fn report(
    store: &std::sync::Arc<dyn Store>,
    settings: &Settings,
    args: ReportArgs,
    out: Output,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp();
    let period = period(settings, args.period.as_deref(), now)?;
    let view = ReportView::new(&load(store, settings, period).await?);
    out.line(
        match args.format {
            ReportFormat::Markdown => markdown(&view),
            ReportFormat::Html => standalone_html(&view),
        }
        .trim_end(),
    )
}

/// Records an action.
pub async fn did(
    store: &std::sync::Arc<dyn Store>,
    settings: &Settings,
    args: DidArgs,
    out: Output,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp();
    let today = chrono::Utc::now()
        .with_timezone(&settings.business.time_zone)
        .date_naive();
    let input = ActionInput {
        theme: args.theme,
        said: args.said,
        did: args.did,
        done_on: args.on.unwrap_or_else(|| today.to_string()),
        public: !args.private,
        by: args
            .by
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "the command line".to_owned()),
    };
    let themes = theme_choices(store, settings.voice.language, now).await?;
    let action = input.check(&themes, today).map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = store.add_voice_action(&action, now).await?;
    out.line(&format!(
        "recorded action {id} on '{}'{}",
        action.theme,
        if action.public {
            " (listed on /you-said)"
        } else {
            " (private)"
        }
    ))
}

/// Lists the actions.
pub async fn actions(
    store: &std::sync::Arc<dyn Store>,
    settings: &Settings,
    args: ActionsArgs,
    out: Output,
) -> anyhow::Result<()> {
    let (from, until) = match args.period.as_deref() {
        Some(text) => period(settings, Some(text), 0)?.days(),
        None => (i64::MIN, i64::MAX),
    };
    let actions = store.voice_actions(from, until, false, u32::MAX).await?;
    if args.json {
        return out.json(&actions);
    }
    if actions.is_empty() {
        return out.line("no actions recorded: `rapport voice did --theme T --said S --did D` records one");
    }
    for a in &actions {
        out.line(&format!(
            "{:>5}  {}  {}{}\n       you said: {}\n       we did:   {}",
            a.id,
            rapport::domain::state::format_day(a.done_at.div_euclid(86_400)),
            rapport::domain::rules::printable(&a.theme),
            if a.public { "" } else { "  (private)" },
            rapport::domain::rules::printable(&a.said),
            rapport::domain::rules::printable(&a.did)
        ))?;
    }
    Ok(())
}

/// Removes an action.
pub async fn remove(store: &std::sync::Arc<dyn Store>, args: RemoveActionArgs, out: Output) -> anyhow::Result<()> {
    if !store.remove_voice_action(args.id).await? {
        anyhow::bail!("there is no action {} (`rapport voice actions` lists them)", args.id);
    }
    out.line(&format!("removed action {}", args.id))
}

/// `rapport voice tag` and `untag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The comment's id, as `rapport voice comments` shows it.
    #[arg(allow_negative_numbers = true)]
    pub comment: i64,
    /// The named theme.
    pub theme: String,
}

/// `rapport voice comments`.
#[derive(Debug, Args)]
pub struct CommentsArgs {
    /// Only comments holding this text (any case).
    #[arg(long)]
    pub search: Option<String>,
    /// The most comments shown, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Puts a comment in a named theme, or takes it out.
pub async fn tag(store: &std::sync::Arc<dyn Store>, args: TagArgs, untag: bool, out: Output) -> anyhow::Result<()> {
    if untag {
        if !store.untag_comment(args.comment, &args.theme).await? {
            anyhow::bail!(
                "comment {} is not tagged '{}' (`rapport voice comments` lists comments)",
                args.comment,
                rapport::domain::rules::printable(&args.theme)
            );
        }
        return out.line(&format!(
            "comment {} is no longer tagged '{}'",
            args.comment, args.theme
        ));
    }
    let by = std::env::var("USER").unwrap_or_else(|_| "the command line".to_owned());
    let now = chrono::Utc::now().timestamp();
    let theme = rapport::voice::analysis::tag_comment(store, args.comment, &args.theme, &by, now).await?;
    out.line(&format!(
        "comment {} is in the theme '{theme}' in every report from now on",
        args.comment
    ))
}

/// Lists comments with their ids: answers' and interviews', newest first.
pub async fn comments(store: &std::sync::Arc<dyn Store>, args: CommentsArgs, out: Output) -> anyhow::Result<()> {
    let rows = rapport::voice::analysis::find_comments(store, args.search.as_deref(), args.limit).await?;
    if args.json {
        return out.json(&rows);
    }
    if rows.is_empty() {
        return out.line("no comments found");
    }
    for row in &rows {
        out.line(&format!(
            "{:>8}  {}  {:<10} {:>5}  {}",
            row.id,
            super::output::time(row.at),
            rapport::domain::rules::printable(&row.from),
            row.score.map_or("-".to_owned(), |s| s.to_string()),
            rapport::domain::rules::printable(&row.text.replace('\n', " / "))
        ))?;
    }
    Ok(())
}
