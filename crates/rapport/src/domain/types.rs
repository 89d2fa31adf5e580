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

    /// Trims surrounding white space and rejects empty or overlong ids.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
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
        Ok(Self(id.to_owned()))
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
    /// Parses a decimal amount such as `29.33`, `-5`, `1e2` is refused; more than two decimals round half away from zero.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        parse_cents(raw.trim().as_bytes()).map(Money).ok_or_else(|| {
            ParseError(format!(
                "'{}' is not an amount (expected a number such as 12.50)",
                raw.trim()
            ))
        })
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

fn parse_cents(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (whole, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let mut cents: i64 = 0;
    for &b in whole {
        cents = cents.checked_mul(10)?.checked_add(digit(b)?)?;
    }
    cents = cents.checked_mul(100)?;
    for (i, &b) in frac.iter().enumerate() {
        let d = digit(b)?;
        match i {
            0 => cents = cents.checked_add(d * 10)?,
            1 => cents = cents.checked_add(d)?,
            2 if d >= 5 => cents = cents.checked_add(1)?,
            _ => {}
        }
    }
    Some(if negative { -cents } else { cents })
}

fn digit(b: u8) -> Option<i64> {
    b.is_ascii_digit().then(|| i64::from(b - b'0'))
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
                "'{code}' is not a currency code (expected three letters such as EUR)"
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
    /// Accepts `local@domain` with a dot in the domain and no white space.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let email = raw.trim();
        let bad = || ParseError(format!("'{email}' is not an e-mail address"));
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let shaped = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(char::is_whitespace)
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
        assert_eq!(Money::parse("12.345"), Ok(Money(1235)));
        assert_eq!(Money(-1234).to_string(), "-12.34");
    }

    #[test]
    fn money_rejects_text_and_overflow() {
        for bad in ["", "abc", "1.2.3", "12,50", "1e2", "-", "99999999999999999999"] {
            assert!(Money::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn external_id_is_trimmed_and_never_empty() {
        assert_eq!(ExternalId::parse("  00042 ").unwrap().as_str(), "00042");
        assert!(ExternalId::parse("   ").is_err());
        assert!(ExternalId::parse(&"x".repeat(201)).is_err());
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
