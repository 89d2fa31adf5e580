//! The embedded default: SQLite in WAL mode. Batches travel as one JSON document per statement,
//! which SQLite unpacks with `jsonb_each`, so a batch costs one statement rather than thousands.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection, SqlitePool, Transaction};

mod rows;

use self::rows::RowStatement;
use super::backend::{Backend, Batches};
use super::customers::event_from_row;
use super::sql::{self, Bind, EVENT_SELECT, SCORE_COLUMNS, STATE_COLUMNS, score_upsert_clause, state_upsert_clause};
use super::{BulkKeys, CustomerQuery, EventRow, NewCustomer, StoreError, StoreResult};
use crate::domain::score::ScoreRow;
use crate::domain::{CustomerId, CustomerState, StoredEvent};

/// Search, case-insensitive: anywhere in the id, e-mail or name through the FTS5 trigram table
/// of migration 0007 (its phrase query matches a substring), or, for text too short for a
/// trigram, from the start as ranges, which SQLite answers from the indexes (its `LIKE` cannot
/// use an index on `lower(...)`). SQLite's `lower` folds ASCII only, so the text is folded the same way.
fn search_predicate(text: &str, n: usize) -> (String, Vec<Bind>) {
    if text.chars().count() >= super::SUBSTRING_SEARCH_MIN {
        let sql = format!("c.id IN (SELECT rowid FROM customers_search WHERE customers_search MATCH ${n})");
        return (sql, vec![Bind::Text(phrase(text))]);
    }
    let lower = text.to_ascii_lowercase();
    let upper_bound = |s: &str| format!("{s}{}", char::MAX);
    let sql = format!(
        "((c.external_id >= ${a} AND c.external_id < ${b}) OR (lower(c.email) >= ${c} AND lower(c.email) < ${d}) \
         OR (lower(c.name) >= ${c} AND lower(c.name) < ${d}))",
        a = n,
        b = n + 1,
        c = n + 2,
        d = n + 3
    );
    let binds = vec![
        Bind::Text(text.to_owned()),
        Bind::Text(upper_bound(text)),
        Bind::Text(lower.clone()),
        Bind::Text(upper_bound(&lower)),
    ];
    (sql, binds)
}

/// How a search joins the list. SQLite's planner cannot tell how many rows a full-text match
/// yields and always starts from them, collecting and sorting them all: 90 ms for the 20,000
/// customers "garc" finds among a million. So the matches are counted first (up to
/// `sql::BROAD_SEARCH`, a millisecond or two): a search that finds many is a filter on the sort's
/// index instead (`+` keeps SQLite from starting from it), and stops after a page; one that
/// finds few is collected and sorted, which is then cheap.
async fn search_plan(pool: &SqlitePool, query: &super::CustomerQuery) -> StoreResult<super::sql::SearchPredicate> {
    let Some(text) = query.search.as_deref().map(str::trim) else {
        return Ok(search_predicate);
    };
    let found: i64 = if text.chars().count() < super::SUBSTRING_SEARCH_MIN {
        // Text too short for a trigram matches from the start, through the id and name indexes:
        // "gi" finds 20,000 of a million, which sorted by spend took 131 ms collected and sorted.
        let (predicate, binds) = search_predicate(text, 1);
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM customers c WHERE {predicate} LIMIT {})",
            super::sql::BROAD_SEARCH
        );
        let mut count = sqlx::query_scalar(AssertSqlSafe(sql));
        for bind in binds {
            if let Bind::Text(text) = bind {
                count = count.bind(text);
            }
        }
        count.fetch_one(pool).await?
    } else {
        sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT rowid FROM customers_search WHERE customers_search MATCH $1 LIMIT $2)",
        )
        .bind(phrase(text))
        .bind(super::sql::BROAD_SEARCH)
        .fetch_one(pool)
        .await?
    };
    Ok(if found >= super::sql::BROAD_SEARCH {
        broad_search_predicate
    } else {
        search_predicate
    })
}

