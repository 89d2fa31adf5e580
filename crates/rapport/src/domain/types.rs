//! Typed values parsed at the edge, so the core never re-checks strings.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value given from outside could not be turned into a typed value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Rapport's own id for a customer (the store assigns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(pub i64);

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The business's own id for a customer (from its shop system): unique, non-empty, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Longest external id accepted, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Trims surrounding white space and rejects empty or overlong ids and control characters.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::check(raw).map(|id| Self(id.to_owned()))
    }

    /// The trimmed id if `parse` would accept it, without allocating: for reading large files.
    pub fn check(raw: &str) -> Result<&str, ParseError> {
        let id = raw.trim();
        if id.is_empty() {
            return Err(ParseError("customer id is empty".into()));
        }
        if id.len() > Self::MAX_LEN {
            return Err(ParseError(format!(
                "customer id is {} bytes long, the limit is {}",
                id.len(),
                Self::MAX_LEN
            )));
        }
        super::rules::check_characters("customer id", id, super::rules::Lines::One)?;
        Ok(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money in minor units (cents), exact: never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    /// The largest amount one event may carry: ten billion in major units. Sums of millions of
    /// such amounts still fit in 64 bits, so no total can wrap around.
    pub const MAX: Money = Money(1_000_000_000_000);

    /// Parses a decimal amount such as `29.33` or `-5` exactly: at most two decimals (`1.005` is
    /// refused, not rounded; `1.500` is 1.50), no exponent, no thousands separator, and no larger
    /// than `Money::MAX` either way.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim();
        let cents = parse_cents(raw.as_bytes()).map_err(|problem| {
            let raw = super::rules::excerpt(raw);
            ParseError(match problem {
                Problem::NotANumber => format!("'{raw}' is not an amount (expected a number such as 12.50)"),
                Problem::Decimals => format!("'{raw}' has more than two decimals"),
                Problem::TooLarge => format!("'{raw}' is larger than the largest amount accepted, {}", Money::MAX),
            })
        })?;
        Ok(Money(cents))
    }

    /// A purchase's amount: as `parse`, and not negative (a refund is not a purchase).
    pub fn parse_purchase(raw: &str) -> Result<Self, ParseError> {
        let amount = Self::parse(raw)?;
        if amount.0 < 0 {
            return Err(ParseError(format!(
                "amount {} is negative: a refund is not a purchase",
                super::rules::excerpt(raw.trim())
            )));
        }
        Ok(amount)
    }

    /// The amount in major units, for display and models.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Why a text is not an amount.
enum Problem {
    NotANumber,
    Decimals,
    TooLarge,
}

fn parse_cents(s: &[u8]) -> Result<i64, Problem> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (whole, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if whole.is_empty() && frac.is_empty() || !whole.iter().chain(frac).all(u8::is_ascii_digit) {
        return Err(Problem::NotANumber);
    }
    if frac.iter().skip(2).any(|&b| b != b'0') {
        return Err(Problem::Decimals);
    }
    let mut cents: i64 = 0;
    for &b in whole {
        cents = cents
            .checked_mul(10)
            .and_then(|c| c.checked_add(i64::from(b - b'0')))
            .filter(|c| *c <= Money::MAX.0)
            .ok_or(Problem::TooLarge)?;
    }
    let tenths = frac.first().map_or(0, |b| i64::from(b - b'0'));
    let hundredths = frac.get(1).map_or(0, |b| i64::from(b - b'0'));
    cents = cents * 100 + tenths * 10 + hundredths;
    if cents > Money::MAX.0 {
        return Err(Problem::TooLarge);
    }
    Ok(if negative { -cents } else { cents })
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    /// Accepts three ASCII letters in any case and stores them upper-case.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let code = raw.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(ParseError(format!(
                "'{}' is not a currency code (expected three letters such as EUR)",
                super::rules::excerpt(code)
            )))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self("USD".into())
    }
}

/// An e-mail address, checked for the shape `local@domain.tld` and lower-cased in its domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain` with a dot in the domain, no white space or control characters,
    /// at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let email = raw.trim();
        if email.chars().count() > super::rules::MAX_EMAIL {
            return Err(ParseError(format!(
                "e-mail address is longer than {} characters",
                super::rules::MAX_EMAIL
            )));
        }
        let bad = || ParseError(format!("'{}' is not an e-mail address", super::rules::excerpt(email)));
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let shaped = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && !domain.contains('@');
        if !shaped {
            return Err(bad());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_exact_cents_without_floats() {
        assert_eq!(Money::parse("29.33"), Ok(Money(2933)));
        assert_eq!(Money::parse("-5"), Ok(Money(-500)));
        assert_eq!(Money::parse("0.1"), Ok(Money(10)));
        assert_eq!(Money::parse(".5"), Ok(Money(50)));
        assert_eq!(Money::parse("12.340"), Ok(Money(1234)));
        assert_eq!(Money(-1234).to_string(), "-12.34");
    }

    #[test]
    fn money_rejects_text_and_overflow() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "12,50",
            "1e2",
            "-",
            "99999999999999999999",
            "1 000",
            ".",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn money_refuses_a_third_decimal_instead_of_rounding_it() {
        assert_eq!(
            Money::parse("1.005").unwrap_err().0,
            "'1.005' has more than two decimals"
        );
    }

    #[test]
    fn money_has_a_maximum_so_sums_cannot_wrap() {
        assert_eq!(Money::parse("10000000000.00"), Ok(Money::MAX));
        assert_eq!(Money::parse("-10000000000"), Ok(Money(-Money::MAX.0)));
        let error = Money::parse("92233720368547758.07").unwrap_err();
        assert!(
            error
                .0
                .contains("larger than the largest amount accepted, 10000000000.00"),
            "{error}"
        );
        assert!(Money::parse("10000000000.01").is_err());
    }

    #[test]
    fn purchase_amounts_are_not_negative() {
        assert_eq!(Money::parse_purchase("0"), Ok(Money(0)));
        let error = Money::parse_purchase("-5.00").unwrap_err();
        assert_eq!(error.0, "amount -5.00 is negative: a refund is not a purchase");
    }

    #[test]
    fn external_id_is_trimmed_and_never_empty() {
        assert_eq!(ExternalId::parse("  00042 ").unwrap().as_str(), "00042");
        assert!(ExternalId::parse("   ").is_err());
        assert!(ExternalId::parse(&"x".repeat(201)).is_err());
        assert!(ExternalId::parse("a\u{0}1").is_err());
        assert!(ExternalId::parse("\u{1b}[31mred").is_err());
    }

    #[test]
    fn email_and_currency_are_checked() {
        assert_eq!(Email::parse("Ann@Example.COM").unwrap().as_str(), "Ann@example.com");
        assert!(Email::parse("ann.example.com").is_err());
        assert!(Email::parse("ann@localhost").is_err());
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO").is_err());
    }
}
