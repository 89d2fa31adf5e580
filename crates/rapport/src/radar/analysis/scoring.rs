//! Per-customer scores and their sentences, for either method (a fitted model or the gaps rule):
//! held in memory for a few rows, or written to a file a chunk at a time.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use rapport_models::{
    ClvOptions, CustomerModel, CustomerScore, CustomerSummary, PurchaseDays, RfmScore, TimeUnit, explain_into,
    purchase_days, rfm_scores, score_customers,
};

use super::{AnalysisError, Method, PurchaseLog, ScoreRow, csv_row};

/// Scores every summarised customer with a stored method as of `as_of` (a day number) and
/// explains each score in a sentence.
pub fn score_rows(
    method: &Method,
    summaries: &[CustomerSummary],
    log: &PurchaseLog,
    unit: TimeUnit,
    as_of: i32,
) -> Vec<ScoreRow> {
    let scorer = Scorer::new(method, summaries, log, unit, as_of);
    let scores = scorer.scores();
    let everyone: Vec<usize> = (0..summaries.len()).collect();
    scorer.rows(&scores, &rfm_scores(summaries), &everyone)
}

/// Everything scoring needs, for either method.
pub(super) struct Scorer<'a> {
    method: &'a Method,
    summaries: &'a [CustomerSummary],
    log: &'a PurchaseLog,
    unit: TimeUnit,
    as_of: i32,
    /// Purchase days per customer, in the order of `summaries` (the gaps rule only).
    days: Vec<PurchaseDays>,
}

impl<'a> Scorer<'a> {
    pub(super) fn new(
        method: &'a Method,
        summaries: &'a [CustomerSummary],
        log: &'a PurchaseLog,
        unit: TimeUnit,
        as_of: i32,
    ) -> Self {
        let days = match method {
            Method::Gaps { .. } => {
                let all = purchase_days(&log.purchases, as_of);
                summaries
                    .iter()
                    .map(|s| match all.binary_search_by_key(&s.customer, |d| d.customer) {
                        Ok(i) => all[i].clone(),
                        Err(_) => PurchaseDays::default(),
                    })
                    .collect()
            }
            Method::Model { .. } => Vec::new(),
        };
        Self {
            method,
            summaries,
            log,
            unit,
            as_of,
            days,
        }
    }

    fn clv_options(&self) -> ClvOptions {
        ClvOptions {
            unit: self.unit,
            ..ClvOptions::default()
        }
    }

    pub(super) fn scores(&self) -> Vec<CustomerScore> {
        match self.method {
            Method::Model { fitted, spend } => {
                score_customers(fitted, spend.as_ref(), self.summaries, &self.clv_options())
            }
            Method::Gaps { rule } => self
                .days
                .iter()
                .zip(self.summaries)
                .map(|(days, s)| rule.score(days, self.as_of).as_customer_score(s.customer))
                .collect(),
        }
    }

