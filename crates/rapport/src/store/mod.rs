//! Storage: one `Store` trait, a SQLite and a PostgreSQL backend chosen by URL scheme. The only place with SQL.

mod codec;
pub mod outbox;
mod postgres;
mod shared;
mod sql;
mod sqlite;
mod store_impl;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::funnel::FunnelRow;
use crate::domain::score::ScoreRow;
use crate::domain::webhook::EventType;
use crate::domain::{CustomerId, CustomerState, ExternalId, Role, Stage, StoredEvent};

pub use codec::EventRow;
pub use outbox::{
    AtRiskRow, AttemptRecord, AttemptResult, Claim, ClaimedDelivery, DeliveryPage, DeliveryRecord, DeliveryStatus,
    NewSubscription, NextStep, OutboxMessage, SubscriptionRecord,
};

/// What can go wrong in the store, in domain terms; driver errors are mapped once, here.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one Rapport can use.
    #[error("{0}")]
    BadUrl(String),
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// What the caller wanted to create exists already.
    #[error("{0}")]
    Conflict(String),
    /// An event's key is stored already for another customer or with other content.
    #[error("{0}")]
    KeyConflict(Box<crate::domain::KeyConflict>),
    /// The stored data is not what this version of Rapport expects.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database lacks something the schema needs that Rapport could not add itself (an extension).
    #[error("{0}")]
    Setup(String),
    /// Migrating the schema failed.
    #[error("migrating the database failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database itself failed (unreachable, constraint, I/O).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// The database gave up on the transaction because of other writers (a deadlock or a
    /// serialization failure on PostgreSQL, a lock wait that timed out on SQLite): the same
    /// transaction run again may well succeed.
    pub fn is_transient(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(error)) = self else {
            return false;
        };
        // PostgreSQL: serialization_failure, deadlock_detected. SQLite: SQLITE_BUSY and its
        // extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT), SQLITE_LOCKED.
        matches!(
            error.code().as_deref(),
            Some("40001" | "40P01" | "5" | "261" | "517" | "773" | "6")
        )
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A customer's profile with its projected state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerRecord {
    /// Rapport's id.
    pub id: CustomerId,
    /// The business's id.
    pub external_id: String,
    /// Full name, when known.
    pub name: Option<String>,
    /// E-mail address, when known.
    pub email: Option<String>,
    /// Phone number, when known.
    pub phone: Option<String>,
    /// Further columns from the business's data.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// When Rapport first saw the customer (Unix seconds).
    pub created_at: i64,
    /// The projection of the customer's events.
    pub state: CustomerState,
}

/// A customer to create: the profile, with an id of the business's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewCustomer {
    /// The business's id.
    pub external_id: String,
    /// Full name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Further columns, as a JSON object.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// When the customer was created (Unix seconds).
    pub created_at: i64,
}

/// Which customers `list_customers` returns.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Only customers currently at this stage.
    pub stage: Option<Stage>,
    /// At most this many.
    pub limit: u32,
    /// Only customers with a larger id (keyset pagination).
    pub after: Option<CustomerId>,
}

/// The order of a customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    /// Oldest customer first.
    #[default]
    Id,
    /// Highest 12-month lifetime value first (scored customers only).
    Clv,
    /// Most expected value lost first: 12-month value if still active times the probability of
    /// being gone (scored customers only).
    Risk,
    /// Least likely to be active first (scored customers only).
    PAlive,
    /// Most recent purchase first (customers who bought only).
    LastPurchase,
    /// Highest total spend first.
    Spend,
    /// Most purchases first.
    Orders,
}

/// Where a customer list continues: the last row's sort value and id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    /// The sort column's value on the last row (unused when sorting by id).
    pub value: f64,
    /// The last row's id.
    pub id: i64,
}

/// A filtered, sorted page of customers.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// Only customers at this stage.
    pub stage: Option<Stage>,
    /// Only customers in this RFM segment.
    pub segment: Option<rapport_models::Segment>,
    /// Only customers whose id, e-mail or name holds this anywhere, case-insensitive (text shorter
    /// than `SUBSTRING_SEARCH_MIN` chars, which a trigram index cannot serve, matches from the start).
    pub search: Option<String>,
    /// Only the at-risk list: clients and partners whose P(alive) is below `AT_RISK_P_ALIVE`.
    pub at_risk: bool,
    /// The order.
    pub sort: CustomerSort,
    /// At most this many.
    pub limit: u32,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// A customer with the latest scores, as lists show them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerListItem {
    /// Profile and projected state.
    pub customer: CustomerRecord,
    /// The latest scores, when the customer has been scored.
    pub score: Option<ScoreRow>,
    /// P(alive) at the scoring before the latest, when there was one: whether it is falling.
    pub previous_p_alive: Option<f64>,
}

