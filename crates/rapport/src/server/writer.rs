//! Group commit for the API's event writes: concurrent requests queue their events, and one task
//! writes whatever has queued as one ingest transaction. One commit then serves many requests, which
//! is what lets single-event requests reach thousands per second on SQLite's single writer.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use crate::domain::{ExternalId, NewEvent, StoredEvent};
use crate::ingest::Ingest;
use crate::store::{Store, StoreError};

/// Events written per transaction at most (a batch request may exceed it alone).
const MAX_BATCH: usize = 10_000;
/// How many times a batch the database aborted (a deadlock between replicas) is run again.
const RETRIES: u32 = 3;
/// Requests waiting at most before senders wait for room.
const QUEUE: usize = 4_096;

/// One event to write, for a customer named by the business's id.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The business's id of the customer (created if unknown).
    pub customer: ExternalId,
    /// The event.
    pub event: NewEvent,
}

/// What happened to one event.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The event as the log holds it (the earlier one, for a repeat).
    pub event: StoredEvent,
    /// The business's id of its customer.
    pub customer: String,
    /// Stored by this request; false when its key was already in the log.
    pub created: bool,
    /// The key was already in the log for another customer: the event sent was not stored.
    pub conflict: bool,
}

/// Why a write stored nothing. Every one is the server's fault, never the request's: requests are
/// validated before they are queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The server is shutting down.
    #[error("the event writer has stopped")]
    Stopped,
    /// Other writers kept the database busy through every retry.
    #[error("the database stayed busy with other writers: {0}")]
    Busy(String),
    /// The store failed.
    #[error("{0}")]
    Failed(String),
}

struct Job {
    events: Vec<Incoming>,
    reply: oneshot::Sender<Result<Vec<Outcome>, WriteError>>,
}

/// The handle requests write through.
#[derive(Clone)]
pub struct EventWriter {
    queue: mpsc::Sender<Job>,
}

impl EventWriter {
    /// Starts the writing task.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, metrics, jobs));
        Self { queue }
    }

    /// Writes events (all in one transaction with whatever else is queued) and says what became
    /// of each, in order. An error means none of them was stored.
    pub async fn write(&self, events: Vec<Incoming>) -> Result<Vec<Outcome>, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { events, reply })
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

async fn run(store: Arc<dyn Store>, metrics: Arc<Metrics>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut size = first.events.len();
        let mut batch = vec![first];
        while size < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => {
                    size += job.events.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let mut result = write_batch(&store, &batch).await;
        // Replicas writing the same customers can deadlock on PostgreSQL, which then aborts one
        // of them; the aborted batch stored nothing and is simply run again.
        for attempt in 1..=RETRIES {
            match &result {
                Err(error) if error.is_transient() => {
                    tracing::info!(attempt, %error, "retrying an event batch the database aborted");
                    result = write_batch(&store, &batch).await;
                }
                _ => break,
            }
        }
        metrics.ingest_seconds.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(mut outcomes) => {
                let stored = outcomes.iter().flatten().filter(|o| o.created).count();
                metrics.events_ingested.inc_by(stored as u64);
                for (job, outcome) in batch.into_iter().zip(outcomes.drain(..)) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                // One failure answers many requests; the store's error cannot be cloned, its text can.
                let failure = if error.is_transient() {
                    WriteError::Busy(error.to_string())
                } else {
                    WriteError::Failed(error.to_string())
                };
                for job in batch {
                    let _ = job.reply.send(Err(failure.clone()));
                }
            }
        }
    }
}

/// Writes every job's events in one ingest; the outcomes per job, in order.
async fn write_batch(store: &Arc<dyn Store>, batch: &[Job]) -> Result<Vec<Vec<Outcome>>, StoreError> {
    let mut ingest = Ingest::begin(store, "the API").await?;
    ingest.remember_stored();
    let mut keys = Vec::new();
    for job in batch {
        for incoming in &job.events {
            keys.push(incoming.event.key.clone());
            ingest.push(&incoming.customer, incoming.event.clone()).await?;
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let stored = ingest.stored_events(&keys).await?;
    let first_new = ingest.first_new_id();
    let by_key: std::collections::HashMap<&str, &StoredEvent> = stored.iter().map(|e| (e.key.as_str(), e)).collect();
    // A key sent twice in one batch is stored once: the first to send it created it.
    let mut answered: HashSet<&str> = HashSet::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let mut job_outcomes = Vec::with_capacity(job.events.len());
        for incoming in &job.events {
            let key = incoming.event.key.as_str();
            let event = by_key
                .get(key)
                .ok_or_else(|| StoreError::Corrupt(format!("event '{key}' was neither stored nor found")))?;
            let created = event.id >= first_new && answered.insert(key);
            // The same key for another customer, or with other content, is not a repeat.
            let conflict = ingest.customer_id(incoming.customer.as_str()) != Some(event.customer_id)
                || event.kind != incoming.event.kind;
            job_outcomes.push(Outcome {
                event: (*event).clone(),
                customer: incoming.customer.as_str().to_owned(),
                created,
                conflict,
            });
        }
        outcomes.push(job_outcomes);
    }
    ingest.finish().await?;
    Ok(outcomes)
}
