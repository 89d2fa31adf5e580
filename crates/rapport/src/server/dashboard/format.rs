//! Numbers, money and times as the pages print them, in the business's time zone and currency.

use chrono_tz::Tz;

use crate::domain::Currency;

/// Where the business is: pages show times in its zone and totals in its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    /// The time zone pages show times and days in.
    pub time_zone: Tz,
    /// The currency of totals and lifetime values, which add amounts of every purchase as they
    /// are (purchases show their own currency).
    pub currency: Currency,
}

impl Default for Locale {
    fn default() -> Self {
        Self {
            time_zone: Tz::UTC,
            currency: Currency::default(),
        }
    }
}

impl Locale {
    /// Unix seconds as the business's calendar day: `2026-11-24`.
    pub fn day(&self, seconds: i64) -> String {
        self.at(seconds, "%Y-%m-%d")
    }

    /// An optional time as the business's day, or a dash.
    pub fn opt_day(&self, seconds: Option<i64>) -> String {
        seconds.map_or_else(|| "–".to_owned(), |s| self.day(s))
    }

    /// Unix seconds as local minutes with the zone's abbreviation (or offset where the zone has
    /// none): `2026-11-24 11:15 CET`.
    pub fn minute(&self, seconds: i64) -> String {
        self.at(seconds, "%Y-%m-%d %H:%M %Z")
    }

    fn at(&self, seconds: i64, pattern: &str) -> String {
        chrono::DateTime::from_timestamp(seconds, 0).map_or_else(String::new, |t| {
            t.with_timezone(&self.time_zone).format(pattern).to_string()
        })
    }

    /// Cents in the business's currency: `1,234.50 USD`.
    pub fn money(&self, cents: i64) -> String {
        format!("{} {}", money(cents), self.currency.as_str())
    }

    /// Currency units in the business's currency, rounded to cents: `1,234.50 USD`.
    pub fn amount(&self, value: f64) -> String {
        format!("{} {}", amount(value), self.currency.as_str())
    }
}

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
    fn times_show_the_business_zone_and_its_abbreviation_and_amounts_their_currency() {
        let berlin = Locale {
            time_zone: "Europe/Berlin".parse().unwrap(),
            currency: Currency::parse("eur").unwrap(),
        };
        // 2026-11-24 23:30 UTC is already the 25th in Berlin (CET, UTC+1); July is summer time.
        let late = 1_795_563_000;
        assert_eq!(berlin.minute(late), "2026-11-25 00:30 CET");
        assert_eq!(berlin.day(late), "2026-11-25");
        assert_eq!(berlin.minute(1_783_000_000), "2026-07-02 15:46 CEST");
        assert_eq!(Locale::default().minute(late), "2026-11-24 23:30 UTC");
        assert_eq!(berlin.money(123_456), "1,234.56 EUR");
        assert_eq!(Locale::default().amount(2.5), "2.50 USD");
    }

    #[test]
    fn urls_keep_only_unreserved_characters() {
        assert_eq!(url_encode("/customers?q=a b&x"), "%2Fcustomers%3Fq%3Da%20b%26x");
        assert_eq!(url_encode("D00042"), "D00042");
    }
}
