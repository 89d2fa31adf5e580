//! The webhook outbox: subscriptions, messages written in the transaction of what they announce,
//! deliveries claimed by workers under a lease, and the log of every attempt. The records here;
//! the SQL both backends share in `outbox_queries!`.

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

/// Generates, for one backend, the outbox's queries. The backend defines `JSON_ROWS` (a JSON
/// array bound as `$1`, one row per element, each as `value`) and `SKIP_LOCKED` (how a claim skips
/// rows another transaction is claiming).
macro_rules! outbox_queries {
    ($db:ty, $row:ty) => {
        mod outbox_sql {
            use sqlx::Row as _;

            use crate::domain::webhook::{EventType, WebhookSecret};
            use crate::store::outbox::*;
            use crate::store::{StoreError, StoreResult};

            type Conn = <$db as sqlx::Database>::Connection;

            const SUBSCRIPTION_SELECT: &str =
                "SELECT id, url, event_types, secret, description, created_at FROM webhook_subscriptions";

            fn corrupt(what: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(what.to_string())
            }

            fn event_types(json: &str) -> StoreResult<Vec<EventType>> {
                serde_json::from_str(json).map_err(|e| corrupt(format!("webhook event types '{json}': {e}")))
            }

            fn subscription_from_row(row: &$row) -> StoreResult<SubscriptionRecord> {
                let secret: String = row.try_get(3)?;
                Ok(SubscriptionRecord {
                    id: row.try_get(0)?,
                    subscription: NewSubscription {
                        url: row.try_get(1)?,
                        event_types: event_types(&row.try_get::<String, _>(2)?)?,
                        secret: WebhookSecret::parse(&secret).map_err(corrupt)?,
                        description: row.try_get(4)?,
                        created_at: row.try_get(5)?,
                    },
                })
            }

            pub async fn targets(conn: &mut Conn) -> StoreResult<Vec<(i64, Vec<EventType>)>> {
                let rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT id, event_types FROM webhook_subscriptions WHERE deleted_at IS NULL")
                        .fetch_all(&mut *conn)
                        .await?;
                rows.into_iter().map(|(id, types)| Ok((id, event_types(&types)?))).collect()
            }

            pub async fn enqueue(conn: &mut Conn, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()> {
                let rows: Vec<_> = messages
                    .iter()
                    .map(|m| serde_json::json!([m.id, m.event_type.as_str(), m.payload, m.created_at]))
                    .collect();
                let sql = format!(
                    "INSERT INTO webhook_messages (id, event_type, payload, created_at) \
                     SELECT value->>0, value->>1, value->>2, CAST(value->>3 AS BIGINT) FROM {}",
                    super::JSON_ROWS
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(serde_json::Value::Array(rows).to_string())
                    .execute(&mut *conn)
                    .await?;
                let pairs: Vec<_> = messages
                    .iter()
                    .flat_map(|m| m.subscriptions.iter().map(|s| serde_json::json!([m.id, s])))
                    .collect();
                let sql = format!(
                    "INSERT INTO webhook_deliveries (message_id, subscription_id, status, attempts, next_attempt_ms) \
                     SELECT value->>0, CAST(value->>1 AS BIGINT), 'pending', 0, $2 FROM {}",
                    super::JSON_ROWS
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(serde_json::Value::Array(pairs).to_string())
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub async fn at_risk(conn: &mut Conn, threshold: f64, scored_at: i64) -> StoreResult<Vec<AtRiskRow>> {
                let rows = sqlx::query(
                    "SELECT c.external_id, c.name, c.email, s.stage, sc.p_alive, sc.previous_p_alive, sc.clv_12m, \
                     sc.explanation, sc.fit_id FROM customer_scores sc \
                     JOIN customers c ON c.id = sc.customer_id JOIN customer_state s ON s.customer_id = c.id \
                     WHERE sc.scored_at = $2 AND sc.p_alive < $1 AND sc.previous_p_alive >= $1 \
                     AND s.stage IN ('client', 'partner') ORDER BY c.id",
                )
                .bind(threshold)
                .bind(scored_at)
                .fetch_all(&mut *conn)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(AtRiskRow {
                            customer_id: row.try_get(0)?,
                            name: row.try_get(1)?,
                            email: row.try_get(2)?,
                            stage: row.try_get(3)?,
                            p_alive: row.try_get(4)?,
                            previous_p_alive: row.try_get(5)?,
                            clv_12m: row.try_get(6)?,
                            explanation: row.try_get(7)?,
                            model_version: row.try_get(8)?,
                        })
                    })
                    .collect()
            }

            pub async fn create<'e>(
                ex: impl sqlx::Executor<'e, Database = $db>,
                new: &NewSubscription,
            ) -> StoreResult<i64> {
                let types: Vec<&str> = new.event_types.iter().map(|t| t.as_str()).collect();
                let id = sqlx::query_scalar(
                    "INSERT INTO webhook_subscriptions (url, event_types, secret, description, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&new.url)
                .bind(serde_json::to_string(&types).expect("names serialize"))
                .bind(new.secret.expose())
                .bind(&new.description)
                .bind(new.created_at)
                .fetch_one(ex)
                .await?;
                Ok(id)
            }

            pub async fn list<'e>(
                ex: impl sqlx::Executor<'e, Database = $db>,
                id: Option<i64>,
            ) -> StoreResult<Vec<SubscriptionRecord>> {
                let sql = format!("{SUBSCRIPTION_SELECT} WHERE deleted_at IS NULL AND ($1 IS NULL OR id = $1) ORDER BY id");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(ex).await?;
                rows.iter().map(subscription_from_row).collect()
            }

            pub async fn delete(pool: &sqlx::Pool<$db>, id: i64, now: i64) -> StoreResult<bool> {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE webhook_subscriptions SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE webhook_deliveries SET status = 'cancelled' WHERE subscription_id = $1 AND status = 'pending'")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn deliveries(pool: &sqlx::Pool<$db>, page: DeliveryPage) -> StoreResult<Vec<DeliveryRecord>> {
                let before = page.before.unwrap_or(i64::MAX);
                let limit = i64::from(page.limit);
                let rows = sqlx::query(
                    "SELECT d.id, d.message_id, m.event_type, m.payload, m.created_at, d.status, d.next_attempt_ms \
                     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id \
                     WHERE d.subscription_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3",
                )
                .bind(page.subscription)
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await?;
                let mut deliveries = rows
                    .iter()
                    .map(|row| {
                        let event_type: String = row.try_get(2)?;
                        let status: String = row.try_get(5)?;
                        Ok(DeliveryRecord {
                            id: row.try_get(0)?,
                            message_id: row.try_get(1)?,
                            event_type: event_type.parse().map_err(corrupt)?,
                            payload: row.try_get(3)?,
                            created_at: row.try_get(4)?,
                            status: DeliveryStatus::parse(&status)
                                .ok_or_else(|| corrupt(format!("delivery status '{status}'")))?,
                            next_attempt_ms: row.try_get(6)?,
                            attempts: Vec::new(),
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                let attempts: Vec<(i64, i64, Option<i64>, Option<String>, i64)> = sqlx::query_as(
                    "SELECT delivery_id, attempted_ms, http_status, error, duration_ms FROM webhook_attempts \
                     WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = $1 AND id < $2 \
                     ORDER BY id DESC LIMIT $3) ORDER BY delivery_id, id",
                )
                .bind(page.subscription)
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await?;
                for (delivery, attempted_ms, status, error, duration_ms) in attempts {
                    if let Some(d) = deliveries.iter_mut().find(|d| d.id == delivery) {
                        d.attempts.push(AttemptRecord {
                            attempted_ms,
                            http_status: status.and_then(|s| u16::try_from(s).ok()),
                            error,
                            duration_ms,
                        });
                    }
                }
                Ok(deliveries)
            }

            pub async fn claim(pool: &sqlx::Pool<$db>, claim: &Claim) -> StoreResult<Vec<ClaimedDelivery>> {
                let sql = format!(
                    "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until_ms = $3 WHERE id IN ( \
                     SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_ms <= $2 \
                     AND (claimed_until_ms IS NULL OR claimed_until_ms < $2) \
                     AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE deleted_at IS NULL) \
                     ORDER BY next_attempt_ms LIMIT $4 {})",
                    super::SKIP_LOCKED
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&claim.by)
                    .bind(claim.now_ms)
                    .bind(claim.until_ms)
                    .bind(i64::from(claim.limit))
                    .execute(pool)
                    .await?;
                let rows: Vec<(i64, i64, String, String, String, String)> = sqlx::query_as(
                    "SELECT d.id, d.attempts, d.message_id, m.payload, s.url, s.secret FROM webhook_deliveries d \
                     JOIN webhook_messages m ON m.id = d.message_id JOIN webhook_subscriptions s ON s.id = d.subscription_id \
                     WHERE d.claimed_by = $1 AND d.status = 'pending' ORDER BY d.next_attempt_ms, d.id",
                )
                .bind(&claim.by)
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .map(|(id, attempts, message_id, payload, url, secret)| {
                        Ok(ClaimedDelivery {
                            id,
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            message_id,
                            payload,
                            url,
                            secret: WebhookSecret::parse(&secret).map_err(corrupt)?,
                        })
                    })
                    .collect()
            }

            pub async fn record(pool: &sqlx::Pool<$db>, result: &AttemptResult) -> StoreResult<()> {
                let attempt = &result.attempt;
                let (status, next) = match result.next {
                    NextStep::Delivered => (DeliveryStatus::Delivered, attempt.attempted_ms),
                    NextStep::RetryAt(at) => (DeliveryStatus::Pending, at),
                    NextStep::GiveUp => (DeliveryStatus::Failed, attempt.attempted_ms),
                };
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO webhook_attempts (delivery_id, attempted_ms, http_status, error, duration_ms) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(result.delivery_id)
                .bind(attempt.attempted_ms)
                .bind(attempt.http_status.map(i64::from))
                .bind(&attempt.error)
                .bind(attempt.duration_ms)
                .execute(&mut *tx)
                .await?;
                // A claim that lapsed belongs to another worker now: its attempt is logged, but
                // the delivery's state is the other worker's to set.
                sqlx::query(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, \
                     first_attempt_ms = COALESCE(first_attempt_ms, $3), status = $4, next_attempt_ms = $5, \
                     claimed_by = NULL, claimed_until_ms = NULL WHERE id = $1 AND claimed_by = $2",
                )
                .bind(result.delivery_id)
                .bind(&result.claimed_by)
                .bind(attempt.attempted_ms)
                .bind(status.as_str())
                .bind(next)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn redeliver<'e>(
                ex: impl sqlx::Executor<'e, Database = $db>,
                subscription: i64,
                delivery: i64,
                now_ms: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_ms = $3, claimed_by = NULL, \
                     claimed_until_ms = NULL WHERE id = $2 AND subscription_id = $1 AND status <> 'pending' \
                     AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE deleted_at IS NULL)",
                )
                .bind(subscription)
                .bind(delivery)
                .bind(now_ms)
                .execute(ex)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use outbox_queries;

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
