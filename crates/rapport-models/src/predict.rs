//! The prediction interface shared by every buy-till-you-die model.

use crate::summary::History;

/// Per-customer predictions of a fitted buy-till-you-die model, in the model's time unit.
pub trait CustomerModel: Sync {
    /// Probability that the customer is still active at the end of calibration.
    fn p_alive(&self, history: &History) -> f64;

    /// Expected purchases in the next `t` for a customer known to be alive now.
    ///
    /// Depends only on frequency and age, so scoring can cache it across customers.
    fn expected_purchases_if_alive(&self, frequency: u32, age: f64, t: f64) -> f64;

    /// Conditional expected number of purchases in the next `t`.
    fn expected_purchases(&self, history: &History, t: f64) -> f64 {
        let h = history;
        self.p_alive(h) * self.expected_purchases_if_alive(h.frequency, h.age, t)
    }

    /// Expected number of repeat purchases of a new customer in its first `t`.
    fn expected_purchases_new(&self, t: f64) -> f64;

    /// Median time until the next purchase, or None when the customer is more likely
    /// than not never to buy again.
    ///
    /// Defined as the horizon by which the probability of at least one more purchase
    /// (P(alive) times the chance that an active customer buys within it) reaches 1/2.
    /// A median rather than a mean because the mean waiting time is infinite for many
    /// light buyers under gamma-mixed rates. None where the model has no closed form.
    fn median_time_to_next_purchase(&self, history: &History) -> Option<f64> {
        let _ = history;
        None
    }

    /// P(alive) and the median time to the next purchase together; models whose median
    /// is built on P(alive) override it to compute that only once.
    fn p_alive_and_median(&self, history: &History) -> (f64, Option<f64>) {
        (self.p_alive(history), self.median_time_to_next_purchase(history))
    }
}
