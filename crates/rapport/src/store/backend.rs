//! What sets the two backends apart, as one trait: `SqlStore<DB>` and `SqlTx<DB>` run every
//! query written once, over `DB: Backend`, and each backend file supplies only its dialect.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Transaction, Type};

use super::sql::{Bind, SearchPredicate};
use super::{BulkKeys, CustomerId, CustomerQuery, CustomerState, EventRow, NewCustomer, StoreResult, StoredEvent};
use crate::domain::score::ScoreRow;

/// A database Rapport can keep its store in: SQLite or PostgreSQL, and no other (the trait is the
/// crate's own, so no one else can add one without the contract suite).
///
/// The supertraits carry every sqlx bound the shared queries need. Rust implies the bounds a
/// trait puts on associated types in its supertraits wherever the trait is named, but not its
/// `where` clauses, so each bound goes on an associated type of `Types` set equal to the bounded
/// type (`Int = i64, Int: Column<Self>` says `i64` binds and decodes): generic code then asks for
/// `DB: Backend` and nothing more, and a missing bound is one line here.
#[async_trait]
pub(crate) trait Backend:
    Database<Arguments: IntoArguments<Self>>
    + for<'c> Types<Conn<'c> = &'c mut Self::Connection, Conn<'c>: Executor<'c, Database = Self>>
    + Types<Index = usize, Index: ColumnIndex<Self::Row>>
    + for<'a> Types<Name<'a> = &'a str, Name<'a>: ColumnIndex<Self::Row>>
    + Types<Int = i64, Int: Column<Self>>
    + Types<Float = f64, Float: Column<Self>>
    + Types<Bool = bool, Bool: Column<Self>>
    + Types<Text = String, Text: Column<Self>>
    + for<'a> Types<Str<'a> = &'a str, Str<'a>: Value<Self> + Decode<'a, Self>>
    + Types<MaybeInt = Option<i64>, MaybeInt: Value<Self>>
    + Types<MaybeText = Option<String>, MaybeText: Value<Self>>
    + for<'a> Types<MaybeStr<'a> = Option<&'a str>, MaybeStr<'a>: Encode<'a, Self> + Type<Self>>
{
    /// `sqlite` or `postgres`, as `Store::backend` names it.
    const KIND: &'static str;
    /// A JSON array bound as `$1` as rows, one per element, each as `value`.
    const JSON_ROWS: &'static str;
    /// What a claim's subquery ends with so that it skips rows another transaction is claiming.
    const SKIP_LOCKED: &'static str;
    /// A write transaction is the only one: nothing else appends to the log until it ends.
    const SOLE_WRITER: bool;
    /// Run first in a transaction that plans from the whole log: waits for the log's writers and
    /// holds new ones off until it ends (empty where a write transaction is the only one).
    const LOCK_LOG: &'static str;
    /// Takes a lock per customer of the JSON array of ids bound as `$1`, held until the
    /// transaction ends (empty where a write transaction is the only one).
    const LOCK_RECIPIENTS: &'static str;
    /// The aggregate that joins text values with a separator (its second argument).
    const STRING_AGG: &'static str;
    /// Run first in the transaction of a customer-list page, or empty.
    const LIST_SETUP: &'static str;
    /// What a write transaction does with batches on this backend.
    type Batches: Batches<Self>;

    /// A pool on the database the settings name, of their size.
    async fn connect(settings: &crate::config::DatabaseSettings) -> StoreResult<Pool<Self>>;
    /// Brings the schema up to date, with whatever the database must have first.
    async fn migrate(pool: &Pool<Self>) -> StoreResult<()>;
    /// Starts a write transaction.
    async fn begin(pool: &Pool<Self>) -> StoreResult<Transaction<'static, Self>>;
    /// How many rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;
    /// The text of a field of a JSON object stored as text in `column`.
    fn json_text(column: &str, field: &str) -> String;
    /// `YYYY-MM` (UTC) of a Unix-seconds expression.
    fn month_of(column: &str) -> String;
    /// The customer search's predicate for the search text, its placeholders from `$n`.
    fn search_predicate(text: &str, n: usize) -> (String, Vec<Bind>);
    /// The search predicate that suits this query (see each backend for why it differs).
    async fn search_plan(pool: &Pool<Self>, query: &CustomerQuery) -> StoreResult<SearchPredicate>;
}

