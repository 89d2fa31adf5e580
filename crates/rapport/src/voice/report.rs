//! The report back (`rapport voice report`, the dashboard's report page): for a quarter, month or
//! year, what customers said (each standard's score against the period before, with the
//! change's interval; NPS month by month over the year; the themes each side mentions most, with
//! quotes and how often they came up the period before, from comments and interview notes) and what the business did about it (the
//! "you said, we did" actions done in the period). Built from the answers and actions alone, so
//! the same data gives the same report; formatted for pages and Markdown in report_view.rs.

use chrono::{Datelike, NaiveDate, TimeZone};
use serde::Serialize;

use super::analysis::{GroupBy, VoiceRow, summarise, themes};
use super::stats::Interval;
use super::themes::{Quote, ThemeError, ThemeOptions, ThemeRules};
use crate::domain::language::Language;
use crate::domain::survey::SurveyKind;
use crate::store::{AnalysedResponse, InterviewNote, VoiceAction};

/// Themes shown on the detractors' side, and on the promoters'.
const DETRACTOR_THEMES: usize = 5;
const PROMOTER_THEMES: usize = 3;

/// A stretch of calendar time in the business's time zone: a quarter, a month or a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// As written: `2026-Q3`, `2026-07` or `2026`.
    pub label: String,
    /// Its first day.
    pub first_day: NaiveDate,
    /// The day after its last.
    pub end_day: NaiveDate,
    /// Its first second (Unix seconds).
    pub from: i64,
    /// The first second after it.
    pub until: i64,
}

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Month,
    Quarter,
    Year,
}

impl Period {
    /// Reads `2026-Q3`, `2026-07` or `2026`, in `zone`.
    pub fn parse(text: &str, zone: chrono_tz::Tz) -> Result<Self, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "'{}' is not a period: write a quarter (2026-Q3), a month (2026-07) or a year (2026)",
                crate::domain::rules::printable(&crate::domain::rules::excerpt(text))
            )
        };
        let (year, rest) = text.split_once('-').map_or((text, None), |(y, r)| (y, Some(r)));
        let year: i32 = year
            .parse()
            .ok()
            .filter(|y| (1970..=9999).contains(y))
            .ok_or_else(bad)?;
        let (month, length) = match rest {
            None => (1, Length::Year),
            Some(q) if q.len() == 2 && q.starts_with(['Q', 'q']) => {
                let quarter: u32 = q[1..].parse().ok().filter(|q| (1..=4).contains(q)).ok_or_else(bad)?;
                (3 * quarter - 2, Length::Quarter)
            }
            Some(m) if m.len() == 2 => (
                m.parse().ok().filter(|m| (1..=12).contains(m)).ok_or_else(bad)?,
                Length::Month,
            ),
            Some(_) => return Err(bad()),
        };
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        Ok(Self::starting(first, length, zone))
    }

    /// The quarter `at` falls in.
    pub fn quarter_of(at: i64, zone: chrono_tz::Tz) -> Self {
        let day = chrono::DateTime::from_timestamp(at, 0)
            .unwrap_or_default()
            .with_timezone(&zone)
            .date_naive();
        let first = NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).expect("a quarter's first day");
        Self::starting(first, Length::Quarter, zone)
    }

    /// The period of the same length just before this one.
    pub fn previous(&self, zone: chrono_tz::Tz) -> Self {
        let length = self.length();
        let months = match length {
            Length::Month => 1,
            Length::Quarter => 3,
            Length::Year => 12,
        };
        let first = self
            .first_day
            .checked_sub_months(chrono::Months::new(months))
            .unwrap_or(self.first_day);
        Self::starting(first, length, zone)
    }

    /// The period's days as the store keeps actions' days: from its first day's midnight UTC to
    /// before its end day's.
    pub fn days(&self) -> (i64, i64) {
        (
            super::actions::day_seconds(self.first_day),
            super::actions::day_seconds(self.end_day),
        )
    }

    /// The period of the same length just after this one.
    pub fn next(&self, zone: chrono_tz::Tz) -> Self {
        Self::starting(self.end_day, self.length(), zone)
    }

    /// The first second of the twelve months that end with the period (its months' trend).
    pub fn year_ending(&self, zone: chrono_tz::Tz) -> i64 {
        self.end_day
            .checked_sub_months(chrono::Months::new(12))
            .map_or(self.from, |d| start_of_day(d, zone))
    }

    /// Whether `at` falls in the period.
    pub fn contains(&self, at: i64) -> bool {
        (self.from..self.until).contains(&at)
    }

    fn length(&self) -> Length {
        if self.label.contains('Q') {
            Length::Quarter
        } else if self.label.contains('-') {
            Length::Month
        } else {
            Length::Year
        }
    }

    fn starting(first: NaiveDate, length: Length, zone: chrono_tz::Tz) -> Self {
        let (months, label) = match length {
            Length::Month => (1, first.format("%Y-%m").to_string()),
            Length::Quarter => (3, format!("{}-Q{}", first.year(), first.month0() / 3 + 1)),
            Length::Year => (12, first.year().to_string()),
        };
        let end_day = first
            .checked_add_months(chrono::Months::new(months))
            .expect("a period ends before the year 10000");
        Period {
            label,
            first_day: first,
            end_day,
            from: start_of_day(first, zone),
            until: start_of_day(end_day, zone),
        }
    }
}

