//! Grouping many customers' histories into distinct weighted rows by a radix sort.
//!
//! Ages and recencies take few distinct values (calendar days or weeks), so each history
//! becomes one integer: frequency, age rank, recency rank. Sorting those integers with a
//! few counting passes puts equal histories side by side, in the order the models want.

use std::collections::HashMap;

use crate::data::{FastHash, TimeTables, WeightedHistory, validate};
use crate::fit::FitError;
use crate::summary::CustomerSummary;

/// Most bits a rank may take in the first pass; beyond it the caller groups by hashing.
const RANK_BITS: u32 = 21;
/// Bits sorted per counting pass: a 4,096-entry histogram stays in the first-level cache.
const DIGIT_BITS: u32 = 12;

/// Distinct rows sorted by frequency, age and recency with their time tables, or None
/// when the data have too many distinct times or too large a frequency for 64-bit keys.
pub(crate) type Grouped = Option<(Vec<WeightedHistory>, TimeTables)>;

/// Groups the calibration histories of `customers`, each of weight 1.
pub(crate) fn group(customers: &[CustomerSummary]) -> Result<Grouped, FitError> {
    let (mut ages, mut recencies) = (Ranks::default(), Ranks::default());
    let mut keys = Vec::with_capacity(customers.len());
    let mut max_x = 0;
    for (row, c) in customers.iter().enumerate() {
        let history = c.history();
        validate(row, &history, 1.0)?;
        let (a, r) = (ages.rank(history.age), recencies.rank(history.recency));
        if a >> RANK_BITS != 0 || r >> RANK_BITS != 0 || c.frequency >> (64 - 2 * RANK_BITS) != 0 {
            return Ok(None);
        }
        max_x = max_x.max(c.frequency);
        keys.push(u64::from(c.frequency) << (2 * RANK_BITS) | u64::from(a) << RANK_BITS | u64::from(r));
    }
    // Re-pack with ranks in increasing order of time, in as few bits as they need.
    let (age_values, age_order) = ages.sorted();
    let (recency_values, recency_order) = recencies.sorted();
    let (age_bits, recency_bits) = (bits(age_values.len()), bits(recency_values.len()));
    let mask = (1u64 << RANK_BITS) - 1;
    for key in &mut keys {
        let (x, a, r) = (*key >> (2 * RANK_BITS), (*key >> RANK_BITS) & mask, *key & mask);
        let (a, r) = (u64::from(age_order[a as usize]), u64::from(recency_order[r as usize]));
        *key = x << (age_bits + recency_bits) | a << recency_bits | r;
    }
    radix_sort(&mut keys, bits(max_x as usize + 1) + age_bits + recency_bits);
    let (mut rows, mut index) = (Vec::new(), Vec::new());
    for run in keys.chunk_by(|a, b| a == b) {
        let key = run[0];
        let a = (key >> recency_bits) & ((1 << age_bits) - 1);
        let r = key & ((1 << recency_bits) - 1);
        let history = crate::summary::History {
            frequency: (key >> (age_bits + recency_bits)) as u32,
            recency: recency_values[r as usize],
            age: age_values[a as usize],
        };
        rows.push(WeightedHistory {
            history,
            weight: run.len() as f64,
        });
        index.push((a as u32, r as u32));
    }
    let times = TimeTables {
        ages: age_values,
        recencies: recency_values,
        index,
    };
    Ok(Some((rows, times)))
}

/// Distinct values in order of first appearance, with a rank for each.
struct Ranks {
    index: HashMap<u64, u32, FastHash>,
    values: Vec<f64>,
    /// The last value (as bits) seen in each of a few slots, with its rank: times take a few
    /// hundred values, so nearly every lookup ends here, in the first-level cache.
    recent: Box<[(u64, u32); RECENT_SLOTS]>,
}

/// Slots of [`Ranks::recent`].
const RECENT_SLOTS: usize = 1 << 10;

impl Default for Ranks {
    fn default() -> Self {
        Ranks {
            index: HashMap::default(),
            values: Vec::new(),
            // NaN bits: no valid time has them.
            recent: Box::new([(u64::MAX, 0); RECENT_SLOTS]),
        }
    }
}

impl Ranks {
    fn rank(&mut self, value: f64) -> u32 {
        // Adding 0.0 turns -0.0 into 0.0, so equal times share a rank.
        let value = value + 0.0;
        let bits = value.to_bits();
        let slot = (bits ^ (bits >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT_SLOTS.trailing_zeros());
        let recent = &mut self.recent[slot as usize];
        if recent.0 == bits {
            return recent.1;
        }
        let next = self.values.len() as u32;
        let rank = *self.index.entry(bits).or_insert(next);
        if rank == next {
            self.values.push(value);
        }
        *recent = (bits, rank);
        rank
    }

    /// The values in increasing order, and for each first-appearance rank its sorted rank.
    fn sorted(self) -> (Vec<f64>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.values.len() as u32).collect();
        order.sort_unstable_by(|&i, &j| self.values[i as usize].total_cmp(&self.values[j as usize]));
        let mut position = vec![0; order.len()];
        for (sorted, &original) in order.iter().enumerate() {
            position[original as usize] = sorted as u32;
        }
        (order.iter().map(|&i| self.values[i as usize]).collect(), position)
    }
}

/// Bits needed to write every number below `count`.
fn bits(count: usize) -> u32 {
    usize::BITS - count.saturating_sub(1).leading_zeros()
}

/// Sorts keys below 2^`bits` by least-significant-digit counting passes.
fn radix_sort(keys: &mut Vec<u64>, bits: u32) {
    let passes = bits.div_ceil(DIGIT_BITS);
    if passes == 0 {
        return;
    }
    let width = bits.div_ceil(passes);
    let mask = (1u64 << width) - 1;
    let mut buffer = vec![0u64; keys.len()];
    for pass in 0..passes {
        let shift = pass * width;
        let mut starts = vec![0usize; 1 << width];
        for key in keys.iter() {
            starts[((key >> shift) & mask) as usize] += 1;
        }
        let mut total = 0;
        for slot in starts.iter_mut() {
            (*slot, total) = (total, total + *slot);
        }
        for &key in keys.iter() {
            let slot = &mut starts[((key >> shift) & mask) as usize];
            buffer[*slot] = key;
            *slot += 1;
        }
        std::mem::swap(keys, &mut buffer);
    }
}