/// Names for the types the shared queries bind, decode and run on, so that `Backend` can bound
/// them (see there); each stands for the type its name says, for every database.
pub(crate) trait Types {
    /// `&mut` a connection, which runs queries.
    type Conn<'c>;
    /// A column's position.
    type Index;
    /// A column's name.
    type Name<'a>;
    /// `i64`.
    type Int;
    /// `f64`.
    type Float;
    /// `bool`.
    type Bool;
    /// `String`.
    type Text;
    /// `&str`.
    type Str<'a>;
    /// `Option<i64>`.
    type MaybeInt;
    /// `Option<String>`.
    type MaybeText;
    /// `Option<&str>`.
    type MaybeStr<'a>;
}

impl<DB: Database> Types for DB {
    type Conn<'c> = &'c mut DB::Connection;
    type Index = usize;
    type Name<'a> = &'a str;
    type Int = i64;
    type Float = f64;
    type Bool = bool;
    type Text = String;
    type Str<'a> = &'a str;
    type MaybeInt = Option<i64>;
    type MaybeText = Option<String>;
    type MaybeStr<'a> = Option<&'a str>;
}

/// A Rust type a backend binds as a value.
pub(crate) trait Value<DB: Database>: for<'q> Encode<'q, DB> + Type<DB> {}

impl<DB: Database, T: for<'q> Encode<'q, DB> + Type<DB>> Value<DB> for T {}

/// A Rust type a backend binds and reads back as a column's owned value.
pub(crate) trait Column<DB: Database>: Value<DB> + for<'r> Decode<'r, DB> {}

impl<DB: Database, T: Value<DB> + for<'r> Decode<'r, DB>> Column<DB> for T {}

/// What a write transaction does differently on each backend: the statements that take or
/// return a batch (one JSON document a statement on SQLite; arrays, `UNNEST` and COPY on
/// PostgreSQL), with what the backend keeps between them. `WriteTx` says what each is for.
#[async_trait]
pub(crate) trait Batches<DB: Database>: Default + Send {
    /// `WriteTx::customer_ids`.
    async fn customer_ids(
        &mut self,
        conn: &mut DB::Connection,
        external_ids: &[&str],
    ) -> StoreResult<Vec<(String, CustomerId)>>;
    /// `WriteTx::create_customers`.
    async fn create_customers(
        &mut self,
        conn: &mut DB::Connection,
        customers: &[NewCustomer],
    ) -> StoreResult<Vec<(CustomerId, bool)>>;
    /// `WriteTx::insert_events`.
    async fn insert_events(&mut self, conn: &mut DB::Connection, rows: &[EventRow]) -> StoreResult<u64>;
    /// `WriteTx::events_of_customers`.
    async fn events_of_customers(
        &mut self,
        conn: &mut DB::Connection,
        customers: &[CustomerId],
        from_id: i64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// `WriteTx::events_by_keys`.
    async fn events_by_keys(&mut self, conn: &mut DB::Connection, keys: &[String]) -> StoreResult<Vec<StoredEvent>>;
    /// `WriteTx::differing_keys`.
    async fn differing_keys(&mut self, conn: &mut DB::Connection, rows: &[EventRow]) -> StoreResult<Vec<String>>;
    /// `WriteTx::save_states`.
    async fn save_states(
        &mut self,
        conn: &mut DB::Connection,
        states: &[(CustomerId, CustomerState)],
    ) -> StoreResult<()>;
    /// `WriteTx::save_scores`.
    async fn save_scores(
        &mut self,
        conn: &mut DB::Connection,
        fit_id: i64,
        scored_at: i64,
        rows: &[ScoreRow],
    ) -> StoreResult<()>;
    /// `WriteTx::begin_bulk_load`.
    async fn begin_bulk_load(&mut self, _conn: &mut DB::Connection, _keys: BulkKeys) -> StoreResult<bool> {
        Ok(false)
    }
    /// `WriteTx::end_bulk_load`.
    async fn end_bulk_load(&mut self, _conn: &mut DB::Connection) -> StoreResult<()> {
        Ok(())
    }
}
