//! The defection radar on the store: fit a model version to every stored purchase, and score every
//! customer with the latest version. The CLI (`fit`, `score`) and the API share these.

use std::sync::Arc;

use chrono::NaiveDate;
use rapport_models::{FittedModel, GammaGammaParams, Purchase, SummaryOptions, TimeUnit, summarize};
use serde::{Deserialize, Serialize};

use crate::domain::CustomerId;
use crate::domain::state::{day_of, format_day};
use crate::domain::webhook::EventType;
use crate::radar::analysis::{
    Analysis, AnalysisOptions, CompactId, Method, ModelChoice, PurchaseLog, Rows, analyze, score_rows,
};
use crate::store::{FitRecord, Store};
use crate::webhooks::Outbox;
use crate::webhooks::payload::AtRisk;

/// Why the radar could not fit or score: the data's problems (the caller can fix them) apart from
/// the store's faults (the operator's), so the API answers 422 for the first and 500 for the second.
#[derive(Debug, thiserror::Error)]
pub enum RadarError {
    /// There is nothing to fit or score.
    #[error("the database has no purchases yet: import some with `rapport import transactions`")]
    NoPurchases,
    /// Scoring needs a stored model version.
    #[error("no model fitted yet: run `rapport fit` (or POST /api/v1/models/fits) first")]
    NoModel,
    /// The asked day is before the data end.
    #[error("cannot score as of {as_of}: the data run to {data_ends} (score as of that day or later)")]
    AsOfBeforeData {
        /// The day asked for.
        as_of: String,
        /// The last purchase's day.
        data_ends: String,
    },
    /// The data and dates given cannot be analysed (no purchases by the calibration end, ...).
    #[error(transparent)]
    Analysis(#[from] crate::radar::analysis::AnalysisError),
    /// A stored model version this release cannot read.
    #[error("model version {0} cannot be read: fit again with `rapport fit`")]
    UnreadableModel(i64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The fitting thread failed, or a result could not be encoded: a fault of Rapport's own.
    #[error("{0}")]
    Internal(String),
}

impl RadarError {
    /// Whether the caller's data or request is at fault (else the server is).
    pub fn is_data_problem(&self) -> bool {
        matches!(
            self,
            RadarError::NoPurchases | RadarError::NoModel | RadarError::AsOfBeforeData { .. } | RadarError::Analysis(_)
        )
    }
}

fn internal(error: impl std::fmt::Display) -> RadarError {
    RadarError::Internal(error.to_string())
}

/// A model version stored before the gaps rule existed: a fitted model and its spend model.
#[derive(Debug, Deserialize)]
struct StoredModel {
    fitted: FittedModel,
    spend: Option<GammaGammaParams>,
}

/// How a stored version scores: its `stored` part, in today's shape or the earlier one.
fn stored_method(summary: &serde_json::Value) -> Option<Method> {
    let stored = summary.get("stored")?.clone();
    serde_json::from_value::<Method>(stored.clone()).ok().or_else(|| {
        let old: StoredModel = serde_json::from_value(stored).ok()?;
        Some(Method::Model {
            fitted: old.fitted,
            spend: old.spend,
        })
    })
}

/// How to fit.
#[derive(Debug, Clone, Copy)]
pub struct FitSettings {
    /// Last day of calibration; the day of the last stored purchase when `None`.
    pub calibration_end: Option<NaiveDate>,
    /// Model time unit.
    pub unit: TimeUnit,
    /// Purchase model, or how to choose one.
    pub model: ModelChoice,
}

/// What `score_store` did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoreReport {
    /// Customers scored.
    pub customers: usize,
    /// The model's name.
    pub model: &'static str,
    /// The model version used.
    pub version: i64,
    /// Scores are as of this day: today unless another was asked for.
    pub as_of: String,
    /// The day of the last purchase in the data.
    pub data_ends: String,
    /// Days from the last purchase in the data to `as_of`: old data make everyone look silent.
    pub days_since_data: i64,
    /// Customers with P(alive) above 0.5.
    pub likely_active: usize,
}

/// Purchases or customers read per round trip.
const PAGE: u32 = 100_000;

/// Every stored purchase as a log for the models, and the day of the last one.
///
/// The log is read a page at a time by the store's own customer ids (dense numbers, so a table
/// maps them to the models' indices without hashing), and the business's ids are read once per
/// customer afterwards, not joined to every purchase (reading 10,000,000 purchases of 1,000,000
/// customers took 18.9 s that way, 7.1 s now).
pub async fn stored_log(store: &Arc<dyn Store>) -> Result<(PurchaseLog, i64), RadarError> {
    // `index_of[id]` is the models' index of the store's customer `id`, or `u32::MAX`.
    let mut index_of: Vec<u32> = Vec::new();
    let mut ids: Vec<CustomerId> = Vec::new();
    let mut purchases = Vec::new();
    let mut last_day = i64::MIN;
    let mut after = 0;
    loop {
        let page = store.purchases_after(after, PAGE).await?;
        for &(customer, at, cents) in &page.purchases {
            let slot = usize::try_from(customer.0).map_err(|_| internal(format!("customer id {customer}")))?;
            if slot >= index_of.len() {
                index_of.resize((slot + 1).max(2 * index_of.len()), u32::MAX);
            }
            if index_of[slot] == u32::MAX {
                index_of[slot] = ids.len() as u32;
                ids.push(customer);
            }
            let day = day_of(at);
            last_day = last_day.max(day);
            purchases.push(Purchase {
                customer: index_of[slot],
                day: day as i32,
                amount: cents as f64 / 100.0,
            });
        }
        match page.last {
            Some(last) if page.purchases.len() == PAGE as usize => after = last,
            _ => break,
        }
    }
    if purchases.is_empty() {
        return Err(RadarError::NoPurchases);
    }
    let mut names: Vec<Option<CompactId>> = vec![None; ids.len()];
    let mut after = CustomerId(0);
    loop {
        let page = store.external_ids_after(after, PAGE).await?;
        for (id, external) in &page {
            let at = usize::try_from(id.0).ok().and_then(|slot| index_of.get(slot));
            if let Some(&index) = at.filter(|index| **index != u32::MAX) {
                names[index as usize] = Some(CompactId::new(external));
            }
        }
        match page.last() {
            Some(&(id, _)) if page.len() == PAGE as usize => after = id,
            _ => break,
        }
    }
    let customers = names
        .into_iter()
        .zip(&ids)
        .map(|(name, id)| name.ok_or_else(|| internal(format!("purchases name customer {id}, who does not exist"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((PurchaseLog::from_parts(customers, purchases), last_day))
}

/// Fits a model to every stored purchase and stores it as a new version; returns the analysis
/// (with the five most valuable customers' rows) and the version number.
pub async fn fit_store(store: &Arc<dyn Store>, settings: FitSettings) -> Result<(Analysis, i64), RadarError> {
    let (log, last_day) = stored_log(store).await?;
    let calibration_end = match settings.calibration_end {
        Some(date) => date,
        None => chrono::DateTime::from_timestamp(last_day * 86_400, 0)
            .map(|t| t.date_naive())
            .ok_or_else(|| internal(format!("day {last_day} is not a date")))?,
    };
    let options = AnalysisOptions {
        calibration_end,
        holdout_end: None,
        unit: settings.unit,
        model: settings.model,
        rows: Rows::MostValuable(5),
    };
    // Fitting is CPU work of up to a few seconds: keep it off the async workers.
    let analysis = tokio::task::spawn_blocking(move || analyze(log, &options))
        .await
        .map_err(internal)??;
    let mut summary = serde_json::to_value(&analysis).map_err(internal)?;
    summary["stored"] = serde_json::to_value(&analysis.method).map_err(internal)?;
    let record = FitRecord {
        id: 0,
        created_at: chrono::Utc::now().timestamp(),
        model: analysis.model.to_owned(),
        time_unit: unit_name(analysis.time_unit).to_owned(),
        calibration_end: calibration_end.to_string(),
        summary,
        // The gaps rule has no likelihood; the column holds 0 and the summary says `null`.
        log_likelihood: analysis.log_likelihood.unwrap_or(0.0),
        customers: analysis.customers as i64,
    };
    let version = store.save_fit(&record).await?;
    Ok((analysis, version))
}

/// How to score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreSettings {
    /// `customer.at_risk` fires for a client or partner whose P(alive) falls from at least this to
    /// below it.
    pub at_risk_threshold: f64,
    /// Score as of this day; today when `None`.
    pub as_of: Option<NaiveDate>,
}

impl Default for ScoreSettings {
    fn default() -> Self {
        Self {
            at_risk_threshold: 0.5,
            as_of: None,
        }
    }
}

/// Scores every customer with the latest model version as of today (or `settings.as_of`), and
/// announces the clients and partners who fell below the at-risk threshold (in the same transaction).
pub async fn score_store(store: &Arc<dyn Store>, settings: ScoreSettings) -> Result<ScoreReport, RadarError> {
    Ok(score_store_rows(store, settings).await?.0)
}

/// `score_store`, with every customer's scores as stored.
pub async fn score_store_rows(
    store: &Arc<dyn Store>,
    settings: ScoreSettings,
) -> Result<(ScoreReport, Vec<crate::radar::analysis::ScoreRow>), RadarError> {
    let fit = store.latest_fit().await?.ok_or(RadarError::NoModel)?;
    let method = stored_method(&fit.summary).ok_or(RadarError::UnreadableModel(fit.id))?;
    let unit = if fit.time_unit == "day" {
        TimeUnit::Day
    } else {
        TimeUnit::Week
    };
    let model = method.name();
    let (log, last_day) = stored_log(store).await?;
    let today = day_of(chrono::Utc::now().timestamp());
    // Events may be dated up to a day ahead (clocks drift): today then means the data's last day.
    let as_of = settings
        .as_of
        .map_or(today.max(last_day), |d| day_of(crate::domain::state::midnight(d)));
    if as_of < last_day {
        return Err(RadarError::AsOfBeforeData {
            as_of: format_day(as_of),
            data_ends: format_day(last_day),
        });
    }
    let rows = tokio::task::spawn_blocking(move || {
        let summaries = summarize(
            &log.purchases,
            &SummaryOptions {
                calibration_end: as_of as i32,
                holdout_end: None,
                unit,
            },
        );
        score_rows(&method, &summaries, &log, unit, as_of as i32)
    })
    .await
    .map_err(internal)?;
    let mut tx = store.begin().await?;
    let scored_at = chrono::Utc::now().timestamp();
    tx.save_scores(fit.id, scored_at, &rows).await?;
    // Care plans that act when P(alive) falls are planned with the scores that show the fall.
    tx.care().plan_from_scoring(scored_at, scored_at).await?;
    let mut outbox = Outbox::load(&mut *tx, scored_at).await?;
    if outbox.wants(EventType::CustomerAtRisk) {
        let threshold = settings.at_risk_threshold;
        for row in tx.at_risk_crossings(threshold, scored_at).await? {
            outbox.push(EventType::CustomerAtRisk, AtRisk { row: &row, threshold });
        }
        outbox.write(&mut *tx).await?;
    }
    tx.commit().await?;
    let report = ScoreReport {
        customers: rows.len(),
        model,
        version: fit.id,
        as_of: format_day(as_of),
        data_ends: format_day(last_day),
        days_since_data: as_of - last_day,
        likely_active: rows.iter().filter(|r| r.p_alive > 0.5).count(),
    };
    Ok((report, rows))
}

/// The stored name of a time unit.
pub fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Week => "week",
        TimeUnit::Day => "day",
    }
}