/// The first second of `day` in `zone` (the earliest, when a clock change repeats it; the first
/// after, when one skips it).
pub fn start_of_day(day: NaiveDate, zone: chrono_tz::Tz) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    match zone.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
        chrono::LocalResult::None => zone
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| midnight.and_utc().timestamp(), |t| t.timestamp()),
    }
}

/// One standard's score in the period, against the period before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreLine {
    /// `nps`, `csat` or `ces`.
    pub kind: SurveyKind,
    /// The period's answers (`None`: none in the period).
    pub now: Option<VoiceRow>,
    /// The period before's.
    pub before: Option<VoiceRow>,
    /// How far the score moved (NPS points, or points of the share at the good end), with its
    /// 95 % interval, when both periods have answers.
    pub change: Option<Interval>,
}

/// Which side mentions a theme more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Detractors mention it more than promoters.
    Detractors,
    /// Promoters mention it more than detractors.
    Promoters,
}

/// A theme of the period's comments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeLine {
    /// The theme's label.
    pub label: String,
    /// Who mentions it more.
    pub side: Side,
    /// Comments in the period that mention it.
    pub count: u32,
    /// Their share of the period's comments, in percent.
    pub share: f64,
    /// The NPS of those comments, when they have categories.
    pub nps: Option<f64>,
    /// Comments in the period before that mention it, and their share (`None`: it was not a
    /// theme then).
    pub before: Option<(u32, f64)>,
    /// Up to three quotes.
    pub quotes: Vec<Quote>,
}

/// The report back for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportBack {
    /// The business's name.
    pub business: String,
    /// The period reported.
    pub period: Period,
    /// The period it is compared with.
    pub previous: Period,
    /// Answers given in the period.
    pub answers: u64,
    /// Of them, with a comment.
    pub comments: u64,
    /// Each standard answered in either period.
    pub scores: Vec<ScoreLine>,
    /// NPS month by month over the twelve months that end with the period.
    pub months: Vec<VoiceRow>,
    /// What each side mentioned most in the period, detractors' first.
    pub themes: Vec<ThemeLine>,
    /// What the business did in the period, latest first.
    pub actions: Vec<VoiceAction>,
}

