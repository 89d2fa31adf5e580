//! The interview form on a customer's page: what the customer needs, wants and fears, notes and
//! tags, logged by the staff member signed in, as an event on the timeline.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use serde::Deserialize;

use super::PageError;
use super::customer::append;
use crate::domain::Role;
use crate::server::AppState;
use crate::server::dashboard::session::SignedIn;
use crate::voice::interviews::InterviewInput;

/// The interview form.
#[derive(Debug, Deserialize)]
pub struct InterviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    needs: String,
    #[serde(default)]
    desires: String,
    #[serde(default)]
    fears: String,
    #[serde(default)]
    notes: String,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
}

/// `POST /customers/{id}/interviews` (staff): logs an interview held by the signed-in user.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn log_interview(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<InterviewForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let some = |text: String| (!text.trim().is_empty()).then_some(text);
    let input = InterviewInput {
        needs: some(form.needs),
        desires: some(form.desires),
        fears: some(form.fears),
        notes: some(form.notes),
        tags: form.tags.split(',').map(str::to_owned).collect(),
        by: signed_in.session.user.email.clone(),
    };
    let kind = input.check().map_err(|problem| {
        PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The interview was not saved: {problem}. Go back and change it."),
        )
    })?;
    append(&state, &id, &form.key, kind, "interview").await
}
