//! `rapport fit` and `rapport score`: the defection radar on the database.

use clap::Args;
use rapport::analysis::{AnalysisOptions, PurchaseLog, analyze, model_name, score_rows};
use rapport::domain::state::{day_of, format_day};
use rapport::store::{FitRecord, open};
use rapport_models::{FittedModel, GammaGammaParams, SummaryOptions, TimeUnit, summarize};
use serde::Serialize;

use super::Output;
use super::analyze::{ModelArgs, print_analysis};

/// `rapport fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `rapport score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// What `rapport fit` stores besides the printed summary: enough to score without refitting.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Stored {
    fitted: FittedModel,
    spend: Option<GammaGammaParams>,
}

async fn load_log(store: &std::sync::Arc<dyn rapport::store::Store>) -> anyhow::Result<(PurchaseLog, i64)> {
    let mut log = PurchaseLog::default();
    let mut index = rapport::analysis::CustomerIndex::default();
    let mut last_day = i64::MIN;
    for (customer, at, cents) in store.purchase_log().await? {
        last_day = last_day.max(day_of(at));
        log.push(&mut index, &customer, day_of(at), cents as f64 / 100.0);
    }
    anyhow::ensure!(
        !log.purchases.is_empty(),
        "the database has no purchases yet: import some with `rapport import transactions`"
    );
    Ok((log, last_day))
}

/// Fits a model to every purchase in the database and stores it as a new model version.
pub async fn fit(db: &str, args: FitArgs, out: Output) -> anyhow::Result<()> {
    let store = open(db).await?;
    let (log, last_day) = load_log(&store).await?;
    let calibration_end = match args.model.calibration_end {
        Some(date) => date,
        None => format_day(last_day).parse()?,
    };
    let options = AnalysisOptions {
        calibration_end,
        holdout_end: None,
        unit: args.model.time_unit,
        model: args.model.model,
        rows: rapport::analysis::Rows::MostValuable(5),
    };
    let analysis = analyze(log, &options)?;
    let mut summary = serde_json::to_value(&analysis)?;
    let stored = Stored {
        fitted: analysis.fitted,
        spend: analysis.gamma_gamma.as_ref().map(|g| g.params),
    };
    summary["stored"] = serde_json::to_value(&stored)?;
    let record = FitRecord {
        id: 0,
        created_at: chrono::Utc::now().timestamp(),
        model: analysis.model.to_owned(),
        time_unit: unit_name(analysis.time_unit).to_owned(),
        calibration_end: calibration_end.to_string(),
        summary,
        log_likelihood: analysis.log_likelihood,
        customers: analysis.customers as i64,
    };
    let version = store.save_fit(&record).await?;
    if args.json {
        let mut json = serde_json::to_value(&analysis)?;
        json["version"] = version.into();
        return out.json(&json);
    }
    print_analysis(&analysis, None, out)?;
    out.line(&format!(
        "stored as model version {version}; `rapport score` scores every customer with it"
    ))
}

/// Scores every customer with the latest model version, as of the last purchase in the data.
pub async fn score(db: &str, args: ScoreArgs, out: Output) -> anyhow::Result<()> {
    let store = open(db).await?;
    let fit = store
        .latest_fit()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no model fitted yet: run `rapport fit` first"))?;
    let stored: Stored = serde_json::from_value(fit.summary["stored"].clone())
        .map_err(|e| anyhow::anyhow!("model version {} cannot be read: {e}", fit.id))?;
    let unit = if fit.time_unit == "day" {
        TimeUnit::Day
    } else {
        TimeUnit::Week
    };
    let (log, last_day) = load_log(&store).await?;
    let summaries = summarize(
        &log.purchases,
        &SummaryOptions {
            calibration_end: last_day as i32,
            holdout_end: None,
            unit,
        },
    );
    let rows = score_rows(&stored.fitted, stored.spend.as_ref(), &summaries, &log, unit);
    let mut tx = store.begin().await?;
    tx.save_scores(fit.id, chrono::Utc::now().timestamp(), &rows).await?;
    tx.commit().await?;
    let report = ScoreReport {
        customers: rows.len(),
        model: model_name(stored.fitted.kind()),
        version: fit.id,
        as_of: format_day(last_day),
        likely_active: rows.iter().filter(|r| r.p_alive > 0.5).count(),
    };
    if args.json {
        return out.json(&report);
    }
    out.line(&format!(
        "scored {} customers with {} model version {} as of {}: {} likely still active (P(alive) above 0.5)",
        report.customers, report.model, report.version, report.as_of, report.likely_active
    ))
}

#[derive(Serialize)]
struct ScoreReport {
    customers: usize,
    model: &'static str,
    version: i64,
    as_of: String,
    likely_active: usize,
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Week => "week",
        TimeUnit::Day => "day",
    }
}
