//! The one write path: events in, customers resolved or created, the log appended, then the
//! touched customers' states re-folded from the log and their stages moved, all in one transaction
//! that is committed whole or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::stage::promotions;
use crate::domain::state::PurchaseTally;
use crate::domain::survey::NpsCategory;
use crate::domain::webhook::EventType;
use crate::domain::{CustomerId, EventKind, ExternalId, KeyConflict, NewEvent, Stage, StageChange, StoredEvent};
use crate::projection::{Folded, fold};
use crate::store::{BulkKeys, EventRow, NewCustomer, ResponseRow, Store, StoreError, StoreResult, WriteTx};
use crate::webhooks::{Outbox, payload};

/// Events buffered before a round trip to the store.
const BATCH: usize = 20_000;
/// Customers re-folded per round trip when the ingest finishes.
const REFOLD: usize = 2_000;
/// New customers settled per round trip when the ingest finishes.
const TALLIED: usize = 20_000;
/// Announced events from which a bulk load pays off (and at least half the log's size).
const BULK_EVENTS: u64 = 500_000;
/// `Seen::tally` of a customer whose state must be re-folded from the log.
const NO_TALLY: u32 = u32::MAX;

/// What the ingest knows of a customer it has seen.
#[derive(Debug, Clone, Copy)]
struct Seen {
    id: CustomerId,
    /// This ingest may have stored events of the customer: its state must be recomputed.
    touched: bool,
    /// Index into `Ingest::tallies`, or `NO_TALLY`.
    tally: u32,
}

/// Every customer an ingest has seen: the business's id leads to a slot, which holds what is
/// known, so a batch hashes each row's id once and then works by slot.
#[derive(Default)]
struct Known {
    slots: HashMap<Box<str>, u32, foldhash::quality::RandomState>,
    seen: Vec<Seen>,
}

impl Known {
    fn slot(&self, external_id: &str) -> Option<u32> {
        self.slots.get(external_id).copied()
    }

    fn get(&self, external_id: &str) -> Option<&Seen> {
        self.slot(external_id).map(|slot| &self.seen[slot as usize])
    }

