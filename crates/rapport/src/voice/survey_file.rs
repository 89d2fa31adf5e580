//! Survey files: the TOML a business writes its surveys in, read into `SurveySpec`s. Every
//! problem is reported with the file, the line and the field, and a file with any problem yields
//! no survey at all, so `rapport surveys apply` applies a whole file or nothing.
//!
//! ```toml
//! [[survey]]
//! name = "delivery"            # unique; `nps`, `csat` and `ces` are the built-in ones
//! kind = "custom"              # or nps, csat, ces: their standard questions
//! title = "How was your delivery?"
//! intro = "Two questions, one minute."
//! thank_you = "Thank you!"
//!
//! [[survey.question]]
//! key = "speed"
//! text = "How fast did it arrive?"
//! scale = [1, 5]
//! labels = ["Too slow", "Very fast"]
//! required = true
//!
//! [[survey.question]]
//! key = "liked"
//! text = "What did you like?"
//! choices = ["The box", "The note", "The price"]
//! multiple = true
//!
//! [[survey.question]]
//! key = "comment"
//! text = "Anything else?"
//! free_text = true
//! ```

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::file_problem::{FileProblem, FileProblems, line_of};
use crate::domain::survey::{DEFAULT_THANK_YOU, Question, QuestionKind, SurveyKind, SurveySpec, valid_key};

