//! Customer lists: profiles keyed by the business's id, extra columns kept as attributes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use csv::ByteRecord;
use serde::Serialize;

use super::{FileOptions, ImportError, RowError, open};
use crate::domain::rules::{self, Lines};
use crate::domain::{Email, EventKind, ExternalId, NewEvent};
use crate::ingest::Ingest;
use crate::store::{NewCustomer, Store};

/// Profiles written per round trip.
const BATCH: usize = 10_000;

/// Which columns hold the profile; every other column becomes an attribute.
#[derive(Debug, Clone)]
pub struct CustomerColumns {
    /// The business's customer id (`--id-col`).
    pub id: String,
    /// Full name (`--name-col`), used when present.
    pub name: String,
    /// E-mail (`--email-col`), used when present.
    pub email: String,
    /// Phone (`--phone-col`), used when present.
    pub phone: String,
    /// E-mail consent (`--consent-col`): yes or no (also true/false, 1/0, opt-in/opt-out); an
    /// empty cell says nothing.
    pub consent: String,
}

impl Default for CustomerColumns {
    fn default() -> Self {
        Self {
            id: "customer_id".into(),
            name: "name".into(),
            email: "email".into(),
            phone: "phone".into(),
            consent: "email_consent".into(),
        }
    }
}

/// The result of `rapport import customers`, with the keys `--json` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CustomerImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Customers created.
    pub customers_created: u64,
    /// Existing customers whose profile was rewritten.
    pub customers_updated: u64,
    /// Rows rejected (with `--skip-invalid`).
    pub rejected: u64,
    /// Rows whose id an earlier row of the file had: the later row's profile was kept.
    pub repeated_ids: u64,
    /// Customers whose e-mail consent the file recorded for the first time or changed.
    pub consents_recorded: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Imports customer profiles: all rows or, on any bad row, none (unless `skip_invalid`).
