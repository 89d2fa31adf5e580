//! Per-customer scores and their sentences, for either method (a fitted model or the gaps rule):
//! held in memory for a few rows, or written to a file a chunk at a time.

use rapport_models::{
    ClvOptions, CustomerModel, CustomerScore, CustomerSummary, PurchaseDays, RfmScore, TimeUnit, explain,
    purchase_days, rfm_scores, score_customers,
};

use super::{AnalysisError, Method, PurchaseLog, ScoreRow};

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

    /// Rows for the customers at the given indices of `summaries` (and the parallel `scores`).
    /// Writes every customer's row as CSV to `path`: chunks of customers made into text on two
    /// threads and written in order, so memory holds two chunks, not every row.
    pub(super) fn write(
        &self,
        scores: &[CustomerScore],
        rfm: &[RfmScore],
        path: &std::path::Path,
    ) -> Result<(), AnalysisError> {
        // At least eight chunks, so both threads stay busy, of at most 50,000 rows each.
        let chunk = (scores.len() / 8).clamp(1_000, 50_000);
        let io = |e: std::io::Error| AnalysisError::Write(format!("{}: {e}", path.display()));
        let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
        let chunks: Vec<Vec<usize>> = (0..scores.len())
            .collect::<Vec<_>>()
            .chunks(chunk)
            .map(<[usize]>::to_vec)
            .collect();
        let text = |n: usize| -> Result<Vec<u8>, String> {
            let mut out = csv::WriterBuilder::new().has_headers(n == 0).from_writer(Vec::new());
            for row in self.rows(scores, rfm, &chunks[n]) {
                out.serialize(row).map_err(|e| e.to_string())?;
            }
            out.into_inner().map_err(|e| e.to_string())
        };
        for pair in (0..chunks.len()).collect::<Vec<_>>().chunks(2) {
            let (first, second) = std::thread::scope(|scope| {
                let second = pair.get(1).map(|n| scope.spawn(move || text(*n)));
                (
                    text(pair[0]),
                    second.map(|h| h.join().map_err(|_| "a writing thread failed".to_owned())),
                )
            });
            for part in std::iter::once(first).chain(second.map(|r| r.and_then(|x| x))) {
                let bytes = part.map_err(AnalysisError::Write)?;
                std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
            }
        }
        std::io::Write::flush(&mut file).map_err(io)
    }

    pub(super) fn rows(&self, scores: &[CustomerScore], rfm: &[RfmScore], which: &[usize]) -> Vec<ScoreRow> {
        if which.is_empty() {
            return Vec::new();
        }
        let (t90, t365) = (90.0 / self.unit.days(), 365.0 / self.unit.days());
        which
            .iter()
            .map(|&i| {
                let (summary, score, rfm) = (&self.summaries[i], &scores[i], &rfm[i]);
                let (expected_90, expected_365, explanation, next_days) = match self.method {
                    Method::Model { fitted, .. } => {
                        let history = summary.history();
                        (
                            fitted.expected_purchases(&history, t90),
                            fitted.expected_purchases(&history, t365),
                            explain(summary, score, &self.clv_options()),
                            score.median_time_to_next_purchase.map(|t| t * self.unit.days()),
                        )
                    }
                    Method::Gaps { rule } => {
                        let gap = rule.score(&self.days[i], self.as_of);
                        let next = score.median_time_to_next_purchase;
                        (
                            gap.expected_90d,
                            gap.expected_365d,
                            gap.explain(self.days[i].days.len()),
                            next,
                        )
                    }
                };
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
