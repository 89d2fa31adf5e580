//! Dates in a file's format, parsed fast for the common shapes and by chrono for the rest. A
//! date or time without an offset is the business's local time (its time zone setting).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Parses a column of dates into Unix seconds, with the format the user gave or ISO 8601; dates
/// and times without an offset are read in the business's time zone.
#[derive(Debug, Clone)]
pub struct DateParser {
    format: Option<String>,
    has_time: bool,
    has_zone: bool,
    time_zone: Tz,
    last: Option<(Vec<u8>, i64)>,
}

/// A parsed value: an instant, or a wall-clock time that the time zone places.
enum Parsed {
    Instant(i64),
    Local(NaiveDateTime),
}

impl DateParser {
    /// A parser for a strftime `format`, or ISO 8601 dates and date-times when `None`, placing
    /// times without an offset in `time_zone` (a date alone at its midnight).
    pub fn new(format: Option<String>, time_zone: Tz) -> Self {
        let spec = |codes: &[&str]| format.as_deref().is_some_and(|f| codes.iter().any(|c| f.contains(c)));
        let has_time = spec(&["%H", "%M", "%S", "%T", "%R", "%I", "%s", "%+"]);
        let has_zone = spec(&["%z", "%:z", "%Z", "%+", "%s"]);
        Self {
            format,
            has_time,
            has_zone,
            time_zone,
            last: None,
        }
    }

    /// What the parser expects, for error messages.
    pub fn expected(&self) -> String {
        match &self.format {
            Some(f) => format!("a date in the format {f}"),
            None => "an ISO 8601 date such as 2024-03-31 or 2024-03-31T14:05:00".to_owned(),
        }
    }

    /// The Unix time of `raw`, or `None` when it is not a valid date.
    pub fn parse(&mut self, raw: &[u8]) -> Option<i64> {
        if let Some((bytes, t)) = &self.last
            && bytes == raw
        {
            return Some(*t);
        }
        let t = match self.parse_uncached(raw)? {
            Parsed::Instant(t) => t,
            Parsed::Local(wall) => self.place(wall)?,
        };
        match &mut self.last {
            Some((bytes, last)) => {
                bytes.clear();
                bytes.extend_from_slice(raw);
                *last = t;
            }
            None => self.last = Some((raw.to_vec(), t)),
        }
        Some(t)
    }

    /// A wall-clock time in the business's zone as Unix seconds. One the clocks skipped (the hour
    /// a change to summer time jumps over) is read an hour later, as a clock that was not yet
    /// moved would have shown it; one they repeat is the earlier of the two.
    fn place(&self, wall: NaiveDateTime) -> Option<i64> {
        if self.time_zone == Tz::UTC {
            return Some(wall.and_utc().timestamp());
        }
        let zone = &self.time_zone;
        zone.from_local_datetime(&wall)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(wall + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.timestamp())
    }

    fn parse_uncached(&self, raw: &[u8]) -> Option<Parsed> {
        let text = std::str::from_utf8(raw).ok()?.trim();
        match self.format.as_deref() {
            None => iso(text),
            Some("%Y%m%d") => compact(text.as_bytes()).map(midnight),
            Some("%Y-%m-%d") => dashed(text.as_bytes()).map(midnight),
            Some(format) if self.has_zone => DateTime::parse_from_str(text, format)
                .ok()
                .map(|t| Parsed::Instant(t.timestamp())),
            Some(format) if self.has_time => NaiveDateTime::parse_from_str(text, format).ok().map(Parsed::Local),
            Some(format) => NaiveDate::parse_from_str(text, format).ok().map(midnight),
        }
    }
}

fn midnight(date: NaiveDate) -> Parsed {
    Parsed::Local(date.and_time(chrono::NaiveTime::MIN))
}

fn iso(text: &str) -> Option<Parsed> {
    if text.len() == 10 {
        return dashed(text.as_bytes()).map(midnight);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(Parsed::Instant(t.timestamp()));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(Parsed::Local)
    .or_else(|| {
        DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")
            .ok()
            .map(|t| Parsed::Instant(t.timestamp()))
    })
}

/// `YYYY-MM-DD`, without chrono's general parser.
fn dashed(b: &[u8]) -> Option<NaiveDate> {
    (b.len() == 10 && b[4] == b'-' && b[7] == b'-').then_some(())?;
    ymd(number(&b[0..4])?, number(&b[5..7])?, number(&b[8..10])?)
}

/// `YYYYMMDD`, without chrono's general parser.
fn compact(b: &[u8]) -> Option<NaiveDate> {
    (b.len() == 8).then_some(())?;
    ymd(number(&b[0..4])?, number(&b[4..6])?, number(&b[6..8])?)
}

fn ymd(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

fn number(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn iso_dates_and_date_times_parse() {
        let mut p = DateParser::new(None, Tz::UTC);
        assert_eq!(p.parse(b"1970-01-02"), Some(DAY));
        assert_eq!(p.parse(b"1970-01-02T01:00:00"), Some(DAY + 3600));
        assert_eq!(p.parse(b"1970-01-02 01:00"), Some(DAY + 3600));
        assert_eq!(p.parse(b"1970-01-02T01:00:00+01:00"), Some(DAY));
        assert_eq!(p.parse(b"1970-01-02T01:00:00Z"), Some(DAY + 3600));
    }

    #[test]
    fn impossible_dates_are_refused() {
        let mut p = DateParser::new(None, Tz::UTC);
        for bad in [&b"1997-13-45"[..], b"1997-02-30", b"yesterday", b"", b"1997-1-5"] {
            assert_eq!(p.parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let mut compact = DateParser::new(Some("%Y%m%d".into()), Tz::UTC);
        assert_eq!(compact.parse(b"19970101"), Some(9862 * DAY));
        assert_eq!(compact.parse(b"19971345"), None);
    }

    #[test]
    fn custom_formats_go_through_chrono() {
        let mut p = DateParser::new(Some("%d/%m/%Y".into()), Tz::UTC);
        assert_eq!(p.parse(b"02/01/1970"), Some(DAY));
        let mut t = DateParser::new(Some("%d.%m.%Y %H:%M".into()), Tz::UTC);
        assert_eq!(t.parse(b"02.01.1970 00:30"), Some(DAY + 1800));
    }

    #[test]
    fn dates_and_times_without_an_offset_are_the_business_s_local_time() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().timestamp();
        let mut berlin = DateParser::new(None, chrono_tz::Europe::Berlin);
        assert_eq!(
            berlin.parse(b"2024-02-01"),
            Some(at("2024-01-31T23:00:00Z")),
            "local midnight"
        );
        assert_eq!(
            berlin.parse(b"2024-07-01 14:00"),
            Some(at("2024-07-01T12:00:00Z")),
            "summer time"
        );
        assert_eq!(
            berlin.parse(b"2024-03-31 02:30"),
            Some(at("2024-03-31T01:30:00Z")),
            "an hour the clocks skipped reads as the hour after"
        );
        assert_eq!(
            berlin.parse(b"2024-02-01T10:00:00-05:00"),
            Some(at("2024-02-01T15:00:00Z")),
            "an offset given wins"
        );
        let mut new_york = DateParser::new(Some("%d/%m/%Y".into()), chrono_tz::America::New_York);
        assert_eq!(new_york.parse(b"01/02/2024"), Some(at("2024-02-01T05:00:00Z")));
    }
}
