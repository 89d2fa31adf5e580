//! The web dashboard: server-rendered pages behind a login, usable without JavaScript. Templates
//! (`templates/`) are checked at compile time; charts are SVG drawn on the server; the one
//! stylesheet is compiled into the binary. Nothing on a page loads from another host.

mod charts;
mod format;
mod limits;
mod pages;
mod session;
pub(crate) mod stats;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub use self::format::Locale;
pub use self::session::{LOGIN_COOKIE, SESSION_COOKIE};
use super::AppState;

/// The stylesheet, served at `STYLESHEET_PATH`.
const STYLESHEET: &str = include_str!("../../../static/dashboard.css");
/// Where pages link the stylesheet; the version in the path lets browsers cache it for good.
pub const STYLESHEET_PATH: &str = concat!("/static/dashboard-", env!("CARGO_PKG_VERSION"), ".css");

/// What the dashboard keeps between requests: its settings, the login rate limits and the
/// overview's and the voice page's cached figures.
#[derive(Default)]
pub struct Dashboard {
    /// Mark cookies `Secure` even when the request does not say it came over HTTPS.
    pub secure_cookies: bool,
    /// The business's time zone and currency, as pages show times and totals.
    pub locale: Locale,
    limits: limits::LoginLimits,
    stats: stats::StatsCache,
    voice: stats::Background<pages::VoiceFigures>,
}

impl Dashboard {
    /// A dashboard whose cookies are always `Secure` when `secure_cookies` is set (otherwise only
    /// for requests that arrive with `X-Forwarded-Proto: https`).
    pub fn new(secure_cookies: bool) -> Self {
        Self {
            secure_cookies,
            ..Self::default()
        }
    }

    /// The same dashboard showing times in `locale`'s zone and totals in its currency.
    pub fn with_locale(self, locale: Locale) -> Self {
        Self { locale, ..self }
    }

    /// A dashboard as the settings describe it: cookies, the business's zone and currency,
    /// login limits.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            secure_cookies: settings.server.secure_cookies,
            locale: Locale {
                time_zone: settings.business.time_zone,
                currency: settings.business.currency.clone(),
            },
            limits: limits::LoginLimits::from_settings(&settings.server),
            ..Self::default()
        }
    }
}

/// The dashboard's routes: pages, login and logout, the stylesheet.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/customers", get(pages::customers))
        .route("/customers.csv", get(pages::customers_csv))
        .route("/customers/{id}", get(pages::customer))
        .route("/customers/{id}/notes", post(pages::add_note))
        .route("/customers/{id}/interactions", post(pages::log_interaction))
        .route("/customers/{id}/contacted", post(pages::mark_contacted))
        .route("/customers/{id}/consent", post(pages::set_consent))
        .route("/customers/{id}/interviews", post(pages::log_interview))
        .route("/at-risk", get(pages::at_risk))
        .route("/at-risk.csv", get(pages::at_risk_csv))
        .route("/agenda", get(pages::agenda))
        .route("/tasks/{id}/complete", post(pages::complete_task))
        .route("/plans", get(pages::plans).post(pages::apply_plans))
        .route("/plans/{name}", get(pages::plan))
        .route("/plans/{name}/pause", post(pages::pause_plan))
        .route("/plans/{name}/resume", post(pages::resume_plan))
        .route("/voice", get(pages::voice))
        .route("/voice/report", get(pages::report))
        .route("/voice/comments", get(pages::comments))
        .route("/voice/comments/{id}/tag", post(pages::tag))
        .route("/voice/comments/{id}/untag", post(pages::untag))
        .route("/surveys", get(pages::surveys).post(pages::apply_surveys))
        .route("/voice/actions", post(pages::add_action))
        .route("/voice/actions/{id}/remove", post(pages::remove_action))
        .route("/mail", get(pages::outbox))
        .route("/mail/{id}", get(pages::message))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", get(session::logout_page).post(session::logout))
        .route(STYLESHEET_PATH, get(stylesheet))
}

/// `GET /static/dashboard-VERSION.css`: public and cacheable for a year (a new version has a new path).
async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        STYLESHEET,
    )
}