/// The search text as an FTS5 phrase: quoted, its quotes doubled.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `search_predicate` for a search of many matches: a filter, not where the query starts (a
/// unary `+` keeps SQLite from answering a term through an index).
fn broad_search_predicate(text: &str, n: usize) -> (String, Vec<Bind>) {
    let (sql, binds) = search_predicate(text, n);
    let sql = sql
        .replacen("c.id IN", "+c.id IN", 1)
        .replace("(c.external_id >=", "(+c.external_id >=")
        .replace("(lower(c.email) >=", "(+lower(c.email) >=")
        .replace("(lower(c.name) >=", "(+lower(c.name) >=");
    (sql, binds)
}

/// Threads SQLite may sort with: the machine's, up to four.
fn sort_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Rows per statement when a batch is written.
const CHUNK: usize = 20_000;

/// Appends events, every column bound.
static EVENTS: LazyLock<RowStatement> = LazyLock::new(|| {
    RowStatement::new(
        "INSERT INTO events (customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, currency, \
         order_id, quantity, data) VALUES ",
        "ON CONFLICT (event_key) DO NOTHING",
        0,
        10,
    )
});

/// Appends orders: purchases keyed `order:{order_id}`, with no quantity, sharing the recording
/// time and currency. Rows (customer, time, amount, order id) are inserted in the order given.
static ORDERS: LazyLock<RowStatement> = LazyLock::new(|| {
    RowStatement::new(
        "INSERT INTO events (customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, currency, \
         order_id) SELECT column1, 'purchase', column2, ?, 'order:' || column4, column3, ?, column4 FROM (VALUES ",
        ") WHERE true ON CONFLICT (event_key) DO NOTHING",
        2,
        4,
    )
});

/// Creates customers.
static CUSTOMERS: LazyLock<RowStatement> = LazyLock::new(|| {
    RowStatement::new(
        "INSERT INTO customers (external_id, name, email, phone, attributes, created_at) VALUES ",
        "",
        0,
        6,
    )
});

/// Writes customers' projected states over what was there.
static STATES: LazyLock<RowStatement> = LazyLock::new(|| {
    RowStatement::new(
        format!("INSERT INTO customer_state ({}) VALUES ", STATE_COLUMNS.join(", ")),
        state_upsert_clause(),
        0,
        STATE_COLUMNS.len(),
    )
});

/// Appends stage changes (their fields in `data`), sharing the recording time. Rows (customer,
/// time, key, data) are inserted in the order given.
static STAGE_CHANGES: LazyLock<RowStatement> = LazyLock::new(|| {
    RowStatement::new(
        "INSERT INTO events (customer_id, kind, occurred_at, recorded_at, event_key, data) \
         SELECT column1, 'stage_change', column2, ?, column3, column4 FROM (VALUES ",
        ") WHERE true ON CONFLICT (event_key) DO NOTHING",
        1,
        4,
    )
});

/// Which statement appends an event; consecutive events of one shape share statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape<'a> {
    /// What `ORDERS` writes.
    Order { currency: &'a str, recorded_at: i64 },
    /// What `STAGE_CHANGES` writes.
    StageChange { recorded_at: i64 },
    /// Anything else.
    Any,
}

impl<'a> Shape<'a> {
    fn of(row: &'a EventRow) -> Self {
        let keyed_by_order = row
            .order_id
            .as_deref()
            .is_some_and(|order| row.key.strip_prefix("order:") == Some(order));
        match (&row.currency, row.kind, row.quantity, &row.data) {
            (Some(currency), "purchase", None, None) if keyed_by_order => Shape::Order {
                currency,
                recorded_at: row.recorded_at,
            },
            (None, "stage_change", None, Some(_)) if row.amount_cents.is_none() && row.order_id.is_none() => {
                Shape::StageChange {
                    recorded_at: row.recorded_at,
                }
            }
            _ => Shape::Any,
        }
    }
}

