//! Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV").

mod moments;
mod spend_data;

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::fit::{Fit, FitError, FitOptions, Objective, Optimum, check_repeat_buyers, maximise};
use crate::special::{digamma, ln_gamma, trigamma};
use moments::{Moments, RADIUS};
pub use spend_data::SpendData;

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

/// Fits the Gamma-Gamma model by maximum likelihood (damped Newton, analytic Hessian).
pub fn fit_gamma_gamma(data: &SpendData, options: &FitOptions) -> Result<Fit<GammaGammaParams>, FitError> {
    check_repeat_buyers(data.len() as f64, options)?;
    let optimum = fit_after_pilot(data, options)?;
    Ok(optimum.into_fit(data.len() as f64, |t| GammaGammaParams {
        p: t[0],
        q: t[1],
        gamma: t[2],
    }))
}

/// Repeat buyers below which a fit starts from [`neutral_start`] rather than a pilot.
const PILOT_MIN: usize = 5_000;
/// Every how many buyers a pilot's sample takes one.
const PILOT_STRIDE: usize = 8;

/// The maximum, starting where the fit of every [`PILOT_STRIDE`]-th buyer (itself found the same
/// way) peaks. The pilot's γ then lies well within the [`RADIUS`] of the moments read there, so
/// the whole data are read once, and each smaller sample costs an eighth of the one above.
fn fit_after_pilot(data: &SpendData, options: &FitOptions) -> Result<Optimum, FitError> {
    let pilot = if data.len() >= PILOT_STRIDE * PILOT_MIN {
        fit_after_pilot(&data.subsample(PILOT_STRIDE), options).ok()
    } else {
        None
    };
    let start = pilot.map_or_else(|| neutral_start(data), |p| [p.theta[0], p.theta[1], p.theta[2]]);
    maximise(&SpendObjective::new(data), &start, options)
}

/// p = 1, q = 2 and γ such that the population mean spend γ p / (q - 1) is the sample mean.
fn neutral_start(data: &SpendData) -> [f64; 3] {
    [1.0, 2.0, data.sum_m / data.len() as f64]
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

/// The likelihood of some spend data. Only γ enters the sums over buyers, and the Newton
/// steps near the maximum move it little: the sums are read once at some γ0 as moments, from
/// which any γ within [`RADIUS`] of it costs a few operations per frequency instead of a
/// logarithm per buyer. A γ further away is read afresh and becomes the new γ0.
struct SpendObjective<'a> {
    data: &'a SpendData,
    expansion: RefCell<Option<(f64, Vec<Moments>)>>,
}

/// Log-likelihood, gradient (p, q, gamma) and Hessian (pp, pq, pgamma, qq, qgamma,
/// gammagamma), in that order.
type Terms = [f64; 10];

impl<'a> SpendObjective<'a> {
    fn new(data: &'a SpendData) -> Self {
        SpendObjective {
            data,
            expansion: RefCell::new(None),
        }
    }