/// What a report is built from: every answer (the report picks its periods'), the staff's theme
/// rules, the actions done in the period (`Period::days` bounds them).
pub struct ReportInput<'a> {
    /// Every answer that counts, oldest first.
    pub responses: &'a [AnalysedResponse],
    /// Every interview's notes, oldest first.
    pub interviews: &'a [InterviewNote],
    /// The named themes and tags.
    pub rules: &'a ThemeRules,
    /// The actions done in the period.
    pub actions: Vec<VoiceAction>,
    /// The business's name.
    pub business: String,
    /// The business's time zone.
    pub zone: chrono_tz::Tz,
    /// The comments' language.
    pub language: Language,
}

/// The report back for `period`.
pub fn report_back(input: ReportInput<'_>, period: Period) -> Result<ReportBack, ThemeError> {
    let zone = input.zone;
    let previous = period.previous(zone);
    let within = |p: &Period| -> Vec<AnalysedResponse> {
        input
            .responses
            .iter()
            .filter(|r| p.contains(r.answered_at))
            .cloned()
            .collect()
    };
    let (now, before) = (within(&period), within(&previous));
    let notes_within = |p: &Period| -> Vec<InterviewNote> {
        input
            .interviews
            .iter()
            .filter(|n| p.contains(n.occurred_at))
            .cloned()
            .collect()
    };
    let mut scores = Vec::new();
    for kind in [SurveyKind::Nps, SurveyKind::Csat, SurveyKind::Ces] {
        let (a, b) = (pooled(&now, kind, zone), pooled(&before, kind, zone));
        if a.is_none() && b.is_none() {
            continue;
        }
        let change = match (&a, &b) {
            (Some(a), Some(b)) => match (a.nps, b.nps, a.scale, b.scale) {
                (Some(x), Some(y), ..) => x.change_since(&y),
                (_, _, Some(x), Some(y)) => x.good_change_since(&y),
                _ => None,
            },
            _ => None,
        };
        scores.push(ScoreLine {
            kind,
            now: a,
            before: b,
            change,
        });
    }
    let year_ago = period.year_ending(zone);
    let last_year: Vec<AnalysedResponse> = input
        .responses
        .iter()
        .filter(|r| r.answered_at >= year_ago && r.answered_at < period.until && r.survey_kind == SurveyKind::Nps)
        .cloned()
        .collect();
    let months = summarise(&last_year, GroupBy::Month, zone);
    let options = ThemeOptions {
        language: input.language,
        ..ThemeOptions::default()
    };
    let themes_now = themes(&now, &notes_within(&period), input.rules, &options)?;
    let themes_before = themes(&before, &notes_within(&previous), input.rules, &options)?;
    let share = |count: u32, total: u32| {
        if total == 0 {
            0.0
        } else {
            100.0 * f64::from(count) / f64::from(total)
        }
    };
    let (total_now, total_before) = (themes_now.comments.total(), themes_before.comments.total());
    let mut lines = Vec::new();
    for (side, list) in [
        (
            Side::Detractors,
            themes_now.detractor_themes().take(DETRACTOR_THEMES).collect::<Vec<_>>(),
        ),
        (
            Side::Promoters,
            themes_now.promoter_themes().take(PROMOTER_THEMES).collect(),
        ),
    ] {
        for theme in list {
            lines.push(ThemeLine {
                label: theme.label.clone(),
                side,
                count: theme.count,
                share: share(theme.count, total_now),
                nps: theme.nps,
                before: themes_before
                    .theme(&theme.label)
                    .map(|t| (t.count, share(t.count, total_before))),
                quotes: theme.quotes.clone(),
            });
        }
    }
    Ok(ReportBack {
        business: input.business,
        answers: now.len() as u64,
        comments: now.iter().filter(|r| r.comment.is_some()).count() as u64,
        period,
        previous,
        scores,
        months,
        themes: lines,
        actions: input.actions,
    })
}

