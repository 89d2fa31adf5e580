//! Logging in and out: a session cookie (HttpOnly, SameSite=Lax, Secure behind TLS) whose token is
//! stored only as a hash, a CSRF token per session that every form echoes, and the login limits
//! (`limits`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::Instant;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::{Form, RequestPartsExt as _};
use serde::Deserialize;

use super::STYLESHEET_PATH;
use super::format::url_encode;
use super::pages::{Layout, PageError};
use crate::domain::Role;
use crate::server::AppState;
use crate::server::accounts::{hash_password, verify_password};
use crate::server::auth::{random_token, sha256_hex};
use crate::store::{NewSession, SessionRecord};

/// The session cookie: a random token whose SHA-256 is the session's key in the store.
pub const SESSION_COOKIE: &str = "rapport_session";
/// The login form's CSRF cookie (double submit: the form must carry the same value).
pub const LOGIN_COOKIE: &str = "rapport_login";
/// The signed-in user behind a request; pages that take it redirect to the login page without one.
pub struct SignedIn {
    /// The session, with its user and CSRF token.
    pub session: SessionRecord,
    token_hash: String,
}

impl SignedIn {
    /// `Ok` when a form's CSRF token is this session's; 403 otherwise.
    pub fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        if same(token, &self.session.csrf_token) {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or out of date. Go back, reload the page and send it again.",
            ))
        }
    }

    /// `Ok` when the user's role is at least `role`; 403 otherwise.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        let user = &self.session.user;
        if user.role >= role {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "Your role, {}, may look but not change anything; this needs {role}.",
                    user.role
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&format!("/login?next={}", url_encode(next))).into_response()
        };
        match Self::from_headers(state, &parts.headers).await {
            Ok(Some(signed_in)) => Ok(signed_in),
            Ok(None) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl SignedIn {
    /// The live session the request's cookie names, if any.
    async fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Option<Self>, PageError> {
        let Some(token) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let token_hash = sha256_hex(token.as_bytes());
        let session = state.store.session(&token_hash, now()).await?;
        Ok(session.map(|session| Self { session, token_hash }))
    }
}

/// The client's address, as the connection gives it (unspecified when there is no connection).
pub struct ClientAddress(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extract::<axum::Extension<ConnectInfo<SocketAddr>>>().await;
        Ok(Self(info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |i| i.0.0.ip())))
    }
}

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    stylesheet: &'static str,
    csrf: String,
    next: String,
    email: String,
    message: Option<String>,
}

/// `?next=` of the login page: where to go after logging in.
#[derive(Debug, Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// `GET /login`: the form, with a fresh CSRF cookie; straight on for a signed-in user.
#[tracing::instrument(skip_all)]
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<NextParam>,
) -> Response {
    let next = safe_next(params.next.as_deref()).to_owned();
    if let Ok(Some(_)) = SignedIn::from_headers(&state, &headers).await {
        return Redirect::to(&next).into_response();
    }
    login_form(&state, &headers, StatusCode::OK, next, String::new(), None)
}

/// The login form as posted.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: checks the CSRF cookie, the rate limits and the password; starts a session.
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(Some(&form.next)).to_owned();
    if cookie(&headers, LOGIN_COOKIE).is_none_or(|expected| !same(&form.csrf, expected)) {
        return PageError::new(
            StatusCode::FORBIDDEN,
            "The login form expired or came from elsewhere. Open the login page again and retry.",
        )
        .into_response();
    }
    let limits = &state.dashboard.limits;
    if let Err(seconds) = limits.begin(address, &form.email, Instant::now()) {
        tracing::warn!(%address, "login rate limit reached");
        let message = format!("Too many login attempts. Wait {seconds} seconds, then try again.");
        let mut response = login_form(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            form.email,
            Some(message),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let outcome = authenticate(&state, &form.email, form.password).await;
    if !matches!(outcome, Ok(None)) {
        limits.forgive(address, &form.email);
    }
    match outcome {
        Ok(Some(user_id)) => start_session(&state, &headers, user_id, &next).await,
        Ok(None) => {
            let message = "Wrong e-mail address or password.".to_owned();
            login_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                next,
                form.email,
                Some(message),
            )
        }
        Err(e) => e.into_response(),
    }
}

