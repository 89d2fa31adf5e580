//! Storage: the `Store` trait, a SQLite and a PostgreSQL backend chosen by URL scheme. The only
//! place with SQL.
//!
//! `Store` is the union of one trait per room (customers and the event log, scores, access,
//! webhooks, care plans, mail, surveys and their answers, the voice's analysis and actions), each in its own file with its queries (the records they share are here, the
//! webhooks' in outbox.rs); `WriteTx` is the write transaction (tx.rs). Each query is written once, in the room's implementation for `SqlStore<DB>`, over
//! any `DB: Backend`; a backend file (sqlite.rs, postgres.rs) holds only what its database does
//! differently. A `dyn Store` answers its rooms' methods without their traits in scope.

mod access;
mod actions;
mod backend;
mod care;
mod codec;
mod customers;
mod feedback;
mod mail;
pub mod outbox;
mod postgres;
mod scores;
mod sql;
mod sqlite;
mod surveys;
mod tx;
mod versioned;
mod voice;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Pool;
use tokio::sync::Notify;

use crate::domain::score::ScoreRow;
use crate::domain::{CustomerId, CustomerState, ExternalId, Role, Stage, StoredEvent};
use backend::Backend;
use tx::SqlTx;

pub use access::Access;
pub use actions::{NewVoiceAction, VoiceAction, VoiceActions};
pub use care::{
    AgendaItem, CareTx, DueOccurrence, NewTask, OccurrenceCounts, PlanChange, PlanRecord, PlanVersionRecord, Plans,
    Settled, TaskDone, TaskQuery, TaskRecord,
};
pub use codec::EventRow;
pub use customers::{Customers, PurchasePage};
pub use feedback::{
    Audience, Feedback, FeedbackTx, InvitationRecord, NewInvitation, ResponseRow, SendRecord, new_invitation_id,
};
pub use mail::{
    ClaimedMail, Mail, MailAttempt, MailAttemptRecord, MailAttemptResult, MailCounts, MailPage, MailRecord, MailStatus,
    MailTx, NewMail,
};
pub use outbox::{
    AtRiskRow, AttemptRecord, AttemptResult, Claim, ClaimedDelivery, DeliveryPage, DeliveryRecord, DeliveryStatus,
    NewSubscription, NextStep, OutboxMessage, SubscriptionRecord,
};
pub use scores::Scores;
pub use surveys::{SurveyChange, SurveyRecord, Surveys};
pub use tx::WriteTx;
pub use voice::{AnalysedResponse, BehaviourRow, InterviewNote, RecoveryRow, Voice, VoiceBehaviour};
pub use webhooks::Webhooks;

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
    /// A bulk load that deferred checking event keys (`BulkKeys::Deferred`) found a key twice
    /// when it checked them at the end: nothing was stored, and the same events loaded with
    /// `BulkKeys::Checked` skip the repeats.
    #[error("the bulk load repeats event keys (in itself or against the log); nothing was stored")]
    RepeatedKeys,
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

/// How a bulk load checks event keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkKeys {
    /// Each event's key is checked as it is appended, and a repeat is skipped.
    Checked,
    /// The backend may set the key index aside too and rebuild it at the end, where that is
    /// faster (PostgreSQL): for a caller that can load the same events again with `Checked`
    /// when the rebuild finds a key twice (`StoreError::RepeatedKeys`).
    Deferred,
}

/// A customer to create: the profile, with an id of the business's, its values checked before
/// they reach the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    /// The business's id.
    pub external_id: ExternalId,
    /// Full name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<crate::domain::Email>,
    /// Phone number.
    pub phone: Option<String>,
    /// Further columns, as a JSON object.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// When the customer was created (Unix seconds).
    pub created_at: i64,
}

impl NewCustomer {
    /// A customer known only by the business's id, created at `created_at`.
    pub fn new(external_id: ExternalId, created_at: i64) -> Self {
        Self {
            external_id,
            name: None,
            email: None,
            phone: None,
            attributes: serde_json::Map::new(),
            created_at,
        }
    }

    /// Known only by the business's id: no profile field and no attribute.
    pub fn is_bare(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none() && self.attributes.is_empty()
    }
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
    /// Only the at-risk list: clients and partners whose P(alive) is below this (the setting
    /// `scoring.at_risk_threshold`).
    pub at_risk_below: Option<f64>,
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

/// A dashboard session to start. No `Debug`: it holds the CSRF token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession<'a> {
    /// SHA-256 of the token in the session's cookie.
    pub token_hash: &'a str,
    /// Whose session.
    pub user_id: i64,
    /// The token forms must echo.
    pub csrf_token: &'a str,
    /// When it starts (Unix seconds).
    pub created_at: i64,
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

/// The store: every room, and what concerns the database as a whole.
#[async_trait]
pub trait Store:
    Customers + Scores + Access + Webhooks + Plans + Mail + Surveys + Feedback + Voice + VoiceActions + Send + Sync
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Brings the schema up to date.
    async fn migrate(&self) -> StoreResult<()>;
    /// Starts a write transaction: everything in it is stored, or nothing.
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>>;
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// The store on a backend's database: the rooms' queries run on its pool.
struct SqlStore<DB: Backend> {
    pool: Pool<DB>,
    outbox_signal: Arc<Notify>,
}

impl<DB: Backend> SqlStore<DB> {
    async fn connect(settings: &crate::config::DatabaseSettings) -> StoreResult<Self> {
        Ok(Self {
            pool: DB::connect(settings).await?,
            outbox_signal: Arc::default(),
        })
    }
}

#[async_trait]
impl<DB: Backend> Store for SqlStore<DB> {
    fn backend(&self) -> &'static str {
        DB::KIND
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        DB::migrate(&self.pool).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>> {
        let tx = DB::begin(&self.pool).await?;
        Ok(Box::new(SqlTx::new(tx, &self.outbox_signal)))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Opens the store a URL names: `sqlite://PATH` (created if missing) or `postgres://...`.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    open_with(&crate::config::DatabaseSettings {
        url: url.to_owned(),
        ..Default::default()
    })
    .await
}

/// Opens the database the settings name, with a pool of their size, and migrates it.
pub async fn open_with(settings: &crate::config::DatabaseSettings) -> StoreResult<Arc<dyn Store>> {
    let url = settings.url.as_str();
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(SqlStore::<sqlx::Sqlite>::connect(settings).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(SqlStore::<sqlx::Postgres>::connect(settings).await?)
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
