//! The webhook outbox's records: subscriptions, messages written in the transaction of what they
//! announce, deliveries claimed by workers under a lease, and the log of every attempt. Their SQL
//! is in `webhooks.rs` (the store's side) and `tx.rs` (a write transaction's side), except the
//! claim, which the mail outbox (`mail.rs`) takes the same way (`stamp_claim`).

use super::StoreResult;
use super::backend::Backend;
use crate::domain::webhook::{EventType, WebhookSecret};

/// A subscription to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// What it wants, at least one type.
    pub event_types: Vec<EventType>,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// What the subscription is for.
    pub description: Option<String>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

/// A stored subscription that has not been deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    /// The subscription's number.
    pub id: i64,
    /// The rest, as created.
    pub subscription: NewSubscription,
}

/// A message for the outbox, and the subscriptions it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// `msg_...`: the `webhook-id` header, the same on every attempt.
    pub id: String,
    /// What it announces.
    pub event_type: EventType,
    /// The JSON body, sent byte for byte.
    pub payload: String,
    /// When it was written (Unix seconds).
    pub created_at: i64,
    /// The subscriptions that get a delivery.
    pub subscriptions: Vec<i64>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every attempt of the retry schedule failed.
    Failed,
    /// Its subscription was deleted before it was delivered.
    Cancelled,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    /// The status a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// When it started (Unix milliseconds).
    pub attempted_ms: i64,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// A delivery of one message to one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The delivery's number.
    pub id: i64,
    /// The message's id.
    pub message_id: String,
    /// What the message announces.
    pub event_type: EventType,
    /// The JSON body.
    pub payload: String,
    /// When the message was written (Unix seconds).
    pub created_at: i64,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// When it is tried next, while pending (Unix milliseconds).
    pub next_attempt_ms: i64,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptRecord>,
}

/// A page of a subscription's deliveries, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPage {
    /// The subscription.
    pub subscription: i64,
    /// Only deliveries with a smaller number.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// What a worker asks for: due deliveries nobody else holds, held until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// A token unique to this claim.
    pub by: String,
    /// Now (Unix milliseconds).
    pub now_ms: i64,
    /// The lease ends then; another worker may take the delivery over after it.
    pub until_ms: i64,
    /// At most this many.
    pub limit: u32,
}

/// Stamps `claim` on up to `claim.limit` rows of an outbox `table` that are `pending` (the status
/// waiting rows have), due and held by no live claim, soonest due first, where `also` holds too
/// (`AND ...`, or empty). On PostgreSQL rows another transaction is claiming are skipped, so
/// claimers at once take disjoint rows; SQLite's writers take turns. The caller then reads its
/// rows back by `claimed_by`.
pub(super) async fn stamp_claim<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    claim: &Claim,
    table: &str,
    pending: &str,
    also: &str,
) -> StoreResult<()> {
    let sql = format!(
        "UPDATE {table} SET claimed_by = $1, claimed_until_ms = $3 WHERE id IN ( \
         SELECT id FROM {table} WHERE status = '{pending}' AND next_attempt_ms <= $2 \
         AND (claimed_until_ms IS NULL OR claimed_until_ms < $2) {also} \
         ORDER BY next_attempt_ms LIMIT $4 {})",
        DB::SKIP_LOCKED
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&claim.by)
        .bind(claim.now_ms)
        .bind(claim.until_ms)
        .bind(i64::from(claim.limit))
        .execute(pool)
        .await?;
    Ok(())
}

/// A delivery a worker holds, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery's number.
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The message's id.
    pub message_id: String,
    /// The JSON body.
    pub payload: String,
    /// Where to send it.
    pub url: String,
    /// What to sign it with.
    pub secret: WebhookSecret,
}

/// What an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: no more attempts.
    Delivered,
    /// Try again at this time (Unix milliseconds).
    RetryAt(i64),
    /// The retry schedule is used up.
    GiveUp,
}

/// An attempt made by the worker holding claim `claimed_by`, and what follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The delivery.
    pub delivery_id: i64,
    /// The claim it was made under.
    pub claimed_by: String,
    /// The attempt.
    pub attempt: AttemptRecord,
    /// What follows.
    pub next: NextStep,
}

/// A client or partner whose P(alive) crossed below the threshold in the latest scoring.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AtRiskRow {
    /// The business's id.
    pub customer_id: String,
    /// Full name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Lifecycle stage.
    pub stage: String,
    /// P(alive) now.
    pub p_alive: f64,
    /// P(alive) at the scoring before.
    pub previous_p_alive: f64,
    /// 12-month lifetime value.
    pub clv_12m: f64,
    /// The sentence that explains the scores.
    pub explanation: String,
    /// The model version that scored.
    pub model_version: i64,
}

/// What a write transaction owes the outbox's signal: a wake-up when it commits, if it wrote.
pub(crate) struct OutboxWrites {
    signal: std::sync::Arc<tokio::sync::Notify>,
    wrote: bool,
}

impl OutboxWrites {
    /// Nothing written yet, for a store's signal.
    pub(crate) fn new(signal: &std::sync::Arc<tokio::sync::Notify>) -> Self {
        Self {
            signal: signal.clone(),
            wrote: false,
        }
    }

    /// The transaction wrote messages.
    pub(crate) fn wrote(&mut self) {
        self.wrote = true;
    }

    /// The transaction committed: a worker waiting on this store wakes (or its next wait returns
    /// at once).
    pub(crate) fn committed(&self) {
        if self.wrote {
            self.signal.notify_one();
        }
    }
}
