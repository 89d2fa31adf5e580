//! What the answers say, grouped: NPS, CSAT and CES by month, week, stage, segment or survey, each
//! with its count and 95 % interval, and the themes of the comments (`rapport voice`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::{CesTally, CsatTally, NpsSummary, NpsTally, ScaleSummary};
use super::themes::{Comment, ThemeError, ThemeOptions, ThemeReport, ThemeRules, find_themes};
use crate::domain::survey::SurveyKind;
use crate::store::{AnalysedResponse, InterviewNote};

/// How answers are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// Calendar months in the business's time zone (`2026-03`).
    #[default]
    Month,
    /// ISO weeks in the business's time zone (`2026-W10`).
    Week,
    /// The customer's stage now.
    Stage,
    /// The customer's segment at their latest scoring.
    Segment,
    /// The survey answered.
    Survey,
    /// The care plan that sent the link answered.
    Plan,
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "month" => Ok(GroupBy::Month),
            "week" => Ok(GroupBy::Week),
            "stage" => Ok(GroupBy::Stage),
            "segment" => Ok(GroupBy::Segment),
            "survey" => Ok(GroupBy::Survey),
            "plan" => Ok(GroupBy::Plan),
            other => Err(format!(
                "'{other}' is not a grouping: use month, week, stage, segment, survey or plan"
            )),
        }
    }
}

/// One group's scores of one standard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceRow {
    /// The group: a month, a week, a stage, a segment or a survey (`(none)` for answers without).
    pub group: String,
    /// `nps`, `csat` or `ces`.
    pub kind: SurveyKind,
    /// NPS, for an NPS row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<NpsSummary>,
    /// The scale's summary, for a CSAT or CES row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleSummary>,
}

impl VoiceRow {
    /// Answers counted.
    pub fn n(&self) -> u64 {
        self.nps.map(|s| s.n).or(self.scale.map(|s| s.n)).unwrap_or_default()
    }
}

#[derive(Default)]
struct Tallies {
    nps: NpsTally,
    csat: CsatTally,
    ces: CesTally,
}

/// The scores of `responses` grouped `by`, groups in order, each standard a row; times read in
/// `zone`. Answers without a score (custom surveys) are not counted.
pub fn summarise(responses: &[AnalysedResponse], by: GroupBy, zone: chrono_tz::Tz) -> Vec<VoiceRow> {
    let mut groups: BTreeMap<String, Tallies> = BTreeMap::new();
    for response in responses {
        let Some(score) = response.score else { continue };
        let tallies = groups.entry(group_of(response, by, zone)).or_default();
        // Scores were checked against their scale when answered; one outside it is not counted.
        let _ = match response.survey_kind {
            SurveyKind::Nps => tallies.nps.add(score),
            SurveyKind::Csat => tallies.csat.add(score),
            SurveyKind::Ces => tallies.ces.add(score),
            SurveyKind::Custom => Ok(()),
        };
    }
    let mut rows = Vec::new();
    for (group, tallies) in groups {
        if tallies.nps.n() > 0 {
            rows.push(VoiceRow {
                group: group.clone(),
                kind: SurveyKind::Nps,
                nps: Some(tallies.nps.summary()),
                scale: None,
            });
        }
        for (kind, summary) in [
            (SurveyKind::Csat, (tallies.csat.n() > 0).then(|| tallies.csat.summary())),
            (SurveyKind::Ces, (tallies.ces.n() > 0).then(|| tallies.ces.summary())),
        ] {
            if let Some(summary) = summary {
                rows.push(VoiceRow {
                    group: group.clone(),
                    kind,
                    nps: None,
                    scale: Some(summary),
                });
            }
        }
    }
    rows
}

fn group_of(response: &AnalysedResponse, by: GroupBy, zone: chrono_tz::Tz) -> String {
    let local = || {
        chrono::DateTime::from_timestamp(response.answered_at, 0)
            .unwrap_or_default()
            .with_timezone(&zone)
    };
    let none = || "(none)".to_owned();
    match by {
        GroupBy::Month => local().format("%Y-%m").to_string(),
        GroupBy::Week => local().format("%G-W%V").to_string(),
        GroupBy::Stage => response.stage.clone().unwrap_or_else(none),
        GroupBy::Segment => response.segment.clone().unwrap_or_else(none),
        GroupBy::Survey => response.survey.clone(),
        GroupBy::Plan => response.plan.clone().unwrap_or_else(|| "(no plan)".to_owned()),
    }
}

