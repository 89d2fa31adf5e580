//! `rapport import transactions`: purchases from a file into the event log, all or nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use super::transactions::{PurchaseRow, TransactionColumns, TransactionReader};
use super::{FileOptions, ImportError};
use crate::domain::state::day_of;
use crate::domain::{EventKind, ExternalId, NewEvent};
use crate::ingest::Ingest;
use crate::store::Store;

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
    let reader = TransactionReader::open(options, columns)?;
    let rejects = options.skip_invalid.then(|| options.rejects_path());
    let (tx, mut rx) = mpsc::channel(4);
    let parser = tokio::task::spawn_blocking(move || read_batches(reader, rejects, tx, progress));
    let source = format!("import of {}", options.path.display());
    let mut ingest = Ingest::begin(store, source).await?;
    ingest.expect(estimated_rows(&options.path)).await?;
    let mut keys = KeyMaker::default();
    let mut rows = 0;
    while let Some(batch) = rx.recv().await {
        for row in batch? {
            rows += 1;
            let event = keys.event(row);
            ingest.push(event.0.as_str(), event.1).await?;
        }
    }
    let rejected = parser
        .await
        .map_err(|e| ImportError::Usage(format!("the reading thread failed: {e}")))??;
    let report = ingest.finish().await?;
    Ok(TransactionImportReport {
        rows: rows + rejected,
        stored: report.stored,
        duplicates: report.duplicates,
        customers_created: report.customers_created,
        stage_changes: report.stage_changes,
        rejected,
        seconds: started.elapsed().as_secs_f64(),
    })
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
        .then(|| super::customers::RejectWriter::create(options.rejects_path()))
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

type Batch = Result<Vec<PurchaseRow>, ImportError>;

/// Runs on a blocking thread: parses the file and sends batches; returns how many rows were rejected.
fn read_batches(
    mut reader: TransactionReader<std::fs::File>,
    rejects: Option<std::path::PathBuf>,
    tx: mpsc::Sender<Batch>,
    progress: Option<indicatif::ProgressBar>,
) -> Result<u64, ImportError> {
    let mut rejects = rejects.map(super::customers::RejectWriter::create).transpose()?;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match reader.next_row() {
            Ok(Some(row)) => batch.push(row),
            Ok(None) => break,
            Err(ImportError::Row(error)) if rejects.is_some() => {
                let record = reader.last_record();
                rejects.as_mut().expect("checked").write(&error, &record)?;
            }
            Err(error) => {
                let _ = tx.blocking_send(Err(error));
                return Ok(0);
            }
        }
        if batch.len() == BATCH {
            if let Some(bar) = &progress {
                bar.set_position(reader.bytes());
            }
            if tx
                .blocking_send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                .is_err()
            {
                return Ok(0);
            }
        }
    }
    let _ = tx.blocking_send(Ok(batch));
    Ok(rejects.map_or(0, |r| r.count()))
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
