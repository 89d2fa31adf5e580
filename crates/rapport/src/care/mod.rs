//! Care: plans read from files (plan_file.rs), and the scheduler that runs their due occurrences.
//!
//! Occurrences are planned where the events that cause them are stored (`store::CareTx`), so a
//! run never scans customers: it claims what is due, decides for each (paused plan, expired,
//! conditions, hold-out) and settles it with the task it creates, all in one transaction. A claim
//! and its outcome commit together or not at all, which makes every occurrence run exactly once
//! whatever crashes, and on PostgreSQL concurrent runs (replicas, `run-due` from cron) skip the
//! rows another run holds.

pub mod email;
pub mod plan_file;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::calendar::Calendar;
use crate::domain::link::LinkKey;
use crate::domain::plan::{Action, CareContext, OccurrenceStatus, Rhythm, Trigger, held_out};
use crate::domain::state::format_day;
use crate::domain::webhook::EventType;
use crate::domain::{CustomerId, Email, EventKind, ExternalId, NewEvent};
use crate::ingest::Ingest;
use crate::store::{
    DueOccurrence, NewInvitation, NewTask, PlanChange, PlanRecord, Settled, Store, StoreError, StoreResult,
    SurveyRecord, TaskDone, TaskRecord, WriteTx,
};
use crate::voice::invite::{LinkKeys, SURVEY_LINK, new_invitation, survey_mail};
use crate::webhooks::Outbox;
use crate::webhooks::payload::PlanFired;

/// The built-in plans as a plan file: thank-you, second-order ask, week check-in, win-back, the
/// two-year check-in, and closing the loop with detractors (a call within two days, the NPS
/// survey again a month later) (`rapport plans init`).
pub const BUILT_IN_PLANS: &str = include_str!("built_in.toml");

/// The built-in plans, read.
pub fn built_in_plans() -> Vec<crate::domain::plan::PlanSpec> {
    plan_file::parse_plans("built_in.toml", BUILT_IN_PLANS).expect("the built-in plans read (a unit test checks)")
}

/// Occurrences claimed and settled per transaction.
const BATCH: u32 = 500;

/// What one run of the scheduler did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// Due occurrences run.
    pub due: u64,
    /// Tasks put on the agenda.
    pub tasks_created: u64,
    /// E-mails put in the outbox.
    pub emails_queued: u64,
    /// `plan.fired` webhook messages written (one per subscription that wants them).
    pub webhooks_queued: u64,
    /// Survey invitations e-mailed (each also counted in `emails_queued`).
    pub surveys_sent: u64,
    /// Reminders e-mailed to customers who have not answered a survey's link.
    pub reminders_sent: u64,
    /// Occurrences of held-out customers: recorded, no action.
    pub held_out: u64,
    /// Occurrences not acted on, by reason: `paused`, `conditions` (one did not hold), `no longer
    /// due` (the customer came back before the second-order ask, or bought again before being
    /// overdue), `consent` (an e-mail to a customer without consent or address), `cap` (the
    /// contact cap stopped an e-mail; it is not sent later), `expired` (as `expired` counts them).
    pub skipped: BTreeMap<String, u64>,
    /// Occurrences due longer ago than their plan's `expire_after`.
    pub expired: u64,
}

/// The scheduler inside `rapport serve`: runs what is due at start and then at a fixed interval.
/// Every replica runs one; they share the work through their claims.
pub struct Scheduler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts running due occurrences every `every`.
    pub fn start(store: Arc<dyn Store>, settings: email::RunSettings, every: Duration) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.changed() => return,
                }
                let now = chrono::Utc::now().timestamp();
                match run_due(&store, &settings, now).await {
                    Ok(report) if report.due > 0 => tracing::info!(?report, "ran due care plans"),
                    Ok(_) => {}
                    // Nothing was settled by the failed batch: the next tick runs it again.
                    Err(error) => tracing::warn!(%error, "running due care plans failed"),
                }
            }
        });
        Self { stop, task }
    }

    /// Stops after the run in progress, if any, has committed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the care scheduler failed");
        }
    }
}