impl CustomerListItem {
    /// The cursor that continues a list after this row.
    pub fn cursor(&self, sort: CustomerSort) -> Cursor {
        let score = self.score.as_ref();
        let value = match sort {
            CustomerSort::Id => 0.0,
            CustomerSort::Clv => score.map_or(0.0, |s| s.clv_12m),
            CustomerSort::Risk => score.map_or(0.0, value_at_risk),
            CustomerSort::PAlive => score.map_or(0.0, |s| s.p_alive),
            CustomerSort::LastPurchase => self.customer.state.last_purchase_at.unwrap_or_default() as f64,
            CustomerSort::Spend => self.customer.state.total_spend_cents as f64,
            CustomerSort::Orders => self.customer.state.purchase_count as f64,
        };
        Cursor {
            value,
            id: self.customer.id.0,
        }
    }
}

/// A client or partner whose P(alive) is below this is at risk: more likely gone than still buying.
pub const AT_RISK_P_ALIVE: f64 = 0.5;

/// Search text at least this many characters long matches anywhere in an id, e-mail or name
/// (through a trigram index); shorter text matches their start (a trigram needs three).
pub const SUBSTRING_SEARCH_MIN: usize = 3;

/// The value at risk, in one sentence, for pages and `--help`.
pub const VALUE_AT_RISK_DEFINITION: &str = "Value at risk is what the customer would bring in the \
     next 12 months if still active (the 12-month value divided by P(alive), but never more than \
     everything they have bought so far), times the probability that they are gone.";

/// Expected value lost, as `CustomerSort::Risk` orders by it (`VALUE_AT_RISK_DEFINITION`; the
/// same arithmetic, in the same order, as `RISK_SQL`, so cursors compare equal).
///
/// The 12-month value divided by P(alive) is the model's year if the customer is still active;
/// divided by a small P(alive) it can grow past anything the customer ever did, so it is capped
/// at their purchases so far (repeat purchases plus the first, at the expected spend each).
pub fn value_at_risk(score: &ScoreRow) -> f64 {
    let if_active = score.clv_12m / score.p_alive.max(0.01);
    let so_far = (f64::from(score.frequency) + 1.0) * score.expected_spend;
    if_active.min(so_far) * (1.0 - score.p_alive)
}

/// The overview's figures, aggregated over every customer (a full scan: callers cache them).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DashboardFigures {
    /// Customers known.
    pub customers: i64,
    /// Customers who bought at least once.
    pub buyers: i64,
    /// Customers who bought on a second day (the second sale).
    pub repeat_buyers: i64,
    /// The last purchase in the data, to say how old the data are.
    pub last_purchase_at: Option<i64>,
    /// Revenue in the 30 local days up to and including today, in cents.
    pub revenue_30d_cents: i64,
    /// Revenue in the 365 local days up to and including today, in cents.
    pub revenue_365d_cents: i64,
    /// Customers with scores.
    pub scored: i64,
    /// Scored customers with P(alive) above 0.5.
    pub likely_active: i64,
    /// Sum of every customer's 12-month lifetime value.
    pub predicted_revenue_12m: f64,
    /// Clients and partners whose P(alive) is below `AT_RISK_P_ALIVE`.
    pub at_risk: i64,
    /// When the scores were computed (Unix seconds).
    pub scored_at: Option<i64>,
    /// Purchases by the business's calendar month, oldest first.
    pub months: Vec<MonthFigures>,
}

/// One calendar month's purchases.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    /// Purchases in the month.
    pub purchases: i64,
    /// Their total, in cents.
    pub revenue_cents: i64,
    /// Customers who bought in the month.
    pub buyers: i64,
    /// Of those, customers whose first purchase was in the month.
    pub new_buyers: i64,
}

/// An API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    /// The key's number.
    pub id: i64,
    /// What the key is for, as its creator named it.
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A dashboard user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The user's number.
    pub id: i64,
    /// The login e-mail address.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// Argon2id hash in PHC format.
    pub password_hash: String,
    /// When the user was created (Unix seconds).
    pub created_at: i64,
}

