//! Face three: the pages customers open from a message, with no login and nothing about them
//! shown but what the link proves: the unsubscribe page at `/u/{token}` (a visit shows a button,
//! so mail scanners that open links do not unsubscribe anyone; a POST, the button's or a mail
//! client's one-click `List-Unsubscribe-Post`, unsubscribes) and the survey page at `/s/{token}`
//! (survey.rs), and the business's public "you said, we did" at `/you-said` (you_said.rs). Every
//! request counts against a limit per client address (limit.rs).

mod limit;
mod survey;
mod you_said;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{RequestPartsExt as _, Router};

use super::AppState;
use super::dashboard::STYLESHEET_PATH;
use crate::care::email::MailContext;
use crate::care::{Unsubscribed, unsubscribe, unsubscribe_target};

pub use survey::{QuestionInput, SurveyPage};

/// The public pages' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/u/{token}", get(ask).post(confirm))
        .route("/s/{token}", get(survey::show).post(survey::submit))
        .route("/you-said", get(you_said::show))
}

/// The public pages' limits per client address: pages opened, and forms sent (fewer: each may
/// write).
pub struct PublicLimits {
    pages: limit::AddressLimit,
    answers: limit::AddressLimit,
}

impl Default for PublicLimits {
    /// 120 pages and 20 forms a minute from one address: far above a person, far below a script.
    fn default() -> Self {
        Self::from_settings(&crate::config::ServerSettings::default())
    }
}

impl PublicLimits {
    /// The limits `[server] public_pages_per_minute` and `public_forms_per_minute` set.
    pub fn from_settings(settings: &crate::config::ServerSettings) -> Self {
        let minute = Duration::from_secs(60);
        Self {
            pages: limit::AddressLimit::new(settings.public_pages_per_minute, minute),
            answers: limit::AddressLimit::new(settings.public_forms_per_minute, minute),
        }
    }
}

/// The client's address, as the connection gives it (unspecified without one: tests' `oneshot`).
pub struct Client(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extract::<axum::Extension<ConnectInfo<SocketAddr>>>().await;
        Ok(Self(info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |i| i.0.0.ip())))
    }
}

/// Counts a request from `client` against `limit`.
fn allowed(limit: &limit::AddressLimit, client: &Client) -> bool {
    limit.allow(client.0, Instant::now())
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

fn busy() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        "Too many tries from your network in a short time: please wait a minute and try again.\n",
    )
        .into_response()
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
async fn ask(State(state): State<AppState>, client: Client, Path(token): Path<String>) -> Response {
    if !allowed(&state.public.pages, &client) {
        return busy();
    }
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
async fn confirm(State(state): State<AppState>, client: Client, Path(token): Path<String>) -> Response {
    if !allowed(&state.public.answers, &client) {
        return busy();
    }
    let now = chrono::Utc::now().timestamp();
    match unsubscribe(&state.store, &token, now).await {
        Ok(Some(Unsubscribed::Now)) => page(&state, UnsubscribePage::Done),
        Ok(Some(Unsubscribed::Already)) => page(&state, UnsubscribePage::Already),
        Ok(None) => page(&state, UnsubscribePage::Invalid),
        Err(error) => unavailable(error),
    }
}
