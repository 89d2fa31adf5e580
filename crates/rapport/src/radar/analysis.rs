//! The defection radar on a purchase log: summaries, model fits and per-customer scores with
//! their explanations, for `rapport analyze` (a file) and `rapport fit`/`score` (the database).

use std::time::Instant;

use chrono::NaiveDate;
use rapport_models::{
    CustomerScore, CustomerSummary, Fit, FitOptions, FittedModel, GammaGammaParams, GapRule, HoldoutReport, ModelKind,
    SpendData, SummaryOptions, TimeUnit, evaluate_holdout, fit_gamma_gamma, purchase_days, rfm_scores, summarize,
};
use serde::{Deserialize, Serialize};

pub use crate::domain::score::ScoreRow;
use crate::domain::state::{day_of, midnight};
pub use crate::radar::purchase_log::{CompactId, CustomerIndex, PurchaseLog};

mod choice;
mod csv_row;
mod scoring;

pub use choice::{Holdout, MIN_CUSTOMERS, MIN_REPEAT_BUYERS, ModelChoice, Verdict, label};
use scoring::Scorer;
pub use scoring::score_rows;

/// Calibration frequency groups shown in the holdout comparison (the last one pools the rest).
const HOLDOUT_TOP_GROUP: u32 = 7;

/// What to fit and how to score.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// The last day of the calibration period (inclusive).
    pub calibration_end: NaiveDate,
    /// The last day of the holdout period, for a calibration/holdout comparison.
    pub holdout_end: Option<NaiveDate>,
    /// Model time unit.
    pub unit: TimeUnit,
    /// Which purchase model.
    pub model: ModelChoice,
    /// Which customers get a row with scores and explanation.
    pub rows: Rows,
}

/// Which customers an analysis writes rows for (each with its explanation sentence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// Every customer, for a scores file or the store.
    All,
    /// The most valuable few, to show.
    MostValuable(usize),
    /// None: only the fitted models and totals are wanted.
    None,
    /// Every customer, written as CSV to this file as they are made (two threads, a chunk at a
    /// time), never all held at once.
    Write(std::path::PathBuf),
}

/// Seconds spent in each stage, for `--timings` and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Reading and parsing the file.
    pub read_s: f64,
    /// RFM summary.
    pub summary_s: f64,
    /// Purchase-model fit.
    pub fit_s: f64,
    /// Picking the repeat buyers' frequencies and spends out of the summaries for the spend fit.
    pub spend_data_s: f64,
    /// Gamma-Gamma spend fit.
    pub gamma_gamma_s: f64,
    /// P(alive) and 12-month CLV for everyone.
    pub scoring_s: f64,
    /// Per-customer rows: 90- and 365-day expectations, RFM segments, explanations.
    pub rows_s: f64,
}

/// How scores are made: a fitted model (with its spend model), or the business's own gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// A purchase model fitted by maximum likelihood.
    Model {
        /// The purchase model.
        fitted: FittedModel,
        /// The spend model, when there were enough repeat buyers.
        spend: Option<GammaGammaParams>,
    },
    /// The percentiles of every gap between two purchase days: no parameters to identify.
    Gaps {
        /// Everyone's gaps.
        rule: GapRule,
    },
}

impl Method {
    /// The stored and printed name: `bgnbd`, `mbgnbd`, `pareto-nbd` or `gaps`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Model { fitted, .. } => model_name(fitted.kind()),
            Method::Gaps { .. } => "gaps",
        }
    }
}

