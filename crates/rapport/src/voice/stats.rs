//! Survey scores with 95% confidence intervals: NPS, CSAT and CES. A `ScaleTally` takes answers
//! one at a time, so a report grouping by month, stage or segment needs one pass and one small
//! tally per group.
//!
//! Every interval is a large-sample one. NPS uses the variance of its own +1/0/-1 score; shares
//! use Wilson's interval, which stays within 0-100% and keeps its coverage in small groups; means
//! use the normal interval from the sample variance, which is somewhat narrow below about 30
//! answers (Student's t would widen it by 40% at five answers).

use serde::Serialize;

/// The standard normal's 97.5% quantile: half a two-sided 95% interval, in standard errors.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// An estimate and its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The estimate itself.
    pub value: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

impl Interval {
    /// `value ± half`, kept within what the score can be.
    fn around(value: f64, half: f64, min: f64, max: f64) -> Self {
        Interval {
            value,
            low: (value - half).max(min),
            high: (value + half).min(max),
        }
    }
}

/// A group's Net Promoter Score: % promoters minus % detractors, from -100 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NpsSummary {
    /// Answers counted.
    pub n: u64,
    /// Answers of 9 or 10.
    pub promoters: u64,
    /// Answers of 7 or 8.
    pub passives: u64,
    /// Answers of 0 to 6.
    pub detractors: u64,
    /// The score; `None` without answers.
    pub score: Option<Interval>,
}

impl NpsSummary {
    /// The score of a group from its counts.
    pub fn from_counts(promoters: u64, passives: u64, detractors: u64) -> Self {
        let n = promoters + passives + detractors;
        let score = (n > 0).then(|| {
            let n = n as f64;
            let (p, d) = (promoters as f64 / n, detractors as f64 / n);
            // Each answer scores +1, 0 or -1; this is that score's variance over n. `max` guards
            // against a rounding error below zero when everyone is at one end.
            let variance = ((p + d - (p - d).powi(2)) / n).max(0.0);
            Interval::around(100.0 * (p - d), 100.0 * Z_95 * variance.sqrt(), -100.0, 100.0)
        });
        NpsSummary {
            n: promoters + passives + detractors,
            promoters,
            passives,
            detractors,
            score,
        }
    }
}

impl NpsSummary {
    /// The score's variance per answer on the -1/0/+1 scale: `None` without answers.
    fn unit_variance(&self) -> Option<f64> {
        (self.n > 0).then(|| {
            let n = self.n as f64;
            let (p, d) = (self.promoters as f64 / n, self.detractors as f64 / n);
            (p + d - (p - d).powi(2)).max(0.0)
        })
    }

    /// How far the score moved since `before`, with a 95 % interval for the difference of two
    /// independent groups (the variances add); `None` when either has no answers.
    pub fn change_since(&self, before: &NpsSummary) -> Option<Interval> {
        let (now, then) = (self.score?, before.score?);
        let variance = self.unit_variance()? / self.n as f64 + before.unit_variance()? / before.n as f64;
        Some(Interval::around(
            now.value - then.value,
            100.0 * Z_95 * variance.sqrt(),
            -200.0,
            200.0,
        ))
    }
}

impl ScaleSummary {
    /// How far the share at the good end moved since `before`, in points, with a 95 % normal
    /// interval for the difference of two proportions; `None` when either has no answers.
    pub fn good_change_since(&self, before: &ScaleSummary) -> Option<Interval> {
        if self.n == 0 || before.n == 0 {
            return None;
        }
        let share = |s: &ScaleSummary| s.good as f64 / s.n as f64;
        let (p1, p2) = (share(self), share(before));
        let variance = p1 * (1.0 - p1) / self.n as f64 + p2 * (1.0 - p2) / before.n as f64;
        Some(Interval::around(
            100.0 * (p1 - p2),
            100.0 * Z_95 * variance.sqrt(),
            -100.0,
            100.0,
        ))
    }
}

/// A group's answers on the CSAT (1-5) or CES (1-7) scale: CSAT's score is `good_share`, CES's
/// is `mean`, and each reports the other as well.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScaleSummary {
    /// Answers counted.
    pub n: u64,
    /// Answers at the good end: 4 or 5 for CSAT ("satisfied"), 5 to 7 for CES ("easy").
    pub good: u64,
    /// `good` as a percentage of `n`, with Wilson's interval; `None` without answers.
    pub good_share: Option<Interval>,
    /// The mean answer, with a normal interval; `None` without answers.
    pub mean: Option<Interval>,
}

