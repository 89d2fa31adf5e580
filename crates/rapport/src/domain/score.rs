//! A customer's scores as the defection radar makes them and the store keeps them: a plain row,
//! below both, so the store never reaches up into the radar for its shape.

use serde::Serialize;

/// One customer's scores, as `analyze --out` writes them and the store keeps them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    /// The business's customer id.
    pub customer_id: String,
    /// Repeat purchases (days with a purchase after the first) in the calibration period.
    pub frequency: u32,
    /// Time from first to last purchase, in the model's unit.
    pub recency: f64,
    /// Time from first purchase to the end of calibration, in the model's unit.
    #[serde(rename = "T")]
    pub age: f64,
    /// Mean spend of the repeat purchases.
    pub monetary_value: f64,
    /// Probability the customer is still active.
    pub p_alive: f64,
    /// Expected purchases in the next 90 days.
    pub expected_purchases_90d: f64,
    /// Expected purchases in the next 365 days.
    pub expected_purchases_365d: f64,
    /// Expected spend per purchase (Gamma-Gamma).
    pub expected_spend: f64,
    /// Customer lifetime value over 12 months, discounted 1% a month.
    pub clv_12m: f64,
    /// RFM recency quintile (5 = most recent).
    pub rfm_recency: u8,
    /// RFM frequency quintile.
    pub rfm_frequency: u8,
    /// RFM monetary quintile.
    pub rfm_monetary: u8,
    /// RFM segment.
    pub segment: rapport_models::Segment,
    /// Median days until the next purchase, when one is likely.
    pub expected_days_to_next_purchase: Option<f64>,
    /// One plain sentence that explains the scores.
    pub explanation: String,
}
