//! One part of a file read into purchases whose customers are keys, and the parts joined into a
//! log with dense customer indices.
//!
//! A key is the id's own value when the id is a plain number, so reading a part touches no
//! table for such ids; other ids are numbered within the part. Joining then gives the dense
//! indices in one tight pass over the file's rows in order.

use std::io::{Read, Seek, SeekFrom};

use rapport_models::Purchase;

use super::ids::{CompactId, CustomerIndex, KEYED_NUMBERS, TextIndex};
use super::scan::{self, Fields, Stop};
use super::{PurchaseLog, io_error, renumber};
use crate::domain::Money;
use crate::domain::state::day_of;
use crate::import::{DateParser, FileOptions, ImportError, TransactionReader};

/// Bytes `start..end` of a file.
pub struct Part<'a> {
    /// How the file is laid out.
    pub options: &'a FileOptions,
    /// The columns, for the fast path; `None` sends every row to the general reader.
    pub fields: Option<Fields>,
    /// First byte.
    pub start: u64,
    /// End of the part (exclusive).
    pub end: u64,
    /// The index the parts will be joined with, which says which ids are plain numbers.
    pub index: &'a CustomerIndex,
}

/// The purchases of one part, keyed as the module says, and its number of data rows.
pub struct PartLog {
    /// `customer` is a plain number below [`KEYED_NUMBERS`], or that plus an index into `texts`.
    purchases: Vec<Purchase>,
    texts: Vec<CompactId>,
    text_index: TextIndex,
    /// The local index of the last hashed id: a file grouped by customer repeats it row after row.
    last_text: Option<u32>,
    /// The largest plain number seen, plus one.
    numbers_end: u32,
    /// Data rows read.
    pub rows: u64,
    /// The line number at the part's end, when the fast path read to it (it counts lines).
    pub end_line: Option<u64>,
}

impl Part<'_> {
    /// Reads every purchase of the part, whose first line has number `line`: the first through
    /// `reader` (which knows about headers), then plain lines by the fast path, and from the first
    /// other line on by a general reader.
    pub fn read<R: Read>(self, mut reader: TransactionReader<R>, line: u64) -> Result<PartLog, ImportError> {
        let mut out = PartLog {
            // Sized from the bytes (rows run about 20 bytes at the least) so it never doubles.
            purchases: Vec::with_capacity(((self.end - self.start) / 20) as usize),
            texts: Vec::new(),
            text_index: TextIndex::default(),
            last_text: None,
            numbers_end: 0,
            rows: 0,
            end_line: None,
        };
        let Some(fields) = self.fields else {
            out.drain(&mut reader, self.index)?;
            return Ok(out);
        };
        if !out.next(&mut reader, self.index)? {
            return Ok(out);
        }
        let io = |e| io_error(self.options, e);
        let from = self.start + reader.bytes();
        let line = line + self.newlines(from).map_err(io)?;
        let mut dates = DateParser::new(self.options.date_format.clone(), self.options.time_zone);
        let source = self.source(from).map_err(io)?;
        let stop = scan::scan(source, &fields, (from, line), &mut dates, |(customer, at, amount)| {
            out.push(self.index, customer, at, amount);
        })
        .map_err(io)?;
        match stop {
            Stop::End(line) => out.end_line = Some(line),
            Stop::Handover(offset, line) => {
                let source = self.source(offset).map_err(io)?;
                let mut rest = TransactionReader::continuation(source, &reader, line, self.options);
                let before = out.rows;
                out.drain(&mut rest, self.index).map_err(|e| renumber(e, before, 0))?;
            }
        }
        Ok(out)
    }

    /// The part's bytes from `offset` to its end.
    pub fn source(&self, offset: u64) -> std::io::Result<std::io::Take<std::fs::File>> {
        let mut file = std::fs::File::open(&self.options.path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(file.take(self.end - offset))
    }

    /// Newlines between the part's start and `to` (a header and a row or two).
    fn newlines(&self, to: u64) -> std::io::Result<u64> {
        let mut bytes = Vec::new();
        self.source(self.start)?.take(to - self.start).read_to_end(&mut bytes)?;
        Ok(bytes.iter().filter(|b| **b == b'\n').count() as u64)
    }
}

