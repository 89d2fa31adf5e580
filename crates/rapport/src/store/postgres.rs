//! PostgreSQL, for a business that outgrows one machine: batches go in with COPY and `UNNEST`.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Transaction};

use super::backend::{Backend, Batches};
use super::customers::event_from_row;
use super::sql::{self, Bind, EVENT_SELECT, SCORE_COLUMNS, STATE_COLUMNS, score_upsert_clause, state_upsert_clause};
use super::{BulkKeys, CustomerQuery, EventRow, NewCustomer, StoreError, StoreResult};
use crate::domain::score::ScoreRow;
use crate::domain::{CustomerId, CustomerState, StoredEvent};

/// Search with `LIKE`, case-insensitive: anywhere in the id, e-mail or name through the
/// `pg_trgm` GIN indexes of migration 0007, or from the start through the `text_pattern_ops`
/// indexes of migration 0003 when the text is too short for a trigram.
fn search_predicate(text: &str, n: usize) -> (String, Vec<Bind>) {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let lower = escape(&text.to_lowercase());
    if text.chars().count() >= super::SUBSTRING_SEARCH_MIN {
        let sql = format!("(lower(c.external_id) LIKE ${n} OR lower(c.email) LIKE ${n} OR lower(c.name) LIKE ${n})");
        return (sql, vec![Bind::Text(format!("%{lower}%"))]);
    }
    let sql = format!(
        "(c.external_id LIKE ${a} OR lower(c.email) LIKE ${b} OR lower(c.name) LIKE ${b})",
        a = n,
        b = n + 1
    );
    let binds = vec![
        Bind::Text(format!("{}%", escape(text))),
        Bind::Text(format!("{lower}%")),
    ];
    (sql, binds)
}

/// How a search joins the list. PostgreSQL's estimate of how many rows `LIKE '%text%'` finds is
/// poor (299 for the 20,000 customers "garc" finds among a million): believing it, the planner
/// fetches every match through the trigram indexes and sorts them (340 ms). So the matches are
/// counted first, up to `BROAD_SEARCH` (about 15 ms): a search that finds many is written so
/// that no trigram index serves it (`|| ''`), and the planner walks the sort's index with it as
/// a filter, stopping after a page.
async fn search_plan(pool: &PgPool, query: &super::CustomerQuery) -> StoreResult<super::sql::SearchPredicate> {
    let Some(text) = query.search.as_deref().map(str::trim) else {
        return Ok(search_predicate);
    };
    if text.chars().count() < super::SUBSTRING_SEARCH_MIN {
        return Ok(search_predicate);
    }
    let (predicate, binds) = search_predicate(text, 1);
    let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "SELECT count(*) FROM (SELECT 1 FROM customers c WHERE {predicate} LIMIT {}) AS found",
        super::sql::BROAD_SEARCH
    )));
    for bind in binds {
        if let Bind::Text(text) = bind {
            count = count.bind(text);
        }
    }
    let found = count.fetch_one(pool).await?;
    Ok(if found >= super::sql::BROAD_SEARCH {
        broad_search_predicate
    } else {
        search_predicate
    })
}

/// `search_predicate` for a search of many matches: the same test, which no index serves.
fn broad_search_predicate(text: &str, n: usize) -> (String, Vec<Bind>) {
    let (sql, binds) = search_predicate(text, n);
    let sql = ["external_id", "email", "name"].iter().fold(sql, |sql, column| {
        sql.replace(&format!("lower(c.{column})"), &format!("lower(c.{column} || '')"))
    });
    (sql, binds)
}

/// Rows per COPY round.
const CHUNK: usize = 50_000;

