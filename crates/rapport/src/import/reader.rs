//! Delimited records with their line numbers: comma/semicolon/tab via the csv crate, or runs of white space.

use std::io::{BufRead, BufReader, Read};

use csv::ByteRecord;

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// One byte: `,`, `;` or a tab; quoted fields allowed.
    Byte(u8),
    /// Runs of spaces or tabs; leading white space ignored; no quoting.
    Whitespace,
}

impl std::str::FromStr for Delimiter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "," | "comma" => Ok(Delimiter::Byte(b',')),
            ";" | "semicolon" => Ok(Delimiter::Byte(b';')),
            "tab" | "\t" | "\\t" => Ok(Delimiter::Byte(b'\t')),
            "whitespace" | "space" => Ok(Delimiter::Whitespace),
            other => Err(format!(
                "'{other}' is not a delimiter (use ',', ';', 'tab' or 'whitespace')"
            )),
        }
    }
}

/// Whether the first row names the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// The first row is a header.
    Header,
    /// Columns named by the caller, the file has no header.
    Named(Vec<String>),
}

/// The longest a quoted field may run by default, in bytes: a stray quote then stops the read
/// near where it opened instead of swallowing the rest of the file into one field.
pub const DEFAULT_MAX_QUOTED: usize = 64 * 1024;

/// Why records could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The operating system failed to read the file.
    Io(std::io::Error),
    /// A quoted field opened on `line` and ran past `limit` bytes, or (`limit: None`) to the end
    /// of the file, without its closing quote.
    OpenQuote {
        /// Physical line where the quote opened, from 1.
        line: u64,
        /// The limit it ran past; `None` when the file ended first.
        limit: Option<usize>,
    },
}

