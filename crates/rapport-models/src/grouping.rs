//! Grouping many customers' histories into distinct weighted rows by a radix sort.
//!
//! Ages and recencies take few distinct values (calendar days or weeks), so each history
//! becomes one integer: frequency, age rank, recency rank. Sorting those integers with a
//! few counting passes puts equal histories side by side, in the order the models want.

use std::collections::HashMap;

use crate::data::{FastHash, TimeTables, WeightedHistory, validate};
use crate::fit::FitError;
use crate::parallel::{each_mut, map_reduce};
use crate::summary::CustomerSummary;

/// Most bits a rank may take in the first pass; beyond it the caller groups by hashing.
const RANK_BITS: u32 = 21;
/// Bits sorted per counting pass: a 4,096-entry histogram stays in the first-level cache.
const DIGIT_BITS: u32 = 12;

/// Distinct rows sorted by frequency, age and recency with their time tables, or None
/// when the data have too many distinct times or too large a frequency for 64-bit keys.
pub(crate) type Grouped = Option<(Vec<WeightedHistory>, TimeTables)>;

/// Groups the calibration histories of `customers`, each of weight 1.
///
/// Each part of the customers is keyed on a core of its own, ranking its own times. Customers who
/// never came back (frequency and recency 0, usually most of them) are only counted per age; the
/// others' keys are compacted. The ranks are then put in the order of all parts' times together,
/// each part sorts its keys on its core, and one merge of the sorted parts and the counts gives
/// the rows: those of one pass in order. Anything unusual (an invalid history, too many distinct
/// times) is left to that one pass, which reports it as it always has.
pub(crate) fn group(customers: &[CustomerSummary]) -> Result<Grouped, FitError> {
    let merge = |a: Option<Vec<PartRanks>>, b: Option<Vec<PartRanks>>| {
        let (mut a, b) = (a?, b?);
        a.extend(b);
        Some(a)
    };
    let keyed = map_reduce(customers, |_| 1, |part| key_part(part).map(|p| vec![p]), merge);
    let Some(mut parts) = keyed else {
        return group_in_order(customers);
    };
    let (age_values, age_orders) = merge_ranks(parts.iter().map(|p| &p.ages));
    let (recency_values, recency_orders) = merge_ranks(parts.iter().map(|p| &p.recencies));
    let max_x = parts.iter().map(|p| p.max_x).max().unwrap_or(0);
    let (age_bits, recency_bits) = (bits(age_values.len()), bits(recency_values.len()));
    let key_bits = bits(max_x as usize + 1) + age_bits + recency_bits;
    let mut jobs: Vec<_> = parts.iter_mut().zip(&age_orders).zip(&recency_orders).collect();
    each_mut(&mut jobs, |((part, age_order), recency_order)| {
        repack(&mut part.keys, age_order, recency_order, age_bits, recency_bits);
        radix_sort(&mut part.keys, key_bits);
    });
    // Those who never came back, as keys of frequency 0 with their count, in age order.
    let mut never_back = vec![0u64; age_values.len()];
    for (part, age_order) in parts.iter().zip(&age_orders) {
        for (rank, &count) in part.never_back.iter().enumerate() {
            never_back[age_order[rank] as usize] += u64::from(count);
        }
    }
    // Their recency 0 was ranked with the others (times are not negative): the first rank.
    let zero_recency = recency_values.partition_point(|t| *t < 0.0) as u64;
    let zero_keys: Vec<(u64, u64)> = never_back
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(a, &n)| ((a as u64) << recency_bits | zero_recency, n))
        .collect();
    let sorted: Vec<&[u64]> = parts.iter().map(|p| p.keys.as_slice()).collect();
    let counted = merge_counts(&zero_keys, &sorted);
    let times = (age_values, recency_values, age_bits, recency_bits);
    Ok(Some(rows_of(counted, times)))
}

/// A part's times, each ranked in order of first appearance, its largest frequency, the keys of
/// its customers who came back, and how many never did, per age rank.
struct PartRanks {
    ages: Ranks,
    recencies: Ranks,
    max_x: u32,
    keys: Vec<u64>,
    never_back: Vec<u32>,
}

/// Keys a part of the customers with its own ranks; None when a history is invalid or a rank or
/// frequency too large.
fn key_part(customers: &[CustomerSummary]) -> Option<PartRanks> {
    let (mut ages, mut recencies) = (Ranks::default(), Ranks::default());
    let mut max_x = 0;
    // Every customer writes a key and only those who came back advance the end: about half of
    // them do, too even a split for a branch. Untouched pages past the end cost nothing.
    let mut keys = vec![0u64; customers.len()];
    let mut kept = 0;
    let mut never_back: Vec<u32> = Vec::new();
    for c in customers {
        let history = c.history();
        validate(0, &history, 1.0).ok()?;
        let (a, r) = (ages.rank(history.age), recencies.rank(history.recency));
        if a >> RANK_BITS != 0 || r >> RANK_BITS != 0 || c.frequency >> (64 - 2 * RANK_BITS) != 0 {
            return None;
        }
        max_x = max_x.max(c.frequency);
        if a as usize >= never_back.len() {
            never_back.resize(a as usize + 1, 0);
        }
        let gone = c.frequency == 0 && history.recency == 0.0;
        never_back[a as usize] += u32::from(gone);
        keys[kept] = u64::from(c.frequency) << (2 * RANK_BITS) | u64::from(a) << RANK_BITS | u64::from(r);
        kept += usize::from(!gone);
    }
    keys.truncate(kept);
    Some(PartRanks {
        ages,
        recencies,
        max_x,
        keys,
        never_back,
    })
}

