//! `/api/v1/events`: shop systems push what happens as it happens, one event or a batch, each
//! idempotent by its key.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{EventKindName, EventView};
use crate::domain::rules::{self, Lines};
use crate::domain::{Currency, EventKind, ExternalId, Money, NewEvent};
use crate::server::AppState;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiJson, ErrorBody};
use crate::server::idempotency::IdempotencyKey;
use crate::server::writer::{Incoming, Outcome};

/// Most events one batch may carry.
pub const MAX_BATCH: usize = 10_000;

/// An amount: a decimal string ("19.90") or a JSON number.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Amount {
    /// "19.90"
    Text(String),
    /// 19.9
    Number(f64),
}

/// One event to record. Which fields are needed depends on `kind`: a purchase needs `amount`;
/// an interaction `channel` and `note`; a note `text`; a referral `referred`; consent `channel`
/// (`email`) and `given`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The business's id of the customer (created if unknown).
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub customer_id: String,
    /// What happened. Stage changes are Rapport's own and cannot be sent.
    pub kind: EventKindName,
    /// When it happened: RFC 3339 ("2026-11-24T10:15:00Z") or a date ("2026-11-24"); now if left out.
    pub occurred_at: Option<String>,
    /// Idempotency key: an event with a key already stored is not stored again. Defaults to
    /// `order:ORDER_ID` for purchases with an order id, else derived from the `Idempotency-Key`
    /// header, else random (no protection against repeats).
    pub event_key: Option<String>,
    /// Purchases: the amount paid, at most two decimals.
    pub amount: Option<Amount>,
    /// Purchases: ISO 4217 code (default USD).
    pub currency: Option<String>,
    /// Purchases: the shop's order id.
    pub order_id: Option<String>,
    /// Purchases: number of items.
    pub quantity: Option<i64>,
    /// Interactions: phone, email, visit, chat, ...; consent: `email`.
    pub channel: Option<String>,
    /// Interactions: what was said or done.
    pub note: Option<String>,
    /// Notes: the text.
    pub text: Option<String>,
    /// Referrals: the business's id of the customer referred.
    pub referred: Option<String>,
    /// Consent: given (`true`) or withdrawn (`false`) for `channel` `email`. The latest answer
    /// counts; care plans e-mail only customers who gave it.
    pub given: Option<bool>,
}

/// Several events, stored together or not at all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    /// 1 to 10,000 events.
    #[schema(min_items = 1, max_items = 10000)]
    pub events: Vec<EventInput>,
}

/// What became of one event of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// `created`; `duplicate` when its key was already stored for the same customer; `conflict`
    /// when it was stored for another customer (this event was not stored).
    pub status: String,
    /// The event as stored (the earlier one, for a duplicate); absent for a conflict.
    pub event: Option<EventView>,
    /// Why the event was not stored, for a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a batch stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// Events stored now.
    pub created: usize,
    /// Events whose key was already stored for the same customer.
    pub duplicates: usize,
    /// Events whose key was already stored for another customer (not stored).
    pub conflicts: usize,
    /// One entry per event sent, in order.
    pub results: Vec<BatchItem>,
}

fn text(field: &str, value: Option<String>, max: usize, lines: Lines) -> Result<Option<String>, ApiError> {
    match value {
        Some(raw) => rules::text(field, &raw, max, lines).map_err(|e| ApiError::invalid(field, e.0)),
        None => Ok(None),
    }
}

fn required(field: &str, value: Option<String>, max: usize, kind: &str) -> Result<String, ApiError> {
    let lines = if field == "channel" { Lines::One } else { Lines::Many };
    text(field, value, max, lines)?.ok_or_else(|| ApiError::invalid(field, format!("a {kind} needs '{field}'")))
}

pub(super) fn parse_time(raw: &str, now: i64) -> Result<i64, ApiError> {
    let raw = raw.trim();
    let at = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        t.timestamp()
    } else if let Ok(date) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        crate::domain::state::midnight(date)
    } else {
        return Err(ApiError::invalid(
            "occurred_at",
            format!(
                "'{}' is not a time: use RFC 3339 (2026-11-24T10:15:00Z) or a date (2026-11-24)",
                rules::excerpt(raw)
            ),
        ));
    };
    rules::event_time(at, now).map_err(|e| ApiError::invalid("occurred_at", e.0))
}

