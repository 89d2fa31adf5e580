//! One configuration for every command and the server: built-in defaults, then `rapport.toml`,
//! then `RAPPORT_*` environment variables, then flags, each later source overriding the earlier;
//! every value remembers where it came from, and secrets never leave redacted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::Currency;
use crate::domain::plan::ContactCap;

mod mail;
mod voice;

pub use mail::{MailSettings, SmtpSecurity, SmtpServer};
pub use voice::VoiceSettings;

/// The file's name, looked for beside a SQLite database (or in the working directory).
pub const FILE_NAME: &str = "rapport.toml";

/// The source `config show` names for flags.
const COMMAND_LINE: &str = "command line";

/// Every setting, in sections as `rapport.toml` writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the data live and how many connections reach them.
    pub database: DatabaseSettings,
    /// The business's time zone and currency.
    pub business: BusinessSettings,
    /// How scores are read.
    pub scoring: ScoringSettings,
    /// `rapport serve`: address, cookies, limits.
    pub server: ServerSettings,
    /// Webhook deliveries.
    pub webhooks: WebhookSettings,
    /// Care plans' scheduler.
    pub care: CareSettings,
    /// E-mail: the SMTP server, the sender, the outbox's delivery.
    pub mail: MailSettings,
    /// Surveys: links' life and reminders.
    pub voice: VoiceSettings,
}

/// `[database]`. Its `Debug` redacts the URL's password, so a logged settings value is safe.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST/DB`.
    pub url: String,
    /// Connections the pool keeps open at most.
    #[serde(deserialize_with = "positive")]
    pub max_connections: u32,
    /// How long a SQLite write waits for another writer before giving up.
    #[serde(deserialize_with = "positive")]
    pub busy_timeout_seconds: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("busy_timeout_seconds", &self.busy_timeout_seconds)
            .finish()
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://rapport.db".into(),
            max_connections: 8,
            busy_timeout_seconds: 30,
        }
    }
}

/// `[business]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessSettings {
    /// The zone days, months and times are shown and counted in (an IANA name).
    #[serde(deserialize_with = "time_zone", serialize_with = "display")]
    pub time_zone: chrono_tz::Tz,
    /// The currency of totals and lifetime values (each purchase keeps its own).
    #[serde(deserialize_with = "currency")]
    pub currency: Currency,
    /// The name customers know the business by, in e-mails and on the pages they open from them;
    /// empty: the sender's name in `mail.from`, else its address.
    pub name: String,
}

impl Default for BusinessSettings {
    fn default() -> Self {
        Self {
            time_zone: chrono_tz::Tz::UTC,
            currency: Currency::default(),
            name: String::new(),
        }
    }
}

/// `[scoring]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringSettings {
    /// A client or partner whose P(alive) falls below this is at risk: the scoring's count, the
    /// dashboard's list and the `customer.at_risk` webhook all use it.
    #[serde(deserialize_with = "probability")]
    pub at_risk_threshold: f64,
}

impl Default for ScoringSettings {
    fn default() -> Self {
        Self { at_risk_threshold: 0.5 }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port `rapport serve` listens on.
    pub bind: SocketAddr,
    /// Mark the dashboard's cookies `Secure` on every answer, not only behind an HTTPS proxy.
    pub secure_cookies: bool,
    /// Largest request body accepted (a batch of 10,000 events fits in the default).
    #[serde(deserialize_with = "positive")]
    pub body_limit_bytes: usize,
    /// How long a dashboard login lasts.
    #[serde(deserialize_with = "positive")]
    pub session_hours: u32,
    /// Wrong passwords for one account from one address before that pair is locked.
    #[serde(deserialize_with = "positive")]
    pub login_failures_per_account: u32,
    /// How long failures for one account from one address count, and how long the lock lasts.
    #[serde(deserialize_with = "positive")]
    pub login_account_lock_minutes: u32,
    /// Wrong passwords from one address (any accounts) before the address is locked.
    #[serde(deserialize_with = "positive")]
    pub login_failures_per_address: u32,
    /// How long failures from one address count, and how long its lock lasts.
    #[serde(deserialize_with = "positive")]
    pub login_address_lock_seconds: u32,
    /// Public pages (survey, unsubscribe, you-said) one address may open a minute.
    #[serde(deserialize_with = "positive")]
    pub public_pages_per_minute: u32,
    /// Public forms (a survey answer, an unsubscribe) one address may send a minute: raise it
    /// when many customers answer from one network, as at a shop counter's QR code.
    #[serde(deserialize_with = "positive")]
    pub public_forms_per_minute: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            secure_cookies: false,
            body_limit_bytes: 16 * 1024 * 1024,
            session_hours: 12,
            login_failures_per_account: 5,
            login_account_lock_minutes: 15,
            login_failures_per_address: 30,
            login_address_lock_seconds: 60,
            public_pages_per_minute: 120,
            public_forms_per_minute: 20,
        }
    }
}

