//! Care: plans read from files (plan_file.rs), and the scheduler that runs their due occurrences.
//!
//! Occurrences are planned where the events that cause them are stored (`store::CareTx`), so a
//! run never scans customers: it claims what is due, decides for each (paused plan, expired,
//! conditions, hold-out) and settles it with the task it creates, all in one transaction. A claim
//! and its outcome commit together or not at all, which makes every occurrence run exactly once
//! whatever crashes, and on PostgreSQL concurrent runs (replicas, `run-due` from cron) skip the
//! rows another run holds.

pub mod plan_file;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::CustomerId;
use crate::domain::plan::{Action, CareContext, OccurrenceStatus, held_out};
use crate::domain::state::format_day;
use crate::store::{DueOccurrence, NewTask, PlanRecord, Settled, Store, StoreResult};

/// Occurrences claimed and settled per transaction.
const BATCH: u32 = 500;

/// What one run of the scheduler did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// Due occurrences run.
    pub due: u64,
    /// Tasks put on the agenda.
    pub tasks_created: u64,
    /// Occurrences of held-out customers: recorded, no action.
    pub held_out: u64,
    /// Occurrences not acted on, by reason (`paused`, `conditions`).
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
    pub fn start(store: Arc<dyn Store>, every: Duration) -> Self {
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
                match run_due(&store, now).await {
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

/// Runs every occurrence due at `now`, in transactions of a few hundred.
pub async fn run_due(store: &Arc<dyn Store>, now: i64) -> StoreResult<RunReport> {
    let mut report = RunReport::default();
    while run_batch(store, now, &mut report).await? == BATCH as usize {}
    Ok(report)
}

/// Claims, decides and settles one batch; returns how many it claimed.
async fn run_batch(store: &Arc<dyn Store>, now: i64, report: &mut RunReport) -> StoreResult<usize> {
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
    let settled: Vec<Settled> = due
        .iter()
        .map(|occurrence| {
            let plan = &plans[&occurrence.plan_id];
            decide(occurrence, plan, contexts.get(&occurrence.customer_id), now)
        })
        .collect();
    for s in &settled {
        report.due += 1;
        match s.status {
            OccurrenceStatus::Done => report.tasks_created += u64::from(s.task.is_some()),
            OccurrenceStatus::HeldOut => report.held_out += 1,
            OccurrenceStatus::Expired => report.expired += 1,
            OccurrenceStatus::Skipped => {
                let reason = if s.reason.as_deref() == Some(PAUSED) {
                    "paused"
                } else {
                    "conditions"
                };
                *report.skipped.entry(reason.to_owned()).or_default() += 1;
            }
            OccurrenceStatus::Pending => unreachable!("decide settles every occurrence"),
        }
    }
    tx.care().settle_occurrences(&settled, now).await?;
    tx.commit().await?;
    Ok(due.len())
}

const PAUSED: &str = "the plan is paused";

/// What a due occurrence becomes: the plan acts unless it is paused, the occurrence is too old,
/// the customer no longer meets the conditions, or is in the hold-out (checked last, so the
/// held-out group is drawn from the customers the plan would have acted for).
fn decide(occurrence: &DueOccurrence, plan: &PlanRecord, customer: Option<&CareContext>, now: i64) -> Settled {
    let settle = |status, reason: Option<String>, task| Settled {
        occurrence_id: occurrence.id,
        status,
        reason,
        version: plan.version,
        task,
    };
    let spec = &plan.spec;
    if plan.paused {
        return settle(OccurrenceStatus::Skipped, Some(PAUSED.to_owned()), None);
    }
    if now - occurrence.due_at > spec.expire_after.seconds {
        let reason = format!(
            "due on {}, more than {} before it was run",
            format_day(occurrence.due_at.div_euclid(86_400)),
            spec.expire_after
        );
        return settle(OccurrenceStatus::Expired, Some(reason), None);
    }
    let Some(customer) = customer else {
        return settle(OccurrenceStatus::Skipped, Some("the customer is gone".to_owned()), None);
    };
    if let Err(unmet) = spec.when.check(customer, now) {
        return settle(OccurrenceStatus::Skipped, Some(unmet), None);
    }
    if held_out(plan.id, occurrence.customer_id.0, spec.holdout) {
        return settle(OccurrenceStatus::HeldOut, None, None);
    }
    match &spec.action {
        Action::Task {
            template,
            due_in,
            assignee,
        } => {
            let task = NewTask {
                plan_id: plan.id,
                customer_id: occurrence.customer_id,
                title: template.render(customer, &spec.name, now),
                assignee: assignee.clone(),
                due_at: now + due_in.seconds,
            };
            settle(OccurrenceStatus::Done, None, Some(task))
        }
    }
}
