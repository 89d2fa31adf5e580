//! Scores from a business's own gaps between purchases, for businesses too small for the models.
//!
//! A customer who has been silent for `d` days is judged against the gaps between purchase days
//! seen before: their own, shrunk toward everyone's (so one-time buyers, who have no gaps of their
//! own, are judged by everyone's). The share of those gaps at least `d` long is the chance that
//! the silence is still an ordinary pause: the empirical stand-in for P(alive). No parameter is
//! fitted, so it cannot fail to identify one; it assumes the future repeats the past gaps.

use serde::{Deserialize, Serialize};

use crate::clv::CustomerScore;
use crate::summary::Purchase;

/// How strongly everyone's gaps count against a customer's own, in gaps' worth.
const SHRINKAGE: f64 = 2.0;
/// Below this chance of an ordinary pause the customer is overdue: their silence is longer than
/// four in five of the reference gaps.
pub const OVERDUE_BELOW: f64 = 0.2;
/// The usual gap assumed when nobody has bought twice yet.
const NO_GAPS_DAYS: f64 = 365.0;

/// Everyone's gaps between purchase days, as 101 percentiles (days): all the rule keeps, so a
/// stored rule is small whatever the number of customers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapRule {
    /// The 0th, 1st, ..., 100th percentile of every gap between two purchase days of a customer.
    pub percentiles: Vec<f64>,
    /// How many gaps they summarise.
    pub gaps: u64,
}

/// One customer's purchase days (distinct, ascending) and spend, as the rule reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PurchaseDays {
    /// The customer's dense index.
    pub customer: u32,
    /// Distinct purchase days, ascending.
    pub days: Vec<i32>,
    /// Total spend.
    pub spend: f64,
}

impl PurchaseDays {
    /// Gaps in days between consecutive purchase days.
    pub fn gaps(&self) -> impl Iterator<Item = f64> + '_ {
        self.days.windows(2).map(|w| f64::from(w[1] - w[0]))
    }
}

/// What the rule says about one customer.
#[derive(Clone, Debug, PartialEq)]
pub struct GapScore {
    /// The share of reference gaps at least as long as the silence so far.
    pub p_alive: f64,
    /// Days since the last purchase.
    pub days_silent: f64,
    /// The customer's usual gap in days (their median gap, or everyone's).
    pub usual_gap: f64,
    /// Whether the customer's own gaps (at least one) informed the score.
    pub own_gaps: usize,
    /// Silent longer than four in five reference gaps.
    pub overdue: bool,
    /// Expected purchase days in the next 90 and 365 days.
    pub expected_90d: f64,
    /// Expected purchase days in the next 365 days.
    pub expected_365d: f64,
    /// Mean spend per purchase day.
    pub spend_per_purchase: f64,
    /// Expected spend over the next 12 months, discounted 1% a month.
    pub value_12m: f64,
}

/// Groups a purchase log by customer: distinct days on or before `as_of`, ascending, and spend.
pub fn purchase_days(purchases: &[Purchase], as_of: i32) -> Vec<PurchaseDays> {
    let mut sorted: Vec<&Purchase> = purchases.iter().filter(|p| p.day <= as_of).collect();
    sorted.sort_unstable_by_key(|p| (p.customer, p.day));
    let mut out: Vec<PurchaseDays> = Vec::new();
    for p in sorted {
        match out.last_mut() {
            Some(c) if c.customer == p.customer => {
                if c.days.last() != Some(&p.day) {
                    c.days.push(p.day);
                }
                c.spend += p.amount;
            }
            _ => out.push(PurchaseDays {
                customer: p.customer,
                days: vec![p.day],
                spend: p.amount,
            }),
        }
    }
    out
}

impl GapRule {
    /// The rule of a business: the percentiles of all its customers' gaps.
    pub fn from_customers(customers: &[PurchaseDays]) -> Self {
        let mut gaps: Vec<f64> = customers.iter().flat_map(PurchaseDays::gaps).collect();
        gaps.sort_unstable_by(f64::total_cmp);
        let percentiles = if gaps.is_empty() {
            Vec::new()
        } else {
            (0..=100).map(|q| quantile(&gaps, f64::from(q) / 100.0)).collect()
        };
        GapRule {
            percentiles,
            gaps: gaps.len() as u64,
        }
    }

    /// The share of everyone's gaps at least `days` long (1 for a silence of 0 days).
    pub fn share_at_least(&self, days: f64) -> f64 {
        if self.percentiles.is_empty() {
            return (1.0 - days / (2.0 * NO_GAPS_DAYS)).clamp(0.0, 1.0);
        }
        let below = self.percentiles.iter().filter(|p| **p < days).count();
        1.0 - below as f64 / self.percentiles.len() as f64
    }

    /// Everyone's median gap, in days.
    pub fn median(&self) -> f64 {
        self.percentiles.get(50).copied().unwrap_or(NO_GAPS_DAYS)
    }