/// Checks an event and turns it into what the log stores; `fallback_key` is used when the event
/// has neither a key nor an order id.
pub fn validate(input: EventInput, now: i64, fallback_key: String) -> Result<Incoming, ApiError> {
    let customer = ExternalId::parse(&input.customer_id).map_err(|e| ApiError::invalid("customer_id", e.0))?;
    let occurred_at = match &input.occurred_at {
        Some(raw) => parse_time(raw, now)?,
        None => now,
    };
    let is_purchase = input.kind == EventKindName::Purchase;
    let purchase_only = [
        ("amount", input.amount.is_some()),
        ("currency", input.currency.is_some()),
        ("order_id", input.order_id.is_some()),
        ("quantity", input.quantity.is_some()),
    ];
    if !is_purchase && let Some((field, _)) = purchase_only.iter().find(|(_, set)| *set) {
        return Err(ApiError::invalid(
            *field,
            format!("'{field}' belongs to purchases only"),
        ));
    }
    let wrong_kind = [
        (
            "channel",
            input.channel.is_some() && !matches!(input.kind, EventKindName::Interaction | EventKindName::Consent),
        ),
        ("given", input.given.is_some() && input.kind != EventKindName::Consent),
        ("note", input.note.is_some() && input.kind != EventKindName::Interaction),
        ("text", input.text.is_some() && input.kind != EventKindName::Note),
        (
            "referred",
            input.referred.is_some() && input.kind != EventKindName::Referral,
        ),
    ];
    if let Some((field, _)) = wrong_kind.iter().find(|(_, wrong)| *wrong) {
        return Err(ApiError::invalid(
            *field,
            format!("'{field}' does not belong to a {:?} event", input.kind).to_lowercase(),
        ));
    }
    let order_id = text("order_id", input.order_id, rules::MAX_ORDER_ID, Lines::One)?;
    let kind = match input.kind {
        EventKindName::Purchase => {
            let raw = match input.amount {
                Some(Amount::Text(s)) => s,
                Some(Amount::Number(n)) if n.is_finite() => format!("{n}"),
                Some(Amount::Number(_)) => return Err(ApiError::invalid("amount", "amount must be a finite number")),
                None => return Err(ApiError::invalid("amount", "a purchase needs 'amount'")),
            };
            let amount = Money::parse_purchase(&raw).map_err(|e| ApiError::invalid("amount", e.0))?;
            let currency = match input.currency {
                Some(code) => Currency::parse(&code).map_err(|e| ApiError::invalid("currency", e.0))?,
                None => Currency::default(),
            };
            if let Some(q) = input.quantity {
                rules::quantity(&q.to_string()).map_err(|e| ApiError::invalid("quantity", e.0))?;
            }
            EventKind::Purchase {
                amount,
                currency,
                order_id: order_id.clone(),
                quantity: input.quantity,
            }
        }
        EventKindName::Interaction => EventKind::Interaction {
            channel: required("channel", input.channel, rules::MAX_CHANNEL, "interaction")?,
            note: required("note", input.note, rules::MAX_NOTE, "interaction")?,
        },
        EventKindName::Note => EventKind::Note {
            text: required("text", input.text, rules::MAX_NOTE, "note")?,
        },
        EventKindName::Referral => {
            let raw = input.referred.unwrap_or_default();
            let referred = ExternalId::parse(&raw).map_err(|e| ApiError::invalid("referred", e.0))?;
            if referred == customer {
                return Err(ApiError::invalid(
                    "referred",
                    format!("customer '{customer}' cannot refer themself"),
                ));
            }
            EventKind::Referral {
                referred: referred.as_str().to_owned(),
            }
        }
        EventKindName::Consent => {
            let channel = required("channel", input.channel, rules::MAX_CHANNEL, "consent")?;
            if channel != "email" {
                return Err(ApiError::invalid(
                    "channel",
                    format!(
                        "consent is recorded for 'email' only, not '{}'",
                        rules::excerpt(&channel)
                    ),
                ));
            }
            let Some(given) = input.given else {
                return Err(ApiError::invalid("given", "consent needs 'given': true or false"));
            };
            EventKind::Consent {
                channel,
                given,
                reason: "sent through the API".to_owned(),
            }
        }
        EventKindName::StageChange => {
            return Err(ApiError::invalid(
                "kind",
                "stage changes are Rapport's own: use POST /api/v1/customers/{id}/stage",
            ));
        }
        EventKindName::Feedback => {
            return Err(ApiError::invalid(
                "kind",
                "feedback is checked against its survey: use POST /api/v1/surveys/{name}/responses",
            ));
        }
        EventKindName::Interview => {
            return Err(ApiError::invalid(
                "kind",
                "interviews are logged by staff: `rapport interviews log` or the customer's dashboard page",
            ));
        }
    };
    let key = match (text("event_key", input.event_key, 200, Lines::One)?, &order_id) {
        (Some(key), _) => format!("key:{key}"),
        (None, Some(order)) => format!("order:{order}"),
        (None, None) => fallback_key,
    };
    Ok(Incoming {
        customer,
        event: NewEvent { key, occurred_at, kind },
    })
}

