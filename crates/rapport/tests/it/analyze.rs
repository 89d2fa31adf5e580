//! The defection radar from the raw CDNOW sample, through `rapport analyze`, against the published fits.

use std::process::Command;

use rapport::import::{FileOptions, TransactionColumns};
use rapport::radar::analysis::{AnalysisOptions, PurchaseLog, analyze};
use rapport_models::{ModelKind, TimeUnit};

use crate::helpers::{cdnow_sample, fixture};

/// Runs `rapport analyze` on the CDNOW sample, calibration ending 1997-09-30, with more arguments.
fn analyze_sample(more: &[&str]) -> std::process::Output {
    let sample = fixture("CDNOW_sample.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args([
            "analyze",
            sample.to_str().unwrap(),
            "--delimiter",
            "whitespace",
            "--columns",
        ])
        .args([
            "customer_id,_,date,quantity,amount",
            "--date-format",
            "%Y%m%d",
            "--calibration-end",
            "1997-09-30",
        ])
        .args(more)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn assert_close(name: &str, got: f64, published: f64) {
    let error = (got - published).abs() / published.abs();
    assert!(
        error < 0.005,
        "{name}: {got} is {:.2}% from the published {published}",
        error * 100.0
    );
}

fn fit(model: ModelKind) -> rapport::radar::analysis::Analysis {
    let log = PurchaseLog::read(&cdnow_sample(), &TransactionColumns::default()).unwrap();
    let options = AnalysisOptions {
        calibration_end: chrono::NaiveDate::from_ymd_opt(1997, 9, 30).unwrap(),
        holdout_end: None,
        unit: TimeUnit::Week,
        model: rapport::radar::analysis::ModelChoice::Only(model),
        rows: rapport::radar::analysis::Rows::All,
    };
    analyze(log, &options).unwrap()
}

fn check(analysis: &rapport::radar::analysis::Analysis, published: &[(&str, f64)], log_likelihood: f64) {
    for (name, value) in published {
        assert_close(name, analysis.params[name].as_f64().unwrap(), *value);
    }
    assert!(
        (analysis.log_likelihood.unwrap() - log_likelihood).abs() < 0.1,
        "log-likelihood {:?}",
        analysis.log_likelihood
    );
}

#[test]
fn the_command_prints_bgnbd_parameters_matching_the_paper() {
    let out = analyze_sample(&["--time-unit", "week", "--model", "bgnbd", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model"], "bgnbd");
    assert_eq!(json["converged"], true);
    assert_eq!(json["customers"], 2357);
    for (name, value) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        assert_close(name, json["params"][name].as_f64().unwrap(), value);
    }
    assert!((json["log_likelihood"].as_f64().unwrap() + 9582.4).abs() < 0.1);
    for (name, value) in [("p", 6.25), ("q", 3.74), ("gamma", 15.44)] {
        assert_close(name, json["gamma_gamma"]["params"][name].as_f64().unwrap(), value);
    }
}

#[test]
fn pareto_nbd_from_the_raw_sample_matches_the_paper() {
    let analysis = fit(ModelKind::ParetoNbd);
    check(
        &analysis,
        &[("r", 0.553), ("alpha", 10.578), ("s", 0.606), ("beta", 11.667)],
        -9594.98,
    );
}

#[test]
fn mbgnbd_from_the_raw_sample_matches_the_paper() {
    let analysis = fit(ModelKind::MbgNbd);
    check(
        &analysis,
        &[("r", 0.525), ("alpha", 6.183), ("a", 0.891), ("b", 1.614)],
        -9582.13,
    );
}

#[test]
fn every_scored_customer_has_an_explanation_and_scores_in_range() {
    let analysis = fit(ModelKind::BgNbd);
    assert_eq!(analysis.rows.len(), 2357);
    for row in &analysis.rows {
        assert!((0.0..=1.0).contains(&row.p_alive), "{row:?}");
        assert!(row.expected_purchases_365d >= row.expected_purchases_90d, "{row:?}");
        assert!(row.explanation.contains("P(alive)"), "{row:?}");
    }
}

#[test]
fn plots_and_scores_are_written_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (charts, scores) = (dir.path().join("charts"), dir.path().join("scores.csv"));
    let (charts_dir, scores_file) = (charts.to_str().unwrap(), scores.to_str().unwrap());
    let out = analyze_sample(&[
        "--holdout-end",
        "1998-06-30",
        "--plot",
        charts_dir,
        "--out",
        scores_file,
    ]);
    for chart in ["holdout.svg", "p_alive.svg"] {
        let svg = std::fs::read_to_string(charts.join(chart)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("repeat purchases"), "{chart}");
    }
    let csv = std::fs::read_to_string(scores).unwrap();
    assert_eq!(csv.lines().count(), 2_358, "a header and one row per customer");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("customer_id,frequency,recency,T,monetary_value,p_alive")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("holdout of 39.0 weeks"), "{stdout}");
}

/// A file large enough to be read in two halves: 400,000 purchases of 1,000 customers.
fn large_file(dir: &tempfile::TempDir, bad_line: Option<usize>) -> std::path::PathBuf {
    use std::io::Write as _;
    let path = dir.path().join("large.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "customer_id,date,amount").unwrap();
    for i in 0..400_000usize {
        let date = if Some(i + 2) == bad_line {
            "2024-02-30".to_owned()
        } else {
            format!("2024-01-{:02}", 1 + i % 28)
        };
        writeln!(out, "customer-{:04},{date},{}.{:02}", i % 1_000, 1 + i % 50, i % 100).unwrap();
    }
    out.flush().unwrap();
    path
}

#[test]
fn a_large_file_read_in_two_halves_keeps_every_purchase_and_every_customer_once() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions::csv(large_file(&dir, None));
    let log = PurchaseLog::read(&options, &TransactionColumns::default()).unwrap();
    assert_eq!((log.purchases.len(), log.customer_count()), (400_000, 1_000));
    let mut per_customer = vec![0u32; 1_000];
    for p in &log.purchases {
        per_customer[p.customer as usize] += 1;
    }
    assert!(
        per_customer.iter().all(|n| *n == 400),
        "every customer has 400 purchases"
    );
    let total: f64 = log.purchases.iter().map(|p| p.amount).sum();
    let expected: f64 = (0..400_000usize)
        .map(|i| (1 + i % 50) as f64 + (i % 100) as f64 / 100.0)
        .sum();
    assert!((total - expected).abs() < 1e-3, "{total} != {expected}");
}

#[test]
fn a_bad_row_in_the_second_half_is_named_by_its_line_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions::csv(large_file(&dir, Some(350_000)));
    let error = PurchaseLog::read(&options, &TransactionColumns::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("line 350000 (data row 349999)") && error.contains("2024-02-30"),
        "{error}"
    );
}