impl ServerSettings {
    /// How long a dashboard login lasts, in seconds.
    pub fn session_seconds(&self) -> i64 {
        i64::from(self.session_hours) * 3_600
    }
}

/// `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Let webhooks go to loopback and private addresses (receivers inside your network).
    pub allow_private: bool,
    /// How long a receiver has to answer.
    #[serde(deserialize_with = "positive")]
    pub timeout_seconds: u64,
    /// How often the outbox is checked when nothing signals new messages (other replicas' writes).
    #[serde(deserialize_with = "positive")]
    pub poll_seconds: u64,
    /// Deliveries sent at once by one server.
    #[serde(deserialize_with = "positive")]
    pub batch: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout_seconds: 10,
            poll_seconds: 1,
            batch: 32,
        }
    }
}

impl WebhookSettings {
    /// The receiver's time to answer.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }

    /// The outbox's polling interval.
    pub fn poll(&self) -> Duration {
        Duration::from_secs(self.poll_seconds)
    }
}

/// `[care]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CareSettings {
    /// How often `rapport serve` runs the care plans' due occurrences.
    #[serde(deserialize_with = "positive")]
    pub run_every_seconds: u64,
    /// How many messages one customer may get from every plan together: `1 per 3d, 4 per 30d`
    /// (the default), or `none`.
    pub contact_cap: ContactCap,
}

impl Default for CareSettings {
    fn default() -> Self {
        Self {
            run_every_seconds: 60,
            contact_cap: ContactCap::default(),
        }
    }
}

/// A setting's key in the file and its environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// `section.name` as in `rapport.toml`.
    pub name: &'static str,
    /// The environment variable that sets it.
    pub env: &'static str,
    /// Its value is text: an environment value is taken as written, never read as a number or
    /// a list (a password may hold a comma).
    pub text: bool,
}

/// Every setting with its environment variable: `RAPPORT_SECTION_NAME`, except the few whose
/// shorter names came first (`RAPPORT_DATABASE_URL`, `RAPPORT_BIND`, `RAPPORT_TIME_ZONE`, ...).
pub const KEYS: &[Key] = &[
    key("database.url", "RAPPORT_DATABASE_URL", true),
    key("database.max_connections", "RAPPORT_DATABASE_MAX_CONNECTIONS", false),
    key(
        "database.busy_timeout_seconds",
        "RAPPORT_DATABASE_BUSY_TIMEOUT_SECONDS",
        false,
    ),
    key("business.time_zone", "RAPPORT_TIME_ZONE", true),
    key("business.currency", "RAPPORT_CURRENCY", true),
    key("business.name", "RAPPORT_BUSINESS_NAME", true),
    key("scoring.at_risk_threshold", "RAPPORT_AT_RISK_THRESHOLD", false),
    key("server.bind", "RAPPORT_BIND", true),
    key("server.secure_cookies", "RAPPORT_SECURE_COOKIES", false),
    key("server.body_limit_bytes", "RAPPORT_SERVER_BODY_LIMIT_BYTES", false),
    key("server.session_hours", "RAPPORT_SERVER_SESSION_HOURS", false),
    key(
        "server.login_failures_per_account",
        "RAPPORT_SERVER_LOGIN_FAILURES_PER_ACCOUNT",
        false,
    ),
    key(
        "server.login_account_lock_minutes",
        "RAPPORT_SERVER_LOGIN_ACCOUNT_LOCK_MINUTES",
        false,
    ),
    key(
        "server.login_failures_per_address",
        "RAPPORT_SERVER_LOGIN_FAILURES_PER_ADDRESS",
        false,
    ),
    key(
        "server.login_address_lock_seconds",
        "RAPPORT_SERVER_LOGIN_ADDRESS_LOCK_SECONDS",
        false,
    ),
    key(
        "server.public_pages_per_minute",
        "RAPPORT_SERVER_PUBLIC_PAGES_PER_MINUTE",
        false,
    ),
    key(
        "server.public_forms_per_minute",
        "RAPPORT_SERVER_PUBLIC_FORMS_PER_MINUTE",
        false,
    ),
    key("webhooks.allow_private", "RAPPORT_ALLOW_PRIVATE_WEBHOOKS", false),
    key("webhooks.timeout_seconds", "RAPPORT_WEBHOOKS_TIMEOUT_SECONDS", false),
    key("webhooks.poll_seconds", "RAPPORT_WEBHOOKS_POLL_SECONDS", false),
    key("webhooks.batch", "RAPPORT_WEBHOOKS_BATCH", false),
    key("care.run_every_seconds", "RAPPORT_CARE_RUN_EVERY_SECONDS", false),
    key("care.contact_cap", "RAPPORT_CARE_CONTACT_CAP", true),
    key("mail.smtp_url", "RAPPORT_SMTP_URL", true),
    key("mail.from", "RAPPORT_MAIL_FROM", true),
    key("mail.public_url", "RAPPORT_PUBLIC_URL", true),
    key("mail.timeout_seconds", "RAPPORT_MAIL_TIMEOUT_SECONDS", false),
    key("mail.batch", "RAPPORT_MAIL_BATCH", false),
    key("mail.poll_seconds", "RAPPORT_MAIL_POLL_SECONDS", false),
    key("voice.link_days", "RAPPORT_VOICE_LINK_DAYS", false),
    key("voice.reminders", "RAPPORT_VOICE_REMINDERS", false),
    key("voice.reminder_days", "RAPPORT_VOICE_REMINDER_DAYS", false),
    key("voice.language", "RAPPORT_VOICE_LANGUAGE", true),
];

