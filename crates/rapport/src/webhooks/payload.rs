//! The `data` of each event type's message.

use serde::Serialize;

use super::wire::{EventView, timestamp};
use crate::domain::{Stage, StageChange, StoredEvent};
use crate::store::{AtRiskRow, NewCustomer};

/// `customer.created`: the profile as it was created.
#[derive(Debug, Serialize)]
pub struct CustomerCreated<'a> {
    /// The business's id.
    pub id: &'a str,
    /// Full name.
    pub name: Option<&'a str>,
    /// E-mail address.
    pub email: Option<&'a str>,
    /// Phone number.
    pub phone: Option<&'a str>,
    /// Further fields.
    pub attributes: &'a serde_json::Map<String, serde_json::Value>,
    /// When Rapport created it.
    pub created_at: String,
}

impl<'a> From<&'a NewCustomer> for CustomerCreated<'a> {
    fn from(c: &'a NewCustomer) -> Self {
        Self {
            id: c.external_id.as_str(),
            name: c.name.as_deref(),
            email: c.email.as_ref().map(|e| e.as_str()),
            phone: c.phone.as_deref(),
            attributes: &c.attributes,
            created_at: timestamp(c.created_at),
        }
    }
}

/// `customer.stage_changed`: who moved, from where to where, and why.
#[derive(Debug, Serialize)]
pub struct StageChanged<'a> {
    /// The business's id of the customer.
    pub customer_id: &'a str,
    /// The stage before (none for a customer's first stage).
    pub from_stage: Option<Stage>,
    /// The stage after.
    pub to_stage: Stage,
    /// Why.
    pub reason: &'a str,
    /// When.
    pub changed_at: String,
}

impl<'a> StageChanged<'a> {
    /// The message of a stage change of this customer.
    pub fn new(customer_id: &'a str, change: &'a StageChange) -> Self {
        Self {
            customer_id,
            from_stage: change.from,
            to_stage: change.to,
            reason: &change.reason,
            changed_at: timestamp(change.at),
        }
    }
}

/// `event.created`: the event as `GET /api/v1/customers/{id}/events` shows it.
pub fn event_created(event: StoredEvent, customer_id: &str) -> EventView {
    EventView::new(event, customer_id)
}

/// `customer.at_risk`: the customer, the fall in P(alive), and what is at stake.
#[derive(Debug, Serialize)]
pub struct AtRisk<'a> {
    /// The customer and the scores.
    #[serde(flatten)]
    pub row: &'a AtRiskRow,
    /// The threshold crossed.
    pub threshold: f64,
}

/// `plan.fired`: which plan fired for whom, why and when.
#[derive(Debug, Serialize)]
pub struct PlanFired<'a> {
    /// The plan's name.
    pub plan: &'a str,
    /// The plan's version that fired.
    pub plan_version: i64,
    /// The business's id of the customer.
    pub customer_id: &'a str,
    /// What caused it: `event:ID`, `first_purchase`, `second_order`, `overdue:TIME`,
    /// `scoring:TIME`, `anniversary:N` or `schedule:TIME`.
    pub cause: &'a str,
    /// When it was due.
    pub due_at: String,
    /// When it fired.
    pub fired_at: String,
    /// Why now, in a sentence, when the trigger gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'a str>,
}

impl<'a> PlanFired<'a> {
    /// The message of `plan` firing for a customer at `now`.
    pub fn new(
        plan: &'a crate::store::PlanRecord,
        occurrence: &'a crate::store::DueOccurrence,
        customer_id: &'a str,
        why: Option<&'a str>,
        now: i64,
    ) -> Self {
        Self {
            plan: &plan.spec.name,
            plan_version: plan.version,
            customer_id,
            cause: &occurrence.cause,
            due_at: timestamp(occurrence.due_at),
            fired_at: timestamp(now),
            why,
        }
    }
}
