//! Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV").

use serde::{Deserialize, Serialize};

use crate::fit::{Fit, FitError, FitOptions, Objective, check_repeat_buyers, maximise};
use crate::parallel::map_reduce;
use crate::special::{digamma, ln_gamma, trigamma};
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
        Ok(Self::from_sorted(sort_by_frequency(rows)))
    }

    /// Spend data of rows already filtered and sorted by frequency.
    fn from_sorted(rows: Vec<(u32, f64)>) -> Self {
        let logs: Vec<f64> = rows.iter().map(|r| r.1.ln()).collect();
        Self::with_logs(rows, &logs)
    }

    /// Spend data of sorted rows and the logarithm of each row's spend.
    fn with_logs(rows: Vec<(u32, f64)>, logs: &[f64]) -> Self {
        let (mut sum_ln_m, mut sum_x_ln_m, mut sum_x_ln_x) = (0.0, 0.0, 0.0);
        let mut start = 0;
        for run in rows.chunk_by(|a, b| a.0 == b.0) {
            let x = f64::from(run[0].0);
            let run_ln_m: f64 = logs[start..start + run.len()].iter().sum();
            start += run.len();
            sum_ln_m += run_ln_m;
            sum_x_ln_m += x * run_ln_m;
            sum_x_ln_x += run.len() as f64 * x * x.ln();
        }
        SpendData {
            rows,
            sum_ln_m,
            sum_x_ln_m,
            sum_x_ln_x,
        }
    }

    /// Spend data of summarised customers (frequency and monetary value).
    ///
    /// The same data as [`SpendData::new`], sums in the same order: the machine's cores each pick
    /// the repeat buyers of a part of the customers, with the logarithm of their spend, and one
    /// stable counting sort puts the parts' rows in frequency order. An invalid spend or a huge
    /// frequency is left to [`SpendData::new`].
    pub fn from_summaries(customers: &[CustomerSummary]) -> Result<Self, FitError> {
        let everyone = || Self::new(customers.iter().map(|c| (c.frequency, c.monetary)));
        let merge = |a: Option<Vec<_>>, b: Option<Vec<_>>| {
            let (mut a, b) = (a?, b?);
            a.extend(b);
            Some(a)
        };
        let Some(parts) = map_reduce(customers, |_| 1, repeat_buyers, merge) else {
            return everyone();
        };
        let total: usize = parts.iter().map(Vec::len).sum();
        let max = parts.iter().flatten().map(|r| r.0 as usize).max().unwrap_or(0);
        if max > 4 * total + 1024 {
            return everyone();
        }
        let mut next = vec![0usize; max + 1];
        parts.iter().flatten().for_each(|r| next[r.0 as usize] += 1);
        let mut start = 0;
        for slot in next.iter_mut() {
            (*slot, start) = (start, start + *slot);
        }
        let (mut rows, mut logs) = (vec![(0, 0.0); total], vec![0.0; total]);
        for &(x, m, ln_m) in parts.iter().flatten() {
            let slot = &mut next[x as usize];
            (rows[*slot], logs[*slot]) = ((x, m), ln_m);
            *slot += 1;
        }
        Ok(Self::with_logs(rows, &logs))
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

/// One part's repeat buyers in order, as (frequency, average spend, its logarithm); None when
/// a spend is invalid.
fn repeat_buyers(customers: &[CustomerSummary]) -> Option<Vec<Vec<(u32, f64, f64)>>> {
    let mut kept = Vec::new();
    for c in customers {
        let m = c.monetary;
        if !m.is_finite() || m < 0.0 {
            return None;
        }
        if c.frequency > 0 && m > 0.0 {
            kept.push((c.frequency, m, m.ln()));
        }
    }
    Some(vec![kept])
}

/// Rows stably sorted by frequency: a counting sort, as frequencies are small integers.
fn sort_by_frequency(mut rows: Vec<(u32, f64)>) -> Vec<(u32, f64)> {
    let max = rows.iter().map(|r| r.0 as usize).max().unwrap_or(0);
    if max > 4 * rows.len() + 1024 {
        rows.sort_by_key(|r| r.0);
        return rows;
    }
    let mut starts = vec![0usize; max + 2];
    rows.iter().for_each(|r| starts[r.0 as usize + 1] += 1);
    (1..starts.len()).for_each(|k| starts[k] += starts[k - 1]);
    let mut sorted = vec![(0, 0.0); rows.len()];
    for r in rows {
        sorted[starts[r.0 as usize]] = r;
        starts[r.0 as usize] += 1;
    }
    sorted
}

/// Fits the Gamma-Gamma model by maximum likelihood (damped Newton, analytic Hessian).
pub fn fit_gamma_gamma(data: &SpendData, options: &FitOptions) -> Result<Fit<GammaGammaParams>, FitError> {
    check_repeat_buyers(data.len() as f64, options)?;
    let optimum = maximise(&SpendObjective(data), &starting_point(data, options), options)?;
    Ok(optimum.into_fit(data.len() as f64, |t| GammaGammaParams {
        p: t[0],
        q: t[1],
        gamma: t[2],
    }))
}

/// Repeat buyers in the subsample that gives a large fit its starting point.
const WARM_START_ROWS: usize = 20_000;

/// Where the fit starts: p = 1, q = 2, so that the population mean spend γ p / (q - 1)
/// equals the sample mean; for large data, the fit of an evenly strided subsample, from
/// which the full fit needs only the last few Newton passes.
fn starting_point(data: &SpendData, options: &FitOptions) -> [f64; 3] {
    let mean = data.rows.iter().map(|r| r.1).sum::<f64>() / data.len() as f64;
    let neutral = [1.0, 2.0, mean];
    if data.len() < 4 * WARM_START_ROWS {
        return neutral;
    }
    let stride = data.len() / WARM_START_ROWS;
    let sample = SpendData::from_sorted(data.rows.iter().step_by(stride).copied().collect());
    match maximise(&SpendObjective(&sample), &neutral, options) {
        Ok(optimum) => [optimum.theta[0], optimum.theta[1], optimum.theta[2]],
        Err(_) => neutral,
    }
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

/// Log-likelihood, gradient (p, q, gamma) and Hessian (pp, pq, pgamma, qq, qgamma,
/// gammagamma), in that order.
type Terms = [f64; 10];

impl SpendObjective<'_> {
    fn terms(&self, p: f64, q: f64, v: f64) -> Terms {
        let data = self.0;
        let n = data.len() as f64;
        let fixed = data.sum_x_ln_m + data.sum_x_ln_x;
        let head = [
            n * (q * v.ln() - ln_gamma(q)) - data.sum_ln_m + p * fixed,
            fixed,
            n * (v.ln() - digamma(q)),
            n * q / v,
            0.0,
            0.0,
            0.0,
            -n * trigamma(q),
            n / v,
            -n * q / (v * v),
        ];
        let work = |rows: &[(u32, f64)]| accumulate(rows, p, q, v);
        let total = map_reduce(&data.rows, |_| 1, work, |a, b| std::array::from_fn(|k| a[k] + b[k]));
        std::array::from_fn(|k| head[k] + total[k])
    }
}

impl Objective for SpendObjective<'_> {
    fn log_likelihood(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let t = self.terms(theta[0], theta[1], theta[2]);
        if let Some(out) = grad {
            out.copy_from_slice(&t[1..4]);
        }
        t[0]
    }

    fn has_gradient(&self) -> bool {
        true
    }

    fn with_hessian(&self, theta: &[f64], grad: &mut [f64], hessian: &mut [f64]) -> Option<f64> {
        let t = self.terms(theta[0], theta[1], theta[2]);
        grad.copy_from_slice(&t[1..4]);
        let [pp, pq, pv, qq, qv, vv] = [t[4], t[5], t[6], t[7], t[8], t[9]];
        hessian.copy_from_slice(&[pp, pq, pv, pq, qq, qv, pv, qv, vv]);
        Some(t[0])
    }

    fn names(&self) -> &'static [&'static str] {
        &["p", "q", "gamma"]
    }

    fn weight(&self) -> f64 {
        self.0.len() as f64
    }
}

