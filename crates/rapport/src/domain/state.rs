//! The customer-state projection: a fold over a customer's events.

use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use super::event::EventKind;
use super::stage::{Stage, StageChange};
use super::survey::{NpsCategory, SurveyKind};

pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// The day number (days since 1970-01-01, UTC) of a Unix time.
pub fn day_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(SECONDS_PER_DAY)
}

/// A day number as an ISO date.
pub fn format_day(day: i64) -> String {
    DateTime::from_timestamp(day * SECONDS_PER_DAY, 0)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_else(|| format!("day {day}"))
}

/// The Unix time of midnight UTC at the start of a date.
pub fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default()
}

/// What Rapport knows about a customer, derived from the event log alone.
///
/// Every field is either order-independent (counts, sums, minima, maxima) or taken from the
/// stage-change events in log order, so replaying the log always gives the same state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerState {
    /// The current stage (`None` only before the first stage is assigned).
    pub stage: Option<Stage>,
    /// The highest stage ever reached.
    pub max_stage: Option<Stage>,
    /// How many stage changes the log holds.
    pub stage_changes: i64,
    /// When the current stage took effect.
    pub stage_changed_at: Option<i64>,
    /// Number of purchase events.
    pub purchase_count: i64,
    /// The earliest purchase.
    pub first_purchase_at: Option<i64>,
    /// The earliest purchase on a later day than the first: the second sale.
    pub second_purchase_at: Option<i64>,
    /// The latest purchase.
    pub last_purchase_at: Option<i64>,
    /// Sum of all purchase amounts, in cents.
    pub total_spend_cents: i64,
    /// Number of interactions.
    pub interaction_count: i64,
    /// The earliest interaction.
    pub first_interaction_at: Option<i64>,
    /// Number of referrals that led to a purchase.
    pub referral_count: i64,
    /// The earliest such referral.
    pub first_referral_at: Option<i64>,
    /// The latest event of any kind.
    pub last_event_at: Option<i64>,
    /// Whether the customer may be sent e-mail: the latest consent event's answer (`None`: never
    /// asked; plans e-mail only on `Some(true)`).
    pub email_consent: Option<bool>,
    /// When that answer was given.
    pub email_consent_at: Option<i64>,
    /// The category of the customer's latest NPS answer.
    pub nps_category: Option<NpsCategory>,
    /// When that answer was given.
    pub nps_at: Option<i64>,
}

impl CustomerState {
    /// Folds one event into the state.
    pub fn apply(&mut self, occurred_at: i64, kind: &EventKind) {
        self.last_event_at = max_opt(self.last_event_at, occurred_at);
        match kind {
            EventKind::Purchase { amount, .. } => {
                self.purchase_count += 1;
                // Amounts are bounded (`Money::MAX`), so only millions of the largest could
                // reach the limit; a total then stops there instead of wrapping to a negative.
                self.total_spend_cents = self.total_spend_cents.saturating_add(amount.0);
                self.last_purchase_at = max_opt(self.last_purchase_at, occurred_at);
                (self.first_purchase_at, self.second_purchase_at) =
                    first_and_second(self.first_purchase_at, self.second_purchase_at, occurred_at);
            }
            EventKind::Interaction { .. } => {
                self.interaction_count += 1;
                self.first_interaction_at = min_opt(self.first_interaction_at, occurred_at);
            }
            EventKind::StageChange { from, to, reason } => {
                let change = StageChange {
                    from: *from,
                    to: *to,
                    at: occurred_at,
                    reason: reason.clone(),
                };
                self.apply_stage_change(&change);
            }
            EventKind::Note { .. } => {}
            EventKind::Referral { .. } => {
                self.referral_count += 1;
                self.first_referral_at = min_opt(self.first_referral_at, occurred_at);
            }
            EventKind::Consent { channel, given, .. } if channel == "email" => {
                // The latest answer counts whatever order events are folded in; at the same
                // second a withdrawal wins, so a customer is never mailed on a tie.
                let later = match (self.email_consent_at, self.email_consent) {
                    (None, _) => true,
                    (Some(at), Some(current)) => occurred_at > at || (occurred_at == at && current && !given),
                    (Some(at), None) => occurred_at >= at,
                };
                if later {
                    self.email_consent = Some(*given);
                    self.email_consent_at = Some(occurred_at);
                }
            }
            EventKind::Consent { .. } => {}
            EventKind::Feedback {
                survey_kind: SurveyKind::Nps,
                category: Some(category),
                ..
            } => {
                // The latest answer counts whatever order events are folded in; two in the same
                // second (an answer changed at once) count in log order, the order folds go in.
                if self.nps_at.is_none_or(|at| occurred_at >= at) {
                    self.nps_category = Some(*category);
                    self.nps_at = Some(occurred_at);
                }
            }
            EventKind::Feedback { .. } | EventKind::Interview { .. } => {}
        }
    }

