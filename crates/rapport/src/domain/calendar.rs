//! The business's calendar: which local day and month an instant falls in, so that "the last 30
//! days" start at a local midnight and a purchase at 23:30 on the 31st counts in its own month.

use chrono::{DateTime, Days, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

use super::state::SECONDS_PER_DAY;

/// A stretch of time over which the zone's offset from UTC stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSpan {
    /// Unix seconds the offset takes effect (the first span starts at the range asked for).
    pub from: i64,
    /// Seconds to add to UTC for local time.
    pub offset: i64,
}

/// The business's time zone and the moment taken as now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calendar {
    /// The zone days and months are counted in.
    pub time_zone: Tz,
    /// Unix seconds taken as now.
    pub now: i64,
}

impl Calendar {
    /// Seconds to add to UTC for local time at `at`.
    pub fn offset_at(&self, at: i64) -> i64 {
        let utc = DateTime::from_timestamp(at, 0).unwrap_or_default().naive_utc();
        i64::from(self.time_zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    }

    /// Unix seconds of the local midnight that starts the day `days` before today: with 29, the
    /// first of the last 30 days. A midnight a clock change skips counts from the first instant
    /// the day has.
    pub fn day_start(&self, days: u64) -> i64 {
        let day = self.today().checked_sub_days(Days::new(days)).unwrap_or(NaiveDate::MIN);
        self.start_of(day)
    }

    /// Unix seconds of the local midnight that starts the day `days` after today (0: today).
    pub fn day_start_ahead(&self, days: u64) -> i64 {
        let day = self.today().checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX);
        self.start_of(day)
    }

    fn today(&self) -> NaiveDate {
        DateTime::from_timestamp(self.now, 0)
            .unwrap_or_default()
            .with_timezone(&self.time_zone)
            .date_naive()
    }

    fn start_of(&self, day: NaiveDate) -> i64 {
        // A gap at midnight (some zones moved their clocks then) leaves the day starting later:
        // the first whole hour or quarter that exists.
        (0..=24 * 4)
            .find_map(|quarter| {
                let local = day.and_hms_opt(quarter / 4, (quarter % 4) * 15, 0)?;
                self.time_zone.from_local_datetime(&local).earliest()
            })
            .map_or(day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp(), |t| {
                t.timestamp()
            })
    }

    /// The zone's offsets over `from..=to` (Unix seconds), in order: one span for a zone without
    /// clock changes in that time, a new span at each change to the second.
    pub fn offsets(&self, from: i64, to: i64) -> Vec<OffsetSpan> {
        let mut spans = vec![OffsetSpan {
            from,
            offset: self.offset_at(from),
        }];
        // Zones change their offset at most a few times a year and never twice within a day:
        // probe day by day and find each change by halving the day it happened in.
        let mut before = from;
        while before < to {
            let after = before.saturating_add(SECONDS_PER_DAY).min(to);
            let offset = self.offset_at(after);
            let current = spans.last().expect("one span at least").offset;
            if offset != current {
                let (mut low, mut high) = (before, after);
                while high - low > 1 {
                    let middle = low + (high - low) / 2;
                    if self.offset_at(middle) == current {
                        low = middle;
                    } else {
                        high = middle;
                    }
                }
                spans.push(OffsetSpan { from: high, offset });
            }
            before = after;
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    fn berlin(now: &str) -> Calendar {
        Calendar {
            time_zone: "Europe/Berlin".parse().unwrap(),
            now: at(now),
        }
    }

    #[test]
    fn offsets_change_at_the_second_the_clocks_do() {
        let calendar = berlin("2026-12-01T00:00:00Z");
        let spans = calendar.offsets(at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"));
        assert_eq!(
            spans,
            vec![
                OffsetSpan {
                    from: at("2026-01-01T00:00:00Z"),
                    offset: 3_600
                },
                OffsetSpan {
                    from: at("2026-03-29T01:00:00Z"),
                    offset: 7_200
                },
                OffsetSpan {
                    from: at("2026-10-25T01:00:00Z"),
                    offset: 3_600
                },
            ]
        );
    }

    #[test]
    fn a_zone_without_changes_has_one_span() {
        let calendar = Calendar {
            time_zone: Tz::UTC,
            now: 0,
        };
        assert_eq!(calendar.offsets(0, 10 * 365 * SECONDS_PER_DAY).len(), 1);
    }

    #[test]
    fn days_start_at_local_midnight() {
        // 00:30 on 1 December in Berlin is still 30 November in UTC.
        let calendar = berlin("2026-11-30T23:30:00Z");
        assert_eq!(calendar.day_start(0), at("2026-11-30T23:00:00Z"));
        assert_eq!(calendar.day_start(29), at("2026-11-01T23:00:00Z"));
        // 60 days back crosses the change to summer time's end: that midnight was at 22:00 UTC.
        assert_eq!(calendar.day_start(61), at("2026-09-30T22:00:00Z"));
    }

    #[test]
    fn a_midnight_the_clocks_skip_starts_the_day_at_one() {
        // Santiago moved its clocks from 00:00 to 01:00 on 6 September 2026.
        let calendar = Calendar {
            time_zone: "America/Santiago".parse().unwrap(),
            now: at("2026-09-06T12:00:00Z"),
        };
        assert_eq!(calendar.day_start(0), at("2026-09-06T04:00:00Z"));
    }
}
