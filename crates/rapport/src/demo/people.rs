//! The demo's people: staff who do each care task a few days after it is due, and customers who
//! respond to care a little. Pure functions of the seed and the task, so a demo is the same for a
//! seed and end date whatever else the database holds.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma};

use crate::domain::plan::TaskOutcome;
use crate::domain::{Currency, EventKind, ExternalId, Money, NewEvent};
use crate::store::{NewCustomer, TaskRecord};

/// How the demo's staff did a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// When (Unix seconds): from the moment it is due to four days later.
    pub at: i64,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// What they noted.
    pub note: Option<&'static str>,
}

/// Outcomes with their weights: most calls reach someone or a voicemail.
const OUTCOMES: [(TaskOutcome, u32); 5] = [
    (TaskOutcome::Reached, 45),
    (TaskOutcome::LeftMessage, 25),
    (TaskOutcome::NoAnswer, 20),
    (TaskOutcome::NotInterested, 7),
    (TaskOutcome::ProblemFound, 3),
];

const REACHED_NOTES: [&str; 4] = [
    "happy with the order",
    "asked about the new collection",
    "will recommend us to a friend",
    "wants to hear about the next sale",
];
const PROBLEM_NOTES: [&str; 3] = [
    "the parcel arrived damaged: replacement sent",
    "wrong size: exchange arranged",
    "invoice missing: sent again",
];

/// When and how the staff do `task`, drawn from the seed, the customer, the plan and when the
/// task was created.
pub fn staff_completion(seed: u64, task: &TaskRecord) -> Completion {
    let mut rng = rng_for(
        seed,
        &[
            "staff",
            &task.customer,
            task.plan.as_deref().unwrap_or(""),
            &task.created_at.to_string(),
        ],
    );
    let at = task.due_at + rng.random_range(0..4 * 86_400);
    let mut pick = rng.random_range(0..OUTCOMES.iter().map(|(_, w)| w).sum::<u32>());
    let outcome = OUTCOMES
        .iter()
        .find(|(_, weight)| {
            let hit = pick < *weight;
            pick = pick.saturating_sub(*weight);
            hit
        })
        .map_or(TaskOutcome::NoAnswer, |(outcome, _)| *outcome);
    let note = match outcome {
        TaskOutcome::Reached if rng.random_bool(0.6) => Some(REACHED_NOTES[rng.random_range(0..REACHED_NOTES.len())]),
        TaskOutcome::ProblemFound => Some(PROBLEM_NOTES[rng.random_range(0..PROBLEM_NOTES.len())]),
        _ => None,
    };
    Completion { at, outcome, note }
}

/// The chance that care brings the customer back for an extra purchase: a conversation more than
/// a voicemail, nothing from a call nobody took; an ask or a thank-you more than a check-in just
/// after a purchase (the customer has what they bought).
fn response_chance(plan: Option<&str>, outcome: TaskOutcome) -> f64 {
    let by_outcome = match outcome {
        TaskOutcome::Reached => 0.5,
        TaskOutcome::LeftMessage => 0.25,
        TaskOutcome::ProblemFound => 0.2,
        TaskOutcome::NoAnswer | TaskOutcome::NotInterested => 0.0,
    };
    let by_plan = match plan {
        Some("thank-you" | "second-order" | "win-back") => 1.0,
        Some("week check-in") => 0.2,
        _ => 0.5,
    };
    by_outcome * by_plan
}

/// The extra purchase a customer makes because of `plan`'s care done for them, if they respond:
/// three to twenty-eight days after it, of an ordinary amount. Held-out customers get no care
/// from the plan, so none of this.
pub fn care_response(seed: u64, customer: &ExternalId, plan: Option<&str>, done: &Completion) -> Option<NewEvent> {
    let mut rng = rng_for(seed, &["response", customer.as_str(), &done.at.to_string()]);
    if !rng.random_bool(response_chance(plan, done.outcome)) {
        return None;
    }
    let day = done.at - done.at.rem_euclid(86_400) + rng.random_range(3..=28) * 86_400;
    let at = day + rng.random_range(8 * 3_600..20 * 3_600);
    let spend: f64 = Gamma::new(6.0, 45.0 / 6.0).expect("valid gamma").sample(&mut rng);
    let order = format!("{customer}-care-{}", done.at);
    Some(NewEvent {
        key: format!("order:{order}"),
        occurred_at: at,
        kind: EventKind::Purchase {
            amount: Money((spend * 100.0).round().max(100.0) as i64),
            currency: Currency::parse("EUR").expect("valid code"),
            order_id: Some(order),
            quantity: Some(rng.random_range(1..3)),
        },
    })
}

/// The customers who give e-mail consent on the sign-up form: about 85 in 100.
pub(super) fn consents(seed: u64, profiles: &[NewCustomer]) -> Vec<ExternalId> {
    profiles
        .iter()
        .filter(|profile| rng_for(seed, &["consent", profile.external_id.as_str()]).random_bool(0.85))
        .map(|profile| profile.external_id.clone())
        .collect()
}

/// A generator seeded from the demo's seed and the parts that name a decision (FNV-1a over
/// them: std's hasher may change between releases, and the demo must not).
pub(super) fn rng_for(seed: u64, parts: &[&str]) -> StdRng {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(customer: &str, created_at: i64) -> TaskRecord {
        TaskRecord {
            id: 1,
            plan: Some("thank-you".into()),
            customer: customer.into(),
            title: "Thank Ana for their first order".into(),
            why: None,
            assignee: None,
            due_at: created_at + 2 * 86_400,
            created_at,
            status: "open".into(),
            outcome: None,
            note: None,
            completed_at: None,
            completed_by: None,
        }
    }

    #[test]
    fn staff_do_a_task_within_four_days_of_its_due_time_and_the_same_way_each_time() {
        for n in 0..200 {
            let task = task(&format!("D{n:05}"), 1_700_000_000 + n * 3_600);
            let done = staff_completion(7, &task);
            assert!(done.at >= task.due_at && done.at < task.due_at + 4 * 86_400);
            assert_eq!(done, staff_completion(7, &task));
        }
    }

    #[test]
    fn about_three_in_ten_thanked_customers_buy_again_within_a_month_and_none_without_an_answer() {
        let (mut responded, mut unanswered, mut checked_in) = (0, 0, 0);
        for n in 0..4_000 {
            let customer = ExternalId::parse(&format!("D{n:05}")).unwrap();
            let done = staff_completion(3, &task(customer.as_str(), 1_700_000_000));
            let response = care_response(3, &customer, Some("thank-you"), &done);
            if let Some(event) = &response {
                let days = (event.occurred_at - done.at) / 86_400;
                assert!((2..=28).contains(&days), "{days} days after the call");
            }
            responded += u32::from(response.is_some());
            unanswered += u32::from(response.is_some() && done.outcome == TaskOutcome::NoAnswer);
            checked_in += u32::from(care_response(3, &customer, Some("week check-in"), &done).is_some());
        }
        assert!((1_050..1_300).contains(&responded), "{responded} of 4000 responded");
        assert_eq!(unanswered, 0);
        assert!(checked_in < responded / 2, "{checked_in} responded to a check-in");
    }
}