    /// Moves the state to a new stage.
    pub fn apply_stage_change(&mut self, change: &StageChange) {
        self.stage = Some(change.to);
        self.max_stage = self.max_stage.max(Some(change.to));
        self.stage_changes += 1;
        self.stage_changed_at = Some(change.at);
        self.last_event_at = max_opt(self.last_event_at, change.at);
    }

    /// Days from the first purchase to the second sale, for clients.
    pub fn days_to_second_purchase(&self) -> Option<i64> {
        Some(day_of(self.second_purchase_at?) - day_of(self.first_purchase_at?))
    }
}

/// The first purchase and the earliest purchase on a later day, after one more purchase at `at`,
/// whatever order purchases arrive in.
fn first_and_second(first: Option<i64>, second: Option<i64>, at: i64) -> (Option<i64>, Option<i64>) {
    let Some(first) = first else { return (Some(at), second) };
    if day_of(at) < day_of(first) {
        (Some(at), Some(first))
    } else if day_of(at) == day_of(first) {
        (Some(first.min(at)), second)
    } else {
        (Some(first), min_opt(second, at))
    }
}

/// The state of a customer whose only events are purchases, in 40 bytes instead of 176: a bulk
/// import keeps one per new customer instead of reading their events back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseTally {
    count: u32,
    total_cents: i64,
    /// `NONE` stands for "no such purchase": `Option<i64>` would double the size.
    first: i64,
    second: i64,
    last: i64,
}

impl Default for PurchaseTally {
    fn default() -> Self {
        Self {
            count: 0,
            total_cents: 0,
            first: Self::NONE,
            second: Self::NONE,
            last: Self::NONE,
        }
    }
}

impl PurchaseTally {
    const NONE: i64 = i64::MIN;

    /// Counts one purchase.
    pub fn add(&mut self, at: i64, cents: i64) {
        self.count += 1;
        self.total_cents = self.total_cents.saturating_add(cents);
        self.last = self.last.max(at);
        let (first, second) = first_and_second(Self::get(self.first), Self::get(self.second), at);
        (self.first, self.second) = (first.unwrap_or(Self::NONE), second.unwrap_or(Self::NONE));
    }

    /// Whether any purchase was counted.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The state folding the same purchases would give.
    pub fn into_state(self) -> CustomerState {
        CustomerState {
            purchase_count: i64::from(self.count),
            total_spend_cents: self.total_cents,
            first_purchase_at: Self::get(self.first),
            second_purchase_at: Self::get(self.second),
            last_purchase_at: Self::get(self.last),
            last_event_at: Self::get(self.last),
            ..CustomerState::default()
        }
    }

    fn get(value: i64) -> Option<i64> {
        (value != Self::NONE).then_some(value)
    }
}

fn min_opt(current: Option<i64>, value: i64) -> Option<i64> {
    Some(current.map_or(value, |c| c.min(value)))
}