/// The user id when the password is the user's. An unknown address costs the same hashing as a
/// wrong password, so timing does not tell which addresses have accounts.
async fn authenticate(state: &AppState, email: &str, password: String) -> Result<Option<i64>, PageError> {
    static NOBODY: LazyLock<String> = LazyLock::new(|| hash_password("the hash of no one's password"));
    let user = state.store.user_by_email(email).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| NOBODY.clone(), |u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(PageError::internal)?;
    Ok(user.filter(|_| matches).map(|u| u.id))
}

async fn start_session(state: &AppState, headers: &HeaderMap, user_id: i64, next: &str) -> Response {
    let token = random_token(32);
    let now = now();
    let session_seconds = state.settings.server.session_seconds();
    let session = NewSession {
        token_hash: &sha256_hex(token.as_bytes()),
        user_id,
        csrf_token: &random_token(32),
        created_at: now,
        expires_at: now + session_seconds,
    };
    let created = state.store.create_session(&session).await;
    if let Err(e) = created {
        return PageError::from(e).into_response();
    }
    // The overview is usually next: have its figures ready.
    state.dashboard.stats.warm_figures(&state.store, state.reading());
    let secure = secure(state, headers);
    let cookies = AppendHeaders([
        (
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, &token, "/", session_seconds, secure),
        ),
        (header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", "/login", 0, secure)),
    ]);
    (cookies, Redirect::to(next)).into_response()
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    email: String,
    message: Option<String>,
) -> Response {
    let csrf = random_token(32);
    let cookie = set_cookie(LOGIN_COOKIE, &csrf, "/login", 3600, secure(state, headers));
    let page = LoginPage {
        stylesheet: STYLESHEET_PATH,
        csrf,
        next,
        email,
        message,
    };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

/// The logout confirmation page.
#[derive(Template, WebTemplate)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    layout: Layout,
}

/// `GET /logout`: a button that logs out (logging out changes state, so it is a POST).
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn logout_page(signed_in: SignedIn) -> LogoutPage {
    LogoutPage {
        layout: Layout::new(&signed_in, ""),
    }
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session and clears the cookie.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    state.store.delete_session(&signed_in.token_hash, now()).await?;
    let cookie = set_cookie(SESSION_COOKIE, "", "/", 0, secure(&state, &headers));
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always, Secure when asked; max age 0 deletes.
fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&text).expect("tokens and names are header-safe")
}

/// Whether cookies get `Secure`: by setting, or because a proxy says the request came over HTTPS.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.dashboard.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A path on this site to go to after logging in; anything else goes home.
///
/// Browsers drop tabs and newlines from URLs and read `\\` as `/`, so `/\t/host` or `/\\host`
/// would lead to another host: only a path of printable ASCII without spaces or backslashes whose
/// second character is not a slash is followed. Such a path is also a valid `Location` header.
fn safe_next(next: Option<&str>) -> &str {
    let Some(path) = next else { return "/" };
    let bytes = path.as_bytes();
    let printable = bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'\\');
    let local = bytes.first() == Some(&b'/') && !matches!(bytes.get(1), Some(b'/' | b'\\'));
    if printable && local { path } else { "/" }
}

/// Compares secrets in time that depends only on their length.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/customers?stage=client")), "/customers?stage=client");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_next_path_a_browser_could_read_as_another_host_goes_home() {
        for next in [
            "/\t/evil.example/",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            "/ /evil.example",
            "",
            "evil.example",
            "/customers\\..\\..",
            "/caf\u{e9}",
            "/\u{7f}",
        ] {
            assert_eq!(safe_next(Some(next)), "/", "{next:?}");
        }
        // Percent-encoded, a tab is just part of a path on this site.
        assert_eq!(safe_next(Some("/%09/x")), "/%09/x");
        assert_eq!(safe_next(Some("/customers/D00001#notes")), "/customers/D00001#notes");
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; rapport_session=tok"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