#[async_trait]
impl Backend for Postgres {
    const KIND: &'static str = "postgres";
    const JSON_ROWS: &'static str = "jsonb_array_elements($1::jsonb) AS value";
    // Replicas claim at the same time: each skips the rows another is claiming.
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    // Replicas append concurrently, and their event ids interleave with this transaction's.
    const SOLE_WRITER: bool = false;
    // SHARE conflicts with the ROW EXCLUSIVE lock every insert takes, and with nothing readers take.
    const LOCK_LOG: &'static str = "LOCK TABLE events IN SHARE MODE";
    // Advisory locks under a class of their own (0x52415050, "RAPP"); ids past 2^31 share a lock
    // with another customer, which only makes one writer wait for the other. Taken in the ids'
    // order (sorted by the caller), so two writers never wait for each other.
    const LOCK_RECIPIENTS: &'static str = "SELECT count(pg_advisory_xact_lock(1380012112, CAST(CAST(value AS BIGINT) % 2147483647 AS INT))) \
         FROM jsonb_array_elements($1::jsonb) AS value";
    const STRING_AGG: &'static str = "string_agg";
    // A page walks an index until it has 50 rows: parallel workers each walk their share past
    // that point, and starting them costs more than they save (a search by last purchase over a
    // million customers took 50 to 70 ms with two workers, 20 to 30 ms without).
    const LIST_SETUP: &'static str = "SET LOCAL max_parallel_workers_per_gather = 0";
    type Batches = PgBatches;

    async fn connect(settings: &crate::config::DatabaseSettings) -> StoreResult<PgPool> {
        Ok(PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .connect(&settings.url)
            .await?)
    }

    async fn migrate(pool: &PgPool) -> StoreResult<()> {
        // Migration 0007 creates it too; done here first so that a database where it cannot be
        // created says what is missing and what to do, not only the driver's words.
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            .execute(pool)
            .await
            .map_err(|e| {
                StoreError::Setup(format!(
                    "the customer search needs PostgreSQL's pg_trgm extension, which could not be created \
                     ({e}): install PostgreSQL's contrib modules, or have a superuser run \
                     CREATE EXTENSION pg_trgm in this database"
                ))
            })?;
        sqlx::migrate!("migrations/postgres").run(pool).await?;
        Ok(())
    }

    async fn begin(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(pool.begin().await?)
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn json_text(column: &str, field: &str) -> String {
        format!("({column}::jsonb ->> '{field}')")
    }

    fn month_of(column: &str) -> String {
        format!("to_char(to_timestamp({column}) AT TIME ZONE 'UTC', 'YYYY-MM')")
    }

    fn search_predicate(text: &str, n: usize) -> (String, Vec<Bind>) {
        search_predicate(text, n)
    }

    async fn search_plan(pool: &PgPool, query: &CustomerQuery) -> StoreResult<sql::SearchPredicate> {
        search_plan(pool, query).await
    }
}

/// PostgreSQL's batches: arrays and `UNNEST`, and COPY into a staging table for events.
#[derive(Default)]
pub(crate) struct PgBatches {
    staging_ready: bool,
    index_reads: bool,
    /// The definitions of the indexes a bulk load dropped, to run again when it ends.
    set_aside: Vec<String>,
    /// The statement that adds back the events' unique key, while a bulk load defers it: events
    /// are then copied straight into the log.
    deferred_key: Option<String>,
    /// The statement that adds back the customers' unique business id, while a bulk load into a
    /// table without customers defers it.
    deferred_customer_key: Option<String>,
    /// A bulk load holds the log's tables: no other writer adds a customer until it ends.
    bulk: bool,
}

impl PgBatches {
    /// A session-local table that COPY fills; dropped with the transaction.
    async fn ensure_staging(&mut self, conn: &mut PgConnection) -> StoreResult<()> {
        if !self.staging_ready {
            sqlx::query(
                "CREATE TEMP TABLE rapport_staging_events (seq BIGINT, customer_id BIGINT, kind TEXT, \
                 occurred_at BIGINT, recorded_at BIGINT, event_key TEXT, amount_cents BIGINT, currency TEXT, \
                 order_id TEXT, quantity BIGINT, data TEXT) ON COMMIT DROP",
            )
            .execute(&mut *conn)
            .await?;
            self.staging_ready = true;
        }
        Ok(())
    }
}

#[async_trait]
impl Batches<Postgres> for PgBatches {
    async fn customer_ids(
        &mut self,
        conn: &mut PgConnection,
        external_ids: &[&str],
    ) -> StoreResult<Vec<(String, CustomerId)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT external_id, id FROM customers WHERE external_id = ANY($1)")
                .bind(external_ids)
                .fetch_all(&mut *conn)
                .await?;
        Ok(rows.into_iter().map(|(ext, id)| (ext, CustomerId(id))).collect())
    }