/// What applying a plan file did to one plan, in a line: "created 'thank-you': 1,204 occurrences
/// planned from the history".
pub fn describe_change(change: &PlanChange) -> String {
    let count = |n: u64, noun: &str| {
        if n == 1 {
            format!("1 {noun}")
        } else {
            format!("{n} {noun}s")
        }
    };
    match change {
        PlanChange::Created { name, planned, expired } => format!(
            "created '{name}': {} planned from the history{}",
            count(*planned, "occurrence"),
            if *expired > 0 {
                format!(", {expired} already past their expiry (counted as expired)")
            } else {
                String::new()
            }
        ),
        PlanChange::Updated {
            name,
            from,
            to,
            replanned,
            planned,
            withdrawn,
        } => {
            let mut text = format!("updated '{name}': version {from} -> {to}");
            if *replanned {
                text.push_str(&format!(
                    "; the trigger changed: {withdrawn} pending withdrawn, {} planned",
                    count(*planned, "occurrence")
                ));
            }
            text
        }
        PlanChange::Unchanged { name } => format!("unchanged '{name}'"),
    }
}

/// Which open tasks an agenda lists, by when they are due (days in the business's time zone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueWindow {
    /// Overdue, today's and the next six days'.
    #[default]
    Soon,
    /// Due today.
    Today,
    /// Due from today to six days ahead.
    Week,
    /// Due before today.
    Overdue,
    /// Every open task.
    All,
}

impl DueWindow {
    /// Every window, for messages.
    pub const ALL: [DueWindow; 5] = [
        DueWindow::Soon,
        DueWindow::Today,
        DueWindow::Week,
        DueWindow::Overdue,
        DueWindow::All,
    ];

    /// The name typed and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            DueWindow::Soon => "soon",
            DueWindow::Today => "today",
            DueWindow::Week => "week",
            DueWindow::Overdue => "overdue",
            DueWindow::All => "all",
        }
    }

    /// The window as `(due from, due before)` in Unix seconds, for the calendar's today.
    pub fn range(self, calendar: &Calendar) -> (Option<i64>, Option<i64>) {
        let today = calendar.day_start_ahead(0);
        match self {
            DueWindow::Soon => (None, Some(calendar.day_start_ahead(7))),
            DueWindow::Today => (Some(today), Some(calendar.day_start_ahead(1))),
            DueWindow::Week => (Some(today), Some(calendar.day_start_ahead(7))),
            DueWindow::Overdue => (None, Some(today)),
            DueWindow::All => (None, None),
        }
    }
}

/// The agenda's group of a task due at `due_at`: `Overdue`, `Today`, `This week` or `Later`.
pub fn due_group(due_at: i64, calendar: &Calendar) -> &'static str {
    if due_at < calendar.day_start_ahead(0) {
        "Overdue"
    } else if due_at < calendar.day_start_ahead(1) {
        "Today"
    } else if due_at < calendar.day_start_ahead(7) {
        "This week"
    } else {
        "Later"
    }
}

impl std::str::FromStr for DueWindow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        DueWindow::ALL
            .into_iter()
            .find(|w| w.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let known: Vec<&str> = DueWindow::ALL.iter().map(|w| w.as_str()).collect();
                format!("'{s}' is not a window: use one of {}", known.join(", "))
            })
    }
}

/// Marks a task done and puts its outcome on the customer's timeline as an interaction, in one
/// transaction (`TaskDone` says how it ended, who did it and when).
pub async fn complete_task(store: &Arc<dyn Store>, done: &TaskDone<'_>) -> StoreResult<TaskRecord> {
    let mut ingest = Ingest::begin(store, "a completed task").await?;
    let (task, customer, event) = complete_in(&mut ingest, done).await?;
    ingest.push(&customer, event).await?;
    ingest.finish().await?;
    Ok(task)
}

