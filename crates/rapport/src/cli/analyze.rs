//! `rapport analyze`: the defection radar on a file, without a database.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use rapport::radar::analysis::{Analysis, AnalysisOptions, Method, ModelChoice, PurchaseLog, Rows, analyze};
use rapport_models::TimeUnit;
use serde::Serialize;

use super::Output;
use super::import::{LayoutArgs, TransactionColumnArgs};
use super::output::count;

/// `rapport analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    layout: LayoutArgs,
    #[command(flatten)]
    columns: TransactionColumnArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Last day of a holdout period after calibration: compares predicted with actual purchases.
    #[arg(long)]
    holdout_end: Option<NaiveDate>,
    /// Write one row of scores per customer to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the fitted model as JSON.
    #[arg(long)]
    json: bool,
    /// Include stage timings (in seconds) in the output.
    #[arg(long)]
    timings: bool,
    /// Write SVG charts here: the P(alive) matrix and, with --holdout-end, predicted against actual purchases.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Which model to fit and on which period.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Last day of the calibration period: purchases up to and including it are fitted.
    #[arg(long)]
    pub calibration_end: Option<NaiveDate>,
    /// Model time unit.
    #[arg(long, default_value = "week", value_parser = parse_unit)]
    pub time_unit: TimeUnit,
    /// Purchase model: auto (MBG/NBD or Pareto/NBD, whichever the data identify better), bgnbd,
    /// mbgnbd, pareto-nbd, or gaps (the business's own gaps between purchases, no model). A model
    /// the data cannot identify is refused, saying why, and the gaps rule scores instead.
    #[arg(long, default_value = "auto", value_parser = parse_model)]
    pub model: ModelChoice,
}

fn parse_unit(s: &str) -> Result<TimeUnit, String> {
    match s {
        "week" | "weeks" => Ok(TimeUnit::Week),
        "day" | "days" => Ok(TimeUnit::Day),
        other => Err(format!("'{other}' is not a time unit (use week or day)")),
    }
}

fn parse_model(s: &str) -> Result<ModelChoice, String> {
    s.parse()
}

#[derive(Serialize)]
struct WithTimings<'a> {
    #[serde(flatten)]
    analysis: &'a Analysis,
    timings: serde_json::Value,
}

/// Fits and scores a file, its dates and times without an offset read in `time_zone`.
pub fn run(args: AnalyzeArgs, time_zone: chrono_tz::Tz, out: Output) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let calibration_end = args
        .model
        .calibration_end
        .ok_or_else(|| anyhow::anyhow!("--calibration-end is required"))?;
    let log = PurchaseLog::read(&args.layout.options(time_zone), &args.columns.columns())?;
    let read_s = started.elapsed().as_secs_f64();
    let options = AnalysisOptions {
        calibration_end,
        holdout_end: args.holdout_end,
        unit: args.model.time_unit,
        model: args.model.model,
        rows: match (&args.out, args.json) {
            (Some(path), _) => Rows::Write(path.clone()),
            (None, false) => Rows::MostValuable(5),
            (None, true) => Rows::None,
        },
    };
    let mut analysis = analyze(log, &options)?;
    analysis.timings.read_s = read_s;
    let charts = match (&args.plot, &analysis.method) {
        (Some(dir), Method::Model { fitted, .. }) => {
            let max_frequency = analysis.p95_frequency.clamp(5, 30);
            let age = analysis.max_age.max(1.0).ceil();
            rapport::radar::plots::write_all(dir, fitted, analysis.holdout.as_ref(), max_frequency, age, options.unit)?
        }
        (Some(_), Method::Gaps { .. }) => {
            out.line("no charts: they draw a fitted model, and the scores come from the gaps rule")?;
            Vec::new()
        }
        (None, _) => Vec::new(),
    };
    if args.json {
        let mut timings = serde_json::to_value(&analysis.timings)?;
        timings["total_s"] = started.elapsed().as_secs_f64().into();
        let timings = if args.timings { timings } else { serde_json::Value::Null };
        return out.json(&WithTimings {
            analysis: &analysis,
            timings,
        });
    }
    print_analysis(&analysis, args.out.as_ref(), "rapport analyze --out FILE", out)?;
    for chart in &charts {
        out.line(&format!("chart written to {}", chart.display()))?;
    }
    if args.timings {
        let t = &analysis.timings;
        out.line(&format!(
            "timings: read {:.3} s, summary {:.3} s, fit {:.3} s, spend data {:.3} s, gamma-gamma {:.3} s, \
             P(alive) and CLV {:.3} s, rows and explanations {:.3} s, total {:.3} s",
            t.read_s,
            t.summary_s,
            t.fit_s,
            t.spend_data_s,
            t.gamma_gamma_s,
            t.scoring_s,
            t.rows_s,
            started.elapsed().as_secs_f64()
        ))?;
    }
    Ok(())
}

