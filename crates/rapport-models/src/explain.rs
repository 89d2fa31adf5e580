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
    out.push_str(": P(alive) ");
    fixed(out, score.p_alive, 2)?;
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
    out.push_str(", about ");
    fixed(out, score.expected_purchases, 1)?;
    out.push_str(" more purchases");
    if score.clv > 0.0 {
        out.push_str(" worth ");
        fixed(out, score.clv, 2)?;
    }
    write!(out, " expected in the next {months} {month_word}")
}

/// Writes `value` with 1 or 2 decimals exactly as `{:.1}` or `{:.2}` does (the decimal expansion
/// rounded, ties to even), which is slow for a million sentences; the common case is done here.
/// The product with 10 or 100 is off by at most 1.2e-7 below 1e9, so a fraction further than
/// 1e-6 from one half rounds to the same whole number as the exact value; the rest (near a tie,
/// negative, large or not a number) goes to `format!`'s own rounding.
fn fixed(out: &mut String, value: f64, decimals: usize) -> std::fmt::Result {
    let scale: u64 = if decimals == 1 { 10 } else { 100 };
    let scaled = value * scale as f64;
    if value.is_sign_positive() && scaled < 1e9 {
        let floor = scaled.floor();
        let fraction = scaled - floor;
        if (fraction - 0.5).abs() > 1e-6 {
            let n = floor as u64 + u64::from(fraction > 0.5);
            return write!(out, "{}.{:0decimals$}", n / scale, n % scale);
        }
    }
    write!(out, "{value:.decimals$}")
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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::fixed;

    #[test]
    fn fixed_decimals_are_what_format_writes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let edges = [
            0.0,
            -0.0,
            0.005,
            0.015,
            0.125,
            0.25,
            0.95,
            0.995,
            1.0,
            2.675,
            1e9,
            1e300,
            -1.5,
            f64::NAN,
        ];
        let random = (0..200_000).map(|i| {
            let unit: f64 = rng.random();
            // Whole cents and tenths sit on or near a tie; the others anywhere.
            match i % 4 {
                0 => (unit * 10_000.0).round() / 100.0 + 0.005,
                1 => (unit * 1_000.0).round() / 10.0 + 0.05,
                2 => unit,
                _ => unit * 1e7,
            }
        });
        for value in edges.into_iter().chain(random) {
            for decimals in [1, 2] {
                let mut out = String::new();
                fixed(&mut out, value, decimals).unwrap();
                assert_eq!(out, format!("{value:.decimals$}"), "{value:e} to {decimals}");
            }
        }
    }
}