/// The [`Terms`] of some rows, sorted by frequency, except the per-customer constants.
///
/// Per row only ln(x m + γ) and its reciprocal vary; everything else depends on the
/// frequency alone and is computed once per run of equal frequencies.
fn accumulate(rows: &[(u32, f64)], p: f64, q: f64, v: f64) -> Terms {
    let mut acc = [0.0; 10];
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        let xf = f64::from(run[0].0);
        let (pxq, px) = (p * xf + q, p * xf);
        let (mut sum_ln, mut sum_inv, mut sum_inv2) = (0.0, 0.0, 0.0);
        for &(_, m) in run {
            let denominator = xf * m + v;
            let inv = 1.0 / denominator;
            sum_ln += denominator.ln();
            sum_inv += inv;
            sum_inv2 += inv * inv;
        }
        let count = run.len() as f64;
        let (psi, trig) = (digamma(pxq), trigamma(pxq));
        let terms = [
            count * (ln_gamma(pxq) - ln_gamma(px)) - pxq * sum_ln,
            count * xf * (psi - digamma(px)) - xf * sum_ln,
            count * psi - sum_ln,
            -pxq * sum_inv,
            count * xf * xf * (trig - trigamma(px)),
            count * xf * trig,
            -xf * sum_inv,
            count * trig,
            -sum_inv,
            pxq * sum_inv2,
        ];
        acc.iter_mut().zip(terms).for_each(|(a, t)| *a += t);
    }
    acc
}
