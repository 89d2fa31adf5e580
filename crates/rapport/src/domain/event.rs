//! Events: everything that happens to a customer, appended to the log and never changed.

use serde::{Deserialize, Serialize};

use super::stage::Stage;
use super::survey::{Answers, NpsCategory, SurveyKind, SurveySpec};
use super::types::{Currency, CustomerId, Money};

/// What happened, with the facts that belong to that kind of event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The customer bought something.
    Purchase {
        /// What was paid.
        amount: Money,
        /// In which currency.
        currency: Currency,
        /// The shop system's order id, when known.
        order_id: Option<String>,
        /// How many items, when known.
        quantity: Option<i64>,
    },
    /// A conversation or contact: a call, a visit, an e-mail exchange.
    Interaction {
        /// How: phone, email, visit, chat, ...
        channel: String,
        /// What was said or done.
        note: String,
    },
    /// The customer moved from one lifecycle stage to another.
    StageChange {
        /// The stage before (`None` for the first).
        from: Option<Stage>,
        /// The stage after.
        to: Stage,
        /// Why.
        reason: String,
    },
    /// A free-form note by staff.
    Note {
        /// The note's text.
        text: String,
    },
    /// The customer referred someone who bought.
    Referral {
        /// The external id of the customer who was referred.
        referred: String,
    },
    /// The customer gave or withdrew consent to be contacted on a channel: the log keeps every
    /// change with where it came from, the state the latest.
    Consent {
        /// The channel: `email`.
        channel: String,
        /// Given (`true`) or withdrawn.
        given: bool,
        /// Where it came from: "unsubscribe link in an e-mail", "import", "API", a staff member.
        reason: String,
    },
    /// The customer answered a survey. Answering again (a changed answer through the same
    /// link) is another event: the latest counts.
    Feedback {
        /// The survey's name.
        survey: String,
        /// The version of the survey answered.
        version: i64,
        /// Which standard the survey follows: says what the score means.
        survey_kind: SurveyKind,
        /// The personal link (invitation) answered, when the answer came through one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invitation: Option<i64>,
        /// The standard question's score (NPS 0-10, CSAT 1-5, CES 1-7).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<i64>,
        /// Where the score puts the customer (for CSAT and CES the scale's low, middle and top).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<NpsCategory>,
        /// Every answer, by question key.
        answers: Answers,
    },
    /// A conversation staff had with the customer to learn about them: what they need, what they
    /// want beyond it, what worries them, and notes, each optional, with tags to find it again.
    Interview {
        /// What the customer needs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        needs: Option<String>,
        /// What they would like beyond it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desires: Option<String>,
        /// What worries them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fears: Option<String>,
        /// Anything else said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
        /// Words to find it by ("pricing", "delivery").
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        /// Who held it.
        by: String,
    },
}

impl EventKind {
    /// The feedback event of an answer to version `version` of `survey`, through a personal link
    /// (`invitation`) or not: its score and category taken from the standard question.
    pub fn feedback(survey: &SurveySpec, version: i64, invitation: Option<i64>, answers: Answers) -> Self {
        let score = survey.score_question().and(answers.score());
        EventKind::Feedback {
            survey: survey.name.clone(),
            version,
            survey_kind: survey.kind,
            invitation,
            score,
            category: score.and_then(|s| NpsCategory::of_survey(survey.kind, s)),
            answers,
        }
    }

    /// The kind's fields as a JSON object, without the `kind` tag (stored beside it).
    pub fn fields(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("an event serialises");
        if let Some(object) = value.as_object_mut() {
            object.remove("kind");
        }
        value
    }

