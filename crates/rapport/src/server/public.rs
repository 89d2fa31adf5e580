//! Face three: the pages customers open from a message, with no login and nothing about them
//! shown but what the link proves: the unsubscribe page at `/u/{token}` (a visit shows a button,
//! so mail scanners that open links do not unsubscribe anyone; a POST, the button's or a mail
//! client's one-click `List-Unsubscribe-Post`, unsubscribes).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::dashboard::STYLESHEET_PATH;
use crate::care::email::MailContext;
use crate::care::{Unsubscribed, unsubscribe, unsubscribe_target};

/// The public pages' routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/u/{token}", get(ask).post(confirm))
}

/// What the unsubscribe page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribePage {
    /// A valid link, visited: the button.
    Ask,
    /// Unsubscribed now.
    Done,
    /// Unsubscribed before.
    Already,
    /// Not a link Rapport made.
    Invalid,
}

#[derive(Template, WebTemplate)]
#[template(path = "unsubscribe.html")]
struct UnsubscribeView {
    title: &'static str,
    business: String,
    stylesheet: &'static str,
    page: UnsubscribePage,
}

fn page(state: &AppState, page: UnsubscribePage) -> Response {
    let title = match page {
        UnsubscribePage::Ask => "Unsubscribe",
        UnsubscribePage::Done | UnsubscribePage::Already => "Unsubscribed",
        UnsubscribePage::Invalid => "Link not valid",
    };
    let view = UnsubscribeView {
        title,
        business: MailContext::from_settings(&state.settings).business,
        stylesheet: STYLESHEET_PATH,
        page,
    };
    let status = if page == UnsubscribePage::Invalid {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    (status, view).into_response()
}

fn unavailable(error: crate::store::StoreError) -> Response {
    tracing::error!(%error, "the unsubscribe page could not reach the database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Unsubscribing is not possible right now: please try again in a few minutes.\n",
    )
        .into_response()
}

/// `GET /u/{token}`: the button, or why the link does not work.
#[tracing::instrument(skip_all)]
async fn ask(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = chrono::Utc::now().timestamp();
    match unsubscribe_target(&state.store, &token, now).await {
        Ok(Some(customer)) if customer.state.email_consent == Some(false) => page(&state, UnsubscribePage::Already),
        Ok(Some(_)) => page(&state, UnsubscribePage::Ask),
        Ok(None) => page(&state, UnsubscribePage::Invalid),
        Err(error) => unavailable(error),
    }
}

/// `POST /u/{token}`: unsubscribes (the body, `List-Unsubscribe=One-Click` or a form's, is not
/// needed: the token is the authority).
#[tracing::instrument(skip_all)]
async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = chrono::Utc::now().timestamp();
    match unsubscribe(&state.store, &token, now).await {
        Ok(Some(Unsubscribed::Now)) => page(&state, UnsubscribePage::Done),
        Ok(Some(Unsubscribed::Already)) => page(&state, UnsubscribePage::Already),
        Ok(None) => page(&state, UnsubscribePage::Invalid),
        Err(error) => unavailable(error),
    }
}
