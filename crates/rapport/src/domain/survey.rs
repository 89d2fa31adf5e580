//! Surveys: what a business asks its customers (the standard NPS, CSAT and CES questions, or
//! questions of its own), and the checks an answer passes before it is stored. Plain types and
//! pure rules: sending, links and storage live above.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::rules::{self, Lines};

/// The longest free-text answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 2_000;

/// Written in a question's text, replaced by the business's name when the survey is shown.
pub const BUSINESS: &str = "{business}";

/// Which standard a survey follows, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// Net Promoter Score: likelihood to recommend, 0 to 10, and the main reason.
    Nps,
    /// Customer satisfaction, 1 to 5.
    Csat,
    /// Customer effort, 1 (very difficult) to 7 (very easy).
    Ces,
    /// Questions of the business's own.
    Custom,
}

impl SurveyKind {
    /// Every kind, for messages.
    pub const ALL: [SurveyKind; 4] = [SurveyKind::Nps, SurveyKind::Csat, SurveyKind::Ces, SurveyKind::Custom];

    /// The name written in survey files.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Nps => "nps",
            SurveyKind::Csat => "csat",
            SurveyKind::Ces => "ces",
            SurveyKind::Custom => "custom",
        }
    }
}

impl fmt::Display for SurveyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a question is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// A whole number from `min` to `max`, the ends labelled.
    Scale {
        /// The lowest answer.
        min: i64,
        /// The highest answer.
        max: i64,
        /// What the lowest means ("Not at all likely").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        low: Option<String>,
        /// What the highest means ("Extremely likely").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        high: Option<String>,
    },
    /// One of the options.
    SingleChoice {
        /// The options, in the order shown.
        options: Vec<String>,
    },
    /// Any of the options.
    MultipleChoice {
        /// The options, in the order shown.
        options: Vec<String>,
    },
    /// Free text.
    Text,
}

/// One question of a survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Its name in answers and exports: lower-case letters, digits and `_`.
    pub key: String,
    /// What is asked.
    pub text: String,
    /// How it is answered.
    pub kind: QuestionKind,
    /// A response without it is refused.
    pub required: bool,
}

/// A survey as stored: one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveySpec {
    /// The survey's unique name.
    pub name: String,
    /// Which standard it follows.
    pub kind: SurveyKind,
    /// The page's heading.
    pub title: String,
    /// A sentence above the questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    /// The questions, in the order asked.
    pub questions: Vec<Question>,
    /// What the page says once answered.
    pub thank_you: String,
}

/// The default thank-you.
pub const DEFAULT_THANK_YOU: &str = "Thank you: your answer helps us do better.";

impl SurveySpec {
    /// A standard survey's questions (`Custom` has none of its own).
    pub fn standard_questions(kind: SurveyKind) -> Vec<Question> {
        let scale = |text: &str, min, max, low: &str, high: &str| Question {
            key: "score".to_owned(),
            text: text.to_owned(),
            kind: QuestionKind::Scale {
                min,
                max,
                low: Some(low.to_owned()),
                high: Some(high.to_owned()),
            },
            required: true,
        };
        let comment = |text: &str| Question {
            key: "comment".to_owned(),
            text: text.to_owned(),
            kind: QuestionKind::Text,
            required: false,
        };
        match kind {
            SurveyKind::Nps => vec![
                scale(
                    "How likely is it that you would recommend {business} to a friend or colleague?",
                    0,
                    10,
                    "Not at all likely",
                    "Extremely likely",
                ),
                comment("What is the main reason for your score?"),
            ],
            SurveyKind::Csat => vec![
                scale(
                    "How satisfied are you with your recent experience with {business}?",
                    1,
                    5,
                    "Very dissatisfied",
                    "Very satisfied",
                ),
                comment("What could we do better?"),
            ],
            SurveyKind::Ces => vec![
                scale(
                    "How easy was it to get what you needed from {business}?",
                    1,
                    7,
                    "Very difficult",
                    "Very easy",
                ),
                comment("What made it easy or hard?"),
            ],
            SurveyKind::Custom => Vec::new(),
        }
    }

