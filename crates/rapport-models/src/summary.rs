//! RFM summary of a purchase log: repeat frequency, recency, age and average repeat spend.

use serde::{Deserialize, Serialize};

/// The unit in which model times (recency, age, horizons) are expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// One calendar day.
    Day,
    /// Seven calendar days.
    Week,
}

impl TimeUnit {
    /// Length of one unit in days.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }

    /// Length of a month in this unit, using the `lifetimes` convention of 4.345 weeks a month.
    pub fn per_month(self) -> f64 {
        4.345 * 7.0 / self.days()
    }

    /// English name of the unit, singular or plural as `count` needs.
    pub fn name(self, count: u64) -> &'static str {
        match (self, count == 1) {
            (TimeUnit::Day, true) => "day",
            (TimeUnit::Day, false) => "days",
            (TimeUnit::Week, true) => "week",
            (TimeUnit::Week, false) => "weeks",
        }
    }
}

/// One row of a purchase log; `customer` is a dense index the caller maps its ids to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Purchase {
    /// Dense customer index, ideally `0..number_of_customers`.
    pub customer: u32,
    /// Day number (for example days since 1970-01-01).
    pub day: i32,
    /// Amount spent.
    pub amount: f64,
}

/// Where the calibration (and optional holdout) period ends, and the time unit of the output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SummaryOptions {
    /// Last day of the calibration period, inclusive.
    pub calibration_end: i32,
    /// Last day of the holdout period, inclusive, if any.
    pub holdout_end: Option<i32>,
    /// Unit of recency and age.
    pub unit: TimeUnit,
}

impl SummaryOptions {
    /// Length of the holdout period in the chosen unit (0 without a holdout).
    pub fn holdout_length(&self) -> f64 {
        let days = self.holdout_end.map_or(0, |end| end - self.calibration_end);
        f64::from(days.max(0)) / self.unit.days()
    }
}

/// A customer's repeat-purchase history: the input of the buy-till-you-die models.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Number of repeat purchases (x); the first purchase is not counted.
    pub frequency: u32,
    /// Time from the first to the last purchase (t_x).
    pub recency: f64,
    /// Time from the first purchase to the end of calibration (T).
    pub age: f64,
}

impl History {
    /// Time since the last purchase (T - t_x).
    pub fn time_since_last(&self) -> f64 {
        self.age - self.recency
    }
}

/// Per-customer calibration summary (and holdout count) of a purchase log.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// The customer's dense index, as given in the purchases.
    pub customer: u32,
    /// Number of repeat purchase days (x).
    pub frequency: u32,
    /// Time from the first to the last purchase (t_x).
    pub recency: f64,
    /// Time from the first purchase to the end of calibration (T).
    pub age: f64,
    /// Mean spend of the repeat purchase days; 0 when there is none.
    pub monetary: f64,
    /// Total calibration spend including the first purchase.
    pub total_spend: f64,
    /// Repeat purchase days in the holdout period (0 without a holdout).
    pub holdout_frequency: u32,
}

impl CustomerSummary {
    /// The model input part of the summary.
    pub fn history(&self) -> History {
        History {
            frequency: self.frequency,
            recency: self.recency,
            age: self.age,
        }
    }
}

/// Summarises a purchase log per customer, sorted by customer index.
///
/// Conventions (those that reproduce the published CDNOW summaries): day resolution,
/// same-day purchases of a customer are one purchase with the amounts summed, the first
/// purchase is not counted, and customers whose first purchase is after the calibration
/// end are left out. A log already grouped by increasing customer index (as exports
/// usually are) is summarised in one pass where it lies; otherwise grouping is a counting
/// sort on the customer index, so the cost is linear in rows plus the largest index;
/// sparse indices fall back to a comparison sort. A log in which each customer's days come in
/// order (one sorted by date, as logs are written) needs no grouping: one pass keeps a running
/// summary per customer.
pub fn summarize(purchases: &[Purchase], options: &SummaryOptions) -> Vec<CustomerSummary> {
    if purchases.is_sorted_by_key(|p| p.customer) {
        return summarize_runs(purchases, options);
    }
    if let Some(summaries) = crate::running::summarize_in_order(purchases, options) {
        return summaries;
    }
    let grouped = group_by_customer(purchases);
    let mut out = Vec::with_capacity(grouped.starts.len());
    let mut days = Vec::new();
    for window in grouped.starts.windows(2) {
        let rows = &grouped.rows[window[0]..window[1]];
        days.clear();
        days.extend(rows.iter().map(|r| (r.1, r.2)));
        out.extend(summarize_one(rows[0].0, &mut days, options));
    }
    out
}

