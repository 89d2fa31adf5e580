//! Streaming readers for delimited files: transactions and customer lists, in bounded memory.

mod customers;
mod load;
mod parse;
mod reader;
mod transactions;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use customers::{CustomerColumns, CustomerImportReport, check_customers, import_customers};
pub use load::{TransactionImportReport, check_transactions, import_transactions};
pub use parse::DateParser;
pub use reader::{DEFAULT_MAX_QUOTED, Delimiter, Layout, ReadError, RecordReader};
pub use transactions::{PurchaseRow, TransactionColumns, TransactionReader};

use crate::store::StoreError;

/// How a delimited file is laid out and how bad rows are handled.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// The file to read.
    pub path: PathBuf,
    /// Field separator.
    pub delimiter: Delimiter,
    /// Column names from the command line (`--columns`): the file then has no header line.
    pub columns: Option<Vec<String>>,
    /// Lines to skip before the header or the first row.
    pub skip_lines: u64,
    /// strftime format for dates; `None` for ISO 8601.
    pub date_format: Option<String>,
    /// The zone of dates and times written without an offset (the business's time zone).
    pub time_zone: chrono_tz::Tz,
    /// Store the good rows and write bad ones to `rejects` instead of failing.
    pub skip_invalid: bool,
    /// Where rejected rows go with `skip_invalid`.
    pub rejects: Option<PathBuf>,
    /// How many bytes a quoted field may run before the file is refused (`--max-field-bytes`).
    pub max_quoted: usize,
}

impl FileOptions {
    /// Options for a comma-separated file with a header and ISO dates.
    pub fn csv(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            delimiter: Delimiter::Byte(b','),
            columns: None,
            skip_lines: 0,
            date_format: None,
            time_zone: chrono_tz::Tz::UTC,
            skip_invalid: false,
            rejects: None,
            max_quoted: DEFAULT_MAX_QUOTED,
        }
    }

    /// A record reader over `source` laid out as these options say.
    pub fn record_reader<R: std::io::Read>(&self, source: R) -> RecordReader<R> {
        RecordReader::new(source, self.delimiter).with_max_quoted(self.max_quoted)
    }

    /// Where rejected rows are written: `--rejects`, else `FILE.rejects.csv`.
    pub fn rejects_path(&self) -> PathBuf {
        self.rejects.clone().unwrap_or_else(|| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(".rejects.csv");
            PathBuf::from(name)
        })
    }
}

/// Why an import failed. Nothing from the file was stored when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A quoted field has no closing quote: a stray `"` that would swallow the rows after it.
    #[error("{path}: line {line}: {reason}")]
    OpenQuote {
        /// The file.
        path: String,
        /// The line where the quote opened.
        line: u64,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A row's key (its order id) is stored already, or used by an earlier row, for another
    /// customer or with another amount.
    #[error("{path}: {message}")]
    Conflict {
        /// The file.
        path: String,
        /// Both places, or the row and the stored event, and what differs.
        message: String,
    },
    /// The file has no rows.
    #[error("{0}: the file is empty (no header and no rows)")]
    Empty(String),
    /// A column the mapping names is not in the header.
    #[error("{path}: no column '{column}' in the header (columns are: {found}); name it with {flag}")]
    MissingColumn {
        /// The file.
        path: String,
        /// The column looked for.
        column: String,
        /// The header's columns.
        found: String,
        /// The flag that maps this column.
        flag: String,
    },
    /// The options contradict each other.
    #[error("{0}")]
    Usage(String),
    /// A row could not be parsed.
    #[error(transparent)]
    Row(#[from] RowError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A row that could not be parsed: where it is, which column, what value and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{path}: line {line} (data row {row}), column '{column}': {reason}")]
pub struct RowError {
    /// The file.
    pub path: String,
    /// Physical line number, counting from 1.
    pub line: u64,
    /// Data row number, counting from 1 after any header.
    pub row: u64,
    /// The column at fault.
    pub column: String,
    /// The value found there.
    pub value: String,
    /// Why it was refused, naming the value.
    pub reason: String,
}

impl ImportError {
    /// The error of reading `path`, with the place and a way out for an open quote.
    pub fn reading(path: &str, error: ReadError) -> Self {
        match error {
            ReadError::Io(source) => ImportError::Io {
                path: path.to_owned(),
                source,
            },
            ReadError::OpenQuote { line, limit } => {
                let reason = match limit {
                    None => "a quoted field opens here and is never closed before the end of the file \
                             (a stray '\"'?); nothing was stored"
                        .to_owned(),
                    Some(bytes) => format!(
                        "a quoted field opens here and runs past {bytes} bytes without its closing quote \
                         (a stray '\"'?); nothing was stored (--max-field-bytes raises the limit)"
                    ),
                };
                ImportError::OpenQuote {
                    path: path.to_owned(),
                    line,
                    reason,
                }
            }
        }
    }
}

/// Opens a file for reading, with an error that names it.
pub fn open(path: &Path) -> Result<std::fs::File, ImportError> {
    std::fs::File::open(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })
}
