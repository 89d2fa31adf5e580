//! Calibration/holdout evaluation: predicted against actual holdout repeat purchases.

use serde::Serialize;

use crate::predict::CustomerModel;
use crate::summary::CustomerSummary;

/// Holdout purchases of the customers sharing one calibration frequency.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HoldoutGroup {
    /// Calibration frequency; the last group also holds every larger frequency.
    pub frequency: u32,
    /// Whether this is the open-ended last group ("frequency or more").
    pub or_more: bool,
    /// Customers in the group.
    pub customers: u64,
    /// Mean actual holdout repeat purchases.
    pub actual: f64,
    /// Mean predicted holdout repeat purchases.
    pub predicted: f64,
}

/// Predicted against actual holdout purchases, per calibration frequency and in total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HoldoutReport {
    /// Holdout length in the model's unit.
    pub holdout_length: f64,
    /// One row per calibration frequency 0..=`top_group`.
    pub groups: Vec<HoldoutGroup>,
    /// Total actual holdout repeat purchases.
    pub actual_total: f64,
    /// Total predicted holdout repeat purchases.
    pub predicted_total: f64,
    /// Mean absolute difference between predicted and actual, per customer.
    pub mean_absolute_error: f64,
}

/// Compares each customer's conditional expected purchases over `holdout_length` with the
/// holdout count in its summary; frequencies from `top_group` up are pooled.
pub fn evaluate_holdout(
    model: &(impl CustomerModel + ?Sized),
    customers: &[CustomerSummary],
    holdout_length: f64,
    top_group: u32,
) -> HoldoutReport {
    let mut groups: Vec<HoldoutGroup> = (0..=top_group)
        .map(|frequency| HoldoutGroup {
            frequency,
            or_more: frequency == top_group,
            customers: 0,
            actual: 0.0,
            predicted: 0.0,
        })
        .collect();
    let (mut actual_total, mut predicted_total, mut abs_error) = (0.0, 0.0, 0.0);
    for c in customers {
        let predicted = model.expected_purchases(&c.history(), holdout_length);
        let actual = f64::from(c.holdout_frequency);
        let g = &mut groups[c.frequency.min(top_group) as usize];
        g.customers += 1;
        g.actual += actual;
        g.predicted += predicted;
        actual_total += actual;
        predicted_total += predicted;
        abs_error += (predicted - actual).abs();
    }
    for g in groups.iter_mut().filter(|g| g.customers > 0) {
        g.actual /= g.customers as f64;
        g.predicted /= g.customers as f64;
    }
    let mean_absolute_error = abs_error / customers.len().max(1) as f64;
    HoldoutReport {
        holdout_length,
        groups,
        actual_total,
        predicted_total,
        mean_absolute_error,
    }
}