    async fn events_of_customers(
        &mut self,
        conn: &mut PgConnection,
        customers: &[CustomerId],
        from_id: i64,
    ) -> StoreResult<Vec<StoredEvent>> {
        if !self.index_reads {
            // Rows this transaction just inserted have no statistics yet, and the planner then
            // scans the whole table for every chunk of customers; the index is always right here.
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *conn)
                .await?;
            self.index_reads = true;
        }
        let ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
        // Replicas write concurrently and READ COMMITTED would let two of them fold the same
        // customer from different snapshots, the later save losing the other's events. Locking the
        // states first (in id order, so two writers cannot deadlock) makes the second wait, then
        // read the log with the first's events committed.
        sqlx::query(
            "SELECT customer_id FROM customer_state WHERE customer_id = ANY($1) ORDER BY customer_id FOR UPDATE",
        )
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
        let sql = format!("{EVENT_SELECT} WHERE customer_id = ANY($1) AND id >= $2 ORDER BY customer_id, id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(ids)
            .bind(from_id)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(event_from_row::<Postgres>).collect()
    }

    async fn events_by_keys(&mut self, conn: &mut PgConnection, keys: &[String]) -> StoreResult<Vec<StoredEvent>> {
        let sql = format!("{EVENT_SELECT} WHERE event_key = ANY($1)");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(keys).fetch_all(&mut *conn).await?;
        rows.iter().map(event_from_row::<Postgres>).collect()
    }

