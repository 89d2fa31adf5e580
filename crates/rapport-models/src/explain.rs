//! One plain sentence per customer explaining the score.

use crate::clv::{ClvOptions, CustomerScore};
use crate::summary::{CustomerSummary, TimeUnit};

/// A one-sentence explanation of a customer's score for a shop owner.
///
/// For example "bought 8 times, usually every 4 weeks; nothing for 11 weeks: P(alive)
/// 0.31, about 0.8 more purchases worth 41.20 expected in the next 12 months", or
/// "bought once, 12 weeks ago: P(alive) 1.00, likely to buy again within 9 weeks".
pub fn explain(summary: &CustomerSummary, score: &CustomerScore, options: &ClvOptions) -> String {
    let unit = options.unit;
    let since = span(summary.age - summary.recency, unit);
    let mut sentence = if summary.frequency == 0 {
        match since {
            Some(s) => format!("bought once, {s} ago"),
            None => "bought once, today".to_string(),
        }
    } else {
        let every = summary.recency / f64::from(summary.frequency);
        let times = match summary.frequency + 1 {
            2 => "twice".to_string(),
            n => format!("{n} times"),
        };
        let rhythm = span(every, unit).map_or("several times a day".to_string(), |e| {
            format!("usually every {e}")
        });
        let quiet = since.map_or("last bought today".to_string(), |s| {
            format!("nothing for {s}")
        });
        format!("bought {times}, {rhythm}; {quiet}")
    };
    sentence.push_str(&format!(": P(alive) {:.2}", score.p_alive));
    sentence.push_str(&outlook(score, options));
    sentence
}

/// The forward-looking clause: next purchase or expected value, when it says something.
fn outlook(score: &CustomerScore, options: &ClvOptions) -> String {
    let months = options.months;
    let month_word = if months == 1 { "month" } else { "months" };
    if let Some(next) = score
        .median_time_to_next_purchase
        .and_then(|t| span(t, options.unit))
    {
        return format!(", likely to buy again within {next}");
    }
    if score.expected_purchases >= 0.05 && score.clv > 0.0 {
        return format!(
            ", about {:.1} more purchases worth {:.2} expected in the next {months} {month_word}",
            score.expected_purchases, score.clv
        );
    }
    if score.p_alive < 0.5 {
        return ", probably gone".to_string();
    }
    String::new()
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
