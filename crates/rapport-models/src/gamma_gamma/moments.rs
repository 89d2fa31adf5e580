//! Sums over buyers of ln(x m + γ0) and of powers of 1 / (x m + γ0), from which the likelihood's
//! sums at any γ near γ0 follow by a series.

use super::spend_data::Part;

/// Terms of the series in δ = γ - γ0 evaluated from moments taken at γ0.
const SERIES: usize = 18;
/// Powers of 1 / (x m + γ0) summed: the series of Σ 1/(x m + γ)² needs two more than [`SERIES`].
const POWERS: usize = SERIES + 2;
// `Moments::add_buyer` takes the powers four at a time.
const _: () = assert!(POWERS.is_multiple_of(4));
/// Largest |γ - γ0| / γ0 evaluated from moments at γ0. Each buyer's term then shrinks by
/// at least this ratio per power (x m > 0), so after [`SERIES`] terms what is left is below
/// 8^-19 ≈ 7e-18 of the first: the series is as exact as the sums themselves.
pub(super) const RADIUS: f64 = 1.0 / 8.0;

/// For the buyers of one frequency, at some γ0: Σ ln(x m + γ0) and Σ (x m + γ0)^-k, k = 1..=POWERS.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Moments {
    ln: f64,
    powers: [f64; POWERS],
}

impl Moments {
    pub(super) fn add(&mut self, other: &Moments) {
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
    pub(super) fn at(&self, delta: f64) -> (f64, f64, f64) {
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
pub(super) fn add_moments(part: &Part, center: f64, table: &mut [Moments]) {
    for (&slot, &xm) in part.slots.iter().zip(&part.xm) {
        table[slot as usize].add_buyer(xm + center);
    }
}