/// Marks a task done in `ingest`'s transaction; returns it with its customer and the interaction
/// its outcome becomes, for the caller to push with its other events (in the order they happened).
pub async fn complete_in(ingest: &mut Ingest, done: &TaskDone<'_>) -> StoreResult<(TaskRecord, ExternalId, NewEvent)> {
    let task = ingest.care().complete_task(done).await?;
    let customer = ExternalId::parse(&task.customer)
        .map_err(|e| StoreError::Corrupt(format!("task {}: customer id: {}", task.id, e.0)))?;
    let mut note = format!("{}: {}", task.title, done.outcome.describe());
    if let Some(text) = done.note.filter(|n| !n.trim().is_empty()) {
        note.push_str(". ");
        note.push_str(text.trim());
    }
    let event = NewEvent {
        key: format!("task:{}", task.id),
        occurred_at: done.at,
        kind: EventKind::Interaction {
            channel: "task".to_owned(),
            note,
        },
    };
    Ok((task, customer, event))
}

/// The event of a customer's e-mail consent answer at `now`, keyed by customer, time and answer.
pub fn email_consent_event(customer: &ExternalId, given: bool, reason: &str, now: i64) -> NewEvent {
    NewEvent {
        key: format!("consent:{customer}:{now}:{given}"),
        occurred_at: now,
        kind: EventKind::Consent {
            channel: "email".to_owned(),
            given,
            reason: reason.to_owned(),
        },
    }
}

/// Records a customer's answer on e-mail consent as a consent event on their timeline (`reason`
/// says where it came from), unless it is already their answer; says whether it changed.
pub async fn set_email_consent(
    store: &Arc<dyn Store>,
    customer: &ExternalId,
    given: bool,
    reason: &str,
    now: i64,
) -> StoreResult<bool> {
    let Some(record) = store.customer(customer).await? else {
        return Err(StoreError::NotFound(format!("customer '{customer}'")));
    };
    if record.state.email_consent == Some(given) {
        return Ok(false);
    }
    let mut ingest = Ingest::begin(store, reason).await?;
    ingest
        .push(customer, email_consent_event(customer, given, reason, now))
        .await?;
    ingest.finish().await?;
    Ok(true)
}

/// What following an unsubscribe link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribed {
    /// Consent is withdrawn now.
    Now,
    /// It was withdrawn before.
    Already,
}

/// The customer an unsubscribe token names; `None` when the token is not one Rapport signed (or
/// its customer is gone). Nothing else is read before the token's signature is checked.
pub async fn unsubscribe_target(
    store: &Arc<dyn Store>,
    token: &str,
    now: i64,
) -> StoreResult<Option<crate::store::CustomerRecord>> {
    let key = store.link_key(email::UNSUBSCRIBE, now).await?;
    let Ok(fields) = key.verify(email::UNSUBSCRIBE, token) else {
        return Ok(None);
    };
    let Some(id) = fields.first().and_then(|f| f.parse().ok()).map(CustomerId) else {
        return Ok(None);
    };
    store.customer_by_id(id).await
}

/// Withdraws the e-mail consent of the customer an unsubscribe token names; `None` for a token
/// `unsubscribe_target` refuses.
pub async fn unsubscribe(store: &Arc<dyn Store>, token: &str, now: i64) -> StoreResult<Option<Unsubscribed>> {
    let Some(customer) = unsubscribe_target(store, token, now).await? else {
        return Ok(None);
    };
    let ext = ExternalId::parse(&customer.external_id)
        .map_err(|e| StoreError::Corrupt(format!("customer {}: id: {}", customer.id, e.0)))?;
    let changed = set_email_consent(store, &ext, false, "unsubscribe link in an e-mail", now).await?;
    Ok(Some(if changed {
        Unsubscribed::Now
    } else {
        Unsubscribed::Already
    }))
}