/// The settings whose values are URLs that may hold a password: shown only through `redact_url`.
const SECRET_URLS: &[&str] = &["database.url", "mail.smtp_url"];

const fn key(name: &'static str, env: &'static str, text: bool) -> Key {
    Key { name, env, text }
}

/// Values given as flags on this command line: they override every other source.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    entries: Vec<(&'static str, Value)>,
}

impl Flags {
    /// Records a flag's value for the setting `name` (a `KEYS` name).
    pub fn set(&mut self, name: &'static str, value: impl Into<Value>) {
        debug_assert!(KEYS.iter().any(|k| k.name == name), "{name} is a setting");
        self.entries.push((name, value.into()));
    }

    /// Records it when given.
    pub fn set_some<T: Into<Value>>(&mut self, name: &'static str, value: Option<T>) {
        if let Some(value) = value {
            self.set(name, value);
        }
    }
}

/// Settings from one named source (an environment variable, the command line), as figment
/// reads them: the name is what `config show` prints as the value's source.
struct Layer {
    name: String,
    values: Vec<(&'static str, Value)>,
}

impl figment::Provider for Layer {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<figment::value::Map<figment::Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (name, value) in &self.values {
            let (section, key) = name.split_once('.').expect("section.name");
            let entry = root
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, dict) = entry {
                dict.insert(key.to_owned(), value.clone());
            }
        }
        Ok(figment::Profile::Default.collect(root))
    }
}

/// Where the settings come from before flags: a file given with `--config`, or the one found.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config PATH`: this file, which must exist.
    pub file: Option<PathBuf>,
    /// The flags given.
    pub flags: Flags,
}

/// The effective settings and where each came from.
pub struct Loaded {
    /// The settings to run with.
    pub settings: Settings,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    figment: Figment,
}