impl From<std::io::Error> for ReadError {
    fn from(error: std::io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// Reads records one at a time, reusing its buffers, counting physical lines itself (a quoted
/// field may span lines; a record's line is the one it starts on).
pub struct RecordReader<R: Read> {
    source: BufReader<R>,
    delimiter: Delimiter,
    buf: Vec<u8>,
    field: Vec<u8>,
    line: u64,
    next_line: u64,
    bytes: u64,
    max_quoted: usize,
    /// Nothing has been read yet from the start of a file: a byte-order mark may come first.
    at_file_start: bool,
}

impl<R: Read> RecordReader<R> {
    /// A reader over `source` with the given delimiter.
    pub fn new(source: R, delimiter: Delimiter) -> Self {
        Self {
            source: BufReader::with_capacity(1 << 16, source),
            delimiter,
            buf: Vec::new(),
            field: Vec::new(),
            line: 0,
            next_line: 1,
            bytes: 0,
            max_quoted: DEFAULT_MAX_QUOTED,
            at_file_start: true,
        }
    }

    /// A reader over a part of a file that starts at physical line `line`, so errors name the file's lines.
    pub fn starting_at_line(source: R, delimiter: Delimiter, line: u64) -> Self {
        Self {
            next_line: line,
            at_file_start: false,
            ..Self::new(source, delimiter)
        }
    }

    /// Sets how many bytes a quoted field may run before the read fails.
    pub fn with_max_quoted(mut self, bytes: usize) -> Self {
        self.max_quoted = bytes;
        self
    }

    /// Reads the next non-blank record into `record`; `false` at the end of the file.
    pub fn read(&mut self, record: &mut ByteRecord) -> Result<bool, ReadError> {
        loop {
            self.buf.clear();
            self.line = self.next_line;
            if !self.read_line()? {
                return Ok(false);
            }
            if std::mem::take(&mut self.at_file_start) && self.buf.starts_with(BYTE_ORDER_MARK) {
                // Excel writes UTF-8 with a byte-order mark, which would else stick to the first column's name.
                self.buf.drain(..BYTE_ORDER_MARK.len());
            }
            if let Delimiter::Byte(d) = self.delimiter {
                self.read_quoted_lines(d)?;
            }
            record.clear();
            match self.delimiter {
                Delimiter::Whitespace => {
                    for field in self.buf.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()) {
                        record.push_field(field);
                    }
                }
                Delimiter::Byte(d) => {
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    split_quoted(trim_newline(&self.buf), d, record, &mut self.field);
                }
            }
            if !record.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Appends lines while a quoted field is open, each byte looked at once, so a long quoted
    /// field costs its length, not its length squared.
    fn read_quoted_lines(&mut self, delimiter: u8) -> Result<(), ReadError> {
        let mut quotes = QuoteScan::new(delimiter);
        let mut from = 0;
        loop {
            quotes.feed(&self.buf[from..], from);
            if !quotes.is_open() {
                return Ok(());
            }
            let line = self.line + quotes.open_line;
            if self.buf.len() - quotes.opened_at > self.max_quoted {
                let limit = Some(self.max_quoted);
                return Err(ReadError::OpenQuote { line, limit });
            }
            from = self.buf.len();
            if !self.read_line()? {
                return Err(ReadError::OpenQuote { line, limit: None });
            }
        }
    }

    /// Appends one physical line (with its terminator) to the buffer; `false` at the end.
    fn read_line(&mut self) -> std::io::Result<bool> {
        let n = self.source.read_until(b'\n', &mut self.buf)?;
        self.bytes += n as u64;
        self.next_line += 1;
        Ok(n > 0)
    }

    /// Physical line number of the last record read, from 1.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Bytes consumed so far, for progress.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Where a record's quoted fields stand as its bytes arrive: the same rules as `split_quoted`
/// (a quote opens a field only at its start; `""` inside quotes is one quote).
struct QuoteScan {
    delimiter: u8,
    quoted: bool,
    /// Inside quotes, the last byte was a quote: it closes the field unless another follows.
    closing: bool,
    field_start: bool,
    newlines: u64,
    /// Offset in the record's bytes of the open quote, and newlines before it.
    opened_at: usize,
    open_line: u64,
}

impl QuoteScan {
    fn new(delimiter: u8) -> Self {
        Self {
            delimiter,
            quoted: false,
            closing: false,
            field_start: true,
            newlines: 0,
            opened_at: 0,
            open_line: 0,
        }
    }

    fn is_open(&self) -> bool {
        self.quoted && !self.closing
    }

    /// Takes the record's next bytes, which start at offset `base` of the record.
    fn feed(&mut self, bytes: &[u8], base: usize) {
        for (i, &b) in bytes.iter().enumerate() {
            if self.quoted {
                match (self.closing, b) {
                    (true, b'"') => {
                        self.closing = false;
                        continue;
                    }
                    (true, _) => (self.quoted, self.closing) = (false, false),
                    (false, b'"') => {
                        self.closing = true;
                        continue;
                    }
                    (false, b'\n') => {
                        self.newlines += 1;
                        continue;
                    }
                    (false, _) => continue,
                }
            } else if b == b'"' && self.field_start {
                (self.quoted, self.opened_at, self.open_line) = (true, base + i, self.newlines);
                self.field_start = false;
                continue;
            }
            self.newlines += u64::from(b == b'\n');
            self.field_start = b == self.delimiter;
        }
    }
}

fn trim_newline(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

/// Splits one record on `delimiter`, honouring RFC 4180 quotes (`""` inside quotes is one quote).
fn split_quoted(line: &[u8], delimiter: u8, record: &mut ByteRecord, field: &mut Vec<u8>) {
    let mut i = 0;
    loop {
        field.clear();
        let mut quoted = false;
        while i < line.len() {
            let b = line[i];
            i += 1;
            match (quoted, b) {
                (false, b'"') if field.is_empty() => quoted = true,
                (true, b'"') if line.get(i) == Some(&b'"') => {
                    field.push(b'"');
                    i += 1;
                }
                (true, b'"') => quoted = false,
                (false, d) if d == delimiter => break,
                (_, other) => field.push(other),
            }
        }
        record.push_field(field);
        let ended_on_delimiter = i > 0 && line[i - 1] == delimiter && !quoted;
        if i >= line.len() && !ended_on_delimiter {
            return;
        }
        if i >= line.len() {
            record.push_field(b"");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, delimiter: Delimiter) -> Vec<(u64, Vec<String>)> {
        let mut reader = RecordReader::new(text.as_bytes(), delimiter);
        let mut record = ByteRecord::new();
        let mut out = Vec::new();
        while reader.read(&mut record).unwrap() {
            let fields = record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
            out.push((reader.line(), fields));
        }
        out
    }

    #[test]
    fn whitespace_runs_split_fields_and_crlf_is_ignored() {
        let rows = all(
            " 00001 19970101  1   11.77\r\n\r\n 00002 19970112  1   12.00\r\n",
            Delimiter::Whitespace,
        );
        assert_eq!(
            rows[0],
            (1, vec!["00001".into(), "19970101".into(), "1".into(), "11.77".into()])
        );
        assert_eq!(rows[1].0, 3, "blank lines still count as lines");
    }

    #[test]
    fn csv_keeps_quoted_delimiters_and_counts_lines() {
        let rows = all(
            "a;b\r\n\"x;y\";2\n\n\"multi\nline\";\"say \"\"hi\"\"\"\nc;;\n",
            Delimiter::Byte(b';'),
        );
        assert_eq!(rows[1], (2, vec!["x;y".into(), "2".into()]));
        assert_eq!(rows[2], (4, vec!["multi\nline".into(), "say \"hi\"".into()]));
        assert_eq!(rows[3], (6, vec!["c".into(), "".into(), "".into()]));
    }

    fn first_error(text: &str, max_quoted: usize) -> ReadError {
        let mut reader = RecordReader::new(text.as_bytes(), Delimiter::Byte(b',')).with_max_quoted(max_quoted);
        let mut record = ByteRecord::new();
        loop {
            match reader.read(&mut record) {
                Ok(true) => {}
                Ok(false) => panic!("no error in {text:?}"),
                Err(error) => return error,
            }
        }
    }

    #[test]
    fn a_quote_never_closed_fails_naming_the_line_it_opened_on() {
        let error = first_error("a,b\n1,2\n3,\"oops\n5,6\n7,8\n", 1000);
        assert!(
            matches!(error, ReadError::OpenQuote { line: 3, limit: None }),
            "{error:?}"
        );
    }

    #[test]
    fn a_quoted_field_longer_than_the_limit_fails_near_where_it_opened() {
        let text = format!("a,b\n1,\"{}\n", "x,y\n".repeat(100));
        let error = first_error(&text, 64);
        assert!(
            matches!(
                error,
                ReadError::OpenQuote {
                    line: 2,
                    limit: Some(64)
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn quotes_inside_an_unquoted_field_are_plain_characters() {
        let rows = all("name,size\n24\" screen,1\nnext,2\n", Delimiter::Byte(b','));
        assert_eq!(rows[1], (2, vec!["24\" screen".into(), "1".into()]));
        assert_eq!(rows[2], (3, vec!["next".into(), "2".into()]));
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_dropped() {
        let rows = all("\u{feff}customer_id,date\n1,2024-01-01\n", Delimiter::Byte(b','));
        assert_eq!(rows[0].1[0], "customer_id");
    }
}
