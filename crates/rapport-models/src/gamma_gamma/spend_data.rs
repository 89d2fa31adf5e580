//! The Gamma-Gamma input: repeat buyers' frequencies and average spends, gathered on all cores.

use super::moments::{Moments, add_moments};
use crate::fit::FitError;
use crate::parallel::map_reduce;
use crate::summary::CustomerSummary;

/// Repeat buyers' transaction counts and average spends, the Gamma-Gamma input.
///
/// Kept as each buyer's frequency (as a slot of [`SpendData::frequencies`]) and the product x m,
/// in parts that the machine's cores read side by side, with the sums the likelihood needs that
/// do not depend on the parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendData {
    pub(super) parts: Vec<Part>,
    /// The repeat frequency of each slot.
    pub(super) frequencies: Vec<u32>,
    /// Buyers per slot.
    pub(super) counts: Vec<u64>,
    buyers: usize,
    pub(super) sum_m: f64,
    /// Σ ln m, Σ x ln m and Σ x ln x: the parameter-free parts of the likelihood.
    pub(super) sum_ln_m: f64,
    pub(super) sum_x_ln_m: f64,
    pub(super) sum_x_ln_x: f64,
}

/// Some repeat buyers: each one's frequency slot and x m.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Part {
    pub(super) slots: Vec<u32>,
    pub(super) xm: Vec<f64>,
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
    pub(super) fn subsample(&self, stride: usize) -> Self {
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
    pub(super) fn moments_at(&self, center: f64) -> Vec<Moments> {
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