    async fn create_customers(
        &mut self,
        conn: &mut PgConnection,
        customers: &[NewCustomer],
    ) -> StoreResult<Vec<(CustomerId, bool)>> {
        if self.bulk {
            return copy_customers(conn, customers).await;
        }
        let column = |f: fn(&NewCustomer) -> Option<String>| customers.iter().map(f).collect::<Vec<_>>();
        // Another replica may insert the same id between the caller's lookup and this insert.
        // DO NOTHING waits for that writer to commit and skips the row instead of failing the
        // whole transaction (and every request grouped into it); the skipped ids are read below.
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO customers (external_id, name, email, phone, attributes, created_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
             ON CONFLICT (external_id) DO NOTHING \
             RETURNING id, external_id",
        )
        .bind(column(|c| Some(c.external_id.as_str().to_owned())))
        .bind(column(|c| c.name.clone()))
        .bind(column(|c| c.email.as_ref().map(|e| e.as_str().to_owned())))
        .bind(column(|c| c.phone.clone()))
        .bind(column(|c| {
            Some(serde_json::Value::Object(c.attributes.clone()).to_string())
        }))
        .bind(customers.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await?;
        let mut ids: HashMap<String, (CustomerId, bool)> = rows
            .into_iter()
            .map(|(id, ext)| (ext, (CustomerId(id), true)))
            .collect();
        if ids.len() < customers.len() {
            let raced: Vec<String> = customers
                .iter()
                .filter(|c| !ids.contains_key(c.external_id.as_str()))
                .map(|c| c.external_id.as_str().to_owned())
                .collect();
            // READ COMMITTED: this statement's snapshot sees the other writer's committed rows.
            let found: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, external_id FROM customers WHERE external_id = ANY($1)")
                    .bind(raced)
                    .fetch_all(&mut *conn)
                    .await?;
            ids.extend(found.into_iter().map(|(id, ext)| (ext, (CustomerId(id), false))));
        }
        customers
            .iter()
            .map(|c| {
                ids.get(c.external_id.as_str())
                    .copied()
                    .ok_or_else(|| StoreError::Corrupt(format!("customer '{}' was not created", c.external_id)))
            })
            .collect()
    }

    async fn insert_events(&mut self, conn: &mut PgConnection, rows: &[EventRow]) -> StoreResult<u64> {
        if self.deferred_key.is_some() && !rows.is_empty() {
            // No key to conflict with until the load ends: rows are copied straight in, with ids
            // in their order taken from the sequence in one step (as for customers; asking it per
            // row cost 0.6 µs of a row's 2.2).
            let first = take_ids(conn, "events", rows.len()).await?;
            let mut copy = conn
                .copy_in_raw(
                    "COPY events (id, customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, currency, \
                     order_id, quantity, data) FROM STDIN",
                )
                .await?;
            for (at, chunk) in rows.chunks(CHUNK).enumerate() {
                copy.send(copy_text(chunk, first + (at * CHUNK) as i64).into_bytes())
                    .await?;
            }
            return Ok(copy.finish().await?);
        }
        self.ensure_staging(conn).await?;
        let mut stored = 0;
        for chunk in rows.chunks(CHUNK) {
            stage(conn, chunk).await?;
            let sql = "INSERT INTO events (customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, \
                 currency, order_id, quantity, data) \
                 SELECT customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, currency, order_id, \
                 quantity, data FROM rapport_staging_events ORDER BY seq \
                 ON CONFLICT (event_key) DO NOTHING";
            let result = sqlx::query(sql).execute(&mut *conn).await?;
            stored += result.rows_affected();
        }
        Ok(stored)
    }

    async fn begin_bulk_load(&mut self, conn: &mut PgConnection, keys: BulkKeys) -> StoreResult<bool> {
        // Other writers wait for the load (readers do not): what it creates cannot race anyone's.
        sqlx::query("LOCK TABLE customers, events, customer_state IN EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
        self.bulk = true;
        if keys == BulkKeys::Deferred {
            // Inserting with `ON CONFLICT` probes and updates the key's index for every row (5 to
            // 6 µs a row against 3 to 4 plainly); copied without it and indexed in one sort at the
            // end, the load costs a fraction, and a repeated key fails the index instead.
            self.deferred_key = drop_unique_key(conn, "events").await?;
        }
        // Into a table without customers every one the load creates is new, and the ingest
        // creates each once: their key is checked once, when it is built again at the end, not
        // by a random probe of its index for every row (3 of the 5.8 s a million new customers
        // took).
        let no_customers: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM customers)")
            .fetch_one(&mut *conn)
            .await?;
        if no_customers {
            self.deferred_customer_key = drop_unique_key(conn, "customers").await?;
        }
        // Every row appended to a table updates each of its indexes: for the customers' three
        // trigram indexes and five others, 22 µs a new customer; events 18 µs, states 16 µs
        // (3,000,000 rows for 1,000,000 customers). Built afterwards, each is one sort. Kept:
        // primary keys and the unique keys that `ON CONFLICT` needs. Dropping an index locks its
        // table until the transaction ends: other connections wait for the load instead of
        // seeing the index missing, and a failure restores everything with the rollback.
        let set_aside: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i \
             JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = to_regnamespace(i.schemaname) \
             JOIN pg_index x ON x.indexrelid = c.oid \
             WHERE i.schemaname = current_schema() AND i.tablename IN ('events', 'customer_state', 'customers') \
             AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.indexname",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (name, definition) in set_aside {
            sqlx::query(AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
                .execute(&mut *conn)
                .await?;
            self.set_aside.push(definition);
        }
        Ok(self.deferred_key.is_some())
    }

    async fn end_bulk_load(&mut self, conn: &mut PgConnection) -> StoreResult<()> {
        // A sort in memory rather than in temporary files; the setting ends with the transaction.
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *conn)
            .await?;
        if let Some(constraint) = self.deferred_customer_key.take() {
            add_unique_key(conn, constraint, || {
                StoreError::Corrupt("the bulk load created a customer twice; nothing was stored".into())
            })
            .await?;
        }
        if let Some(constraint) = self.deferred_key.take() {
            add_unique_key(conn, constraint, || StoreError::RepeatedKeys).await?;
        }
        for definition in std::mem::take(&mut self.set_aside) {
            sqlx::query(AssertSqlSafe(definition)).execute(&mut *conn).await?;
        }
        // The planner's statistics of tables that just grew many times over are stale.
        sqlx::query("ANALYZE events, customer_state, customers")
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn differing_keys(&mut self, conn: &mut PgConnection, rows: &[EventRow]) -> StoreResult<Vec<String>> {
        self.ensure_staging(conn).await?;
        let mut keys = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            stage(conn, chunk).await?;
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT e.event_key FROM rapport_staging_events s JOIN events e ON e.event_key = s.event_key \
                 WHERE (e.customer_id, e.kind, e.occurred_at, e.amount_cents, e.currency, e.order_id, e.quantity, \
                 e.data) IS DISTINCT FROM (s.customer_id, s.kind, s.occurred_at, s.amount_cents, s.currency, \
                 s.order_id, s.quantity, s.data)",
            )
            .fetch_all(&mut *conn)
            .await?;
            keys.extend(found);
        }
        Ok(keys)
    }

    async fn save_states(
        &mut self,
        conn: &mut PgConnection,
        states: &[(CustomerId, CustomerState)],
    ) -> StoreResult<()> {
        if self.bulk {
            return copy_states(conn, states).await;
        }
        let types = ["int8[]", "text[]", "text[]"]
            .into_iter()
            .chain(std::iter::repeat_n("int8[]", 12))
            .chain(["bool[]", "int8[]", "text[]", "int8[]"]);
        let unnest: Vec<String> = types
            .take(STATE_COLUMNS.len())
            .enumerate()
            .map(|(i, t)| format!("${}::{t}", i + 1))
            .collect();
        let sql = format!(
            "INSERT INTO customer_state ({}) SELECT * FROM UNNEST({}) {}",
            STATE_COLUMNS.join(", "),
            unnest.join(", "),
            state_upsert_clause()
        );
        for chunk in states.chunks(CHUNK) {
            let ints = |f: fn(&CustomerState) -> Option<i64>| chunk.iter().map(|(_, s)| f(s)).collect::<Vec<_>>();
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(chunk.iter().map(|(id, _)| id.0).collect::<Vec<_>>())
                .bind(
                    chunk
                        .iter()
                        .map(|(_, s)| s.stage.map(|x| x.as_str()))
                        .collect::<Vec<_>>(),
                )
                .bind(
                    chunk
                        .iter()
                        .map(|(_, s)| s.max_stage.map(|x| x.as_str()))
                        .collect::<Vec<_>>(),
                )
                .bind(ints(|s| Some(s.stage_changes)))
                .bind(ints(|s| s.stage_changed_at))
                .bind(ints(|s| Some(s.purchase_count)))
                .bind(ints(|s| s.first_purchase_at))
                .bind(ints(|s| s.second_purchase_at))
                .bind(ints(|s| s.last_purchase_at))
                .bind(ints(|s| Some(s.total_spend_cents)))
                .bind(ints(|s| Some(s.interaction_count)))
                .bind(ints(|s| s.first_interaction_at))
                .bind(ints(|s| Some(s.referral_count)))
                .bind(ints(|s| s.first_referral_at))
                .bind(ints(|s| s.last_event_at))
                .bind(chunk.iter().map(|(_, s)| s.email_consent).collect::<Vec<_>>())
                .bind(ints(|s| s.email_consent_at))
                .bind(
                    chunk
                        .iter()
                        .map(|(_, s)| s.nps_category.map(|c| c.as_str()))
                        .collect::<Vec<_>>(),
                )
                .bind(ints(|s| s.nps_at))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn save_scores(
        &mut self,
        conn: &mut PgConnection,
        fit_id: i64,
        scored_at: i64,
        rows: &[ScoreRow],
    ) -> StoreResult<()> {
        let columns = SCORE_COLUMNS.join(", ");
        for chunk in rows.chunks(CHUNK) {
            let f = |g: fn(&ScoreRow) -> f64| chunk.iter().map(g).collect::<Vec<_>>();
            let i = |g: fn(&ScoreRow) -> i64| chunk.iter().map(g).collect::<Vec<_>>();
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO customer_scores (customer_id, fit_id, scored_at, {columns}) \
                 SELECT c.id, $1, $2, u.frequency, u.recency, u.age, u.monetary_value, u.p_alive, u.e90, u.e365, \
                 u.spend, u.clv, u.rr, u.rf, u.rm, u.segment, u.days, u.explanation \
                 FROM UNNEST($3::text[], $4::int8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], \
                 $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::int8[], $14::int8[], $15::int8[], \
                 $16::text[], $17::float8[], $18::text[]) \
                 AS u(external_id, frequency, recency, age, monetary_value, p_alive, e90, e365, spend, clv, rr, rf, rm, \
                 segment, days, explanation) \
                 JOIN customers c ON c.external_id = u.external_id \
                 {}",
                score_upsert_clause()
            )))
            .bind(fit_id)
            .bind(scored_at)
            .bind(chunk.iter().map(|r| r.customer_id.clone()).collect::<Vec<_>>())
            .bind(i(|r| i64::from(r.frequency)))
            .bind(f(|r| r.recency))
            .bind(f(|r| r.age))
            .bind(f(|r| r.monetary_value))
            .bind(f(|r| r.p_alive))
            .bind(f(|r| r.expected_purchases_90d))
            .bind(f(|r| r.expected_purchases_365d))
            .bind(f(|r| r.expected_spend))
            .bind(f(|r| r.clv_12m))
            .bind(i(|r| i64::from(r.rfm_recency)))
            .bind(i(|r| i64::from(r.rfm_frequency)))
            .bind(i(|r| i64::from(r.rfm_monetary)))
            .bind(chunk.iter().map(|r| r.segment.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.expected_days_to_next_purchase).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.explanation.clone()).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// Rows in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