/// A live dashboard session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Whose session.
    pub user: UserRecord,
    /// The token forms must echo.
    pub csrf_token: String,
    /// When it ends (Unix seconds).
    pub expires_at: i64,
}

/// The answer the API gave to a request with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Hash of the request (method, path, body).
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// The store: customers, the event log and the projections.
#[async_trait]
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Brings the schema up to date.
    async fn migrate(&self) -> StoreResult<()>;
    /// Starts a write transaction: everything in it is stored, or nothing.
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>>;
    /// One customer by the business's id.
    async fn customer(&self, external_id: &ExternalId) -> StoreResult<Option<CustomerRecord>>;
    /// Customers in id order.
    async fn list_customers(&self, filter: &CustomerFilter) -> StoreResult<Vec<CustomerRecord>>;
    /// A customer's events in log order.
    async fn events_of(&self, customer: CustomerId) -> StoreResult<Vec<StoredEvent>>;
    /// One row per customer for the funnel report.
    async fn funnel_rows(&self) -> StoreResult<Vec<FunnelRow>>;
    /// Number of events in the log.
    async fn event_count(&self) -> StoreResult<u64>;
    /// Every purchase: the customer's external id, when, and the amount in cents.
    async fn purchase_log(&self) -> StoreResult<Vec<(String, i64, i64)>>;
    /// Stores a fitted model version and returns its id.
    async fn save_fit(&self, fit: &FitRecord) -> StoreResult<i64>;
    /// The most recently stored model version.
    async fn latest_fit(&self) -> StoreResult<Option<FitRecord>>;
    /// A customer's latest scores.
    async fn score(&self, customer: CustomerId) -> StoreResult<Option<ScoreRow>>;
    /// One customer by the business's id, with the latest scores, in one query.
    async fn customer_with_score(&self, external_id: &ExternalId) -> StoreResult<Option<CustomerListItem>>;
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// The overview's figures over every customer and purchase (full scans: cache the answer),
    /// windows and months counted in `calendar`'s local days up to its now.
    async fn dashboard_figures(&self, calendar: &crate::domain::calendar::Calendar) -> StoreResult<DashboardFigures>;
    /// A filtered, sorted page of customers with their scores.
    async fn query_customers(&self, query: &CustomerQuery) -> StoreResult<Vec<CustomerListItem>>;
    /// How many customers match `query`'s filters (its order, limit and cursor aside), counting
    /// at most `at_most`: a page can say "50 of 60" without counting a million rows.
    async fn count_customers(&self, query: &CustomerQuery, at_most: u64) -> StoreResult<u64>;
    /// Stores a new API key (by its hash) and returns its number.
    async fn create_api_key(&self, name: &str, role: Role, prefix: &str, key_hash: &str, now: i64) -> StoreResult<i64>;
    /// The unrevoked key with this hash.
    async fn api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every key, revoked ones included, oldest first.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key and steps the revocation generation; false when there is no such unrevoked key.
    async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<bool>;
    /// The revocation generation: a counter every key revocation steps, so servers that cache
    /// key lookups learn cheaply that they must look again.
    async fn key_revocations(&self) -> StoreResult<i64>;
    /// Creates a dashboard user; `Conflict` when the e-mail address is taken.
    async fn create_user(&self, email: &str, role: Role, password_hash: &str, now: i64) -> StoreResult<i64>;
    /// The user with this e-mail address (compared case-insensitively).
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// Starts a session.
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The session with this token hash, unless it has expired by `now`.
    async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<SessionRecord>>;
    /// Ends a session (and any expired ones).
    async fn delete_session(&self, token_hash: &str, now: i64) -> StoreResult<()>;
    /// The answer given earlier to this API key's request with this idempotency key.
    async fn stored_response(&self, api_key_id: i64, idem_key: &str) -> StoreResult<Option<StoredResponse>>;
    /// Remembers an answer; a second answer under the same keys is ignored (the first stands).
    async fn save_response(
        &self,
        api_key_id: i64,
        idem_key: &str,
        response: &StoredResponse,
        now: i64,
    ) -> StoreResult<()>;
    /// Stores a webhook subscription and returns its number.
    async fn create_webhook(&self, subscription: &NewSubscription) -> StoreResult<i64>;
    /// The webhook subscriptions not deleted, oldest first.
    async fn webhooks(&self) -> StoreResult<Vec<SubscriptionRecord>>;
    /// One webhook subscription, unless deleted.
    async fn webhook(&self, id: i64) -> StoreResult<Option<SubscriptionRecord>>;
    /// Deletes a subscription and cancels its pending deliveries; false when there is none.
    async fn delete_webhook(&self, id: i64, now: i64) -> StoreResult<bool>;
    /// A page of a subscription's deliveries, newest first, each with its attempts.
    async fn webhook_deliveries(&self, page: DeliveryPage) -> StoreResult<Vec<DeliveryRecord>>;
    /// Takes due deliveries that no live claim holds, for one worker until the claim's end.
    async fn claim_webhook_deliveries(&self, claim: &Claim) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Logs an attempt and moves its delivery on (unless its claim lapsed meanwhile).
    async fn record_webhook_attempt(&self, result: &AttemptResult) -> StoreResult<()>;
    /// Makes a delivered, failed or cancelled delivery pending again, due now; false when there is
    /// no such delivery of this live subscription.
    async fn redeliver_webhook(&self, subscription: i64, delivery: i64, now_ms: i64) -> StoreResult<bool>;
    /// Signalled when a transaction that wrote to the outbox commits, so a delivery worker on this
    /// store wakes at once instead of at its next poll.
    fn outbox_signal(&self) -> Arc<tokio::sync::Notify>;
}

