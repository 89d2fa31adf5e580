//! Customer state as a fold over the log: used after every write, and by `rapport rebuild`.

use std::sync::Arc;

use serde::Serialize;

use crate::domain::{CustomerId, CustomerState, EventKind, StoredEvent};
use crate::store::{ResponseRow, Store, StoreResult};

/// Events read per page while replaying the log.
const PAGE: u32 = 50_000;

/// One customer's state folded from its events.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// Whose state.
    pub customer: CustomerId,
    /// The state.
    pub state: CustomerState,
    /// The log id of the customer's latest purchase, interaction or referral: behaviour that can earn a stage.
    pub last_behaviour_id: Option<i64>,
}

/// Folds events that come customer by customer, each customer's in log order.
pub fn fold(events: &[StoredEvent]) -> Vec<Folded> {
    let mut out: Vec<Folded> = Vec::new();
    for event in events {
        if out.last().is_none_or(|f| f.customer != event.customer_id) {
            out.push(Folded {
                customer: event.customer_id,
                state: CustomerState::default(),
                last_behaviour_id: None,
            });
        }
        out.last_mut().expect("pushed above").apply(event);
    }
    out
}

impl Folded {
    /// Folds in one more of the customer's events, which comes after every one folded so far.
    pub fn apply(&mut self, event: &StoredEvent) {
        self.state.apply(event.occurred_at, &event.kind);
        if matches!(
            event.kind,
            EventKind::Purchase { .. } | EventKind::Interaction { .. } | EventKind::Referral { .. }
        ) {
            self.last_behaviour_id = Some(event.id);
        }
    }
}

/// What a rebuild replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    /// Customers whose state was recomputed.
    pub customers: u64,
    /// Events replayed.
    pub events: u64,
}

/// Deletes every projected state and recomputes it from the log, customer by customer, in one
/// transaction: readers see the old states or the new ones, never a mix.
pub async fn rebuild(store: &Arc<dyn Store>) -> StoreResult<RebuildReport> {
    let mut tx = store.begin().await?;
    tx.clear_states().await?;
    tx.feedback().clear_event_responses().await?;
    let mut report = RebuildReport {
        customers: 0,
        events: 0,
    };
    let mut after = (i64::MIN, i64::MIN);
    let mut carry: Vec<StoredEvent> = Vec::new();
    loop {
        let page = tx.events_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = (last.customer_id.0, last.id);
        report.events += page.len() as u64;
        // The page's last customer may go on in the next page: keep its events for then.
        let last_customer = last.customer_id;
        carry.extend(page);
        let split = carry
            .iter()
            .position(|e| e.customer_id == last_customer)
            .unwrap_or(carry.len());
        let rest = carry.split_off(split);
        save(&mut *tx, &carry, &mut report).await?;
        carry = rest;
    }
    save(&mut *tx, &carry, &mut report).await?;
    tx.commit().await?;
    Ok(report)
}

async fn save(
    tx: &mut dyn crate::store::WriteTx,
    events: &[StoredEvent],
    report: &mut RebuildReport,
) -> StoreResult<()> {
    let states: Vec<(CustomerId, CustomerState)> = fold(events).into_iter().map(|f| (f.customer, f.state)).collect();
    report.customers += states.len() as u64;
    tx.save_states(&states).await?;
    // Each customer's in log order: an invitation's latest answer is written last and counts.
    let responses: Vec<ResponseRow> = events.iter().filter_map(ResponseRow::from_event).collect();
    tx.feedback().record_responses(&responses).await
}
