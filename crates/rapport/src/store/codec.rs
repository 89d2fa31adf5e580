//! How events and states map to columns, the same for both backends.

use serde_json::json;

use super::{StoreError, StoreResult};
use crate::domain::{Currency, CustomerId, EventKind, Money, NewEvent, Stage, StoredEvent};

/// One event as columns of the `events` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Whose event.
    pub customer_id: i64,
    /// The kind's name.
    pub kind: &'static str,
    /// When it happened.
    pub occurred_at: i64,
    /// When it was recorded.
    pub recorded_at: i64,
    /// The idempotency key.
    pub key: String,
    /// Purchases: amount in cents.
    pub amount_cents: Option<i64>,
    /// Purchases: currency code.
    pub currency: Option<String>,
    /// Purchases: order id.
    pub order_id: Option<String>,
    /// Purchases: quantity.
    pub quantity: Option<i64>,
    /// Other kinds: their fields as a JSON object.
    pub data: Option<String>,
}

impl EventRow {
    /// The columns for a new event of a customer, recorded now.
    pub fn encode(customer: CustomerId, event: &NewEvent, recorded_at: i64) -> Self {
        let mut row = EventRow {
            customer_id: customer.0,
            kind: event.kind.name(),
            occurred_at: event.occurred_at,
            recorded_at,
            key: event.key.clone(),
            amount_cents: None,
            currency: None,
            order_id: None,
            quantity: None,
            data: None,
        };
        match &event.kind {
            EventKind::Purchase {
                amount,
                currency,
                order_id,
                quantity,
            } => {
                row.amount_cents = Some(amount.0);
                row.currency = Some(currency.as_str().to_owned());
                row.order_id = order_id.clone();
                row.quantity = *quantity;
            }
            EventKind::Interaction { channel, note } => {
                row.data = Some(json!({"channel": channel, "note": note}).to_string())
            }
            EventKind::StageChange { from, to, reason } => {
                row.data = Some(json!({"from": from, "to": to, "reason": reason}).to_string())
            }
            EventKind::Note { text } => row.data = Some(json!({"text": text}).to_string()),
            EventKind::Referral { referred } => row.data = Some(json!({"referred": referred}).to_string()),
            EventKind::Consent { channel, given, reason } => {
                row.data = Some(json!({"channel": channel, "given": given, "reason": reason}).to_string())
            }
            EventKind::Feedback { .. } | EventKind::Interview { .. } => {
                row.data = Some(event.kind.fields().to_string())
            }
        }
        row
    }

    /// The stored event these columns (with the log id) describe.
    pub fn decode(self, id: i64) -> StoreResult<StoredEvent> {
        let kind = match self.kind {
            "purchase" => EventKind::Purchase {
                amount: Money(self.amount_cents.unwrap_or_default()),
                currency: Currency::parse(self.currency.as_deref().unwrap_or("USD"))
                    .map_err(|e| StoreError::Corrupt(format!("event {id}: {e}")))?,
                order_id: self.order_id,
                quantity: self.quantity,
            },
            _ => decode_data(id, self.kind, self.data.as_deref())?,
        };
        Ok(StoredEvent {
            id,
            customer_id: CustomerId(self.customer_id),
            key: self.key,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            kind,
        })
    }
}

/// Maps a stored kind name back to the static name, so rows can carry `&'static str`.
pub fn kind_name(stored: &str) -> StoreResult<&'static str> {
    EventKind::NAMES
        .into_iter()
        .find(|k| *k == stored)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown event kind '{stored}'")))
}

fn decode_data(id: i64, kind: &str, data: Option<&str>) -> StoreResult<EventKind> {
    let mut value: serde_json::Value = serde_json::from_str(data.unwrap_or("{}"))
        .map_err(|e| StoreError::Corrupt(format!("event {id}: data is not JSON: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        object.insert("kind".into(), kind.into());
    }
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(format!("event {id} ({kind}): {e}")))
}

/// Parses a stage column.
pub fn stage(stored: &str) -> StoreResult<Stage> {
    stored
        .parse()
        .map_err(|e: crate::domain::ParseError| StoreError::Corrupt(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_survives_encoding() {
        let kinds = [
            EventKind::Purchase {
                amount: Money(2933),
                currency: Currency::parse("EUR").unwrap(),
                order_id: Some("A1".into()),
                quantity: Some(2),
            },
            EventKind::Interaction {
                channel: "phone".into(),
                note: "asked about sizes".into(),
            },
            EventKind::StageChange {
                from: None,
                to: Stage::Customer,
                reason: "first purchase".into(),
            },
            EventKind::StageChange {
                from: Some(Stage::Client),
                to: Stage::Prospect,
                reason: "by hand".into(),
            },
            EventKind::Note {
                text: "prefers e-mail".into(),
            },
            EventKind::Referral { referred: "C-9".into() },
            EventKind::Consent {
                channel: "email".into(),
                given: false,
                reason: "unsubscribe link in an e-mail".into(),
            },
            EventKind::Feedback {
                survey: "nps".into(),
                version: 2,
                survey_kind: crate::domain::survey::SurveyKind::Nps,
                invitation: Some(81),
                score: Some(3),
                category: Some(crate::domain::survey::NpsCategory::Detractor),
                answers: crate::domain::survey::Answers(
                    [
                        ("score".to_owned(), crate::domain::survey::Answer::Scale(3)),
                        ("comment".to_owned(), crate::domain::survey::Answer::Text("late".into())),
                    ]
                    .into(),
                ),
            },
            EventKind::Interview {
                needs: Some("a bike for a 20 km commute".into()),
                desires: None,
                fears: Some("theft".into()),
                notes: None,
                tags: vec!["commute".into()],
                by: "ana@shop.example".into(),
            },
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            let event = NewEvent {
                key: format!("k{i}"),
                occurred_at: 100,
                kind: kind.clone(),
            };
            let stored = EventRow::encode(CustomerId(7), &event, 200).decode(i as i64).unwrap();
            assert_eq!(stored.kind, kind);
            assert_eq!(
                (stored.customer_id, stored.occurred_at, stored.recorded_at),
                (CustomerId(7), 100, 200)
            );
        }
    }
}
