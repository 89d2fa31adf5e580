//! A purchase log read from a file or the store, with the business's customer ids mapped to the
//! dense indices the models want; large files are parsed in two halves on two threads, plain lines
//! straight from the bytes.

use std::io::{BufRead, Read, Seek, SeekFrom};

use rapport_models::Purchase;

use crate::import::{Delimiter, FileOptions, ImportError, TransactionColumns, TransactionReader, open};

mod ids;
mod part;
mod scan;

pub use ids::{CompactId, CustomerIndex};
use part::{Part, join};

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
        let id = index.index_of(&mut self.customers, customer);
        self.purchases.push(Purchase {
            customer: id,
            day: day as i32,
            amount,
        });
    }

    /// A log of `purchases` whose customer indices point into `customers`.
    pub fn from_parts(customers: Vec<CompactId>, purchases: Vec<Purchase>) -> Self {
        debug_assert!(purchases.iter().all(|p| (p.customer as usize) < customers.len()));
        Self { customers, purchases }
    }

    /// The business's id of the customer with this index.
    pub fn customer(&self, index: u32) -> String {
        self.customers[index as usize].to_string()
    }

    /// The business's id of the customer with this index, borrowed.
    pub fn customer_id(&self, index: u32) -> &str {
        self.customers[index as usize].as_str()
    }

    /// Number of distinct customers.
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Reads a transactions file the way `rapport import` does; any bad row is an error.
    ///
    /// A large file is read in two halves on two threads, split at a line boundary; customers
    /// get their dense indices in order of first sight in the file, and errors name the file's
    /// own line numbers. Plain lines are parsed straight from the bytes (`scan`), any other line
    /// and the rest of its part by the general reader.
    pub fn read(options: &FileOptions, columns: &TransactionColumns) -> Result<Self, ImportError> {
        let size = std::fs::metadata(&options.path).map_or(0, |m| m.len());
        let middle = if size >= PARALLEL_FROM_BYTES && options.skip_lines == 0 {
            line_after_middle(options, size)?
        } else {
            None
        };
        let fields = scan::Fields::of(options, columns)?;
        let index = CustomerIndex::for_file(size);
        let part = |start, end| Part {
            options,
            fields,
            start,
            end,
            index: &index,
        };
        let head_end = middle.unwrap_or(size);
        let head = TransactionReader::new(open(&options.path)?.take(head_end), options, columns)?;
        let Some(offset) = middle else {
            let whole = part(0, size).read(head, 1)?;
            return Ok(join(vec![whole], index));
        };
        // The second half counts lines from 1 until the first half knows where it ends.
        let rest_file = part(offset, size).source(offset).map_err(|e| io_error(options, e))?;
        let rest = TransactionReader::continuation(rest_file, &head, 1, options);
        let (first, second) = std::thread::scope(|scope| {
            let second = scope.spawn(|| part(offset, size).read(rest, 1));
            (part(0, offset).read(head, 1), second.join())
        });
        let lines_before = match first.as_ref().ok().and_then(|f| f.end_line) {
            Some(line) => line - 1,
            None => {
                let (newlines, quotes) = newlines_and_quotes(options, offset)?;
                if matches!(options.delimiter, Delimiter::Byte(_)) && quotes % 2 == 1 {
                    // The middle fell inside a quoted field: one thread reads it all.
                    let whole = TransactionReader::new(open(&options.path)?, options, columns)?;
                    return Ok(join(vec![part(0, size).read(whole, 1)?], CustomerIndex::for_file(size)));
                }
                newlines
            }
        };
        let first = first?;
        let second = second.map_err(|_| ImportError::Usage("the second reading thread failed".into()))?;
        let second = second.map_err(|e| renumber(e, first.rows, lines_before))?;
        Ok(join(vec![first, second], index))
    }
}

/// Files from this size on are read on two threads.
const PARALLEL_FROM_BYTES: u64 = 8 << 20;

/// Where the line after the middle of the file starts, if it does within 1 MiB of the middle.
fn line_after_middle(options: &FileOptions, size: u64) -> Result<Option<u64>, ImportError> {
    let io = |e| io_error(options, e);
    let mut file = open(&options.path)?;
    file.seek(SeekFrom::Start(size / 2)).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(1 << 20).read_to_end(&mut bytes).map_err(io)?;
    let newline = bytes.iter().position(|b| *b == b'\n');
    Ok(newline.map(|i| size / 2 + i as u64 + 1).filter(|offset| *offset < size))
}

/// Newlines and double quotes in the first `to` bytes of the file.
fn newlines_and_quotes(options: &FileOptions, to: u64) -> Result<(u64, u64), ImportError> {
    let mut file = std::io::BufReader::with_capacity(1 << 20, open(&options.path)?.take(to));
    let (mut newlines, mut quotes) = (0, 0);
    loop {
        let chunk = file.fill_buf().map_err(|e| io_error(options, e))?;
        if chunk.is_empty() {
            return Ok((newlines, quotes));
        }
        newlines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        quotes += chunk.iter().filter(|b| **b == b'"').count() as u64;
        let n = chunk.len();
        file.consume(n);
    }
}

/// An error of the second half, with rows and lines counted from the file's start.
fn renumber(error: ImportError, rows_before: u64, lines_before: u64) -> ImportError {
    match error {
        ImportError::Row(mut row) => {
            row.row += rows_before;
            row.line += lines_before;
            ImportError::Row(row)
        }
        other => other,
    }
}

fn io_error(options: &FileOptions, source: std::io::Error) -> ImportError {
    ImportError::Io {
        path: options.path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests;
