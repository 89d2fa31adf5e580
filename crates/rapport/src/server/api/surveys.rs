//! Surveys in the API: listed and applied from a survey file (admins), their sends with response
//! rates, and answers recorded for a customer (a shop's own survey tool, a call): checked against
//! the survey like the public page's, stored as a feedback event.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timestamp;
use crate::domain::rules::{self, Lines};
use crate::domain::{EventKind, ExternalId, NewEvent};
use crate::server::AppState;
use crate::server::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::store::{SendRecord, SurveyChange, SurveyRecord};
use crate::voice::survey_file::parse_surveys;
use crate::webhooks::wire::EventView;

/// A survey with its version in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyView {
    /// The survey's unique name.
    pub name: String,
    /// The version in force.
    pub version: i64,
    /// `nps`, `csat`, `ces` or `custom`.
    pub kind: String,
    /// The page's heading.
    pub title: String,
    /// The survey as stored: its questions, each with its key, text, kind and whether required.
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// When it was created.
    pub created_at: String,
    /// When its latest version was made.
    pub updated_at: String,
}

fn survey_view(record: SurveyRecord) -> SurveyView {
    SurveyView {
        name: record.spec.name.clone(),
        version: record.version,
        kind: record.spec.kind.as_str().to_owned(),
        title: record.spec.title.clone(),
        spec: serde_json::to_value(&record.spec).expect("a survey serialises"),
        created_at: timestamp(record.created_at),
        updated_at: timestamp(record.updated_at),
    }
}

/// A survey file to apply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyFile {
    /// The surveys as TOML, as `rapport surveys apply` reads them (README.md, "Surveys").
    pub toml: String,
}

/// What applying a file did to one survey.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyChangeView {
    /// `created`, `updated` or `unchanged`.
    pub change: String,
    /// The survey's name.
    pub name: String,
}

/// A send with its response rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendView {
    /// The send's number.
    pub id: i64,
    /// What sent it: a plan, or `rapport surveys send` with its filters.
    pub label: String,
    /// When.
    pub created_at: String,
    /// Personal links sent.
    pub invited: i64,
    /// Of those, answered.
    pub responded: i64,
    /// Answered per sent, from 0 to 1.
    pub response_rate: f64,
    /// Reminders sent.
    pub reminders: i64,
}

impl From<SendRecord> for SendView {
    fn from(s: SendRecord) -> Self {
        Self {
            response_rate: s.response_rate(),
            id: s.id,
            label: s.label,
            created_at: timestamp(s.created_at),
            invited: s.invited,
            responded: s.responded,
            reminders: s.reminders,
        }
    }
}

/// A customer's answer to a survey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    /// The business's id of the customer (who must exist).
    pub customer_id: String,
    /// Each answer by question key: a number for a scale, a string for one choice or free text,
    /// a list of strings for several choices.
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    /// When it was answered (RFC 3339); now when absent.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// A key of your own: the same key again stores nothing new.
    #[serde(default)]
    pub event_key: Option<String>,
}

/// Every survey, by name.
#[utoipa::path(get, path = "/surveys", tag = "surveys", responses((status = 200, body = Vec<SurveyView>)))]
#[tracing::instrument(skip_all)]
pub async fn list_surveys(State(state): State<AppState>) -> Result<ApiJson<Vec<SurveyView>>, ApiError> {
    Ok(ApiJson(
        state.store.surveys().await?.into_iter().map(survey_view).collect(),
    ))
}

