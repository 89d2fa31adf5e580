//! One plain sentence per customer explaining the score.

use std::fmt::Write;

use crate::clv::{ClvOptions, CustomerScore};
use crate::summary::{CustomerSummary, TimeUnit};

/// A one-sentence explanation of a customer's score for a shop owner.
///
/// For example "bought 8 times, usually every 4 weeks; nothing for 11 weeks: P(alive)
/// 0.31, about 0.8 more purchases worth 41.20 expected in the next 12 months", or
/// "bought 7 times, usually every 7 weeks; nothing for 2 weeks: P(alive) 0.86, likely to
/// buy again within 8 weeks, about 4.5 more purchases worth 160.20 expected in the next 12
/// months". The value is the discounted CLV of the score.
pub fn explain(summary: &CustomerSummary, score: &CustomerScore, options: &ClvOptions) -> String {
    let mut sentence = String::new();
    explain_into(&mut sentence, summary, score, options);
    sentence
}

/// [`explain`], appended to `out`: a million sentences then need no allocation each.
pub fn explain_into(out: &mut String, summary: &CustomerSummary, score: &CustomerScore, options: &ClvOptions) {
    // Writing to a `String` cannot fail.
    let _ = sentence(out, summary, score, options);
}

fn sentence(
    out: &mut String,
    summary: &CustomerSummary,
    score: &CustomerScore,
    options: &ClvOptions,
) -> std::fmt::Result {
    let unit = options.unit;
    let since = span(summary.age - summary.recency, unit);
    if summary.frequency == 0 {
        match since {
            Some(s) => write!(out, "bought once, {s} ago")?,
            None => out.push_str("bought once, today"),
        }
    } else {
        let every = span(summary.recency / f64::from(summary.frequency), unit);
        match summary.frequency {
            1 => out.push_str("bought twice, "),
            x => write!(out, "bought {} times, ", x + 1)?,
        }
        match (summary.frequency, every) {
            (1, Some(e)) => write!(out, "{e} apart")?,
            (1, None) => out.push_str("the same day"),
            (_, Some(e)) => write!(out, "usually every {e}")?,
            (_, None) => out.push_str("several times a day"),
        }
        match since {
            Some(s) => write!(out, "; nothing for {s}")?,
            None => out.push_str("; last bought today"),
        }
    }
    write!(out, ": P(alive) {:.2}", score.p_alive)?;
    outlook(out, score, options)
}

/// The forward-looking clause: the next purchase when it falls inside the horizon, then
/// the expected purchases and their value, or that none are expected.
fn outlook(out: &mut String, score: &CustomerScore, options: &ClvOptions) -> std::fmt::Result {
    let months = options.months;
    let month_word = if months == 1 { "month" } else { "months" };
    if score.expected_purchases < 0.05 {
        return write!(out, ", unlikely to buy in the next {months} {month_word}");
    }
    let horizon = f64::from(months) * options.unit.per_month();
    let next = score
        .median_time_to_next_purchase
        .filter(|t| *t <= horizon)
        .and_then(|t| span(t, options.unit));
    if let Some(t) = next {
        write!(out, ", likely to buy again within {t}")?;
    }
    write!(out, ", about {:.1} more purchases", score.expected_purchases)?;
    if score.clv > 0.0 {
        write!(out, " worth {:.2}", score.clv)?;
    }
    write!(out, " expected in the next {months} {month_word}")
}

/// A whole number of units (or days when under one week).
struct Span {
    count: u64,
    unit: TimeUnit,
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.count, self.unit.name(self.count))
    }
}

/// A whole number of units (or days when under one week), None when under half a day.
fn span(t: f64, unit: TimeUnit) -> Option<Span> {
    let days = t * unit.days();
    if days.is_nan() || days < 0.5 {
        return None;
    }
    let (count, unit) = match unit {
        TimeUnit::Week if days < 7.0 => (days.round(), TimeUnit::Day),
        _ => (t.round(), unit),
    };
    Some(Span {
        count: count as u64,
        unit,
    })
}
