//! The surveys page: every survey with its questions, its version and its anonymous link and QR
//! code for the counter, each send with its response rate, and for admins the form that applies
//! a survey file as `rapport surveys apply` does (all or nothing; problems named by line and
//! field).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Layout, PageError};
use crate::care::email::MailContext;
use crate::domain::Role;
use crate::domain::survey::SurveySpec;
use crate::server::AppState;
use crate::server::dashboard::format::url_encode;
use crate::server::dashboard::session::SignedIn;
use crate::voice::invite::{SURVEY_PUBLIC, public_url, qr_svg};
use crate::voice::survey_file::parse_surveys;

/// Sends the page lists at most, newest first.
const SENDS: usize = 50;

/// One survey as the page shows it.
pub struct SurveyRow {
    name: String,
    kind: String,
    title: String,
    version: i64,
    questions: Vec<String>,
    link: String,
    qr: String,
}

/// One send with its response rate.
pub struct SendRow {
    survey: String,
    label: String,
    when: String,
    invited: i64,
    responded: i64,
    rate: String,
    reminders: i64,
}

/// `GET /surveys`.
#[derive(Template, WebTemplate)]
#[template(path = "surveys.html")]
pub struct SurveysPage {
    layout: Layout,
    surveys: Vec<SurveyRow>,
    sends: Vec<SendRow>,
    can_manage: bool,
    applied: Vec<String>,
    problems: Vec<String>,
    toml: String,
}

/// What was just applied, to say so.
#[derive(Debug, Deserialize)]
pub struct SurveysParams {
    applied: Option<String>,
}

/// The apply form.
#[derive(Debug, Deserialize)]
pub struct SurveyFileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    toml: String,
}

/// `GET /surveys`: the surveys, their links and their sends.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn surveys(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<SurveysParams>,
) -> Result<SurveysPage, PageError> {
    let applied = params
        .applied
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    surveys_page(&state, &signed_in, applied, Vec::new(), String::new()).await
}

async fn surveys_page(
    state: &AppState,
    signed_in: &SignedIn,
    applied: Vec<String>,
    problems: Vec<String>,
    toml: String,
) -> Result<SurveysPage, PageError> {
    let now = chrono::Utc::now().timestamp();
    let key = state.store.link_key(SURVEY_PUBLIC, now).await?;
    let context = MailContext::from_settings(&state.settings);
    let surveys = state
        .store
        .surveys()
        .await?
        .into_iter()
        .map(|record| {
            let link = public_url(&context, &key, &record.spec.name);
            SurveyRow {
                qr: qr_svg(&link).unwrap_or_default(),
                link,
                questions: record
                    .spec
                    .questions
                    .iter()
                    .map(|q| format!("{} {}", q.text, q.describe_answer()))
                    .collect(),
                kind: record.spec.kind.as_str().to_uppercase(),
                title: record.spec.title.clone(),
                name: record.spec.name,
                version: record.version,
            }
        })
        .collect();
    let locale = &state.dashboard.locale;
    let sends = state
        .store
        .sends(None)
        .await?
        .into_iter()
        .take(SENDS)
        .map(|send| SendRow {
            rate: format!("{:.0} %", send.response_rate() * 100.0),
            when: locale.minute(send.created_at),
            survey: send.survey,
            label: send.label,
            invited: send.invited,
            responded: send.responded,
            reminders: send.reminders,
        })
        .collect();
    Ok(SurveysPage {
        layout: Layout::new(signed_in, "voice"),
        surveys,
        sends,
        can_manage: signed_in.session.user.role >= Role::Admin,
        applied,
        problems,
        toml,
    })
}

/// `POST /surveys` (admin): applies a survey file, all or nothing; a file with problems is shown
/// again with each problem's line and field.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn apply_surveys(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<SurveyFileForm>,
) -> Result<Response, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Admin)?;
    let refuse = |problems: Vec<String>, toml: String| async {
        let page = surveys_page(&state, &signed_in, Vec::new(), problems, toml).await?;
        Ok::<Response, PageError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let specs: Vec<SurveySpec> = match parse_surveys("the form", &form.toml) {
        Ok(specs) if !specs.is_empty() => specs,
        Ok(_) => {
            return refuse(
                vec!["The file holds no [[survey]]: see the example below.".to_owned()],
                form.toml,
            )
            .await;
        }
        Err(errors) => {
            let problems = errors.0.iter().map(ToString::to_string).collect();
            return refuse(problems, form.toml).await;
        }
    };
    let changes = state
        .store
        .apply_surveys(&specs, chrono::Utc::now().timestamp())
        .await?;
    let said: Vec<String> = changes.iter().map(crate::store::SurveyChange::describe).collect();
    Ok(Redirect::to(&format!("/surveys?applied={}#applied", url_encode(&said.join("\n")))).into_response())
}
