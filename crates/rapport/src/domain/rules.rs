//! The input rules every entry point shares (file imports, the API, the dashboard, the CLI): how
//! long a text may be, which characters it may hold, which times and quantities make sense, how
//! large a customer's attributes may grow. One set of rules, so an import and an API call can
//! never disagree about what is valid.

use super::types::ParseError;

/// Longest order id, in characters.
pub const MAX_ORDER_ID: usize = 200;
/// Longest name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest phone number, in characters.
pub const MAX_PHONE: usize = 50;
/// Longest e-mail address, in characters (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest interaction channel ("phone", "visit"), in characters.
pub const MAX_CHANNEL: usize = 50;
/// Longest note or interaction text, in characters.
pub const MAX_NOTE: usize = 5_000;
/// Most items one purchase may count.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// How far in the future an event may be dated: clocks drift, but orders are not placed tomorrow.
pub const FUTURE_SLACK_SECONDS: i64 = 24 * 3600;
/// Most attributes one customer may carry.
pub const MAX_ATTRIBUTES: usize = 100;
/// Longest attribute name, in characters.
pub const MAX_ATTRIBUTE_NAME: usize = 100;
/// Largest a customer's attributes may be, written as JSON, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// Whether a text may span lines (notes) or must stay on one (ids, names, channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// No line breaks: ids, names, phone numbers, channels.
    One,
    /// Line breaks and tabs allowed: notes, interactions' text.
    Many,
}

/// A text field from outside, trimmed; `None` when empty. Refused when longer than `max_chars`
/// or holding a control character (a NUL or an escape sequence would reach terminals and pages).
pub fn text(field: &str, raw: &str, max_chars: usize, lines: Lines) -> Result<Option<String>, ParseError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(ParseError(format!(
            "{field} is {chars} characters long, the limit is {max_chars}"
        )));
    }
    check_characters(field, value, lines)?;
    Ok(Some(value.to_owned()))
}

/// Refuses control characters: all of them on one line; all but line breaks and tabs in a text
/// that may span lines.
pub fn check_characters(field: &str, value: &str, lines: Lines) -> Result<(), ParseError> {
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    match value.chars().enumerate().find(|(_, c)| c.is_control() && !allowed(*c)) {
        Some((at, c)) => Err(ParseError(format!(
            "{field} contains the control character U+{:04X} at character {}",
            u32::from(c),
            at + 1
        ))),
        None => Ok(()),
    }
}

/// At most the first 60 characters of a value, for quoting it in a message: a 10 MB field
/// would else be echoed whole.
pub fn excerpt(value: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 60;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &value[..cut], value.len()).into(),
        None => value.into(),
    }
}

/// Text for a terminal: control characters (escape sequences among them) written as `\u{1b}`
/// escapes, so stored text cannot move the cursor or recolour the screen; line breaks and tabs kept.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// Longest search text, in characters.
pub const MAX_SEARCH: usize = 200;

/// A search for customers (part of a name, e-mail or id): one line, no control characters (a NUL
/// would reach the index's query), trimmed; `None` when empty.
pub fn search(raw: &str) -> Result<Option<String>, ParseError> {
    text("the search", raw, MAX_SEARCH, Lines::One)
}

/// When an event happened, as Unix seconds: not before 1970 and not later than a day after `now`.
pub fn event_time(at: i64, now: i64) -> Result<i64, ParseError> {
    let shown = || super::state::format_day(super::state::day_of(at));
    if at < 0 {
        return Err(ParseError(format!("{} is before 1970", shown())));
    }
    if at > now + FUTURE_SLACK_SECONDS {
        return Err(ParseError(format!("{} is in the future", shown())));
    }
    Ok(at)
}

/// A purchase's item count: 0 to `MAX_QUANTITY`.
pub fn quantity(raw: &str) -> Result<i64, ParseError> {
    let raw = raw.trim();
    let q: i64 = raw
        .parse()
        .map_err(|_| ParseError(format!("'{raw}' is not a whole number")))?;
    if !(0..=MAX_QUANTITY).contains(&q) {
        return Err(ParseError(format!("quantity {q} is not between 0 and {MAX_QUANTITY}")));
    }
    Ok(q)
}