/// A stored model version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitRecord {
    /// Version number (0 before it is stored).
    pub id: i64,
    /// When it was fitted (Unix seconds).
    pub created_at: i64,
    /// Model name, as on the command line.
    pub model: String,
    /// `week` or `day`.
    pub time_unit: String,
    /// The calibration end, ISO date.
    pub calibration_end: String,
    /// Parameters, standard errors, fit quality and the spend model, as `rapport fit --json` prints them.
    pub summary: serde_json::Value,
    /// Maximised log-likelihood.
    pub log_likelihood: f64,
    /// Customers in the fit.
    pub customers: i64,
}

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
    /// The events of these customers, customer by customer, each in log order.
    async fn events_of_customers(&mut self, customers: &[CustomerId]) -> StoreResult<Vec<StoredEvent>>;
    /// Writes customers' projected states.
    async fn save_states(&mut self, states: &[(CustomerId, CustomerState)]) -> StoreResult<()>;
    /// Deletes every projected state (before a rebuild).
    async fn clear_states(&mut self) -> StoreResult<()>;
    /// Prepares for appending many events at once: a backend may drop an index that is cheaper
    /// to rebuild afterwards than to maintain row by row. `end_bulk_load` must follow before reads.
    async fn begin_bulk_load(&mut self) -> StoreResult<()> {
        Ok(())
    }
    /// Restores what `begin_bulk_load` set aside.
    async fn end_bulk_load(&mut self) -> StoreResult<()> {
        Ok(())
    }
    /// Up to `limit` events after `after` = (customer id, event id), in that order: the log, customer by customer.
    async fn events_page(&mut self, after: (i64, i64), limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// Replaces the scores of the customers in `rows` (by external id) with these, from model version `fit_id`.
    async fn save_scores(&mut self, fit_id: i64, scored_at: i64, rows: &[ScoreRow]) -> StoreResult<()>;
    /// The stored events with these keys, in no particular order.
    async fn events_by_keys(&mut self, keys: &[String]) -> StoreResult<Vec<StoredEvent>>;
    /// The live webhook subscriptions and the event types each wants.
    async fn webhook_targets(&mut self) -> StoreResult<Vec<(i64, Vec<EventType>)>>;
    /// Writes messages to the outbox with a delivery, due at `now_ms`, for each of their subscriptions.
    async fn enqueue_webhooks(&mut self, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()>;
    /// The clients and partners scored at `scored_at` whose P(alive) fell from at least `threshold`
    /// at their previous scoring to below it.
    async fn at_risk_crossings(&mut self, threshold: f64, scored_at: i64) -> StoreResult<Vec<AtRiskRow>>;
    /// Makes everything in the transaction permanent.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Opens the store a URL names: `sqlite://PATH` (created if missing) or `postgres://...`.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::connect(url).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::connect(url).await?)
    } else {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        return Err(StoreError::BadUrl(format!(
            "unknown database scheme '{scheme}' in '{}': use sqlite://PATH or postgres://USER@HOST/DB",
            crate::config::redact_url(url)
        )));
    };
    store.migrate().await?;
    Ok(store)
}