/// Summarises a log sorted by customer, reading each customer's run in place when its
/// days are in order (they usually are) and sorting a copy otherwise.
fn summarize_runs(purchases: &[Purchase], options: &SummaryOptions) -> Vec<CustomerSummary> {
    let span = match (purchases.first(), purchases.last()) {
        (Some(first), Some(last)) => (last.customer - first.customer) as usize + 1,
        _ => 0,
    };
    let mut out = Vec::with_capacity(span.min(purchases.len()));
    let mut days = Vec::new();
    for run in purchases.chunk_by(|a, b| a.customer == b.customer) {
        let customer = run[0].customer;
        let summary = if run.is_sorted_by_key(|p| p.day) {
            walk_days(customer, run.iter().map(|p| (p.day, p.amount)), options)
        } else {
            days.clear();
            days.extend(run.iter().map(|p| (p.day, p.amount)));
            summarize_one(customer, &mut days, options)
        };
        out.extend(summary);
    }
    out
}

/// Purchases reordered so that each customer's rows are contiguous.
struct Grouped {
    rows: Vec<(u32, i32, f64)>,
    starts: Vec<usize>,
}

fn group_by_customer(purchases: &[Purchase]) -> Grouped {
    let max_key = purchases.iter().map(|p| p.customer).max().unwrap_or(0) as usize;
    // A counting sort needs a bucket per possible index; beyond a few per row the
    // comparison sort is cheaper in memory and time.
    let mut rows: Vec<(u32, i32, f64)> = if max_key <= 4 * purchases.len() + 1024 {
        counting_sort(purchases, max_key)
    } else {
        let mut rows: Vec<_> = purchases.iter().map(|p| (p.customer, p.day, p.amount)).collect();
        rows.sort_unstable_by_key(|r| r.0);
        rows
    };
    let mut starts = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if i == 0 || rows[i - 1].0 != row.0 {
            starts.push(i);
        }
    }
    starts.push(rows.len());
    rows.shrink_to_fit();
    Grouped { rows, starts }
}

fn counting_sort(purchases: &[Purchase], max_key: usize) -> Vec<(u32, i32, f64)> {
    let mut offsets = vec![0usize; max_key + 2];
    for p in purchases {
        offsets[p.customer as usize + 1] += 1;
    }
    for k in 1..offsets.len() {
        offsets[k] += offsets[k - 1];
    }
    let mut rows = vec![(0u32, 0i32, 0.0f64); purchases.len()];
    for p in purchases {
        let slot = &mut offsets[p.customer as usize];
        rows[*slot] = (p.customer, p.day, p.amount);
        *slot += 1;
    }
    rows
}

/// Summarises one customer's (day, amount) rows in any order; sorts them in place.
fn summarize_one(customer: u32, days: &mut [(i32, f64)], options: &SummaryOptions) -> Option<CustomerSummary> {
    days.sort_unstable_by_key(|d| d.0);
    walk_days(customer, days.iter().copied(), options)
}

/// Summarises one customer's (day, amount) rows given in day order.
fn walk_days(
    customer: u32,
    mut days: impl Iterator<Item = (i32, f64)>,
    options: &SummaryOptions,
) -> Option<CustomerSummary> {
    let (first, first_amount) = days.next()?;
    if first > options.calibration_end {
        return None;
    }
    let holdout_end = options.holdout_end.unwrap_or(options.calibration_end);
    let mut s = DayWalk {
        last: first,
        ..DayWalk::default()
    };
    s.add(first, first_amount, false, first, options.calibration_end, holdout_end);
    let mut previous = first;
    for (day, amount) in days {
        s.add(
            day,
            amount,
            previous == day,
            first,
            options.calibration_end,
            holdout_end,
        );
        previous = day;
    }
    Some(s.summary(customer, first, options))
}

/// Running counts over one customer's day-sorted purchases.
#[derive(Clone, Default)]
pub(crate) struct DayWalk {
    repeat_days: u32,
    holdout_days: u32,
    pub(crate) last: i32,
    repeat_spend: f64,
    total_spend: f64,
}

impl DayWalk {
    pub(crate) fn summary(&self, customer: u32, first: i32, options: &SummaryOptions) -> CustomerSummary {
        let unit = options.unit.days();
        CustomerSummary {
            customer,
            frequency: self.repeat_days,
            recency: f64::from(self.last - first) / unit,
            age: f64::from(options.calibration_end - first) / unit,
            monetary: if self.repeat_days > 0 {
                self.repeat_spend / f64::from(self.repeat_days)
            } else {
                0.0
            },
            total_spend: self.total_spend,
            holdout_frequency: self.holdout_days,
        }
    }

    pub(crate) fn add(&mut self, day: i32, amount: f64, same_day: bool, first: i32, cal_end: i32, hold_end: i32) {
        if day <= cal_end {
            self.total_spend += amount;
            if day != first {
                self.repeat_spend += amount;
                self.last = day;
                self.repeat_days += u32::from(!same_day);
            }
        } else if day <= hold_end {
            self.holdout_days += u32::from(!same_day);
        }
    }
}