/// Checks a customer's attributes: at most `MAX_ATTRIBUTES`, names of one line up to
/// `MAX_ATTRIBUTE_NAME` characters, text values without control characters, and all of them
/// together at most `MAX_ATTRIBUTES_BYTES` written as JSON.
pub fn attributes(map: &serde_json::Map<String, serde_json::Value>) -> Result<(), ParseError> {
    if map.len() > MAX_ATTRIBUTES {
        return Err(ParseError(format!(
            "attributes has {} fields, the limit is {MAX_ATTRIBUTES}",
            map.len()
        )));
    }
    for (name, value) in map {
        if text("attribute name", name, MAX_ATTRIBUTE_NAME, Lines::One)?.is_none() {
            return Err(ParseError("attributes has a field with an empty name".into()));
        }
        if let serde_json::Value::String(s) = value {
            check_characters(&format!("attribute '{name}'"), s, Lines::Many)?;
        }
    }
    let bytes = serde_json::to_string(map).map_or(usize::MAX, |s| s.len());
    if bytes > MAX_ATTRIBUTES_BYTES {
        return Err(ParseError(format!(
            "attributes take {bytes} bytes as JSON, the limit is {MAX_ATTRIBUTES_BYTES}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_empty_is_none() {
        assert_eq!(text("name", "  Ann  ", 10, Lines::One), Ok(Some("Ann".into())));
        assert_eq!(text("name", "   ", 10, Lines::One), Ok(None));
    }

    #[test]
    fn text_over_the_limit_names_the_field_and_the_length() {
        let error = text("name", &"é".repeat(201), MAX_NAME, Lines::One).unwrap_err();
        assert_eq!(error.0, "name is 201 characters long, the limit is 200");
    }

    #[test]
    fn control_characters_are_refused_but_notes_keep_their_lines() {
        for bad in ["a\u{0}b", "a\u{1b}[31mb", "a\nb", "a\u{7f}"] {
            assert!(text("name", bad, 100, Lines::One).is_err(), "{bad:?}");
        }
        let error = text("name", "ab\u{1b}[2J", 100, Lines::One).unwrap_err();
        assert_eq!(error.0, "name contains the control character U+001B at character 3");
        assert!(text("note", "first line\r\n\tsecond", 100, Lines::Many).is_ok());
        assert!(text("note", "bell\u{7}", 100, Lines::Many).is_err());
    }

    #[test]
    fn excerpts_cut_long_values_and_keep_short_ones() {
        assert_eq!(excerpt("short"), "short");
        let long = "x".repeat(10_000_000);
        assert_eq!(excerpt(&long).len(), 60 + "… (10000000 bytes in all)".len());
    }

    #[test]
    fn printable_text_escapes_what_a_terminal_would_obey() {
        assert_eq!(printable("Ann\u{1b}[2J"), "Ann\\u{1b}[2J");
        assert_eq!(printable("a\tb\nc"), "a\tb\nc");
    }

    #[test]
    fn event_times_run_from_1970_to_a_day_ahead() {
        let now = 1_800_000_000;
        assert_eq!(event_time(0, now), Ok(0));
        assert_eq!(
            event_time(now + FUTURE_SLACK_SECONDS, now),
            Ok(now + FUTURE_SLACK_SECONDS)
        );
        assert_eq!(event_time(-1, now).unwrap_err().0, "1969-12-31 is before 1970");
        assert_eq!(
            event_time(253_402_214_400, now).unwrap_err().0,
            "9999-12-31 is in the future"
        );
    }

    #[test]
    fn a_search_with_a_nul_or_an_escape_is_refused() {
        assert_eq!(search("  garc "), Ok(Some("garc".into())));
        assert!(search("DU\u{0}x").is_err());
        assert!(search("a\u{1c}b").is_err());
    }

    #[test]
    fn quantities_are_whole_and_bounded() {
        assert_eq!(quantity(" 3 "), Ok(3));
        assert!(quantity("-1").is_err());
        assert!(quantity("1000001").is_err());
        assert!(quantity("2.5").is_err());
    }

    #[test]
    fn attributes_are_bounded_in_count_names_and_size() {
        let one = |name: &str, value: serde_json::Value| {
            let mut map = serde_json::Map::new();
            map.insert(name.into(), value);
            attributes(&map)
        };
        assert!(one("tier", "gold".into()).is_ok());
        assert!(one("tier", "x".repeat(MAX_ATTRIBUTES_BYTES).into()).is_err());
        assert!(one("ti\u{1b}er", "gold".into()).is_err());
        assert!(one("tier", "go\u{0}ld".into()).is_err());
        let many: serde_json::Map<_, _> = (0..=MAX_ATTRIBUTES).map(|i| (format!("a{i}"), 1.into())).collect();
        assert!(attributes(&many).unwrap_err().0.contains("the limit is 100"));
    }
}