fn max_opt(current: Option<i64>, value: i64) -> Option<i64> {
    Some(current.map_or(value, |c| c.max(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;

    fn purchase(cents: i64) -> EventKind {
        EventKind::Purchase {
            amount: Money(cents),
            currency: Default::default(),
            order_id: None,
            quantity: None,
        }
    }

    #[test]
    fn purchase_order_does_not_change_the_state() {
        let times = [
            50 * SECONDS_PER_DAY,
            3 * SECONDS_PER_DAY + 7,
            3 * SECONDS_PER_DAY,
            9 * SECONDS_PER_DAY,
        ];
        let mut forward = CustomerState::default();
        let mut backward = CustomerState::default();
        for &t in &times {
            forward.apply(t, &purchase(100));
        }
        for &t in times.iter().rev() {
            backward.apply(t, &purchase(100));
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.first_purchase_at, Some(3 * SECONDS_PER_DAY));
        assert_eq!(forward.second_purchase_at, Some(9 * SECONDS_PER_DAY));
        assert_eq!(forward.days_to_second_purchase(), Some(6));
        assert_eq!(forward.total_spend_cents, 400);
    }

    #[test]
    fn a_purchase_tally_equals_the_fold_of_the_same_purchases() {
        let purchases = [
            (9 * SECONDS_PER_DAY, 100),
            (2 * SECONDS_PER_DAY + 50, 250),
            (2 * SECONDS_PER_DAY, 5),
            (30 * SECONDS_PER_DAY, 7),
        ];
        let mut state = CustomerState::default();
        let mut tally = PurchaseTally::default();
        for (at, cents) in purchases {
            state.apply(at, &purchase(cents));
            tally.add(at, cents);
        }
        assert_eq!(tally.into_state(), state);
        assert_eq!(PurchaseTally::default().into_state(), CustomerState::default());
    }

    #[test]
    fn a_total_spend_stops_at_the_limit_instead_of_wrapping_negative() {
        let mut state = CustomerState::default();
        let mut tally = PurchaseTally::default();
        for day in 0..2 {
            state.apply(day * SECONDS_PER_DAY, &purchase(i64::MAX - 1));
            tally.add(day * SECONDS_PER_DAY, i64::MAX - 1);
        }
        assert_eq!(state.total_spend_cents, i64::MAX);
        assert_eq!(tally.into_state(), state);
    }

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day_of(-1), -1);
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(midnight(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), SECONDS_PER_DAY);
    }

    /// The states the events make folded in their order and in reverse.
    fn fold_both_ways(events: &[(i64, EventKind)]) -> (CustomerState, CustomerState) {
        let mut forward = CustomerState::default();
        let mut backward = CustomerState::default();
        for (at, kind) in events {
            forward.apply(*at, kind);
        }
        for (at, kind) in events.iter().rev() {
            backward.apply(*at, kind);
        }
        (forward, backward)
    }

    #[test]
    fn the_latest_consent_counts_in_any_order_and_a_tie_withdraws() {
        let consent = |given: bool| EventKind::Consent {
            channel: "email".into(),
            given,
            reason: "test".into(),
        };
        let events = [
            (10, consent(true)),
            (20, consent(false)),
            (30, consent(true)),
            (30, consent(false)),
        ];
        let (forward, backward) = fold_both_ways(&events);
        assert_eq!(
            (forward.email_consent, forward.email_consent_at),
            (Some(false), Some(30))
        );
        assert_eq!(forward, backward);
        let mut sms = CustomerState::default();
        sms.apply(
            5,
            &EventKind::Consent {
                channel: "sms".into(),
                given: true,
                reason: "test".into(),
            },
        );
        assert_eq!(sms.email_consent, None, "another channel leaves e-mail consent alone");
    }

    #[test]
    fn the_latest_nps_answer_counts_in_any_order_and_other_surveys_leave_it_alone() {
        use crate::domain::survey::{Answer, Answers, SurveySpec};
        let surveys = SurveySpec::built_in();
        let answer = |survey: usize, score: i64| {
            let answers = Answers([("score".to_owned(), Answer::Scale(score))].into());
            EventKind::feedback(&surveys[survey], 1, None, answers)
        };
        let events = [(10, answer(0, 10)), (20, answer(0, 3)), (30, answer(1, 5))];
        let (mut forward, backward) = fold_both_ways(&events);
        assert_eq!(
            (forward.nps_category, forward.nps_at),
            (Some(NpsCategory::Detractor), Some(20))
        );
        assert_eq!(forward, backward, "a CSAT answer is not an NPS answer");
        forward.apply(20, &answer(0, 8));
        assert_eq!(
            forward.nps_category,
            Some(NpsCategory::Passive),
            "a change in the same second counts in log order"
        );
    }
}
