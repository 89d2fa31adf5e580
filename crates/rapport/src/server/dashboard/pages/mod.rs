//! The pages: overview, customers, one customer (with its note and interaction forms), at risk,
//! the agenda, the care plans and each plan's report, the voice of the customer.
//! Each reads one page of a projection through an index, never the whole table; the overview
//! reads figures computed in the background (`stats`).

mod care;
mod comments;
mod contact;
mod customer;
mod export;
mod interview;
mod lists;
mod outbox;
mod overview;
mod report;
mod surveys;
mod voice;

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::Role;
use crate::server::dashboard::STYLESHEET_PATH;
use crate::server::dashboard::session::SignedIn;
use crate::server::error::ApiError;
use crate::store::StoreError;

pub use care::{agenda, apply_plans, complete_task, pause_plan, plan, plans, resume_plan};
pub use comments::{comments, tag, untag};
pub use contact::mark_contacted;
pub use customer::{add_note, customer, log_interaction, set_consent};
pub use export::{at_risk_csv, customers_csv};
pub use interview::log_interview;
pub use lists::{at_risk, customers};
pub use outbox::{message, outbox};
pub use overview::overview;
pub use report::{add_action, remove_action, report};
pub use surveys::{apply_surveys, surveys};
pub use voice::{VoiceFigures, voice};

/// Customers per list page.
const PAGE: u32 = 50;
/// Timeline events a customer page shows (newest first).
const TIMELINE: usize = 100;
/// Longest note or interaction text accepted.
const MAX_TEXT: usize = 2_000;

/// What every signed-in page shares: who is signed in, the logout form's token, the current page.
pub struct Layout {
    /// The stylesheet's path.
    pub stylesheet: &'static str,
    /// The user's e-mail address.
    pub email: String,
    /// The user's role.
    pub role: Role,
    /// The session's CSRF token, for every form on the page.
    pub csrf: String,
    /// `overview`, `customers`, `at-risk`, `agenda` or `plans`: the navigation marks it.
    pub active: &'static str,
}

impl Layout {
    /// The layout for a signed-in user on page `active`.
    pub fn new(signed_in: &SignedIn, active: &'static str) -> Self {
        let session = &signed_in.session;
        Self {
            stylesheet: STYLESHEET_PATH,
            email: session.user.email.clone(),
            role: session.user.role,
            csrf: session.csrf_token.clone(),
            active,
        }
    }
}

/// An error as a page: the status and a sentence for a person.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

/// The error page.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    stylesheet: &'static str,
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl PageError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 500: the cause goes to the log under a reference the page shows.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::internal(cause).into()
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self::new(error.status, error.message)
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            stylesheet: STYLESHEET_PATH,
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        (self.status, page).into_response()
    }
}