    /// The built-in surveys `nps`, `csat` and `ces` (`rapport surveys init`).
    pub fn built_in() -> Vec<SurveySpec> {
        let survey = |name: &str, kind, title: &str| SurveySpec {
            name: name.to_owned(),
            kind,
            title: title.to_owned(),
            intro: None,
            questions: Self::standard_questions(kind),
            thank_you: DEFAULT_THANK_YOU.to_owned(),
        };
        vec![
            survey("nps", SurveyKind::Nps, "One quick question"),
            survey("csat", SurveyKind::Csat, "How did we do?"),
            survey("ces", SurveyKind::Ces, "Was it easy?"),
        ]
    }

    /// The question whose answer is the survey's score (the standard kinds' first), if any.
    pub fn score_question(&self) -> Option<&Question> {
        match self.kind {
            SurveyKind::Custom => None,
            _ => self.questions.iter().find(|q| q.key == "score"),
        }
    }

    /// Checks a response as a form sends it (each question's key with the values given; other
    /// fields are not read): every answer in its range or among its options, every required one
    /// present. Fails with every problem, in question order.
    pub fn check(&self, form: &BTreeMap<String, Vec<String>>) -> Result<Answers, Vec<AnswerProblem>> {
        let mut answers = BTreeMap::new();
        let mut problems = Vec::new();
        for question in &self.questions {
            let given: Vec<&str> = form
                .get(&question.key)
                .map(|values| values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect())
                .unwrap_or_default();
            match question.read(&given) {
                Ok(Some(answer)) => {
                    answers.insert(question.key.clone(), answer);
                }
                Ok(None) if question.required => problems.push(AnswerProblem {
                    key: question.key.clone(),
                    message: "This question needs an answer.".to_owned(),
                }),
                Ok(None) => {}
                Err(message) => problems.push(AnswerProblem {
                    key: question.key.clone(),
                    message,
                }),
            }
        }
        if problems.is_empty() {
            Ok(Answers(answers))
        } else {
            Err(problems)
        }
    }
}

impl Question {
    /// How it is answered, in words: "0 (Not at all likely) to 10 (Extremely likely), required".
    pub fn describe_answer(&self) -> String {
        let how = match &self.kind {
            QuestionKind::Scale { min, max, low, high } => match (low, high) {
                (Some(low), Some(high)) => format!("{min} ({low}) to {max} ({high})"),
                _ => format!("{min} to {max}"),
            },
            QuestionKind::SingleChoice { options } => format!("one of: {}", options.join(" / ")),
            QuestionKind::MultipleChoice { options } => format!("any of: {}", options.join(" / ")),
            QuestionKind::Text => "free text".to_owned(),
        };
        let required = if self.required { ", required" } else { "" };
        format!("{how}{required}")
    }

    /// The answer the given values make, `None` when none was given.
    fn read(&self, given: &[&str]) -> Result<Option<Answer>, String> {
        match &self.kind {
            QuestionKind::Scale { min, max, .. } => {
                let [value] = given else {
                    return match given {
                        [] => Ok(None),
                        _ => Err("Choose one score.".to_owned()),
                    };
                };
                match value.parse::<i64>() {
                    Ok(score) if (*min..=*max).contains(&score) => Ok(Some(Answer::Scale(score))),
                    _ => Err(format!(
                        "'{}' is not a score from {min} to {max}.",
                        rules::excerpt(value)
                    )),
                }
            }
            QuestionKind::SingleChoice { options } => match given {
                [] => Ok(None),
                [value] if options.iter().any(|o| o == value) => Ok(Some(Answer::Choice((*value).to_owned()))),
                [value] => Err(format!("'{}' is not one of the options.", rules::excerpt(value))),
                _ => Err("Choose one option.".to_owned()),
            },
            QuestionKind::MultipleChoice { options } => {
                if let Some(stray) = given.iter().find(|v| !options.iter().any(|o| o == *v)) {
                    return Err(format!("'{}' is not one of the options.", rules::excerpt(stray)));
                }
                // In the options' order, each once, whatever order the form sent them in.
                let chosen: Vec<String> = options
                    .iter()
                    .filter(|o| given.contains(&o.as_str()))
                    .cloned()
                    .collect();
                Ok((!chosen.is_empty()).then_some(Answer::Choices(chosen)))
            }
            QuestionKind::Text => {
                let joined = given.join("\n");
                rules::text("answer", &joined, MAX_ANSWER_CHARS, Lines::Many)
                    .map(|text| text.map(Answer::Text))
                    .map_err(|e| format!("The {}.", e.0))
            }
        }
    }
}

