//! Numbers, money and times as the pages print them.

use crate::domain::state::{day_of, format_day};

/// An integer with thousands separators: `1234567` -> `1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cents as money with separators: `123456789` -> `1,234,567.89`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", grouped((abs / 100) as i64), abs % 100)
}

/// An amount in currency units, rounded to cents: `1234.5` -> `1,234.50`.
pub fn amount(value: f64) -> String {
    money((value * 100.0).round() as i64)
}

/// A share as a percentage with one decimal: `0.4213` -> `42.1 %`.
pub fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// `part / whole` as a percentage, or a dash when `whole` is 0.
pub fn ratio(part: i64, whole: i64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        percent(part as f64 / whole as f64)
    }
}

/// Unix seconds as a UTC day: `2026-11-24`.
pub fn day(seconds: i64) -> String {
    format_day(day_of(seconds))
}

/// An optional time as a day, or a dash.
pub fn opt_day(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "–".to_owned(), day)
}

/// Unix seconds as UTC minutes: `2026-11-24 10:15 UTC`.
pub fn minute(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// Percent-encodes everything but unreserved characters, for a value inside a URL.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_separators_and_money_two_decimals() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1_000), "-1,000");
        assert_eq!(money(123_456_789), "1,234,567.89");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(amount(1234.5), "1,234.50");
        assert_eq!(ratio(1, 4), "25.0 %");
        assert_eq!(ratio(1, 0), "–");
    }

    #[test]
    fn urls_keep_only_unreserved_characters() {
        assert_eq!(url_encode("/customers?q=a b&x"), "%2Fcustomers%3Fq%3Da%20b%26x");
        assert_eq!(url_encode("D00042"), "D00042");
    }
}
