//! The one write path: events in, customers resolved or created, the log appended, states and
//! stages projected, all inside one transaction that is committed whole or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::stage::promotions;
use crate::domain::{CustomerId, CustomerState, EventKind, NewEvent, Stage, StageChange};
use crate::store::{EventRow, NewCustomer, Store, StoreError, StoreResult, WriteTx};

/// Events buffered before a round trip to the store.
const BATCH: usize = 20_000;

/// What an ingest stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Events appended to the log (stage changes not included).
    pub stored: u64,
    /// Events skipped because their key was already in the log.
    pub duplicates: u64,
    /// Customers created.
    pub customers_created: u64,
    /// Stage changes the new events caused.
    pub stage_changes: u64,
}

/// A customer the ingest has touched, with its state as it will be saved.
struct Slot {
    id: CustomerId,
    state: CustomerState,
    /// New purchases, interactions or referrals were stored: stages may move.
    behaviour: bool,
    /// Anything was stored, or the customer is new: the state must be saved.
    dirty: bool,
}

/// A write transaction that accepts events for customers named by the business's ids.
pub struct Ingest {
    tx: Box<dyn WriteTx>,
    source: String,
    now: i64,
    slots: HashMap<String, Slot>,
    pending: Vec<(String, NewEvent)>,
    report: IngestReport,
}

impl Ingest {
    /// Starts an ingest; `source` says where the data came from, for stage-change reasons.
    pub async fn begin(store: &Arc<dyn Store>, source: impl Into<String>) -> StoreResult<Self> {
        Ok(Self {
            tx: store.begin().await?,
            source: source.into(),
            now: chrono::Utc::now().timestamp(),
            slots: HashMap::new(),
            pending: Vec::with_capacity(BATCH),
            report: IngestReport::default(),
        })
    }

    /// Queues an event for the customer with this external id (created if unknown).
    pub async fn push(&mut self, customer: &str, event: NewEvent) -> StoreResult<()> {
        self.pending.push((customer.to_owned(), event));
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Creates or updates customers' profiles. Returns how many were created and how many changed.
    pub async fn upsert_profiles(&mut self, profiles: Vec<NewCustomer>) -> StoreResult<(u64, u64)> {
        let ids: Vec<&str> = profiles.iter().map(|p| p.external_id.as_str()).collect();
        let existing: HashMap<String, CustomerId> = self
            .tx
            .find_customers(&ids)
            .await?
            .into_iter()
            .map(|(ext, id, _)| (ext, id))
            .collect();
        let (old, new): (Vec<NewCustomer>, Vec<NewCustomer>) = profiles
            .into_iter()
            .partition(|p| existing.contains_key(&p.external_id));
        let updates: Vec<(CustomerId, NewCustomer)> = old
            .into_iter()
            .map(|p| (existing[&p.external_id], p))
            .collect();
        self.tx.update_profiles(&updates).await?;
        let created = self.create(new).await?;
        Ok((created, updates.len() as u64))
    }

    /// Moves an existing customer to `to` by hand; `None` when it is already there.
    pub async fn set_stage(
        &mut self,
        customer: &str,
        to: Stage,
        reason: String,
    ) -> StoreResult<Option<StageChange>> {
        self.flush().await?;
        if !self.slots.contains_key(customer) {
            let found = self.tx.find_customers(&[customer]).await?;
            let (ext, id, state) = found
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::NotFound(format!("no customer with id '{customer}'")))?;
            self.slots.insert(
                ext,
                Slot {
                    id,
                    state,
                    behaviour: false,
                    dirty: false,
                },
            );
        }
        let slot = &self.slots[customer];
        if slot.state.stage == Some(to) {
            return Ok(None);
        }
        let change = StageChange {
            from: slot.state.stage,
            to,
            at: self.now,
            reason,
        };
        let event = NewEvent {
            key: format!("stage:{}:{}", slot.id, slot.state.stage_changes + 1),
            occurred_at: change.at,
            kind: EventKind::StageChange {
                from: change.from,
                to,
                reason: change.reason.clone(),
            },
        };
        self.push(customer, event).await?;
        self.flush().await?;
        Ok(Some(change))
    }