/// One answer. Stored tagged by its type (`{"text": "..."}`): a choice and a text are both
/// strings, and the log must give back what was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A score on a scale.
    Scale(i64),
    /// The option chosen.
    Choice(String),
    /// The options chosen.
    Choices(Vec<String>),
    /// Free text.
    Text(String),
}

/// A response's answers by question key, checked against its survey.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers(pub BTreeMap<String, Answer>);

impl Answers {
    /// The score, for a standard survey's `score` question.
    pub fn score(&self) -> Option<i64> {
        match self.0.get("score") {
            Some(Answer::Scale(score)) => Some(*score),
            _ => None,
        }
    }

    /// The answers as plain JSON, by question key: a number, a string or a list of strings.
    pub fn to_plain_json(&self) -> serde_json::Value {
        let plain = self.0.iter().map(|(key, answer)| {
            let value = match answer {
                Answer::Scale(score) => serde_json::Value::from(*score),
                Answer::Choice(text) | Answer::Text(text) => serde_json::Value::from(text.as_str()),
                Answer::Choices(chosen) => serde_json::Value::from(chosen.clone()),
            };
            (key.clone(), value)
        });
        serde_json::Value::Object(plain.collect())
    }

    /// The free-text answers, joined: what themes read.
    pub fn comment(&self) -> Option<String> {
        let texts: Vec<&str> = self
            .0
            .values()
            .filter_map(|a| match a {
                Answer::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    }
}

/// Why one answer was refused, for the page to show beside its question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerProblem {
    /// The question's key.
    pub key: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// Where an NPS answer puts the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsCategory {
    /// 0 to 6.
    Detractor,
    /// 7 or 8.
    Passive,
    /// 9 or 10.
    Promoter,
}

impl NpsCategory {
    /// The category of a score from 0 to 10; `None` outside it.
    pub fn of(score: i64) -> Option<Self> {
        match score {
            0..=6 => Some(NpsCategory::Detractor),
            7 | 8 => Some(NpsCategory::Passive),
            9 | 10 => Some(NpsCategory::Promoter),
            _ => None,
        }
    }

    /// Where a standard survey's score puts the customer: NPS's own categories; for CSAT (1-5)
    /// 1-2 count as detractors, 3 passive, 4-5 promoters; for CES (1-7) 1-2, 3-5 and 6-7. A custom
    /// survey has none.
    pub fn of_survey(kind: SurveyKind, score: i64) -> Option<Self> {
        match (kind, score) {
            (SurveyKind::Nps, _) => Self::of(score),
            (SurveyKind::Csat, 1 | 2) | (SurveyKind::Ces, 1 | 2) => Some(NpsCategory::Detractor),
            (SurveyKind::Csat, 3) | (SurveyKind::Ces, 3..=5) => Some(NpsCategory::Passive),
            (SurveyKind::Csat, 4 | 5) | (SurveyKind::Ces, 6 | 7) => Some(NpsCategory::Promoter),
            _ => None,
        }
    }

    /// Every category, low to high.
    pub const ALL: [NpsCategory; 3] = [NpsCategory::Detractor, NpsCategory::Passive, NpsCategory::Promoter];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NpsCategory::Detractor => "detractor",
            NpsCategory::Passive => "passive",
            NpsCategory::Promoter => "promoter",
        }
    }
}

impl std::str::FromStr for NpsCategory {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        NpsCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| format!("'{text}' is not a category: use detractor, passive or promoter"))
    }
}