/// The rules staff made: the named themes, and the comments they put in one by hand.
pub async fn theme_rules(store: &std::sync::Arc<dyn crate::store::Store>) -> crate::store::StoreResult<ThemeRules> {
    let named: Vec<super::themes::NamedTheme> = store
        .theme_names()
        .await?
        .into_iter()
        .map(|(name, terms)| super::themes::NamedTheme { name, terms })
        .collect();
    // A tag whose theme was unnamed since waits, unused, until a theme of its name is back.
    let tags = store
        .theme_tags()
        .await?
        .into_iter()
        .filter(|(_, theme)| named.iter().any(|t| t.name.to_lowercase() == theme.to_lowercase()))
        .map(|(comment, theme)| super::themes::ManualTag { comment, theme })
        .collect();
    Ok(ThemeRules { named, tags })
}

/// Why a theme could not be named.
#[derive(Debug, thiserror::Error)]
pub enum NameThemeError {
    /// The name or a term is not one the themes can use.
    #[error(transparent)]
    Rules(#[from] ThemeError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Names a theme that merges `terms` (a name that differs from an existing one only in case
/// replaces it), checked against every other rule first: nothing is stored when it would not
/// read.
pub async fn name_theme(
    store: &std::sync::Arc<dyn crate::store::Store>,
    name: &str,
    terms: &[String],
    now: i64,
) -> Result<(), NameThemeError> {
    let mut rules = theme_rules(store).await?;
    let existing = rules
        .named
        .iter()
        .find(|t| t.name.to_lowercase() == name.trim().to_lowercase())
        .map(|t| t.name.clone());
    rules.named.retain(|t| Some(&t.name) != existing.as_ref());
    rules.named.push(super::themes::NamedTheme {
        name: name.trim().to_owned(),
        terms: terms.to_vec(),
    });
    find_themes(&[], &rules, &ThemeOptions::default())?;
    if let Some(old) = existing {
        store.remove_theme_name(&old).await?;
    }
    store.set_theme_name(name.trim(), terms, now).await?;
    Ok(())
}

/// Why a comment could not be tagged.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// Tags put comments in named themes only.
    #[error("there is no named theme '{0}' (`rapport voice name-theme` names one)")]
    NoTheme(String),
    /// No answer, interview or anonymous answer has the id.
    #[error("there is no comment {0} (`rapport voice comments` lists them with their ids)")]
    NoComment(i64),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Puts comment `comment` in the named theme `theme` (any case) by hand, at `now`; returns the
/// theme's name as named. Both are checked first: nothing is stored for an unknown one.
pub async fn tag_comment(
    store: &std::sync::Arc<dyn crate::store::Store>,
    comment: i64,
    theme: &str,
    by: &str,
    now: i64,
) -> Result<String, TagError> {
    let wanted = theme.trim().to_lowercase();
    let name = store
        .theme_names()
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .find(|name| name.to_lowercase() == wanted)
        .ok_or_else(|| TagError::NoTheme(crate::domain::rules::printable(theme.trim()).into_owned()))?;
    if !store.comment_exists(comment).await? {
        return Err(TagError::NoComment(comment));
    }
    store.tag_comment(comment, &name, by, now).await?;
    Ok(name)
}

/// A comment as staff look one up to tag it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentRow {
    /// Its id in themes and tags (`comment_id`).
    pub id: i64,
    /// When it was written or the interview held.
    pub at: i64,
    /// The survey answered, or `interview`.
    pub from: String,
    /// The answer's score, if any.
    pub score: Option<i64>,
    /// What was written.
    pub text: String,
}

/// Comments (answers' and interviews' notes) holding `search` (any case; every one without),
/// newest first, at most `limit`.
pub async fn find_comments(
    store: &std::sync::Arc<dyn crate::store::Store>,
    search: Option<&str>,
    limit: usize,
) -> crate::store::StoreResult<Vec<CommentRow>> {
    let wanted = search.map(str::to_lowercase).filter(|w| !w.trim().is_empty());
    let keep = |text: &str| wanted.as_deref().is_none_or(|w| text.to_lowercase().contains(w));
    let mut rows: Vec<CommentRow> = store
        .responses(None)
        .await?
        .into_iter()
        .filter_map(|r| {
            let text = r.comment.clone()?;
            keep(&text).then(|| CommentRow {
                id: comment_id(&r),
                at: r.answered_at,
                from: r.survey.clone(),
                score: r.score,
                text,
            })
        })
        .collect();
    rows.extend(
        store
            .interview_notes()
            .await?
            .into_iter()
            .filter(|n| keep(&n.text))
            .map(|n| CommentRow {
                id: n.event_id,
                at: n.occurred_at,
                from: "interview".to_owned(),
                score: None,
                text: n.text,
            }),
    );
    rows.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    rows.truncate(limit);
    Ok(rows)
}

/// A comment's id in themes and tags: its event's (an answer's feedback event, an interview),
/// which a rebuild keeps; an anonymous answer has no event, so its response's id negated.
pub fn comment_id(response: &AnalysedResponse) -> i64 {
    response.event_id.unwrap_or(-response.id)
}

/// The themes of the answers' comments and the interviews' notes (each interview counted with
/// its customer's latest NPS category).
pub fn themes(
    responses: &[AnalysedResponse],
    interviews: &[InterviewNote],
    rules: &ThemeRules,
    options: &ThemeOptions,
) -> Result<ThemeReport, ThemeError> {
    let answers = responses.iter().filter_map(|r| {
        r.comment.as_deref().map(|text| Comment {
            id: comment_id(r),
            text,
            category: r.category,
        })
    });
    let notes = interviews.iter().map(|note| Comment {
        id: note.event_id,
        text: &note.text,
        category: note.category,
    });
    let comments: Vec<Comment<'_>> = answers.chain(notes).collect();
    find_themes(&comments, rules, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::survey::NpsCategory;

    fn answer(id: i64, kind: SurveyKind, score: i64, at: i64, stage: &str) -> AnalysedResponse {
        AnalysedResponse {
            id,
            survey: kind.as_str().to_owned(),
            survey_kind: kind,
            score: Some(score),
            category: NpsCategory::of_survey(kind, score),
            comment: None,
            answered_at: at,
            stage: Some(stage.to_owned()),
            segment: None,
            plan: None,
            event_id: Some(id),
        }
    }

    #[test]
    fn answers_are_grouped_by_local_month_and_each_standard_is_its_own_row() {
        // 2026-01-31 23:30 UTC is already February in Berlin.
        let late_january = 1_769_902_200;
        let responses = [
            answer(1, SurveyKind::Nps, 10, late_january, "client"),
            answer(2, SurveyKind::Nps, 3, late_january - 86_400, "client"),
            answer(3, SurveyKind::Csat, 5, late_january, "customer"),
        ];
        let rows = summarise(&responses, GroupBy::Month, chrono_tz::Europe::Berlin);
        let groups: Vec<(&str, SurveyKind, u64)> = rows.iter().map(|r| (r.group.as_str(), r.kind, r.n())).collect();
        assert_eq!(
            groups,
            [
                ("2026-01", SurveyKind::Nps, 1),
                ("2026-02", SurveyKind::Nps, 1),
                ("2026-02", SurveyKind::Csat, 1)
            ]
        );
        assert_eq!(rows[0].nps.unwrap().score.unwrap().value, -100.0);
        let by_stage = summarise(&responses, GroupBy::Stage, chrono_tz::UTC);
        assert_eq!(by_stage[0].group, "client");
        assert_eq!(
            by_stage[0].nps.unwrap().score.unwrap().value,
            0.0,
            "one promoter, one detractor"
        );
        assert!("fortnight".parse::<GroupBy>().unwrap_err().contains("use month, week"));
    }
}