pub async fn import_customers(
    store: &Arc<dyn Store>,
    options: &FileOptions,
    columns: &CustomerColumns,
) -> Result<CustomerImportReport, ImportError> {
    let started = Instant::now();
    let mut rows = ProfileRows::open(options, columns)?;
    let mut rejects = rejects(options)?;
    let mut ingest = Ingest::begin(store, format!("import of {}", rows.path)).await?;
    let mut report = CustomerImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    // Ids seen in the file, to tell the user when a later row replaced an earlier one's profile.
    let mut seen = std::collections::HashSet::new();
    while let Some(row) = rows.next()? {
        match row {
            Ok(profile) => {
                if !seen.insert(profile.0.external_id.clone()) {
                    report.repeated_ids += 1;
                }
                batch.push(profile)
            }
            Err(error) => reject(&mut rejects, error, &rows)?,
        }
        if batch.len() == BATCH {
            upsert(&mut ingest, &mut batch, &mut report).await?;
        }
    }
    upsert(&mut ingest, &mut batch, &mut report).await?;
    // The only events a customer list stores are consent answers.
    report.consents_recorded = ingest.finish().await?.stored;
    report.rows = rows.count;
    report.rejected = rejects.map_or(0, |r| r.count());
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Reads and checks every row without storing anything: `rows`, `rejected` and `repeated_ids`
/// are filled in, and with `skip_invalid` the rejects file is written as an import would.
pub fn check_customers(options: &FileOptions, columns: &CustomerColumns) -> Result<CustomerImportReport, ImportError> {
    let started = Instant::now();
    let mut rows = ProfileRows::open(options, columns)?;
    let mut rejects = rejects(options)?;
    let mut report = CustomerImportReport::default();
    let mut seen = std::collections::HashSet::new();
    while let Some(row) = rows.next()? {
        match row {
            Ok((customer, _)) => report.repeated_ids += u64::from(!seen.insert(customer.external_id)),
            Err(error) => reject(&mut rejects, error, &rows)?,
        }
    }
    report.rows = rows.count;
    report.rejected = rejects.map_or(0, |r| r.count());
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The rejects file when bad rows are to be set aside.
fn rejects(options: &FileOptions) -> Result<Option<RejectWriter>, ImportError> {
    options
        .skip_invalid
        .then(|| RejectWriter::create(options.rejects_path()))
        .transpose()
}

/// Sets a bad row aside, or fails the import when bad rows are not to be skipped.
fn reject(rejects: &mut Option<RejectWriter>, error: RowError, rows: &ProfileRows<'_>) -> Result<(), ImportError> {
    match rejects.as_mut() {
        Some(out) => out.write(&error, &rows.fields()),
        None => Err(error.into()),
    }
}

/// A customer list's rows, each read as a profile: the header (or `--columns`) names the fields.
struct ProfileRows<'a> {
    reader: super::RecordReader<std::fs::File>,
    record: ByteRecord,
    /// Whether `record` holds a data row not handed out yet (the first one, after `--columns`).
    pending: bool,
    names: Vec<String>,
    id_index: usize,
    columns: &'a CustomerColumns,
    path: String,
    /// Data rows read so far.
    count: u64,
    now: i64,
}

impl<'a> ProfileRows<'a> {
    /// Opens the file and reads past the skipped lines and the header.
    fn open(options: &FileOptions, columns: &'a CustomerColumns) -> Result<Self, ImportError> {
        let path = options.path.display().to_string();
        let io = |error| ImportError::reading(&path, error);
        let mut reader = options.record_reader(open(&options.path)?);
        let mut record = ByteRecord::new();
        let mut more = reader.read(&mut record).map_err(io)?;
        while more && reader.line() <= options.skip_lines {
            more = reader.read(&mut record).map_err(io)?;
        }
        if !more {
            return Err(ImportError::Empty(path));
        }
        let names: Vec<String> = match &options.columns {
            Some(names) => names.clone(),
            None => record
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                .collect(),
        };
        let id_index = names
            .iter()
            .position(|n| *n == columns.id)
            .ok_or_else(|| ImportError::MissingColumn {
                path: path.clone(),
                column: columns.id.clone(),
                found: crate::domain::rules::excerpt(&names.join(", ")).into_owned(),
                flag: "--id-col".into(),
            })?;
        Ok(Self {
            reader,
            record,
            pending: options.columns.is_some(),
            names,
            id_index,
            columns,
            path,
            count: 0,
            now: chrono::Utc::now().timestamp(),
        })
    }

    /// The next row as a profile with its consent, or why it is not one; `None` at the end of
    /// the file.
    fn next(&mut self) -> Result<Option<Result<Profile, RowError>>, ImportError> {
        if !std::mem::take(&mut self.pending) {
            let more = self
                .reader
                .read(&mut self.record)
                .map_err(|error| ImportError::reading(&self.path, error))?;
            if !more {
                return Ok(None);
            }
        }
        self.count += 1;
        let at = Position {
            path: &self.path,
            line: self.reader.line(),
            row: self.count,
        };
        Ok(Some(profile(
            &self.record,
            &self.names,
            self.id_index,
            self.columns,
            at,
            self.now,
        )))
    }

    /// The last row's fields as read, for the rejects file.
    fn fields(&self) -> Vec<String> {
        self.record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }
}

/// A row's profile, and its e-mail consent when the row says.
type Profile = (NewCustomer, Option<bool>);

async fn upsert(
    ingest: &mut Ingest,
    batch: &mut Vec<Profile>,
    report: &mut CustomerImportReport,
) -> Result<(), ImportError> {
    // A later row for the same id wins, as a later line in a spreadsheet would.
    let mut latest = std::collections::HashMap::new();
    for (customer, consent) in batch.drain(..) {
        latest.insert(customer.external_id.clone(), (customer, consent));
    }
    let mut consents = Vec::new();
    let profiles = latest
        .into_values()
        .map(|(customer, consent)| {
            if let Some(given) = consent {
                consents.push((customer.external_id.clone(), given, customer.created_at));
            }
            customer
        })
        .collect();
    let (created, updated) = ingest.upsert_profiles(profiles).await?;
    report.customers_created += created;
    report.customers_updated += updated;
    // A file has no time for its answers, so each answer is recorded once (its key repeats
    // when the file is imported again): a customer who unsubscribed later is never subscribed
    // again by an old export; consent given again must come through the API or the dashboard.
    for (customer, given, now) in consents {
        let event = NewEvent {
            key: format!("import-consent:{customer}:{}", if given { "yes" } else { "no" }),
            occurred_at: now,
            kind: EventKind::Consent {
                channel: "email".to_owned(),
                given,
                reason: "customer list import".to_owned(),
            },
        };
        ingest.push(&customer, event).await?;
    }
    Ok(())
}

/// A consent cell read as yes or no.
fn consent(value: &str) -> Option<bool> {
    const YES: [&str; 8] = ["yes", "y", "true", "1", "opt-in", "opted in", "subscribed", "granted"];
    const NO: [&str; 8] = [
        "no",
        "n",
        "false",
        "0",
        "opt-out",
        "opted out",
        "unsubscribed",
        "withdrawn",
    ];
    let value = value.trim().to_lowercase();
    if YES.contains(&value.as_str()) {
        Some(true)
    } else if NO.contains(&value.as_str()) {
        Some(false)
    } else {
        None
    }
}

#[derive(Clone, Copy)]
struct Position<'a> {
    path: &'a str,
    line: u64,
    row: u64,
}