/// Runs every occurrence due at `now`, in transactions of a few hundred.
pub async fn run_due(store: &Arc<dyn Store>, settings: &email::RunSettings, now: i64) -> StoreResult<RunReport> {
    let mut report = RunReport::default();
    plan_schedules(store, settings, now).await?;
    while run_batch(store, settings, now, &mut report).await? == BATCH as usize {}
    let reminded = crate::voice::send::remind(store, settings, now).await?;
    report.reminders_sent = reminded.sent;
    for (reason, n) in reminded.skipped {
        *report.skipped.entry(format!("reminder: {reason}")).or_default() += n;
    }
    Ok(report)
}

/// The most firings of one schedule planned in one run: a schedule every minute after a long
/// downtime stops there (the rest wait for the next run).
const MAX_FIRINGS: usize = 1_000;

/// Plans the firings of every `schedule` plan that fell due since its last one (or since the
/// plan was created), in the business's time zone; firings older than the plan's expiry are
/// counted as expired. Replicas doing it at once plan each occurrence once (its key).
async fn plan_schedules(store: &Arc<dyn Store>, settings: &email::RunSettings, now: i64) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    let plans = tx.care().plans_in_force().await?;
    let mut planned = 0;
    for plan in plans.iter().filter(|p| !p.paused) {
        let Trigger::Schedule { cron } = &plan.spec.trigger else {
            continue;
        };
        let cron = crate::domain::plan::cron(cron)
            .map_err(|e| StoreError::Corrupt(format!("plan '{}': {e}", plan.spec.name)))?;
        let mut from = tx.care().last_fire(plan.id).await?.unwrap_or(plan.created_at);
        for _ in 0..MAX_FIRINGS {
            let Some(start) = chrono::DateTime::from_timestamp(from, 0) else {
                break;
            };
            let start = start.with_timezone(&settings.time_zone);
            let Ok(next) = cron.find_next_occurrence(&start, false) else {
                break;
            };
            let at = next.timestamp();
            if at > now {
                break;
            }
            let expired = now - at > plan.spec.expire_after.seconds;
            planned += tx.care().plan_fire(plan, at, now, expired).await?;
            from = at;
        }
    }
    tx.commit().await?;
    if planned > 0 {
        tracing::info!(planned, "planned scheduled care");
    }
    Ok(())
}

/// What deciding an e-mail needs: the cap, the batch's customers' recent messages (those this
/// batch queues added as it goes) and the key that signs unsubscribe links; for surveys, the
/// surveys the due plans send, the key that signs their links, and the invitations made so far.
struct Outreach<'a> {
    settings: &'a email::RunSettings,
    sent: HashMap<CustomerId, Vec<i64>>,
    key: Option<LinkKey>,
    surveys: HashMap<String, SurveyRecord>,
    survey_key: Option<LinkKey>,
    invitations: Vec<(i64, String, NewInvitation)>,
}

impl<'a> Outreach<'a> {
    /// What deciding the batch's e-mails needs, read once: nothing when none is due.
    async fn load(
        tx: &mut dyn WriteTx,
        settings: &'a email::RunSettings,
        due: &[DueOccurrence],
        plans: &HashMap<i64, PlanRecord>,
        now: i64,
    ) -> StoreResult<Self> {
        let mut outreach = Outreach {
            settings,
            sent: HashMap::new(),
            key: None,
            surveys: HashMap::new(),
            survey_key: None,
            invitations: Vec::new(),
        };
        let mut recipients: Vec<CustomerId> = due
            .iter()
            .filter(|d| plans[&d.plan_id].spec.action.contacts())
            .map(|d| d.customer_id)
            .collect();
        if recipients.is_empty() {
            return Ok(outreach);
        }
        recipients.sort_unstable();
        recipients.dedup();
        // Another replica's batch may be writing to the same customers: the cap is checked
        // against what it committed, one batch after the other.
        tx.mail().lock_recipients(&recipients).await?;
        let since = now - settings.cap.horizon();
        for (customer, at) in tx.mail().recent_mail(&recipients, since).await? {
            outreach.sent.entry(customer).or_default().push(at);
        }
        outreach.key = Some(tx.mail().link_key(email::UNSUBSCRIBE, now).await?);
        let mut names: Vec<&str> = due
            .iter()
            .filter_map(|d| match &plans[&d.plan_id].spec.action {
                Action::Survey { survey } => Some(survey.as_str()),
                _ => None,
            })
            .collect();
        if !names.is_empty() {
            names.sort_unstable();
            names.dedup();
            for record in tx.feedback().surveys_named(&names).await? {
                outreach.surveys.insert(record.spec.name.clone(), record);
            }
            outreach.survey_key = Some(tx.mail().link_key(SURVEY_LINK, now).await?);
        }
        Ok(outreach)
    }
}