impl PartLog {
    fn push(&mut self, index: &CustomerIndex, customer: &str, at: i64, amount: Money) {
        let key = match index.number_of(customer.as_bytes()) {
            Some(n) => {
                self.numbers_end = self.numbers_end.max(n + 1);
                n
            }
            None => match self.last_text {
                Some(last) if self.texts[last as usize].as_str() == customer => KEYED_NUMBERS + last,
                _ => {
                    let local = self.text_index.index_of(&mut self.texts, customer);
                    self.last_text = Some(local);
                    KEYED_NUMBERS + local
                }
            },
        };
        self.purchases.push(Purchase {
            customer: key,
            day: day_of(at) as i32,
            amount: amount.as_f64(),
        });
        self.rows += 1;
    }

    /// Reads one purchase with the general reader; `false` at the end.
    fn next<R: Read>(&mut self, reader: &mut TransactionReader<R>, index: &CustomerIndex) -> Result<bool, ImportError> {
        match reader.next_purchase()? {
            Some((customer, at, amount)) => {
                self.push(index, customer, at, amount);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Reads every remaining purchase with the general reader.
    fn drain<R: Read>(&mut self, reader: &mut TransactionReader<R>, index: &CustomerIndex) -> Result<(), ImportError> {
        while self.next(reader, index)? {}
        Ok(())
    }
}

/// The parts' purchases in file order, their customers given dense indices in order of first
/// sight (so the result does not depend on where the file was split).
pub fn join(parts: Vec<PartLog>, mut index: CustomerIndex) -> PurchaseLog {
    let mut log = PurchaseLog::default();
    index.reserve_numbers(parts.iter().map(|p| p.numbers_end).max().unwrap_or(0));
    let (last, mut texts_only) = (parts.len().saturating_sub(1), true);
    for (n, mut part) in parts.into_iter().enumerate() {
        texts_only &= part.numbers_end == 0;
        if texts_only && n == last && n > 0 {
            join_last_texts(&mut log, part, &index);
            continue;
        }
        if log.customers.is_empty() && part.numbers_end == 0 {
            // Only hashed ids, numbered in order of first sight: the part's numbering is the log's.
            log.customers = std::mem::take(&mut part.texts);
            index.adopt(std::mem::take(&mut part.text_index));
            for p in &mut part.purchases {
                p.customer -= KEYED_NUMBERS;
            }
            log.purchases = part.purchases;
            continue;
        }
        let mut texts = vec![u32::MAX; part.texts.len()];
        let mut purchases = part.purchases;
        // The table is read at random: a first pass over each chunk's keys has their entries
        // fetched together, where the pass that assigns indices would wait for each in turn.
        for chunk in purchases.chunks_mut(512) {
            index.warm(chunk.iter().map(|p| p.customer));
            for p in chunk {
                p.customer = match p.customer.checked_sub(KEYED_NUMBERS) {
                    None => index.number(&mut log.customers, p.customer),
                    Some(local) => {
                        let slot = &mut texts[local as usize];
                        if *slot == u32::MAX {
                            *slot = index.index_of(&mut log.customers, part.texts[local as usize].as_str());
                        }
                        *slot
                    }
                };
            }
        }
        if log.purchases.is_empty() {
            log.purchases = purchases;
        } else {
            log.purchases.extend(purchases);
        }
    }
    // Growth by doubling leaves up to half of each vector unused; the models need it back.
    log.purchases.shrink_to_fit();
    log.customers.shrink_to_fit();
    log
}

/// Joins the last part when every id so far is hashed text. The part's ids are looked up in the
/// table on every core without changing it (nothing is read after the last part); an id not found
/// is new, and the part numbered its ids in their order of first sight already.
fn join_last_texts(log: &mut PurchaseLog, part: PartLog, index: &CustomerIndex) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = part.texts.len().div_ceil(cores).max(1);
    let customers = &log.customers;
    let found: Vec<Vec<Option<u32>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = part
            .texts
            .chunks(share)
            .map(|ids| scope.spawn(move || ids.iter().map(|id| index.find_text(customers, id.as_str())).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a lookup thread panicked"))
            .collect()
    });
    let mut dense = Vec::with_capacity(part.texts.len());
    for (id, found) in part.texts.into_iter().zip(found.into_iter().flatten()) {
        dense.push(found.unwrap_or_else(|| {
            log.customers.push(id);
            log.customers.len() as u32 - 1
        }));
    }
    let start = log.purchases.len();
    log.purchases.extend(part.purchases);
    for p in &mut log.purchases[start..] {
        p.customer = dense[(p.customer - KEYED_NUMBERS) as usize];
    }
}
