//! The demo's customers answering the surveys the plans send them: about a third answer, loyal
//! ones a little more, within a few days, each answer checked as the survey page checks it.
//! The score follows what happened to them (repeat orders and a good call lift it; a late,
//! broken or pricey order, or going quiet after one order, sinks it) with noise, and the comment
//! says so (comments.rs). Pure functions of the seed, the customer and the link's survey and
//! time, so a seed gives the same answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::comments::{Incident, Story, comment};
use super::people::{Completion, rng_for};
use crate::domain::plan::TaskOutcome;
use crate::domain::survey::{NpsCategory, SurveyKind, SurveySpec};
use crate::domain::{CustomerId, ExternalId};
use crate::store::{CustomerRecord, InvitationRecord, Store, StoreError, StoreResult};
use crate::voice::respond::{Checked, check_personal, save};

/// The demo's own plans beside the built-in ones: NPS two weeks after every purchase, and CSAT
/// the day after a conversation (a staff call is one), so the voice pages have answers to show.
pub const DEMO_PLANS: &str = r#"
[[plan]]
name = "nps after purchase"
description = "Two weeks after every purchase: would the customer recommend us?"
trigger = { after = "purchase", offset = "14d" }
when = { stage = ["customer", "client", "partner"] }
action = { survey = "nps" }
holdout = 0.0

[[plan]]
name = "csat after a conversation"
description = "The day after a conversation with the customer: how satisfied were they?"
trigger = { after = "interaction", offset = "1d" }
action = { survey = "csat" }
holdout = 0.0
"#;

/// The longest a customer takes to answer (seconds): well within a link's life.
const MAX_DELAY: i64 = 5 * 86_400;
/// Calls that count as care the customer felt, and how long they are remembered (seconds).
const CALL_MEMORY: i64 = 90 * 86_400;

/// Links waiting to be answered, and what the staff did for whom.
#[derive(Debug, Default)]
pub struct Voices {
    /// Links by when their customer would answer (and the customer and survey, for a fixed
    /// order: link ids are random).
    pending: BTreeMap<(i64, CustomerId, String), InvitationRecord>,
    /// The staff's calls by customer: when and how they ended.
    calls: HashMap<String, Vec<(i64, TaskOutcome)>>,
    /// The surveys' versions, read once: they do not change while the demo plays.
    surveys: HashMap<(i64, i64), SurveySpec>,
    /// Answers stored.
    pub answered: u64,
}

impl Voices {
    /// Remembers a call the staff made, for the customer's next answers.
    pub fn called(&mut self, customer: &ExternalId, done: &Completion) {
        let calls = self.calls.entry(customer.as_str().to_owned()).or_default();
        calls.push((done.at, done.outcome));
    }

    /// Takes the links made from `from` until `until`: each is answered (or not) later.
    pub async fn invited(&mut self, store: &Arc<dyn Store>, seed: u64, from: i64, until: i64) -> StoreResult<()> {
        for link in store.invitations_made(from, until).await? {
            let at = link.created_at + 3_600 + link_rng(seed, &link, "delay").random_range(0..MAX_DELAY);
            self.pending.insert((at, link.customer_id, link.survey.clone()), link);
        }
        Ok(())
    }

    /// Answers, as their customers, the links due by `now`: those whose customer chooses to. The
    /// answers are stored together, in one transaction: one each would make the demo's writes
    /// most of its time.
    pub async fn answer_due(&mut self, store: &Arc<dyn Store>, seed: u64, now: i64) -> StoreResult<()> {
        let mut answers = Vec::new();
        while let Some(entry) = self.pending.first_entry()
            && entry.key().0 <= now
        {
            let ((at, ..), link) = entry.remove_entry();
            if at < link.expires_at
                && let Some(checked) = self.respond(store, seed, &link, at).await?
            {
                answers.push(checked);
            }
        }
        self.answered += answers.len() as u64;
        save(store, answers, now).await
    }

    /// The answer to `link` at `at`, checked as the survey page checks it, if its customer is
    /// the answering kind this time.
    async fn respond(
        &mut self,
        store: &Arc<dyn Store>,
        seed: u64,
        link: &InvitationRecord,
        at: i64,
    ) -> StoreResult<Option<Checked>> {
        let mut rng = link_rng(seed, link, "answer");
        // Drawn before the customer is read: most never answer, and reading costs.
        let willing: f64 = rng.random();
        if willing >= 0.45 {
            return Ok(None);
        }
        let Some(customer) = store.customer_by_id(link.customer_id).await? else {
            return Err(StoreError::Corrupt(format!("link {} names no customer", link.id)));
        };
        if customer.state.purchase_count < 3 && willing >= 0.35 {
            return Ok(None);
        }
        let survey = self.survey(store, link).await?;
        let story = self.story(seed, &customer, at);
        let form = form(&mut rng, survey.kind, &story);
        let id = ExternalId::parse(&customer.external_id)
            .map_err(|e| StoreError::Corrupt(format!("customer {}: {}", customer.id, e.0)))?;
        match check_personal(link.clone(), survey, id, &form, at) {
            Ok(checked) => Ok(Some(checked)),
            // The demo writes only valid answers: anything else is its bug.
            Err(problems) => Err(StoreError::Corrupt(format!(
                "the demo's answer to link {} failed: {problems:?}",
                link.id
            ))),
        }
    }

