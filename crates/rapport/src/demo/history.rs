//! The demo's history played a day at a time on a simulated clock: each day's events are written
//! as of that day, the care plans run what is due then and the staff do their tasks, so plans act
//! on time (none expires), the hold-out is measured, and the last days' tasks stay open on the
//! agenda.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::people::{Completion, care_response, consents, staff_completion};
use super::voice::{DEMO_PLANS, Voices};
use super::{DemoConfig, DemoData, bounds, generate};
use crate::care::email::RunSettings;
use crate::care::plan_file::parse_plans;
use crate::care::{RunReport, built_in_plans, email_consent_event, run_due};
use crate::domain::survey::SurveySpec;
use crate::domain::{ExternalId, NewEvent};
use crate::ingest::{Ingest, IngestReport};
use crate::store::{Store, StoreResult, TaskDone, TaskRecord};

/// Where the demo's events come from, for stage-change reasons.
const SOURCE: &str = "the demo";
/// Who the demo's staff are on a completed task.
const STAFF: &str = "demo staff";
/// More open tasks than a demo's staff ever have at once.
const OPEN_TASKS: u32 = 100_000;

/// Extra purchases of customers who responded to care, by time (and key, for a fixed order).
type Responses = BTreeMap<(i64, String), (ExternalId, NewEvent)>;

/// What playing the history did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Played {
    /// What was written, summed over the days.
    pub ingest: IngestReport,
    /// What the plans did, summed over the days' runs.
    pub care: RunReport,
    /// Tasks the staff completed.
    pub tasks_completed: u64,
    /// Extra purchases of customers who responded to care.
    pub care_purchases: u64,
    /// Survey links e-mailed by the plans (as `care.surveys_sent` counts them).
    pub surveys_sent: u64,
    /// Surveys the customers answered.
    pub surveys_answered: u64,
    /// "You said, we did" actions the staff recorded.
    pub actions_recorded: u64,
    /// The clock at the end: the last second of the history (Unix seconds).
    pub end: i64,
}

