//! `/you-said`: what the business did about what its customers said, for anyone to read (the
//! business links it from its site and e-mails). Only actions staff marked public, only their
//! theme, words and day: they were checked for addresses and phone numbers when recorded.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Client, allowed, busy};
use crate::care::email::MailContext;
use crate::server::AppState;
use crate::server::dashboard::STYLESHEET_PATH;
use crate::voice::report_view::ActionView;

/// The most actions the page lists: the latest.
const SHOWN: u32 = 100;

#[derive(Template, WebTemplate)]
#[template(path = "you_said.html")]
struct YouSaidView {
    business: String,
    stylesheet: &'static str,
    actions: Vec<ActionView>,
}

/// `GET /you-said`.
#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, client: Client) -> Response {
    if !allowed(&state.public.pages, &client) {
        return busy();
    }
    match state.store.voice_actions(i64::MIN, i64::MAX, true, SHOWN).await {
        Ok(actions) => YouSaidView {
            business: MailContext::from_settings(&state.settings).business,
            stylesheet: STYLESHEET_PATH,
            actions: actions.iter().map(ActionView::from).collect(),
        }
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "the you-said page could not reach the database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "This page is not available right now: please try again in a few minutes.\n",
            )
                .into_response()
        }
    }
}