/// Why an answer was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("score {score} is outside the scale {low} to {high}")]
pub struct OutOfScale {
    /// The answer given.
    pub score: i64,
    /// The scale's lowest answer.
    pub low: i64,
    /// The scale's highest answer.
    pub high: i64,
}

/// Answers on a scale from `LOW` to `HIGH` (eleven points at most), counted one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleTally<const LOW: i64, const HIGH: i64> {
    counts: [u64; 11],
}

/// NPS answers, 0 to 10.
pub type NpsTally = ScaleTally<0, 10>;
/// CSAT answers, 1 to 5.
pub type CsatTally = ScaleTally<1, 5>;
/// CES answers, 1 to 7.
pub type CesTally = ScaleTally<1, 7>;

impl<const LOW: i64, const HIGH: i64> Default for ScaleTally<LOW, HIGH> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const LOW: i64, const HIGH: i64> ScaleTally<LOW, HIGH> {
    /// Checked when the scale is named, so a scale too wide for the counts fails to compile.
    const FITS: () = assert!(LOW <= HIGH && HIGH - LOW <= 10, "a scale has 1 to 11 points");

    /// A tally of no answers.
    pub fn new() -> Self {
        let () = Self::FITS;
        ScaleTally { counts: [0; 11] }
    }

    /// A tally of every answer, or the first that is off the scale.
    pub fn from_scores(scores: impl IntoIterator<Item = i64>) -> Result<Self, OutOfScale> {
        let mut tally = Self::new();
        for score in scores {
            tally.add(score)?;
        }
        Ok(tally)
    }

    /// Counts one answer; an answer off the scale is refused and changes nothing.
    pub fn add(&mut self, score: i64) -> Result<(), OutOfScale> {
        if !(LOW..=HIGH).contains(&score) {
            return Err(OutOfScale {
                score,
                low: LOW,
                high: HIGH,
            });
        }
        self.counts[(score - LOW) as usize] += 1;
        Ok(())
    }

    /// Adds another group's answers, as when months are summed into a year.
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// How many answers were counted.
    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// How many answers lie from `low` to `high`, both included.
    pub fn count_between(&self, low: i64, high: i64) -> u64 {
        self.points()
            .filter(|&(score, _)| (low..=high).contains(&score))
            .map(|(_, count)| count)
            .sum()
    }

    /// Each answer on the scale with its count.
    fn points(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (LOW..=HIGH).zip(self.counts.iter().copied())
    }

    /// The summary with answers from `good` to the top counted as good.
    fn summary_from(&self, good: i64) -> ScaleSummary {
        let (n, good) = (self.n(), self.count_between(good, HIGH));
        ScaleSummary {
            n,
            good,
            good_share: wilson_percent(good, n),
            mean: self.mean(),
        }
    }

    /// The mean answer with a normal 95% interval from the sample variance. One answer says
    /// nothing of the spread, so its interval is the whole scale.
    fn mean(&self) -> Option<Interval> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let sum: f64 = self.points().map(|(score, count)| score as f64 * count as f64).sum();
        let mean = sum / n as f64;
        let (low, high) = (LOW as f64, HIGH as f64);
        if n == 1 {
            return Some(Interval { value: mean, low, high });
        }
        let squares: f64 = self
            .points()
            .map(|(score, count)| count as f64 * (score as f64 - mean).powi(2))
            .sum();
        let variance = squares / (n - 1) as f64;
        Some(Interval::around(mean, Z_95 * (variance / n as f64).sqrt(), low, high))
    }
}

impl NpsTally {
    /// The Net Promoter Score of the answers counted.
    pub fn summary(&self) -> NpsSummary {
        NpsSummary::from_counts(
            self.count_between(9, 10),
            self.count_between(7, 8),
            self.count_between(0, 6),
        )
    }
}

impl CsatTally {
    /// The satisfaction of the answers counted; the score is `good_share`.
    pub fn summary(&self) -> ScaleSummary {
        self.summary_from(4)
    }
}

