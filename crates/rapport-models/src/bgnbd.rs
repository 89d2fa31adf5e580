//! BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way").

use serde::{Deserialize, Serialize};

use crate::bg_family::{Family, FamilyObjective, Variant, starting_point};
use crate::data::Histories;
use crate::fit::{Fit, FitError, FitOptions, check_repeat_buyers, maximise};
use crate::predict::CustomerModel;
use crate::summary::History;

/// BG/NBD parameters: purchase rates gamma(r, alpha), dropout probabilities beta(a, b).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate gamma distribution.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate gamma distribution, in the time unit.
    pub alpha: f64,
    /// First shape of the dropout-probability beta distribution.
    pub a: f64,
    /// Second shape of the dropout-probability beta distribution.
    pub b: f64,
}

/// Fits BG/NBD by maximum likelihood (L-BFGS with analytic gradient in log-parameters).
pub fn fit_bgnbd(data: &Histories, options: &FitOptions) -> Result<Fit<BgNbdParams>, FitError> {
    check_repeat_buyers(data.repeat_buyers(), options)?;
    let objective = FamilyObjective {
        data,
        variant: Variant::Bg,
    };
    let optimum = maximise(&objective, &starting_point(data), options)?;
    Ok(optimum.into_fit(data.customers(), |t| BgNbdParams {
        r: t[0],
        alpha: t[1],
        a: t[2],
        b: t[3],
    }))
}

impl BgNbdParams {
    fn family(&self) -> Family {
        Family {
            variant: Variant::Bg,
            r: self.r,
            alpha: self.alpha,
            a: self.a,
            b: self.b,
        }
    }

    /// Probability that a new customer makes exactly `n` repeat purchases in its first `t`
    /// (equation 8 of the paper).
    pub fn prob_n_purchases_new(&self, n: u32, t: f64) -> f64 {
        self.family().prob_n_new(n, t)
    }

    /// Probability that this customer makes exactly `n` purchases in the next `t`.
    pub fn prob_n_purchases(&self, history: &History, n: u32, t: f64) -> f64 {
        self.family().prob_n(history, n, t)
    }
}

impl CustomerModel for BgNbdParams {
    fn p_alive(&self, history: &History) -> f64 {
        self.family().p_alive(history)
    }

    fn expected_purchases_if_alive(&self, frequency: u32, age: f64, t: f64) -> f64 {
        self.family().expected_if_alive(frequency, age, t)
    }

    fn expected_purchases_new(&self, t: f64) -> f64 {
        self.family().expected_new(t)
    }

    fn median_time_to_next_purchase(&self, history: &History) -> Option<f64> {
        self.family().median_time_to_next_purchase(history)
    }

    fn p_alive_and_median(&self, history: &History) -> (f64, Option<f64>) {
        let family = self.family();
        let p = family.p_alive(history);
        (p, family.median_given_p_alive(history, p))
    }
}
