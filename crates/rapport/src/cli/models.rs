//! `rapport fit` and `rapport score`: the defection radar on the database.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use rapport::config::Settings;
use rapport::radar::{FitSettings, ScoreSettings, fit_store, score_store_rows};
use rapport::store::open;

use super::Output;
use super::analyze::{ModelArgs, print_analysis};
use super::output::count;

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
    /// A client or partner whose P(alive) falls below this is at risk (counted, listed, announced
    /// by the webhook `customer.at_risk` when it falls from at least this) [setting
    /// scoring.at_risk_threshold, RAPPORT_AT_RISK_THRESHOLD; default 0.5].
    #[arg(long)]
    pub at_risk_threshold: Option<f64>,
    /// Score as of this day (YYYY-MM-DD) instead of today, e.g. the end of an old data set.
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Also write every customer's scores to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Fits a model to every purchase in the database and stores it as a new model version.
pub async fn fit(db: &str, args: FitArgs, out: Output) -> anyhow::Result<()> {
    let store = open(db).await?;
    let settings = FitSettings {
        calibration_end: args.model.calibration_end,
        unit: args.model.time_unit,
        model: args.model.model,
    };
    let (analysis, version) = fit_store(&store, settings).await?;
    if args.json {
        let mut json = serde_json::to_value(&analysis)?;
        json["version"] = version.into();
        return out.json(&json);
    }
    print_analysis(&analysis, None, "rapport score --out FILE", out)?;
    out.line(&format!(
        "stored as model version {version}; `rapport score` scores every customer with it"
    ))
}

/// Scores every customer with the latest model version, as of today or `--as-of`.
pub async fn score(config: &Settings, args: ScoreArgs, out: Output) -> anyhow::Result<()> {
    let store = open(&config.database.url).await?;
    let settings = ScoreSettings {
        at_risk_threshold: config.scoring.at_risk_threshold,
        as_of: args.as_of,
    };
    let (report, rows) = score_store_rows(&store, settings).await?;
    if let Some(path) = &args.out {
        let mut writer =
            csv::Writer::from_path(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        for row in &rows {
            writer.serialize(row)?;
        }
        writer.flush()?;
    }
    if args.json {
        return out.json(&report);
    }
    out.line(&format!(
        "scored {} with {} (model version {}) as of {}: {} likely still active (P(alive) above 0.5)",
        count(report.customers as u64, "customer"),
        report.model,
        report.version,
        report.as_of,
        report.likely_active
    ))?;
    if report.days_since_data > 30 {
        out.line(&format!(
            "the data end on {}, {} before: everyone has been silent at least that long",
            report.data_ends,
            count(report.days_since_data as u64, "day")
        ))?;
    }
    if let Some(path) = &args.out {
        out.line(&format!(
            "scores of {} customers written to {}",
            rows.len(),
            path.display()
        ))?;
    }
    Ok(())
}
