//! `[mail]`: the SMTP server the outbox is sent through, the sender, the address customers reach
//! the server at, and the delivery worker's tunables. Each value is checked as it is read.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::{positive, redact_url};

/// `[mail]`. Its `Debug` redacts the SMTP URL's password, so a logged settings value is safe.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// `smtp://HOST:PORT` (plain, loopback only unless `?tls=none`), `smtp://HOST:587?tls=starttls`
    /// or `smtps://USER:PASSWORD@HOST:465`; empty: nothing is sent and mail stays queued.
    #[serde(deserialize_with = "smtp_url")]
    pub smtp_url: String,
    /// The sender, `shop@example.com` or `Shop <shop@example.com>`.
    #[serde(deserialize_with = "mailbox")]
    pub from: String,
    /// Where customers reach the server, for links in messages (`https://shop.example.com`);
    /// empty: the bind address.
    #[serde(deserialize_with = "public_url")]
    pub public_url: String,
    /// How long one message may take to send, connecting included.
    #[serde(deserialize_with = "positive")]
    pub timeout_seconds: u64,
    /// Messages one server sends at once.
    #[serde(deserialize_with = "positive")]
    pub batch: u32,
    /// How often the outbox is checked for due messages.
    #[serde(deserialize_with = "positive")]
    pub poll_seconds: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: String::new(),
            public_url: String::new(),
            timeout_seconds: 30,
            batch: 16,
            poll_seconds: 2,
        }
    }
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &redact_url(&self.smtp_url))
            .field("from", &self.from)
            .field("public_url", &self.public_url)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("batch", &self.batch)
            .field("poll_seconds", &self.poll_seconds)
            .finish()
    }
}

impl MailSettings {
    /// The SMTP server, when one is set (`smtp_url` was checked when read).
    pub fn smtp(&self) -> Option<SmtpServer> {
        SmtpServer::parse(&self.smtp_url).ok().flatten()
    }

    /// How long one message may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }

    /// The outbox's polling interval.
    pub fn poll(&self) -> Duration {
        Duration::from_secs(self.poll_seconds)
    }

    /// Where customers reach the server, without a trailing slash: `public_url`, or the bind
    /// address over plain HTTP when it is empty.
    pub fn public_url_or(&self, bind: std::net::SocketAddr) -> String {
        if self.public_url.is_empty() {
            format!("http://{bind}")
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// None: loopback, or a network the operator vouched for with `?tls=none`.
    Plain,
    /// STARTTLS, required: the server must offer it and its certificate must hold.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// An SMTP server as `mail.smtp_url` names it. Its `Debug` shows the user name, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// Host name or address.
    pub host: String,
    /// Port (25, 587 or 465 unless the URL names one).
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// User name and password, when the URL has them.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

impl SmtpServer {
    /// Reads an SMTP URL; `None` for an empty one. The error names what is wrong, never the
    /// password.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let shown = redact_url(raw);
        let url = url::Url::parse(raw).map_err(|e| format!("'{shown}' is not a URL: {e}"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{shown}' names no host"))?
            .to_owned();
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => (SmtpSecurity::Tls, 465),
            ("smtp", Some("starttls")) => (SmtpSecurity::StartTls, 587),
            ("smtp", Some("none")) => (SmtpSecurity::Plain, 25),
            ("smtp", None) if loopback => (SmtpSecurity::Plain, 25),
            ("smtp", None) => {
                return Err(format!(
                    "'{shown}' would send mail and passwords unencrypted to another host: use \
                     smtps://HOST:465, smtp://HOST:587?tls=starttls, or ?tls=none on a network you trust"
                ));
            }
            (scheme @ ("smtp" | "smtps"), Some(other)) => {
                return Err(format!(
                    "'{shown}': tls={other} is not understood with {scheme}://: use smtp://...?tls=starttls, \
                     smtp://...?tls=none or smtps://"
                ));
            }
            (scheme, _) => {
                return Err(format!(
                    "'{shown}': the scheme '{scheme}' is not an SMTP one: use smtp:// or smtps://"
                ));
            }
        };
        let decode =
            |s: &str| percent_decode(s).ok_or_else(|| format!("'{shown}': the user name or password is not UTF-8"));
        let credentials = match url.password() {
            Some(password) => Some((decode(url.username())?, decode(password)?)),
            None if !url.username().is_empty() => {
                return Err(format!("'{shown}' has a user name without a password"));
            }
            None => None,
        };
        Ok(Some(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
        }))
    }
}

/// `%40` and the like back to their characters.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn smtp_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    SmtpServer::parse(&raw).map_err(serde::de::Error::custom)?;
    Ok(raw.trim().to_owned())
}

fn mailbox<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    let raw = raw.trim();
    if !raw.is_empty() {
        raw.parse::<lettre::message::Mailbox>().map_err(|e| {
            serde::de::Error::custom(format!(
                "'{raw}' is not a sender address ({e}): use shop@example.com or \"Shop <shop@example.com>\""
            ))
        })?;
    }
    Ok(raw.to_owned())
}

fn public_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(String::new());
    }
    let bad = |why: &str| {
        serde::de::Error::custom(format!(
            "'{raw}' {why}: use the address customers open, such as https://shop.example.com"
        ))
    };
    let url = url::Url::parse(raw).map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("is not an http or https address"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("has a query, a fragment or a user name"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_say_how_to_connect() {
        let server = SmtpServer::parse("smtps://mail%40shop:p%40ss@smtp.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(server.port, 465);
        assert_eq!(server.security, SmtpSecurity::Tls);
        assert_eq!(server.credentials, Some(("mail@shop".into(), "p@ss".into())));
        let server = SmtpServer::parse("smtp://smtp.example.com:2587?tls=starttls")
            .unwrap()
            .unwrap();
        assert_eq!((server.port, server.security), (2587, SmtpSecurity::StartTls));
        let server = SmtpServer::parse("smtp://127.0.0.1:2525").unwrap().unwrap();
        assert_eq!((server.port, server.security), (2525, SmtpSecurity::Plain));
        assert_eq!(SmtpServer::parse("").unwrap(), None);
        let server = SmtpServer::parse("smtps://u:hunter2@h").unwrap().unwrap();
        assert!(!format!("{server:?}").contains("hunter2"));
    }

    #[test]
    fn unencrypted_smtp_to_another_host_is_refused_without_showing_the_password() {
        let error = SmtpServer::parse("smtp://u:hunter2@smtp.example.com").err().unwrap();
        assert!(error.contains("unencrypted") && !error.contains("hunter2"), "{error}");
        assert!(SmtpServer::parse("smtp://relay.internal?tls=none").unwrap().is_some());
        let error = SmtpServer::parse("http://u:hunter2@smtp.example.com").err().unwrap();
        assert!(error.contains("'http'") && !error.contains("hunter2"), "{error}");
        let error = SmtpServer::parse("smtp://h?tls=maybe").err().unwrap();
        assert!(error.contains("tls=maybe"), "{error}");
    }
}