/// Replaces the staging table's rows with `rows`, sent by `COPY`.
async fn stage(conn: &mut PgConnection, rows: &[EventRow]) -> StoreResult<()> {
    sqlx::query("TRUNCATE rapport_staging_events")
        .execute(&mut *conn)
        .await?;
    copy_in(conn, "COPY rapport_staging_events FROM STDIN", copy_text(rows, 0)).await?;
    Ok(())
}

/// Takes `count` (at least one) consecutive ids from the sequence of `table`'s id while a bulk
/// load holds the table; returns the first. Only an insert into the table takes from its
/// sequence, and the lock keeps every other one waiting: nothing can take a value between
/// `nextval` and `setval`.
async fn take_ids(conn: &mut PgConnection, table: &str, count: usize) -> StoreResult<i64> {
    let count = count as i64;
    let last: i64 = sqlx::query_scalar(
        "SELECT setval(pg_get_serial_sequence($1, 'id'), nextval(pg_get_serial_sequence($1, 'id')) + $2 - 1)",
    )
    .bind(table)
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    Ok(last - count + 1)
}

/// Drops `table`'s one unique constraint besides its primary key, if it has exactly one; returns
/// the statement that adds it back.
async fn drop_unique_key(conn: &mut PgConnection, table: &str) -> StoreResult<Option<String>> {
    let unique: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conname::text, pg_get_constraintdef(c.oid) FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         WHERE t.relname = $1 AND t.relnamespace = to_regnamespace(current_schema()) AND c.contype = 'u'",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let [(name, definition)] = unique.as_slice() else {
        return Ok(None);
    };
    sqlx::query(AssertSqlSafe(format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\"")))
        .execute(&mut *conn)
        .await?;
    Ok(Some(format!(
        "ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {definition}"
    )))
}