impl RunReport {
    /// Adds another run's counts to these.
    pub fn add(&mut self, other: RunReport) {
        self.due += other.due;
        self.tasks_created += other.tasks_created;
        self.emails_queued += other.emails_queued;
        self.webhooks_queued += other.webhooks_queued;
        self.surveys_sent += other.surveys_sent;
        self.reminders_sent += other.reminders_sent;
        self.held_out += other.held_out;
        self.expired += other.expired;
        for (reason, n) in other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
    }

    /// Counts what became of one occurrence (`skip` says why a skipped one was).
    fn tally(&mut self, s: &Settled, skip: Option<&str>) {
        self.due += 1;
        let mut skipped = |reason: &str| *self.skipped.entry(reason.to_owned()).or_default() += 1;
        match s.status {
            OccurrenceStatus::Done => {
                self.tasks_created += u64::from(s.task.is_some());
                self.emails_queued += u64::from(s.mail.is_some());
            }
            OccurrenceStatus::HeldOut => self.held_out += 1,
            OccurrenceStatus::Expired => {
                skipped("expired");
                self.expired += 1;
            }
            OccurrenceStatus::Skipped => skipped(skip.unwrap_or("conditions")),
            OccurrenceStatus::Pending => unreachable!("decide settles every occurrence"),
        }
    }
}