#[async_trait]
impl Backend for Sqlite {
    const KIND: &'static str = "sqlite";
    const JSON_ROWS: &'static str = "jsonb_each($1)";
    // SQLite has one writer at a time: a claim's single statement cannot interleave with another.
    const SKIP_LOCKED: &'static str = "";
    // `BEGIN IMMEDIATE` takes the database's one write lock.
    const SOLE_WRITER: bool = true;
    const LOCK_LOG: &'static str = "";
    const LOCK_RECIPIENTS: &'static str = "";
    const STRING_AGG: &'static str = "group_concat";
    const LIST_SETUP: &'static str = "";
    type Batches = SqliteBatches;

    async fn connect(settings: &crate::config::DatabaseSettings) -> StoreResult<SqlitePool> {
        let options = SqliteConnectOptions::from_str(&settings.url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(settings.busy_timeout_seconds))
            .foreign_keys(true)
            .pragma("cache_size", "-32768")
            // Large sorts (an index rebuilt after a bulk load) may use helper threads: the
            // per-customer index of ten million events builds in about half the time with two.
            .pragma("threads", sort_threads().to_string());
        // WAL lets readers run beside the one writer: enough connections that a busy server's
        // reads do not queue behind each other or behind the writer.
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await?;
        Ok(pool)
    }

    async fn migrate(pool: &SqlitePool) -> StoreResult<()> {
        sqlx::migrate!("migrations/sqlite").run(pool).await?;
        Ok(())
    }

    async fn begin(pool: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
        // IMMEDIATE takes the write lock up front: a deferred transaction that later wants to
        // write can fail with SQLITE_BUSY instead of waiting its turn.
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn json_text(column: &str, field: &str) -> String {
        format!("json_extract({column}, '$.{field}')")
    }

    fn month_of(column: &str) -> String {
        format!("strftime('%Y-%m', {column}, 'unixepoch')")
    }

    fn search_predicate(text: &str, n: usize) -> (String, Vec<Bind>) {
        search_predicate(text, n)
    }

    async fn search_plan(pool: &SqlitePool, query: &CustomerQuery) -> StoreResult<sql::SearchPredicate> {
        search_plan(pool, query).await
    }
}

/// SQLite's batches: one JSON document a statement, which `jsonb_each` unpacks.
#[derive(Default)]
pub(crate) struct SqliteBatches {
    /// The definitions a bulk load dropped, to run again when it ends.
    set_aside: Vec<String>,
}

#[async_trait]
impl Batches<Sqlite> for SqliteBatches {
    async fn customer_ids(
        &mut self,
        conn: &mut SqliteConnection,
        external_ids: &[&str],
    ) -> StoreResult<Vec<(String, CustomerId)>> {
        let mut found = Vec::with_capacity(external_ids.len());
        for chunk in external_ids.chunks(CHUNK) {
            let ids = serde_json::to_string(chunk).expect("strings serialize");
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT external_id, id FROM customers WHERE external_id IN (SELECT value FROM jsonb_each($1))",
            )
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
            found.extend(rows.into_iter().map(|(ext, id)| (ext, CustomerId(id))));
        }
        Ok(found)
    }