/// Every answer of one standard in `responses`, as one row.
fn pooled(responses: &[AnalysedResponse], kind: SurveyKind, zone: chrono_tz::Tz) -> Option<VoiceRow> {
    // One group for the standard: several surveys of it are pooled.
    let of_kind: Vec<AnalysedResponse> = responses
        .iter()
        .filter(|r| r.survey_kind == kind)
        .map(|r| AnalysedResponse {
            survey: kind.as_str().to_uppercase(),
            ..r.clone()
        })
        .collect();
    summarise(&of_kind, GroupBy::Survey, zone).into_iter().next()
}

/// The score a row reports, as words: "NPS +32 (95 % CI +27 to +37)" or "satisfied 81 % (…)".
pub fn score_text(row: &VoiceRow) -> String {
    match (row.nps, row.scale) {
        (Some(nps), _) => nps.score.map_or("NPS -".to_owned(), |s| {
            format!("NPS {:+.0} (95 % CI {:+.0} to {:+.0})", s.value, s.low, s.high)
        }),
        (None, Some(scale)) => {
            let word = if row.kind == SurveyKind::Ces {
                "easy"
            } else {
                "satisfied"
            };
            scale.good_share.map_or(format!("{word} -"), |s| {
                format!("{word} {:.0} % (95 % CI {:.0} to {:.0})", s.value, s.low, s.high)
            })
        }
        (None, None) => "-".to_owned(),
    }
}

/// A change as words: "+4 points (95 % CI -3 to +11)".
pub fn change_text(change: &Interval) -> String {
    format!(
        "{:+.0} points (95 % CI {:+.0} to {:+.0})",
        change.value, change.low, change.high
    )
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The staff's theme rules do not read (a named theme's terms).
    #[error(transparent)]
    Themes(#[from] ThemeError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The most actions a report lists.
const MAX_ACTIONS: u32 = 500;

/// The report back for `period` from what is stored: every answer, the theme rules, the
/// actions done in the period; the business named by `settings`.
pub async fn load(
    store: &std::sync::Arc<dyn crate::store::Store>,
    settings: &crate::config::Settings,
    period: Period,
) -> Result<ReportBack, ReportError> {
    // The period before and the year of months that ends with the period, nothing older.
    let zone = settings.business.time_zone;
    let year_ago = period.year_ending(zone);
    let since = year_ago.min(period.previous(zone).from);
    let responses = store.responses_between(since, period.until).await?;
    let interviews = store.interview_notes().await?;
    let rules = super::analysis::theme_rules(store).await?;
    let (from, until) = period.days();
    let actions = store.voice_actions(from, until, false, MAX_ACTIONS).await?;
    let input = ReportInput {
        responses: &responses,
        interviews: &interviews,
        rules: &rules,
        actions,
        business: crate::care::email::MailContext::from_settings(settings).business,
        zone,
        language: settings.voice.language,
    };
    Ok(report_back(input, period)?)
}

/// The themes an action can answer: the named ones, then those the comments and interview notes
/// of the last year show (detractors' first), each label once.
pub async fn theme_choices(
    store: &std::sync::Arc<dyn crate::store::Store>,
    language: Language,
    now: i64,
) -> Result<Vec<String>, ReportError> {
    let rules = super::analysis::theme_rules(store).await?;
    let year_ago = now - 365 * 86_400;
    let responses = store.responses_between(year_ago, i64::MAX).await?;
    let mut interviews = store.interview_notes().await?;
    interviews.retain(|n| n.occurred_at >= year_ago);
    let options = ThemeOptions {
        language,
        ..ThemeOptions::default()
    };
    let report = themes(&responses, &interviews, &rules, &options)?;
    let mut labels: Vec<String> = rules.named.iter().map(|t| t.name.clone()).collect();
    for theme in report.detractor_themes().chain(report.promoter_themes()) {
        if !labels.iter().any(|l| l.to_lowercase() == theme.label.to_lowercase()) {
            labels.push(theme.label.clone());
        }
    }
    Ok(labels)
}
