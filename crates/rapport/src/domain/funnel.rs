//! The lifecycle funnel report: counts per stage, conversion between stages, timing of the second sale.

use std::collections::BTreeMap;

use serde::Serialize;

use super::stage::Stage;
use super::state::format_day;

/// The windows, in days, for "came back within" shares.
pub const RETURN_WINDOWS: [i64; 3] = [30, 90, 365];

/// What the funnel is computed from: one row per customer, as the store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelRow {
    /// Current stage.
    pub stage: Stage,
    /// Highest stage ever reached.
    pub max_stage: Stage,
    /// Day number of the first purchase.
    pub first_purchase_day: Option<i64>,
    /// Day number of the second sale.
    pub second_purchase_day: Option<i64>,
    /// Day number of the customer's latest event of any kind.
    pub last_event_day: Option<i64>,
}

/// The funnel report, with stable snake_case keys for `--json`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    /// Number of customers known.
    pub total_customers: u64,
    /// Customers per current stage (every stage present, zero included).
    pub stages: BTreeMap<Stage, u64>,
    /// From each stage to the next: how many ever reached each, and the share that went on.
    pub conversion: Vec<Conversion>,
    /// Days from first to second purchase among clients.
    pub days_to_second_purchase: Option<Quartiles>,
    /// Share of first-time buyers who bought again within 30, 90 and 365 days.
    pub returned_within: Vec<ReturnShare>,
    /// The last purchase day in the data: windows are judged up to here.
    pub as_of: Option<String>,
}

/// Conversion from one stage to the next.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Conversion {
    /// The earlier stage.
    pub from: Stage,
    /// The later stage.
    pub to: Stage,
    /// Customers who ever reached `from` (or went past it).
    pub reached_from: u64,
    /// Of those, customers who reached `to` or beyond.
    pub reached_to: u64,
    /// `reached_to / reached_from`, `None` when nobody reached `from`.
    pub rate: Option<f64>,
}

/// Median and quartiles of a distribution of whole days.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Quartiles {
    /// How many values.
    pub count: u64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub p75: f64,
}

/// Of the first-time buyers who had the whole window to come back in, how many did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReturnShare {
    /// The window, in days.
    pub days: i64,
    /// Buyers whose first purchase was at least `days` before `as_of`.
    pub eligible: u64,
    /// Of those, buyers whose second sale came within `days`.
    pub returned: u64,
    /// `returned / eligible`, `None` when nobody was eligible.
    pub share: Option<f64>,
}

/// Computes the funnel report from one row per customer.
pub fn funnel(rows: &[FunnelRow]) -> Funnel {
    let mut stages: BTreeMap<Stage, u64> = Stage::ALL.iter().map(|s| (*s, 0)).collect();
    let mut reached = [0u64; Stage::ALL.len()];
    for row in rows {
        *stages.entry(row.stage).or_default() += 1;
        for count in &mut reached[..=row.max_stage as usize] {
            *count += 1;
        }
    }
    let conversion = Stage::ALL
        .windows(2)
        .map(|pair| {
            let (reached_from, reached_to) = (reached[pair[0] as usize], reached[pair[1] as usize]);
            Conversion {
                from: pair[0],
                to: pair[1],
                reached_from,
                reached_to,
                rate: ratio(reached_to, reached_from),
            }
        })
        .collect();
    let mut gaps: Vec<i64> = rows
        .iter()
        .filter_map(|r| Some(r.second_purchase_day? - r.first_purchase_day?))
        .collect();
    gaps.sort_unstable();
    // The data's own "now": the last thing that happened to anyone, so a customer who first
    // bought a month before it has had a month to come back.
    let as_of = rows.iter().filter_map(|r| r.last_event_day).max();
    Funnel {
        total_customers: rows.len() as u64,
        stages,
        conversion,
        days_to_second_purchase: quartiles(&gaps),
        returned_within: as_of.map(|day| return_shares(rows, day)).unwrap_or_default(),
        as_of: as_of.map(format_day),
    }
}

fn return_shares(rows: &[FunnelRow], as_of: i64) -> Vec<ReturnShare> {
    RETURN_WINDOWS
        .iter()
        .map(|&days| {
            let eligible = rows
                .iter()
                .filter(|r| r.first_purchase_day.is_some_and(|f| f + days <= as_of));
            let (mut n, mut returned) = (0u64, 0u64);
            for row in eligible {
                n += 1;
                if row
                    .second_purchase_day
                    .zip(row.first_purchase_day)
                    .is_some_and(|(s, f)| s - f <= days)
                {
                    returned += 1;
                }
            }
            ReturnShare {
                days,
                eligible: n,
                returned,
                share: ratio(returned, n),
            }
        })
        .collect()
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Quartiles by linear interpolation between order statistics (the common "type 7" definition).
fn quartiles(sorted: &[i64]) -> Option<Quartiles> {
    let at = |q: f64| {
        let pos = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] as f64 + (sorted[hi] - sorted[lo]) as f64 * (pos - lo as f64)
    };
    (!sorted.is_empty()).then(|| Quartiles {
        count: sorted.len() as u64,
        p25: at(0.25),
        median: at(0.5),
        p75: at(0.75),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stage: Stage, first: Option<i64>, second: Option<i64>) -> FunnelRow {
        FunnelRow {
            stage,
            max_stage: stage,
            first_purchase_day: first,
            second_purchase_day: second,
            last_event_day: second.or(first),
        }
    }

    #[test]
    fn counts_conversions_and_timing_from_customer_rows() {
        let rows = [
            row(Stage::Suspect, None, None),
            row(Stage::Prospect, None, None),
            row(Stage::Customer, Some(0), None),
            row(Stage::Client, Some(0), Some(10)),
            row(Stage::Client, Some(100), Some(300)),
        ];
        let report = funnel(&rows);
        assert_eq!(report.total_customers, 5);
        assert_eq!(report.stages[&Stage::Client], 2);
        assert_eq!(report.stages[&Stage::Partner], 0);
        let to_client = &report.conversion[2];
        assert_eq!(
            (to_client.from, to_client.reached_from, to_client.reached_to),
            (Stage::Customer, 3, 2)
        );
        let days = report.days_to_second_purchase.unwrap();
        assert_eq!((days.count, days.median), (2, 105.0));
        assert_eq!(report.as_of.as_deref(), Some("1970-10-28"));
        let within_30 = &report.returned_within[0];
        assert_eq!((within_30.eligible, within_30.returned), (3, 1));
    }

    #[test]
    fn the_funnel_is_as_of_the_last_event_not_the_last_first_or_second_purchase() {
        let mut late = row(Stage::Client, Some(0), Some(10));
        late.last_event_day = Some(400);
        let report = funnel(&[late, row(Stage::Customer, Some(380), None)]);
        assert_eq!(report.as_of.as_deref(), Some("1971-02-05"));
        let within_30 = &report.returned_within[0];
        assert_eq!(within_30.eligible, 1, "the customer of day 380 has had only 20 days");
    }

    #[test]
    fn an_empty_database_has_an_empty_funnel() {
        let report = funnel(&[]);
        assert_eq!(report.total_customers, 0);
        assert!(report.days_to_second_purchase.is_none());
        assert!(report.conversion.iter().all(|c| c.rate.is_none()));
    }
}
