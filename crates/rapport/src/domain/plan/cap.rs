//! The contact cap: how many messages one customer may get from every plan together.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Span;
use crate::domain::state::format_day;

/// How many messages one customer may get, across every plan: each rule allows at most
/// `messages` within `within` (the default: one in 3 days and four in 30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContactCap {
    rules: Vec<(u32, Span)>,
}

impl Default for ContactCap {
    fn default() -> Self {
        Self {
            rules: vec![(1, Span::days(3)), (4, Span::days(30))],
        }
    }
}

impl ContactCap {
    /// Reads `1 per 3d, 4 per 30d`; `none` for no cap.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Self { rules: Vec::new() });
        }
        let mut rules = Vec::new();
        for rule in text.split(',') {
            let (count, span) = rule.split_once(" per ").ok_or_else(|| {
                format!(
                    "'{}' is not a cap: write '1 per 3d, 4 per 30d' (or 'none')",
                    rule.trim()
                )
            })?;
            let count: u32 = count
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{}' is not a number of messages above 0", count.trim()))?;
            rules.push((count, Span::parse(span.trim())?));
        }
        Ok(Self { rules })
    }

    /// The longest window a rule looks back over: what `check` needs of the past.
    pub fn horizon(&self) -> i64 {
        self.rules.iter().map(|(_, span)| span.seconds).max().unwrap_or(0)
    }

    /// `Ok` when one more message at `now` stays within every rule, given the times of the
    /// customer's earlier messages; otherwise the rule it would break, in words.
    pub fn check(&self, sent: &[i64], now: i64) -> Result<(), String> {
        for (count, span) in &self.rules {
            let recent: Vec<i64> = sent.iter().copied().filter(|at| now - at < span.seconds).collect();
            if recent.len() >= *count as usize {
                let last = recent.iter().max().copied().unwrap_or(now);
                let messages = if *count == 1 { "message" } else { "messages" };
                return Err(format!(
                    "contact cap: {count} {messages} within {span} (the last on {})",
                    format_day(last.div_euclid(86_400))
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for ContactCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("none");
        }
        for (i, (count, span)) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{count} per {span}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for ContactCap {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        ContactCap::parse(&text)
    }
}

impl From<ContactCap> for String {
    fn from(cap: ContactCap) -> String {
        cap.to_string()
    }
}