/// Create or update surveys by name from a survey file: all of them, or none when the file has a
/// problem (the 422 names its line and field).
#[utoipa::path(post, path = "/surveys", tag = "surveys", request_body = SurveyFile,
    responses((status = 200, body = Vec<SurveyChangeView>), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn apply_surveys(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SurveyFile>,
) -> Result<ApiJson<Vec<SurveyChangeView>>, ApiError> {
    let specs = parse_surveys("toml", &body.toml).map_err(|e| ApiError::invalid("toml", e.to_string()))?;
    if specs.is_empty() {
        return Err(ApiError::invalid("toml", "the file holds no [[survey]]"));
    }
    let changes = state
        .store
        .apply_surveys(&specs, chrono::Utc::now().timestamp())
        .await?;
    Ok(ApiJson(
        changes
            .into_iter()
            .map(|change| {
                let (change, name) = match change {
                    SurveyChange::Created { name } => ("created", name),
                    SurveyChange::Updated { name, .. } => ("updated", name),
                    SurveyChange::Unchanged { name } => ("unchanged", name),
                };
                SurveyChangeView {
                    change: change.to_owned(),
                    name,
                }
            })
            .collect(),
    ))
}

/// One survey.
#[utoipa::path(get, path = "/surveys/{name}", tag = "surveys", params(("name" = String, Path, description = "The survey's name")),
    responses((status = 200, body = SurveyView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get_survey(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<SurveyView>, ApiError> {
    let survey = state.store.survey(&name).await?.ok_or_else(|| no_survey(&name))?;
    Ok(ApiJson(survey_view(survey)))
}

/// A survey's sends, newest first, each with its response rate.
#[utoipa::path(get, path = "/surveys/{name}/sends", tag = "surveys", params(("name" = String, Path, description = "The survey's name")),
    responses((status = 200, body = Vec<SendView>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_sends(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<Vec<SendView>>, ApiError> {
    state.store.survey(&name).await?.ok_or_else(|| no_survey(&name))?;
    let sends = state.store.sends(Some(&name)).await?;
    Ok(ApiJson(sends.into_iter().map(SendView::from).collect()))
}

/// Record a customer's answer to the survey's version in force: checked like the survey page's
/// (every required answer, every score in range, every choice among the options), stored as a
/// feedback event on their timeline. 201 when stored; 200 when its `event_key` was stored already.
#[utoipa::path(post, path = "/surveys/{name}/responses", tag = "surveys", request_body = ResponseInput,
    params(("name" = String, Path, description = "The survey's name")),
    responses((status = 201, body = EventView), (status = 200, body = EventView, description = "The key was stored already"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn record_response(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<ResponseInput>,
) -> Result<Response, ApiError> {
    let survey = state.store.survey(&name).await?.ok_or_else(|| no_survey(&name))?;
    let customer = ExternalId::parse(&input.customer_id).map_err(|e| ApiError::invalid("customer_id", e.0))?;
    if state.store.customer(&customer).await?.is_none() {
        return Err(ApiError::not_found(format!("there is no customer '{customer}'")));
    }
    let now = chrono::Utc::now().timestamp();
    let occurred_at = match &input.occurred_at {
        Some(raw) => super::events::parse_time(raw, now)?,
        None => now,
    };
    if let Some(stray) = input
        .answers
        .keys()
        .find(|key| !survey.spec.questions.iter().any(|q| &q.key == *key))
    {
        let keys: Vec<&str> = survey.spec.questions.iter().map(|q| q.key.as_str()).collect();
        return Err(ApiError::invalid(
            format!("answers.{}", rules::excerpt(stray)),
            format!(
                "the survey '{name}' has no question '{}': its questions are {}",
                rules::excerpt(stray),
                keys.join(", ")
            ),
        ));
    }
    let form = form_of(&input.answers)?;
    let answers = survey.spec.check(&form).map_err(|problems| {
        let first = &problems[0];
        let all: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.key, p.message)).collect();
        ApiError::invalid(format!("answers.{}", first.key), all.join("; "))
    })?;
    let key = match rules::text("event_key", input.event_key.as_deref().unwrap_or(""), 200, Lines::One)
        .map_err(|e| ApiError::invalid("event_key", e.0))?
    {
        Some(key) => format!("key:{key}"),
        None => format!("api-feedback:{}", crate::server::auth::random_token(16)),
    };
    let event = NewEvent {
        key,
        occurred_at,
        kind: EventKind::feedback(&survey.spec, survey.version, None, answers),
    };
    let outcome = state
        .writer
        .write(vec![crate::server::writer::Incoming { customer, event }])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("the writer answered nothing"))?;
    super::events::stored_answer(outcome, "send a different event_key")
}

/// The answers as a form would send them: each key's values as text.
fn form_of(answers: &serde_json::Map<String, serde_json::Value>) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let mut form = BTreeMap::new();
    for (key, value) in answers {
        let wrong = || {
            ApiError::invalid(
                format!("answers.{}", rules::excerpt(key)),
                "an answer is a number, a string or a list of strings",
            )
        };
        let values = match value {
            serde_json::Value::Number(n) => vec![n.to_string()],
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
                .collect::<Result<_, _>>()?,
            serde_json::Value::Null => Vec::new(),
            _ => return Err(wrong()),
        };
        form.insert(key.clone(), values);
    }
    Ok(form)
}

fn no_survey(name: &str) -> ApiError {
    ApiError::not_found(format!("there is no survey named '{}'", rules::printable(name)))
}
