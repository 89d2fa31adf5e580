//! The survey page at `/s/{token}`: the survey's questions as a plain form (no script, every
//! control labelled, the scale a row of radio buttons), the customer's first name at most, a
//! thank-you, and an answer that can be changed through the same link until it expires.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Client, allowed};
use crate::care::email::MailContext;
use crate::domain::state::format_day;
use crate::domain::survey::{Answer, AnswerProblem, MAX_ANSWER_CHARS, QuestionKind, SurveySpec};
use crate::server::AppState;
use crate::server::dashboard::STYLESHEET_PATH;
use crate::store::ResponseRow;
use crate::voice::respond::{self, Answered, Opened};

/// What the survey page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyPage {
    /// The questions.
    Form,
    /// Answer saved.
    Thanks,
    /// The link is past its expiry.
    Expired,
    /// Not a link Rapport made.
    Invalid,
    /// Too many requests from the address.
    Busy,
}

/// How a question is answered on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionInput {
    /// A row of numbers.
    Scale,
    /// Radio buttons.
    Single,
    /// Checkboxes.
    Multiple,
    /// A text area.
    Text,
}

/// One option of a question, as the form shows it.
struct OptionView {
    value: String,
    label: String,
    checked: bool,
}

/// One question, as the form shows it.
struct QuestionView {
    key: String,
    text: String,
    kind: QuestionInput,
    required: bool,
    options: Vec<OptionView>,
    low: Option<String>,
    high: Option<String>,
    text_value: String,
    problem: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "survey.html")]
struct SurveyView {
    title: String,
    business: String,
    stylesheet: &'static str,
    page: SurveyPage,
    first_name: Option<String>,
    intro: Option<String>,
    answered_note: Option<String>,
    problems: Vec<AnswerProblem>,
    questions: Vec<QuestionView>,
    max_chars: usize,
    thank_you: String,
    privacy: &'static str,
}

/// `?score=N` from an e-mail's row of numbers: the page opens with it chosen (nothing is stored
/// until the form is sent).
#[derive(Debug, serde::Deserialize)]
pub struct Preselect {
    score: Option<String>,
}

/// `GET /s/{token}`.
#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    client: Client,
    Path(token): Path<String>,
    Query(preselect): Query<Preselect>,
) -> Response {
    if !allowed(&state.public.pages, &client) {
        return plain_page(&state, SurveyPage::Busy);
    }
    let now = chrono::Utc::now().timestamp();
    match respond::open(&state.store, &token, now).await {
        Ok(opened) => {
            let mut form = previous_form(&opened);
            if let Some(score) = preselect.score.filter(|s| s.len() <= 3) {
                form.insert("score".to_owned(), vec![score]);
            }
            form_page(&state, &opened, &form, Vec::new())
        }
        Err(error) => unavailable(error),
    }
}

/// `POST /s/{token}`: the form's answers.
#[tracing::instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    Path(token): Path<String>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    if !allowed(&state.public.answers, &client) {
        return plain_page(&state, SurveyPage::Busy);
    }
    let mut form: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in fields {
        form.entry(key).or_default().push(value);
    }
    let now = chrono::Utc::now().timestamp();
    match respond::answer(&state.store, &token, &form, now).await {
        Ok(Answered::Saved { opened, changed }) => thanks_page(&state, &opened, changed),
        Ok(Answered::Problems { opened, problems }) => {
            let mut page = form_page(&state, &opened, &form, problems);
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            page
        }
        Ok(Answered::Refused(opened)) => form_page(&state, &opened, &form, Vec::new()),
        Err(error) => unavailable(error),
    }
}

/// The form as an earlier answer through the link fills it.
fn previous_form(opened: &Opened) -> BTreeMap<String, Vec<String>> {
    let Opened::Personal(link) = opened else {
        return BTreeMap::new();
    };
    let Some(previous) = &link.previous else {
        return BTreeMap::new();
    };
    previous
        .answers
        .0
        .iter()
        .map(|(key, answer)| {
            let values = match answer {
                Answer::Scale(score) => vec![score.to_string()],
                Answer::Choice(text) | Answer::Text(text) => vec![text.clone()],
                Answer::Choices(chosen) => chosen.clone(),
            };
            (key.clone(), values)
        })
        .collect()
}

fn business(state: &AppState) -> String {
    MailContext::from_settings(&state.settings).business
}

fn view(state: &AppState, page: SurveyPage, title: &str) -> SurveyView {
    SurveyView {
        title: title.to_owned(),
        business: business(state),
        stylesheet: STYLESHEET_PATH,
        page,
        first_name: None,
        intro: None,
        answered_note: None,
        problems: Vec::new(),
        questions: Vec::new(),
        max_chars: MAX_ANSWER_CHARS,
        thank_you: String::new(),
        privacy: "",
    }
}