    /// The kind's stable name, as stored.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Purchase { .. } => "purchase",
            EventKind::Interaction { .. } => "interaction",
            EventKind::StageChange { .. } => "stage_change",
            EventKind::Note { .. } => "note",
            EventKind::Referral { .. } => "referral",
            EventKind::Consent { .. } => "consent",
            EventKind::Feedback { .. } => "feedback",
            EventKind::Interview { .. } => "interview",
        }
    }

    /// Every kind's stored name.
    pub const NAMES: [&'static str; 8] = [
        "purchase",
        "interaction",
        "stage_change",
        "note",
        "referral",
        "consent",
        "feedback",
        "interview",
    ];

    /// The event in a few words, as timelines show it: "19.90 USD, 2 items, order 1001".
    pub fn describe(&self) -> String {
        match self {
            EventKind::Purchase {
                amount,
                currency,
                order_id,
                quantity,
            } => {
                let mut text = format!("{amount} {}", currency.as_str());
                if let Some(q) = quantity {
                    text.push_str(&format!(", {q} {}", if *q == 1 { "item" } else { "items" }));
                }
                if let Some(o) = order_id {
                    text.push_str(&format!(", order {o}"));
                }
                text
            }
            EventKind::Interaction { channel, note } => format!("{channel}: {note}"),
            EventKind::StageChange { from, to, reason } => {
                format!("{} → {to}: {reason}", from.map_or("(new)", |s| s.as_str()))
            }
            EventKind::Note { text } => text.clone(),
            EventKind::Referral { referred } => format!("referred {referred}"),
            EventKind::Consent { channel, given, reason } => {
                let what = if *given { "consent given" } else { "consent withdrawn" };
                format!("{channel} {what}: {reason}")
            }
            EventKind::Feedback {
                survey, score, answers, ..
            } => {
                let mut text = format!("answered {survey}");
                if let Some(score) = score {
                    text.push_str(&format!(": {score}"));
                }
                if let Some(comment) = answers.comment() {
                    text.push_str(&format!(" \u{201c}{comment}\u{201d}"));
                }
                text
            }
            EventKind::Interview {
                needs,
                desires,
                fears,
                notes,
                tags,
                by,
            } => {
                let mut parts = vec![format!("interview by {by}")];
                for (label, value) in [("needs", needs), ("wants", desires), ("fears", fears), ("notes", notes)] {
                    if let Some(value) = value {
                        parts.push(format!("{label}: {value}"));
                    }
                }
                if !tags.is_empty() {
                    parts.push(format!("tags: {}", tags.join(", ")));
                }
                parts.join("; ")
            }
        }
    }
}

/// An event about to be appended: its idempotency key, when it happened and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique key: appending a second event with the same key stores nothing.
    pub key: String,
    /// When it happened (Unix seconds, UTC).
    pub occurred_at: i64,
    /// What happened.
    pub kind: EventKind,
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// Position in the log: later events have larger ids.
    pub id: i64,
    /// Whose event it is.
    pub customer_id: CustomerId,
    /// The idempotency key.
    pub key: String,
    /// When it happened (Unix seconds, UTC).
    pub occurred_at: i64,
    /// When Rapport recorded it (Unix seconds, UTC).
    pub recorded_at: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// An event whose key the log already holds for another customer or with other content: the
/// same order id used twice for different purchases. It is refused, never taken for a repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConflict {
    /// The business's id of the customer the refused event was for.
    pub customer: String,
    /// The refused event.
    pub event: NewEvent,
    /// The business's id of the stored event's customer.
    pub existing_customer: String,
    /// The event the log holds under the same key.
    pub existing: EventKind,
    /// The stored event was there before this write began (else this write stored it earlier).
    pub stored_before: bool,
}

impl std::fmt::Display for KeyConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the key '{}' is already used by customer '{}' ({} {}){}; this {} is for customer '{}' ({})",
            self.event.key,
            self.existing_customer,
            self.existing.name(),
            self.existing.describe(),
            if self.stored_before { ", stored before" } else { "" },
            self.event.kind.name(),
            self.customer,
            self.event.kind.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purchases_are_described_in_plain_words() {
        let purchase = |quantity| EventKind::Purchase {
            amount: Money(1990),
            currency: Currency::default(),
            order_id: Some("1001".into()),
            quantity,
        };
        assert_eq!(purchase(Some(1)).describe(), "19.90 USD, 1 item, order 1001");
        assert_eq!(purchase(Some(2)).describe(), "19.90 USD, 2 items, order 1001");
        assert_eq!(purchase(None).describe(), "19.90 USD, order 1001");
    }
}
