//! Purchase rows from a delimited file: column mapping, parsing, errors that name the place.

use std::io::Read;

use csv::ByteRecord;

use super::parse::DateParser;
use super::reader::RecordReader;
use super::{FileOptions, ImportError, RowError, open};
use crate::domain::{Currency, ExternalId, Money};

/// Which columns hold what. A column named by flag must exist; the optional defaults may be absent.
#[derive(Debug, Clone)]
pub struct TransactionColumns {
    /// The business's customer id (`--customer-col`).
    pub customer: String,
    /// Date or date-time of the purchase (`--date-col`).
    pub date: String,
    /// Amount paid (`--amount-col`).
    pub amount: String,
    /// Order id (`--order-col`); `None` means "use `order_id` if the file has it".
    pub order: Option<String>,
    /// Item count (`--quantity-col`); `None` means "use `quantity` if the file has it".
    pub quantity: Option<String>,
    /// Currency code column (`--currency-col`), if any.
    pub currency: Option<String>,
    /// Currency of amounts when there is no currency column.
    pub default_currency: Currency,
}

impl Default for TransactionColumns {
    fn default() -> Self {
        Self {
            customer: "customer_id".into(),
            date: "date".into(),
            amount: "amount".into(),
            order: None,
            quantity: None,
            currency: None,
            default_currency: Currency::default(),
        }
    }
}

/// One purchase read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseRow {
    /// The business's customer id.
    pub customer: ExternalId,
    /// When (Unix seconds, UTC).
    pub occurred_at: i64,
    /// Amount paid.
    pub amount: Money,
    /// Currency of the amount.
    pub currency: Currency,
    /// Order id, when the file has one.
    pub order_id: Option<String>,
    /// Quantity, when the file has one.
    pub quantity: Option<i64>,
}

#[derive(Clone, Copy)]
struct Indexes {
    customer: usize,
    date: usize,
    amount: usize,
    order: Option<usize>,
    quantity: Option<usize>,
    currency: Option<usize>,
}

/// Reads purchase rows one by one, with errors that name file, line, column and value.
pub struct TransactionReader<R: Read> {
    reader: RecordReader<R>,
    record: ByteRecord,
    path: String,
    names: Vec<String>,
    idx: Indexes,
    dates: DateParser,
    currency: Currency,
    row: u64,
    /// Whether the next record might be a header line the `--columns` layout did not announce.
    sniff_header: bool,
    /// The record read while opening is data still to be parsed.
    first_pending: bool,
}

impl TransactionReader<std::fs::File> {
    /// Opens the file and reads its header (or takes the column names given).
    pub fn open(options: &FileOptions, columns: &TransactionColumns) -> Result<Self, ImportError> {
        Self::new(open(&options.path)?, options, columns)
    }
}

impl<R: Read> TransactionReader<R> {
    /// A reader over any byte source, laid out as `options` says.
    pub fn new(source: R, options: &FileOptions, columns: &TransactionColumns) -> Result<Self, ImportError> {
        let path = options.path.display().to_string();
        let mut reader = RecordReader::new(source, options.delimiter);
        let mut record = ByteRecord::new();
        let io = |source| ImportError::Io {
            path: path.clone(),
            source,
        };
        let mut more = reader.read(&mut record).map_err(io)?;
        while more && reader.line() <= options.skip_lines {
            more = reader.read(&mut record).map_err(io)?;
        }
        if !more {
            return Err(ImportError::Empty(path));
        }
        let (names, header_read) = match &options.columns {
            Some(names) => (names.clone(), false),
            None => (
                record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                    .collect(),
                true,
            ),
        };
        let idx = resolve(&path, &names, columns)?;
        Ok(Self {
            reader,
            record,
            path,
            names,
            idx,
            dates: DateParser::new(options.date_format.clone()),
            currency: columns.default_currency.clone(),
            row: 0,
            sniff_header: !header_read,
            first_pending: !header_read,
        })
    }

    /// A reader for the rest of a file that another reader began: no header, columns named as
    /// in `first`, line numbers from `line`, data rows counted from 1 again.
    pub fn continuation(source: R, first: &TransactionReader<impl Read>, line: u64, options: &FileOptions) -> Self {
        Self {
            reader: RecordReader::starting_at_line(source, options.delimiter, line),
            record: ByteRecord::new(),
            path: first.path.clone(),
            names: first.names.clone(),
            idx: first.idx,
            dates: DateParser::new(options.date_format.clone()),
            currency: first.currency.clone(),
            row: 0,
            sniff_header: false,
            first_pending: false,
        }
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.reader.bytes()
    }

    /// The next purchase, `Ok(None)` at the end; a bad row is an error and reading may go on after it.
    pub fn next_row(&mut self) -> Result<Option<PurchaseRow>, ImportError> {
        if !self.advance()? {
            return Ok(None);
        }
        self.parse_record().map(Some).map_err(ImportError::Row)
    }

    /// Moves to the next data record; `false` at the end of the file.
    fn advance(&mut self) -> Result<bool, ImportError> {
        loop {
            // The first record was read while opening; later ones are read here.
            if !std::mem::take(&mut self.first_pending) && !self.read_record()? {
                return Ok(false);
            }
            if std::mem::take(&mut self.sniff_header) && self.looks_like_header() {
                continue;
            }
            self.row += 1;
            return Ok(true);
        }
    }

