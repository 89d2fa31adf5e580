//! One message composed as multipart/alternative (text, then HTML) and handed to the SMTP server,
//! its reply read as accepted, rejected for good (5xx) or failed for now (4xx, no connection).

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::MailError;
use crate::config::{SmtpSecurity, SmtpServer};
use crate::store::ClaimedMail;

/// Headers the composer sets itself: a caller's copy would contradict them.
const OWN_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// Sends messages through one SMTP server as one sender, reusing connections.
#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

/// What an attempt came to, with the server's reply or the error.
pub(super) enum Outcome {
    /// The server accepted the message.
    Accepted(String),
    /// The server refused it for good, or it cannot be composed: retrying will not help.
    Rejected(String),
    /// It may go through later: a 4xx reply, no connection, no answer in time.
    Failed(String),
}

impl Outcome {
    pub(super) fn into_reply(self) -> String {
        match self {
            Outcome::Accepted(reply) | Outcome::Rejected(reply) | Outcome::Failed(reply) => reply,
        }
    }
}

impl Sender {
    /// A sender over `smtp` as `from`, giving each message `timeout` to go through.
    pub fn new(smtp: &SmtpServer, from: Mailbox, timeout: Duration) -> Result<Self, MailError> {
        // lettre takes the process's TLS provider when one is installed: ring, as for webhooks.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .timeout(Some(timeout));
        let tls = || {
            TlsParameters::new(smtp.host.clone()).map_err(|e| MailError::Client {
                host: smtp.host.clone(),
                reason: e.to_string(),
            })
        };
        builder = match smtp.security {
            SmtpSecurity::Plain => builder,
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
        };
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            timeout,
        })
    }

    /// Composes and sends one message.
    pub(super) async fn send(&self, mail: &ClaimedMail) -> Outcome {
        let message = match compose(mail, &self.from) {
            Ok(message) => message,
            Err(why) => return Outcome::Rejected(why),
        };
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(response)) => {
                let text: Vec<&str> = response.message().collect();
                Outcome::Accepted(format!("{} {}", response.code(), text.join(" ")))
            }
            Ok(Err(e)) if e.is_permanent() => Outcome::Rejected(e.to_string()),
            Ok(Err(e)) => Outcome::Failed(e.to_string()),
            Err(_) => Outcome::Failed(format!(
                "the SMTP server did not take the message within {} s",
                self.timeout.as_secs()
            )),
        }
    }
}

/// The message as sent: `From`, `To`, `Subject`, the stored `Message-ID`, the caller's headers,
/// and a text and an HTML part of which the reader shows the last it can (the HTML).
pub fn compose(mail: &ClaimedMail, from: &Mailbox) -> Result<Message, String> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("the recipient '{}' is not an address: {e}", mail.to))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()));
    for (name, value) in &mail.headers {
        if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!("the header '{name}' is set by Rapport, not by the message"));
        }
        if value.contains(['\r', '\n']) {
            return Err(format!("the header '{name}' has a line break in its value"));
        }
        let header = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| format!("'{name}' is not a header name (ASCII, no space or colon)"))?;
        builder = builder.raw_header(HeaderValue::new(header, value.clone()));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text_body.clone(),
            mail.html_body.clone(),
        ))
        .map_err(|e| format!("the message cannot be composed: {e}"))
}
