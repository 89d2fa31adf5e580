//! Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV").

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::fit::{Fit, FitError, FitOptions, Objective, Optimum, check_repeat_buyers, maximise};
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
///
/// Kept as each buyer's frequency (as a slot of [`SpendData::frequencies`]) and the product x m,
/// in parts that the machine's cores read side by side, with the sums the likelihood needs that
/// do not depend on the parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendData {
    parts: Vec<Part>,
    /// The repeat frequency of each slot.
    frequencies: Vec<u32>,
    /// Buyers per slot.
    counts: Vec<u64>,
    buyers: usize,
    sum_m: f64,
    /// Σ ln m, Σ x ln m and Σ x ln x: the parameter-free parts of the likelihood.
    sum_ln_m: f64,
    sum_x_ln_m: f64,
    sum_x_ln_x: f64,
}

/// Some repeat buyers: each one's frequency slot and x m.
#[derive(Clone, Debug, Default, PartialEq)]
struct Part {
    slots: Vec<u32>,
    xm: Vec<f64>,
}

/// A part of the buyers as read, before slots are assigned: frequencies and the part's sums.
#[derive(Default)]
struct Gathered {
    part: Part,
    max_x: u32,
    sum_m: f64,
    sum_ln_m: f64,
    sum_x_ln_m: f64,
}

impl Gathered {
    /// Buyers' frequencies and average spends (all positive), with their sums; the spends
    /// become x m in place.
    fn of_buyers(slots: Vec<u32>, mut xm: Vec<f64>) -> Self {
        let mut gathered = Gathered::default();
        for (&x, m) in slots.iter().zip(&mut xm) {
            let (xf, ln_m) = (f64::from(x), m.ln());
            gathered.max_x = gathered.max_x.max(x);
            gathered.sum_m += *m;
            gathered.sum_ln_m += ln_m;
            gathered.sum_x_ln_m += xf * ln_m;
            *m *= xf;
        }
        gathered.part = Part { slots, xm };
        gathered
    }

    /// Keeps a buyer when it has repeat purchases and a positive spend.
    fn push(&mut self, x: u32, m: f64) {
        if x == 0 || m <= 0.0 {
            return;
        }
        let xf = f64::from(x);
        let ln_m = m.ln();
        self.part.slots.push(x);
        self.part.xm.push(xf * m);
        self.max_x = self.max_x.max(x);
        self.sum_m += m;
        self.sum_ln_m += ln_m;
        self.sum_x_ln_m += xf * ln_m;
    }
}

/// Frequencies up to which a frequency is its own slot; data with larger ones get slots in
/// order of the distinct frequencies, so that a table per slot stays small.
const DIRECT_SLOTS: u32 = 4096;

impl SpendData {
    /// Keeps customers with at least one repeat purchase and a positive average spend.
    pub fn new(pairs: impl IntoIterator<Item = (u32, f64)>) -> Result<Self, FitError> {
        let mut all = Gathered::default();
        for (row, (x, m)) in pairs.into_iter().enumerate() {
            if !m.is_finite() || m < 0.0 {
                return Err(invalid_spend(row));
            }
            all.push(x, m);
        }
        // Parts of about equal size, so that the fit reads them on all cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let size = all.part.slots.len().div_ceil(cores).max(MIN_PART);
        let parts = all
            .part
            .slots
            .chunks(size)
            .zip(all.part.xm.chunks(size))
            .map(|(slots, xm)| Part {
                slots: slots.to_vec(),
                xm: xm.to_vec(),
            });
        let gathered = Gathered {
            part: Part::default(),
            ..all
        };
        Ok(Self::assemble(parts.collect(), vec![gathered]))
    }

