//! `rapport rebuild`: every customer's state folded again from the event log.

use clap::Args;
use rapport::config::DatabaseSettings;
use rapport::projection;
use rapport::store::open_with;

use super::Output;
use super::output::count;

/// `rapport rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Rebuilds every customer's state from the log.
pub async fn run(db: &DatabaseSettings, args: RebuildArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(db).await?;
    let report = projection::rebuild(&store).await?;
    if args.json {
        return out.json(&report);
    }
    out.line(&format!(
        "rebuilt {} from {}",
        count(report.customers, "customer"),
        count(report.events, "event")
    ))
}