/// The fitted models, their quality and every customer's scores.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// `bgnbd`, `mbgnbd`, `pareto-nbd`, or `gaps` when no model can be trusted.
    pub model: &'static str,
    /// Why this way of scoring, and why each refused candidate was refused.
    pub choice: Verdict,
    /// The model's parameters by the papers' names.
    pub params: serde_json::Value,
    /// Standard errors of the parameters.
    pub std_errors: serde_json::Value,
    /// Maximised log-likelihood (none for the gaps rule).
    pub log_likelihood: Option<f64>,
    /// Customers in the fit.
    pub customers: u64,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// Optimiser iterations.
    pub iterations: u64,
    /// `week` or `day`.
    pub time_unit: TimeUnit,
    /// The end of calibration.
    pub calibration_end: NaiveDate,
    /// The spend model, when there were enough repeat buyers.
    pub gamma_gamma: Option<Fit<GammaGammaParams>>,
    /// Why there is no spend model, when there is none.
    pub gamma_gamma_error: Option<String>,
    /// Predicted against actual holdout purchases, with `holdout_end`.
    pub holdout: Option<HoldoutReport>,
    /// Mean 12-month CLV over all customers.
    pub mean_clv: f64,
    /// Stage timings.
    #[serde(skip)]
    pub timings: Timings,
    /// The rows `AnalysisOptions::rows` asked for.
    #[serde(skip)]
    pub rows: Vec<ScoreRow>,
    /// How the scores were made, for plots and storage.
    #[serde(skip)]
    pub method: Method,
    /// The oldest customer's age (T), for the P(alive) chart.
    #[serde(skip)]
    pub max_age: f64,
    /// The 95th percentile of repeat purchases, for the P(alive) chart.
    #[serde(skip)]
    pub p95_frequency: u32,
}

/// Why an analysis produced no model.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// No customer made a first purchase by the calibration end.
    #[error("no purchases on or before the calibration end {0}")]
    NoData(NaiveDate),
    /// The holdout period ends before it starts.
    #[error("the holdout end {holdout} must be after the calibration end {calibration}")]
    BadHoldout {
        /// Calibration end.
        calibration: NaiveDate,
        /// Holdout end.
        holdout: NaiveDate,
    },
    /// The scores file could not be written.
    #[error("cannot write the scores: {0}")]
    Write(String),
}

/// The command-line name of a model kind.
pub fn model_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::BgNbd => "bgnbd",
        ModelKind::MbgNbd => "mbgnbd",
        ModelKind::ParetoNbd => "pareto-nbd",
        ModelKind::BgBb => "bgbb",
    }
}

/// Summarises a purchase log, chooses how to score it (`choice::choose`), fits and scores.
pub fn analyze(mut log: PurchaseLog, options: &AnalysisOptions) -> Result<Analysis, AnalysisError> {
    if let Some(holdout) = options.holdout_end.filter(|h| *h <= options.calibration_end) {
        return Err(AnalysisError::BadHoldout {
            calibration: options.calibration_end,
            holdout,
        });
    }
    let mut timings = Timings::default();
    let started = Instant::now();
    let day = |d: NaiveDate| day_of(midnight(d)) as i32;
    let summary_options = SummaryOptions {
        calibration_end: day(options.calibration_end),
        holdout_end: options.holdout_end.map(day),
        unit: options.unit,
    };
    let summaries = summarize(&log.purchases, &summary_options);
    timings.summary_s = started.elapsed().as_secs_f64();
    if summaries.is_empty() {
        return Err(AnalysisError::NoData(options.calibration_end));
    }
    let started = Instant::now();
    let holdout = check_period(&log, &summary_options);
    let choice = choice::choose(options.model, &summaries, holdout.as_ref());
    drop(holdout);
    timings.fit_s = started.elapsed().as_secs_f64();
    let (method, fit, spend_fit) = match &choice.fit {
        Some(fit) => {
            // A million customers' summaries are smaller than their purchases: only the summaries go on.
            log.purchases = Vec::new();
            let started = Instant::now();
            let spend_data = SpendData::from_summaries(&summaries);
            timings.spend_data_s = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let spend_fit = spend_data.and_then(|data| fit_gamma_gamma(&data, &FitOptions::default()));
            timings.gamma_gamma_s = started.elapsed().as_secs_f64();
            let method = Method::Model {
                fitted: fit.params,
                spend: spend_fit.as_ref().ok().map(|f| f.params),
            };
            (method, Some(fit.clone()), Some(spend_fit))
        }
        None => {
            let days = purchase_days(&log.purchases, summary_options.calibration_end);
            (
                Method::Gaps {
                    rule: GapRule::from_customers(&days),
                },
                None,
                None,
            )
        }
    };
    let started = Instant::now();
    let scorer = Scorer::new(&method, &summaries, &log, options.unit, summary_options.calibration_end);
    let scores = scorer.scores();
    timings.scoring_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mean_clv = scores.iter().map(|s| s.clv).sum::<f64>() / scores.len() as f64;
    let which: Vec<usize> = match &options.rows {
        Rows::All => (0..scores.len()).collect(),
        Rows::MostValuable(n) => most_valuable(&scores, *n),
        Rows::None | Rows::Write(_) => Vec::new(),
    };
    let rfm = if which.is_empty() && !matches!(options.rows, Rows::Write(_)) {
        Vec::new()
    } else {
        rfm_scores(&summaries)
    };
    let rows = scorer.rows(&scores, &rfm, &which);
    if let Rows::Write(path) = &options.rows {
        scorer.write(&scores, &rfm, path)?;
    }
    let holdout = match (&method, options.holdout_end) {
        (Method::Model { fitted, .. }, Some(_)) => Some(evaluate_holdout(
            fitted,
            &summaries,
            summary_options.holdout_length(),
            HOLDOUT_TOP_GROUP,
        )),
        _ => None,
    };
    timings.rows_s = started.elapsed().as_secs_f64();
    Ok(Analysis {
        model: method.name(),
        params: match &method {
            Method::Model { fitted, .. } => params_json(fitted),
            Method::Gaps { rule } => serde_json::json!({"median_gap_days": rule.median(), "gaps": rule.gaps}),
        },
        std_errors: fit
            .as_ref()
            .map_or(serde_json::Value::Null, |f| params_json(&f.std_errors)),
        log_likelihood: fit.as_ref().map(|f| f.log_likelihood),
        customers: summaries.len() as u64,
        converged: fit.is_some(),
        iterations: fit.as_ref().map_or(0, |f| f.iterations),
        choice,
        time_unit: options.unit,
        calibration_end: options.calibration_end,
        gamma_gamma_error: match &spend_fit {
            Some(Err(e)) => Some(format!(
                "no spend model ({e}): values use each customer's own mean spend"
            )),
            _ => None,
        },
        gamma_gamma: spend_fit.and_then(Result::ok),
        holdout,
        mean_clv,
        timings,
        rows,
        method,
        max_age: summaries.iter().map(|c| c.age).fold(0.0, f64::max),
        p95_frequency: percentile_frequency(&summaries, 0.95),
    })
}

