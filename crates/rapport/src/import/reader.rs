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
        }
    }

    /// A reader over a part of a file that starts at physical line `line`, so errors name the file's lines.
    pub fn starting_at_line(source: R, delimiter: Delimiter, line: u64) -> Self {
        Self {
            next_line: line,
            ..Self::new(source, delimiter)
        }
    }

    /// Reads the next non-blank record into `record`; `false` at the end of the file.
    pub fn read(&mut self, record: &mut ByteRecord) -> std::io::Result<bool> {
        loop {
            self.buf.clear();
            self.line = self.next_line;
            if !self.read_line()? {
                return Ok(false);
            }
            if let Delimiter::Byte(_) = self.delimiter {
                // An odd number of quotes means a quoted field goes on to the next line.
                while self.buf.iter().filter(|b| **b == b'"').count() % 2 == 1 {
                    if !self.read_line()? {
                        break;
                    }
                }
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
}
