//! `rapport fit` and `rapport score`: the defection radar on the database.

use clap::Args;
use rapport::radar::{FitSettings, ScoreSettings, fit_store, score_store};
use rapport::store::open;

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
    /// Announce a client or partner as at risk (webhook `customer.at_risk`) when their P(alive)
    /// falls from at least this to below it.
    #[arg(long, default_value_t = 0.5, env = "RAPPORT_AT_RISK_THRESHOLD")]
    at_risk_threshold: f64,
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
    print_analysis(&analysis, None, out)?;
    out.line(&format!(
        "stored as model version {version}; `rapport score` scores every customer with it"
    ))
}

/// Scores every customer with the latest model version, as of the last purchase in the data.
pub async fn score(db: &str, args: ScoreArgs, out: Output) -> anyhow::Result<()> {
    let store = open(db).await?;
    let settings = ScoreSettings {
        at_risk_threshold: args.at_risk_threshold,
    };
    let report = score_store(&store, settings).await?;
    if args.json {
        return out.json(&report);
    }
    out.line(&format!(
        "scored {} customers with {} model version {} as of {}: {} likely still active (P(alive) above 0.5)",
        report.customers, report.model, report.version, report.as_of, report.likely_active
    ))
}
