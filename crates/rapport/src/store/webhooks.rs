//! The webhooks room: subscriptions, and the outbox's deliveries as workers claim, attempt and
//! settle them. Messages are written in the transaction of what they announce (`WriteTx`).

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row as _;
use tokio::sync::Notify;

use super::backend::Backend;
use super::outbox::{
    AttemptRecord, AttemptResult, Claim, ClaimedDelivery, DeliveryPage, DeliveryRecord, DeliveryStatus,
    NewSubscription, NextStep, SubscriptionRecord, stamp_claim,
};
use super::{SqlStore, StoreError, StoreResult};
use crate::domain::webhook::{EventType, WebhookSecret};

/// Webhook subscriptions and the delivery of the outbox's messages to them.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Stores a webhook subscription and returns its number.
    async fn create_webhook(&self, subscription: &NewSubscription) -> StoreResult<i64>;
    /// The webhook subscriptions not deleted, oldest first.
    async fn webhooks(&self) -> StoreResult<Vec<SubscriptionRecord>>;
    /// One webhook subscription, unless deleted.
    async fn webhook(&self, id: i64) -> StoreResult<Option<SubscriptionRecord>>;
    /// Deletes a subscription and cancels its pending deliveries; false when there is none.
    async fn delete_webhook(&self, id: i64, now: i64) -> StoreResult<bool>;
    /// A page of a subscription's deliveries, newest first, each with its attempts.
    async fn webhook_deliveries(&self, page: DeliveryPage) -> StoreResult<Vec<DeliveryRecord>>;
    /// Takes due deliveries that no live claim holds, for one worker until the claim's end.
    async fn claim_webhook_deliveries(&self, claim: &Claim) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Logs an attempt and moves its delivery on (unless its claim lapsed meanwhile).
    async fn record_webhook_attempt(&self, result: &AttemptResult) -> StoreResult<()>;
    /// Makes a delivered, failed or cancelled delivery pending again, due now; false when there is
    /// no such delivery of this live subscription.
    async fn redeliver_webhook(&self, subscription: i64, delivery: i64, now_ms: i64) -> StoreResult<bool>;
    /// Signalled when a transaction that wrote to the outbox commits, so a delivery worker on this
    /// store wakes at once instead of at its next poll.
    fn outbox_signal(&self) -> Arc<Notify>;
}

const SUBSCRIPTION_SELECT: &str =
    "SELECT id, url, event_types, secret, description, created_at FROM webhook_subscriptions";

#[async_trait]
impl<DB: Backend> Webhooks for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(event_types = subscription.event_types.len()))]
    async fn create_webhook(&self, subscription: &NewSubscription) -> StoreResult<i64> {
        let types: Vec<&str> = subscription.event_types.iter().map(|t| t.as_str()).collect();
        let id = sqlx::query_scalar(
            "INSERT INTO webhook_subscriptions (url, event_types, secret, description, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&subscription.url)
        .bind(serde_json::to_string(&types).expect("names serialize"))
        .bind(subscription.secret.expose())
        .bind(&subscription.description)
        .bind(subscription.created_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn webhooks(&self) -> StoreResult<Vec<SubscriptionRecord>> {
        subscriptions(&self.pool, None).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(subscription = id))]
    async fn webhook(&self, id: i64) -> StoreResult<Option<SubscriptionRecord>> {
        Ok(subscriptions(&self.pool, Some(id)).await?.pop())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(subscription = id))]
    async fn delete_webhook(&self, id: i64, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE webhook_subscriptions SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled' WHERE subscription_id = $1 AND status = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(subscription = page.subscription, limit = page.limit))]
    async fn webhook_deliveries(&self, page: DeliveryPage) -> StoreResult<Vec<DeliveryRecord>> {
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
        .fetch_all(&self.pool)
        .await?;
        let mut deliveries = rows
            .iter()
            .map(delivery_from_row::<DB>)
            .collect::<StoreResult<Vec<_>>>()?;
        let attempts: Vec<(i64, i64, Option<i64>, Option<String>, i64)> = sqlx::query_as(
            "SELECT delivery_id, attempted_ms, http_status, error, duration_ms FROM webhook_attempts \
             WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3) ORDER BY delivery_id, id",
        )
        .bind(page.subscription)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
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

    #[tracing::instrument(level = "debug", skip_all, fields(limit = claim.limit))]
    async fn claim_webhook_deliveries(&self, claim: &Claim) -> StoreResult<Vec<ClaimedDelivery>> {
        stamp_claim(
            &self.pool,
            claim,
            "webhook_deliveries",
            DeliveryStatus::Pending.as_str(),
            "AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE deleted_at IS NULL)",
        )
        .await?;
        let rows: Vec<(i64, i64, String, String, String, String)> = sqlx::query_as(
            "SELECT d.id, d.attempts, d.message_id, m.payload, s.url, s.secret FROM webhook_deliveries d \
             JOIN webhook_messages m ON m.id = d.message_id JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             WHERE d.claimed_by = $1 AND d.status = 'pending' ORDER BY d.next_attempt_ms, d.id",
        )
        .bind(&claim.by)
        .fetch_all(&self.pool)
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

    #[tracing::instrument(level = "debug", skip_all, fields(delivery = result.delivery_id))]
    async fn record_webhook_attempt(&self, result: &AttemptResult) -> StoreResult<()> {
        let attempt = &result.attempt;
        let (status, next) = match result.next {
            NextStep::Delivered => (DeliveryStatus::Delivered, attempt.attempted_ms),
            NextStep::RetryAt(at) => (DeliveryStatus::Pending, at),
            NextStep::GiveUp => (DeliveryStatus::Failed, attempt.attempted_ms),
        };
        let mut tx = self.pool.begin().await?;
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

    #[tracing::instrument(level = "debug", skip_all, fields(subscription, delivery))]
    async fn redeliver_webhook(&self, subscription: i64, delivery: i64, now_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_ms = $3, claimed_by = NULL, \
             claimed_until_ms = NULL WHERE id = $2 AND subscription_id = $1 AND status <> 'pending' \
             AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE deleted_at IS NULL)",
        )
        .bind(subscription)
        .bind(delivery)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }
}

/// The live subscriptions, or the one numbered `id`.
async fn subscriptions<DB: Backend>(pool: &sqlx::Pool<DB>, id: Option<i64>) -> StoreResult<Vec<SubscriptionRecord>> {
    let sql = format!("{SUBSCRIPTION_SELECT} WHERE deleted_at IS NULL AND ($1 IS NULL OR id = $1) ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(pool).await?;
    rows.iter().map(subscription_from_row::<DB>).collect()
}

fn subscription_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<SubscriptionRecord> {
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

/// A delivery without its attempts, from the columns `webhook_deliveries` selects.
fn delivery_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<DeliveryRecord> {
    let event_type: String = row.try_get(2)?;
    let status: String = row.try_get(5)?;
    Ok(DeliveryRecord {
        id: row.try_get(0)?,
        message_id: row.try_get(1)?,
        event_type: event_type.parse().map_err(corrupt)?,
        payload: row.try_get(3)?,
        created_at: row.try_get(4)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt(format!("delivery status '{status}'")))?,
        next_attempt_ms: row.try_get(6)?,
        attempts: Vec::new(),
    })
}

/// A subscription's event types as stored (a JSON array of names).
pub(super) fn event_types(json: &str) -> StoreResult<Vec<EventType>> {
    serde_json::from_str(json).map_err(|e| corrupt(format!("webhook event types '{json}': {e}")))
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}
