//! One plain sentence per customer explaining the score.

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
    let unit = options.unit;
    let since = span(summary.age - summary.recency, unit);
    let mut sentence = if summary.frequency == 0 {
        match since {
            Some(s) => format!("bought once, {s} ago"),
            None => "bought once, today".to_string(),
        }
    } else {
        let every = span(summary.recency / f64::from(summary.frequency), unit);
        let (times, rhythm) = match (summary.frequency, every) {
            (1, Some(e)) => ("twice".to_string(), format!("{e} apart")),
            (1, None) => ("twice".to_string(), "the same day".to_string()),
            (x, Some(e)) => (format!("{} times", x + 1), format!("usually every {e}")),
            (x, None) => (format!("{} times", x + 1), "several times a day".to_string()),
        };
        let quiet = since.map_or("last bought today".to_string(), |s| format!("nothing for {s}"));
        format!("bought {times}, {rhythm}; {quiet}")
    };
    sentence.push_str(&format!(": P(alive) {:.2}", score.p_alive));
    sentence.push_str(&outlook(score, options));
    sentence
}

/// The forward-looking clause: the next purchase when it falls inside the horizon, then
/// the expected purchases and their value, or that none are expected.
fn outlook(score: &CustomerScore, options: &ClvOptions) -> String {
    let months = options.months;
    let month_word = if months == 1 { "month" } else { "months" };
    let horizon = f64::from(months) * options.unit.per_month();
    let next = score
        .median_time_to_next_purchase
        .filter(|t| *t <= horizon)
        .and_then(|t| span(t, options.unit))
        .map(|t| format!(", likely to buy again within {t}"))
        .unwrap_or_default();
    if score.expected_purchases < 0.05 {
        return format!(", unlikely to buy in the next {months} {month_word}");
    }
    let worth = if score.clv > 0.0 {
        format!(" worth {:.2}", score.clv)
    } else {
        String::new()
    };
    format!(
        "{next}, about {:.1} more purchases{worth} expected in the next {months} {month_word}",
        score.expected_purchases
    )
}

/// A whole number of units (or days when under one week), None when under half a day.
fn span(t: f64, unit: TimeUnit) -> Option<String> {
    let days = t * unit.days();
    if days.is_nan() || days < 0.5 {
        return None;
    }
    let (count, unit) = match unit {
        TimeUnit::Week if days < 7.0 => (days.round(), TimeUnit::Day),
        _ => (t.round(), unit),
    };
    let count = count as u64;
    Some(format!("{count} {}", unit.name(count)))
}