    /// Writes every customer's row as CSV to `path`: chunks of customers made into text by one
    /// thread per core and written in order as they come, so memory holds a few chunks, not every
    /// row, and the writing overlaps the making.
    pub(super) fn write(
        &self,
        scores: &[CustomerScore],
        rfm: &[RfmScore],
        path: &std::path::Path,
    ) -> Result<(), AnalysisError> {
        let io = |e: std::io::Error| AnalysisError::Write(format!("{}: {e}", path.display()));
        let mut file = create(path).map_err(io)?;
        file.write_all(csv_row::HEADER.as_bytes()).map_err(io)?;
        let chunks = scores.len().div_ceil(CHUNK_ROWS);
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks);
        let next = AtomicUsize::new(0);
        // Written buffers come back to be filled again: their pages are already mapped.
        let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        let (sender, receiver) = mpsc::sync_channel::<(usize, Vec<u8>)>(workers);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (sender, next, spare) = (sender.clone(), &next, &spare);
                scope.spawn(move || {
                    let mut lines = Lines::default();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= chunks {
                            return;
                        }
                        let mut text = spare.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
                        text.clear();
                        let range = n * CHUNK_ROWS..((n + 1) * CHUNK_ROWS).min(scores.len());
                        for i in range {
                            self.line(&mut lines, &scores[i], &rfm[i], i, &mut text);
                        }
                        if sender.send((n, text)).is_err() {
                            // The writer stopped on an error: nothing more is wanted.
                            return;
                        }
                    }
                });
            }
            drop(sender);
            in_order(receiver, &mut file, &spare).map_err(io)
        })
    }

    /// Appends customer `i`'s row as a CSV line to `out`.
    fn line(&self, lines: &mut Lines, score: &CustomerScore, rfm: &RfmScore, i: usize, out: &mut Vec<u8>) {
        let summary = &self.summaries[i];
        lines.explanation.clear();
        let (expected_90, expected_365, next_days) =
            self.outlook(&mut lines.if_alive, i, score, &mut lines.explanation);
        let line = csv_row::Line {
            customer_id: self.log.customer_id(summary.customer),
            frequency: summary.frequency,
            numbers: [
                summary.recency,
                summary.age,
                summary.monetary,
                score.p_alive,
                expected_90,
                expected_365,
                score.expected_spend,
                score.clv,
            ],
            rfm: [rfm.recency, rfm.frequency, rfm.monetary],
            segment: rfm.segment.consistent_with(score.p_alive, rfm.frequency).key(),
            next_days,
            explanation: &lines.explanation,
        };
        csv_row::write(out, &line);
    }

    /// Customer `i`'s expected purchases in 90 and 365 days and days to the next purchase, its
    /// sentence appended to `explanation`.
    fn outlook(
        &self,
        if_alive: &mut IfAlive,
        i: usize,
        score: &CustomerScore,
        explanation: &mut String,
    ) -> (f64, f64, Option<f64>) {
        let summary = &self.summaries[i];
        match self.method {
            Method::Model { fitted, .. } => {
                let (t90, t365) = (90.0 / self.unit.days(), 365.0 / self.unit.days());
                // E[purchases] = P(alive) x E[purchases | alive], the second a function of frequency
                // and age alone (the model's own `expected_purchases`, with its P(alive) already
                // in the score): one pair of 2F1 series per distinct pair, not per customer.
                let (if_90, if_365) = *if_alive
                    .entry((summary.frequency, summary.age.to_bits()))
                    .or_insert_with(|| {
                        (
                            fitted.expected_purchases_if_alive(summary.frequency, summary.age, t90),
                            fitted.expected_purchases_if_alive(summary.frequency, summary.age, t365),
                        )
                    });
                explain_into(explanation, summary, score, &self.clv_options());
                let next = score.median_time_to_next_purchase.map(|t| t * self.unit.days());
                (score.p_alive * if_90, score.p_alive * if_365, next)
            }
            Method::Gaps { rule } => {
                let gap = rule.score(&self.days[i], self.as_of);
                explanation.push_str(&gap.explain(self.days[i].days.len()));
                (gap.expected_90d, gap.expected_365d, score.median_time_to_next_purchase)
            }
        }
    }

    /// Rows for the customers at the given indices of `summaries` (and the parallel `scores`).
    pub(super) fn rows(&self, scores: &[CustomerScore], rfm: &[RfmScore], which: &[usize]) -> Vec<ScoreRow> {
        let mut if_alive = IfAlive::default();
        which
            .iter()
            .map(|&i| {
                let (summary, score, rfm) = (&self.summaries[i], &scores[i], &rfm[i]);
                let mut explanation = String::new();
                let (expected_90, expected_365, next_days) = self.outlook(&mut if_alive, i, score, &mut explanation);
                ScoreRow {
                    customer_id: self.log.customer(summary.customer),
                    frequency: summary.frequency,
                    recency: summary.recency,
                    age: summary.age,
                    monetary_value: summary.monetary,
                    p_alive: score.p_alive,
                    expected_purchases_90d: expected_90,
                    expected_purchases_365d: expected_365,
                    expected_spend: score.expected_spend,
                    clv_12m: score.clv,
                    rfm_recency: rfm.recency,
                    rfm_frequency: rfm.frequency,
                    rfm_monetary: rfm.monetary,
                    segment: rfm.segment.consistent_with(score.p_alive, rfm.frequency),
                    expected_days_to_next_purchase: next_days,
                    explanation,
                }
            })
            .collect()
    }
}

/// Rows a writing thread makes into one buffer before handing it over (about 1.3 MB of text):
/// small, because every buffer between the threads and the file is memory held at once.
const CHUNK_ROWS: usize = 4_096;

/// Expected purchases in 90 and 365 days of a customer alive now, by frequency and age (bits).
type IfAlive = hashbrown::HashMap<(u32, u64), (f64, f64), foldhash::fast::FixedState>;

/// What a writing thread keeps from row to row.
#[derive(Default)]
struct Lines {
    if_alive: IfAlive,
    explanation: String,
}

/// Creates the scores file. An existing file with no other name is removed first rather than
/// truncated: ext4 writes out a file truncated to nothing as it is closed (its `auto_da_alloc`
/// guard for programs that rewrite files in place), which cost 0.2 s of a run writing 300 MB over
/// the last run's scores. The new file gets the default permissions, not the old file's.
fn create(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let single = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.nlink() == 1);
        if single {
            // A file that cannot be removed may still be writable: creating it then says.
            let _ = std::fs::remove_file(path);
        }
    }
    std::fs::File::create(path)
}

/// Writes the numbered buffers to `file` in their order, whatever order they arrive in, and
/// hands each back to `spare` once written.
fn in_order(
    receiver: mpsc::Receiver<(usize, Vec<u8>)>,
    file: &mut std::fs::File,
    spare: &Mutex<Vec<Vec<u8>>>,
) -> std::io::Result<()> {
    let mut waiting = std::collections::BTreeMap::new();
    let mut due = 0;
    for (n, text) in receiver {
        waiting.insert(n, text);
        while let Some(text) = waiting.remove(&due) {
            file.write_all(&text)?;
            if let Ok(mut spare) = spare.lock() {
                spare.push(text);
            }
            due += 1;
        }
    }
    Ok(())
}
