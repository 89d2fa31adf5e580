//! Summaries of a log in which each customer's days come in order, whatever the order of the
//! customers (a log sorted by date, as logs are written): one running summary per customer, no
//! grouping of the rows by customer.
//!
//! Each core first splits its share of the rows, keeping their order, into blocks of customers
//! whose running summaries fit in a core's cache; the blocks are then summarised on the
//! machine's cores, each block reading its pieces share by share.

use crate::parallel::map_reduce;
use crate::summary::{CustomerSummary, DayWalk, Purchase, SummaryOptions};

/// Customers per block: 2^13 running summaries of 48 bytes, 384 KiB.
const BLOCK_BITS: u32 = 13;

/// The summaries, sorted by customer index; `None` (having done part of the work) when some
/// customer's days are not in order or the indices are too sparse for a table of them.
pub(crate) fn summarize_in_order(purchases: &[Purchase], options: &SummaryOptions) -> Option<Vec<CustomerSummary>> {
    // Each core splits its share of the rows into blocks, keeping their order; a block's rows are
    // then its pieces from the first share to the last, still in the log's order.
    let split = |rows: &[Purchase]| vec![SplitRows::new(rows)];
    let shares = map_reduce(
        purchases,
        |_| 1,
        split,
        |mut a, b| {
            a.extend(b);
            a
        },
    );
    let max_key = shares.iter().filter_map(|s| s.max_key).max()?;
    if max_key as usize > 4 * purchases.len() + 1024 {
        return None;
    }
    let count = shares.iter().map(|s| s.starts.len() - 1).max().unwrap_or(0);
    let blocks: Vec<Block> = (0..count)
        .map(|block| Block {
            base: (block as u32) << BLOCK_BITS,
            pieces: shares.iter().filter_map(|s| s.block(block)).collect(),
        })
        .collect();
    let customers = max_key as usize + 1;
    let work = |part: &[Block]| {
        // Room for every customer from the part's first on: the parts' summaries are then
        // joined onto the first without moving it (room never written costs nothing).
        let room = customers - part.first().map_or(0, |b| b.base as usize);
        summarize_blocks(part, options, room).map(|s| vec![s])
    };
    let merge = |a: Option<Vec<Vec<CustomerSummary>>>, b: Option<Vec<Vec<CustomerSummary>>>| {
        let (mut a, b) = (a?, b?);
        a.extend(b);
        Some(a)
    };
    let parts = map_reduce(&blocks, Block::rows, work, merge)?;
    // The reordered copies of the log go before the parts are joined: peak memory.
    drop(blocks);
    drop(shares);
    let mut parts = parts.into_iter();
    let mut out = parts.next().unwrap_or_default();
    parts.for_each(|part| out.extend(part));
    Some(out)
}

/// Some rows of the log reordered by block of customer index, stably.
struct SplitRows {
    rows: Vec<Purchase>,
    /// Where each block starts in `rows`, then the end.
    starts: Vec<usize>,
    max_key: Option<u32>,
}

impl SplitRows {
    /// Counts the rows of each block (one pass), then places them (another).
    fn new(purchases: &[Purchase]) -> Self {
        let mut starts = vec![0usize];
        let mut max_key = None;
        for p in purchases {
            let slot = (p.customer >> BLOCK_BITS) as usize + 1;
            if slot >= starts.len() {
                starts.resize(slot + 1, 0);
            }
            starts[slot] += 1;
            max_key = max_key.max(Some(p.customer));
        }
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
        SplitRows { rows, starts, max_key }
    }

    /// The rows of one block, when there are any.
    fn block(&self, block: usize) -> Option<&[Purchase]> {
        let rows = &self.rows[*self.starts.get(block)?..*self.starts.get(block + 1)?];
        (!rows.is_empty()).then_some(rows)
    }
}

/// One block of customers: the index of its first, and its rows in the log's order, in pieces.
struct Block<'a> {
    base: u32,
    pieces: Vec<&'a [Purchase]>,
}

impl Block<'_> {
    fn rows(&self) -> usize {
        self.pieces.iter().map(|p| p.len()).sum()
    }
}

/// A customer's summary so far.
#[derive(Clone, Default)]
struct Running {
    first: i32,
    previous: i32,
    rows: u32,
    walk: DayWalk,
}

/// Summaries of the customers of some consecutive blocks, in a vector with room for `room`.
fn summarize_blocks(blocks: &[Block], options: &SummaryOptions, room: usize) -> Option<Vec<CustomerSummary>> {
    let holdout_end = options.holdout_end.unwrap_or(options.calibration_end);
    let mut running = vec![Running::default(); 1 << BLOCK_BITS];
    let mut out = Vec::with_capacity(room);
    for block in blocks {
        let base = block.base;
        running.fill(Running::default());
        for p in block.pieces.iter().copied().flatten() {
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