/// Why the settings could not be read: the file, the key and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Settings {
    /// Reads defaults, then the file (`sources.file`, else `rapport.toml` beside a SQLite
    /// database, or in the working directory for PostgreSQL), then the environment, then the
    /// flags.
    pub fn load(sources: &Sources) -> Result<Loaded, ConfigError> {
        Self::load_from(sources, |name| std::env::var(name).ok())
    }

    /// `load` with the environment given: tests pass their own.
    pub fn load_from(sources: &Sources, env: impl Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
        let file = match &sources.file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!("{}: no such configuration file", path.display())));
            }
            Some(path) => Some(path.clone()),
            None => Self::find_file(sources, &env),
        };
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &file {
            figment = figment.merge(Toml::file_exact(path));
        }
        for key in KEYS {
            if let Some(raw) = env(key.env) {
                let value = if key.text {
                    Value::from(raw)
                } else {
                    raw.parse()
                        .unwrap_or_else(|never: std::convert::Infallible| match never {})
                };
                figment = figment.merge(Layer {
                    name: format!("environment variable {}", key.env),
                    values: vec![(key.name, value)],
                });
            }
        }
        let figment = figment.merge(Layer {
            name: COMMAND_LINE.into(),
            values: sources.flags.entries.clone(),
        });
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError(describe(e, file.as_deref())))?;
        let loaded = Loaded {
            settings,
            file,
            figment,
        };
        loaded.check_together()?;
        Ok(loaded)
    }

    /// `rapport.toml` beside the SQLite database the flags or the environment name (the default
    /// database is in the working directory), or in the working directory for PostgreSQL, when
    /// it exists.
    fn find_file(sources: &Sources, env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
        let url = sources
            .flags
            .entries
            .iter()
            .rev()
            .find(|(name, _)| *name == "database.url")
            .and_then(|(_, value)| value.as_str().map(str::to_owned))
            .or_else(|| env("RAPPORT_DATABASE_URL"))
            .unwrap_or_else(|| DatabaseSettings::default().url);
        let dir = match sqlite_path(&url) {
            Some(db) => db.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => PathBuf::new(),
        };
        Some(dir.join(FILE_NAME)).filter(|p| p.is_file())
    }
}

/// The file of a `sqlite:` URL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// A figment error as one line per problem, naming the file and the key.
fn describe(error: figment::Error, file: Option<&Path>) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("setting '{}': ", e.path.join("."))
            };
            let source = match &e.metadata {
                Some(meta) => match &meta.source {
                    Some(figment::Source::File(path)) => format!("{}: ", path.display()),
                    _ if meta.name.starts_with("TOML") => {
                        file.map_or_else(String::new, |f| format!("{}: ", f.display()))
                    }
                    _ if meta.name.ends_with("Settings") => String::new(),
                    _ => format!("{}: ", meta.name),
                },
                None => String::new(),
            };
            format!("{source}{key}{}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the figment: it holds every source's values, passwords included.
        f.debug_struct("Loaded")
            .field("settings", &self.settings)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Loaded {
    /// Settings that are each fine alone but not together, named with their sources.
    fn check_together(&self) -> Result<(), ConfigError> {
        let mail = &self.settings.mail;
        if !mail.smtp_url.is_empty() && mail.from.is_empty() {
            return Err(ConfigError(format!(
                "setting 'mail.from' is empty but 'mail.smtp_url' is set ({}): mail needs a sender \
                 (RAPPORT_MAIL_FROM, e.g. \"Shop <shop@example.com>\")",
                self.source_of("mail.smtp_url")
            )));
        }
        Ok(())
    }

    /// Where the value of `name` came from: "default", the file, an environment variable or the
    /// command line.
    pub fn source_of(&self, name: &str) -> String {
        match self.figment.find_metadata(name) {
            Some(meta) => match &meta.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                // The defaults are a serialized `Settings`, named after the type.
                _ if meta.name.ends_with("Settings") => "default".into(),
                _ => meta.name.to_string(),
            },
            None => "default".into(),
        }
    }

    /// The settings as `rapport.toml` would write them, each line with its source, secrets
    /// redacted.
    pub fn show(&self) -> String {
        let value = serde_json::to_value(&self.settings).expect("settings serialize");
        let mut text = String::new();
        if let Some(file) = &self.file {
            text.push_str(&format!("# read from {}\n", file.display()));
        }
        let mut section = "";
        for key in KEYS {
            let (group, name) = key.name.split_once('.').expect("section.name");
            if group != section {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!("[{group}]\n"));
                section = group;
            }
            let shown = match &value[group][name] {
                serde_json::Value::String(s) if SECRET_URLS.contains(&key.name) => quoted(&redact_url(s)),
                serde_json::Value::String(s) => quoted(s),
                other => other.to_string(),
            };
            text.push_str(&format!("{name} = {shown}  # {}\n", self.source_of(key.name)));
        }
        text
    }

    /// The settings as JSON, secrets redacted.
    pub fn json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.settings).expect("settings serialize");
        for name in SECRET_URLS {
            let (group, key) = name.split_once('.').expect("section.name");
            if let Some(serde_json::Value::String(url)) = value[group].get(key) {
                value[group][key] = redact_url(url).into();
            }
        }
        value
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// A database or mail server URL with its password replaced by `***`, in the user part and in
/// any `password` parameter: safe to print or log.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Not a URL we can take apart: keep the scheme only, in case a password hides in it.
        return match raw.split_once("://") {
            Some((scheme, _)) if raw.contains('@') => format!("{scheme}://***"),
            _ => raw.to_owned(),
        };
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        name.contains("password") || name == "pass" || name.contains("secret")
    };
    if url.query_pairs().any(|(name, _)| secret(&name)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret(&name) {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
    let raw = String::deserialize(d)?;
    raw.trim().parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "'{raw}' is not a time zone: use an IANA name such as Europe/Berlin, America/New_York or UTC"
        ))
    })
}

