//! A dashboard over a small demo business (fitted and scored, with one user per role), and a
//! cookie-keeping client that drives the router without a socket.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use rapport::domain::Role;
use rapport::server::{AppState, app};
use tower::ServiceExt as _;

use crate::helpers::{Backend, TestDb};

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery";

/// A demo business of `customers` customers, fitted and scored, with the users
/// `admin@example.com`, `staff@example.com` and `viewer@example.com`.
pub async fn demo_db(customers: u32) -> TestDb {
    let db = TestDb::new(Backend::Sqlite).await.expect("sqlite is always available");
    crate::helpers::load_demo(&db, customers, 7, chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()).await;
    let settings = rapport::radar::FitSettings {
        calibration_end: None,
        unit: rapport_models::TimeUnit::Week,
        model: rapport::radar::analysis::ModelChoice::Only(rapport_models::ModelKind::BgNbd),
    };
    rapport::radar::fit_store(&db.store, settings).await.unwrap();
    // As of the data's end, so the pages show the same whatever day the tests run.
    let scoring = rapport::radar::ScoreSettings {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 30),
        ..Default::default()
    };
    rapport::radar::score_store(&db.store, scoring).await.unwrap();
    for role in [Role::Admin, Role::Staff, Role::Viewer] {
        let email = format!("{role}@example.com");
        rapport::server::accounts::create_user(&db.store, &email, role, PASSWORD)
            .await
            .unwrap();
    }
    db
}

/// An answer, its body read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `Location` header.
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).map_or("", |v| v.to_str().unwrap())
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }
}

/// A client with a cookie jar, over the router.
pub struct Client {
    app: Router,
    cookies: HashMap<String, String>,
    /// Extra headers sent with every request.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The client's address as the server sees the connection (none: no connection info).
    pub address: Option<std::net::SocketAddr>,
}

impl Client {
    /// A client of the whole application over `db`.
    pub fn new(db: &TestDb) -> Self {
        Self {
            app: app(AppState::new(db.store.clone())),
            cookies: HashMap::new(),
            headers: Vec::new(),
            address: None,
        }
    }

    /// A client of the whole application over `db`, the dashboard in `locale`.
    pub fn with_locale(db: &TestDb, locale: rapport::server::dashboard::Locale) -> Self {
        let mut state = AppState::new(db.store.clone());
        state.dashboard = std::sync::Arc::new(rapport::server::dashboard::Dashboard::default().with_locale(locale));
        Self {
            app: app(state),
            ..Self::new(db)
        }
    }

    /// A client of the whole application over `db`, run with these settings.
    pub fn with_settings(db: &TestDb, settings: &rapport::config::Settings) -> Self {
        Self {
            app: app(AppState::with_settings(db.store.clone(), settings)),
            ..Self::new(db)
        }
    }

    /// A second client of the same application, with a jar of its own.
    pub fn sibling(&self) -> Self {
        Self {
            app: self.app.clone(),
            cookies: HashMap::new(),
            headers: Vec::new(),
            address: None,
        }
    }

    /// Sends a request with the jar's cookies and keeps the cookies the answer sets.
    pub async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(header::COOKIE, jar.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        let body = match form {
            Some(form) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(form)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        if let Some(address) = self.address {
            request.extensions_mut().insert(axum::extract::ConnectInfo(address));
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        for cookie in reply.set_cookies() {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with a form.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let form: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.send(Method::POST, path, Some(form.join("&"))).await
    }

    /// Opens the login page and sends its form.
    pub async fn login(&mut self, email: &str, password: &str) -> Reply {
        self.login_to(email, password, "/").await
    }

    /// Opens the login page and sends its form, asking to go to `next` afterwards.
    pub async fn login_to(&mut self, email: &str, password: &str, next: &str) -> Reply {
        let page = self.get("/login").await;
        let csrf = field(&page.body, "csrf");
        self.post(
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf", &csrf),
                ("next", next),
            ],
        )
        .await
    }

    /// A client of the same application whose connections come from `address`.
    pub fn sibling_at(&self, address: &str) -> Self {
        let mut client = self.sibling();
        client.address = Some(address.parse().expect("an address and port"));
        client
    }

    /// Puts a cookie into the jar.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// The cookie the jar holds under `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }
}

/// The value of the first form field named `name` in a page.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