/// Runs what `drop_unique_key` returned; a value found twice fails with `repeated()`.
async fn add_unique_key(
    conn: &mut PgConnection,
    statement: String,
    repeated: impl FnOnce() -> StoreError,
) -> StoreResult<()> {
    match sqlx::query(AssertSqlSafe(statement)).execute(&mut *conn).await {
        // unique_violation
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("23505") => Err(repeated()),
        done => done.map(|_| ()).map_err(StoreError::from),
    }
}

/// Sends `text` (COPY's text format) to a `COPY ... FROM STDIN` statement.
async fn copy_in(conn: &mut PgConnection, statement: &str, text: String) -> StoreResult<u64> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(text.into_bytes()).await?;
    Ok(copy.finish().await?)
}

/// Creates customers by COPY while a bulk load holds the table: every one is new (the ingest
/// looked up those that existed, and nobody can add one meanwhile), and the ids are a range
/// taken from the sequence in one step instead of read back (asking the sequence a million times
/// cost 3.6 s).
async fn copy_customers(conn: &mut PgConnection, customers: &[NewCustomer]) -> StoreResult<Vec<(CustomerId, bool)>> {
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    let first = take_ids(conn, "customers", customers.len()).await?;
    let ids: Vec<i64> = (first..).take(customers.len()).collect();
    let mut text = String::with_capacity(customers.len() * 48);
    for (id, c) in ids.iter().zip(customers) {
        let _ = write!(text, "{id}\t");
        escape_into(&mut text, Some(c.external_id.as_str()));
        text.push('\t');
        escape_into(&mut text, c.name.as_deref());
        text.push('\t');
        escape_into(&mut text, c.email.as_ref().map(|e| e.as_str()));
        text.push('\t');
        escape_into(&mut text, c.phone.as_deref());
        text.push('\t');
        escape_into(
            &mut text,
            Some(&serde_json::Value::Object(c.attributes.clone()).to_string()),
        );
        let _ = writeln!(text, "\t{}", c.created_at);
    }
    copy_in(
        conn,
        "COPY customers (id, external_id, name, email, phone, attributes, created_at) FROM STDIN",
        text,
    )
    .await?;
    Ok(ids.into_iter().map(|id| (CustomerId(id), true)).collect())
}