impl CesTally {
    /// The effort of the answers counted; the score is `mean`.
    pub fn summary(&self) -> ScaleSummary {
        self.summary_from(5)
    }
}

/// The percentage of `successes` in `n`, with Wilson's score interval: unlike `p ± z·SE`, it
/// never leaves 0-100% and does not collapse to a point when every answer is the same.
pub fn wilson_percent(successes: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let shrink = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / shrink;
    let half = Z_95 / shrink * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        value: 100.0 * p,
        low: 100.0 * (centre - half).max(0.0),
        high: 100.0 * (centre + half).min(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not {expected} ± {tolerance}"
        );
    }

    #[test]
    fn a_change_in_nps_carries_both_groups_variance() {
        // Now 50 promoters, 30 passives, 20 detractors (NPS +30, variance 0.70 - 0.09 = 0.61);
        // before 30, 30, 40 of 100 (NPS -10, variance 0.70 - 0.01 = 0.69). Difference +40, its
        // standard error sqrt(0.61/100 + 0.69/100) = 0.11402, times 1.96 and 100: 22.35.
        let now = NpsSummary::from_counts(50, 30, 20);
        let before = NpsSummary::from_counts(30, 30, 40);
        let change = now.change_since(&before).unwrap();
        close(change.value, 40.0, 1e-9);
        close(change.high - change.value, 22.348, 0.001);
        close(change.value - change.low, 22.348, 0.001);
        assert!(now.change_since(&NpsSummary::from_counts(0, 0, 0)).is_none());
    }

    #[test]
    fn a_change_in_the_satisfied_share_is_a_difference_of_two_proportions() {
        // 80 of 100 satisfied against 30 of 50: 80 % - 60 % = 20 points; standard error
        // sqrt(0.8 * 0.2 / 100 + 0.6 * 0.4 / 50) = sqrt(0.0016 + 0.0048) = 0.08, so ± 15.68.
        let mut now = CsatTally::new();
        let mut before = CsatTally::new();
        for (tally, good, bad) in [(&mut now, 80, 20), (&mut before, 30, 20)] {
            for _ in 0..good {
                tally.add(5).unwrap();
            }
            for _ in 0..bad {
                tally.add(2).unwrap();
            }
        }
        let change = now.summary().good_change_since(&before.summary()).unwrap();
        close(change.value, 20.0, 1e-9);
        close(change.high - change.value, 15.680, 0.001);
    }

    /// Checks an interval's value, low and high ends.
    fn interval_is(actual: Option<Interval>, (value, low, high): (f64, f64, f64), tolerance: f64) {
        let actual = actual.expect("an interval");
        close(actual.value, value, tolerance);
        close(actual.low, low, tolerance);
        close(actual.high, high, tolerance);
    }

    #[test]
    fn nps_and_its_interval_match_a_hand_computation() {
        // 50 promoters, 30 passives, 20 detractors: p = 0.5, d = 0.2, NPS = 100 * 0.3 = 30.
        // var = (0.5 + 0.2 - 0.3^2) / 100 = 0.61 / 100 = 0.0061; SE = sqrt(0.0061) = 0.0781025,
        // i.e. 7.81025 points; half-width 1.959964 * 7.81025 = 15.3078: 14.692 to 45.308.
        let nps = NpsSummary::from_counts(50, 30, 20);
        assert_eq!((nps.n, nps.promoters, nps.passives, nps.detractors), (100, 50, 30, 20));
        interval_is(nps.score, (30.0, 14.692, 45.308), 1e-3);
    }

    #[test]
    fn nps_tally_puts_each_answer_in_its_category() {
        let tally = NpsTally::from_scores([10, 9, 8, 7, 6, 0]).unwrap();
        let nps = tally.summary();
        assert_eq!((nps.promoters, nps.passives, nps.detractors), (2, 2, 2));
        close(nps.score.unwrap().value, 0.0, 1e-9);
    }

    #[test]
    fn all_promoters_score_100_with_an_interval_collapsed_at_the_top() {
        let score = NpsSummary::from_counts(40, 0, 0).score.unwrap();
        assert_eq!((score.value, score.low, score.high), (100.0, 100.0, 100.0));
    }

    #[test]
    fn no_answers_give_no_score_and_one_answer_gives_one() {
        assert_eq!(NpsSummary::from_counts(0, 0, 0).score, None);
        assert_eq!(CsatTally::new().summary().good_share, None);
        assert_eq!(CesTally::new().summary().mean, None);
        let one = NpsSummary::from_counts(0, 0, 1).score.unwrap();
        assert_eq!((one.value, one.low, one.high), (-100.0, -100.0, -100.0));
    }

    #[test]
    fn nps_interval_stays_within_minus_100_and_100() {
        // 1 promoter, 9 detractors: NPS -80, SE = sqrt((1 - 0.64) / 10) = 0.1897, half 37.2.
        let score = NpsSummary::from_counts(1, 0, 9).score.unwrap();
        close(score.value, -80.0, 1e-9);
        assert_eq!(score.low, -100.0);
        close(score.high, -42.81, 0.01);
    }

    #[test]
    fn csat_share_has_wilsons_interval() {
        // 8 of 10 satisfied: p = 0.8, z^2 = 3.841459, z^2/n = 0.384146, shrink = 1.384146.
        // centre = (0.8 + 0.192073) / 1.384146 = 0.716739.
        // half = 1.959964 / 1.384146 * sqrt(0.8 * 0.2 / 10 + 3.841459 / 400)
        //      = 1.416010 * sqrt(0.0256036) = 1.416010 * 0.160011 = 0.226577.
        // Interval 49.016% to 94.332%.
        let tally = CsatTally::from_scores([5, 5, 5, 4, 4, 4, 4, 4, 2, 1]).unwrap();
        let csat = tally.summary();
        assert_eq!((csat.n, csat.good), (10, 8));
        interval_is(csat.good_share, (80.0, 49.016, 94.332), 1e-3);
    }

    #[test]
    fn csat_mean_has_a_normal_interval() {
        // 5, 5, 4, 2: mean 4; squares 1 + 1 + 0 + 4 = 6, sample variance 6 / 3 = 2;
        // SE = sqrt(2 / 4) = 0.707107, half 1.385904: 2.614 to 5 (5.386 clamped to the scale).
        let csat = CsatTally::from_scores([5, 5, 4, 2]).unwrap().summary();
        interval_is(csat.mean, (4.0, 2.614096, 5.0), 1e-6);
    }

    #[test]
    fn ces_mean_and_easy_share_match_a_hand_computation() {
        // 4, 5, 6, 7: mean 5.5; squares 2.25 + 0.25 + 0.25 + 2.25 = 5, variance 5 / 3;
        // SE = sqrt(5 / 12) = 0.645497, half 1.265151: 4.234849 to 6.765151. Easy: 3 of 4.
        let ces = CesTally::from_scores([4, 5, 6, 7]).unwrap().summary();
        interval_is(ces.mean, (5.5, 4.234849, 6.765151), 1e-6);
        assert_eq!(ces.good, 3);
        close(ces.good_share.unwrap().value, 75.0, 1e-9);
    }

    #[test]
    fn one_answer_has_the_whole_scale_as_the_interval_of_its_mean() {
        let mean = CesTally::from_scores([6]).unwrap().summary().mean.unwrap();
        assert_eq!((mean.value, mean.low, mean.high), (6.0, 1.0, 7.0));
    }

    #[test]
    fn an_answer_off_the_scale_is_refused_by_name_and_not_counted() {
        let mut tally = CsatTally::new();
        let error = tally.add(6).unwrap_err();
        assert_eq!(error.to_string(), "score 6 is outside the scale 1 to 5");
        assert_eq!(tally.n(), 0);
        assert!(NpsTally::new().add(-1).is_err());
    }

    #[test]
    fn merged_tallies_count_both_groups() {
        let mut january = CesTally::from_scores([1, 7]).unwrap();
        january.merge(&CesTally::from_scores([7]).unwrap());
        assert_eq!((january.n(), january.count_between(7, 7)), (3, 2));
    }

    #[test]
    fn a_unanimous_share_keeps_room_below_in_its_wilson_interval() {
        // 10 of 10: p = 1, so half = z^2 / (2n) / shrink and centre = (1 + z^2 / (2n)) / shrink:
        // high = 1, low = 1 / shrink = 1 / 1.384146 = 72.2467%.
        interval_is(wilson_percent(10, 10), (100.0, 72.2467, 100.0), 1e-4);
    }
}