/// Merges keys already counted and sorted slices of keys into one sorted list of distinct keys,
/// each with how often it occurs in all of them.
fn merge_counts(counted: &[(u64, u64)], sorted: &[&[u64]]) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(counted.len() + sorted.iter().map(|s| s.len()).max().unwrap_or(0));
    let (mut next_counted, mut next) = (0, vec![0; sorted.len()]);
    loop {
        let heads = sorted.iter().zip(&next).filter_map(|(keys, &i)| keys.get(i));
        let Some(key) = heads.chain(counted.get(next_counted).map(|c| &c.0)).copied().min() else {
            return out;
        };
        let mut count = 0;
        if let Some(&(k, n)) = counted.get(next_counted)
            && k == key
        {
            count += n;
            next_counted += 1;
        }
        for (keys, i) in sorted.iter().zip(&mut next) {
            let run = keys[*i..].iter().take_while(|k| **k == key).count();
            count += run as u64;
            *i += run;
        }
        out.push((key, count));
    }
}

/// The distinct values of all parts in increasing order and, per part, each of its ranks' sorted
/// rank among them.
fn merge_ranks<'a>(parts: impl Iterator<Item = &'a Ranks> + Clone) -> (Vec<f64>, Vec<Vec<u32>>) {
    let mut values: Vec<f64> = parts.clone().flat_map(|p| p.values.iter().copied()).collect();
    values.sort_unstable_by(f64::total_cmp);
    values.dedup_by(|a, b| a.to_bits() == b.to_bits());
    let position = |v: &f64| values.partition_point(|t| t.total_cmp(v).is_lt()) as u32;
    let orders = parts.map(|p| p.values.iter().map(position).collect()).collect();
    (values, orders)
}

/// The single-threaded grouping, in customer order: the reference the parallel one reproduces.
fn group_in_order(customers: &[CustomerSummary]) -> Result<Grouped, FitError> {
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
    repack(&mut keys, &age_order, &recency_order, age_bits, recency_bits);
    let times = (age_values, recency_values, age_bits, recency_bits);
    Ok(Some(distinct_rows(keys, max_x, times)))
}

/// Re-packs keys with ranks in increasing order of time, in as few bits as they need.
fn repack(keys: &mut [u64], age_order: &[u32], recency_order: &[u32], age_bits: u32, recency_bits: u32) {
    let mask = (1u64 << RANK_BITS) - 1;
    for key in keys {
        let (x, a, r) = (*key >> (2 * RANK_BITS), (*key >> RANK_BITS) & mask, *key & mask);
        let (a, r) = (u64::from(age_order[a as usize]), u64::from(recency_order[r as usize]));
        *key = x << (age_bits + recency_bits) | a << recency_bits | r;
    }
}

/// Sorts re-packed keys and turns each run of equal keys into a weighted row; `times` holds
/// the sorted ages and recencies and the bits their ranks take.
fn distinct_rows(
    mut keys: Vec<u64>,
    max_x: u32,
    times: (Vec<f64>, Vec<f64>, u32, u32),
) -> (Vec<WeightedHistory>, TimeTables) {
    radix_sort(&mut keys, bits(max_x as usize + 1) + times.2 + times.3);
    let counted = keys
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u64))
        .collect();
    rows_of(counted, times)
}

/// The weighted rows of distinct re-packed keys in order, each with its count.
fn rows_of(
    counted: Vec<(u64, u64)>,
    (age_values, recency_values, age_bits, recency_bits): (Vec<f64>, Vec<f64>, u32, u32),
) -> (Vec<WeightedHistory>, TimeTables) {
    let (mut rows, mut index) = (Vec::with_capacity(counted.len()), Vec::with_capacity(counted.len()));
    for (key, count) in counted {
        let a = (key >> recency_bits) & ((1 << age_bits) - 1);
        let r = key & ((1 << recency_bits) - 1);
        let history = crate::summary::History {
            frequency: (key >> (age_bits + recency_bits)) as u32,
            recency: recency_values[r as usize],
            age: age_values[a as usize],
        };
        rows.push(WeightedHistory {
            history,
            weight: count as f64,
        });
        index.push((a as u32, r as u32));
    }
    let times = TimeTables {
        ages: age_values,
        recencies: recency_values,
        index,
    };
    (rows, times)
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
