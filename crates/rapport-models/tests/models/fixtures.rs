//! Fixture loading: the CDNOW sample and the published summaries, kept in tests/fixtures.

use rapport_models::{CustomerSummary, History, Purchase, SummaryOptions, TimeUnit, summarize};

const CDNOW_SAMPLE: &str = include_str!("../fixtures/CDNOW_sample.txt");
const CDNOW_SUMMARY: &str = include_str!("../fixtures/cdnow_customers_summary_with_transactions.csv");
const DONATIONS: &str = include_str!("../fixtures/donations.csv");

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
pub fn day_number(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_yyyymmdd(s: &str) -> i32 {
    let n: u32 = s.parse().expect("date");
    day_number((n / 10_000) as i32, n / 100 % 100, n % 100)
}

/// The CDNOW sample as purchases, keyed by the sample customer id.
pub fn cdnow_purchases() -> Vec<Purchase> {
    CDNOW_SAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            Purchase {
                customer: cols[1].parse().expect("sample id"),
                day: parse_yyyymmdd(cols[2]),
                amount: cols[4].parse().expect("amount"),
            }
        })
        .collect()
}

/// The calibration options of the papers: weeks, calibration ending 1997-09-30.
pub fn cdnow_options(holdout_end: Option<i32>) -> SummaryOptions {
    SummaryOptions {
        calibration_end: day_number(1997, 9, 30),
        holdout_end,
        unit: TimeUnit::Week,
    }
}

/// The CDNOW sample summarised by the library, calibration ending 1997-09-30.
pub fn cdnow_summaries() -> Vec<CustomerSummary> {
    summarize(&cdnow_purchases(), &cdnow_options(None))
}

/// One published summary row: id, x, t_x, T, zbar.
pub struct PublishedRow {
    pub id: u32,
    pub history: History,
    pub zbar: f64,
}

/// The published summary (cdnow_customers_summary_with_transactions.csv).
pub fn published_summary() -> Vec<PublishedRow> {
    CDNOW_SUMMARY
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let c: Vec<f64> = line.trim().split(',').map(|v| v.parse().expect("number")).collect();
            let history = History {
                frequency: c[1] as u32,
                recency: c[2],
                age: c[3],
            };
            PublishedRow {
                id: c[0] as u32,
                history,
                zbar: c[4],
            }
        })
        .collect()
}

/// The donations data of the BG/BB paper: (frequency, recency, periods, weight).
pub fn donations() -> Vec<(u32, u32, u32, f64)> {
    DONATIONS
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let c: Vec<f64> = line.trim().split(',').map(|v| v.parse().expect("number")).collect();
            (c[0] as u32, c[1] as u32, c[2] as u32, c[3])
        })
        .collect()
}

/// Asserts `actual` is within `rel` relative error of `expected`.
pub fn assert_close(name: &str, actual: f64, expected: f64, rel: f64) {
    let err = ((actual - expected) / expected).abs();
    assert!(
        err <= rel,
        "{name}: got {actual}, expected {expected} (relative error {err:.2e})"
    );
}
