//! The write transaction: `WriteTx`, and `SqlTx`, its one implementation over either backend.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Row as _, Transaction};
use tokio::sync::Notify;

use super::backend::{Backend, Batches};
use super::care::{self, CareTx, DueOccurrence, PlanRecord, Settled, TaskDone, TaskRecord};
use super::customers::event_from_row;
use super::feedback::{self, FeedbackTx, InvitationRecord, NewInvitation, ResponseRow};
use super::mail::{self, MailTx, NewMail};
use super::outbox::{AtRiskRow, OutboxMessage, OutboxWrites};
use super::sql::{EVENT_SELECT, STATE_COLUMNS};
use super::{BulkKeys, EventRow, NewCustomer, StoreResult};
use crate::domain::plan::{CareContext, Rhythm};
use crate::domain::score::ScoreRow;
use crate::domain::webhook::EventType;
use crate::domain::{CustomerId, CustomerState, StoredEvent};

/// A write transaction. Dropping it without `commit` rolls everything back.
#[async_trait]
pub trait WriteTx: Send {
    /// The ids of the customers among `external_ids` that exist.
    async fn customer_ids(&mut self, external_ids: &[&str]) -> StoreResult<Vec<(String, CustomerId)>>;
    /// The business's id of one customer, `None` when there is no such customer.
    async fn external_id(&mut self, id: CustomerId) -> StoreResult<Option<String>>;
    /// Creates the customers and returns their ids in input order, each with whether this call
    /// created it: `false` when another writer (a replica) created it after the caller looked it
    /// up, so the caller treats it as existing instead of failing the whole transaction.
    async fn create_customers(&mut self, customers: &[NewCustomer]) -> StoreResult<Vec<(CustomerId, bool)>>;
    /// Replaces the profile fields of existing customers.
    async fn update_profiles(&mut self, updates: &[(CustomerId, NewCustomer)]) -> StoreResult<()>;
    /// Appends events; an event whose key is already in the log is skipped. Returns how many were stored.
    async fn insert_events(&mut self, rows: &[EventRow]) -> StoreResult<u64>;
    /// The largest event id in the log (0 when empty): events stored later have larger ids.
    async fn max_event_id(&mut self) -> StoreResult<i64>;
    /// Whether any customer exists.
    async fn has_customers(&mut self) -> StoreResult<bool>;
    /// The events of these customers with ids from `from_id` on (0 for all), customer by
    /// customer, each in log order.
    async fn events_of_customers(&mut self, customers: &[CustomerId], from_id: i64) -> StoreResult<Vec<StoredEvent>>;
    /// The projected states of those of these customers that have one.
    async fn states_of(&mut self, customers: &[CustomerId]) -> StoreResult<Vec<(CustomerId, CustomerState)>>;
    /// No other transaction appends to the log while this one is open: the events with ids from
    /// the largest when it began are all its own.
    fn sole_writer(&self) -> bool;
    /// Writes customers' projected states.
    async fn save_states(&mut self, states: &[(CustomerId, CustomerState)]) -> StoreResult<()>;
    /// Deletes every projected state (before a rebuild).
    async fn clear_states(&mut self) -> StoreResult<()>;
    /// Prepares for appending many events at once: a backend may drop an index that is cheaper
    /// to rebuild afterwards than to maintain row by row. `end_bulk_load` must follow before reads.
    /// Returns whether event keys are checked only at the end (`keys` allowed it and the backend
    /// gains by it): every event appended meanwhile counts as stored.
    async fn begin_bulk_load(&mut self, keys: BulkKeys) -> StoreResult<bool>;
    /// Restores what `begin_bulk_load` set aside; fails with `StoreError::RepeatedKeys` when keys
    /// were deferred and one of them is in the log twice.
    async fn end_bulk_load(&mut self) -> StoreResult<()>;
    /// Up to `limit` events after `after` = (customer id, event id), in that order: the log, customer by customer.
    async fn events_page(&mut self, after: (i64, i64), limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// Replaces the scores of the customers in `rows` (by external id) with these, from model version `fit_id`.
    async fn save_scores(&mut self, fit_id: i64, scored_at: i64, rows: &[ScoreRow]) -> StoreResult<()>;
    /// The stored events with these keys, in no particular order.
    async fn events_by_keys(&mut self, keys: &[String]) -> StoreResult<Vec<StoredEvent>>;
    /// The keys of `rows` the log holds for another customer or with other columns (its recording
    /// time aside): what may be a conflict rather than a repeat, found without reading the rows
    /// that are plain repeats.
    async fn differing_keys(&mut self, rows: &[EventRow]) -> StoreResult<Vec<String>>;
    /// The live webhook subscriptions and the event types each wants.
    async fn webhook_targets(&mut self) -> StoreResult<Vec<(i64, Vec<EventType>)>>;
    /// Writes messages to the outbox with a delivery, due at `now_ms`, for each of their subscriptions.
    async fn enqueue_webhooks(&mut self, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()>;
    /// The clients and partners scored at `scored_at` whose P(alive) fell from at least `threshold`
    /// at their previous scoring to below it.
    async fn at_risk_crossings(&mut self, threshold: f64, scored_at: i64) -> StoreResult<Vec<AtRiskRow>>;
    /// The care room's statements in this transaction.
    fn care(&mut self) -> &mut dyn CareTx;
    /// The mail room's statements in this transaction.
    fn mail(&mut self) -> &mut dyn MailTx;
    /// The feedback room's statements in this transaction.
    fn feedback(&mut self) -> &mut dyn FeedbackTx;
    /// Makes everything in the transaction permanent.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A write transaction on either backend: statements that read or write one thing at a time run
/// here, the ones that take or return a batch run in the backend's `Batches`.
pub(super) struct SqlTx<DB: Backend> {
    tx: Transaction<'static, DB>,
    batches: DB::Batches,
    outbox: OutboxWrites,
}

impl<DB: Backend> SqlTx<DB> {
    /// Wraps a started transaction on a store whose outbox wakes on `signal`.
    pub(super) fn new(tx: Transaction<'static, DB>, signal: &Arc<Notify>) -> Self {
        Self {
            tx,
            batches: DB::Batches::default(),
            outbox: OutboxWrites::new(signal),
        }
    }
}

#[async_trait]
impl<DB: Backend> WriteTx for SqlTx<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(customers = external_ids.len()))]
    async fn customer_ids(&mut self, external_ids: &[&str]) -> StoreResult<Vec<(String, CustomerId)>> {
        self.batches.customer_ids(&mut self.tx, external_ids).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customer = id.0))]
    async fn external_id(&mut self, id: CustomerId) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT external_id FROM customers WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|(ext,)| ext))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = customers.len()))]
    async fn create_customers(&mut self, customers: &[NewCustomer]) -> StoreResult<Vec<(CustomerId, bool)>> {
        self.batches.create_customers(&mut self.tx, customers).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = updates.len()))]
    async fn update_profiles(&mut self, updates: &[(CustomerId, NewCustomer)]) -> StoreResult<()> {
        for (id, profile) in updates {
            sqlx::query("UPDATE customers SET name = $1, email = $2, phone = $3, attributes = $4 WHERE id = $5")
                .bind(&profile.name)
                .bind(profile.email.as_ref().map(|e| e.as_str()))
                .bind(&profile.phone)
                .bind(serde_json::Value::Object(profile.attributes.clone()).to_string())
                .bind(id.0)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(events = rows.len()))]
    async fn insert_events(&mut self, rows: &[EventRow]) -> StoreResult<u64> {
        self.batches.insert_events(&mut self.tx, rows).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn max_event_id(&mut self) -> StoreResult<i64> {
        let max: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(max.unwrap_or(0))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn has_customers(&mut self) -> StoreResult<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT id FROM customers LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(any.is_some())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = customers.len()))]
    async fn events_of_customers(&mut self, customers: &[CustomerId], from_id: i64) -> StoreResult<Vec<StoredEvent>> {
        self.batches.events_of_customers(&mut self.tx, customers, from_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = customers.len()))]
    async fn states_of(&mut self, customers: &[CustomerId]) -> StoreResult<Vec<(CustomerId, CustomerState)>> {
        let ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
        let sql = format!(
            "SELECT {} FROM customer_state WHERE customer_id IN (SELECT CAST(value AS BIGINT) FROM {})",
            STATE_COLUMNS.join(", "),
            DB::JSON_ROWS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::to_string(&ids).expect("ids serialize"))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    CustomerId(row.try_get("customer_id")?),
                    super::customers::state_from_row::<DB>(row)?,
                ))
            })
            .collect()
    }

    fn sole_writer(&self) -> bool {
        DB::SOLE_WRITER
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = states.len()))]
    async fn save_states(&mut self, states: &[(CustomerId, CustomerState)]) -> StoreResult<()> {
        self.batches.save_states(&mut self.tx, states).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn clear_states(&mut self) -> StoreResult<()> {
        sqlx::query("DELETE FROM customer_state").execute(&mut *self.tx).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin_bulk_load(&mut self, keys: BulkKeys) -> StoreResult<bool> {
        self.batches.begin_bulk_load(&mut self.tx, keys).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn end_bulk_load(&mut self) -> StoreResult<()> {
        self.batches.end_bulk_load(&mut self.tx).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn events_page(&mut self, after: (i64, i64), limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let sql = format!("{EVENT_SELECT} WHERE (customer_id, id) > ($1, $2) ORDER BY customer_id, id LIMIT $3");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.0)
            .bind(after.1)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(event_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(fit = fit_id, customers = rows.len()))]
    async fn save_scores(&mut self, fit_id: i64, scored_at: i64, rows: &[ScoreRow]) -> StoreResult<()> {
        self.batches.save_scores(&mut self.tx, fit_id, scored_at, rows).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(keys = keys.len()))]
    async fn events_by_keys(&mut self, keys: &[String]) -> StoreResult<Vec<StoredEvent>> {
        self.batches.events_by_keys(&mut self.tx, keys).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn differing_keys(&mut self, rows: &[EventRow]) -> StoreResult<Vec<String>> {
        self.batches.differing_keys(&mut self.tx, rows).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn webhook_targets(&mut self) -> StoreResult<Vec<(i64, Vec<EventType>)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, event_types FROM webhook_subscriptions WHERE deleted_at IS NULL")
                .fetch_all(&mut *self.tx)
                .await?;
        rows.into_iter()
            .map(|(id, types)| Ok((id, super::webhooks::event_types(&types)?)))
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(messages = messages.len()))]
    async fn enqueue_webhooks(&mut self, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()> {
        self.outbox.wrote();
        let rows: Vec<_> = messages
            .iter()
            .map(|m| serde_json::json!([m.id, m.event_type.as_str(), m.payload, m.created_at]))
            .collect();
        let sql = format!(
            "INSERT INTO webhook_messages (id, event_type, payload, created_at) \
             SELECT value->>0, value->>1, value->>2, CAST(value->>3 AS BIGINT) FROM {}",
            DB::JSON_ROWS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(&mut *self.tx)
            .await?;
        let pairs: Vec<_> = messages
            .iter()
            .flat_map(|m| m.subscriptions.iter().map(|s| serde_json::json!([m.id, s])))
            .collect();
        let sql = format!(
            "INSERT INTO webhook_deliveries (message_id, subscription_id, status, attempts, next_attempt_ms) \
             SELECT value->>0, CAST(value->>1 AS BIGINT), 'pending', 0, $2 FROM {}",
            DB::JSON_ROWS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::Value::Array(pairs).to_string())
            .bind(now_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn at_risk_crossings(&mut self, threshold: f64, scored_at: i64) -> StoreResult<Vec<AtRiskRow>> {
        let rows = sqlx::query(
            "SELECT c.external_id, c.name, c.email, s.stage, sc.p_alive, sc.previous_p_alive, sc.clv_12m, \
             sc.explanation, sc.fit_id FROM customer_scores sc \
             JOIN customers c ON c.id = sc.customer_id JOIN customer_state s ON s.customer_id = c.id \
             WHERE sc.scored_at = $2 AND sc.p_alive < $1 AND sc.previous_p_alive >= $1 \
             AND s.stage IN ('client', 'partner') ORDER BY c.id",
        )
        .bind(threshold)
        .bind(scored_at)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AtRiskRow {
                    customer_id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    email: row.try_get(2)?,
                    stage: row.try_get(3)?,
                    p_alive: row.try_get(4)?,
                    previous_p_alive: row.try_get(5)?,
                    clv_12m: row.try_get(6)?,
                    explanation: row.try_get(7)?,
                    model_version: row.try_get(8)?,
                })
            })
            .collect()
    }

    fn care(&mut self) -> &mut dyn CareTx {
        self
    }

    fn mail(&mut self) -> &mut dyn MailTx {
        self
    }

    fn feedback(&mut self) -> &mut dyn FeedbackTx {
        self
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        self.outbox.committed();
        Ok(())
    }
}

#[async_trait]
impl<DB: Backend> CareTx for SqlTx<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(from_event_id))]
    async fn plan_new_events(&mut self, from_event_id: i64, now: i64) -> StoreResult<u64> {
        care::plan_new_events::<DB>(&mut self.tx, from_event_id, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn claim_due(&mut self, now: i64, limit: u32) -> StoreResult<Vec<DueOccurrence>> {
        care::claim_due::<DB>(&mut self.tx, now, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn plans_in_force(&mut self) -> StoreResult<Vec<PlanRecord>> {
        care::plans_in_force::<DB>(&mut self.tx).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = customers.len()))]
    async fn care_contexts(&mut self, customers: &[CustomerId]) -> StoreResult<Vec<(CustomerId, CareContext)>> {
        care::care_contexts::<DB>(&mut self.tx, customers).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(settled = settled.len()))]
    async fn settle_occurrences(&mut self, settled: &[Settled], now: i64) -> StoreResult<()> {
        care::settle_occurrences::<DB>(&mut self.tx, settled, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(percent))]
    async fn rhythm(&mut self, percent: i64, now: i64, max_age: i64) -> StoreResult<Option<Rhythm>> {
        care::rhythm::<DB>(&mut self.tx, percent, now, max_age).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn plan_from_scoring(&mut self, scored_at: i64, now: i64) -> StoreResult<u64> {
        care::plan_from_scoring::<DB>(&mut self.tx, scored_at, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(plan = plan_id))]
    async fn last_fire(&mut self, plan_id: i64) -> StoreResult<Option<i64>> {
        care::last_fire::<DB>(&mut self.tx, plan_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(plan = plan.id, at))]
    async fn plan_fire(&mut self, plan: &PlanRecord, at: i64, now: i64, expired: bool) -> StoreResult<u64> {
        care::plan_fire::<DB>(&mut self.tx, plan, at, now, expired).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task = done.id))]
    async fn complete_task(&mut self, done: &TaskDone<'_>) -> StoreResult<TaskRecord> {
        care::complete_task::<DB>(&mut self.tx, done).await
    }
}

