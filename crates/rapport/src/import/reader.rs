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

/// Reads records one at a time, reusing one buffer.
pub struct RecordReader<R: Read> {
    inner: Inner<R>,
    line: u64,
    bytes: u64,
}

enum Inner<R: Read> {
    Csv(csv::Reader<R>),
    Whitespace(BufReader<R>, Vec<u8>),
}

impl<R: Read> RecordReader<R> {
    /// A reader over `source` with the given delimiter.
    pub fn new(source: R, delimiter: Delimiter) -> Self {
        let inner = match delimiter {
            Delimiter::Byte(b) => Inner::Csv(
                csv::ReaderBuilder::new()
                    .delimiter(b)
                    .has_headers(false)
                    .flexible(true)
                    .buffer_capacity(1 << 16)
                    .from_reader(source),
            ),
            Delimiter::Whitespace => {
                Inner::Whitespace(BufReader::with_capacity(1 << 16, source), Vec::new())
            }
        };
        Self {
            inner,
            line: 0,
            bytes: 0,
        }
    }

    /// Reads the next non-empty record into `record`; `false` at the end of the file.
    pub fn read(&mut self, record: &mut ByteRecord) -> std::io::Result<bool> {
        match &mut self.inner {
            Inner::Csv(reader) => {
                let more = reader
                    .read_byte_record(record)
                    .map_err(std::io::Error::other)?;
                let position = reader.position();
                self.line = record.position().map_or(position.line(), |p| p.line());
                self.bytes = position.byte();
                Ok(more)
            }
            Inner::Whitespace(reader, buf) => loop {
                buf.clear();
                let n = reader.read_until(b'\n', buf)?;
                if n == 0 {
                    return Ok(false);
                }
                self.line += 1;
                self.bytes += n as u64;
                record.clear();
                for field in buf
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|f| !f.is_empty())
                {
                    record.push_field(field);
                }
                if !record.is_empty() {
                    return Ok(true);
                }
            },
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, delimiter: Delimiter) -> Vec<(u64, Vec<String>)> {
        let mut reader = RecordReader::new(text.as_bytes(), delimiter);
        let mut record = ByteRecord::new();
        let mut out = Vec::new();
        while reader.read(&mut record).unwrap() {
            let fields = record
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
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
            (
                1,
                vec![
                    "00001".into(),
                    "19970101".into(),
                    "1".into(),
                    "11.77".into()
                ]
            )
        );
        assert_eq!(rows[1].0, 3, "blank lines still count as lines");
    }

    #[test]
    fn csv_keeps_quoted_delimiters_and_counts_lines() {
        let rows = all("a;b\r\n\"x;y\";2\n", Delimiter::Byte(b';'));
        assert_eq!(rows[1], (2, vec!["x;y".into(), "2".into()]));
    }
}
