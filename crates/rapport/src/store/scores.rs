//! The scores room: fitted model versions and each customer's latest scores.

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::{FitRecord, SqlStore, StoreError, StoreResult};
use crate::domain::CustomerId;
use crate::domain::score::ScoreRow;

/// Model versions and the scores they gave. Scores are written in a `WriteTx` (`save_scores`).
#[async_trait]
pub trait Scores: Send + Sync {
    /// Stores a fitted model version and returns its id.
    async fn save_fit(&self, fit: &FitRecord) -> StoreResult<i64>;
    /// The most recently stored model version.
    async fn latest_fit(&self) -> StoreResult<Option<FitRecord>>;
    /// A customer's latest scores.
    async fn score(&self, customer: CustomerId) -> StoreResult<Option<ScoreRow>>;
}

#[async_trait]
impl<DB: Backend> Scores for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(customers = fit.customers))]
    async fn save_fit(&self, fit: &FitRecord) -> StoreResult<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO model_fits (created_at, model, time_unit, calibration_end, summary, log_likelihood, customers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(fit.created_at)
        .bind(&fit.model)
        .bind(&fit.time_unit)
        .bind(&fit.calibration_end)
        .bind(fit.summary.to_string())
        .bind(fit.log_likelihood)
        .bind(fit.customers)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn latest_fit(&self) -> StoreResult<Option<FitRecord>> {
        let row = sqlx::query(
            "SELECT id, created_at, model, time_unit, calibration_end, summary, log_likelihood, customers \
             FROM model_fits ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let summary: String = row.try_get(5)?;
        Ok(Some(FitRecord {
            id: row.try_get(0)?,
            created_at: row.try_get(1)?,
            model: row.try_get(2)?,
            time_unit: row.try_get(3)?,
            calibration_end: row.try_get(4)?,
            summary: serde_json::from_str(&summary).map_err(|e| StoreError::Corrupt(format!("model fit: {e}")))?,
            log_likelihood: row.try_get(6)?,
            customers: row.try_get(7)?,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customer = customer.0))]
    async fn score(&self, customer: CustomerId) -> StoreResult<Option<ScoreRow>> {
        let row = sqlx::query(
            "SELECT c.external_id, s.frequency, s.recency, s.age, s.monetary_value, s.p_alive, s.expected_purchases_90d, s.expected_purchases_365d, s.expected_spend, \
             s.clv_12m, s.rfm_recency, s.rfm_frequency, s.rfm_monetary, s.segment, \
             s.expected_days_to_next_purchase, s.explanation \
             FROM customer_scores s JOIN customers c ON c.id = s.customer_id WHERE s.customer_id = $1",
        )
        .bind(customer.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let segment: String = row.try_get(13)?;
        let quintile = |i: usize| -> StoreResult<u8> { Ok(row.try_get::<i64, _>(i)?.clamp(0, 5) as u8) };
        Ok(Some(ScoreRow {
            customer_id: row.try_get(0)?,
            frequency: row.try_get::<i64, _>(1)?.max(0) as u32,
            recency: row.try_get(2)?,
            age: row.try_get(3)?,
            monetary_value: row.try_get(4)?,
            p_alive: row.try_get(5)?,
            expected_purchases_90d: row.try_get(6)?,
            expected_purchases_365d: row.try_get(7)?,
            expected_spend: row.try_get(8)?,
            clv_12m: row.try_get(9)?,
            rfm_recency: quintile(10)?,
            rfm_frequency: quintile(11)?,
            rfm_monetary: quintile(12)?,
            segment: segment_of(&segment)?,
            expected_days_to_next_purchase: row.try_get(14)?,
            explanation: row.try_get(15)?,
        }))
    }
}

/// The segment a stored name stands for.
pub(super) fn segment_of(name: &str) -> StoreResult<rapport_models::Segment> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown segment '{name}'")))
}