/// Claims, decides and settles one batch; returns how many it claimed.
async fn run_batch(
    store: &Arc<dyn Store>,
    settings: &email::RunSettings,
    now: i64,
    report: &mut RunReport,
) -> StoreResult<usize> {
    let mut tx = store.begin().await?;
    let due = tx.care().claim_due(now, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let plans: HashMap<i64, PlanRecord> = tx
        .care()
        .plans_in_force()
        .await?
        .into_iter()
        .map(|plan| (plan.id, plan))
        .collect();
    let mut customers: Vec<CustomerId> = due.iter().map(|d| d.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    let contexts: HashMap<CustomerId, CareContext> = tx.care().care_contexts(&customers).await?.into_iter().collect();
    // The business's rhythm at the percentiles the due plans read, once a batch.
    let mut rhythms: HashMap<i64, Option<Rhythm>> = HashMap::new();
    for plan in plans.values() {
        if let Some(percent) = rhythm_percent(&plan.spec.trigger)
            && !rhythms.contains_key(&percent)
        {
            let rhythm = tx.care().rhythm(percent, now, RHYTHM_MAX_AGE).await?;
            rhythms.insert(percent, rhythm);
        }
    }
    let mut outreach = Outreach::load(&mut *tx, settings, &due, &plans, now).await?;
    let fires_webhooks = due
        .iter()
        .any(|d| matches!(plans[&d.plan_id].spec.action, Action::Webhook));
    let mut outbox = if fires_webhooks {
        Some(Outbox::load(&mut *tx, now).await?)
    } else {
        None
    };
    let mut settled = Vec::with_capacity(due.len());
    for occurrence in &due {
        let plan = &plans[&occurrence.plan_id];
        let rhythm = rhythm_percent(&plan.spec.trigger).and_then(|p| rhythms[&p]);
        let customer = contexts.get(&occurrence.customer_id);
        let (mut s, skip) = decide(occurrence, plan, customer, rhythm, &mut outreach, now);
        if plan.spec.trigger == Trigger::Anniversary {
            s.follow_up = next_year(occurrence, customer);
        }
        if s.status == OccurrenceStatus::Done
            && matches!(plan.spec.action, Action::Webhook)
            && let (Some(outbox), Some(customer)) = (outbox.as_mut(), customer)
        {
            report.webhooks_queued += u64::from(outbox.wants(EventType::PlanFired));
            let why = plan.spec.trigger.why_now(customer, rhythm, now);
            outbox.push(
                EventType::PlanFired,
                PlanFired::new(plan, occurrence, &customer.external_id, why.as_deref(), now),
            );
        }
        report.tally(&s, skip);
        settled.push(s);
    }
    tx.care().settle_occurrences(&settled, now).await?;
    // One send per plan, its links written together.
    let mut by_plan: BTreeMap<i64, (String, Vec<NewInvitation>)> = BTreeMap::new();
    for (plan_id, plan_name, invitation) in std::mem::take(&mut outreach.invitations) {
        by_plan
            .entry(plan_id)
            .or_insert_with(|| (plan_name, Vec::new()))
            .1
            .push(invitation);
    }
    for (plan_id, (plan_name, invitations)) in by_plan {
        let label = format!("plan '{plan_name}'");
        let send = tx
            .feedback()
            .plan_send(invitations[0].survey_id, plan_id, &label, now)
            .await?;
        tx.feedback().insert_invitations(send, &invitations, now).await?;
        report.surveys_sent += invitations.len() as u64;
    }
    if let Some(mut outbox) = outbox {
        outbox.write(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// The anniversary after the one `occurrence` is (`anniversary:N`), for its customer.
fn next_year(occurrence: &DueOccurrence, customer: Option<&CareContext>) -> Option<(String, i64)> {
    let n: u32 = occurrence.cause.strip_prefix("anniversary:")?.parse().ok()?;
    let first = customer?.state.first_purchase_at?;
    let due = crate::domain::plan::anniversary(first, n + 1)?;
    Some((format!("anniversary:{}", n + 1), due))
}

/// How old the business's rhythm may be before a run computes it again: a day (it scans every
/// customer's state, and moves slowly).
const RHYTHM_MAX_AGE: i64 = 86_400;

/// The percentile of the business's rhythm a trigger reads, if any.
fn rhythm_percent(trigger: &Trigger) -> Option<i64> {
    match trigger {
        Trigger::SecondOrder { percentile } => Some((percentile * 100.0).round() as i64),
        Trigger::Overdue { .. } => Some(50),
        _ => None,
    }
}

/// What a due occurrence becomes: the plan acts unless it is paused, the occurrence is too old,
/// the customer no longer meets the conditions, an e-mail has no consent or would break the
/// contact cap, or the customer is in the hold-out (checked last, so the held-out group is drawn
/// from the customers the plan would have acted for).
fn decide(
    occurrence: &DueOccurrence,
    plan: &PlanRecord,
    customer: Option<&CareContext>,
    rhythm: Option<Rhythm>,
    outreach: &mut Outreach<'_>,
    now: i64,
) -> (Settled, Option<&'static str>) {
    let settle = |status, reason: Option<String>| Settled {
        occurrence_id: occurrence.id,
        status,
        reason,
        version: plan.version,
        task: None,
        mail: None,
        follow_up: None,
    };
    let skip = |kind: &'static str, reason: String| (settle(OccurrenceStatus::Skipped, Some(reason)), Some(kind));
    let spec = &plan.spec;
    if plan.paused {
        return skip("paused", "the plan is paused".to_owned());
    }
    if now - occurrence.due_at > spec.expire_after.seconds {
        let reason = format!(
            "due on {}, more than {} before it was run",
            format_day(occurrence.due_at.div_euclid(86_400)),
            spec.expire_after
        );
        return (settle(OccurrenceStatus::Expired, Some(reason)), None);
    }
    let Some(customer) = customer else {
        return skip("customer gone", "the customer is gone".to_owned());
    };
    if let Err(void) = spec.trigger.still_due(&occurrence.cause, &customer.state) {
        return skip("no longer due", void);
    }
    if let Err(unmet) = spec.when.check(customer, now) {
        return skip("conditions", unmet);
    }
    if let Action::Survey { survey } = &spec.action
        && !outreach.surveys.contains_key(survey)
    {
        return skip("no such survey", format!("there is no survey '{survey}'"));
    }
    let address = match &spec.action {
        Action::Email { .. } | Action::Survey { .. } => match reachable(customer) {
            Ok(address) => {
                let sent = outreach.sent.entry(occurrence.customer_id).or_default();
                if let Err(capped) = outreach.settings.cap.check(sent, now) {
                    return skip("cap", capped);
                }
                Some(address)
            }
            Err(why) => return skip("consent", why),
        },
        Action::Task { .. } | Action::Webhook => None,
    };
    if held_out(plan.id, occurrence.customer_id.0, spec.holdout) {
        return (settle(OccurrenceStatus::HeldOut, None), None);
    }
    let why = spec.trigger.why_now(customer, rhythm, now);
    let mut done = settle(OccurrenceStatus::Done, None);
    match &spec.action {
        Action::Task {
            template,
            due_in,
            assignee,
        } => {
            done.task = Some(NewTask {
                plan_id: plan.id,
                customer_id: occurrence.customer_id,
                title: template.render(customer, &spec.name, now),
                assignee: assignee.clone(),
                due_at: now + due_in.seconds,
                why,
            });
        }
        Action::Email { subject, text, html } => {
            let templates = email::EmailTemplates {
                subject,
                text,
                html: html.as_ref(),
            };
            let to = email::Recipient {
                plan: (plan.id, &spec.name),
                occurrence_id: occurrence.id,
                customer_id: occurrence.customer_id,
                context: customer,
                to: address.expect("checked above"),
                why,
            };
            let key = outreach.key.as_ref().expect("loaded for a batch with e-mail");
            done.mail = Some(email::plan_mail(&templates, to, &outreach.settings.mail, key, now));
            outreach.sent.entry(occurrence.customer_id).or_default().push(now);
        }
        Action::Survey { survey } => {
            let record = &outreach.surveys[survey];
            let expires_at = now + outreach.settings.voice.link_seconds();
            let invitation = new_invitation(record, occurrence.customer_id, expires_at);
            let keys = LinkKeys {
                mail: &outreach.settings.mail,
                survey: outreach.survey_key.as_ref().expect("loaded for a batch with surveys"),
                unsubscribe: outreach.key.as_ref().expect("loaded for a batch with e-mail"),
            };
            let to = address.expect("checked above");
            let mut mail = survey_mail(record, &invitation, customer, to, false, keys, now);
            mail.plan = Some((plan.id, occurrence.id));
            mail.why = why;
            done.mail = Some(mail);
            outreach.sent.entry(occurrence.customer_id).or_default().push(now);
            outreach.invitations.push((plan.id, spec.name.clone(), invitation));
        }
        // The message is written by the caller, which holds the transaction's outbox.
        Action::Webhook => {}
    }
    (done, None)
}

/// The customer's address when they may be e-mailed, else why not.
pub(crate) fn reachable(customer: &CareContext) -> Result<Email, String> {
    let state = &customer.state;
    match state.email_consent {
        Some(true) => {}
        Some(false) => {
            let day = state
                .email_consent_at
                .map_or_else(String::new, |at| format!(" on {}", format_day(at.div_euclid(86_400))));
            return Err(format!("withdrew e-mail consent{day}"));
        }
        None => return Err("never gave e-mail consent".to_owned()),
    }
    let Some(raw) = customer.email.as_deref().filter(|e| !e.trim().is_empty()) else {
        return Err("no e-mail address".to_owned());
    };
    Email::parse(raw).map_err(|_| format!("'{raw}' is not an e-mail address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_plans_read() {
        let names: Vec<String> = built_in_plans().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "thank-you",
                "second-order",
                "week check-in",
                "win-back",
                "two-year check-in",
                "detractor follow-up",
                "detractor re-survey"
            ]
        );
    }
}