/// Weeks set aside at the end of the calibration period to test each candidate's forecast.
const CHECK_WEEKS: i32 = 13;

/// The last 13 weeks of the calibration period as a hold-out check, when the data before them
/// span at least three times as long and the period holds enough repeat purchases to judge by.
fn check_period(log: &PurchaseLog, options: &SummaryOptions) -> Option<Holdout> {
    let first = log.purchases.iter().map(|p| p.day).min()?;
    let start = options.calibration_end - CHECK_WEEKS * 7;
    if start - first < 3 * CHECK_WEEKS * 7 {
        return None;
    }
    let split = SummaryOptions {
        calibration_end: start,
        holdout_end: Some(options.calibration_end),
        unit: options.unit,
    };
    let summaries = summarize(&log.purchases, &split);
    let made: u64 = summaries.iter().map(|s| u64::from(s.holdout_frequency)).sum();
    (made as f64 >= choice::MIN_HOLDOUT_PURCHASES).then(|| Holdout {
        length: split.holdout_length(),
        described: format!(
            "the {CHECK_WEEKS} weeks after {}",
            crate::domain::state::format_day(i64::from(start))
        ),
        summaries,
    })
}

/// The indices of the `n` customers with the highest CLV, most valuable first.
fn most_valuable(scores: &[CustomerScore], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let by_value = |x: &usize, y: &usize| scores[*y].clv.total_cmp(&scores[*x].clv);
    if order.len() > n {
        order.select_nth_unstable_by(n, by_value);
        order.truncate(n);
    }
    order.sort_unstable_by(by_value);
    order
}

fn percentile_frequency(summaries: &[CustomerSummary], q: f64) -> u32 {
    let mut frequencies: Vec<u32> = summaries.iter().map(|c| c.frequency).collect();
    let k = ((frequencies.len() - 1) as f64 * q) as usize;
    *frequencies.select_nth_unstable(k).1
}

/// A model's parameters as a JSON object by the papers' names (without the `model` tag).
pub(crate) fn params_json(model: &FittedModel) -> serde_json::Value {
    let mut value = serde_json::to_value(model).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("model");
    }
    value
}