/// Prints how the scores are made and why, the spend model, the holdout check and where the
/// scores went; `all_scores` says how to get every customer's scores.
pub fn print_analysis(a: &Analysis, scores: Option<&PathBuf>, all_scores: &str, out: Output) -> anyhow::Result<()> {
    let unit = match a.time_unit {
        TimeUnit::Week => "weeks",
        TimeUnit::Day => "days",
    };
    for refused in &a.choice.refused {
        out.line(refused)?;
    }
    out.line(&format!("{}.", capitalised(&a.choice.reason)))?;
    match (&a.method, a.log_likelihood) {
        (Method::Gaps { rule }, _) => out.line(&format!(
            "gaps rule on {} (calibration ending {}): {} between purchase days, median {:.0} days",
            count(a.customers, "customer"),
            a.calibration_end,
            count(rule.gaps, "gap"),
            rule.median()
        ))?,
        (Method::Model { .. }, log_likelihood) => {
            out.line(&format!(
                "{} fitted on {} ({unit}, calibration ending {}): log-likelihood {:.2}, {} iterations",
                a.model,
                count(a.customers, "customer"),
                a.calibration_end,
                log_likelihood.unwrap_or(f64::NAN),
                a.iterations
            ))?;
            print_params(&a.params, &a.std_errors, out)?;
        }
    }
    match (&a.gamma_gamma, &a.gamma_gamma_error) {
        (Some(gg), _) => {
            let buyers = count(gg.customers.round() as u64, "repeat buyer");
            out.line(&format!("gamma-gamma spend model on {buyers}:"))?;
            print_params(
                &serde_json::to_value(gg.params)?,
                &serde_json::to_value(gg.std_errors)?,
                out,
            )?;
        }
        (None, Some(reason)) => out.line(reason)?,
        (None, None) => {}
    }
    if let Some(h) = &a.holdout {
        out.line(&format!(
            "holdout of {:.1} {unit}: {:.0} repeat purchases predicted, {:.0} made",
            h.holdout_length, h.predicted_total, h.actual_total
        ))?;
        out.line("  repeat purchases in calibration   customers   actual mean   predicted mean")?;
        for g in &h.groups {
            let label = if g.or_more {
                format!("{}+", g.frequency)
            } else {
                g.frequency.to_string()
            };
            out.line(&format!(
                "  {label:>32}   {:>9}   {:>11.2}   {:>14.2}",
                g.customers, g.actual, g.predicted
            ))?;
        }
    }
    out.line(&format!("mean 12-month customer value {:.2}", a.mean_clv))?;
    match scores {
        Some(path) => out.line(&format!(
            "scores of {} written to {}",
            count(a.customers, "customer"),
            path.display()
        )),
        None => {
            out.line(&format!(
                "most valuable customers (every customer's scores: {all_scores}):"
            ))?;
            for row in a.rows.iter().take(5) {
                out.line(&format!(
                    "  {:<12} value {:>9.2}  {}",
                    row.customer_id, row.clv_12m, row.explanation
                ))?;
            }
            Ok(())
        }
    }
}

fn print_params(params: &serde_json::Value, errors: &serde_json::Value, out: Output) -> anyhow::Result<()> {
    if let Some(object) = params.as_object() {
        for (name, value) in object {
            let se = errors
                .get(name)
                .and_then(|v| v.as_f64())
                .map_or_else(String::new, |e| format!(" ± {e:.4}"));
            out.line(&format!("  {name:<6} {:.4}{se}", value.as_f64().unwrap_or(f64::NAN)))?;
        }
    }
    Ok(())
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