/// A page without a survey: expired, invalid, too many requests.
fn plain_page(state: &AppState, page: SurveyPage) -> Response {
    let (title, status) = match page {
        SurveyPage::Expired => ("Link expired", StatusCode::GONE),
        SurveyPage::Busy => ("Please wait", StatusCode::TOO_MANY_REQUESTS),
        _ => ("Link not valid", StatusCode::NOT_FOUND),
    };
    (status, view(state, page, title)).into_response()
}

/// "You answered on 3 March; you can change your answer until 2 April."
fn answered_note(previous: Option<&ResponseRow>, expires_at: i64, changed: bool) -> Option<String> {
    let until = format_day(expires_at.div_euclid(86_400));
    match (previous, changed) {
        (_, true) => Some(format!(
            "Your new answer replaces the earlier one. You can change it with the same link until {until}."
        )),
        (Some(previous), false) => Some(format!(
            "You answered on {}. You can change your answer until {until}: send the form again.",
            format_day(previous.answered_at.div_euclid(86_400))
        )),
        (None, false) => None,
    }
}

fn form_page(
    state: &AppState,
    opened: &Opened,
    form: &BTreeMap<String, Vec<String>>,
    problems: Vec<AnswerProblem>,
) -> Response {
    let Some(survey) = opened.survey() else {
        return plain_page(
            state,
            match opened {
                Opened::Expired => SurveyPage::Expired,
                _ => SurveyPage::Invalid,
            },
        );
    };
    let mut page = view(state, SurveyPage::Form, &survey.title);
    let business = page.business.clone();
    page.intro = survey.intro.clone();
    page.questions = questions(survey, form, &problems, &business);
    page.problems = problems;
    page.privacy = match opened {
        Opened::Personal(link) => {
            page.first_name = link.first_name.clone();
            page.answered_note = answered_note(link.previous.as_ref(), link.invitation.expires_at, false);
            "Your answer is seen by the business with your name. Nothing else about you is shown on this page."
        }
        _ => "Your answer is anonymous: nothing is asked or kept about who you are.",
    };
    page.into_response()
}

fn thanks_page(state: &AppState, opened: &Opened, changed: bool) -> Response {
    let Some(survey) = opened.survey() else {
        return plain_page(state, SurveyPage::Invalid);
    };
    let mut page = view(state, SurveyPage::Thanks, &survey.title);
    page.thank_you = survey.thank_you.clone();
    if let Opened::Personal(link) = opened {
        page.answered_note = answered_note(None, link.invitation.expires_at, changed).or_else(|| {
            Some(format!(
                "Changed your mind? Follow the same link again until {}.",
                format_day(link.invitation.expires_at.div_euclid(86_400))
            ))
        });
    }
    page.into_response()
}

/// The questions with the values the form holds and their problems.
fn questions(
    survey: &SurveySpec,
    form: &BTreeMap<String, Vec<String>>,
    problems: &[AnswerProblem],
    business: &str,
) -> Vec<QuestionView> {
    survey
        .questions
        .iter()
        .map(|q| {
            let given: &[String] = form.get(&q.key).map_or(&[], Vec::as_slice);
            let option = |value: String| OptionView {
                checked: given.contains(&value),
                label: value.clone(),
                value,
            };
            let (kind, options, low, high) = match &q.kind {
                QuestionKind::Scale { min, max, low, high } => (
                    QuestionInput::Scale,
                    (*min..=*max).map(|n| option(n.to_string())).collect(),
                    // Each end says which number it names: read aloud, "0: not at all likely".
                    low.as_ref().map(|text| format!("{min}: {text}")),
                    high.as_ref().map(|text| format!("{max}: {text}")),
                ),
                QuestionKind::SingleChoice { options } => (
                    QuestionInput::Single,
                    options.iter().cloned().map(option).collect(),
                    None,
                    None,
                ),
                QuestionKind::MultipleChoice { options } => (
                    QuestionInput::Multiple,
                    options.iter().cloned().map(option).collect(),
                    None,
                    None,
                ),
                QuestionKind::Text => (QuestionInput::Text, Vec::new(), None, None),
            };
            QuestionView {
                key: q.key.clone(),
                text: q.text.replace(crate::domain::survey::BUSINESS, business),
                kind,
                required: q.required,
                options,
                low,
                high,
                text_value: if kind == QuestionInput::Text {
                    given.join("\n")
                } else {
                    String::new()
                },
                problem: problems.iter().find(|p| p.key == q.key).map(|p| p.message.clone()),
            }
        })
        .collect()
}

fn unavailable(error: crate::store::StoreError) -> Response {
    tracing::error!(%error, "the survey page could not reach the database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The survey cannot be answered right now: please try again in a few minutes.\n",
    )
        .into_response()
}
