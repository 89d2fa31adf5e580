//! E-mail: the outbox's messages composed (text and HTML, the caller's headers) and sent over
//! SMTP, each attempt logged and a failure retried on a schedule. `deliver_due` sends what is due
//! once (for `run-due`); `MailWorker` does it continually inside `serve`.

mod send;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;

use crate::config::{MailSettings, SmtpServer};
use crate::domain::webhook::RetrySchedule;
use crate::store::{Claim, ClaimedMail, MailAttempt, MailAttemptResult, NextStep, Store, StoreError};

pub use send::{Sender, compose};
pub use worker::MailWorker;

/// How messages are delivered: where to, as whom, and the worker's pace.
#[derive(Clone)]
pub struct DeliverySettings {
    /// The SMTP server; without one nothing is sent and messages stay queued.
    pub smtp: Option<SmtpServer>,
    /// The sender (`From`), required with a server.
    pub from: Option<Mailbox>,
    /// How long one message may take to send, connecting included.
    pub timeout: Duration,
    /// Messages sent at once.
    pub batch: u32,
    /// How often the worker looks for due messages.
    pub poll: Duration,
    /// Waits between failed attempts; a message fails for good when it is used up.
    pub schedule: RetrySchedule,
}

impl DeliverySettings {
    /// From the `[mail]` settings, with the default retry schedule.
    pub fn from_config(mail: &MailSettings) -> Self {
        Self {
            smtp: mail.smtp(),
            from: mail.from.parse().ok(),
            timeout: mail.timeout(),
            batch: mail.batch,
            poll: mail.poll(),
            schedule: default_schedule(),
        }
    }

    /// The sender over the configured server, or `None` when no server (or no sender) is set.
    pub fn sender(&self) -> Result<Option<Sender>, MailError> {
        match (&self.smtp, &self.from) {
            (Some(smtp), Some(from)) => Ok(Some(Sender::new(smtp, from.clone(), self.timeout)?)),
            _ => Ok(None),
        }
    }
}

/// 1 min, 5 min, 30 min, 2 h, 6 h: six attempts over 8 h 36 min, then the message fails. A
/// mail server down for an afternoon still gets every message; longer, and a care message would
/// arrive too late to mean what it said.
pub fn default_schedule() -> RetrySchedule {
    let minutes = |m: u64| Duration::from_secs(m * 60);
    RetrySchedule(vec![minutes(1), minutes(5), minutes(30), minutes(120), minutes(360)])
}

/// Why mail could not be delivered at all (a single message's failure is its attempt's reply).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The SMTP client could not be set up for the configured server.
    #[error("cannot set up the SMTP client for {host}: {reason}")]
    Client {
        /// The server's host.
        host: String,
        /// What went wrong.
        reason: String,
    },
}

/// What one `deliver_due` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Accepted by the SMTP server.
    pub sent: u64,
    /// Failed for now, tried again later.
    pub retrying: u64,
    /// Rejected for good, or out of retries.
    pub failed: u64,
    /// No SMTP server is configured: nothing was tried, and this many messages wait in the queue.
    pub unsent_without_smtp: Option<i64>,
}

/// Sends every message due at `now` (Unix seconds) once, logging each attempt; a failure is
/// retried from `now` on the settings' schedule. Without an SMTP server nothing is sent and the
/// report says how many messages wait.
pub async fn deliver_due(
    store: &Arc<dyn Store>,
    settings: &DeliverySettings,
    now: i64,
) -> Result<DeliveryReport, MailError> {
    let mut report = DeliveryReport::default();
    let Some(sender) = settings.sender()? else {
        report.unsent_without_smtp = Some(store.count_mail().await?.queued);
        return Ok(report);
    };
    let name = worker_name();
    let now_ms = now.saturating_mul(1000);
    for round in 1.. {
        let claim = claim(&format!("{name}:{round}"), now_ms, settings);
        let claimed = store.claim_mail(&claim).await?;
        let count = claimed.len();
        let sends = claimed
            .into_iter()
            .map(|mail| attempt(store, &sender, settings, &claim.by, mail, Some(now_ms)));
        for next in futures::future::join_all(sends).await {
            match next {
                NextStep::Delivered => report.sent += 1,
                NextStep::RetryAt(_) => report.retrying += 1,
                NextStep::GiveUp => report.failed += 1,
            }
        }
        if count < settings.batch as usize {
            break;
        }
    }
    Ok(report)
}

/// A claim on up to a batch of messages due at `now_ms`, held until the slowest send could end
/// plus a minute: a worker that dies lets it lapse and another takes the messages over.
fn claim(by: &str, now_ms: i64, settings: &DeliverySettings) -> Claim {
    let lease = settings.timeout + Duration::from_secs(60);
    Claim {
        by: by.to_owned(),
        now_ms,
        until_ms: now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)),
        limit: settings.batch,
    }
}

/// A name unique to this deliverer, to tell its claims from other workers'.
fn worker_name() -> String {
    crate::webhooks::message_id().replacen("msg_", "mailer_", 1)
}

/// Sends one claimed message, logs the attempt and schedules what follows: from `clock_ms` when
/// given (a caller's clock), else from the real time after the attempt.
async fn attempt(
    store: &Arc<dyn Store>,
    sender: &Sender,
    settings: &DeliverySettings,
    claimed_by: &str,
    mail: ClaimedMail,
    clock_ms: Option<i64>,
) -> NextStep {
    let started = std::time::Instant::now();
    let attempted_ms = clock_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let outcome = sender.send(&mail).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let next = match (&outcome, settings.schedule.after(mail.attempts + 1)) {
        (send::Outcome::Accepted(_), _) => NextStep::Delivered,
        (send::Outcome::Rejected(_), _) | (send::Outcome::Failed(_), None) => NextStep::GiveUp,
        (send::Outcome::Failed(_), Some(wait)) => {
            let from = clock_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
            NextStep::RetryAt(from.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)))
        }
    };
    tracing::debug!(mail = mail.id, ?next, "mail attempt");
    let result = MailAttemptResult {
        mail_id: mail.id,
        claimed_by: claimed_by.to_owned(),
        attempt: MailAttempt {
            attempted_ms,
            reply: outcome.into_reply(),
            duration_ms,
        },
        next,
    };
    if let Err(e) = store.record_mail_attempt(&result).await {
        // The claim lapses and the message is sent again, with the same Message-ID.
        tracing::warn!(mail = mail.id, error = %e, "logging a mail attempt failed");
    }
    next
}
