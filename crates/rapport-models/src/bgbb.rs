//! BG/BB for discrete purchase opportunities (Fader, Hardie and Shang 2010).
//!
//! Histories are in periods: frequency x of n opportunities, recency t_x the period of the
//! last purchase (0 without one), and age n the number of opportunities; all integers.

use serde::{Deserialize, Serialize};

use crate::data::{Histories, WeightedHistory};
use crate::fit::{Fit, FitError, FitOptions, Objective, check_repeat_buyers, maximise};
use crate::parallel::map_reduce;
use crate::predict::CustomerModel;
use crate::special::{ln_beta, ln_gamma, log_add_exp};
use crate::summary::History;

/// BG/BB parameters: purchase probabilities beta(alpha, beta), dropout probabilities beta(gamma, delta).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgBbParams {
    /// First shape of the purchase-probability beta distribution.
    pub alpha: f64,
    /// Second shape of the purchase-probability beta distribution.
    pub beta: f64,
    /// First shape of the dropout-probability beta distribution.
    pub gamma: f64,
    /// Second shape of the dropout-probability beta distribution.
    pub delta: f64,
}

/// Fits BG/BB by maximum likelihood; recency and age must be whole periods.
pub fn fit_bgbb(data: &Histories, options: &FitOptions) -> Result<Fit<BgBbParams>, FitError> {
    for (row, r) in data.rows().iter().enumerate() {
        let h = &r.history;
        if h.recency.fract() != 0.0 || h.age.fract() != 0.0 || f64::from(h.frequency) > h.age {
            let reason = "BG/BB needs whole periods and frequency at most the periods".to_string();
            return Err(FitError::InvalidInput { row, reason });
        }
    }
    check_repeat_buyers(data.repeat_buyers(), options)?;
    let optimum = maximise(&BgBbObjective(data), &[1.0, 1.0, 1.0, 1.0], options)?;
    Ok(optimum.into_fit(data.customers(), |t| BgBbParams {
        alpha: t[0],
        beta: t[1],
        gamma: t[2],
        delta: t[3],
    }))
}

impl BgBbParams {
    /// Log-likelihood of one history (equation 5 of the paper).
    pub fn log_likelihood(&self, h: &History) -> f64 {
        let (a, b, g, d) = (self.alpha, self.beta, self.gamma, self.delta);
        let (x, tx, n) = (f64::from(h.frequency), h.recency, h.age);
        let (base_ab, base_gd) = (ln_beta(a, b), ln_beta(g, d));
        let mut ll = ln_beta(a + x, b + n - x) - base_ab + ln_beta(g, d + n) - base_gd;
        let gap = (n - tx).round() as u32;
        for i in 0..gap {
            let i = f64::from(i);
            let term = ln_beta(a + x, b + tx - x + i) - base_ab + ln_beta(g + 1.0, d + tx + i) - base_gd;
            ll = log_add_exp(ll, term);
        }
        ll
    }
}

impl CustomerModel for BgBbParams {
    /// Probability of being alive in the last calibration period (n).
    fn p_alive(&self, h: &History) -> f64 {
        let (a, b, g, d) = (self.alpha, self.beta, self.gamma, self.delta);
        let (x, n) = (f64::from(h.frequency), h.age);
        let alive = ln_beta(a + x, b + n - x) - ln_beta(a, b) + ln_beta(g, d + n) - ln_beta(g, d);
        (alive - self.log_likelihood(h)).exp().min(1.0)
    }

    /// Expected purchases in the next `t` periods (fractional `t` interpolates smoothly).
    fn expected_purchases_if_alive(&self, frequency: u32, age: f64, t: f64) -> f64 {
        // The formula divides by gamma - 1 but is smooth there: average either side.
        const GAP: f64 = 1e-6;
        if (self.gamma - 1.0).abs() < GAP / 2.0 {
            let side = |gamma| BgBbParams { gamma, ..*self }.expected_purchases_if_alive(frequency, age, t);
            return 0.5 * (side(1.0 - GAP) + side(1.0 + GAP));
        }
        let (a, b, g, d) = (self.alpha, self.beta, self.gamma, self.delta);
        let (x, n) = (f64::from(frequency), age);
        let buy = (a + x) / (a + b + n);
        let tail = (ln_gamma(g + d + n) + ln_gamma(1.0 + d + n + t) - ln_gamma(d + n) - ln_gamma(g + d + n + t)).exp();
        buy * ((d + n) - tail) / (g - 1.0)
    }

    fn expected_purchases_new(&self, t: f64) -> f64 {
        self.expected_purchases_if_alive(0, 0.0, t)
    }
}

struct BgBbObjective<'a>(&'a Histories);

impl Objective for BgBbObjective<'_> {
    fn log_likelihood(&self, theta: &[f64], _grad: Option<&mut [f64]>) -> f64 {
        let params = BgBbParams {
            alpha: theta[0],
            beta: theta[1],
            gamma: theta[2],
            delta: theta[3],
        };
        let work = |rows: &[WeightedHistory]| -> f64 {
            rows.iter()
                .map(|row| row.weight * params.log_likelihood(&row.history))
                .sum()
        };
        // Each row costs thousands of operations, so even small data sets are worth splitting.
        map_reduce(self.0.rows(), |_| 100, work, |a, b| a + b)
    }

    fn has_gradient(&self) -> bool {
        false
    }

    fn names(&self) -> &'static [&'static str] {
        &["alpha", "beta", "gamma", "delta"]
    }

    fn weight(&self) -> f64 {
        self.0.customers()
    }
}
