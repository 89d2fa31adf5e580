//! The overview's figures (and the voice page's) are aggregates over every customer, purchase and
//! answer: too costly for a page view with a million customers. They are computed in the
//! background and kept here (`Background`); a page shows the latest with the time they were
//! taken, and a view after `TTL` starts a new computation (the page still answers at once with
//! the figures it has).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::charts;
use crate::domain::calendar::Calendar;
use crate::domain::funnel::{Quartiles, funnel};
use crate::server::error::ApiError;
use crate::store::{DashboardFigures, Store, StoreError};

/// How long figures are served before a page view asks for new ones.
const TTL: Duration = Duration::from_secs(60);
/// How long the first page view waits for the first figures before saying they are on their way.
const FIRST_WAIT: Duration = Duration::from_millis(80);

/// The overview's figures at one moment, with their charts drawn.
pub struct Snapshot {
    /// The aggregates.
    pub figures: DashboardFigures,
    /// Days from the first purchase to the second sale, when anyone came back.
    pub second_sale: Option<Quartiles>,
    /// The funnel chart (SVG).
    pub funnel_chart: String,
    /// Revenue by month (SVG).
    pub revenue_chart: String,
    /// New and returning buyers by month (SVG).
    pub buyers_chart: String,
    /// When they were computed (Unix seconds).
    pub taken_at: i64,
}

/// How the figures are read: the zone their days and months are counted in, and the P(alive)
/// below which a client is at risk.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// The business's time zone.
    pub time_zone: chrono_tz::Tz,
    /// The setting `scoring.at_risk_threshold`.
    pub at_risk_threshold: f64,
}

/// A value and when it was computed.
type Kept<T> = (Arc<T>, Instant);

/// A value computed in the background and served until it is `TTL` old: the latest, and whether
/// a computation is under way.
pub struct Background<T> {
    latest: Arc<watch::Sender<Option<Kept<T>>>>,
    refreshing: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<String>>>,
}

impl<T> Default for Background<T> {
    fn default() -> Self {
        Self {
            latest: Arc::new(watch::channel(None).0),
            refreshing: Arc::default(),
            failure: Arc::default(),
        }
    }
}

/// The overview's figures, kept.
pub type StatsCache = Background<Snapshot>;

impl StatsCache {
    /// The latest figures (as `reading` says), computed again when missing or old.
    pub async fn get_figures(&self, store: &Arc<dyn Store>, reading: Reading) -> Result<Option<Arc<Snapshot>>, String> {
        let store = store.clone();
        self.get(FIGURES, move || figures(store, reading)).await
    }

    /// Starts computing the figures unless fresh ones are kept: a page will want them soon.
    pub fn warm_figures(&self, store: &Arc<dyn Store>, reading: Reading) {
        if self.is_stale() {
            self.refresh(FIGURES, figures(store.clone(), reading));
        }
    }
}

const FIGURES: &str = "the dashboard figures";

async fn figures(store: Arc<dyn Store>, reading: Reading) -> Result<Snapshot, StoreError> {
    let calendar = Calendar {
        time_zone: reading.time_zone,
        now: chrono::Utc::now().timestamp(),
    };
    compute(&store, calendar, reading.at_risk_threshold).await
}

impl<T: Send + Sync + 'static> Background<T> {
    /// The latest value, starting `compute` in the background when there is none or it is older
    /// than `TTL`. Without any yet, waits up to `FIRST_WAIT` for the first; `Err` carries the last
    /// failure as a page may show it: a reference to the log line with the cause (`what` names
    /// the value there).
    pub async fn get<F, Fut>(&self, what: &'static str, compute: F) -> Result<Option<Arc<T>>, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let current = self.latest.borrow().clone();
        if self.is_stale() {
            self.refresh(what, compute());
        }
        if let Some((value, _)) = current {
            return Ok(Some(value));
        }
        let mut updates = self.latest.subscribe();
        let _ = tokio::time::timeout(FIRST_WAIT, updates.wait_for(Option::is_some)).await;
        let current = updates.borrow().clone();
        match (current, self.failure.lock().expect("not poisoned").clone()) {
            (None, Some(failure)) => Err(failure),
            (current, _) => Ok(current.map(|(value, _)| value)),
        }
    }

    /// Whether there is no value yet, or it is `TTL` old.
    fn is_stale(&self) -> bool {
        self.latest
            .borrow()
            .as_ref()
            .is_none_or(|(_, taken)| taken.elapsed() >= TTL)
    }

    /// Runs `compute` in the background unless a computation is under way already.
    fn refresh<Fut>(&self, what: &'static str, compute: Fut)
    where
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (latest, refreshing, failure) = (self.latest.clone(), self.refreshing.clone(), self.failure.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            match compute.await {
                Ok(value) => {
                    tracing::debug!(elapsed = ?started.elapsed(), what, "computed in the background");
                    latest.send_replace(Some((Arc::new(value), Instant::now())));
                    *failure.lock().expect("not poisoned") = None;
                }
                Err(e) => {
                    // The page shows a reference to the log line, never the driver's text.
                    let shown = ApiError::internal(format!("computing {what}: {e}")).message;
                    *failure.lock().expect("not poisoned") = Some(shown);
                }
            }
            refreshing.store(false, Ordering::Release);
        });
    }
}

async fn compute(store: &Arc<dyn Store>, calendar: Calendar, at_risk_threshold: f64) -> Result<Snapshot, StoreError> {
    let figures = store.dashboard_figures(&calendar, at_risk_threshold).await?;
    let rows = store.funnel_rows().await?;
    let snapshot = tokio::task::spawn_blocking(move || {
        let funnel = funnel(&rows);
        Snapshot {
            funnel_chart: charts::funnel(&funnel),
            revenue_chart: charts::revenue(&figures.months),
            buyers_chart: charts::buyers(&figures.months),
            figures,
            second_sale: funnel.days_to_second_purchase,
            taken_at: calendar.now,
        }
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("drawing the dashboard failed: {e}")))?;
    Ok(snapshot)
}
