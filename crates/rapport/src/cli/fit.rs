//! `rapport fit`: a defection model fitted to the stored purchases, kept as a new version.

use clap::Args;
use rapport::config::DatabaseSettings;
use rapport::radar::{FitSettings, fit_store};
use rapport::store::open_with;

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

/// Fits a model to every purchase in the database and stores it as a new model version.
pub async fn run(db: &DatabaseSettings, args: FitArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(db).await?;
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
