//! Purchase rows from a delimited file: column mapping, parsing, errors that name the place.

use std::io::Read;

use csv::ByteRecord;

use super::parse::DateParser;
use super::reader::RecordReader;
use super::{FileOptions, ImportError, RowError, open};
use crate::domain::rules::{self, Lines};
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
    /// The physical line the row starts on.
    pub line: u64,
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
    /// When the read began: no purchase may be dated later than a day after it.
    now: i64,
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
        let mut reader = options.record_reader(source);
        let mut record = ByteRecord::new();
        let io = |error| ImportError::reading(&path, error);
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
            dates: DateParser::new(options.date_format.clone(), options.time_zone),
            currency: columns.default_currency.clone(),
            row: 0,
            sniff_header: !header_read,
            first_pending: !header_read,
            now: chrono::Utc::now().timestamp(),
        })
    }

    /// A reader for the rest of a file that another reader began: no header, columns named as
    /// in `first`, line numbers from `line`, data rows counted from 1 again.
    pub fn continuation(source: R, first: &TransactionReader<impl Read>, line: u64, options: &FileOptions) -> Self {
        Self {
            reader: RecordReader::starting_at_line(source, options.delimiter, line).with_max_quoted(options.max_quoted),
            record: ByteRecord::new(),
            path: first.path.clone(),
            names: first.names.clone(),
            idx: first.idx,
            dates: DateParser::new(options.date_format.clone(), options.time_zone),
            currency: first.currency.clone(),
            row: 0,
            sniff_header: false,
            first_pending: false,
            now: first.now,
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
        self.reader
            .read(&mut self.record)
            .map_err(|error| ImportError::reading(&self.path, error))
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
        let lossy = || String::from_utf8_lossy(bytes);
        let text = std::str::from_utf8(bytes)
            .map_err(|_| self.error(self.idx.customer, &lossy(), "the value is not valid UTF-8"))?;
        ExternalId::check(text).map_err(|e| self.error(self.idx.customer, text.trim(), &e.0))
    }

    fn parse_time_and_amount(&mut self) -> Result<(i64, Money), RowError> {
        let Self { record, dates, .. } = self;
        let parsed = record.get(self.idx.date).and_then(|date| dates.parse(date));
        let occurred_at = match parsed.map(|t| rules::event_time(t, self.now)) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                let value = String::from_utf8_lossy(self.field(self.idx.date)?).trim().to_owned();
                return Err(self.error(self.idx.date, &value, &e.0));
            }
            None => {
                let value = String::from_utf8_lossy(self.field(self.idx.date)?).into_owned();
                let shown = crate::domain::rules::excerpt(&value);
                let reason = format!("'{shown}' is not a valid date (expected {})", self.dates.expected());
                return Err(self.error(self.idx.date, &value, &reason));
            }
        };
        let raw = self.field(self.idx.amount)?;
        let text = String::from_utf8_lossy(raw);
        Money::parse_purchase(&text)
            .map(|amount| (occurred_at, amount))
            .map_err(|e| self.error(self.idx.amount, text.trim(), &e.0))
    }

    fn parse_record(&mut self) -> Result<PurchaseRow, RowError> {
        let (occurred_at, amount) = self.parse_time_and_amount()?;
        let customer = ExternalId::parse(self.customer()?).map_err(|e| self.error(self.idx.customer, "", &e.0))?;
        let column = |i: Option<usize>| i.unwrap_or_default();
        let order_id = match self.optional(self.idx.order)? {
            Some(raw) => rules::text("order id", &raw, rules::MAX_ORDER_ID, Lines::One)
                .map_err(|e| self.error(column(self.idx.order), &raw, &e.0))?,
            None => None,
        };
        let quantity = match self.optional(self.idx.quantity)? {
            Some(q) => Some(rules::quantity(&q).map_err(|e| self.error(column(self.idx.quantity), &q, &e.0))?),
            None => None,
        };
        let currency = match self.optional(self.idx.currency)? {
            Some(code) => Currency::parse(&code).map_err(|e| self.error(column(self.idx.currency), &code, &e.0))?,
            None => self.currency.clone(),
        };
        Ok(PurchaseRow {
            customer,
            occurred_at,
            amount,
            currency,
            order_id,
            quantity,
            line: self.reader.line(),
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
            value: crate::domain::rules::excerpt(value).into_owned(),
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
            found: crate::domain::rules::excerpt(&names.join(", ")).into_owned(),
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
