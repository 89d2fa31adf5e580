//! Storage: one `Store` trait, a SQLite and a PostgreSQL backend chosen by URL scheme. The only place with SQL.

mod codec;
mod postgres;
mod shared;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::analysis::ScoreRow;
use crate::domain::funnel::FunnelRow;
use crate::domain::{CustomerId, CustomerState, ExternalId, Stage, StoredEvent};

pub use codec::EventRow;

/// What can go wrong in the store, in domain terms; driver errors are mapped once, here.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one Rapport can use.
    #[error("{0}")]
    BadUrl(String),
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The stored data is not what this version of Rapport expects.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Migrating the schema failed.
    #[error("migrating the database failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database itself failed (unreachable, constraint, I/O).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
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
    /// Creates customers (none of which may exist yet) and returns their ids in input order.
    async fn create_customers(&mut self, customers: &[NewCustomer]) -> StoreResult<Vec<CustomerId>>;
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
            "unknown database scheme '{scheme}' in '{url}': use sqlite://PATH or postgres://USER@HOST/DB"
        )));
    };
    store.migrate().await?;
    Ok(store)
}
