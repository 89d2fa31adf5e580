//! The delivery worker: claims due deliveries under a lease, POSTs them signed, logs each attempt
//! and schedules the next. Any number of workers may run against one database (one per replica):
//! a delivery is held by one claim at a time, and a crashed worker's claim lapses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::guard::{CheckedResolver, check_literal};
use crate::domain::webhook::RetrySchedule;
use crate::domain::webhook::target::Targets;
use crate::store::{AttemptRecord, AttemptResult, Claim, ClaimedDelivery, NextStep, Store};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Waits between failed attempts; a delivery fails for good when it is used up.
    pub schedule: RetrySchedule,
    /// How often the outbox is checked when nothing signals new messages (other replicas' writes).
    pub poll: Duration,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Deliveries sent at once.
    pub batch: u32,
    /// Which addresses deliveries may go to; any other is refused, and logged as the attempt's error.
    pub targets: Targets,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            batch: 32,
            targets: Targets::default(),
        }
    }
}

/// A running worker. `stop` ends it after the deliveries in flight.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts delivering from this store's outbox; must run inside a Tokio runtime.
    pub fn start(store: Arc<dyn Store>, settings: WorkerSettings) -> anyhow::Result<Self> {
        // reqwest is built without a TLS provider of its own: ring is the one this binary carries.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // No proxy: a proxy would resolve and connect on its own, past the target check.
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(CheckedResolver {
                targets: settings.targets,
            })
            .user_agent(concat!("Rapport-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(store, settings, client, stopped));
        Ok(Self { stop, task })
    }

    /// Stops taking deliveries, and returns when those in flight are sent and logged.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the webhook worker failed");
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    settings: WorkerSettings,
    client: reqwest::Client,
    mut stopped: watch::Receiver<bool>,
) {
    let signal = store.outbox_signal();
    let name = crate::webhooks::message_id().replacen("msg_", "worker_", 1);
    let mut round = 0u64;
    loop {
        let stop = *stopped.borrow();
        if stop {
            break;
        }
        round += 1;
        let now_ms = chrono::Utc::now().timestamp_millis();
        // A claim outlives the slowest send by a minute; a worker that dies lets it lapse.
        let lease = settings.timeout + Duration::from_secs(60);
        let claim = Claim {
            by: format!("{name}:{round}"),
            now_ms,
            until_ms: now_ms + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2),
            limit: settings.batch,
        };
        let claimed = match store.claim_webhook_deliveries(&claim).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = signal.notified() => {}
                () = tokio::time::sleep(settings.poll) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let sends = claimed
            .into_iter()
            .map(|delivery| deliver(&store, &client, &settings, &claim.by, delivery));
        futures::future::join_all(sends).await;
    }
    tracing::debug!("webhook worker stopped");
}

/// Sends one delivery, logs the attempt and schedules what follows.
async fn deliver(
    store: &Arc<dyn Store>,
    client: &reqwest::Client,
    settings: &WorkerSettings,
    claimed_by: &str,
    delivery: ClaimedDelivery,
) {
    let attempted_ms = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let (http_status, error) = match check_literal(&delivery.url, settings.targets) {
        Ok(()) => send(client, &delivery).await,
        Err(refused) => (None, Some(refused)),
    };
    let attempt = AttemptRecord {
        attempted_ms,
        http_status,
        error,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    let next = if attempt.error.is_none() {
        NextStep::Delivered
    } else {
        match settings.schedule.after(delivery.attempts + 1) {
            Some(wait) => NextStep::RetryAt(chrono::Utc::now().timestamp_millis() + wait.as_millis() as i64),
            None => NextStep::GiveUp,
        }
    };
    tracing::debug!(delivery = delivery.id, ?http_status, ?next, "webhook attempt");
    let result = AttemptResult {
        delivery_id: delivery.id,
        claimed_by: claimed_by.to_owned(),
        attempt,
        next,
    };
    if let Err(e) = store.record_webhook_attempt(&result).await {
        // The claim lapses and the delivery is sent again: receivers dedupe by webhook-id.
        tracing::warn!(delivery = delivery.id, error = %e, "logging a webhook attempt failed");
    }
}

/// POSTs the payload signed; the status when the receiver answered, and an error unless it was 2xx.
async fn send(client: &reqwest::Client, delivery: &ClaimedDelivery) -> (Option<u16>, Option<String>) {
    let timestamp = chrono::Utc::now().timestamp();
    let signature = delivery
        .secret
        .sign(&delivery.message_id, timestamp, delivery.payload.as_bytes());
    let response = client
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &delivery.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    match response {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => {
            let status = response.status();
            (Some(status.as_u16()), Some(format!("the receiver answered {status}")))
        }
        Err(e) if e.is_timeout() => (None, Some("the receiver did not answer in time".to_owned())),
        // Without the URL, which may hold credentials stored before they were refused.
        Err(e) => (None, Some(chain(&e.without_url()))),
    }
}

/// An error with its causes ("error sending request: connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
