//! Model input: customer histories grouped into distinct weighted rows.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use serde::Serialize;

use crate::fit::FitError;
use crate::summary::{CustomerSummary, History};

/// A distinct history and the number of customers (weight) sharing it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WeightedHistory {
    /// The shared history.
    pub history: History,
    /// How many customers have it.
    pub weight: f64,
}

/// Customer histories grouped so that fitting costs grow with distinct rows, not customers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histories {
    rows: Vec<WeightedHistory>,
    by_frequency: Vec<(u32, Range<usize>)>,
    /// Distinct ages and recencies, and each row's position in them: models evaluate
    /// logarithms once per distinct time instead of once per row.
    times: TimeTables,
    customers: f64,
    repeat_buyers: f64,
}

impl Histories {
    /// Groups one history per customer into distinct rows.
    pub fn new(histories: impl IntoIterator<Item = History>) -> Result<Self, FitError> {
        Self::from_weighted(histories.into_iter().map(|h| (h, 1.0)))
    }

    /// Groups the calibration histories of summarised customers.
    ///
    /// Each history becomes one integer key (frequency and the ranks of its age and
    /// recency among the few distinct times), and a radix sort of the keys groups them:
    /// a hash table of the distinct histories would be probed at random once per customer.
    pub fn from_summaries(customers: &[CustomerSummary]) -> Result<Self, FitError> {
        match crate::grouping::group(customers)? {
            Some((rows, times)) => Ok(Self::from_sorted_distinct(rows, times)),
            None => Self::new(customers.iter().map(CustomerSummary::history)),
        }
    }

    /// Groups already weighted rows (for example published grouped data); equal rows merge.
    pub fn from_weighted(rows: impl IntoIterator<Item = (History, f64)>) -> Result<Self, FitError> {
        let mut index: HashMap<(u32, u64, u64), usize, FastHash> = HashMap::default();
        let mut grouped: Vec<WeightedHistory> = Vec::new();
        for (row, (history, weight)) in rows.into_iter().enumerate() {
            validate(row, &history, weight)?;
            // Adding 0.0 turns -0.0 into 0.0, so equal times share a key.
            let (recency, age) = (history.recency + 0.0, history.age + 0.0);
            let key = (history.frequency, recency.to_bits(), age.to_bits());
            let slot = *index.entry(key).or_insert_with(|| {
                grouped.push(WeightedHistory { history, weight: 0.0 });
                grouped.len() - 1
            });
            grouped[slot].weight += weight;
        }
        Ok(Self::from_distinct(grouped))
    }

    /// The distinct rows, sorted by frequency, then age, then recency.
    pub fn rows(&self) -> &[WeightedHistory] {
        &self.rows
    }

    /// Number of customers (sum of weights).
    pub fn customers(&self) -> f64 {
        self.customers
    }

    /// Number of customers with at least one repeat purchase.
    pub fn repeat_buyers(&self) -> f64 {
        self.repeat_buyers
    }

    /// Distinct ages and recencies with each row's indices into them.
    pub(crate) fn times(&self) -> &TimeTables {
        &self.times
    }

    /// Rows grouped by frequency: each distinct frequency with its range in [`Histories::rows`].
    pub(crate) fn by_frequency(&self) -> &[(u32, Range<usize>)] {
        &self.by_frequency
    }

    fn from_distinct(mut rows: Vec<WeightedHistory>) -> Self {
        rows.sort_unstable_by(|a, b| {
            let (a, b) = (&a.history, &b.history);
            (a.frequency, a.age, a.recency)
                .partial_cmp(&(b.frequency, b.age, b.recency))
                .unwrap()
        });
        let times = TimeTables::new(&rows);
        Self::from_sorted_distinct(rows, times)
    }

    /// Builds from distinct rows already sorted by frequency, age, recency, and their times.
    fn from_sorted_distinct(rows: Vec<WeightedHistory>, times: TimeTables) -> Self {
        let mut by_frequency: Vec<(u32, Range<usize>)> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            match by_frequency.last_mut() {
                Some((x, range)) if *x == row.history.frequency => range.end = i + 1,
                _ => by_frequency.push((row.history.frequency, i..i + 1)),
            }
        }
        let customers = rows.iter().map(|r| r.weight).sum();
        let repeat_buyers = rows.iter().filter(|r| r.history.frequency > 0).map(|r| r.weight).sum();
        Histories {
            rows,
            by_frequency,
            times,
            customers,
            repeat_buyers,
        }
    }
}

/// Distinct times of a set of rows and, per row, the index of its age and recency.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TimeTables {
    pub ages: Vec<f64>,
    pub recencies: Vec<f64>,
    /// (age index, recency index) per row.
    pub index: Vec<(u32, u32)>,
}

impl TimeTables {
    fn new(rows: &[WeightedHistory]) -> Self {
        let distinct = |f: fn(&History) -> f64| {
            let mut v: Vec<f64> = rows.iter().map(|r| f(&r.history)).collect();
            v.sort_unstable_by(f64::total_cmp);
            v.dedup();
            v
        };
        let ages = distinct(|h| h.age);
        let recencies = distinct(|h| h.recency);
        let position = |table: &[f64], v: f64| table.partition_point(|t| *t < v) as u32;
        let index = rows
            .iter()
            .map(|r| (position(&ages, r.history.age), position(&recencies, r.history.recency)))
            .collect();
        TimeTables { ages, recencies, index }
    }
}

pub(crate) fn validate(row: usize, h: &History, weight: f64) -> Result<(), FitError> {
    let reason = if !(h.recency >= 0.0 && h.recency.is_finite()) {
        "recency must be a non-negative number"
    } else if !(h.age >= h.recency && h.age.is_finite()) {
        "age must be a number at least as large as recency"
    } else if !(weight > 0.0 && weight.is_finite()) {
        "weight must be positive"
    } else {
        return Ok(());
    };
    Err(FitError::InvalidInput {
        row,
        reason: reason.to_string(),
    })
}

/// A multiply-rotate hasher (the Fx hash): the keys are trusted numbers, so speed wins.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

/// Hash-map builder using [`FxHasher`].
pub(crate) type FastHash = BuildHasherDefault<FxHasher>;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        // Whole-number floats have all-zero low bits, and the product's low bits (the
        // table's bucket index) depend only on those: fold the high half in first, or
        // 0.0, 1.0, 2.0, ... all land in one bucket.
        self.0 = (self.0.rotate_left(5) ^ v ^ (v >> 32)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
