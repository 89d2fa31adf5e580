//! The fast path of the file reader: plain lines (no quotes, valid fields) are split and parsed
//! straight from a byte buffer, with no per-row record or string. The first line it cannot take
//! is handed back, by offset and line number, to the general reader, which parses it (and every
//! line after it) as `rapport import` does, errors included.

use std::io::{ErrorKind, Read};

use crate::domain::{ExternalId, Money, rules};
use crate::import::{DateParser, Delimiter, FileOptions, ImportError, TransactionColumns, open};

/// Bytes read at a time; a line longer than this goes to the general reader.
const CHUNK: usize = 1 << 20;

/// Where the three columns the analysis needs are, and how fields are separated.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    delimiter: Delimiter,
    customer: usize,
    date: usize,
    amount: usize,
    /// No purchase may be dated later than a day after this.
    now: i64,
}

/// A purchase as the fast path found it: customer id, Unix time, amount.
pub type Found<'a> = (&'a str, i64, Money);

/// Where the fast path stopped.
pub enum Stop {
    /// At the end of its bytes, with the number the next line would have.
    End(u64),
    /// Where the general reader must take over: byte offset in the file and line number.
    Handover(u64, u64),
}

impl Fields {
    /// The columns as the file's header (or `--columns`) names them; `None` when one is missing,
    /// which the general reader has already reported.
    pub fn of(options: &FileOptions, columns: &TransactionColumns) -> Result<Option<Self>, ImportError> {
        let names: Vec<String> = match &options.columns {
            Some(names) => names.clone(),
            None => {
                let mut reader = options.record_reader(open(&options.path)?);
                let mut record = csv::ByteRecord::new();
                let io = |error| ImportError::reading(&options.path.display().to_string(), error);
                while reader.read(&mut record).map_err(io)? && reader.line() <= options.skip_lines {}
                record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                    .collect()
            }
        };
        let find = |name: &str| names.iter().position(|n| n == name);
        Ok(
            match (find(&columns.customer), find(&columns.date), find(&columns.amount)) {
                (Some(customer), Some(date), Some(amount)) => Some(Fields {
                    delimiter: options.delimiter,
                    customer,
                    date,
                    amount,
                    now: chrono::Utc::now().timestamp(),
                }),
                _ => None,
            },
        )
    }

    /// The needed fields of one line (its newline included); `Err(())` when the general reader
    /// must take it (a quote, a missing field), `Ok(None)` for a blank line.
    fn split<'a>(&self, line: &'a [u8]) -> Result<Option<[&'a [u8]; 3]>, ()> {
        // Every parser trims its field, so trailing white space (the newline too) can go first.
        let line = line.trim_ascii_end();
        if line.is_empty() {
            return Ok(None);
        }
        let mut found: [Option<&[u8]>; 3] = [None; 3];
        let mut keep = |i: usize, field: &'a [u8]| {
            for (slot, wanted) in found.iter_mut().zip([self.customer, self.date, self.amount]) {
                if i == wanted {
                    *slot = Some(field);
                }
            }
        };
        match self.delimiter {
            Delimiter::Byte(_) if line.contains(&b'"') => return Err(()),
            Delimiter::Byte(d) => line.split(|b| *b == d).enumerate().for_each(|(i, f)| keep(i, f)),
            Delimiter::Whitespace => line
                .split(u8::is_ascii_whitespace)
                .filter(|f| !f.is_empty())
                .enumerate()
                .for_each(|(i, f)| keep(i, f)),
        }
        match found {
            [Some(customer), Some(date), Some(amount)] => Ok(Some([customer, date, amount])),
            _ => Err(()),
        }
    }

    /// Parses one line's fields as the general reader would; `None` when any is invalid.
    fn parse<'a>(&self, [customer, date, amount]: [&'a [u8]; 3], dates: &mut DateParser) -> Option<Found<'a>> {
        let customer = ExternalId::check(std::str::from_utf8(customer).ok()?).ok()?;
        let at = rules::event_time(dates.parse(date)?, self.now).ok()?;
        let amount = Money::parse_purchase(std::str::from_utf8(amount).ok()?).ok()?;
        Some((customer, at, amount))
    }
}

/// Reads `source` (which starts at byte `offset`, line `line` of the file) to its end or to the
/// first line that the general reader must take, calling `push` for every purchase.
pub fn scan(
    mut source: impl Read,
    fields: &Fields,
    (mut offset, mut line): (u64, u64),
    dates: &mut DateParser,
    mut push: impl FnMut(Found<'_>),
) -> std::io::Result<Stop> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    loop {
        filled += fill(&mut source, &mut buf[filled..])?;
        let at_end = filled < CHUNK;
        let whole = if at_end {
            filled
        } else {
            match buf.iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                None => return Ok(Stop::Handover(offset, line)),
            }
        };
        let mut rest = &buf[..whole];
        while !rest.is_empty() {
            let len = rest.iter().position(|b| *b == b'\n').map_or(rest.len(), |i| i + 1);
            let parsed = match fields.split(&rest[..len]) {
                Ok(None) => None,
                Ok(Some(raw)) => Some(fields.parse(raw, dates).ok_or(())),
                Err(()) => Some(Err(())),
            };
            match parsed {
                Some(Ok(found)) => push(found),
                Some(Err(())) => return Ok(Stop::Handover(offset, line)),
                None => {}
            }
            (offset, line, rest) = (offset + len as u64, line + 1, &rest[len..]);
        }
        if at_end {
            return Ok(Stop::End(line));
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
    }
}

/// Reads until `buf` is full or the source ends; the number of bytes read.
fn fill(source: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
