//! The wire format the API answers with and webhook messages carry: one view of an event, so a
//! shop system reads the same fields from `GET /api/v1/customers/{id}/events` and from
//! `event.created`. It sits below both, so neither borrows from the other.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{EventKind, Stage, StoredEvent};

/// Unix seconds as RFC 3339 (UTC).
pub fn timestamp(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The kinds of event the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKindName {
    /// A purchase.
    Purchase,
    /// A conversation or contact.
    Interaction,
    /// A move between lifecycle stages.
    StageChange,
    /// A note by staff.
    Note,
    /// A referral that bought.
    Referral,
    /// Consent to be contacted on a channel, given or withdrawn.
    Consent,
    /// An answer to a survey.
    Feedback,
    /// A conversation to learn about the customer.
    Interview,
}

/// An event as the API shows it: the fields of its kind are set, the others absent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// Position in the log: later events have larger ids.
    pub id: i64,
    /// The business's id of the customer.
    pub customer_id: String,
    /// The idempotency key: a second event with this key is not stored.
    pub event_key: String,
    /// What kind of event.
    pub kind: EventKindName,
    /// When it happened.
    pub occurred_at: String,
    /// When Rapport recorded it.
    pub recorded_at: String,
    /// Purchases: the amount, a decimal string ("19.90").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Purchases: ISO 4217 currency code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Purchases: the shop's order id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Purchases: number of items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Interactions: phone, email, visit, chat, ...; consent: `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Interactions: what was said or done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Notes: the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Stage changes: the stage before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_stage: Option<Stage>,
    /// Stage changes: the stage after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_stage: Option<Stage>,
    /// Stage changes and consent: why, or where it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Referrals: the business's id of the customer referred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referred: Option<String>,
    /// Consent: given (`true`) or withdrawn; its `channel` says for what (`email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given: Option<bool>,
    /// Feedback: the survey's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey: Option<String>,
    /// Feedback: the version of the survey answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_version: Option<i64>,
    /// Feedback: the standard question's score (NPS 0-10, CSAT 1-5, CES 1-7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// Feedback: `detractor`, `passive` or `promoter` (for CSAT and CES: the scale's low, middle
    /// and top).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Feedback: the free-text answers, joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Feedback: every answer by question key (a number, a string or a list of strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Value>,
    /// Interviews: what the customer needs, wants and fears, notes, tags and who held it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub interview: Option<serde_json::Value>,
}

impl EventView {
    /// The view of a stored event of the customer with this business id.
    pub fn new(event: StoredEvent, customer_id: &str) -> Self {
        let mut view = Self {
            id: event.id,
            customer_id: customer_id.to_owned(),
            event_key: event.key,
            kind: EventKindName::Note,
            occurred_at: timestamp(event.occurred_at),
            recorded_at: timestamp(event.recorded_at),
            amount: None,
            currency: None,
            order_id: None,
            quantity: None,
            channel: None,
            note: None,
            text: None,
            from_stage: None,
            to_stage: None,
            reason: None,
            referred: None,
            given: None,
            survey: None,
            survey_version: None,
            score: None,
            category: None,
            comment: None,
            answers: None,
            interview: None,
        };
        match event.kind {
            EventKind::Purchase {
                amount,
                currency,
                order_id,
                quantity,
            } => {
                view.kind = EventKindName::Purchase;
                view.amount = Some(amount.to_string());
                view.currency = Some(currency.as_str().to_owned());
                view.order_id = order_id;
                view.quantity = quantity;
            }
            EventKind::Interaction { channel, note } => {
                view.kind = EventKindName::Interaction;
                view.channel = Some(channel);
                view.note = Some(note);
            }
            EventKind::StageChange { from, to, reason } => {
                view.kind = EventKindName::StageChange;
                view.from_stage = from;
                view.to_stage = Some(to);
                view.reason = Some(reason);
            }
            EventKind::Note { text } => view.text = Some(text),
            EventKind::Referral { referred } => {
                view.kind = EventKindName::Referral;
                view.referred = Some(referred);
            }
            EventKind::Consent { channel, given, reason } => {
                view.kind = EventKindName::Consent;
                view.channel = Some(channel);
                view.given = Some(given);
                view.reason = Some(reason);
            }
            EventKind::Feedback {
                survey,
                version,
                score,
                category,
                answers,
                ..
            } => {
                view.kind = EventKindName::Feedback;
                view.survey = Some(survey);
                view.survey_version = Some(version);
                view.score = score;
                view.category = category.map(|c| c.as_str().to_owned());
                view.comment = answers.comment();
                view.answers = Some(answers.to_plain_json());
            }
            kind @ EventKind::Interview { .. } => {
                view.kind = EventKindName::Interview;
                view.interview = Some(kind.fields());
            }
        }
        view
    }
}