    /// Spend data of summarised customers (frequency and monetary value): the same data as
    /// [`SpendData::new`], each core gathering the repeat buyers of a part of the customers.
    pub fn from_summaries(customers: &[CustomerSummary]) -> Result<Self, FitError> {
        let gather = |part: &[CustomerSummary]| {
            // Every customer is written and only buyers advance the end: no branch on a
            // condition that holds for about every other customer. Pages past the end are
            // never touched, so they cost nothing.
            let (mut slots, mut spends) = (vec![0u32; part.len()], vec![0.0f64; part.len()]);
            let mut kept = 0;
            for c in part {
                if !c.monetary.is_finite() || c.monetary < 0.0 {
                    return None;
                }
                (slots[kept], spends[kept]) = (c.frequency, c.monetary);
                kept += usize::from(c.frequency > 0 && c.monetary > 0.0);
            }
            slots.truncate(kept);
            spends.truncate(kept);
            Some(vec![Gathered::of_buyers(slots, spends)])
        };
        let merge = |a: Option<Vec<Gathered>>, b: Option<Vec<Gathered>>| {
            let (mut a, b) = (a?, b?);
            a.extend(b);
            Some(a)
        };
        match map_reduce(customers, |_| 1, gather, merge) {
            Some(mut gathered) => {
                let parts = gathered.iter_mut().map(|g| std::mem::take(&mut g.part)).collect();
                Ok(Self::assemble(parts, gathered))
            }
            // Some spend is invalid: the sequential reading names the first such row.
            None => Self::new(customers.iter().map(|c| (c.frequency, c.monetary))),
        }
    }

    /// Assigns frequency slots to the gathered parts and adds up their sums.
    fn assemble(mut parts: Vec<Part>, gathered: Vec<Gathered>) -> Self {
        let max_x = gathered.iter().map(|g| g.max_x).max().unwrap_or(0);
        let frequencies: Vec<u32> = if max_x <= DIRECT_SLOTS {
            (0..=max_x).collect()
        } else {
            let mut distinct: Vec<u32> = parts.iter().flat_map(|p| p.slots.iter().copied()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let slot_of: std::collections::HashMap<u32, u32> =
                distinct.iter().enumerate().map(|(slot, &x)| (x, slot as u32)).collect();
            parts
                .iter_mut()
                .flat_map(|p| p.slots.iter_mut())
                .for_each(|s| *s = slot_of[s]);
            distinct
        };
        let mut counts = vec![0u64; frequencies.len()];
        parts
            .iter()
            .flat_map(|p| &p.slots)
            .for_each(|&s| counts[s as usize] += 1);
        let sum_x_ln_x = x_ln_x(&frequencies, &counts);
        parts.retain(|p| !p.slots.is_empty());
        SpendData {
            buyers: parts.iter().map(|p| p.slots.len()).sum(),
            parts,
            frequencies,
            counts,
            sum_m: gathered.iter().map(|g| g.sum_m).sum(),
            sum_ln_m: gathered.iter().map(|g| g.sum_ln_m).sum(),
            sum_x_ln_m: gathered.iter().map(|g| g.sum_x_ln_m).sum(),
            sum_x_ln_x,
        }
    }

    /// Every `stride`-th buyer of each part, with the same slots (and Σ ln m left at 0: it moves
    /// the likelihood but not where it peaks).
    fn subsample(&self, stride: usize) -> Self {
        let mut counts = vec![0u64; self.frequencies.len()];
        let (mut sum_m, mut sum_x_ln_m) = (0.0, 0.0);
        let parts: Vec<Part> = self
            .parts
            .iter()
            .map(|part| {
                let mut sample = Part::default();
                for (&slot, &xm) in part.slots.iter().zip(&part.xm).step_by(stride) {
                    let x = f64::from(self.frequencies[slot as usize]);
                    sample.slots.push(slot);
                    sample.xm.push(xm);
                    counts[slot as usize] += 1;
                    sum_m += xm / x;
                    sum_x_ln_m += x * (xm / x).ln();
                }
                sample
            })
            .collect();
        SpendData {
            buyers: parts.iter().map(|p| p.slots.len()).sum(),
            parts,
            sum_m,
            sum_x_ln_m,
            sum_x_ln_x: x_ln_x(&self.frequencies, &counts),
            frequencies: self.frequencies.clone(),
            counts,
            sum_ln_m: 0.0,
        }
    }

    /// Number of repeat buyers kept.
    pub fn len(&self) -> usize {
        self.buyers
    }

    /// Whether no repeat buyer was kept.
    pub fn is_empty(&self) -> bool {
        self.buyers == 0
    }

    /// The buyers' spends are x m + γ for every buyer: the moments of those at `center`, per
    /// frequency slot, read on the machine's cores.
    fn moments_at(&self, center: f64) -> Vec<Moments> {
        let slots = self.frequencies.len();
        let work = |parts: &[Part]| {
            let mut table = vec![Moments::default(); slots];
            for part in parts {
                add_moments(part, center, &mut table);
            }
            table
        };
        let merge = |mut a: Vec<Moments>, b: Vec<Moments>| {
            a.iter_mut().zip(&b).for_each(|(a, b)| a.add(b));
            a
        };
        map_reduce(&self.parts, |p| p.slots.len(), work, merge)
    }
}

/// Buyers below which a part is not worth a thread of its own.
const MIN_PART: usize = 20_000;

/// Σ x ln x over buyers, from the buyers per frequency.
fn x_ln_x(frequencies: &[u32], counts: &[u64]) -> f64 {
    let term = |(&x, &n): (&u32, &u64)| n as f64 * f64::from(x) * f64::from(x).ln();
    frequencies.iter().zip(counts).filter(|(_, n)| **n > 0).map(term).sum()
}

fn invalid_spend(row: usize) -> FitError {
    let reason = "average spend must be a non-negative number".to_string();
    FitError::InvalidInput { row, reason }
}

/// Terms of the series in δ = γ - γ0 evaluated from moments taken at γ0.
const SERIES: usize = 18;
/// Powers of 1 / (x m + γ0) summed: the series of Σ 1/(x m + γ)² needs two more than [`SERIES`].
const POWERS: usize = SERIES + 2;
// `Moments::add_buyer` takes the powers four at a time.
const _: () = assert!(POWERS.is_multiple_of(4));
/// Largest |γ - γ0| / γ0 evaluated from moments at γ0. Each buyer's term then shrinks by
/// at least this ratio per power (x m > 0), so after [`SERIES`] terms what is left is below
/// 8^-19 ≈ 7e-18 of the first: the series is as exact as the sums themselves.
const RADIUS: f64 = 1.0 / 8.0;

/// For the buyers of one frequency, at some γ0: Σ ln(x m + γ0) and Σ (x m + γ0)^-k, k = 1..=POWERS.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Moments {
    ln: f64,
    powers: [f64; POWERS],
}