/// Writes states over what was there while a bulk load holds the table: the customers' old rows
/// deleted, then the new ones copied in (as an upsert, a million states took 5 s; copied, 2.5 to 3 s).
async fn copy_states(conn: &mut PgConnection, states: &[(CustomerId, CustomerState)]) -> StoreResult<()> {
    for chunk in states.chunks(CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| id.0).collect();
        sqlx::query("DELETE FROM customer_state WHERE customer_id = ANY($1)")
            .bind(ids)
            .execute(&mut *conn)
            .await?;
        let mut text = String::with_capacity(chunk.len() * 64);
        for (id, s) in chunk {
            let _ = write!(text, "{id}\t");
            escape_into(&mut text, s.stage.map(|x| x.as_str()));
            text.push('\t');
            escape_into(&mut text, s.max_stage.map(|x| x.as_str()));
            for value in [
                Some(s.stage_changes),
                s.stage_changed_at,
                Some(s.purchase_count),
                s.first_purchase_at,
                s.second_purchase_at,
                s.last_purchase_at,
                Some(s.total_spend_cents),
                Some(s.interaction_count),
                s.first_interaction_at,
                Some(s.referral_count),
                s.first_referral_at,
                s.last_event_at,
            ] {
                text.push('\t');
                int_into(&mut text, value);
            }
            text.push('\t');
            escape_into(&mut text, s.email_consent.map(|given| if given { "t" } else { "f" }));
            text.push('\t');
            int_into(&mut text, s.email_consent_at);
            text.push('\t');
            escape_into(&mut text, s.nps_category.map(|c| c.as_str()));
            text.push('\t');
            int_into(&mut text, s.nps_at);
            text.push('\n');
        }
        let statement = format!("COPY customer_state ({}) FROM STDIN", STATE_COLUMNS.join(", "));
        copy_in(conn, &statement, text).await?;
    }
    Ok(())
}

/// Rows in COPY's text format, each led by its number counted from `first` (the staging table's
/// position, or the log's id).
fn copy_text(rows: &[EventRow], first: i64) -> String {
    let mut out = String::with_capacity(rows.len() * 96);
    for (at, r) in (first..).zip(rows) {
        let _ = write!(out, "{at}\t");
        let _ = write!(
            out,
            "{}\t{}\t{}\t{}\t",
            r.customer_id, r.kind, r.occurred_at, r.recorded_at
        );
        escape_into(&mut out, Some(&r.key));
        out.push('\t');
        int_into(&mut out, r.amount_cents);
        out.push('\t');
        escape_into(&mut out, r.currency.as_deref());
        out.push('\t');
        escape_into(&mut out, r.order_id.as_deref());
        out.push('\t');
        int_into(&mut out, r.quantity);
        out.push('\t');
        escape_into(&mut out, r.data.as_deref());
        out.push('\n');
    }
    out
}

fn int_into(out: &mut String, value: Option<i64>) {
    match value {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

fn escape_into(out: &mut String, value: Option<&str>) {
    let Some(text) = value else {
        out.push_str("\\N");
        return;
    };
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_break_a_row() {
        let row = EventRow {
            customer_id: 1,
            kind: "note",
            occurred_at: 2,
            recorded_at: 3,
            key: "k\t1".into(),
            amount_cents: None,
            currency: None,
            order_id: None,
            quantity: None,
            data: Some("a\\b\nc".into()),
        };
        assert_eq!(
            copy_text(&[row], 0),
            "0\t1\tnote\t2\t3\tk\\t1\t\\N\t\\N\t\\N\t\\N\ta\\\\b\\nc\n"
        );
    }
}