fn currency<'de, D: Deserializer<'de>>(d: D) -> Result<Currency, D::Error> {
    let raw = String::deserialize(d)?;
    Currency::parse(&raw).map_err(|e| serde::de::Error::custom(e.0))
}

fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "{value} is not a probability: use a number from 0 to 1, such as 0.5"
        )))
    }
}

fn positive<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialOrd + std::fmt::Display,
{
    let value = T::deserialize(d)?;
    if value > T::default() {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "{value} is not allowed: use 1 or more"
        )))
    }
}

fn display<S: serde::Serializer>(value: &impl std::fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn dir_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        std::fs::write(&file, text).unwrap();
        (dir, file)
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
        let (_dir, file) =
            dir_with("[business]\ntime_zone = \"Europe/Berlin\"\ncurrency = \"EUR\"\n[server]\nsession_hours = 2\n");
        let mut flags = Flags::default();
        flags.set("business.currency", "GBP");
        let sources = Sources {
            file: Some(file.clone()),
            flags,
        };
        let env =
            |name: &str| (name == "RAPPORT_CURRENCY" || name == "RAPPORT_SERVER_SESSION_HOURS").then(|| "7".to_owned());
        let env = |name: &str| match name {
            "RAPPORT_CURRENCY" => Some("CHF".to_owned()),
            other => env(other),
        };
        let loaded = Settings::load_from(&sources, env).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.business.time_zone, chrono_tz::Europe::Berlin, "from the file");
        assert_eq!(s.business.currency.as_str(), "GBP", "the flag wins");
        assert_eq!(s.server.session_hours, 7, "the environment beats the file");
        assert_eq!(s.server.login_failures_per_account, 5, "the default");
        assert_eq!(loaded.source_of("business.currency"), "command line");
        assert_eq!(
            loaded.source_of("server.session_hours"),
            "environment variable RAPPORT_SERVER_SESSION_HOURS"
        );
        assert_eq!(loaded.source_of("business.time_zone"), file.display().to_string());
        assert_eq!(loaded.source_of("server.bind"), "default");
    }

    #[test]
    fn the_file_beside_a_sqlite_database_is_found() {
        let (dir, _file) = dir_with("[scoring]\nat_risk_threshold = 0.3\n");
        let mut flags = Flags::default();
        flags.set(
            "database.url",
            format!("sqlite://{}", dir.path().join("shop.db").display()),
        );
        let loaded = Settings::load_from(&Sources { file: None, flags }, no_env).unwrap();
        assert_eq!(loaded.settings.scoring.at_risk_threshold, 0.3);
        assert!(loaded.file.is_some());
    }

    #[test]
    fn bad_values_name_their_source_and_setting() {
        let (_dir, file) = dir_with("[server]\nsession_hours = \"long\"\n");
        let sources = Sources {
            file: Some(file.clone()),
            flags: Flags::default(),
        };
        let error = Settings::load_from(&sources, no_env).unwrap_err().to_string();
        assert!(
            error.contains(&file.display().to_string()) && error.contains("server.session_hours"),
            "{error}"
        );
        let env = |name: &str| (name == "RAPPORT_AT_RISK_THRESHOLD").then(|| "1.5".to_owned());
        let error = Settings::load_from(&Sources::default(), env).unwrap_err().to_string();
        assert!(
            error.starts_with("environment variable RAPPORT_AT_RISK_THRESHOLD: setting 'scoring.at_risk_threshold'")
                && error.contains("not a probability"),
            "{error}"
        );
        let (_dir, file) = dir_with("[business]\ncurency = \"EUR\"\n");
        let error = Settings::load_from(
            &Sources {
                file: Some(file),
                flags: Flags::default(),
            },
            no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("curency"), "an unknown field is named: {error}");
    }

    #[test]
    fn a_contact_cap_is_read_and_a_bad_one_names_its_setting() {
        let env = |name: &str| (name == "RAPPORT_CARE_CONTACT_CAP").then(|| "2 per 1w".to_owned());
        let loaded = Settings::load_from(&Sources::default(), env).unwrap();
        assert_eq!(loaded.settings.care.contact_cap.to_string(), "2 per 1w");
        for bad in ["", "lots", "0 per 3d", "1 per 3 days", &"1 per 3d, ".repeat(1_000)] {
            let env = |name: &str| (name == "RAPPORT_CARE_CONTACT_CAP").then(|| bad.to_owned());
            let error = Settings::load_from(&Sources::default(), env).unwrap_err().to_string();
            assert!(
                error.starts_with("environment variable RAPPORT_CARE_CONTACT_CAP: setting 'care.contact_cap'"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn a_missing_file_given_by_name_is_an_error() {
        let sources = Sources {
            file: Some(PathBuf::from("/nonexistent/rapport.toml")),
            flags: Flags::default(),
        };
        let error = Settings::load_from(&sources, no_env).unwrap_err().to_string();
        assert_eq!(error, "/nonexistent/rapport.toml: no such configuration file");
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://rapport:s3cret@db:5432/shop"),
            "postgres://rapport:***@db:5432/shop"
        );
        assert_eq!(
            redact_url("postgres://db/shop?user=r&password=s3cret"),
            "postgres://db/shop?user=r&password=***"
        );
        assert_eq!(
            redact_url("smtp://mail:p%40ss@smtp.example.com:587"),
            "smtp://mail:***@smtp.example.com:587"
        );
        assert_eq!(redact_url("sqlite://rapport.db"), "sqlite://rapport.db");
        let env = |name: &str| (name == "RAPPORT_DATABASE_URL").then(|| "postgres://u:hunter2,x@h/db".to_owned());
        let loaded = Settings::load_from(&Sources::default(), env).unwrap();
        assert_eq!(
            loaded.settings.database.url, "postgres://u:hunter2,x@h/db",
            "taken as written"
        );
        let shown = loaded.show() + &loaded.json().to_string() + &format!("{loaded:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let env = |name: &str| match name {
            "RAPPORT_SMTP_URL" => Some("smtps://shop:hunter2@smtp.example.com".to_owned()),
            "RAPPORT_MAIL_FROM" => Some("Shop <shop@example.com>".to_owned()),
            _ => None,
        };
        let loaded = Settings::load_from(&Sources::default(), env).unwrap();
        let shown = loaded.show() + &loaded.json().to_string() + &format!("{loaded:?}");
        assert!(shown.contains("smtps://shop:***@smtp.example.com"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn bad_mail_settings_name_the_setting_and_never_the_password() {
        let env = |name: &str| (name == "RAPPORT_SMTP_URL").then(|| "smtp://u:hunter2@smtp.example.com".to_owned());
        let error = Settings::load_from(&Sources::default(), env).unwrap_err().to_string();
        assert!(
            error.starts_with("environment variable RAPPORT_SMTP_URL: setting 'mail.smtp_url'")
                && !error.contains("hunter2"),
            "{error}"
        );
        let env = |name: &str| (name == "RAPPORT_SMTP_URL").then(|| "smtp://127.0.0.1:2525".to_owned());
        let error = Settings::load_from(&Sources::default(), env).unwrap_err().to_string();
        assert!(error.contains("'mail.from' is empty"), "{error}");
        let env = |name: &str| (name == "RAPPORT_MAIL_FROM").then(|| "not an address".to_owned());
        let error = Settings::load_from(&Sources::default(), env).unwrap_err().to_string();
        assert!(error.contains("setting 'mail.from'"), "{error}");
        let env = |name: &str| (name == "RAPPORT_PUBLIC_URL").then(|| "ftp://shop".to_owned());
        let error = Settings::load_from(&Sources::default(), env).unwrap_err().to_string();
        assert!(error.contains("setting 'mail.public_url'"), "{error}");
    }
}
