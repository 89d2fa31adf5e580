//! Summaries of a log in which each customer's days come in order, whatever the order of the
//! customers (a log sorted by date, as logs are written): one running summary per customer, no
//! grouping of the rows by customer.
//!
//! The rows are first split, keeping their order, into blocks of customers whose running
//! summaries fit in a core's cache; the blocks are then summarised on the machine's cores.

use crate::parallel::map_reduce;
use crate::summary::{CustomerSummary, DayWalk, Purchase, SummaryOptions};

/// Customers per block: 2^13 running summaries of 48 bytes, 384 KiB.
const BLOCK_BITS: u32 = 13;

/// The summaries, sorted by customer index; `None` (having done part of the work) when some
/// customer's days are not in order or the indices are too sparse for a table of them.
pub(crate) fn summarize_in_order(purchases: &[Purchase], options: &SummaryOptions) -> Option<Vec<CustomerSummary>> {
    let (max_key, counts) = count_blocks(purchases)?;
    if max_key as usize > 4 * purchases.len() + 1024 {
        return None;
    }
    let (rows, starts) = split_into_blocks(purchases, counts);
    let blocks: Vec<(u32, &[Purchase])> = starts
        .windows(2)
        .enumerate()
        .map(|(block, w)| ((block as u32) << BLOCK_BITS, &rows[w[0]..w[1]]))
        .collect();
    let work = |part: &[(u32, &[Purchase])]| summarize_blocks(part, options).map(|s| vec![s]);
    let merge = |a: Option<Vec<Vec<CustomerSummary>>>, b: Option<Vec<Vec<CustomerSummary>>>| {
        let (mut a, b) = (a?, b?);
        a.extend(b);
        Some(a)
    };
    let parts = map_reduce(&blocks, |b| b.1.len(), work, merge)?;
    // The reordered copy of the log goes before the parts are joined: peak memory.
    drop(blocks);
    drop(rows);
    let mut parts = parts.into_iter();
    let mut out = parts.next().unwrap_or_default();
    parts.for_each(|part| out.extend(part));
    Some(out)
}

/// The largest customer index and, after a 0, the number of rows of each block (one pass).
fn count_blocks(purchases: &[Purchase]) -> Option<(u32, Vec<usize>)> {
    let mut counts = vec![0usize];
    let mut max_key = None;
    for p in purchases {
        let slot = (p.customer >> BLOCK_BITS) as usize + 1;
        if slot >= counts.len() {
            counts.resize(slot + 1, 0);
        }
        counts[slot] += 1;
        max_key = max_key.max(Some(p.customer));
    }
    Some((max_key?, counts))
}

/// The rows stably reordered by block of customer index, and where each block starts (from
/// [`count_blocks`]' counts).
fn split_into_blocks(purchases: &[Purchase], mut starts: Vec<usize>) -> (Vec<Purchase>, Vec<usize>) {
    for k in 1..starts.len() {
        starts[k] += starts[k - 1];
    }
    let mut next = starts.clone();
    let blank = Purchase {
        customer: 0,
        day: 0,
        amount: 0.0,
    };
    let mut rows = vec![blank; purchases.len()];
    for p in purchases {
        let slot = &mut next[(p.customer >> BLOCK_BITS) as usize];
        rows[*slot] = *p;
        *slot += 1;
    }
    (rows, starts)
}

/// A customer's summary so far.
#[derive(Clone, Default)]
struct Running {
    first: i32,
    previous: i32,
    rows: u32,
    walk: DayWalk,
}

/// Summaries of the customers of some consecutive blocks (each its first index and its rows).
fn summarize_blocks(blocks: &[(u32, &[Purchase])], options: &SummaryOptions) -> Option<Vec<CustomerSummary>> {
    let holdout_end = options.holdout_end.unwrap_or(options.calibration_end);
    let mut running = vec![Running::default(); 1 << BLOCK_BITS];
    let most = blocks.iter().map(|(_, rows)| rows.len().min(1 << BLOCK_BITS)).sum();
    let mut out = Vec::with_capacity(most);
    for &(base, rows) in blocks {
        running.fill(Running::default());
        for p in rows {
            let r = &mut running[(p.customer - base) as usize];
            if r.rows == 0 {
                (r.first, r.walk.last) = (p.day, p.day);
            } else if p.day < r.previous {
                return None;
            }
            let same_day = r.rows > 0 && r.previous == p.day;
            (r.previous, r.rows) = (p.day, r.rows + 1);
            let first = r.first;
            r.walk
                .add(p.day, p.amount, same_day, first, options.calibration_end, holdout_end);
        }
        let summaries = running
            .iter()
            .enumerate()
            .filter(|(_, r)| r.rows > 0 && r.first <= options.calibration_end)
            .map(|(i, r)| r.walk.summary(base + i as u32, r.first, options));
        out.extend(summaries);
    }
    Some(out)
}