    fn read_record(&mut self) -> Result<bool, ImportError> {
        self.reader.read(&mut self.record).map_err(|source| ImportError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// A first line whose date and amount both fail to parse is a header, as in `customer_id date ...`.
    fn looks_like_header(&mut self) -> bool {
        let field = |i: usize| self.record.get(i).unwrap_or_default().to_vec();
        let (date, amount) = (field(self.idx.date), field(self.idx.amount));
        self.dates.parse(&date).is_none() && Money::parse(&String::from_utf8_lossy(&amount)).is_err()
    }

    /// The next purchase's customer id, time and amount only, without allocating: for analysis of large files.
    pub fn next_purchase(&mut self) -> Result<Option<(&str, i64, Money)>, ImportError> {
        if !self.advance()? {
            return Ok(None);
        }
        let (occurred_at, amount) = self.parse_time_and_amount().map_err(ImportError::Row)?;
        let customer = self.customer().map_err(ImportError::Row)?;
        Ok(Some((customer, occurred_at, amount)))
    }

    fn customer(&self) -> Result<&str, RowError> {
        let bytes = self.field(self.idx.customer)?;
        let text = std::str::from_utf8(bytes).map_err(|_| {
            self.error(
                self.idx.customer,
                &String::from_utf8_lossy(bytes),
                "the value is not valid UTF-8",
            )
        })?;
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.len() > ExternalId::MAX_LEN {
            let reason = ExternalId::parse(trimmed).err().map(|e| e.0).unwrap_or_default();
            return Err(self.error(self.idx.customer, trimmed, &reason));
        }
        Ok(trimmed)
    }

    fn parse_time_and_amount(&mut self) -> Result<(i64, Money), RowError> {
        let Self { record, dates, .. } = self;
        let parsed = record.get(self.idx.date).and_then(|date| dates.parse(date));
        let occurred_at = match parsed {
            Some(t) => t,
            None => {
                let value = String::from_utf8_lossy(self.field(self.idx.date)?).into_owned();
                let reason = format!("'{value}' is not a valid date (expected {})", self.dates.expected());
                return Err(self.error(self.idx.date, &value, &reason));
            }
        };
        let raw = self.field(self.idx.amount)?;
        let amount = std::str::from_utf8(raw).ok().and_then(|t| Money::parse(t).ok());
        match amount {
            Some(amount) => Ok((occurred_at, amount)),
            None => {
                let value = String::from_utf8_lossy(raw).trim().to_owned();
                let reason = Money::parse(&value).err().map(|e| e.0).unwrap_or_default();
                Err(self.error(self.idx.amount, &value, &reason))
            }
        }
    }

    fn parse_record(&mut self) -> Result<PurchaseRow, RowError> {
        let (occurred_at, amount) = self.parse_time_and_amount()?;
        let customer = ExternalId::parse(self.customer()?).map_err(|e| self.error(self.idx.customer, "", &e.0))?;
        let order_id = self.optional(self.idx.order)?;
        let quantity = match self.optional(self.idx.quantity)? {
            Some(q) => Some(q.parse::<i64>().map_err(|_| {
                self.error(
                    self.idx.quantity.unwrap_or_default(),
                    &q,
                    &format!("'{q}' is not a whole number"),
                )
            })?),
            None => None,
        };
        let currency = match self.optional(self.idx.currency)? {
            Some(code) => {
                Currency::parse(&code).map_err(|e| self.error(self.idx.currency.unwrap_or_default(), &code, &e.0))?
            }
            None => self.currency.clone(),
        };
        Ok(PurchaseRow {
            customer,
            occurred_at,
            amount,
            currency,
            order_id,
            quantity,
        })
    }

    fn field(&self, i: usize) -> Result<&[u8], RowError> {
        self.record.get(i).ok_or_else(|| {
            let reason = format!(
                "the row has {} fields, so column {} is missing",
                self.record.len(),
                i + 1
            );
            self.error(i, "", &reason)
        })
    }

    fn text(&self, i: usize) -> Result<String, RowError> {
        let bytes = self.field(i)?;
        std::str::from_utf8(bytes)
            .map(|s| s.trim().to_owned())
            .map_err(|_| self.error(i, &String::from_utf8_lossy(bytes), "the value is not valid UTF-8"))
    }

    fn optional(&self, i: Option<usize>) -> Result<Option<String>, RowError> {
        match i {
            Some(i) if self.record.get(i).is_some() => Ok(Some(self.text(i)?).filter(|s| !s.is_empty())),
            _ => Ok(None),
        }
    }

    fn error(&self, column: usize, value: &str, reason: &str) -> RowError {
        RowError {
            path: self.path.clone(),
            line: self.reader.line(),
            row: self.row,
            column: self
                .names
                .get(column)
                .cloned()
                .unwrap_or_else(|| format!("#{}", column + 1)),
            value: value.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// The raw fields of the record that failed last, for a rejects file.
    pub fn last_record(&self) -> Vec<String> {
        self.record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }
}

fn resolve(path: &str, names: &[String], columns: &TransactionColumns) -> Result<Indexes, ImportError> {
    let find = |name: &str| names.iter().position(|n| n == name);
    let required = |name: &str, flag: &str| {
        find(name).ok_or_else(|| ImportError::MissingColumn {
            path: path.to_owned(),
            column: name.to_owned(),
            found: names.join(", "),
            flag: flag.to_owned(),
        })
    };
    let optional = |given: &Option<String>, default: &str, flag: &str| match given {
        Some(name) => required(name, flag).map(Some),
        None => Ok(find(default)),
    };
    Ok(Indexes {
        customer: required(&columns.customer, "--customer-col")?,
        date: required(&columns.date, "--date-col")?,
        amount: required(&columns.amount, "--amount-col")?,
        order: optional(&columns.order, "order_id", "--order-col")?,
        quantity: optional(&columns.quantity, "quantity", "--quantity-col")?,
        currency: match &columns.currency {
            Some(name) => Some(required(name, "--currency-col")?),
            None => None,
        },
    })
}