    fn terms(&self, p: f64, q: f64, v: f64) -> Terms {
        let data = self.data;
        let n = data.len() as f64;
        let fixed = data.sum_x_ln_m + data.sum_x_ln_x;
        let mut acc = [
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
        let mut expansion = self.expansion.borrow_mut();
        let near = |center: f64| (v - center).abs() <= RADIUS * center;
        if !expansion.as_ref().is_some_and(|(center, _)| near(*center)) {
            *expansion = Some((v, data.moments_at(v)));
        }
        let (center, moments) = expansion.as_ref().expect("set above");
        let delta = v - center;
        for ((&x, &count), moments) in data.frequencies.iter().zip(&data.counts).zip(moments) {
            if count == 0 {
                continue;
            }
            let (sum_ln, sum_inv, sum_inv2) = moments.at(delta);
            let terms = frequency_terms(f64::from(x), count as f64, sum_ln, sum_inv, sum_inv2, p, q);
            acc.iter_mut().zip(terms).for_each(|(a, t)| *a += t);
        }
        acc
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
        self.data.len() as f64
    }
}

/// The [`Terms`] of the `count` buyers of frequency `xf`, but the per-buyer constants, from
/// their sums of ln(x m + γ), 1/(x m + γ) and its square.
fn frequency_terms(xf: f64, count: f64, sum_ln: f64, sum_inv: f64, sum_inv2: f64, p: f64, q: f64) -> Terms {
    let (pxq, px) = (p * xf + q, p * xf);
    let (psi, trig) = (digamma(pxq), trigamma(pxq));
    [
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
    ]
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::summary::CustomerSummary;

    /// The Gamma-Gamma log-likelihood written out buyer by buyer, as in the paper.
    fn by_buyer(pairs: &[(u32, f64)], p: f64, q: f64, v: f64) -> f64 {
        pairs
            .iter()
            .filter(|(x, m)| *x > 0 && *m > 0.0)
            .map(|&(x, m)| {
                let (xf, px) = (f64::from(x), p * f64::from(x));
                ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * v.ln() + (px - 1.0) * m.ln() + px * xf.ln()
                    - (px + q) * (xf * m + v).ln()
            })
            .sum()
    }

    fn buyers(n: usize, max_x: u32, seed: u64) -> Vec<(u32, f64)> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| (rng.random_range(0..=max_x), rng.random_range(0.0..200.0)))
            .collect()
    }

    /// Buyers simulated from the model itself: spend rates ν ~ gamma(q, γ), a buyer's average
    /// of x spends each gamma(p, ν).
    fn simulated(n: usize, seed: u64) -> Vec<(u32, f64)> {
        use rand_distr::{Distribution, Gamma};
        let mut rng = StdRng::seed_from_u64(seed);
        let rates = Gamma::new(3.7, 1.0 / 15.4).unwrap();
        (0..n)
            .map(|_| {
                let x: u32 = rng.random_range(0..=8);
                if x == 0 {
                    return (0, 0.0);
                }
                let nu = rates.sample(&mut rng);
                let total = Gamma::new(6.25 * f64::from(x), 1.0 / nu).unwrap().sample(&mut rng);
                (x, total / f64::from(x))
            })
            .collect()
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn the_likelihood_matches_the_paper_buyer_by_buyer_near_and_far_from_the_moments_centre() {
        // Frequencies up to 60 are their own slots; up to 100,000 they are mapped to slots.
        // Huge frequencies make terms of 1e10 that cancel down to 1e4: both sums lose digits there.
        for (max_x, tolerance) in [(60, 1e-12), (100_000, 1e-8)] {
            let pairs = buyers(5_000, max_x, 7);
            let data = SpendData::new(pairs.iter().copied()).unwrap();
            let objective = SpendObjective::new(&data);
            // 15.0 reads the moments; 15.9 and 14.2 lie within the radius of 15.0; 30.0 is read afresh.
            for v in [15.0, 15.9, 14.2, 30.0, 29.0] {
                let (p, q) = (6.0, 3.7);
                let series = objective.log_likelihood(&[p, q, v], None);
                let direct = by_buyer(&pairs, p, q, v);
                assert!(
                    close(series, direct, tolerance),
                    "max_x {max_x}, γ {v}: {series} vs {direct}"
                );
            }
        }
    }

    #[test]
    fn moments_moved_within_the_radius_equal_moments_read_there() {
        let data = SpendData::new(buyers(2_000, 12, 3)).unwrap();
        let center = 20.0;
        let moments = data.moments_at(center);
        for delta in [-RADIUS * center, -0.3, 0.0, 0.7, RADIUS * center] {
            let read = data.moments_at(center + delta);
            for (slot, (m, r)) in moments.iter().zip(&read).enumerate() {
                let (ln, inv, inv2) = m.at(delta);
                let (rln, rinv, rinv2) = r.at(0.0);
                assert!(close(ln, rln, 1e-13), "slot {slot}, δ {delta}: ln {ln} vs {rln}");
                assert!(close(inv, rinv, 1e-13), "slot {slot}, δ {delta}: 1/d {inv} vs {rinv}");
                assert!(
                    close(inv2, rinv2, 1e-13),
                    "slot {slot}, δ {delta}: 1/d² {inv2} vs {rinv2}"
                );
            }
        }
    }

    #[test]
    fn summaries_gathered_on_all_cores_give_the_data_read_in_order() {
        let pairs = simulated(150_000, 11);
        let summaries: Vec<CustomerSummary> = pairs
            .iter()
            .enumerate()
            .map(|(i, &(frequency, monetary))| CustomerSummary {
                customer: i as u32,
                frequency,
                recency: 0.0,
                age: 1.0,
                monetary,
                total_spend: monetary,
                holdout_frequency: 0,
            })
            .collect();
        let gathered = SpendData::from_summaries(&summaries).unwrap();
        let read = SpendData::new(pairs.iter().copied()).unwrap();
        assert_eq!(gathered.len(), read.len());
        assert_eq!(gathered.counts, read.counts);
        let rows = |d: &SpendData| -> Vec<(u32, f64)> {
            d.parts
                .iter()
                .flat_map(|p| p.slots.iter().copied().zip(p.xm.iter().copied()))
                .collect()
        };
        assert_eq!(rows(&gathered), rows(&read));
        assert!(close(gathered.sum_ln_m, read.sum_ln_m, 1e-12));
        let options = FitOptions::default();
        let (a, b) = (
            fit_gamma_gamma(&gathered, &options).unwrap(),
            fit_gamma_gamma(&read, &options).unwrap(),
        );
        // Parts split elsewhere give the pilots other samples, so the fits start apart and stop
        // at the convergence tolerance a hair from each other.
        for (x, y) in [
            (a.params.p, b.params.p),
            (a.params.q, b.params.q),
            (a.params.gamma, b.params.gamma),
        ] {
            assert!(close(x, y, 1e-6), "{x} vs {y}");
        }
        // 133,000 buyers simulated from p 6.25, q 3.7, γ 15.4: the fit (after its pilots) finds them.
        for (fitted, truth) in [(a.params.p, 6.25), (a.params.q, 3.7), (a.params.gamma, 15.4)] {
            assert!((fitted - truth).abs() < 0.05 * truth, "{fitted} vs {truth}");
        }
    }

    #[test]
    fn an_invalid_spend_is_named_by_its_row() {
        let mut summaries = vec![
            CustomerSummary {
                customer: 0,
                frequency: 1,
                recency: 1.0,
                age: 2.0,
                monetary: 5.0,
                total_spend: 10.0,
                holdout_frequency: 0,
            };
            50_000
        ];
        summaries[41_234].monetary = f64::NAN;
        let error = SpendData::from_summaries(&summaries).unwrap_err();
        assert_eq!(
            error,
            FitError::InvalidInput {
                row: 41_234,
                reason: "average spend must be a non-negative number".into()
            }
        );
    }
}