#[async_trait]
impl<DB: Backend> MailTx for SqlTx<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(mails = mails.len()))]
    async fn enqueue_mail(&mut self, mails: &[NewMail], now: i64) -> StoreResult<Vec<String>> {
        mail::enqueue_mail::<DB>(&mut self.tx, mails, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = customers.len()))]
    async fn lock_recipients(&mut self, customers: &[CustomerId]) -> StoreResult<()> {
        mail::lock_recipients::<DB>(&mut self.tx, customers).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customers = customers.len()))]
    async fn recent_mail(&mut self, customers: &[CustomerId], since: i64) -> StoreResult<Vec<(CustomerId, i64)>> {
        mail::recent_mail::<DB>(&mut self.tx, customers, since).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(purpose))]
    async fn link_key(&mut self, purpose: &str, now: i64) -> StoreResult<crate::domain::link::LinkKey> {
        mail::link_key::<DB>(&mut self.tx, purpose, now).await
    }
}

#[async_trait]
impl<DB: Backend> FeedbackTx for SqlTx<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(responses = rows.len()))]
    async fn record_responses(&mut self, rows: &[ResponseRow]) -> StoreResult<()> {
        feedback::record_responses::<DB>(&mut self.tx, rows).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn clear_event_responses(&mut self) -> StoreResult<()> {
        feedback::clear_event_responses::<DB>(&mut self.tx).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(survey = survey_id, plan = plan_id))]
    async fn plan_send(&mut self, survey_id: i64, plan_id: i64, label: &str, now: i64) -> StoreResult<i64> {
        feedback::plan_send::<DB>(&mut self.tx, survey_id, plan_id, label, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(survey = survey_id))]
    async fn create_send(&mut self, survey_id: i64, label: &str, now: i64) -> StoreResult<i64> {
        feedback::create_send::<DB>(&mut self.tx, survey_id, label, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(send = send_id, invitations = invitations.len()))]
    async fn insert_invitations(&mut self, send_id: i64, invitations: &[NewInvitation], now: i64) -> StoreResult<()> {
        feedback::insert_invitations::<DB>(&mut self.tx, send_id, invitations, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn claim_reminders(
        &mut self,
        now: i64,
        mailed_before: i64,
        max_reminders: i64,
        limit: u32,
    ) -> StoreResult<Vec<InvitationRecord>> {
        feedback::claim_reminders::<DB>(&mut self.tx, now, mailed_before, max_reminders, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn audience(
        &mut self,
        audience: &super::feedback::Audience<'_>,
        now: i64,
    ) -> StoreResult<Vec<(CustomerId, bool)>> {
        feedback::audience::<DB>(&mut self.tx, audience, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(surveys = names.len()))]
    async fn surveys_named(&mut self, names: &[&str]) -> StoreResult<Vec<super::SurveyRecord>> {
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            found.extend(super::surveys::surveys_where::<DB>(&mut self.tx, Some(name)).await?);
        }
        Ok(found)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(invitations = ids.len()))]
    async fn mark_reminded(&mut self, ids: &[i64], now: i64) -> StoreResult<()> {
        feedback::mark_reminded::<DB>(&mut self.tx, ids, now).await
    }
}
