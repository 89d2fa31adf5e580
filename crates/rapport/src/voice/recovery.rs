//! Did closing the loop work? For every detractor's answer: was the customer contacted within the
//! SLA, did those asked again move up a category, and did contacted detractors buy again within
//! the window more often than those not contacted (`rapport voice recovery`).

use serde::Serialize;

use super::stats::{Interval, wilson_percent};
use crate::domain::survey::NpsCategory;
use crate::store::RecoveryRow;

/// One group's repeat purchases within the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RepeatRate {
    /// Detractors whose window has passed.
    pub n: u64,
    /// Of those, bought within it.
    pub bought: u64,
    /// `bought` as a percentage, with Wilson's 95 % interval.
    pub rate: Option<Interval>,
}

impl RepeatRate {
    fn of(rows: &[&RecoveryRow]) -> Self {
        let bought = rows.iter().filter(|r| r.bought_at.is_some()).count() as u64;
        let n = rows.len() as u64;
        RepeatRate {
            n,
            bought,
            rate: wilson_percent(bought, n),
        }
    }
}

/// What the report says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryReport {
    /// The SLA, in days.
    pub sla_days: i64,
    /// The repeat-purchase window, in days.
    pub window_days: i64,
    /// Detractors' answers.
    pub detractors: u64,
    /// Contacted within the SLA.
    pub contacted_within_sla: u64,
    /// Contacted, but later.
    pub contacted_late: u64,
    /// `contacted_within_sla` as a percentage of `detractors`, with its interval.
    pub within_sla_share: Option<Interval>,
    /// Contacted within the SLA and asked again (answered again).
    pub resurveyed: u64,
    /// Of those, their next answer was passive or promoter.
    pub moved_up: u64,
    /// `moved_up` as a percentage of `resurveyed`, with its interval.
    pub moved_up_share: Option<Interval>,
    /// Contacted within the SLA: repeat purchases within the window.
    pub contacted: RepeatRate,
    /// Not contacted within the SLA: repeat purchases within the window.
    pub not_contacted: RepeatRate,
    /// Contacted's rate minus not contacted's, in percentage points, when both have one.
    pub difference_points: Option<f64>,
}

/// The report over `rows` at `now`, with an SLA and a window in seconds.
pub fn recovery_report(rows: &[RecoveryRow], sla: i64, window: i64, now: i64) -> RecoveryReport {
    let within = |r: &RecoveryRow| r.contacted_at.is_some_and(|at| at - r.answered_at <= sla);
    let contacted: Vec<&RecoveryRow> = rows.iter().filter(|r| within(r)).collect();
    let resurveyed: Vec<&&RecoveryRow> = contacted.iter().filter(|r| r.next_category.is_some()).collect();
    let moved_up = resurveyed
        .iter()
        .filter(|r| r.next_category > Some(NpsCategory::Detractor))
        .count() as u64;
    // Only answers whose window has passed say whether the customer came back within it.
    let complete = |r: &&RecoveryRow| r.answered_at + window <= now;
    let contacted_done: Vec<&RecoveryRow> = contacted.iter().copied().filter(complete).collect();
    let others_done: Vec<&RecoveryRow> = rows.iter().filter(|r| !within(r)).filter(complete).collect();
    let (with, without) = (RepeatRate::of(&contacted_done), RepeatRate::of(&others_done));
    RecoveryReport {
        sla_days: sla / 86_400,
        window_days: window / 86_400,
        detractors: rows.len() as u64,
        contacted_within_sla: contacted.len() as u64,
        contacted_late: rows.iter().filter(|r| r.contacted_at.is_some() && !within(r)).count() as u64,
        within_sla_share: wilson_percent(contacted.len() as u64, rows.len() as u64),
        resurveyed: resurveyed.len() as u64,
        moved_up,
        moved_up_share: wilson_percent(moved_up, resurveyed.len() as u64),
        difference_points: with.rate.zip(without.rate).map(|(a, b)| a.value - b.value),
        contacted: with,
        not_contacted: without,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerId;

    const DAY: i64 = 86_400;

    fn row(contacted_after: Option<i64>, next: Option<NpsCategory>, bought_after: Option<i64>) -> RecoveryRow {
        RecoveryRow {
            customer_id: CustomerId(1),
            answered_at: 0,
            contacted_at: contacted_after.map(|d| d * DAY),
            next_category: next,
            bought_at: bought_after.map(|d| d * DAY),
        }
    }

    #[test]
    fn contacted_detractors_are_counted_against_the_others_once_their_window_has_passed() {
        use NpsCategory::*;
        let rows = [
            row(Some(1), Some(Promoter), Some(30)),
            row(Some(2), Some(Detractor), None),
            row(Some(1), None, Some(10)),
            row(Some(5), Some(Passive), None),
            row(None, None, Some(60)),
            row(None, None, None),
        ];
        let report = recovery_report(&rows, 2 * DAY, 90 * DAY, 100 * DAY);
        assert_eq!(
            (report.detractors, report.contacted_within_sla, report.contacted_late),
            (6, 3, 1)
        );
        assert_eq!(
            (report.resurveyed, report.moved_up),
            (2, 1),
            "the late contact's answer is not counted"
        );
        assert_eq!((report.contacted.n, report.contacted.bought), (3, 2));
        assert_eq!((report.not_contacted.n, report.not_contacted.bought), (3, 1));
        let difference = report.difference_points.unwrap();
        assert!((difference - 100.0 / 3.0).abs() < 1e-9, "{difference}");
        let early = recovery_report(&rows, 2 * DAY, 90 * DAY, 30 * DAY);
        assert_eq!(
            (early.contacted.n, early.difference_points),
            (0, None),
            "no window has passed yet"
        );
    }
}