impl fmt::Display for NpsCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a question key is one a survey may use: 1 to 40 lower-case ASCII letters, digits or
/// `_`, starting with a letter (it names a form field and an export's column).
pub fn valid_key(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut form: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in pairs {
            form.entry((*key).to_owned()).or_default().push((*value).to_owned());
        }
        form
    }

    fn nps() -> SurveySpec {
        SurveySpec::built_in().remove(0)
    }

    #[test]
    fn an_nps_answer_is_checked_and_categorised() {
        let answers = nps()
            .check(&form(&[
                ("score", "3"),
                ("comment", " Late parcel, twice. "),
                ("csrf", "x"),
            ]))
            .unwrap();
        assert_eq!(answers.score(), Some(3));
        assert_eq!(answers.comment().as_deref(), Some("Late parcel, twice."));
        assert_eq!(answers.0.len(), 2, "fields that are not questions are not read");
        assert_eq!(NpsCategory::of(3), Some(NpsCategory::Detractor));
        assert_eq!(NpsCategory::of(8), Some(NpsCategory::Passive));
        assert_eq!(NpsCategory::of(10), Some(NpsCategory::Promoter));
        assert_eq!(NpsCategory::of(11), None);
        assert_eq!(
            NpsCategory::of_survey(SurveyKind::Csat, 2),
            Some(NpsCategory::Detractor)
        );
        assert_eq!(NpsCategory::of_survey(SurveyKind::Ces, 5), Some(NpsCategory::Passive));
        assert_eq!(NpsCategory::of_survey(SurveyKind::Ces, 6), Some(NpsCategory::Promoter));
        assert_eq!(NpsCategory::of_survey(SurveyKind::Custom, 9), None);
    }

    #[test]
    fn out_of_range_missing_and_doubled_answers_are_refused_with_every_problem() {
        let problems = nps().check(&form(&[("score", "11")])).unwrap_err();
        assert_eq!(
            problems,
            [AnswerProblem {
                key: "score".into(),
                message: "'11' is not a score from 0 to 10.".into()
            }]
        );
        let missing = nps().check(&form(&[("comment", "fine")])).unwrap_err();
        assert_eq!(missing[0].message, "This question needs an answer.");
        let twice = nps().check(&form(&[("score", "3"), ("score", "9")])).unwrap_err();
        assert_eq!(twice[0].message, "Choose one score.");
        let control = nps()
            .check(&form(&[("score", "9"), ("comment", "a\u{7}b")]))
            .unwrap_err();
        assert_eq!(control[0].key, "comment");
        let long = "x".repeat(MAX_ANSWER_CHARS + 1);
        assert!(nps().check(&form(&[("score", "9"), ("comment", &long)])).is_err());
    }

    #[test]
    fn choices_are_read_in_the_options_order_and_strays_refused() {
        let survey = SurveySpec {
            name: "delivery".into(),
            kind: SurveyKind::Custom,
            title: "Delivery".into(),
            intro: None,
            questions: vec![
                Question {
                    key: "speed".into(),
                    text: "How fast?".into(),
                    kind: QuestionKind::SingleChoice {
                        options: vec!["Slow".into(), "Fast".into()],
                    },
                    required: true,
                },
                Question {
                    key: "liked".into(),
                    text: "What did you like?".into(),
                    kind: QuestionKind::MultipleChoice {
                        options: vec!["Box".into(), "Note".into(), "Price".into()],
                    },
                    required: false,
                },
            ],
            thank_you: DEFAULT_THANK_YOU.into(),
        };
        let answers = survey
            .check(&form(&[("speed", "Fast"), ("liked", "Price"), ("liked", "Box")]))
            .unwrap();
        assert_eq!(answers.0["liked"], Answer::Choices(vec!["Box".into(), "Price".into()]));
        assert_eq!(answers.score(), None);
        assert!(survey.score_question().is_none());
        let stray = survey
            .check(&form(&[("speed", "Medium"), ("liked", "Gift")]))
            .unwrap_err();
        assert_eq!(stray.len(), 2, "{stray:?}");
        assert!(valid_key("speed_2") && !valid_key("2speed") && !valid_key("Speed") && !valid_key(""));
    }
}
