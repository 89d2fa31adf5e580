//! Lifecycle stages and the rules that promote a customer through them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::state::{CustomerState, day_of, format_day};
use super::types::ParseError;

/// Where a customer stands in the relationship, from first contact to advocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Known to the business, no interaction yet.
    Suspect,
    /// Has interacted but not bought.
    Prospect,
    /// Has bought, on one day only.
    Customer,
    /// Has bought on two or more different days: the second sale happened.
    Client,
    /// Has referred someone who bought.
    Partner,
}

impl Stage {
    /// Every stage, in funnel order.
    pub const ALL: [Stage; 5] = [
        Stage::Suspect,
        Stage::Prospect,
        Stage::Customer,
        Stage::Client,
        Stage::Partner,
    ];

    /// The stage's stable lower-case name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Suspect => "suspect",
            Stage::Prospect => "prospect",
            Stage::Customer => "customer",
            Stage::Client => "client",
            Stage::Partner => "partner",
        }
    }

    /// The next stage in the funnel, if any.
    pub fn next(self) -> Option<Stage> {
        Stage::ALL.get(self as usize + 1).copied()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                ParseError(format!(
                    "'{s}' is not a stage (expected suspect, prospect, customer, client or partner)"
                ))
            })
    }
}

/// A move from one stage to another, with when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The stage before, `None` for a customer's first stage.
    pub from: Option<Stage>,
    /// The stage after.
    pub to: Stage,
    /// When the change took effect (Unix seconds).
    pub at: i64,
    /// Why, in words a person understands.
    pub reason: String,
}

/// The stages a customer's events earn, above the current stage, each with the time it was earned.
///
/// Events only ever promote: a demotion is a decision (by a person, or later by the defection
/// radar), so a manual demotion stands until new behaviour earns the higher stage again.
pub fn promotions(state: &CustomerState) -> Vec<StageChange> {
    let mut changes = Vec::new();
    let mut current = state.stage;
    for (stage, at, reason) in earned(state) {
        if current.is_none_or(|c| stage > c) {
            changes.push(StageChange {
                from: current,
                to: stage,
                at,
                reason,
            });
            current = Some(stage);
        }
    }
    changes
}

/// Each rung of the funnel the state has reached through behaviour, in order.
fn earned(state: &CustomerState) -> Vec<(Stage, i64, String)> {
    let mut rungs = Vec::new();
    if let Some(at) = state.first_interaction_at
        && state.first_purchase_at.is_none_or(|bought| at < bought)
    {
        rungs.push((Stage::Prospect, at, "first interaction".to_owned()));
    }
    if let Some(first) = state.first_purchase_at {
        rungs.push((
            Stage::Customer,
            first,
            format!("first purchase on {}", format_day(day_of(first))),
        ));
        if let Some(second) = state.second_purchase_at {
            let reason = format!(
                "second purchase on {}, {} days after the first",
                format_day(day_of(second)),
                day_of(second) - day_of(first)
            );
            rungs.push((Stage::Client, second, reason));
        }
    }
    if let Some(at) = state.first_referral_at {
        rungs.push((Stage::Partner, at, "referred a customer who bought".to_owned()));
    }
    rungs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, Money};

    const DAY: i64 = 86_400;

    fn purchase() -> EventKind {
        EventKind::Purchase {
            amount: Money(1000),
            currency: Default::default(),
            order_id: None,
            quantity: None,
        }
    }

    #[test]
    fn stage_names_round_trip_and_order_follows_the_funnel() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        }
        assert!(Stage::Suspect < Stage::Partner);
        assert_eq!(Stage::Client.next(), Some(Stage::Partner));
        assert!("vip".parse::<Stage>().is_err());
    }

    #[test]
    fn a_first_purchase_makes_a_customer_and_a_second_day_makes_a_client() {
        let mut state = CustomerState::default();
        state.apply(10 * DAY, &purchase());
        let first = promotions(&state);
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].from, first[0].to), (None, Stage::Customer));
        state.apply_stage_change(&first[0]);

        state.apply(10 * DAY + 3600, &purchase());
        assert!(
            promotions(&state).is_empty(),
            "a second purchase on the same day is not the second sale"
        );

        state.apply(40 * DAY, &purchase());
        let second = promotions(&state);
        assert_eq!((second[0].from, second[0].to), (Some(Stage::Customer), Stage::Client));
        assert!(
            second[0].reason.contains("30 days after the first"),
            "{}",
            second[0].reason
        );
    }

    #[test]
    fn an_interaction_before_buying_passes_through_prospect() {
        let mut state = CustomerState::default();
        state.apply(
            DAY,
            &EventKind::Interaction {
                channel: "phone".into(),
                note: String::new(),
            },
        );
        state.apply(2 * DAY, &purchase());
        let stages: Vec<Stage> = promotions(&state).iter().map(|c| c.to).collect();
        assert_eq!(stages, [Stage::Prospect, Stage::Customer]);
    }

    #[test]
    fn a_manual_demotion_stands_until_behaviour_earns_more() {
        let mut state = CustomerState::default();
        state.apply(DAY, &purchase());
        state.apply(5 * DAY, &purchase());
        for change in promotions(&state) {
            state.apply_stage_change(&change);
        }
        state.apply_stage_change(&StageChange {
            from: Some(Stage::Client),
            to: Stage::Prospect,
            at: 6 * DAY,
            reason: "test".into(),
        });
        let again = promotions(&state);
        assert_eq!(again.last().map(|c| c.to), Some(Stage::Client));
        assert_eq!(state.max_stage, Some(Stage::Client));
    }
}
