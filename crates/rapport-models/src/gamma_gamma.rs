//! Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV").

use serde::{Deserialize, Serialize};

use crate::fit::{Fit, FitError, FitOptions, Objective, check_repeat_buyers, maximise};
use crate::parallel::map_reduce;
use crate::special::{digamma, ln_gamma};
use crate::summary::CustomerSummary;

/// Gamma-Gamma parameters: spend per transaction gamma(p, ν), ν across customers gamma(q, gamma).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction spend distribution.
    pub p: f64,
    /// Shape of the across-customer distribution of the spend rate.
    pub q: f64,
    /// Rate of the across-customer distribution of the spend rate (called v in some texts).
    pub gamma: f64,
}

/// Repeat buyers' transaction counts and average spends, the Gamma-Gamma input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendData {
    /// (repeat frequency, average repeat spend) per repeat buyer, sorted by frequency.
    rows: Vec<(u32, f64)>,
    /// Σ ln m and Σ x ln m, Σ x ln x: the parameter-free parts of the likelihood.
    sum_ln_m: f64,
    sum_x_ln_m: f64,
    sum_x_ln_x: f64,
}

impl SpendData {
    /// Keeps customers with at least one repeat purchase and a positive average spend.
    pub fn new(pairs: impl IntoIterator<Item = (u32, f64)>) -> Result<Self, FitError> {
        let mut rows = Vec::new();
        for (row, (x, m)) in pairs.into_iter().enumerate() {
            if !m.is_finite() || m < 0.0 {
                let reason = "average spend must be a non-negative number".to_string();
                return Err(FitError::InvalidInput { row, reason });
            }
            if x > 0 && m > 0.0 {
                rows.push((x, m));
            }
        }
        rows.sort_unstable_by_key(|r| r.0);
        let sum_ln_m = rows.iter().map(|r| r.1.ln()).sum();
        let sum_x_ln_m = rows.iter().map(|r| f64::from(r.0) * r.1.ln()).sum();
        let sum_x_ln_x = rows.iter().map(|r| f64::from(r.0) * f64::from(r.0).ln()).sum();
        Ok(SpendData {
            rows,
            sum_ln_m,
            sum_x_ln_m,
            sum_x_ln_x,
        })
    }

    /// Spend data of summarised customers (frequency and monetary value).
    pub fn from_summaries(customers: &[CustomerSummary]) -> Result<Self, FitError> {
        Self::new(customers.iter().map(|c| (c.frequency, c.monetary)))
    }

    /// Number of repeat buyers kept.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no repeat buyer was kept.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Fits the Gamma-Gamma model by maximum likelihood (L-BFGS, analytic gradient).
pub fn fit_gamma_gamma(data: &SpendData, options: &FitOptions) -> Result<Fit<GammaGammaParams>, FitError> {
    check_repeat_buyers(data.len() as f64, options)?;
    let mean = data.rows.iter().map(|r| r.1).sum::<f64>() / data.len() as f64;
    // Start at p = 1, q = 2, so the population mean spend γ p / (q - 1) equals the sample mean.
    let start = [1.0, 2.0, mean];
    let optimum = maximise(&SpendObjective(data), &start, options)?;
    Ok(optimum.into_fit(data.len() as f64, |t| GammaGammaParams {
        p: t[0],
        q: t[1],
        gamma: t[2],
    }))
}

impl GammaGammaParams {
    /// Expected average spend per transaction of a customer with `frequency` repeat
    /// purchases averaging `monetary`; the population mean when frequency is 0.
    pub fn expected_spend(&self, frequency: u32, monetary: f64) -> f64 {
        let (p, q) = (self.p, self.q);
        let population = self.gamma * p / (q - 1.0);
        if frequency == 0 {
            return population;
        }
        let px = p * f64::from(frequency);
        let weight = px / (px + q - 1.0);
        (1.0 - weight) * population + weight * monetary
    }
}

struct SpendObjective<'a>(&'a SpendData);

impl Objective for SpendObjective<'_> {
    fn log_likelihood(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let (p, q, v) = (theta[0], theta[1], theta[2]);
        let data = self.0;
        let n = data.len() as f64;
        let fixed = data.sum_x_ln_m + data.sum_x_ln_x;
        let head = [
            n * (q * v.ln() - ln_gamma(q)) - data.sum_ln_m + p * fixed,
            fixed,
            n * (v.ln() - digamma(q)),
            n * q / v,
        ];
        let work = |rows: &[(u32, f64)]| accumulate(rows, p, q, v);
        let total = map_reduce(&data.rows, |_| 1, work, |a, b| std::array::from_fn(|k| a[k] + b[k]));
        let sum: [f64; 4] = std::array::from_fn(|k| head[k] + total[k]);
        if let Some(out) = grad {
            out.copy_from_slice(&sum[1..]);
        }
        sum[0]
    }

    fn has_gradient(&self) -> bool {
        true
    }

    fn names(&self) -> &'static [&'static str] {
        &["p", "q", "gamma"]
    }

    fn weight(&self) -> f64 {
        self.0.len() as f64
    }
}

/// Log-likelihood and gradient (p, q, gamma) terms of some rows, sorted by frequency.
fn accumulate(rows: &[(u32, f64)], p: f64, q: f64, v: f64) -> [f64; 4] {
    let mut acc = [0.0; 4];
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        let xf = f64::from(run[0].0);
        let (pxq, px) = (p * xf + q, p * xf);
        for &(_, m) in run {
            let denominator = xf * m + v;
            let l = denominator.ln();
            acc[0] -= pxq * l;
            acc[1] -= xf * l;
            acc[2] -= l;
            acc[3] -= pxq / denominator;
        }
        let count = run.len() as f64;
        acc[0] += count * (ln_gamma(pxq) - ln_gamma(px));
        acc[1] += count * xf * (digamma(pxq) - digamma(px));
        acc[2] += count * digamma(pxq);
    }
    acc
}
