//! Customer lifetime value and batch scoring of many customers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::FastHash;
use crate::gamma_gamma::GammaGammaParams;
use crate::parallel::fill;
use crate::predict::CustomerModel;
use crate::summary::{CustomerSummary, History, TimeUnit};

/// How far ahead and at what discount customer value is computed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClvOptions {
    /// Time unit the model was fitted in.
    pub unit: TimeUnit,
    /// Horizon in months (of 4.345 weeks).
    pub months: u32,
    /// Discount rate per month, for example 0.01.
    pub monthly_discount_rate: f64,
}

impl Default for ClvOptions {
    fn default() -> Self {
        ClvOptions {
            unit: TimeUnit::Week,
            months: 12,
            monthly_discount_rate: 0.01,
        }
    }
}

/// One customer's scores, as returned by [`score_customers`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CustomerScore {
    /// The customer's index, copied from the summary.
    pub customer: u32,
    /// Probability the customer is still active.
    pub p_alive: f64,
    /// Expected purchases over the CLV horizon.
    pub expected_purchases: f64,
    /// Expected average spend per purchase (Gamma-Gamma), or the observed mean without a spend model.
    pub expected_spend: f64,
    /// Discounted expected spend over the horizon.
    pub clv: f64,
    /// Median time to the next purchase in the model's unit, if the customer is likely to buy again.
    pub median_time_to_next_purchase: Option<f64>,
}

/// Customer lifetime value, by the `lifetimes` definition.
///
/// Σ over months m = 1..=H of (E[purchases by the end of month m] - E[by the end of
/// month m-1]) × `expected_spend` / (1 + monthly rate)^m, with months of 4.345 weeks
/// expressed in the model's unit.
pub fn clv(model: &(impl CustomerModel + ?Sized), history: &History, expected_spend: f64, options: &ClvOptions) -> f64 {
    let (discounted, _) = discounted_purchases_if_alive(model, history.frequency, history.age, options);
    model.p_alive(history) * discounted * expected_spend
}

/// Scores every customer: P(alive), expected purchases and CLV over the horizon, spend.
///
/// Work that depends only on frequency and age (the hypergeometric terms) is computed once
/// per distinct pair, so the cost per customer is a hash lookup and a few logarithms.
pub fn score_customers(
    model: &(impl CustomerModel + ?Sized),
    spend: Option<&GammaGammaParams>,
    customers: &[CustomerSummary],
    options: &ClvOptions,
) -> Vec<CustomerScore> {
    // The scores are written as plain arrays of numbers first: a vector of zeros comes from the
    // system unwritten, so its pages are first touched by the scoring threads, side by side,
    // instead of by one thread writing blank scores. The same allocation then becomes the scores.
    let mut raw = vec![[0.0; RAW]; customers.len()];
    fill(customers, &mut raw, |part, out| {
        score_part(model, spend, part, options, out)
    });
    raw.into_iter().map(from_raw).collect()
}

/// Numbers in a score written as an array: customer, P(alive), expected purchases, expected
/// spend, CLV, whether a median time to the next purchase is known, and that median.
const RAW: usize = 7;

fn to_raw(score: &CustomerScore) -> [f64; RAW] {
    let median = score.median_time_to_next_purchase;
    [
        f64::from(score.customer),
        score.p_alive,
        score.expected_purchases,
        score.expected_spend,
        score.clv,
        if median.is_some() { 1.0 } else { 0.0 },
        median.unwrap_or(0.0),
    ]
}

fn from_raw(raw: [f64; RAW]) -> CustomerScore {
    CustomerScore {
        customer: raw[0] as u32,
        p_alive: raw[1],
        expected_purchases: raw[2],
        expected_spend: raw[3],
        clv: raw[4],
        median_time_to_next_purchase: (raw[5] != 0.0).then_some(raw[6]),
    }
}

/// Scores one contiguous part of the customers into `out`, with its own cache.
fn score_part(
    model: &(impl CustomerModel + ?Sized),
    spend: Option<&GammaGammaParams>,
    customers: &[CustomerSummary],
    options: &ClvOptions,
    out: &mut [[f64; RAW]],
) {
    let mut cache: HashMap<(u32, u64), Horizon, FastHash> = HashMap::default();
    let scores = customers.iter().map(|c| {
        let h = c.history();
        let horizon = cache.entry((h.frequency, h.age.to_bits())).or_insert_with(|| Horizon {
            purchases: discounted_purchases_if_alive(model, h.frequency, h.age, options),
            without_repeats: None,
        });
        let (discounted, total) = horizon.purchases;
        // Without repeat purchases, frequency and age are the whole history.
        let (p_alive, median) = if h.frequency == 0 && h.recency == 0.0 {
            *horizon
                .without_repeats
                .get_or_insert_with(|| model.p_alive_and_median(&h))
        } else {
            model.p_alive_and_median(&h)
        };
        let expected_spend = spend.map_or(c.monetary, |g| g.expected_spend(c.frequency, c.monetary));
        CustomerScore {
            customer: c.customer,
            p_alive,
            expected_purchases: p_alive * total,
            expected_spend,
            clv: p_alive * discounted * expected_spend,
            median_time_to_next_purchase: median,
        }
    });
    out.iter_mut()
        .zip(scores)
        .for_each(|(slot, score)| *slot = to_raw(&score));
}

/// What a scoring part keeps per distinct frequency and age.
struct Horizon {
    /// (Discounted, undiscounted) expected purchases over the horizon if alive.
    purchases: (f64, f64),
    /// P(alive) and median time to the next purchase of a customer with no repeat purchase
    /// (recency 0), once one has been scored: about half of all customers, one `powf` each.
    without_repeats: Option<(f64, Option<f64>)>,
}

/// (Discounted, undiscounted) expected purchases over the horizon for a customer alive now.
fn discounted_purchases_if_alive(
    model: &(impl CustomerModel + ?Sized),
    frequency: u32,
    age: f64,
    options: &ClvOptions,
) -> (f64, f64) {
    let month = options.unit.per_month();
    let mut previous = 0.0;
    let mut discounted = 0.0;
    let mut factor = 1.0;
    for m in 1..=options.months {
        let cumulative = model.expected_purchases_if_alive(frequency, age, f64::from(m) * month);
        factor /= 1.0 + options.monthly_discount_rate;
        discounted += (cumulative - previous) * factor;
        previous = cumulative;
    }
    (discounted, previous)
}
