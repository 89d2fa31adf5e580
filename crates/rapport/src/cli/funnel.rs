//! `rapport funnel`: customers per stage, conversion between stages, and when the second sale comes.

use clap::Args;
use rapport::config::DatabaseSettings;
use rapport::domain::funnel::{Funnel, funnel as compute_funnel};
use rapport::store::open_with;

use super::Output;
use super::output::count;

/// `rapport funnel`.
#[derive(Debug, Args)]
pub struct FunnelArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the funnel report.
pub async fn run(db: &DatabaseSettings, args: FunnelArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(db).await?;
    let report = compute_funnel(&store.funnel_rows().await?);
    if args.json {
        return out.json(&report);
    }
    print_funnel(&report, out)
}

fn print_funnel(f: &Funnel, out: Output) -> anyhow::Result<()> {
    out.line(&count(f.total_customers, "customer"))?;
    out.line(&format!(
        "{:<10} {:>10} {:>10}   {}",
        "stage", "now", "reached", "went on to the next stage"
    ))?;
    for (stage, now) in &f.stages {
        let step = f.conversion.iter().find(|c| c.from == *stage);
        let reached = f
            .conversion
            .iter()
            .find(|c| c.to == *stage)
            .map_or(f.total_customers, |c| c.reached_to);
        let next = step.map_or_else(String::new, |c| match c.rate {
            Some(rate) => format!("{:5.1}% became {}", rate * 100.0, c.to),
            None => format!("-      became {}", c.to),
        });
        out.line(&format!("{:<10} {:>10} {:>10}   {next}", stage.as_str(), now, reached))?;
    }
    match &f.days_to_second_purchase {
        Some(q) => out.line(&format!(
            // A median of whole days is often halfway between two: "1.5 days", but "1 day".
            "second sale: {}, median {} day{} after the first purchase (quartiles {} to {})",
            count(q.count, "client"),
            q.median,
            if q.median == 1.0 { "" } else { "s" },
            q.p25,
            q.p75
        ))?,
        None => out.line("second sale: no customer has bought on a second day yet")?,
    }
    for share in &f.returned_within {
        let pct = share
            .share
            .map_or_else(|| "-".to_owned(), |s| format!("{:.1}%", s * 100.0));
        out.line(&format!(
            "came back within {:>3} days: {pct} of {} who had {} days to do so",
            share.days,
            count(share.eligible, "first-time buyer"),
            share.days
        ))?;
    }
    if let Some(as_of) = &f.as_of {
        out.line(&format!("(as of the last event in the data, {as_of})"))?;
    }
    Ok(())
}
