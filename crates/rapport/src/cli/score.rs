//! `rapport score`: every customer scored with the latest model version.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use rapport::config::Settings;
use rapport::radar::{ScoreSettings, score_store_rows};
use rapport::store::open_with;

use super::Output;
use super::output::count;

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

/// Scores every customer with the latest model version, as of today or `--as-of`.
pub async fn run(config: &Settings, args: ScoreArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(&config.database).await?;
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