    async fn events_of_customers(
        &mut self,
        conn: &mut SqliteConnection,
        customers: &[CustomerId],
        from_id: i64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let ids = serde_json::to_string(&customers.iter().map(|c| c.0).collect::<Vec<_>>()).expect("ids serialize");
        let sql = format!(
            "{EVENT_SELECT} WHERE customer_id IN (SELECT value FROM jsonb_each($1)) AND id >= $2 ORDER BY customer_id, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(ids)
            .bind(from_id)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(event_from_row::<Sqlite>).collect()
    }

    async fn events_by_keys(&mut self, conn: &mut SqliteConnection, keys: &[String]) -> StoreResult<Vec<StoredEvent>> {
        let sql = format!("{EVENT_SELECT} WHERE event_key IN (SELECT value FROM jsonb_each($1))");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(serde_json::to_string(keys).expect("strings serialize"))
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(event_from_row::<Sqlite>).collect()
    }

    async fn differing_keys(&mut self, conn: &mut SqliteConnection, rows: &[EventRow]) -> StoreResult<Vec<String>> {
        let mut keys = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            // `IS NOT` compares NULLs as values: an absent quantity equals an absent quantity.
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT e.event_key FROM jsonb_each($1) AS j JOIN events e ON e.event_key = j.value->>4 \
                 WHERE e.customer_id IS NOT j.value->>0 OR e.kind IS NOT j.value->>1 \
                 OR e.occurred_at IS NOT j.value->>2 OR e.amount_cents IS NOT j.value->>5 \
                 OR e.currency IS NOT j.value->>6 OR e.order_id IS NOT j.value->>7 \
                 OR e.quantity IS NOT j.value->>8 OR e.data IS NOT j.value->>9",
            )
            .bind(events_json(chunk))
            .fetch_all(&mut *conn)
            .await?;
            keys.extend(found);
        }
        Ok(keys)
    }

    // The write lock taken at BEGIN IMMEDIATE keeps other writers out, so whatever the caller
    // found missing is still missing: every customer here is created by this call.
    async fn create_customers(
        &mut self,
        conn: &mut SqliteConnection,
        customers: &[NewCustomer],
    ) -> StoreResult<Vec<(CustomerId, bool)>> {
        const LAST_ID: &str = "SELECT coalesce(max(id), 0) FROM customers";
        let before: i64 = sqlx::query_scalar(LAST_ID).fetch_one(&mut *conn).await?;
        let created = CUSTOMERS
            .execute(
                conn,
                customers,
                |q| q,
                |q, c| {
                    let attributes = serde_json::Value::Object(c.attributes.clone()).to_string();
                    q.bind(Arc::<str>::from(c.external_id.as_str()))
                        .bind(c.name.as_deref().map(Arc::<str>::from))
                        .bind(c.email.as_ref().map(|e| Arc::<str>::from(e.as_str())))
                        .bind(c.phone.as_deref().map(Arc::<str>::from))
                        .bind(attributes)
                        .bind(c.created_at)
                },
            )
            .await?;
        let after: i64 = sqlx::query_scalar(LAST_ID).fetch_one(&mut *conn).await?;
        let count = customers.len() as i64;
        if created == count as u64 && after - before == count {
            // A new row's id is one more than the largest, so rows inserted in order under the
            // write lock have the ids after `before`, in order: nothing needs reading back.
            return Ok((before + 1..=after).map(|id| (CustomerId(id), true)).collect());
        }
        let names: Vec<&str> = customers.iter().map(|c| c.external_id.as_str()).collect();
        let ids: HashMap<String, CustomerId> = self.customer_ids(conn, &names).await?.into_iter().collect();
        customers
            .iter()
            .map(|c| {
                ids.get(c.external_id.as_str())
                    .map(|id| (*id, true))
                    .ok_or_else(|| StoreError::Corrupt(format!("customer '{}' was not created", c.external_id)))
            })
            .collect()
    }

    async fn insert_events(&mut self, conn: &mut SqliteConnection, rows: &[EventRow]) -> StoreResult<u64> {
        let mut stored = 0;
        // A run of orders or of stage changes binds four values a row instead of ten: much of an
        // import's cost is getting values to SQLite, so what every row of a run shares is bound once.
        for run in rows.chunk_by(|a, b| Shape::of(a) == Shape::of(b)) {
            stored += match Shape::of(&run[0]) {
                Shape::Order { currency, recorded_at } => {
                    let currency: Arc<str> = currency.into();
                    ORDERS
                        .execute(
                            conn,
                            run,
                            |q| q.bind(recorded_at).bind(currency.clone()),
                            |q, r| {
                                q.bind(r.customer_id)
                                    .bind(r.occurred_at)
                                    .bind(r.amount_cents)
                                    .bind(r.order_id.as_deref().map(Arc::<str>::from))
                            },
                        )
                        .await?
                }
                Shape::StageChange { recorded_at } => {
                    STAGE_CHANGES
                        .execute(
                            conn,
                            run,
                            |q| q.bind(recorded_at),
                            |q, r| {
                                q.bind(r.customer_id)
                                    .bind(r.occurred_at)
                                    .bind(Arc::<str>::from(r.key.as_str()))
                                    .bind(r.data.as_deref().map(Arc::<str>::from))
                            },
                        )
                        .await?
                }
                Shape::Any => {
                    EVENTS
                        .execute(
                            conn,
                            run,
                            |q| q,
                            |q, r| {
                                q.bind(r.customer_id)
                                    .bind(r.kind)
                                    .bind(r.occurred_at)
                                    .bind(r.recorded_at)
                                    .bind(Arc::<str>::from(r.key.as_str()))
                                    .bind(r.amount_cents)
                                    .bind(r.currency.as_deref().map(Arc::<str>::from))
                                    .bind(r.order_id.as_deref().map(Arc::<str>::from))
                                    .bind(r.quantity)
                                    .bind(r.data.as_deref().map(Arc::<str>::from))
                            },
                        )
                        .await?
                }
            };
        }
        Ok(stored)
    }

    async fn save_states(
        &mut self,
        conn: &mut SqliteConnection,
        states: &[(CustomerId, CustomerState)],
    ) -> StoreResult<()> {
        STATES
            .execute(
                conn,
                states,
                |q| q,
                |q, (id, s)| {
                    q.bind(id.0)
                        .bind(s.stage.map(|x| x.as_str()))
                        .bind(s.max_stage.map(|x| x.as_str()))
                        .bind(s.stage_changes)
                        .bind(s.stage_changed_at)
                        .bind(s.purchase_count)
                        .bind(s.first_purchase_at)
                        .bind(s.second_purchase_at)
                        .bind(s.last_purchase_at)
                        .bind(s.total_spend_cents)
                        .bind(s.interaction_count)
                        .bind(s.first_interaction_at)
                        .bind(s.referral_count)
                        .bind(s.first_referral_at)
                        .bind(s.last_event_at)
                        .bind(s.email_consent)
                        .bind(s.email_consent_at)
                        .bind(s.nps_category.map(|c| c.as_str()))
                        .bind(s.nps_at)
                },
            )
            .await?;
        Ok(())
    }

    // Keys are always checked as events are appended: SQLite's unique index on ordered keys costs
    // less than sorting them all at the end.
    async fn begin_bulk_load(&mut self, conn: &mut SqliteConnection, _keys: BulkKeys) -> StoreResult<bool> {
        // Inserting into the per-customer index touches a random page per row once it outgrows
        // the cache; building it afterwards is one sort. The same holds for the projection's
        // sort indexes and the customers' search index (kept by triggers: 2.2 s a million new
        // customers, against 1.3 s to rebuild it whole). Their definitions are read from the
        // schema, so what is restored is what was there. Other connections never see anything
        // missing: the drops are part of this transaction.
        let set_aside: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND \
             ((type = 'index' AND tbl_name IN ('events', 'customer_state', 'customers') AND name <> 'events_customer') \
             OR (type = 'trigger' AND tbl_name = 'customers' AND name LIKE 'customers_search_%'))",
        )
        .fetch_all(&mut *conn)
        .await?;
        sqlx::query("DROP INDEX IF EXISTS events_customer")
            .execute(&mut *conn)
            .await?;
        for (kind, name, sql) in set_aside {
            let drop = if kind == "trigger" {
                "DROP TRIGGER"
            } else {
                "DROP INDEX"
            };
            sqlx::query(AssertSqlSafe(format!("{drop} \"{name}\"")))
                .execute(&mut *conn)
                .await?;
            self.set_aside.push(sql);
        }
        Ok(false)
    }

    async fn end_bulk_load(&mut self, conn: &mut SqliteConnection) -> StoreResult<()> {
        sqlx::query("CREATE INDEX IF NOT EXISTS events_customer ON events (customer_id, id)")
            .execute(&mut *conn)
            .await?;
        let search_triggers = self.set_aside.iter().any(|sql| sql.starts_with("CREATE TRIGGER"));
        for sql in std::mem::take(&mut self.set_aside) {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
        if search_triggers {
            sqlx::query("INSERT INTO customers_search (customers_search) VALUES ('rebuild')")
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn save_scores(
        &mut self,
        conn: &mut SqliteConnection,
        fit_id: i64,
        scored_at: i64,
        rows: &[ScoreRow],
    ) -> StoreResult<()> {
        // Scoring everyone rewrites every entry of the six score indexes at random places: built
        // again afterwards, each is one sort. The drops are part of the transaction, so readers
        // keep the old scores and their indexes until it commits.
        let set_aside = if rows.len() >= SCORES_SET_ASIDE {
            set_aside_indexes(conn, "customer_scores").await?
        } else {
            Vec::new()
        };
        SCORES
            .execute(
                conn,
                rows,
                |q| q.bind(fit_id).bind(scored_at),
                |q, r| {
                    q.bind(Arc::<str>::from(r.customer_id.as_str()))
                        .bind(i64::from(r.frequency))
                        .bind(r.recency)
                        .bind(r.age)
                        .bind(r.monetary_value)
                        .bind(r.p_alive)
                        .bind(r.expected_purchases_90d)
                        .bind(r.expected_purchases_365d)
                        .bind(r.expected_spend)
                        .bind(r.clv_12m)
                        .bind(i64::from(r.rfm_recency))
                        .bind(i64::from(r.rfm_frequency))
                        .bind(i64::from(r.rfm_monetary))
                        .bind(r.segment.as_str())
                        .bind(r.expected_days_to_next_purchase)
                        .bind(Arc::<str>::from(r.explanation.as_str()))
                },
            )
            .await?;
        for sql in set_aside {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Score rows from which writing them sets the score indexes aside.
const SCORES_SET_ASIDE: usize = 50_000;

/// Writes scores over the customers' earlier ones, the customer named by the business's id:
/// rows of (external id, then `SCORE_COLUMNS`), after the model version and scoring time.
static SCORES: LazyLock<RowStatement> = LazyLock::new(|| {
    let values: Vec<String> = (2..=SCORE_COLUMNS.len() + 1).map(|i| format!("v.column{i}")).collect();
    RowStatement::new(
        format!(
            "INSERT INTO customer_scores (customer_id, fit_id, scored_at, {}) SELECT c.id, ?, ?, {} FROM (VALUES ",
            SCORE_COLUMNS.join(", "),
            values.join(", ")
        ),
        format!(
            ") AS v JOIN customers c ON c.external_id = v.column1 WHERE true {}",
            score_upsert_clause()
        ),
        2,
        SCORE_COLUMNS.len() + 1,
    )
});

/// Drops `table`'s own indexes (not those of its keys) and returns their definitions, to run
/// again once a large write is done.
async fn set_aside_indexes(conn: &mut SqliteConnection, table: &str) -> StoreResult<Vec<String>> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let mut definitions = Vec::with_capacity(indexes.len());
    for (name, sql) in indexes {
        sqlx::query(AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&mut *conn)
            .await?;
        definitions.push(sql);
    }
    Ok(definitions)
}

fn events_json(rows: &[EventRow]) -> String {
    let batch: Vec<_> = rows
        .iter()
        .map(|r| {
            let (amount, quantity) = (r.amount_cents, r.quantity);
            (
                r.customer_id,
                r.kind,
                r.occurred_at,
                r.recorded_at,
                &r.key,
                amount,
                &r.currency,
                &r.order_id,
                quantity,
                &r.data,
            )
        })
        .collect();
    serde_json::to_string(&batch).expect("event rows serialize")
}
