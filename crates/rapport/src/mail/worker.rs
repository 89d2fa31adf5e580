//! The mail worker inside `serve`: claims due messages under a lease, sends them, logs each
//! attempt and schedules the next. Any number may run against one database (one per replica): a
//! message is held by one claim at a time, and a crashed worker's claim lapses.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{DeliverySettings, Sender, attempt, claim, worker_name};
use crate::store::Store;

/// A running mail worker. `stop` ends it after the messages in flight.
pub struct MailWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MailWorker {
    /// Starts sending this store's due mail; must run inside a Tokio runtime. Without an SMTP
    /// server it sends nothing, and says once that mail is waiting.
    pub fn start(store: Arc<dyn Store>, settings: DeliverySettings) -> Result<Self, super::MailError> {
        let sender = settings.sender()?;
        let (stop, stopped) = watch::channel(false);
        let task = match sender {
            Some(sender) => tokio::spawn(run(store, settings, sender, stopped)),
            None => tokio::spawn(idle(store, settings, stopped)),
        };
        Ok(Self { stop, task })
    }

    /// Stops claiming, and returns when the messages in flight are sent and logged.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the mail worker failed");
        }
    }
}

async fn run(store: Arc<dyn Store>, settings: DeliverySettings, sender: Sender, mut stopped: watch::Receiver<bool>) {
    let name = worker_name();
    let mut round = 0u64;
    while !*stopped.borrow() {
        round += 1;
        let claim = claim(
            &format!("{name}:{round}"),
            chrono::Utc::now().timestamp_millis(),
            &settings,
        );
        let claimed = match store.claim_mail(&claim).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "claiming mail failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(settings.poll) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let sends = claimed
            .into_iter()
            .map(|mail| attempt(&store, &sender, &settings, &claim.by, mail, None));
        futures::future::join_all(sends).await;
    }
    tracing::debug!("mail worker stopped");
}

/// Without an SMTP server: looks for queued mail until it finds some, says so once, and waits
/// to be stopped. The messages stay queued for a server started with SMTP settings.
async fn idle(store: Arc<dyn Store>, settings: DeliverySettings, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        match store.count_mail().await {
            Ok(counts) if counts.queued > 0 => {
                tracing::warn!(
                    queued = counts.queued,
                    "mail is queued but no SMTP server is configured (mail.smtp_url, RAPPORT_SMTP_URL): \
                     nothing is sent until one is"
                );
                let _ = stopped.changed().await;
                break;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "counting queued mail failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(settings.poll) => {}
            _ = stopped.changed() => {}
        }
    }
}