    /// The survey version `link` was sent with.
    async fn survey(&mut self, store: &Arc<dyn Store>, link: &InvitationRecord) -> StoreResult<SurveySpec> {
        let key = (link.survey_id, link.version);
        if let Some(spec) = self.surveys.get(&key) {
            return Ok(spec.clone());
        }
        let Some(spec) = store.survey_version(link.survey_id, link.version).await? else {
            return Err(StoreError::Corrupt(format!(
                "a link names version {} of the survey '{}', which is not there",
                link.version, link.survey
            )));
        };
        self.surveys.insert(key, spec.clone());
        Ok(spec)
    }

    /// What has happened to `customer` by `at`, as their answer reflects it.
    fn story(&self, seed: u64, customer: &CustomerRecord, at: i64) -> Story {
        let state = &customer.state;
        let calls = self.calls.get(&customer.external_id).map_or(&[][..], Vec::as_slice);
        let felt = |since: i64| {
            calls.iter().any(|(when, outcome)| {
                *when >= since && *when <= at && matches!(outcome, TaskOutcome::Reached | TaskOutcome::ProblemFound)
            })
        };
        let unhappy_before = state.nps_category == Some(NpsCategory::Detractor);
        Story {
            orders: state.purchase_count,
            days_since_purchase: state.last_purchase_at.map(|last| (at - last) / 86_400),
            incident: state
                .last_purchase_at
                .and_then(|last| incident(seed, &customer.external_id, last)),
            called: felt(at - CALL_MEMORY),
            followed_up: unhappy_before && state.nps_at.is_some_and(felt),
        }
    }
}

/// The generator for one decision about `link`, named by its customer, survey and time (its id
/// is random, so it would make the demo differ from run to run).
fn link_rng(seed: u64, link: &InvitationRecord, what: &str) -> StdRng {
    let (customer, at) = (link.customer_id.to_string(), link.created_at.to_string());
    rng_for(seed, &[what, &customer, &link.survey, &at])
}

/// What went wrong with the order at `purchased_at`, if anything: about one order in six.
fn incident(seed: u64, customer: &str, purchased_at: i64) -> Option<Incident> {
    let mut rng = rng_for(seed, &["incident", customer, &purchased_at.to_string()]);
    if !rng.random_bool(0.17) {
        return None;
    }
    Some(match rng.random_range(0..20) {
        0..6 => Incident::Late,
        6..11 => Incident::Slow,
        11..14 => Incident::Rude,
        14..17 => Incident::Broken,
        _ => Incident::Price,
    })
}

/// How the customer feels, roughly 0 (furious) to 1 (delighted), before noise.
fn mood(story: &Story) -> f64 {
    let days = story.days_since_purchase.unwrap_or_default();
    let mut mood = 0.68 + 0.05 * (story.orders - 1).clamp(0, 5) as f64;
    if story.orders <= 1 && days > 120 {
        mood -= 0.15;
    }
    if days > 365 {
        mood -= 0.08;
    }
    if story.incident.is_some() {
        mood -= 0.45;
    }
    if story.called {
        mood += 0.1;
    }
    if story.followed_up {
        mood += 0.3;
    }
    mood
}

/// The form the customer sends: the score on the survey's scale, and maybe a comment.
fn form(rng: &mut StdRng, kind: SurveyKind, story: &Story) -> BTreeMap<String, Vec<String>> {
    // The mean of three uniforms: noise that is mostly small, now and then large.
    let noise = (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>()) / 3.0 - 0.5;
    let felt = (mood(story) + noise * 0.6).clamp(0.0, 1.0);
    let (score, category) = match kind {
        SurveyKind::Csat => {
            let score = 1 + (felt * 4.99) as i64;
            (score, NpsCategory::of_survey(SurveyKind::Csat, score))
        }
        _ => {
            let score = (felt * 10.99) as i64;
            (score, NpsCategory::of(score))
        }
    };
    let mut form = BTreeMap::from([("score".to_owned(), vec![score.to_string()])]);
    if let Some(text) = comment(rng, category.unwrap_or(NpsCategory::Passive), story) {
        form.insert("comment".to_owned(), vec![text]);
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_buyer_who_was_called_feels_better_than_a_quiet_one_time_buyer_with_a_late_order() {
        let happy = Story {
            orders: 5,
            days_since_purchase: Some(20),
            called: true,
            ..Default::default()
        };
        let unhappy = Story {
            orders: 1,
            days_since_purchase: Some(200),
            incident: Some(Incident::Late),
            ..Default::default()
        };
        assert!(mood(&happy) > 0.9 && mood(&unhappy) < 0.2);
        let followed_up = Story {
            followed_up: true,
            ..unhappy
        };
        assert!(mood(&followed_up) > mood(&unhappy) + 0.25);
    }

    #[test]
    fn about_one_order_in_six_goes_wrong_and_always_the_same_way() {
        let wrong = (0..6_000).filter(|n| incident(3, "D00001", *n).is_some()).count();
        assert!((850..1_200).contains(&wrong), "{wrong}");
        assert_eq!(incident(3, "D00002", 99), incident(3, "D00002", 99));
    }
}
