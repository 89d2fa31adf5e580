//! `rapport voice`: what customers said, as scores by month, week, stage, segment, survey or plan with
//! their 95 % intervals, and `rapport voice themes`: what detractors and promoters write about;
//! the report back and its actions are in voice_report.rs.

use clap::{Args, Subcommand};
use rapport::config::Settings;
use rapport::store::open_with;
use rapport::voice::analysis::{GroupBy, VoiceRow, name_theme, summarise, theme_rules, themes};
use rapport::voice::recovery::{RecoveryReport, recovery_report};
use rapport::voice::themes::ThemeOptions;

use super::Output;

/// `rapport voice`.
#[derive(Debug, Args)]
pub struct VoiceArgs {
    /// Themes instead of scores.
    #[command(subcommand)]
    pub command: Option<VoiceCommand>,
    /// Group by month, week, stage, segment, survey or plan.
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
    /// Voice against behaviour: promoters whose P(alive) is falling (happy but fading) and
    /// detractors who still buy (unhappy but active).
    Lists(ListsArgs),
    /// Closing the loop: detractors contacted within the SLA, those asked again who moved up a
    /// category, and contacted detractors' repeat purchases against the others'.
    Recovery(RecoveryArgs),
    /// Name a theme that merges terms ("Delivery": late, delivery, shipping); it replaces the
    /// automatic themes of its terms in every themes report from now on.
    NameTheme(NameThemeArgs),
    /// Remove a named theme.
    UnnameTheme(UnnameThemeArgs),
    /// The report back for a quarter, month or year: scores against the period before, NPS by
    /// month, the themes with quotes, and what the business did.
    Report(super::voice_report::ReportArgs),
    /// Record what the business did about a theme ("you said, we did"); public ones are listed
    /// on the `/you-said` page.
    Did(super::voice_report::DidArgs),
    /// The actions recorded, latest first.
    Actions(super::voice_report::ActionsArgs),
    /// Remove an action recorded by mistake.
    RemoveAction(super::voice_report::RemoveActionArgs),
    /// Comments (answers' and interviews') with the ids `tag` takes, newest first.
    Comments(super::voice_report::CommentsArgs),
    /// Put a comment in a named theme by hand, whatever its words.
    Tag(super::voice_report::TagArgs),
    /// Take a comment out of a theme it was put in by hand.
    Untag(super::voice_report::TagArgs),
}

/// `rapport voice name-theme`.
#[derive(Debug, Args)]
pub struct NameThemeArgs {
    /// The theme's name.
    pub name: String,
    /// The words or two-word phrases it covers.
    #[arg(required = true)]
    pub terms: Vec<String>,
}

/// `rapport voice unname-theme`.
#[derive(Debug, Args)]
pub struct UnnameThemeArgs {
    /// The theme's name.
    pub name: String,
}