    /// Scores one customer as of day `as_of`.
    pub fn score(&self, customer: &PurchaseDays, as_of: i32) -> GapScore {
        let last = customer.days.last().copied().unwrap_or(as_of);
        let days_silent = f64::from((as_of - last).max(0));
        let mut own: Vec<f64> = customer.gaps().collect();
        own.sort_unstable_by(f64::total_cmp);
        let n = own.len() as f64;
        let own_share = own.iter().filter(|g| **g >= days_silent).count() as f64;
        let p_alive = ((own_share + SHRINKAGE * self.share_at_least(days_silent)) / (n + SHRINKAGE)).clamp(0.0, 1.0);
        let usual_gap = if own.is_empty() {
            self.median()
        } else {
            quantile(&own, 0.5)
        }
        .max(1.0);
        let expected = |horizon: f64| p_alive * horizon / usual_gap;
        let spend_per_purchase = customer.spend / customer.days.len().max(1) as f64;
        // Twelve monthly shares of the year's purchases, each discounted 1% a month.
        let discount = (1..=12).map(|m| 1.01f64.powi(-m)).sum::<f64>() / 12.0;
        GapScore {
            p_alive,
            days_silent,
            usual_gap,
            own_gaps: own.len(),
            overdue: p_alive < OVERDUE_BELOW,
            expected_90d: expected(90.0),
            expected_365d: expected(365.0),
            spend_per_purchase,
            value_12m: expected(365.0) * spend_per_purchase * discount,
        }
    }
}

impl GapScore {
    /// The score in the shape the models give, for lists and storage.
    pub fn as_customer_score(&self, customer: u32) -> CustomerScore {
        CustomerScore {
            customer,
            p_alive: self.p_alive,
            expected_purchases: self.expected_365d,
            expected_spend: self.spend_per_purchase,
            clv: self.value_12m,
            median_time_to_next_purchase: (self.p_alive >= 0.5).then(|| (self.usual_gap - self.days_silent).max(0.0)),
        }
    }

    /// One plain sentence: what the customer did, how long they have been silent, against what.
    pub fn explain(&self, purchase_days: usize) -> String {
        let times = if purchase_days == 1 {
            "once".to_owned()
        } else {
            format!("{purchase_days} times")
        };
        let against = if self.own_gaps == 0 {
            "this shop's usual gap between purchases".to_owned()
        } else {
            format!("their own usual gap of {}", days(self.usual_gap))
        };
        let verdict = if self.overdue {
            "overdue: longer than four in five of the gaps seen before"
        } else if self.p_alive < 0.5 {
            "longer than most gaps seen before"
        } else {
            "an ordinary pause so far"
        };
        format!(
            "bought {times}; nothing for {}, against {against}: {verdict} (estimated from this shop's own gaps between purchases)",
            days(self.days_silent)
        )
    }
}

/// A number of days for a sentence: "1 day", "12 days".
fn days(n: f64) -> String {
    let n = n.round();
    if n == 1.0 {
        "1 day".to_owned()
    } else {
        format!("{n:.0} days")
    }
}

/// The `q` quantile of sorted values, linearly interpolated.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(days: &[i32]) -> PurchaseDays {
        PurchaseDays {
            customer: 0,
            days: days.to_vec(),
            spend: 10.0 * days.len() as f64,
        }
    }

    fn rule(gaps: &[i32]) -> GapRule {
        let days: Vec<i32> = std::iter::once(0)
            .chain(gaps.iter().scan(0, |d, g| {
                *d += g;
                Some(*d)
            }))
            .collect();
        GapRule::from_customers(&[customer(&days)])
    }

    #[test]
    fn a_silence_shorter_than_every_gap_is_an_ordinary_pause() {
        let rule = rule(&[30, 30, 30, 30]);
        let score = rule.score(&customer(&[0, 30, 60, 90]), 100);
        assert!(score.p_alive > 0.99 && !score.overdue, "{score:?}");
        assert_eq!(score.usual_gap, 30.0);
    }

    #[test]
    fn a_silence_longer_than_every_gap_is_overdue() {
        let rule = rule(&[30, 30, 30, 30]);
        let score = rule.score(&customer(&[0, 30, 60, 90]), 400);
        assert!(score.p_alive < OVERDUE_BELOW && score.overdue, "{score:?}");
    }

    #[test]
    fn one_time_buyers_fade_with_their_silence_by_everyone_s_gaps() {
        let rule = rule(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        let soon = rule.score(&customer(&[0]), 5);
        let later = rule.score(&customer(&[0]), 55);
        let long_after = rule.score(&customer(&[0]), 500);
        assert!(soon.p_alive > later.p_alive && later.p_alive > long_after.p_alive);
        assert!((later.p_alive - 0.5).abs() < 0.06, "{later:?}");
        assert!(long_after.overdue && long_after.p_alive == 0.0);
        assert_eq!(soon.usual_gap, rule.median());
    }

    #[test]
    fn purchases_on_one_day_are_one_purchase_day_and_later_days_are_left_out() {
        let log: Vec<Purchase> = [(1, 5, 2.0), (0, 3, 1.0), (0, 3, 4.0), (0, 9, 1.0), (0, 99, 7.0)]
            .into_iter()
            .map(|(customer, day, amount)| Purchase { customer, day, amount })
            .collect();
        let days = purchase_days(&log, 50);
        assert_eq!(days[0].days, vec![3, 9]);
        assert_eq!(days[0].spend, 6.0);
        assert_eq!(days[1].days, vec![5]);
    }

    #[test]
    fn the_sentence_counts_days_in_the_singular_and_the_plural() {
        let rule = rule(&[1, 1, 1]);
        let sentence = rule.score(&customer(&[0, 1, 2, 3]), 4).explain(4);
        assert!(
            sentence.contains("nothing for 1 day, against their own usual gap of 1 day"),
            "{sentence}"
        );
    }

    #[test]
    fn without_any_repeat_purchase_a_year_is_the_usual_gap() {
        let rule = GapRule::from_customers(&[customer(&[0])]);
        assert_eq!(rule.median(), NO_GAPS_DAYS);
        assert!(rule.score(&customer(&[0]), 30).p_alive > 0.9);
        assert!(rule.score(&customer(&[0]), 800).overdue);
    }
}