/// The most questions a survey asks: more, and few customers finish it.
pub const MAX_QUESTIONS: usize = 20;
/// The most options a choice offers.
pub const MAX_OPTIONS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    survey: Vec<Spanned<FileSurvey>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSurvey {
    name: Spanned<String>,
    kind: Spanned<String>,
    title: Option<Spanned<String>>,
    intro: Option<Spanned<String>>,
    thank_you: Option<Spanned<String>>,
    #[serde(default)]
    question: Vec<Spanned<FileQuestion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuestion {
    key: Spanned<String>,
    text: Spanned<String>,
    scale: Option<Spanned<Vec<i64>>>,
    labels: Option<Spanned<Vec<String>>>,
    choices: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    multiple: bool,
    #[serde(default)]
    free_text: bool,
    #[serde(default)]
    required: bool,
}

/// Reads a survey file's text (`file` names it in problems) into its surveys, in file order.
pub fn parse_surveys(file: &str, text: &str) -> Result<Vec<SurveySpec>, FileProblems> {
    let parsed: File = toml::from_str(text).map_err(|e| {
        FileProblems(vec![FileProblem {
            file: file.to_owned(),
            line: e.span().map_or(1, |span| line_of(text, span.start)),
            field: None,
            message: e.message().trim().to_owned(),
        }])
    })?;
    let mut problems = Vec::new();
    let mut surveys = Vec::new();
    let mut names = HashSet::new();
    for survey in parsed.survey {
        let at = survey.span().start;
        let mut report = |offset: usize, field: &str, message: String| {
            problems.push(FileProblem {
                file: file.to_owned(),
                line: line_of(text, offset),
                field: Some(field.to_owned()),
                message,
            })
        };
        let survey = survey.into_inner();
        if let Some(spec) = read_survey(at, survey, &mut names, &mut report) {
            surveys.push(spec);
        }
    }
    if problems.is_empty() {
        Ok(surveys)
    } else {
        problems.sort_by_key(|p| p.line);
        Err(FileProblems(problems))
    }
}

/// One line of text a page shows: not empty, at most `max` characters, no control characters.
fn line(
    value: &Spanned<String>,
    field: &str,
    max: usize,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<String> {
    let text = value.get_ref().trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        report(
            value.span().start,
            field,
            format!("write 1 to {max} characters on one line"),
        );
        return None;
    }
    Some(text.to_owned())
}

fn read_survey(
    at: usize,
    survey: FileSurvey,
    names: &mut HashSet<String>,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<SurveySpec> {
    let name = line(&survey.name, "name", 60, report)?;
    if !names.insert(name.clone()) {
        report(
            survey.name.span().start,
            "name",
            format!("'{name}' names two surveys in this file"),
        );
        return None;
    }
    let Some(kind) = SurveyKind::ALL
        .into_iter()
        .find(|k| k.as_str() == survey.kind.get_ref().trim())
    else {
        let known: Vec<&str> = SurveyKind::ALL.iter().map(|k| k.as_str()).collect();
        report(
            survey.kind.span().start,
            "kind",
            format!(
                "'{}' is not a kind: use one of {}",
                survey.kind.get_ref(),
                known.join(", ")
            ),
        );
        return None;
    };
    let title = match &survey.title {
        Some(title) => line(title, "title", 120, report)?,
        None => name.clone(),
    };
    let intro = match &survey.intro {
        Some(intro) => Some(line(intro, "intro", 500, report)?),
        None => None,
    };
    let thank_you = match &survey.thank_you {
        Some(thanks) => line(thanks, "thank_you", 500, report)?,
        None => DEFAULT_THANK_YOU.to_owned(),
    };
    let questions = if kind == SurveyKind::Custom {
        if survey.question.is_empty() {
            report(
                at,
                "question",
                "a custom survey asks at least one [[survey.question]]".into(),
            );
            return None;
        }
        if survey.question.len() > MAX_QUESTIONS {
            report(
                at,
                "question",
                format!(
                    "{} questions: a survey asks at most {MAX_QUESTIONS}",
                    survey.question.len()
                ),
            );
            return None;
        }
        let mut keys = HashSet::new();
        let read: Vec<Option<Question>> = survey
            .question
            .iter()
            .map(|q| read_question(q, &mut keys, report))
            .collect();
        read.into_iter().collect::<Option<Vec<Question>>>()?
    } else {
        if let Some(question) = survey.question.first() {
            report(
                question.span().start,
                "question",
                format!("a '{kind}' survey asks the standard questions: write kind = \"custom\" to ask your own"),
            );
            return None;
        }
        SurveySpec::standard_questions(kind)
    };
    Some(SurveySpec {
        name,
        kind,
        title,
        intro,
        questions,
        thank_you,
    })
}

fn read_question(
    question: &Spanned<FileQuestion>,
    keys: &mut HashSet<String>,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<Question> {
    let at = question.span().start;
    let q = question.get_ref();
    let key = q.key.get_ref().trim().to_owned();
    if !valid_key(&key) {
        report(
            q.key.span().start,
            "question.key",
            format!("'{key}' is not a key: 1 to 40 lower-case letters, digits or _, starting with a letter"),
        );
        return None;
    }
    if !keys.insert(key.clone()) {
        report(
            q.key.span().start,
            "question.key",
            format!("'{key}' names two questions of this survey"),
        );
        return None;
    }
    let text = line(&q.text, "question.text", 300, report)?;
    let ways = [q.scale.is_some(), q.choices.is_some(), q.free_text]
        .into_iter()
        .filter(|set| *set)
        .count();
    if ways != 1 {
        report(
            at,
            "question",
            "say how it is answered, one of: scale = [1, 5], choices = [\"A\", \"B\"] (with multiple = true for \
             any of them), free_text = true"
                .into(),
        );
        return None;
    }
    if q.multiple && q.choices.is_none() {
        report(at, "question.multiple", "'multiple' belongs to choices".into());
        return None;
    }
    if q.labels.is_some() && q.scale.is_none() {
        report(at, "question.labels", "'labels' belong to a scale".into());
        return None;
    }
    let kind = if let Some(scale) = &q.scale {
        let [min, max] = scale.get_ref()[..] else {
            report(
                scale.span().start,
                "question.scale",
                "write the lowest and the highest answer: scale = [1, 5]".into(),
            );
            return None;
        };
        if !(0..=1).contains(&min) || max <= min || max > 10 {
            report(
                scale.span().start,
                "question.scale",
                format!("[{min}, {max}] is not a scale: from 0 or 1 up to at most 10"),
            );
            return None;
        }
        let (low, high) = match &q.labels {
            Some(labels) => match &labels.get_ref()[..] {
                [low, high] => (Some(low.trim().to_owned()), Some(high.trim().to_owned())),
                _ => {
                    report(
                        labels.span().start,
                        "question.labels",
                        "write what the lowest and the highest mean: labels = [\"Poor\", \"Excellent\"]".into(),
                    );
                    return None;
                }
            },
            None => (None, None),
        };
        QuestionKind::Scale { min, max, low, high }
    } else if let Some(choices) = &q.choices {
        let options: Vec<String> = choices.get_ref().iter().map(|c| c.trim().to_owned()).collect();
        let distinct: HashSet<&str> = options.iter().map(String::as_str).collect();
        if options.len() < 2
            || options.len() > MAX_OPTIONS
            || distinct.len() != options.len()
            || options
                .iter()
                .any(|o| o.is_empty() || o.chars().count() > 100 || o.chars().any(char::is_control))
        {
            report(
                choices.span().start,
                "question.choices",
                format!("write 2 to {MAX_OPTIONS} different options of 1 to 100 characters each"),
            );
            return None;
        }
        if q.multiple {
            QuestionKind::MultipleChoice { options }
        } else {
            QuestionKind::SingleChoice { options }
        }
    } else {
        QuestionKind::Text
    };
    Some(Question {
        key,
        text,
        kind,
        required: q.required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[survey]]
name = "delivery"
kind = "custom"
title = "How was your delivery?"

[[survey.question]]
key = "speed"
text = "How fast did it arrive?"
scale = [1, 5]
labels = ["Too slow", "Very fast"]
required = true

[[survey.question]]
key = "liked"
text = "What did you like?"
choices = ["The box", "The note", "The price"]
multiple = true

[[survey.question]]
key = "comment"
text = "Anything else?"
free_text = true

[[survey]]
name = "after-sales nps"
kind = "nps"
"#;

    fn problems(text: &str) -> Vec<String> {
        parse_surveys("s.toml", text)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_custom_and_a_standard_survey_read() {
        let surveys = parse_surveys("s.toml", FILE).unwrap();
        assert_eq!(surveys.len(), 2);
        let delivery = &surveys[0];
        let kinds: Vec<&QuestionKind> = delivery.questions.iter().map(|q| &q.kind).collect();
        assert_eq!(
            kinds[0],
            &QuestionKind::Scale {
                min: 1,
                max: 5,
                low: Some("Too slow".into()),
                high: Some("Very fast".into())
            }
        );
        assert!(matches!(kinds[1], QuestionKind::MultipleChoice { options } if options.len() == 3));
        assert_eq!(kinds[2], &QuestionKind::Text);
        assert!(delivery.questions[0].required && !delivery.questions[2].required);
        assert_eq!(delivery.thank_you, DEFAULT_THANK_YOU);
        let nps = &surveys[1];
        assert_eq!((nps.kind, nps.title.as_str()), (SurveyKind::Nps, "after-sales nps"));
        assert_eq!(nps.questions, SurveySpec::standard_questions(SurveyKind::Nps));
    }

    #[test]
    fn every_problem_names_its_line_and_field_and_nothing_is_read() {
        assert_eq!(
            problems(&FILE.replace("scale = [1, 5]", "scale = [1, 50]")),
            ["s.toml:10: question.scale: [1, 50] is not a scale: from 0 or 1 up to at most 10"]
        );
        assert_eq!(
            problems(&FILE.replace("key = \"liked\"", "key = \"Liked it\"")),
            [
                "s.toml:15: question.key: 'Liked it' is not a key: 1 to 40 lower-case letters, digits or _, starting \
              with a letter"
            ]
        );
        let kind = problems(&FILE.replace("kind = \"nps\"", "kind = \"nsp\""));
        assert_eq!(
            kind,
            ["s.toml:27: kind: 'nsp' is not a kind: use one of nps, csat, ces, custom"]
        );
        let unknown = problems(&FILE.replace("free_text = true", "freetext = true"));
        assert!(
            unknown[0].starts_with("s.toml:23: unknown field `freetext`"),
            "{unknown:?}"
        );
        let two_ways = problems(&FILE.replace("free_text = true", "free_text = true\nscale = [0, 10]"));
        assert!(two_ways[0].contains("question: say how it is answered"), "{two_ways:?}");
        let standard = problems(&format!(
            "{FILE}\n[[survey.question]]\nkey = \"x\"\ntext = \"X?\"\nfree_text = true\n"
        ));
        assert!(
            standard[0].contains("question: a 'nps' survey asks the standard questions"),
            "{standard:?}"
        );
        let choices = problems(&FILE.replace("[\"The box\", \"The note\", \"The price\"]", "[\"Box\", \"Box\"]"));
        assert!(
            choices[0].starts_with("s.toml:17: question.choices: write 2 to 20 different options"),
            "{choices:?}"
        );
        let twice = problems(&FILE.replace("after-sales nps", "delivery"));
        assert!(twice[0].contains("'delivery' names two surveys"), "{twice:?}");
    }
}
