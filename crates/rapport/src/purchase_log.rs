//! A purchase log read from a file or the store, with the business's customer ids mapped to the
//! dense indices the models want; large files are parsed in two halves on two threads.

use std::hash::BuildHasher;
use std::io::{BufRead, Read, Seek, SeekFrom};

use rapport_models::Purchase;

use crate::domain::state::day_of;
use crate::import::{Delimiter, FileOptions, ImportError, TransactionColumns, TransactionReader, open};

/// A purchase log with customers mapped to dense indices, as the models want them.
#[derive(Debug, Clone, Default)]
pub struct PurchaseLog {
    /// The business's id of each customer index.
    customers: Vec<CompactId>,
    /// Every purchase: customer index, UTC day number, amount.
    pub purchases: Vec<Purchase>,
}

impl PurchaseLog {
    /// Adds a purchase for a customer named by the business's id.
    pub fn push(&mut self, index: &mut CustomerIndex, customer: &str, day: i64, amount: f64) {
        let id = index.index_of(&mut self.customers, CompactId::new(customer));
        self.purchases.push(Purchase {
            customer: id,
            day: day as i32,
            amount,
        });
    }

    /// The business's id of the customer with this index.
    pub fn customer(&self, index: u32) -> String {
        self.customers[index as usize].to_string()
    }

    /// Number of distinct customers.
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Reads a transactions file the way `rapport import` does; any bad row is an error.
    ///
    /// A large file is read in two halves on two threads, split at a line boundary, and the
    /// halves' customers merged; errors still name the file's own line numbers.
    pub fn read(options: &FileOptions, columns: &TransactionColumns) -> Result<Self, ImportError> {
        let size = std::fs::metadata(&options.path).map_or(0, |m| m.len());
        let split = if size >= PARALLEL_FROM_BYTES {
            split_point(options, size)?
        } else {
            None
        };
        let (mut log, mut index, _) = match split {
            None => read_part(TransactionReader::open(options, columns)?, size)?,
            Some((offset, line)) => {
                let io = |source| ImportError::Io {
                    path: options.path.display().to_string(),
                    source,
                };
                let head = TransactionReader::new(open(&options.path)?.take(offset), options, columns)?;
                let mut rest_file = open(&options.path)?;
                rest_file.seek(SeekFrom::Start(offset)).map_err(io)?;
                let rest = TransactionReader::continuation(rest_file, &head, line, options);
                let (first, second) = std::thread::scope(|scope| {
                    let second = scope.spawn(|| read_part(rest, size - offset));
                    (read_part(head, offset), second.join())
                });
                let (mut log, mut index, rows) = first?;
                let second = second.map_err(|_| ImportError::Usage("the second reading thread failed".into()))?;
                let (part, _, _) = second.map_err(|e| renumber(e, rows))?;
                log.absorb(&mut index, part);
                (log, index, 0)
            }
        };
        // Growth by doubling leaves up to half of each vector unused; the models need it back.
        index.table = hashbrown::HashTable::new();
        log.purchases.shrink_to_fit();
        log.customers.shrink_to_fit();
        Ok(log)
    }

    /// Appends another log's purchases, mapping its customers onto this log's.
    fn absorb(&mut self, index: &mut CustomerIndex, other: PurchaseLog) {
        let remap: Vec<u32> = other
            .customers
            .into_iter()
            .map(|id| index.index_of(&mut self.customers, id))
            .collect();
        self.purchases.extend(other.purchases.into_iter().map(|p| Purchase {
            customer: remap[p.customer as usize],
            ..p
        }));
    }
}

/// Files from this size on are read on two threads.
const PARALLEL_FROM_BYTES: u64 = 8 << 20;

/// Reads every purchase of one reader: the log, its customer index and the number of rows.
fn read_part<R: Read>(
    mut reader: TransactionReader<R>,
    bytes: u64,
) -> Result<(PurchaseLog, CustomerIndex, u64), ImportError> {
    let mut log = PurchaseLog::default();
    // Sized from the bytes (rows run about 20 bytes at the least) so the vector never doubles.
    log.purchases.reserve((bytes / 20) as usize);
    let mut index = CustomerIndex::default();
    let mut rows = 0;
    while let Some((customer, at, amount)) = reader.next_purchase()? {
        log.push(&mut index, customer, day_of(at), amount.as_f64());
        rows += 1;
    }
    Ok((log, index, rows))
}