fn profile(
    record: &ByteRecord,
    names: &[String],
    id_index: usize,
    columns: &CustomerColumns,
    at: Position<'_>,
    now: i64,
) -> Result<Profile, RowError> {
    let error = |column: &str, value: &str, reason: String| RowError {
        path: at.path.to_owned(),
        line: at.line,
        row: at.row,
        column: column.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let raw_id = record.get(id_index).map(String::from_utf8_lossy).unwrap_or_default();
    let external_id = ExternalId::parse(&raw_id).map_err(|e| error(&columns.id, &raw_id, e.0))?;
    let mut customer = NewCustomer::new(external_id, now);
    let mut consented = None;
    for (name, raw) in names.iter().zip(record.iter()) {
        let value = String::from_utf8_lossy(raw).trim().to_owned();
        if value.is_empty() || *name == columns.id || name == "_" {
            continue;
        }
        let checked = |max| rules::text(name, &value, max, Lines::One).map_err(|e| error(name, &value, e.0));
        if *name == columns.email {
            customer.email = Some(Email::parse(&value).map_err(|e| error(name, &value, e.0))?);
        } else if *name == columns.name {
            customer.name = checked(rules::MAX_NAME)?;
        } else if *name == columns.phone {
            customer.phone = checked(rules::MAX_PHONE)?;
        } else if *name == columns.consent {
            let given = consent(&value).ok_or_else(|| {
                error(
                    name,
                    &value,
                    "e-mail consent is yes or no (also true/false, 1/0, opt-in/opt-out), or empty".into(),
                )
            })?;
            consented = Some(given);
        } else {
            rules::check_characters(name, &value, Lines::One).map_err(|e| error(name, &value, e.0))?;
            customer.attributes.insert(name.clone(), value.into());
        }
    }
    rules::attributes(&customer.attributes).map_err(|e| error("(attributes)", "", e.0))?;
    Ok((customer, consented))
}

/// Writes rejected rows with their reasons as CSV: line, column, value, reason, then the row's fields.
pub struct RejectWriter {
    writer: csv::Writer<std::fs::File>,
    path: PathBuf,
    count: u64,
}

impl RejectWriter {
    /// Creates (or truncates) the rejects file.
    pub fn create(path: PathBuf) -> Result<Self, ImportError> {
        let file = std::fs::File::create(&path).map_err(|source| ImportError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(file);
        writer
            .write_record(["line", "column", "value", "reason", "fields..."])
            .map_err(|e| Self::fail(&path, e))?;
        Ok(Self { writer, path, count: 0 })
    }

    /// Appends one rejected row.
    pub fn write(&mut self, error: &RowError, fields: &[String]) -> Result<(), ImportError> {
        let head = [
            error.line.to_string(),
            error.column.clone(),
            error.value.clone(),
            error.reason.clone(),
        ];
        let row = head.iter().map(String::as_str).chain(fields.iter().map(String::as_str));
        self.writer.write_record(row).map_err(|e| Self::fail(&self.path, e))?;
        self.count += 1;
        Ok(())
    }

    /// How many rows were rejected; flushes the file.
    pub fn count(mut self) -> u64 {
        let _ = self.writer.flush();
        self.count
    }

    fn fail(path: &std::path::Path, error: csv::Error) -> ImportError {
        ImportError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(error),
        }
    }
}
