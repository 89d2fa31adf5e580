//! The e-mail outbox: what waits, what went and what failed, with every attempt of a message, and
//! a warning at the top while no SMTP server is set (messages then wait; none is dropped).

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{Layout, PageError};
use crate::server::AppState;
use crate::server::dashboard::format::grouped;
use crate::server::dashboard::session::SignedIn;
use crate::store::{MailPage, MailRecord, MailStatus};

/// Messages the page lists, newest first.
const OUTBOX_LIMIT: u32 = 200;

/// One message as the outbox lists it.
pub struct MailRow {
    id: i64,
    written: String,
    to: String,
    subject: String,
    plan: Option<String>,
    status: &'static str,
    attempts: u32,
    detail: String,
}

/// `GET /mail`.
#[derive(Template, WebTemplate)]
#[template(path = "outbox.html")]
pub struct OutboxPage {
    layout: Layout,
    no_server: bool,
    /// "1 message waits", "3 messages wait".
    waiting: String,
    queued: String,
    sent: String,
    failed: String,
    rows: Vec<MailRow>,
}

/// One attempt as a message's page lists it.
pub struct AttemptRow {
    when: String,
    outcome: String,
    reply: String,
    millis: i64,
}

/// `GET /mail/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "outbox_message.html")]
pub struct MessagePage {
    layout: Layout,
    row: MailRow,
    why: Option<String>,
    attempts: Vec<AttemptRow>,
}

fn status(s: MailStatus) -> &'static str {
    match s {
        MailStatus::Queued => "waiting",
        MailStatus::Sent => "sent",
        MailStatus::Failed => "failed",
    }
}

fn row(state: &AppState, m: MailRecord, plans: &HashMap<i64, String>) -> MailRow {
    let locale = &state.dashboard.locale;
    let detail = match (m.status, m.sent_at, &m.last_error) {
        (MailStatus::Sent, Some(at), _) => format!("accepted {}", locale.minute(at)),
        (MailStatus::Queued, _, Some(error)) => {
            format!(
                "next try {}; last: {error}",
                locale.minute(m.next_attempt_ms.div_euclid(1000))
            )
        }
        (MailStatus::Failed, _, Some(error)) => error.clone(),
        _ => String::new(),
    };
    MailRow {
        id: m.id,
        written: locale.minute(m.created_at),
        to: m.to,
        subject: m.subject,
        plan: m.plan_id.and_then(|id| plans.get(&id).cloned()),
        status: status(m.status),
        attempts: m.attempts,
        detail,
    }
}

async fn plan_names(state: &AppState) -> Result<HashMap<i64, String>, PageError> {
    Ok(state
        .store
        .plans()
        .await?
        .into_iter()
        .map(|p| (p.id, p.spec.name))
        .collect())
}

/// `GET /mail`: the latest messages and how many are in each state.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn outbox(State(state): State<AppState>, signed_in: SignedIn) -> Result<OutboxPage, PageError> {
    let counts = state.store.count_mail().await?;
    let plans = plan_names(&state).await?;
    let page = MailPage {
        limit: OUTBOX_LIMIT,
        ..Default::default()
    };
    let rows = state
        .store
        .mail_messages(page)
        .await?
        .into_iter()
        .map(|m| row(&state, m, &plans))
        .collect();
    let mail = &state.settings.mail;
    Ok(OutboxPage {
        layout: Layout::new(&signed_in, "mail"),
        no_server: mail.smtp().is_none() || mail.from.is_empty(),
        waiting: match counts.queued {
            1 => "1 message waits".to_owned(),
            n => format!("{} messages wait", grouped(n)),
        },
        queued: grouped(counts.queued),
        sent: grouped(counts.sent),
        failed: grouped(counts.failed),
        rows,
    })
}

/// `GET /mail/{id}`: one message and every attempt to send it.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn message(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Result<MessagePage, PageError> {
    let page = MailPage {
        limit: 1,
        before: id.checked_add(1),
        ..Default::default()
    };
    let record = state
        .store
        .mail_messages(page)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, format!("There is no message {id}.")))?;
    let locale = &state.dashboard.locale;
    let attempts = state
        .store
        .mail_attempts(id)
        .await?
        .into_iter()
        .map(|a| AttemptRow {
            when: locale.minute(a.attempted_ms.div_euclid(1000)),
            outcome: a.outcome,
            reply: a.reply,
            millis: a.duration_ms,
        })
        .collect();
    let why = record.why.clone();
    let plans = plan_names(&state).await?;
    Ok(MessagePage {
        layout: Layout::new(&signed_in, "mail"),
        row: row(&state, record, &plans),
        why,
        attempts,
    })
}
