//! `rapport import transactions`: purchases from a file into the event log, all or nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use super::customers::RejectWriter;
use super::transactions::{PurchaseRow, TransactionColumns, TransactionReader};
use super::{FileOptions, ImportError, RowError};
use crate::domain::state::day_of;
use crate::domain::{EventKind, ExternalId, NewEvent};
use crate::ingest::Ingest;
use crate::store::{BulkKeys, Store, StoreError};

/// Rows parsed per message from the reading thread.
const BATCH: usize = 10_000;

/// The result of `rapport import transactions`, with the keys `--json` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TransactionImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Purchases stored.
    pub stored: u64,
    /// Rows already in the log.
    pub duplicates: u64,
    /// Customers created.
    pub customers_created: u64,
    /// Stage changes the purchases caused.
    pub stage_changes: u64,
    /// Rows rejected (with `--skip-invalid`).
    pub rejected: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Imports purchases from a file: all rows or, on any bad row, none (unless `skip_invalid`).
pub async fn import_transactions(
    store: &Arc<dyn Store>,
    options: &FileOptions,
    columns: &TransactionColumns,
    progress: Option<indicatif::ProgressBar>,
) -> Result<TransactionImportReport, ImportError> {
    let started = Instant::now();
    // A large file into a small log first loads with keys checked once at the end; a file whose
    // keys repeat (in itself or against the log) then stored nothing, and is read again with each
    // key checked as it goes, the repeats skipped.
    let first = load_file(store, options, columns, progress.clone(), BulkKeys::Deferred).await;
    let mut report = match first {
        Err(ImportError::Store(StoreError::RepeatedKeys)) => {
            // Shown by default: the progress starts again, and the user should know why.
            tracing::warn!(
                file = %options.path.display(),
                "some purchases repeat an order id or are stored already: reading the file again, \
                 checking each purchase as it is stored; repeats are skipped"
            );
            load_file(store, options, columns, progress, BulkKeys::Checked).await?
        }
        other => other?,
    };
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One pass over the file in one transaction.
async fn load_file(
    store: &Arc<dyn Store>,
    options: &FileOptions,
    columns: &TransactionColumns,
    progress: Option<indicatif::ProgressBar>,
    keys: BulkKeys,
) -> Result<TransactionImportReport, ImportError> {
    let reader = TransactionReader::open(options, columns)?;
    let mut rejects = options
        .skip_invalid
        .then(|| RejectWriter::create(options.rejects_path()))
        .transpose()?;
    let (tx, mut rx) = mpsc::channel(4);
    let keep_rejects = rejects.is_some();
    let parser = tokio::task::spawn_blocking(move || read_batches(reader, keep_rejects, tx, progress));
    let source = format!("import of {}", options.path.display());
    let mut ingest = Ingest::begin(store, source).await?;
    if rejects.is_none() {
        ingest.refuse_conflicts();
    }
    ingest.expect(estimated_rows(&options.path), keys).await?;
    let mut rows = 0;
    while let Some(batch) = rx.recv().await {
        let Batch { events, rejected } = batch?;
        rows += (events.len() + rejected.len()) as u64;
        if let Some(out) = rejects.as_mut() {
            for (error, fields) in &rejected {
                out.write(error, fields)?;
            }
        }
        let refused = match rejects.as_mut() {
            Some(out) => set_conflicts_aside(&mut ingest, &events, out, &options.path).await?,
            None => vec![false; events.len()],
        };
        for ((_, customer, event), refused) in events.into_iter().zip(refused) {
            if !refused {
                ingest
                    .push(&customer, event)
                    .await
                    .map_err(|e| name_lines(e, options, columns))?;
            }
        }
    }
    parser
        .await
        .map_err(|e| ImportError::Usage(format!("the reading thread failed: {e}")))??;
    let report = ingest.finish().await.map_err(|e| name_lines(e, options, columns))?;
    Ok(TransactionImportReport {
        rows,
        stored: report.stored,
        duplicates: report.duplicates,
        customers_created: report.customers_created,
        stage_changes: report.stage_changes,
        rejected: rejects.map_or(0, RejectWriter::count),
        seconds: 0.0,
    })
}

/// Writes the rows whose key conflicts with the log or an earlier row to the rejects file; which
/// rows were set aside, in order. Their customers are then never created.
async fn set_conflicts_aside(
    ingest: &mut Ingest,
    events: &[(u64, ExternalId, NewEvent)],
    rejects: &mut RejectWriter,
    path: &std::path::Path,
) -> Result<Vec<bool>, ImportError> {
    let pairs: Vec<(&str, &NewEvent)> = events.iter().map(|(_, c, e)| (c.as_str(), e)).collect();
    let conflicts = ingest.find_conflicts(&pairs).await?;
    let mut refused = Vec::with_capacity(events.len());
    for ((line, customer, event), conflict) in events.iter().zip(conflicts) {
        refused.push(conflict.is_some());
        if let Some(conflict) = conflict {
            let error = RowError {
                path: path.display().to_string(),
                line: *line,
                row: 0,
                column: "order_id".to_owned(),
                value: event.key.trim_start_matches("order:").to_owned(),
                reason: conflict.to_string(),
            };
            rejects.write(&error, &row_fields(customer, event))?;
        }
    }
    Ok(refused)
}

/// A purchase's fields as a rejects file shows them.
fn row_fields(customer: &ExternalId, event: &NewEvent) -> Vec<String> {
    let mut fields = vec![
        customer.to_string(),
        crate::domain::state::format_day(day_of(event.occurred_at)),
    ];
    if let EventKind::Purchase {
        amount,
        currency,
        order_id,
        quantity,
    } = &event.kind
    {
        fields.extend([
            amount.to_string(),
            currency.as_str().to_owned(),
            order_id.clone().unwrap_or_default(),
            quantity.map(|q| q.to_string()).unwrap_or_default(),
        ]);
    }
    fields
}

/// A key conflict as an import error naming the file's lines: the file is read again (only when
/// an import fails so) to find the first row with the key and the row that contradicts it.
fn name_lines(error: StoreError, options: &FileOptions, columns: &TransactionColumns) -> ImportError {
    let StoreError::KeyConflict(conflict) = error else {
        return error.into();
    };
    let path = options.path.display().to_string();
    let (first, clash) = lines_with_key(options, columns, &conflict).unwrap_or((None, None));
    let what = conflict.event.kind.describe();
    let message = match (first, clash) {
        (Some(first), Some(clash)) if !conflict.stored_before => format!(
            "line {clash}: the key '{}' of this purchase (customer '{}', {what}) is used on line {first} for customer '{}' ({}); nothing was stored",
            conflict.event.key,
            conflict.customer,
            conflict.existing_customer,
            conflict.existing.describe()
        ),
        (_, Some(clash)) | (Some(clash), None) => format!(
            "line {clash}: the key '{}' of this purchase (customer '{}', {what}) is already stored for customer '{}' ({}) by an earlier import or the API; nothing was stored",
            conflict.event.key,
            conflict.customer,
            conflict.existing_customer,
            conflict.existing.describe()
        ),
        (None, None) => format!("{conflict}; nothing was stored"),
    };
    ImportError::Conflict { path, message }
}

/// The line of the first row with the conflict's key, and of the first row with that key for the
/// conflict's customer and content.
fn lines_with_key(
    options: &FileOptions,
    columns: &TransactionColumns,
    conflict: &crate::domain::KeyConflict,
) -> Result<(Option<u64>, Option<u64>), ImportError> {
    let mut reader = TransactionReader::open(options, columns)?;
    let mut keys = KeyMaker::default();
    let (mut first, mut clash) = (None, None);
    while let Some(row) = reader.next_row()? {
        let line = row.line;
        let (customer, event) = keys.event(row);
        if event.key != conflict.event.key {
            continue;
        }
        first = first.or(Some(line));
        if customer.as_str() == conflict.customer && event.kind == conflict.event.kind && Some(line) != first {
            clash = Some(line);
            break;
        }
    }
    Ok((first, clash))
}

/// Reads and checks every row without storing anything: `rows` and `rejected` are filled in.
pub fn check_transactions(
    options: &FileOptions,
    columns: &TransactionColumns,
) -> Result<TransactionImportReport, ImportError> {
    let started = Instant::now();
    let mut reader = TransactionReader::open(options, columns)?;
    let mut rejects = options
        .skip_invalid
        .then(|| RejectWriter::create(options.rejects_path()))
        .transpose()?;
    let mut report = TransactionImportReport::default();
    loop {
        match reader.next_row() {
            Ok(Some(_)) => report.rows += 1,
            Ok(None) => break,
            Err(ImportError::Row(error)) if rejects.is_some() => {
                report.rows += 1;
                rejects
                    .as_mut()
                    .expect("checked")
                    .write(&error, &reader.last_record())?;
            }
            Err(error) => return Err(error),
        }
    }
    report.rejected = rejects.map_or(0, |r| r.count());
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A rough row count from the file size, for choosing how to load: shop exports run 30 to 60
/// bytes a row.
fn estimated_rows(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len() / 48)
}

/// Rows parsed by the reading thread: the good ones as events with their lines, and the bad ones
/// with their raw fields.
struct Batch {
    events: Vec<(u64, ExternalId, NewEvent)>,
    rejected: Vec<(RowError, Vec<String>)>,
}

/// Runs on a blocking thread: parses the file, keys each purchase and sends batches; a bad row
/// is sent back set aside when `keep_rejects`, else it ends the read. Keying here keeps that work
/// off the thread that waits for the store.
fn read_batches(
    mut reader: TransactionReader<std::fs::File>,
    keep_rejects: bool,
    tx: mpsc::Sender<Result<Batch, ImportError>>,
    progress: Option<indicatif::ProgressBar>,
) -> Result<(), ImportError> {
    let fresh = || Batch {
        events: Vec::with_capacity(BATCH),
        rejected: Vec::new(),
    };
    let mut keys = KeyMaker::default();
    let mut batch = fresh();
    loop {
        match reader.next_row() {
            Ok(Some(row)) => {
                let line = row.line;
                let (customer, event) = keys.event(row);
                batch.events.push((line, customer, event));
            }
            Ok(None) => break,
            Err(ImportError::Row(error)) if keep_rejects => batch.rejected.push((error, reader.last_record())),
            Err(error) => {
                let _ = tx.blocking_send(Err(error));
                return Ok(());
            }
        }
        if batch.events.len() + batch.rejected.len() == BATCH {
            if let Some(bar) = &progress {
                bar.set_position(reader.bytes());
            }
            if tx.blocking_send(Ok(std::mem::replace(&mut batch, fresh()))).is_err() {
                return Ok(());
            }
        }
    }
    let _ = tx.blocking_send(Ok(batch));
    Ok(())
}

/// Gives each purchase its idempotency key: the order id when there is one, else the row's content.
///
/// Identical rows without an order id (same customer, time, amount and quantity) are told apart by
/// how often they occurred before on the same date in the file, so importing the file again, or a
/// later export that overlaps it, finds each one again. Counts are kept for one date at a time,
/// which is exact for files sorted by date or by customer, as shop exports are.
#[derive(Default)]
struct KeyMaker {
    day: i64,
    seen: HashMap<String, u32>,
}

impl KeyMaker {
    fn event(&mut self, row: PurchaseRow) -> (ExternalId, NewEvent) {
        let key = match &row.order_id {
            Some(order) => format!("order:{order}"),
            None => self.content_key(&row),
        };
        let kind = EventKind::Purchase {
            amount: row.amount,
            currency: row.currency,
            order_id: row.order_id,
            quantity: row.quantity,
        };
        (
            row.customer,
            NewEvent {
                key,
                occurred_at: row.occurred_at,
                kind,
            },
        )
    }

    fn content_key(&mut self, row: &PurchaseRow) -> String {
        if day_of(row.occurred_at) != self.day {
            self.day = day_of(row.occurred_at);
            self.seen.clear();
        }
        let quantity = row.quantity.map_or_else(|| "-".to_owned(), |q| q.to_string());
        let base = format!("row:{}:{}:{}:{}", row.customer, row.occurred_at, row.amount.0, quantity);
        let n = self.seen.entry(base.clone()).or_default();
        *n += 1;
        if *n == 1 { base } else { format!("{base}#{n}") }
    }
}