impl Moments {
    fn add(&mut self, other: &Moments) {
        self.ln += other.ln;
        self.powers.iter_mut().zip(&other.powers).for_each(|(a, b)| *a += b);
    }

    /// Adds a buyer whose x m + γ0 is `denominator`.
    fn add_buyer(&mut self, denominator: f64) {
        let inv = 1.0 / denominator;
        self.ln += denominator.ln();
        // Four powers at a time, each four apart: short chains of products the processor
        // overlaps, and sums it may add in pairs.
        let inv2 = inv * inv;
        let inv4 = inv2 * inv2;
        let mut four = [inv, inv2, inv2 * inv, inv4];
        for sums in self.powers.chunks_exact_mut(4) {
            for (sum, power) in sums.iter_mut().zip(&four) {
                *sum += power;
            }
            four = four.map(|p| p * inv4);
        }
    }

    /// Σ ln(x m + γ), Σ 1/(x m + γ) and Σ 1/(x m + γ)² at γ = γ0 + δ.
    fn at(&self, delta: f64) -> (f64, f64, f64) {
        let p = &self.powers;
        let (mut sum_ln, mut sum_inv, mut sum_inv2) = (self.ln, 0.0, 0.0);
        // (-δ)^k for k = 0, 1, ...
        let mut step = 1.0;
        for k in 0..=SERIES {
            sum_inv += step * p[k];
            sum_inv2 += (k + 1) as f64 * step * p[k + 1];
            if k > 0 {
                sum_ln -= step * p[k - 1] / k as f64;
            }
            step *= -delta;
        }
        (sum_ln, sum_inv, sum_inv2)
    }
}

/// Adds one part's buyers to the moments at `center`.
fn add_moments(part: &Part, center: f64, table: &mut [Moments]) {
    for (&slot, &xm) in part.slots.iter().zip(&part.xm) {
        table[slot as usize].add_buyer(xm + center);
    }
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