/// `rapport voice recovery`.
#[derive(Debug, Args)]
pub struct RecoveryArgs {
    /// How soon a detractor must be contacted (an interaction or an interview): 2d, 48h.
    #[arg(long, default_value = "2d")]
    pub sla: String,
    /// The repeat-purchase window after the answer.
    #[arg(long, default_value = "90d")]
    pub window: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport voice lists`.
#[derive(Debug, Args)]
pub struct ListsArgs {
    /// The most customers on each list.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport voice themes`.
#[derive(Debug, Args)]
pub struct ThemesArgs {
    /// Only this survey's comments (without it, every answer's and every interview's notes).
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
    match args.command {
        Some(VoiceCommand::Report(r)) => return super::voice_report::report(&store, settings, r, out).await,
        Some(VoiceCommand::Did(d)) => return super::voice_report::did(&store, settings, d, out).await,
        Some(VoiceCommand::Actions(a)) => return super::voice_report::actions(&store, settings, a, out).await,
        Some(VoiceCommand::RemoveAction(r)) => return super::voice_report::remove(&store, r, out).await,
        Some(VoiceCommand::Comments(c)) => return super::voice_report::comments(&store, c, out).await,
        Some(VoiceCommand::Tag(t)) => return super::voice_report::tag(&store, t, false, out).await,
        Some(VoiceCommand::Untag(t)) => return super::voice_report::tag(&store, t, true, out).await,
        _ => {}
    }
    if let Some(VoiceCommand::NameTheme(n)) = &args.command {
        name_theme(&store, &n.name, &n.terms, chrono::Utc::now().timestamp()).await?;
        return out.line(&format!("named the theme '{}': {}", n.name.trim(), n.terms.join(", ")));
    }
    if let Some(VoiceCommand::UnnameTheme(n)) = &args.command {
        if !store.remove_theme_name(&n.name).await? {
            anyhow::bail!(
                "there is no theme named '{}' (`rapport voice themes` shows them)",
                n.name
            );
        }
        return out.line(&format!("removed the theme '{}'", n.name));
    }
    if let Some(VoiceCommand::Recovery(r)) = &args.command {
        let span = |flag: &str, raw: &str| {
            rapport::domain::plan::Span::parse(raw)
                .map(|s| s.seconds)
                .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
        };
        let (sla, window) = (span("--sla", &r.sla)?, span("--window", &r.window)?);
        let rows = store.recovery(sla, window).await?;
        let report = recovery_report(&rows, sla, window, chrono::Utc::now().timestamp());
        if r.json {
            return out.json(&report);
        }
        return out.line(&describe_recovery(&report));
    }
    if let Some(VoiceCommand::Lists(l)) = &args.command {
        let lists = store
            .voice_behaviour(settings.scoring.at_risk_threshold, l.limit)
            .await?;
        if l.json {
            return out.json(&lists);
        }
        for (title, rows) in [
            (
                "Happy but fading (promoters whose P(alive) is falling)",
                &lists.fading_promoters,
            ),
            (
                "Unhappy but active (detractors who still buy)",
                &lists.active_detractors,
            ),
        ] {
            out.line(&format!("{title}:"))?;
            if rows.is_empty() {
                out.line("  nobody")?;
            }
            for row in rows {
                out.line(&behaviour_line(row))?;
            }
        }
        return Ok(());
    }
    if let Some(VoiceCommand::Themes(t)) = args.command {
        let responses = store.responses(t.survey.as_deref()).await?;
        // A survey's themes are its answers'; otherwise interviews' notes count too.
        let interviews = if t.survey.is_none() {
            store.interview_notes().await?
        } else {
            Vec::new()
        };
        let options = ThemeOptions {
            min_count: t.min_count,
            language: settings.voice.language,
        };
        let report = themes(&responses, &interviews, &theme_rules(&store).await?, &options)?;
        if t.json {
            return out.json(&report);
        }
        let c = &report.comments;
        out.line(&format!(
            "{} comments{}: {} from detractors, {} passives, {} promoters",
            c.total(),
            if interviews.is_empty() {
                String::new()
            } else {
                format!(" (of them {} interview notes)", interviews.len())
            },
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

fn describe_recovery(r: &RecoveryReport) -> String {
    let share = |i: Option<rapport::voice::stats::Interval>| {
        i.map_or("-".to_owned(), |i| {
            format!("{:.1} % (95 % CI {:.1} to {:.1})", i.value, i.low, i.high)
        })
    };
    let mut lines = vec![
        format!("{} detractor answers", r.detractors),
        format!(
            "contacted within {} days: {} ({}); contacted later: {}",
            r.sla_days,
            r.contacted_within_sla,
            share(r.within_sla_share),
            r.contacted_late
        ),
        format!(
            "asked again after the contact: {}; moved up a category: {} ({})",
            r.resurveyed,
            r.moved_up,
            share(r.moved_up_share)
        ),
        format!("bought again within {} days of answering:", r.window_days),
    ];
    for (label, g) in [
        ("contacted in time", &r.contacted),
        ("not contacted in time", &r.not_contacted),
    ] {
        lines.push(format!("  {label:<22} {} of {}: {}", g.bought, g.n, share(g.rate)));
    }
    if let Some(points) = r.difference_points {
        lines.push(format!("  difference: {points:+.1} points"));
    }
    lines.join("\n")
}

/// "C-1042  Ana Lima  answered 2026-03-01  P(alive) 0.31 (was 0.62)  4 orders, last 2026-02-20".
fn behaviour_line(row: &rapport::store::BehaviourRow) -> String {
    let day = |at: i64| rapport::domain::state::format_day(at.div_euclid(86_400));
    let p_alive = match (row.p_alive, row.previous_p_alive) {
        (Some(now), Some(before)) => format!("P(alive) {now:.2} (was {before:.2})"),
        (Some(now), None) => format!("P(alive) {now:.2}"),
        _ => "not scored".to_owned(),
    };
    format!(
        "  {:<12} {:<24} answered {}  {p_alive}  {} orders{}",
        rapport::domain::rules::printable(&row.customer_id),
        rapport::domain::rules::printable(row.name.as_deref().unwrap_or("")),
        day(row.nps_at),
        row.purchase_count,
        row.last_purchase_at
            .map(|at| format!(", last {}", day(at)))
            .unwrap_or_default()
    )
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