    fn insert(&mut self, external_id: &str, seen: Seen) {
        match self.slots.get(external_id) {
            Some(&slot) => self.seen[slot as usize] = seen,
            None => {
                self.slots.insert(external_id.into(), self.seen.len() as u32);
                self.seen.push(seen);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &Seen)> {
        self.slots
            .iter()
            .map(|(ext, slot)| (&**ext, &self.seen[*slot as usize]))
    }
}

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

/// A write transaction that accepts events for customers named by the business's ids.
///
/// It keeps only each seen customer's id in memory (not its state), so memory grows with the
/// number of distinct customers, by a few dozen bytes each, never with the number of events.
pub struct Ingest {
    tx: Box<dyn WriteTx>,
    source: String,
    now: i64,
    /// Events with larger ids were stored by this ingest.
    first_new_id: i64,
    /// Customers existed when the ingest began. When none did, a customer it has not seen is new
    /// (or was created meanwhile by another writer, which creating finds): nothing to look up.
    customers_before: bool,
    /// Every customer seen, and whether this ingest may have changed its events.
    ids: Known,
    /// Running states of the customers this ingest created, while their events are all purchases.
    tallies: Vec<PurchaseTally>,
    /// An index was set aside for a bulk load.
    bulk: bool,
    pending: Vec<(ExternalId, NewEvent)>,
    report: IngestReport,
    /// Webhook messages for what this ingest stores, written in its transaction.
    outbox: Outbox,
    /// The business's ids of the touched customers, while `finish` settles them (kept only when
    /// a subscription wants stage changes).
    names: HashMap<CustomerId, Box<str>>,
    /// An event whose key the log holds for another customer or with other content fails the
    /// ingest, instead of being left for the caller to find.
    refuse_conflicts: bool,
    /// The events this ingest stored, by key, kept when asked (`remember_stored`) while every
    /// batch was stored whole on a store that is the log's only writer: then a batch's events
    /// took the next ids in order, and answering for them needs no reading back.
    remembered: Option<HashMap<String, StoredEvent>>,
    /// The id the next stored event takes, while `remembered` is kept.
    next_id: i64,
    /// The keys of the feedback events pushed: their responses are projected at `finish`.
    feedback_keys: Vec<String>,
}

impl Ingest {
    /// Starts an ingest; `source` says where the data came from, for stage-change reasons.
    pub async fn begin(store: &Arc<dyn Store>, source: impl Into<String>) -> StoreResult<Self> {
        Self::begin_at(store, source, chrono::Utc::now().timestamp()).await
    }

    /// Starts an ingest whose clock reads `now` (Unix seconds) instead of the system's: what it
    /// records as written then, and the care occurrences it plans (those past expiry at `now`
    /// only counted). For replaying a history day by day, as the demo does.
    pub async fn begin_at(store: &Arc<dyn Store>, source: impl Into<String>, now: i64) -> StoreResult<Self> {
        let mut tx = store.begin().await?;
        let first_new_id = tx.max_event_id().await? + 1;
        let customers_before = tx.has_customers().await?;
        let outbox = Outbox::load(&mut *tx, now).await?;
        Ok(Self {
            tx,
            source: source.into(),
            now,
            first_new_id,
            customers_before,
            ids: Known::default(),
            tallies: Vec::new(),
            bulk: false,
            pending: Vec::with_capacity(BATCH),
            report: IngestReport::default(),
            outbox,
            names: HashMap::new(),
            refuse_conflicts: false,
            remembered: None,
            next_id: first_new_id,
            feedback_keys: Vec::new(),
        })
    }

    /// The care room's statements in this ingest's transaction: what they write commits with the
    /// events (a completed task and the interaction it becomes).
    pub fn care(&mut self) -> &mut dyn crate::store::CareTx {
        self.tx.care()
    }

    /// Keeps what this ingest stores in memory, so that `stored_events` can answer for it
    /// without reading the log, where the store allows (for a caller that asks about every event
    /// it pushed: the API's writer; an import would hold its whole file).
    pub fn remember_stored(&mut self) {
        if self.tx.sole_writer() && self.report.stored == 0 && self.pending.is_empty() {
            self.remembered = Some(HashMap::new());
        }
    }

    /// Makes an event whose key is stored for another customer, or with other content, fail the
    /// ingest with `StoreError::KeyConflict` (nothing is then stored): files are all or nothing.
    pub fn refuse_conflicts(&mut self) {
        self.refuse_conflicts = true;
    }

    /// Which of `events` would conflict with the log (this ingest's events included) or with an
    /// earlier one of them, stores nothing: for callers that set bad rows aside instead of failing.
    pub async fn find_conflicts(&mut self, events: &[(&str, &NewEvent)]) -> StoreResult<Vec<Option<KeyConflict>>> {
        self.flush().await?;
        let keys = distinct_keys(events);
        let stored = self.tx.events_by_keys(&keys).await?;
        let mut customers: Vec<&str> = events.iter().map(|(c, _)| *c).collect();
        customers.sort_unstable();
        customers.dedup();
        let ids: HashMap<String, CustomerId> = self.tx.customer_ids(&customers).await?.into_iter().collect();
        let mut owners: HashMap<CustomerId, String> = ids.iter().map(|(ext, id)| (*id, ext.clone())).collect();
        for event in &stored {
            if let std::collections::hash_map::Entry::Vacant(slot) = owners.entry(event.customer_id) {
                slot.insert(self.external_id_of(event.customer_id).await?);
            }
        }
        // The first holder of each key: the log's event, else the first of `events` to carry it.
        let mut first: HashMap<&str, (&str, &EventKind, bool)> = stored
            .iter()
            .map(|e| {
                let owner = owners[&e.customer_id].as_str();
                (e.key.as_str(), (owner, &e.kind, e.id < self.first_new_id))
            })
            .collect();
        let mut found = Vec::with_capacity(events.len());
        for (customer, event) in events {
            let (owner, kind, stored_before) = *first.entry(&event.key).or_insert((customer, &event.kind, false));
            let same = owner == *customer && *kind == event.kind;
            found.push((!same).then(|| KeyConflict {
                customer: (*customer).to_owned(),
                event: (*event).clone(),
                existing_customer: owner.to_owned(),
                existing: kind.clone(),
                stored_before,
            }));
        }
        Ok(found)
    }

    /// The business's id of a stored customer, for naming it in a conflict.
    async fn external_id_of(&mut self, id: CustomerId) -> StoreResult<String> {
        if let Some((ext, _)) = self.ids.iter().find(|(_, seen)| seen.id == id) {
            return Ok(ext.to_string());
        }
        Ok(self.tx.external_id(id).await?.unwrap_or_else(|| format!("#{id}")))
    }

    /// After a batch stored fewer events than it held: fails on the first whose key the log holds
    /// for another customer or with other content.
    async fn check_conflicts(&mut self, rows: &[EventRow]) -> StoreResult<()> {
        // Most of a batch that was not stored is plain repeats: the store names the keys whose
        // stored columns differ, and only those events are read and compared here (a stored
        // event's data written by an older release may differ in text but not in content).
        let differing = self.tx.differing_keys(rows).await?;
        if differing.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let events: Vec<(&str, &NewEvent)> = pending.iter().map(|(c, e)| (c.as_str(), e)).collect();
        let stored = self.tx.events_by_keys(&differing).await?;
        let by_key: HashMap<&str, &StoredEvent> = stored.iter().map(|e| (e.key.as_str(), e)).collect();
        for (customer, event) in &events {
            let Some(existing) = by_key.get(event.key.as_str()) else {
                continue;
            };
            if self
                .ids
                .get(customer)
                .is_some_and(|seen| seen.id == existing.customer_id)
                && existing.kind == event.kind
            {
                continue;
            }
            return Err(StoreError::KeyConflict(Box::new(KeyConflict {
                customer: (*customer).to_owned(),
                event: (*event).clone(),
                existing_customer: self.external_id_of(existing.customer_id).await?,
                existing: existing.kind.clone(),
                stored_before: existing.id < self.first_new_id,
            })));
        }
        drop(events);
        self.pending = pending;
        Ok(())
    }

    /// Announces that about `events` events will follow: when that is large next to the log, the
    /// store may set an index aside while they are appended (it is restored before `finish` reads).
    /// With `BulkKeys::Deferred` the caller can push the same events again into a new ingest
    /// with `Checked` should `finish` fail with `StoreError::RepeatedKeys`.
    pub async fn expect(&mut self, events: u64, keys: BulkKeys) -> StoreResult<()> {
        let existing = u64::try_from(self.first_new_id - 1).unwrap_or_default();
        if events < BULK_EVENTS || events < existing / 2 {
            return Ok(());
        }
        // Deferred keys pay off only where repeats are unlikely, in a log small next to the load
        // (importing a file again is all repeats), and only when nothing reads events back by key
        // during the load: setting conflicts aside and announcing events both do.
        let announce = self.outbox.wants(EventType::EventCreated) || self.outbox.wants(EventType::CustomerStageChanged);
        let defer = keys == BulkKeys::Deferred
            && existing.saturating_mul(10) <= events
            && self.refuse_conflicts
            && !announce
            && self.remembered.is_none();
        self.start_bulk_load(if defer { BulkKeys::Deferred } else { BulkKeys::Checked })
            .await
    }

    /// Lets the store set indexes aside while this ingest appends (restored before `finish`
    /// reads): what `expect` does for a large load, callable by itself for one of any size.
    pub async fn bulk_load(&mut self) -> StoreResult<()> {
        self.start_bulk_load(BulkKeys::Checked).await
    }

    async fn start_bulk_load(&mut self, keys: BulkKeys) -> StoreResult<()> {
        if !self.bulk {
            let deferred = self.tx.begin_bulk_load(keys).await?;
            tracing::debug!(keys_deferred = deferred, "bulk load");
            self.bulk = true;
            // Another writer may have added customers before the load took hold of the tables.
            self.customers_before = self.tx.has_customers().await?;
        }
        Ok(())
    }

    /// Queues an event for the customer with this external id (created if unknown).
    pub async fn push(&mut self, customer: &ExternalId, event: NewEvent) -> StoreResult<()> {
        self.pending.push((customer.clone(), event));
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// The stored events with these keys as the log holds them now, this ingest's included.
    pub async fn stored_events(&mut self, keys: &[String]) -> StoreResult<Vec<StoredEvent>> {
        self.flush().await?;
        if let Some(remembered) = &self.remembered {
            let found: Option<Vec<StoredEvent>> = keys.iter().map(|k| remembered.get(k).cloned()).collect();
            if let Some(found) = found {
                return Ok(found);
            }
        }
        self.tx.events_by_keys(keys).await
    }

    /// Rapport's id of a customer this ingest has seen, by the business's id.
    pub fn customer_id(&self, external_id: &str) -> Option<CustomerId> {
        self.ids.get(external_id).map(|seen| seen.id)
    }

    /// Events with this id or larger were stored by this ingest.
    pub fn first_new_id(&self) -> i64 {
        self.first_new_id
    }

    /// Creates or updates customers' profiles. Returns how many were created and how many updated.
    pub async fn upsert_profiles(&mut self, profiles: Vec<NewCustomer>) -> StoreResult<(u64, u64)> {
        let ids: Vec<&str> = profiles.iter().map(|p| p.external_id.as_str()).collect();
        let existing: HashMap<String, CustomerId> = self.tx.customer_ids(&ids).await?.into_iter().collect();
        let (old, new): (Vec<NewCustomer>, Vec<NewCustomer>) = profiles
            .into_iter()
            .partition(|p| existing.contains_key(p.external_id.as_str()));
        let mut updates: Vec<(CustomerId, NewCustomer)> =
            old.into_iter().map(|p| (existing[p.external_id.as_str()], p)).collect();
        self.tx.update_profiles(&updates).await?;
        let (created, raced) = self.create(new).await?;
        // Created by another writer since the lookup: their profile is this one's update.
        self.tx.update_profiles(&raced).await?;
        updates.extend(raced);
        Ok((created, updates.len() as u64))
    }

    /// Moves an existing customer to `to` by hand; `None` when it is already there.
    pub async fn set_stage(
        &mut self,
        customer: &ExternalId,
        to: Stage,
        reason: String,
    ) -> StoreResult<Option<StageChange>> {
        self.flush().await?;
        let found = self.tx.customer_ids(&[customer.as_str()]).await?;
        let (_, id) = found
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("no customer with id '{customer}'")))?;
        let current = fold(&self.tx.events_of_customers(&[id], 0).await?)
            .pop()
            .map(|f| f.state)
            .unwrap_or_default();
        if current.stage == Some(to) {
            return Ok(None);
        }
        let change = StageChange {
            from: current.stage,
            to,
            at: self.now,
            reason,
        };
        let event = NewEvent {
            key: format!("stage:{id}:{}", current.stage_changes + 1),
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

    /// Resolves the batch's customers and appends its events.
    async fn flush(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let slots = self.resolve_customers().await?;
        let announce = self.outbox.wants(EventType::EventCreated) || self.outbox.wants(EventType::CustomerStageChanged);
        let last_before = if announce {
            Some(self.tx.max_event_id().await?)
        } else {
            None
        };
        let rows: Vec<EventRow> = self
            .pending
            .iter()
            .zip(&slots)
            .map(|((_, event), slot)| EventRow::encode(self.ids.seen[*slot as usize].id, event, self.now))
            .collect();
        let stored = self.tx.insert_events(&rows).await?;
        self.remember(&rows, stored)?;
        if self.refuse_conflicts && stored < rows.len() as u64 {
            self.check_conflicts(&rows).await?;
        }
        self.report.stored += stored;
        self.report.duplicates += rows.len() as u64 - stored;
        if let Some(last_before) = last_before {
            self.announce_stored(last_before).await?;
        }
        let all_stored = stored == rows.len() as u64;
        for (_, event) in &self.pending {
            if matches!(event.kind, EventKind::Feedback { .. }) {
                self.feedback_keys.push(event.key.clone());
            }
        }
        for ((_, event), slot) in self.pending.iter().zip(slots) {
            let seen = &mut self.ids.seen[slot as usize];
            // A batch of nothing but duplicates changed nobody: re-importing a file re-folds no one.
            seen.touched |= stored > 0;
            if seen.tally == NO_TALLY {
                continue;
            }
            match (&event.kind, all_stored) {
                (EventKind::Purchase { amount, .. }, true) => {
                    self.tallies[seen.tally as usize].add(event.occurred_at, amount.0)
                }
                // Which rows a partly stored batch kept, or what other kinds do, the log will tell.
                _ => seen.tally = NO_TALLY,
            }
        }
        self.pending.clear();
        self.outbox.write(&mut *self.tx).await
    }

    /// Keeps the events of a batch stored whole (see `remembered`), or stops keeping any.
    fn remember(&mut self, rows: &[EventRow], stored: u64) -> StoreResult<()> {
        let Some(remembered) = self.remembered.as_mut() else {
            return Ok(());
        };
        if stored != rows.len() as u64 {
            self.remembered = None;
            return Ok(());
        }
        for row in rows {
            remembered.insert(row.key.clone(), row.clone().decode(self.next_id)?);
            self.next_id += 1;
        }
        Ok(())
    }

    /// Queues `event.created` (or `customer.stage_changed`) for the batch's events stored after
    /// event `last_before`: repeats of events already in the log announce nothing.
    async fn announce_stored(&mut self, last_before: i64) -> StoreResult<()> {
        let customers: HashMap<&str, &str> = self
            .pending
            .iter()
            .map(|(ext, e)| (e.key.as_str(), ext.as_str()))
            .collect();
        let keys: Vec<String> = customers.keys().map(|k| (*k).to_owned()).collect();
        let mut stored = self.tx.events_by_keys(&keys).await?;
        stored.retain(|e| e.id > last_before);
        stored.sort_unstable_by_key(|e| e.id);
        for event in stored {
            let customer = customers[event.key.as_str()];
            if let EventKind::StageChange { from, to, reason } = &event.kind {
                let change = StageChange {
                    from: *from,
                    to: *to,
                    at: event.occurred_at,
                    reason: reason.clone(),
                };
                self.outbox.push(
                    EventType::CustomerStageChanged,
                    payload::StageChanged::new(customer, &change),
                );
            } else {
                self.outbox
                    .push(EventType::EventCreated, payload::event_created(event, customer));
            }
        }
        Ok(())
    }

    /// Learns the ids of the batch's customers not seen yet, creating the unknown ones; returns
    /// each pending event's slot in `ids`.
    async fn resolve_customers(&mut self) -> StoreResult<Vec<u32>> {
        let mut slots: Vec<Option<u32>> = self
            .pending
            .iter()
            .map(|(ext, _)| self.ids.slot(ext.as_str()))
            .collect();
        let mut unknown: Vec<&ExternalId> = self
            .pending
            .iter()
            .zip(&slots)
            .filter(|(_, slot)| slot.is_none())
            .map(|((ext, _), _)| ext)
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            let names: Vec<&str> = unknown.iter().map(|ext| ext.as_str()).collect();
            let found = if self.customers_before {
                self.tx.customer_ids(&names).await?
            } else {
                Vec::new()
            };
            let known: std::collections::HashSet<&str> = found.iter().map(|(ext, _)| ext.as_str()).collect();
            let new: Vec<NewCustomer> = unknown
                .iter()
                .filter(|ext| !known.contains(ext.as_str()))
                .map(|ext| NewCustomer::new((*ext).clone(), self.now))
                .collect();
            for (ext, id) in &found {
                self.ids.insert(
                    ext,
                    Seen {
                        id: *id,
                        touched: false,
                        tally: NO_TALLY,
                    },
                );
            }
            self.create(new).await?;
            for ((ext, _), slot) in self.pending.iter().zip(&mut slots) {
                if slot.is_none() {
                    *slot = self.ids.slot(ext.as_str());
                }
            }
        }
        Ok(slots
            .into_iter()
            .map(|slot| slot.expect("every customer resolved"))
            .collect())
    }

    /// Creates customers the caller found missing. Returns how many this ingest created, and
    /// those another writer created in the meantime: they are existing customers like any other
    /// (re-folded from the log, announced by nobody here).
    async fn create(&mut self, new: Vec<NewCustomer>) -> StoreResult<(u64, Vec<(CustomerId, NewCustomer)>)> {
        if new.is_empty() {
            return Ok((0, Vec::new()));
        }
        let ids = self.tx.create_customers(&new).await?;
        let mut created = 0;
        let mut raced = Vec::new();
        let announce = self.outbox.wants(EventType::CustomerCreated);
        for (customer, (id, ours)) in new.into_iter().zip(ids) {
            if !ours {
                self.ids.insert(
                    customer.external_id.as_str(),
                    Seen {
                        id,
                        touched: false,
                        tally: NO_TALLY,
                    },
                );
                raced.push((id, customer));
                continue;
            }
            created += 1;
            if announce {
                self.outbox
                    .push(EventType::CustomerCreated, payload::CustomerCreated::from(&customer));
            }
            let tally = self.tallies.len() as u32;
            self.tallies.push(PurchaseTally::default());
            self.ids.insert(
                customer.external_id.as_str(),
                Seen {
                    id,
                    touched: true,
                    tally,
                },
            );
        }
        self.report.customers_created += created;
        self.outbox.write(&mut *self.tx).await?;
        Ok((created, raced))
    }

    /// Re-folds every touched customer from the log, records the stage changes new behaviour
    /// earned, saves the states and commits.
    pub async fn finish(mut self) -> StoreResult<IngestReport> {
        self.flush().await?;

        let started = std::time::Instant::now();
        let ids = std::mem::take(&mut self.ids);
        if self.outbox.wants(EventType::CustomerStageChanged) {
            self.names = ids
                .iter()
                .filter(|(_, seen)| seen.touched)
                .map(|(ext, seen)| (seen.id, ext.into()))
                .collect();
        }
        // The ids' text is not needed any more: freed before the log's indexes are rebuilt.
        let Known { slots, seen } = ids;
        drop(slots);
        let touched = seen.into_iter().filter(|seen| seen.touched);
        let (mut tallied, mut refold): (Vec<Seen>, Vec<Seen>) = touched.partition(|seen| seen.tally != NO_TALLY);
        tallied.sort_unstable_by_key(|seen| seen.id);
        for chunk in tallied.chunks(TALLIED) {
            let folded = chunk
                .iter()
                .map(|seen| {
                    let tally = self.tallies[seen.tally as usize];
                    // Purchases stored by this ingest are new behaviour: they may earn stages.
                    let last_behaviour_id = (!tally.is_empty()).then_some(self.first_new_id);
                    Folded {
                        customer: seen.id,
                        state: tally.into_state(),
                        last_behaviour_id,
                    }
                })
                .collect();
            self.settle(folded).await?;
        }
        self.tallies = Vec::new();
        // New customers' stage changes went in without the index; reading the log needs it back.
        if self.bulk {
            let started = std::time::Instant::now();
            self.tx.end_bulk_load().await?;
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "restored indexes after the bulk load"
            );
        }
        tracing::debug!(
            customers = tallied.len(),
            seconds = started.elapsed().as_secs_f64(),
            "new customers settled"
        );
        refold.sort_unstable_by_key(|seen| seen.id);
        let refold: Vec<CustomerId> = refold.into_iter().map(|seen| seen.id).collect();
        for chunk in refold.chunks(REFOLD) {
            let folded = self.fold_existing(chunk).await?;
            self.settle(folded).await?;
        }
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "re-folded touched customers");
        self.project_feedback().await?;
        let started = std::time::Instant::now();
        if self.report.stored + self.report.stage_changes > 0 {
            // Care plans due after what was stored are planned with it: committed together.
            let planned = self.tx.care().plan_new_events(self.first_new_id, self.now).await?;
            tracing::debug!(planned, "planned care occurrences");
        }
        self.outbox.write(&mut *self.tx).await?;
        self.tx.commit().await?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "committed");
        Ok(self.report)
    }

    /// Writes the responses of the feedback events this ingest stored (a repeat of one already in
    /// the log writes nothing) and queues `survey.responded` and `feedback.detractor`.
    async fn project_feedback(&mut self) -> StoreResult<()> {
        if self.feedback_keys.is_empty() {
            return Ok(());
        }
        let keys = std::mem::take(&mut self.feedback_keys);
        let mut stored = self.tx.events_by_keys(&keys).await?;
        stored.retain(|e| e.id >= self.first_new_id);
        stored.sort_unstable_by_key(|e| e.id);
        let rows: Vec<ResponseRow> = stored.iter().filter_map(ResponseRow::from_event).collect();
        self.tx.feedback().record_responses(&rows).await?;
        let responded = self.outbox.wants(EventType::SurveyResponded);
        let detractor = self.outbox.wants(EventType::FeedbackDetractor);
        if !responded && !detractor {
            return Ok(());
        }
        for event in stored {
            let customer = self.tx.external_id(event.customer_id).await?.unwrap_or_default();
            let low = matches!(
                event.kind,
                EventKind::Feedback {
                    category: Some(NpsCategory::Detractor),
                    ..
                }
            );
            if detractor && low {
                let view = payload::event_created(event.clone(), &customer);
                self.outbox.push(EventType::FeedbackDetractor, view);
            }
            if responded {
                self.outbox
                    .push(EventType::SurveyResponded, payload::event_created(event, &customer));
            }
        }
        Ok(())
    }

    /// The states of existing customers this ingest appended to. When no other transaction can
    /// append meanwhile, a customer's stored state is the fold of every event before this
    /// ingest's, so only this ingest's own events are read and folded into it (a customer with
    /// ten years of history costs what their new events cost); otherwise, or without a stored
    /// state, the customer's whole history is folded again.
    async fn fold_existing(&mut self, chunk: &[CustomerId]) -> StoreResult<Vec<Folded>> {
        let mut folded = Vec::with_capacity(chunk.len());
        let mut whole: Vec<CustomerId> = chunk.to_vec();
        if self.tx.sole_writer() {
            let mut at: HashMap<CustomerId, usize> = HashMap::with_capacity(chunk.len());
            for (customer, state) in self.tx.states_of(chunk).await? {
                at.insert(customer, folded.len());
                folded.push(Folded {
                    customer,
                    state,
                    last_behaviour_id: None,
                });
            }
            whole.retain(|id| !at.contains_key(id));
            let mut with_state: Vec<CustomerId> = at.keys().copied().collect();
            with_state.sort_unstable();
            for event in self.tx.events_of_customers(&with_state, self.first_new_id).await? {
                folded[at[&event.customer_id]].apply(&event);
            }
        }
        if !whole.is_empty() {
            let mut refolded = fold(&self.tx.events_of_customers(&whole, 0).await?);
            // A customer with no events at all (a bare profile) still gets a state.
            if refolded.len() < whole.len() {
                let have: std::collections::HashSet<CustomerId> = refolded.iter().map(|f| f.customer).collect();
                let bare = whole.iter().filter(|id| !have.contains(id));
                refolded.extend(bare.map(|id| Folded {
                    customer: *id,
                    state: Default::default(),
                    last_behaviour_id: None,
                }));
            }
            folded.extend(refolded);
        }
        Ok(folded)
    }

    /// Moves stages as earned and saves the states of one chunk of customers.
    async fn settle(&mut self, folded: Vec<Folded>) -> StoreResult<()> {
        let mut rows = Vec::new();
        let mut states = Vec::with_capacity(folded.len());
        for Folded {
            customer,
            mut state,
            last_behaviour_id,
        } in folded
        {
            let new_behaviour = last_behaviour_id.is_some_and(|id| id >= self.first_new_id);
            for change in stage_changes(&state, new_behaviour, &self.source, self.now) {
                if let Some(name) = self.names.get(&customer) {
                    self.outbox.push(
                        EventType::CustomerStageChanged,
                        payload::StageChanged::new(name, &change),
                    );
                }
                let event = NewEvent {
                    key: format!("stage:{customer}:{}", state.stage_changes + 1),
                    occurred_at: change.at,
                    kind: EventKind::StageChange {
                        from: change.from,
                        to: change.to,
                        reason: change.reason,
                    },
                };
                state.apply(event.occurred_at, &event.kind);
                rows.push(EventRow::encode(customer, &event, self.now));
            }
            states.push((customer, state));
        }
        self.report.stage_changes += rows.len() as u64;
        let stored = self.tx.insert_events(&rows).await?;
        self.remember(&rows, stored)?;
        self.tx.save_states(&states).await?;
        self.outbox.write(&mut *self.tx).await
    }
}

/// The keys of `events`, each once.
fn distinct_keys(events: &[(&str, &NewEvent)]) -> Vec<String> {
    let mut keys: Vec<String> = events.iter().map(|(_, e)| e.key.clone()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The stage changes a touched customer is due: promotions earned by new behaviour, or `suspect`
/// for a customer who has no stage yet.
fn stage_changes(
    state: &crate::domain::CustomerState,
    new_behaviour: bool,
    source: &str,
    now: i64,
) -> Vec<StageChange> {
    let mut changes = if new_behaviour { promotions(state) } else { Vec::new() };
    if changes.is_empty() && state.stage.is_none() {
        changes.push(StageChange {
            from: None,
            to: Stage::Suspect,
            at: state.last_event_at.unwrap_or(now),
            reason: format!("added from {source}"),
        });
    }
    changes
}
