//! The report back as HTML: the words and figures of a `ReportBack` formatted once
//! (`ReportView`), shown by the dashboard's report page and by a standalone page that
//! `rapport voice report --format html` writes (one file, its style inline, to mail or print), and
//! as Markdown.

use std::fmt::Write as _;

use askama::Template;

use super::report::{ReportBack, Side, ThemeLine, change_text, score_text};
use crate::domain::state::format_day;
use crate::store::VoiceAction;

/// One standard's line of the scores table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreView {
    /// NPS, CSAT or CES.
    pub survey: String,
    /// Answers in the period.
    pub answers: u64,
    /// The period's score with its interval.
    pub score: String,
    /// The period before's, with its answers.
    pub before: String,
    /// The change with its interval.
    pub change: String,
}

/// One month of the NPS trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthView {
    /// `2026-07`.
    pub month: String,
    /// Answers.
    pub answers: u64,
    /// The score with its interval.
    pub score: String,
}

/// One theme with its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeView {
    /// Its label.
    pub label: String,
    /// "120 comments (14 %), NPS -40".
    pub figures: String,
    /// "80 (11 %) in 2026-Q2", or "new since 2026-Q2".
    pub before: String,
    /// What customers wrote.
    pub quotes: Vec<String>,
}

/// One "you said, we did".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionView {
    /// Its number, for removing it.
    pub id: i64,
    /// The day it was done.
    pub day: String,
    /// The theme it answers.
    pub theme: String,
    /// What customers said.
    pub said: String,
    /// What the business did.
    pub did: String,
    /// Listed on the public page.
    pub public: bool,
}

/// A report back, formatted for a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    /// The business's name.
    pub business: String,
    /// `2026-Q3`.
    pub period: String,
    /// The period before's label.
    pub previous: String,
    /// "1 July 2026 to 30 September 2026".
    pub range: String,
    /// Answers in the period.
    pub answers: u64,
    /// Of them, with a comment.
    pub comments: u64,
    /// The scores table.
    pub scores: Vec<ScoreView>,
    /// NPS over the twelve months ending with the period.
    pub months: Vec<MonthView>,
    /// What unhappy customers mention more.
    pub detractor_themes: Vec<ThemeView>,
    /// What happy customers mention more.
    pub promoter_themes: Vec<ThemeView>,
    /// What the business did in the period.
    pub actions: Vec<ActionView>,
}

impl From<&VoiceAction> for ActionView {
    fn from(a: &VoiceAction) -> Self {
        ActionView {
            id: a.id,
            day: format_day(a.done_at.div_euclid(86_400)),
            theme: a.theme.clone(),
            said: sentence(&a.said),
            did: sentence(&a.did),
            public: a.public,
        }
    }
}

/// Staff's words as a sentence: a full stop added unless they end with one (or ! or ?).
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

impl ReportView {
    /// The report's words and figures.
    pub fn new(report: &ReportBack) -> Self {
        let day = |d: chrono::NaiveDate| d.format("%-d %B %Y").to_string();
        let last = report.period.end_day.pred_opt().unwrap_or(report.period.end_day);
        let previous = report.previous.label.clone();
        let theme = |t: &ThemeLine| ThemeView {
            label: t.label.clone(),
            figures: format!(
                "{} comments ({:.0} %){}",
                t.count,
                t.share,
                t.nps.map_or(String::new(), |n| format!(", NPS {n:+.0}"))
            ),
            before: match t.before {
                Some((count, share)) => format!("{count} ({share:.0} %) in {previous}"),
                None => format!("new since {previous}"),
            },
            quotes: t.quotes.iter().map(|q| q.text.clone()).collect(),
        };
        let side = |s: Side| report.themes.iter().filter(|t| t.side == s).map(theme).collect();
        ReportView {
            business: report.business.clone(),
            period: report.period.label.clone(),
            previous: previous.clone(),
            range: format!("{} to {}", day(report.period.first_day), day(last)),
            answers: report.answers,
            comments: report.comments,
            scores: report
                .scores
                .iter()
                .map(|line| ScoreView {
                    survey: line.kind.as_str().to_uppercase(),
                    answers: line.now.as_ref().map_or(0, |r| r.n()),
                    score: line.now.as_ref().map_or("-".to_owned(), score_text),
                    before: line.before.as_ref().map_or("no answers".to_owned(), |r| {
                        format!("{} ({} answers)", score_text(r), r.n())
                    }),
                    change: line.change.as_ref().map_or("-".to_owned(), change_text),
                })
                .collect(),
            months: report
                .months
                .iter()
                .map(|row| MonthView {
                    month: row.group.clone(),
                    answers: row.n(),
                    score: score_text(row),
                })
                .collect(),
            detractor_themes: side(Side::Detractors),
            promoter_themes: side(Side::Promoters),
            actions: report.actions.iter().map(ActionView::from).collect(),
        }
    }
}

/// The standalone page: the report alone, its style inline.
#[derive(Template)]
#[template(path = "report_back.html")]
struct StandalonePage<'a> {
    report: &'a ReportView,
}

/// The report as one HTML file.
pub fn standalone_html(report: &ReportView) -> String {
    StandalonePage { report }
        .render()
        .expect("the report page renders: its values are plain strings and numbers")
}

/// Text a customer or staff wrote, made safe inside Markdown: no line breaks, and the characters
/// Markdown reads as formatting or HTML escaped.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// The report as Markdown.
pub fn markdown(report: &ReportView) -> String {
    let mut out = format!(
        "# What our customers told us: {}\n\n{} at {}: {} answers, {} with a comment.\n\n## Scores\n\n",
        report.period,
        report.range,
        md(&report.business),
        report.answers,
        report.comments
    );
    if report.scores.is_empty() {
        out.push_str("No answers in this period or the one before.\n\n");
    } else {
        let _ = writeln!(
            out,
            "| Survey | Answers | Score | {} | Change |\n|---|---:|---|---|---|",
            report.previous
        );
        for s in &report.scores {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                s.survey, s.answers, s.score, s.before, s.change
            );
        }
        out.push('\n');
    }
    if !report.months.is_empty() {
        out.push_str("## NPS month by month\n\n| Month | Answers | NPS |\n|---|---:|---|\n");
        for m in &report.months {
            let _ = writeln!(out, "| {} | {} | {} |", m.month, m.answers, m.score);
        }
        out.push('\n');
    }
    out.push_str("## What they talked about\n\n");
    if report.detractor_themes.is_empty() && report.promoter_themes.is_empty() {
        out.push_str("Too few comments in this period for themes.\n\n");
    }
    for (title, themes) in [
        ("What unhappy customers mention more", &report.detractor_themes),
        ("What happy customers mention more", &report.promoter_themes),
    ] {
        if themes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for t in themes {
            let _ = writeln!(out, "- **{}**: {}; {}", md(&t.label), t.figures, t.before);
            for quote in &t.quotes {
                let _ = writeln!(out, "  > \u{201c}{}\u{201d}", md(quote));
            }
        }
        out.push('\n');
    }
    out.push_str("## What we did\n\n");
    if report.actions.is_empty() {
        out.push_str(
            "Nothing recorded for this period: `rapport voice did` (or the dashboard's report page) records what \
             was done about a theme.\n",
        );
    }
    for a in &report.actions {
        let _ = writeln!(
            out,
            "- {}, **{}**. You said: {} We did: {}{}",
            a.day,
            md(&a.theme),
            md(&a.said),
            md(&a.did),
            if a.public { "" } else { " (not public)" }
        );
    }
    out
}
