//! The JSON API under `/api/v1`: what the CLI can see, over HTTP. Views here are the wire format;
//! the store's records stay internal.

pub mod care;
pub mod customers;
pub mod events;
pub mod keys;
pub mod reports;
pub mod surveys;
pub mod webhooks;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Money, Stage};
use crate::radar::analysis::ScoreRow;
use crate::store::{CustomerRecord, value_at_risk};
pub use crate::webhooks::wire::{EventKindName, EventView, timestamp};

/// A customer as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    /// The business's id for the customer.
    pub id: String,
    /// Full name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Further fields from the business's data.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// When Rapport first saw the customer.
    pub created_at: String,
    /// Lifecycle stage (none before the first event is processed).
    pub stage: Option<Stage>,
    /// Highest stage ever reached.
    pub max_stage: Option<Stage>,
    /// Purchases in the log.
    pub purchase_count: i64,
    /// Total spent, a decimal string in the shop's currency ("123.45").
    pub total_spend: String,
    /// First purchase.
    pub first_purchase_at: Option<String>,
    /// The second sale: the one that makes a client.
    pub second_purchase_at: Option<String>,
    /// Latest purchase.
    pub last_purchase_at: Option<String>,
    /// Interactions logged.
    pub interaction_count: i64,
    /// Referrals made.
    pub referral_count: i64,
    /// Latest event of any kind.
    pub last_event_at: Option<String>,
    /// E-mail consent: given (`true`), withdrawn (`false`), or never asked (absent); care plans
    /// e-mail only customers who gave it.
    pub email_consent: Option<bool>,
    /// When that answer was recorded.
    pub email_consent_at: Option<String>,
    /// The latest scores, when the customer has been scored.
    pub score: Option<ScoreView>,
}

impl CustomerView {
    /// The view of a stored customer and its scores.
    pub fn new(customer: CustomerRecord, score: Option<ScoreRow>) -> Self {
        let state = customer.state;
        Self {
            id: customer.external_id,
            name: customer.name,
            email: customer.email,
            phone: customer.phone,
            attributes: customer.attributes,
            created_at: timestamp(customer.created_at),
            stage: state.stage,
            max_stage: state.max_stage,
            purchase_count: state.purchase_count,
            total_spend: Money(state.total_spend_cents).to_string(),
            first_purchase_at: state.first_purchase_at.map(timestamp),
            second_purchase_at: state.second_purchase_at.map(timestamp),
            last_purchase_at: state.last_purchase_at.map(timestamp),
            interaction_count: state.interaction_count,
            referral_count: state.referral_count,
            last_event_at: state.last_event_at.map(timestamp),
            email_consent: state.email_consent,
            email_consent_at: state.email_consent_at.map(timestamp),
            score: score.map(ScoreView::from),
        }
    }
}

/// A customer's scores from the latest model version, with the sentence that explains them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoreView {
    /// Probability the customer is still active (0 to 1).
    pub p_alive: f64,
    /// Expected purchases in the next 90 days.
    pub expected_purchases_90d: f64,
    /// Expected purchases in the next 365 days.
    pub expected_purchases_365d: f64,
    /// Expected spend per purchase.
    pub expected_spend: f64,
    /// Customer lifetime value over 12 months (discounted 1 % a month).
    pub clv_12m: f64,
    /// Expected value lost: the 12-month value if still active (`clv_12m / p_alive`, capped at the
    /// purchases so far: `(frequency + 1) × expected_spend`) times the probability of being gone.
    pub value_at_risk: f64,
    /// Repeat purchases in the data the model saw.
    pub frequency: u32,
    /// RFM recency quintile (5 = most recent).
    pub rfm_recency: u8,
    /// RFM frequency quintile (5 = most frequent).
    pub rfm_frequency: u8,
    /// RFM monetary quintile (5 = biggest spender).
    pub rfm_monetary: u8,
    /// RFM segment: champions, loyal, potential_loyalist, new, promising, needs_attention,
    /// about_to_sleep, at_risk, cannot_lose, hibernating, lost.
    pub segment: String,
    /// Median days until the next purchase, when one is likely.
    pub expected_days_to_next_purchase: Option<f64>,
    /// One plain sentence that explains the scores.
    pub explanation: String,
}

impl From<ScoreRow> for ScoreView {
    fn from(row: ScoreRow) -> Self {
        let segment = serde_json::to_value(row.segment)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            value_at_risk: value_at_risk(&row),
            p_alive: row.p_alive,
            expected_purchases_90d: row.expected_purchases_90d,
            expected_purchases_365d: row.expected_purchases_365d,
            expected_spend: row.expected_spend,
            clv_12m: row.clv_12m,
            frequency: row.frequency,
            rfm_recency: row.rfm_recency,
            rfm_frequency: row.rfm_frequency,
            rfm_monetary: row.rfm_monetary,
            segment,
            expected_days_to_next_purchase: row.expected_days_to_next_purchase,
            explanation: row.explanation,
        }
    }
}
