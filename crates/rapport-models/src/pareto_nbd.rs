//! Pareto/NBD (Schmittlein, Morrison and Colombo 1987; likelihood as in Fader and Hardie 2005).

use serde::{Deserialize, Serialize};

use std::ops::Range;

use crate::data::Histories;
use crate::fit::{Fit, FitError, FitOptions, Objective, check_repeat_buyers, maximise};
use crate::parallel::map_reduce;
use crate::predict::CustomerModel;
use crate::special::{hyp2f1, ln_gamma, log_add_exp};
use crate::summary::History;

/// Pareto/NBD parameters: purchase rates gamma(r, alpha), dropout rates gamma(s, beta).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdParams {
    /// Shape of the purchase-rate gamma distribution.
    pub r: f64,
    /// Rate of the purchase-rate gamma distribution, in the time unit.
    pub alpha: f64,
    /// Shape of the dropout-rate gamma distribution.
    pub s: f64,
    /// Rate of the dropout-rate gamma distribution, in the time unit.
    pub beta: f64,
}

/// Fits Pareto/NBD by maximum likelihood.
///
/// The gradient of the 2F1 terms with respect to their parameters has no cheap form, so
/// L-BFGS runs on a central-difference gradient, with Nelder-Mead as the fallback.
pub fn fit_pareto_nbd(data: &Histories, options: &FitOptions) -> Result<Fit<ParetoNbdParams>, FitError> {
    check_repeat_buyers(data.repeat_buyers(), options)?;
    let [r, alpha, _, _] = crate::bg_family::starting_point(data);
    let optimum = maximise(&ParetoObjective(data), &[r, alpha, 1.0, alpha], options)?;
    Ok(optimum.into_fit(data.customers(), |t| ParetoNbdParams {
        r: t[0],
        alpha: t[1],
        s: t[2],
        beta: t[3],
    }))
}

impl ParetoNbdParams {
    /// Log-likelihood of one history.
    pub fn log_likelihood(&self, h: &History) -> f64 {
        let (early, late) = (self.a0_term(h.frequency, h.recency), self.a0_term(h.frequency, h.age));
        self.log_likelihood_from_terms(h, early, late)
    }

    /// Log-likelihood given the two [`Self::a0_term`]s at recency and age.
    fn log_likelihood_from_terms(&self, h: &History, early: f64, late: f64) -> f64 {
        let (r, alpha, s, beta) = (self.r, self.alpha, self.s, self.beta);
        let x = f64::from(h.frequency);
        let head = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let alive = -(r + x) * (alpha + h.age).ln() - s * (beta + h.age).ln();
        let dead = s.ln() + ln_difference(early, late) - (r + s + x).ln();
        head + log_add_exp(alive, dead)
    }

    /// ln of the integral over dropout times in (t_x, T], without its 1/(r+s+x) factor.
    fn ln_a0(&self, h: &History) -> f64 {
        ln_difference(self.a0_term(h.frequency, h.recency), self.a0_term(h.frequency, h.age))
    }

    /// ln(2F1(r+s+x, b; r+s+x+1; |alpha-beta| / (max + t)) / (max + t)^(r+s+x)), where
    /// b is r+x or s+1 as alpha or beta is the larger; A0 is the difference at t_x and T.
    fn a0_term(&self, frequency: u32, t: f64) -> f64 {
        let x = f64::from(frequency);
        let (low, high, b) = if self.alpha < self.beta {
            (self.alpha, self.beta, self.r + x)
        } else {
            (self.beta, self.alpha, self.s + 1.0)
        };
        let rsx = self.r + self.s + x;
        let q = high + t;
        hyp2f1(rsx, b, rsx + 1.0, (high - low) / q).ln() - rsx * q.ln()
    }
}

/// ln(e^early - e^late), or -∞ when late is not smaller.
fn ln_difference(early: f64, late: f64) -> f64 {
    let d = late - early;
    if d >= 0.0 {
        f64::NEG_INFINITY
    } else {
        early + (-d.exp()).ln_1p()
    }
}

impl CustomerModel for ParetoNbdParams {
    fn p_alive(&self, h: &History) -> f64 {
        let x = f64::from(h.frequency);
        let (r, s) = (self.r, self.s);
        let odds = s.ln() - (r + s + x).ln()
            + (r + x) * (self.alpha + h.age).ln()
            + s * (self.beta + h.age).ln()
            + self.ln_a0(h);
        1.0 / (1.0 + odds.exp())
    }

    fn expected_purchases_if_alive(&self, frequency: u32, age: f64, t: f64) -> f64 {
        let (r, s) = (self.r + f64::from(frequency), self.s);
        let (a, b) = (self.alpha + age, self.beta + age);
        let ln_ratio = (b / (b + t)).ln();
        // (1 - ratio^(s-1)) / (s-1), tending to -ln(ratio) as s -> 1.
        let lifetime = if (s - 1.0).abs() < 1e-9 {
            -ln_ratio
        } else {
            -((s - 1.0) * ln_ratio).exp_m1() / (s - 1.0)
        };
        r * b / a * lifetime
    }

    fn expected_purchases_new(&self, t: f64) -> f64 {
        self.expected_purchases_if_alive(0, 0.0, t)
    }
}

struct ParetoObjective<'a>(&'a Histories);

/// Log-likelihood of the rows of one frequency, computing each 2F1 term once per
/// distinct recency and age: they depend on the time and the frequency only.
fn frequency_group(params: &ParetoNbdParams, data: &Histories, x: u32, range: Range<usize>) -> f64 {
    let times = data.times();
    let mut early = vec![f64::NAN; times.recencies.len()];
    let mut late = vec![f64::NAN; times.ages.len()];
    let memo = |table: &mut Vec<f64>, i: u32, t: f64| {
        let slot = &mut table[i as usize];
        if slot.is_nan() {
            *slot = params.a0_term(x, t);
        }
        *slot
    };
    let rows = &data.rows()[range.clone()];
    rows.iter()
        .zip(&times.index[range])
        .map(|(row, &(ai, ri))| {
            let h = &row.history;
            let e = memo(&mut early, ri, h.recency);
            let l = memo(&mut late, ai, h.age);
            row.weight * params.log_likelihood_from_terms(h, e, l)
        })
        .sum()
}

impl Objective for ParetoObjective<'_> {
    fn log_likelihood(&self, theta: &[f64], _grad: Option<&mut [f64]>) -> f64 {
        let params = ParetoNbdParams {
            r: theta[0],
            alpha: theta[1],
            s: theta[2],
            beta: theta[3],
        };
        let data = self.0;
        let work = |groups: &[(u32, Range<usize>)]| -> f64 {
            groups
                .iter()
                .map(|(x, range)| frequency_group(&params, data, *x, range.clone()))
                .sum()
        };
        map_reduce(data.by_frequency(), |g| g.1.len() * 100, work, |a, b| a + b)
    }

    fn has_gradient(&self) -> bool {
        false
    }

    fn names(&self) -> &'static [&'static str] {
        &["r", "alpha", "s", "beta"]
    }

    fn weight(&self) -> f64 {
        self.0.customers()
    }
}