/// Where the second half starts (the first line after the middle) and its line number; `None`
/// when the middle falls inside a quoted field or `--skip-lines` applies, so one thread reads all.
fn split_point(options: &FileOptions, size: u64) -> Result<Option<(u64, u64)>, ImportError> {
    if options.skip_lines > 0 {
        return Ok(None);
    }
    let io = |source| ImportError::Io {
        path: options.path.display().to_string(),
        source,
    };
    let mut file = std::io::BufReader::with_capacity(1 << 20, open(&options.path)?);
    let (mut offset, mut newlines, mut quotes) = (0u64, 0u64, 0u64);
    loop {
        let chunk = file.fill_buf().map_err(io)?;
        if chunk.is_empty() {
            return Ok(None);
        }
        let past_middle = (size / 2).saturating_sub(offset) as usize;
        let end = match chunk
            .iter()
            .skip(past_middle.min(chunk.len()))
            .position(|b| *b == b'\n')
        {
            Some(i) if past_middle <= chunk.len() => past_middle + i + 1,
            _ => chunk.len(),
        };
        newlines += chunk[..end].iter().filter(|b| **b == b'\n').count() as u64;
        quotes += chunk[..end].iter().filter(|b| **b == b'"').count() as u64;
        offset += end as u64;
        let done = end < chunk.len() || (past_middle <= chunk.len() && chunk[end - 1] == b'\n');
        file.consume(end);
        if done {
            let inside_quotes = matches!(options.delimiter, Delimiter::Byte(_)) && quotes % 2 == 1;
            return Ok((!inside_quotes && offset < size).then_some((offset, newlines + 1)));
        }
    }
}

/// An error of the second half, with data rows counted from the file's start.
fn renumber(error: ImportError, rows_before: u64) -> ImportError {
    match error {
        ImportError::Row(mut row) => {
            row.row += rows_before;
            ImportError::Row(row)
        }
        other => other,
    }
}

/// The business's customer ids to the models' dense indices.
///
/// The table holds only the 4-byte indices; the ids themselves live once, in the log's customer
/// list, and are compared there. A fast non-cryptographic hash: the keys come from the business's
/// own file, and a million lookups must not take a second.
#[derive(Default)]
pub struct CustomerIndex {
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl CustomerIndex {
    /// The index of `id` in `customers`, appending it there when it is new.
    pub fn index_of(&mut self, customers: &mut Vec<CompactId>, id: CompactId) -> u32 {
        let hash = self.hasher.hash_one(&id);
        if let Some(found) = self.table.find(hash, |&i| customers[i as usize] == id) {
            return *found;
        }
        let index = customers.len() as u32;
        customers.push(id);
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, index, |&i| hasher.hash_one(&customers[i as usize]));
        index
    }
}

/// A customer id stored in place when it fits in 15 bytes (nearly every shop's ids do): a million
/// of them then cost no heap allocation and a lookup no pointer chase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompactId {
    /// Up to 15 bytes, then the length in the last byte.
    Inline([u8; 16]),
    /// Anything longer.
    Heap(Box<str>),
}

impl CompactId {
    /// Packs an id.
    pub fn new(id: &str) -> Self {
        let bytes = id.as_bytes();
        if bytes.len() < 16 {
            let mut packed = [0u8; 16];
            packed[..bytes.len()].copy_from_slice(bytes);
            packed[15] = bytes.len() as u8;
            CompactId::Inline(packed)
        } else {
            CompactId::Heap(id.into())
        }
    }
}

impl std::fmt::Display for CompactId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompactId::Inline(packed) => {
                // Built from a `&str` cut at a byte count that was its whole length: valid UTF-8.
                f.write_str(std::str::from_utf8(&packed[..usize::from(packed[15])]).unwrap_or_default())
            }
            CompactId::Heap(id) => f.write_str(id),
        }
    }
}
