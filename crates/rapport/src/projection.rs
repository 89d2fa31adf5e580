//! Rebuilding every customer's state from the event log alone.

use std::sync::Arc;

use serde::Serialize;

use crate::domain::{CustomerId, CustomerState};
use crate::store::{Store, StoreResult};

/// Events read per page while replaying the log.
const PAGE: u32 = 50_000;

/// What a rebuild replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    /// Customers whose state was recomputed.
    pub customers: u64,
    /// Events replayed.
    pub events: u64,
}

/// Deletes every projected state and recomputes it by folding the log, customer by customer,
/// in one transaction: readers see the old states or the new ones, never a mix.
pub async fn rebuild(store: &Arc<dyn Store>) -> StoreResult<RebuildReport> {
    let mut tx = store.begin().await?;
    tx.clear_states().await?;
    let mut report = RebuildReport {
        customers: 0,
        events: 0,
    };
    let mut current: Option<(CustomerId, CustomerState)> = None;
    let mut finished = Vec::new();
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let page = tx.events_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = (last.customer_id.0, last.id);
        for event in page {
            if current
                .as_ref()
                .is_none_or(|(id, _)| *id != event.customer_id)
            {
                finished.extend(current.take());
                current = Some((event.customer_id, CustomerState::default()));
            }
            let (_, state) = current.as_mut().expect("set above");
            state.apply(event.occurred_at, &event.kind);
            report.events += 1;
        }
        if finished.len() >= 10_000 {
            report.customers += finished.len() as u64;
            tx.save_states(&std::mem::take(&mut finished)).await?;
        }
    }
    finished.extend(current);
    report.customers += finished.len() as u64;
    tx.save_states(&finished).await?;
    tx.commit().await?;
    Ok(report)
}