    /// Resolves the batch's customers, appends its events and folds the stored ones into states.
    async fn flush(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.resolve_customers().await?;
        let pending = std::mem::take(&mut self.pending);
        let rows: Vec<EventRow> = pending
            .iter()
            .map(|(ext, event)| EventRow::encode(self.slots[ext].id, event, self.now))
            .collect();
        let stored = self.tx.insert_events(&rows).await?;
        for ((ext, event), was_stored) in pending.iter().zip(stored) {
            if !was_stored {
                self.report.duplicates += 1;
                continue;
            }
            self.report.stored += 1;
            let slot = self.slots.get_mut(ext).expect("resolved above");
            slot.state.apply(event.occurred_at, &event.kind);
            slot.dirty = true;
            slot.behaviour |= !matches!(
                event.kind,
                EventKind::StageChange { .. } | EventKind::Note { .. }
            );
        }
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// Loads the batch's customers the ingest has not seen yet, and creates the unknown ones.
    async fn resolve_customers(&mut self) -> StoreResult<()> {
        let mut unknown: Vec<&str> = self
            .pending
            .iter()
            .map(|(ext, _)| ext.as_str())
            .filter(|ext| !self.slots.contains_key(*ext))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        let found = self.tx.find_customers(&unknown).await?;
        let new: Vec<NewCustomer> = {
            let known: std::collections::HashSet<&str> =
                found.iter().map(|(ext, _, _)| ext.as_str()).collect();
            unknown
                .iter()
                .filter(|ext| !known.contains(*ext))
                .map(|ext| NewCustomer {
                    external_id: (*ext).to_owned(),
                    created_at: self.now,
                    ..Default::default()
                })
                .collect()
        };
        for (ext, id, state) in found {
            self.slots.insert(
                ext,
                Slot {
                    id,
                    state,
                    behaviour: false,
                    dirty: false,
                },
            );
        }
        self.create(new).await?;
        Ok(())
    }

    async fn create(&mut self, new: Vec<NewCustomer>) -> StoreResult<u64> {
        if new.is_empty() {
            return Ok(0);
        }
        let ids = self.tx.create_customers(&new).await?;
        let created = new.len() as u64;
        for (customer, id) in new.into_iter().zip(ids) {
            let slot = Slot {
                id,
                state: CustomerState::default(),
                behaviour: false,
                dirty: true,
            };
            self.slots.insert(customer.external_id, slot);
        }
        self.report.customers_created += created;
        Ok(created)
    }

    /// Records the stage changes the new events earned, saves every touched state and commits.
    pub async fn finish(mut self) -> StoreResult<IngestReport> {
        self.flush().await?;
        let mut rows = Vec::new();
        let mut states = Vec::new();
        for slot in self.slots.values_mut().filter(|s| s.dirty) {
            for change in stage_changes(slot, &self.source, self.now) {
                let event = NewEvent {
                    key: format!("stage:{}:{}", slot.id, slot.state.stage_changes + 1),
                    occurred_at: change.at,
                    kind: EventKind::StageChange {
                        from: change.from,
                        to: change.to,
                        reason: change.reason,
                    },
                };
                slot.state.apply(event.occurred_at, &event.kind);
                rows.push(EventRow::encode(slot.id, &event, self.now));
            }
            states.push((slot.id, slot.state.clone()));
        }
        self.report.stage_changes = rows.len() as u64;
        self.tx.insert_events(&rows).await?;
        self.tx.save_states(&states).await?;
        self.tx.commit().await?;
        Ok(self.report)
    }
}

/// The stage changes a touched customer is due: promotions earned by new behaviour, or `suspect`
/// for a customer who has no stage yet.
fn stage_changes(slot: &Slot, source: &str, now: i64) -> Vec<StageChange> {
    let mut changes = if slot.behaviour {
        promotions(&slot.state)
    } else {
        Vec::new()
    };
    if changes.is_empty() && slot.state.stage.is_none() {
        changes.push(StageChange {
            from: None,
            to: Stage::Suspect,
            at: slot.state.last_event_at.unwrap_or(now),
            reason: format!("added from {source}"),
        });
    }
    changes
}