/// Writes the demo business of `config` into `store` as it happened: the built-in surveys and
/// plans and the demo's own (`DEMO_PLANS`) applied at the start of the history, most customers'
/// e-mail consent given at sign-up, then, a day at a time, that day's events, the tasks the staff
/// did, the plans' due occurrences run and the surveys answered. The same seed and end date give
/// the same business.
pub async fn play(store: &Arc<dyn Store>, config: &DemoConfig) -> StoreResult<Played> {
    let DemoData { profiles, mut events } = generate(config);
    events.sort_by_key(|(_, event)| event.occurred_at);
    let (start, end) = bounds(config);
    let mut played = Played {
        end,
        ..Default::default()
    };
    store.apply_surveys(&SurveySpec::built_in(), start).await?;
    let mut plans = built_in_plans();
    plans
        .extend(parse_plans("the demo's plans", DEMO_PLANS).expect("the demo's plans read (the demo test plays them)"));
    store.apply_plans(&plans, start).await?;
    let consenting = consents(config.seed, &profiles);
    let mut ingest = Ingest::begin_at(store, SOURCE, start).await?;
    ingest.upsert_profiles(profiles).await?;
    for customer in consenting {
        let event = email_consent_event(&customer, true, "the demo's sign-up form", start);
        ingest.push(&customer, event).await?;
    }
    add_ingest(&mut played.ingest, ingest.finish().await?);
    let mut events = events.into_iter().peekable();
    let mut responses = Responses::new();
    let mut voices = Voices::default();
    // The demo's customers answer the first e-mail or never: a reminder would only cost time.
    let mut settings = RunSettings::default();
    settings.voice.reminders = 0;
    let mut now = start;
    while now < end {
        now = next_tick(now, end);
        let mut tick: Vec<(ExternalId, NewEvent)> = Vec::new();
        while let Some(event) = events.next_if(|(_, e)| e.occurred_at <= now) {
            tick.push(event);
        }
        take_responses(&mut responses, now, &mut tick);
        // Read before the write transaction begins: a reader beside it may need a connection.
        let due: Vec<(TaskRecord, Completion)> = store
            .open_tasks(OPEN_TASKS)
            .await?
            .into_iter()
            .map(|task| {
                let done = staff_completion(config.seed, &task);
                (task, done)
            })
            .filter(|(_, done)| done.at <= now)
            .collect();
        if !tick.is_empty() || !due.is_empty() {
            let mut ingest = Ingest::begin_at(store, SOURCE, now).await?;
            for (task, done) in &due {
                let customer = complete(&mut ingest, task, done, &mut tick).await?;
                voices.called(&customer, done);
                if let Some(purchase) = care_response(config.seed, &customer, task.plan.as_deref(), done)
                    && purchase.occurred_at <= end
                {
                    responses.insert((purchase.occurred_at, purchase.key.clone()), (customer, purchase));
                    played.care_purchases += 1;
                }
            }
            played.tasks_completed += due.len() as u64;
            // A response can come within the tick of the call that caused it.
            take_responses(&mut responses, now, &mut tick);
            // A customer's events go in in the order they happened: their state is folded so.
            tick.sort_by_key(|(_, event)| event.occurred_at);
            for (customer, event) in tick {
                ingest.push(&customer, event).await?;
            }
            add_ingest(&mut played.ingest, ingest.finish().await?);
        }
        // The tick's answers, after its events.
        voices.answer_due(store, config.seed, now).await?;
        // No SMTP server: the survey e-mails stay queued, and the customers answer their links.
        played.care.add(run_due(store, &settings, now).await?);
        voices.invited(store, config.seed, now, now + 1).await?;
    }
    played.surveys_sent = played.care.surveys_sent;
    played.surveys_answered = voices.answered;
    // Quarters in UTC: the demo's business has no time zone of its own.
    played.actions_recorded = super::report_back::report_back(store, start, end, chrono_tz::Tz::UTC).await?;
    Ok(played)
}

/// The clock's next reading after `now`: a week later while more than four weeks of the history
/// remain, then a day later, to `end`. The weeks keep a demo quick (each tick costs a few
/// transactions whatever it holds) and act in time (every plan's `expire_after` is a week or
/// more, so nothing due within a tick expires); the last weeks' days leave the agenda as a day's
/// work leaves it, with tasks due today and this week.
fn next_tick(now: i64, end: i64) -> i64 {
    let days = if end - now > 28 * 86_400 { 7 } else { 1 };
    (now + days * 86_400).min(end)
}

/// Moves the responses that happened by `now` to `tick`.
fn take_responses(responses: &mut Responses, now: i64, tick: &mut Vec<(ExternalId, NewEvent)>) {
    while let Some(entry) = responses.first_entry()
        && entry.key().0 <= now
    {
        tick.push(entry.remove());
    }
}

/// Marks `task` done as `done` says in the ingest's transaction, and adds the interaction its
/// outcome becomes to `tick` (at the demo's clock, in the step's one transaction); returns the
/// customer.
async fn complete(
    ingest: &mut Ingest,
    task: &TaskRecord,
    done: &Completion,
    tick: &mut Vec<(ExternalId, NewEvent)>,
) -> StoreResult<ExternalId> {
    let done = TaskDone {
        id: task.id,
        outcome: done.outcome,
        note: done.note,
        by: STAFF,
        at: done.at,
    };
    let (_, customer, event) = crate::care::complete_in(ingest, &done).await?;
    tick.push((customer.clone(), event));
    Ok(customer)
}

fn add_ingest(total: &mut IngestReport, report: IngestReport) {
    total.stored += report.stored;
    total.duplicates += report.duplicates;
    total.customers_created += report.customers_created;
    total.stage_changes += report.stage_changes;
}
