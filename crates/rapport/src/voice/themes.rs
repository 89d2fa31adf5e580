//! Themes of free-text comments: which words and two-word phrases detractors use more than
//! promoters, and the other way round, each with its counts, its NPS and a few quotes.
//!
//! Comments are split into words, stop words dropped and the rest stemmed (themes/words.rs).
//! One pass counts, for each stem and each phrase of two adjacent stems, the comments of each
//! category that mention it, once per comment (themes/tally.rs). Themes are ranked by the
//! log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin'
//! Words"; themes/rank.rs): a z-score that is large only when a difference is both big and well
//! supported, so a word said twice by detractors does not outrank one said by hundreds. Staff
//! rules (themes/rules.rs) merge words into named themes and tag comments by hand; being data,
//! they apply to comments that arrive later too.

mod rank;
mod report;
mod rules;
mod tally;
mod words;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::domain::survey::NpsCategory;
use crate::voice::stats::NpsSummary;

pub use rules::{ManualTag, NamedTheme, ThemeRules};
pub use words::Language;

/// The fewest comments an automatic theme needs by default: fewer is an anecdote, not a theme.
pub const DEFAULT_MIN_COUNT: u32 = 3;

/// How many quotes each theme carries.
pub const QUOTES: usize = 3;

/// One free-text answer to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment<'a> {
    /// The response's id, so a quote can be traced back to it.
    pub id: i64,
    /// What the customer wrote.
    pub text: &'a str,
    /// The NPS category of the same response, when it has one.
    pub category: Option<NpsCategory>,
}

/// How themes are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThemeOptions {
    /// The comments' language.
    pub language: Language,
    /// The fewest comments an automatic theme needs; named themes are always shown.
    pub min_count: u32,
}

impl Default for ThemeOptions {
    fn default() -> Self {
        ThemeOptions {
            language: Language::English,
            min_count: DEFAULT_MIN_COUNT,
        }
    }
}

/// Comments counted by NPS category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CategoryCounts {
    /// From detractors (0-6).
    pub detractors: u32,
    /// From passives (7-8).
    pub passives: u32,
    /// From promoters (9-10).
    pub promoters: u32,
    /// From responses without an NPS answer.
    pub uncategorised: u32,
}

impl CategoryCounts {
    /// Counts one more comment of a category.
    pub fn add(&mut self, category: Option<NpsCategory>) {
        match category {
            Some(NpsCategory::Detractor) => self.detractors += 1,
            Some(NpsCategory::Passive) => self.passives += 1,
            Some(NpsCategory::Promoter) => self.promoters += 1,
            None => self.uncategorised += 1,
        }
    }

    /// All comments counted.
    pub fn total(&self) -> u32 {
        self.detractors + self.passives + self.promoters + self.uncategorised
    }

    /// The NPS of the categorised comments; `None` when there are none.
    pub fn nps(&self) -> Option<f64> {
        let summary = NpsSummary::from_counts(self.promoters.into(), self.passives.into(), self.detractors.into());
        summary.score.map(|score| score.value)
    }
}

/// Where a theme comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeKind {
    /// One stem.
    Word,
    /// Two stems, adjacent in this order.
    Phrase,
    /// A staff rule's theme.
    Named,
}

/// A comment quoted as an example of a theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// The comment's id.
    pub comment: i64,
    /// What it says.
    pub text: String,
}

/// One theme and the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theme {
    /// What to show: the most written spelling of each stem ("late delivery"), or the rule's name.
    pub label: String,
    /// Where it comes from.
    pub kind: ThemeKind,
    /// The stems it covers; a phrase's two stems are written with a space ("late deliveri").
    pub terms: Vec<String>,
    /// Comments mentioning it (or tagged with it), each counted once.
    pub count: u32,
    /// Those comments by category.
    pub by_category: CategoryCounts,
    /// The NPS of those comments that have a category; `None` when none has.
    pub nps: Option<f64>,
    /// Fightin' Words z-score: above 0 detractors mention it more than promoters, below 0 less;
    /// beyond about ±1.96 the difference is unlikely to be chance (the prior makes it cautious).
    pub z: f64,
    /// Up to three comments mentioning it, shortest first, then in the order given.
    pub quotes: Vec<Quote>,
}

/// The themes of a set of comments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeReport {
    /// The comments analysed, by category.
    pub comments: CategoryCounts,
    /// The themes, most detractor-leaning first: by z descending, then count descending, then label.
    pub themes: Vec<Theme>,
}

impl ThemeReport {
    /// What detractors mention more than promoters, most telling first.
    pub fn detractor_themes(&self) -> impl Iterator<Item = &Theme> {
        self.themes.iter().filter(|theme| theme.z > 0.0)
    }

    /// What promoters mention more than detractors, most telling first (ties as in `themes`).
    pub fn promoter_themes(&self) -> impl Iterator<Item = &Theme> {
        let mut themes: Vec<&Theme> = self.themes.iter().filter(|theme| theme.z < 0.0).collect();
        themes.sort_by(|a, b| {
            a.z.total_cmp(&b.z)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.label.cmp(&b.label))
        });
        themes.into_iter()
    }

    /// The theme with this label, if it was found.
    pub fn theme(&self, label: &str) -> Option<&Theme> {
        self.themes.iter().find(|theme| theme.label == label)
    }
}

/// Why themes could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    /// The comments' language has no stop words or stemmer here.
    #[error(transparent)]
    UnsupportedLanguage(#[from] crate::domain::language::UnsupportedLanguage),
    /// A named theme without a name.
    #[error("a named theme has an empty name")]
    EmptyName,
    /// Two named themes share a name (ignoring case).
    #[error("two named themes are called \"{name}\"")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A rule's term has no word that counts.
    #[error(
        "term \"{term}\" of theme \"{theme}\" has no word left once stop words, numbers and single letters are dropped"
    )]
    EmptyTerm {
        /// The theme's name.
        theme: String,
        /// The term as written.
        term: String,
    },
    /// A rule's term is not one word or two adjacent ones.
    #[error("term \"{term}\" of theme \"{theme}\" is not one word or two adjacent words")]
    LongTerm {
        /// The theme's name.
        theme: String,
        /// The term as written.
        term: String,
    },
    /// A manual tag names no named theme.
    #[error("comment {comment} is tagged \"{theme}\", which is not a named theme")]
    UnknownTag {
        /// The tagged comment.
        comment: i64,
        /// The name in the tag.
        theme: String,
    },
    /// More comments than a count can hold.
    #[error("{0} comments are too many to analyse at once")]
    TooManyComments(usize),
}

/// Finds the themes of `comments`, with staff `rules` applied.
pub fn find_themes(
    comments: &[Comment<'_>],
    rules: &ThemeRules,
    options: &ThemeOptions,
) -> Result<ThemeReport, ThemeError> {
    if u32::try_from(comments.len()).is_err() {
        return Err(ThemeError::TooManyComments(comments.len()));
    }
    let mut words = words::Words::new(options.language);
    let rules = rules.compile(&mut words)?;
    let mut pass = tally::Pass::new(words, &rules);
    for (index, comment) in comments.iter().enumerate() {
        pass.add(index as u32, comment);
    }
    Ok(report::build(pass, comments, &rules, options.min_count))
}