/// A key for an event that brought none: from the request's idempotency key when there is one,
/// so a retried request maps to the same event, else random.
fn fallback_key(principal: &Principal, idempotency: Option<&IdempotencyKey>, index: usize) -> String {
    match idempotency {
        Some(IdempotencyKey(key)) => format!("idem:{}:{key}:{index}", principal.key_id),
        None => format!("api:{}", crate::server::auth::random_token(16)),
    }
}

async fn write(state: &AppState, events: Vec<Incoming>) -> Result<Vec<Outcome>, ApiError> {
    Ok(state.writer.write(events).await?)
}

/// Record one event. 201 when stored; 200 with the stored event when its key was already there.
#[utoipa::path(post, path = "/events", tag = "events", request_body = EventInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely: the first answer is given again")),
    responses((status = 201, body = EventView), (status = 200, body = EventView, description = "The key was stored already"),
        (status = 409, body = ErrorBody, description = "The key is stored for another customer"),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key = principal.key_id))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    idempotency: Option<Extension<IdempotencyKey>>,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<Response, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let incoming = validate(input, now, fallback_key(&principal, idempotency.as_deref(), 0))?;
    let outcome = write(&state, vec![incoming])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("the writer answered nothing"))?;
    stored_answer(outcome, "send a different event_key or order_id")
}

/// The answer to one event written: 201 with it when stored, 200 with the stored one when its key
/// was there already, 409 when the key is another event's (`hint` says what to send instead).
pub(super) fn stored_answer(outcome: Outcome, hint: &str) -> Result<Response, ApiError> {
    if outcome.conflict {
        return Err(ApiError::conflict(format!(
            "the event key '{}' is already stored for another customer or event; {hint}",
            outcome.event.key
        ))
        .with_field("event_key"));
    }
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // A repeat of a stored key is told by the 200; `Idempotent-Replayed` is the idempotency
    // layer's, for a replayed `Idempotency-Key` only.
    Ok((status, ApiJson(EventView::new(outcome.event, &outcome.customer))).into_response())
}

/// Record up to 10,000 events at once: all are stored, or none when one is invalid.
#[utoipa::path(post, path = "/events/batch", tag = "events", request_body = BatchInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely: the first answer is given again")),
    responses((status = 200, body = BatchResult), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key = principal.key_id, events = input.events.len()))]
pub async fn batch(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    idempotency: Option<Extension<IdempotencyKey>>,
    ApiJson(input): ApiJson<BatchInput>,
) -> Result<ApiJson<BatchResult>, ApiError> {
    if input.events.is_empty() || input.events.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "events",
            format!("a batch holds 1 to {MAX_BATCH} events, not {}", input.events.len()),
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let incoming = input
        .events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            validate(event, now, fallback_key(&principal, idempotency.as_deref(), i)).map_err(|mut e| {
                e.field = Some(format!("events[{i}].{}", e.field.as_deref().unwrap_or("")));
                e.message = format!("event {i}: {}", e.message);
                e
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outcomes = write(&state, incoming).await?;
    let created = outcomes.iter().filter(|o| o.created).count();
    let conflicts = outcomes.iter().filter(|o| o.conflict).count();
    let results: Vec<BatchItem> = outcomes
        .into_iter()
        .map(|o| match (o.conflict, o.created) {
            (true, _) => BatchItem {
                status: "conflict".to_owned(),
                error: Some(format!(
                    "the event key '{}' is already stored for another customer",
                    o.event.key
                )),
                event: None,
            },
            (false, created) => BatchItem {
                status: if created { "created" } else { "duplicate" }.to_owned(),
                event: Some(EventView::new(o.event, &o.customer)),
                error: None,
            },
        })
        .collect();
    Ok(ApiJson(BatchResult {
        created,
        duplicates: results.len() - created - conflicts,
        conflicts,
        results,
    }))
}
