//! Signed webhooks: what writers put in the outbox (in their own transaction), and the worker
//! that delivers it (to allowed targets only, checked again as it connects: `guard`). Payloads use the API's own views, so a receiver parses one format.

mod guard;
pub mod payload;
pub mod wire;
pub mod worker;

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use crate::domain::webhook::EventType;
use crate::store::{OutboxMessage, StoreResult, WriteTx};

pub use worker::{Worker, WorkerSettings};

/// Messages written per statement at most.
const PENDING: usize = 20_000;

/// The messages one write transaction owes the subscribers, gathered and written into it.
///
/// It learns the live subscriptions once, when made: a writer nobody subscribed to pays one small
/// query per transaction and nothing per event.
pub struct Outbox {
    subscribers: BTreeMap<EventType, Vec<i64>>,
    pending: Vec<OutboxMessage>,
    now: i64,
}

impl Outbox {
    /// The outbox of a transaction, with the subscriptions live in it; `now` in Unix seconds.
    pub async fn load(tx: &mut dyn WriteTx, now: i64) -> StoreResult<Self> {
        let mut subscribers: BTreeMap<EventType, Vec<i64>> = BTreeMap::new();
        for (id, types) in tx.webhook_targets().await? {
            for event_type in types {
                subscribers.entry(event_type).or_default().push(id);
            }
        }
        Ok(Self {
            subscribers,
            pending: Vec::new(),
            now,
        })
    }

    /// Some subscription wants this type.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.subscribers.contains_key(&event_type)
    }

    /// Queues a message for every subscription that wants its type (none: nothing happens).
    pub fn push(&mut self, event_type: EventType, data: impl Serialize) {
        let Some(subscriptions) = self.subscribers.get(&event_type) else {
            return;
        };
        let payload = serde_json::json!({
            "type": event_type,
            "timestamp": wire::timestamp(self.now),
            "data": data,
        });
        self.pending.push(OutboxMessage {
            id: message_id(),
            event_type,
            payload: payload.to_string(),
            created_at: self.now,
            subscriptions: subscriptions.clone(),
        });
    }

    /// Writes the queued messages into the transaction.
    pub async fn write(&mut self, tx: &mut dyn WriteTx) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        for chunk in self.pending.chunks(PENDING) {
            tx.enqueue_webhooks(chunk, now_ms).await?;
        }
        self.pending.clear();
        Ok(())
    }
}

/// A new message id: `msg_` and 22 random URL-safe characters.
pub fn message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    format!("msg_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
