//! The report-back page: the report for a quarter, month or year (as `rapport voice report`
//! writes it), and the form where staff record what the business did about a theme ("you said,
//! we did"), listed on the public `/you-said` page unless kept private.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use serde::Deserialize;

use super::{Layout, PageError};
use crate::domain::Role;
use crate::server::AppState;
use crate::server::dashboard::format::url_encode;
use crate::server::dashboard::session::SignedIn;
use crate::voice::actions::ActionInput;
use crate::voice::report::{Period, ReportError, load, theme_choices};
use crate::voice::report_view::ReportView;

/// `GET /voice/report`.
#[derive(Template, WebTemplate)]
#[template(path = "voice_report.html")]
pub struct ReportPage {
    layout: Layout,
    report: ReportView,
    earlier: String,
    later: String,
    themes: Vec<String>,
    today: String,
    can_write: bool,
    saved: bool,
}

/// The report's query: the period, and whether an action was just saved.
#[derive(Debug, Deserialize)]
pub struct ReportParams {
    period: Option<String>,
    saved: Option<String>,
}

impl From<ReportError> for PageError {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::Store(e) => e.into(),
            ReportError::Themes(e) => PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("The named themes do not read: {e}. Change them with `rapport voice name-theme`."),
            ),
        }
    }
}

/// `GET /voice/report`: the report back for `?period=` (the current quarter by default).
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn report(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<ReportParams>,
) -> Result<ReportPage, PageError> {
    let zone = state.settings.business.time_zone;
    let now = chrono::Utc::now().timestamp();
    let period = match params.period.as_deref().map(str::trim) {
        None | Some("") => Period::quarter_of(now, zone),
        Some(text) => {
            Period::parse(text, zone).map_err(|e| PageError::new(StatusCode::BAD_REQUEST, format!("{e}.")))?
        }
    };
    let earlier = period.previous(zone).label;
    let later = period.next(zone).label;
    let can_write = signed_in.session.user.role >= Role::Staff;
    let themes = if can_write {
        theme_choices(&state.store, state.settings.voice.language, now).await?
    } else {
        Vec::new()
    };
    let report = load(&state.store, &state.settings, period).await?;
    Ok(ReportPage {
        layout: Layout::new(&signed_in, "voice"),
        report: ReportView::new(&report),
        earlier,
        later,
        themes,
        today: chrono::Utc::now().with_timezone(&zone).date_naive().to_string(),
        can_write,
        saved: params.saved.is_some(),
    })
}

/// The action form.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    said: String,
    #[serde(default)]
    did: String,
    #[serde(default)]
    done_on: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    public: Option<String>,
}

/// `POST /voice/actions` (staff): records what the business did about a theme.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn add_action(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let now = chrono::Utc::now().timestamp();
    let zone = state.settings.business.time_zone;
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let input = ActionInput {
        theme: form.theme,
        said: form.said,
        did: form.did,
        done_on: form.done_on,
        public: form.public.is_some(),
        by: signed_in.session.user.email.clone(),
    };
    let themes = theme_choices(&state.store, state.settings.voice.language, now).await?;
    let action = input.check(&themes, today).map_err(|problem| {
        PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The action was not saved: {problem}. Go back and change it."),
        )
    })?;
    state.store.add_voice_action(&action, now).await?;
    // `done_at` is a calendar day written as its midnight UTC: its quarter is read in UTC.
    let period = Period::quarter_of(action.done_at, chrono_tz::Tz::UTC);
    Ok(Redirect::to(&format!(
        "/voice/report?period={}&saved=1#report-did",
        url_encode(&period.label)
    )))
}

/// The remove form.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    period: String,
}

/// `POST /voice/actions/{id}/remove` (staff): removes an action recorded by mistake.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn remove_action(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<RemoveForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    if !state.store.remove_voice_action(id).await? {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            format!("There is no action {id}: it may have been removed already."),
        ));
    }
    Ok(Redirect::to(&format!(
        "/voice/report?period={}#report-did",
        url_encode(&form.period)
    )))
}
