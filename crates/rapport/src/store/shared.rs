//! SQL that both backends run unchanged (`$N` placeholders work in SQLite too), generated per backend.

/// The customer columns every read selects, joined with the projection.
pub const CUSTOMER_SELECT: &str = "SELECT c.id, c.external_id, c.name, c.email, c.phone, c.attributes, c.created_at, \
     s.stage, s.max_stage, s.stage_changes, s.stage_changed_at, s.purchase_count, s.first_purchase_at, \
     s.second_purchase_at, s.last_purchase_at, s.total_spend_cents, s.interaction_count, s.first_interaction_at, \
     s.referral_count, s.first_referral_at, s.last_event_at \
     FROM customers c LEFT JOIN customer_state s ON s.customer_id = c.id";

/// The event columns every read selects.
pub const EVENT_SELECT: &str = "SELECT id, customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, \
     currency, order_id, quantity, data FROM events";

/// The projection's columns, in the order writes bind them.
pub const STATE_COLUMNS: [&str; 15] = [
    "customer_id",
    "stage",
    "max_stage",
    "stage_changes",
    "stage_changed_at",
    "purchase_count",
    "first_purchase_at",
    "second_purchase_at",
    "last_purchase_at",
    "total_spend_cents",
    "interaction_count",
    "first_interaction_at",
    "referral_count",
    "first_referral_at",
    "last_event_at",
];

/// The score columns after the customer, in the order writes bind them.
pub const SCORE_COLUMNS: [&str; 15] = [
    "frequency",
    "recency",
    "age",
    "monetary_value",
    "p_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_spend",
    "clv_12m",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "segment",
    "expected_days_to_next_purchase",
    "explanation",
];

/// `ON CONFLICT (key) DO UPDATE` clause that overwrites `columns` with the new row's values.
pub fn upsert_clause(key: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!("ON CONFLICT ({key}) DO UPDATE SET {}", sets.join(", "))
}

/// The clause that overwrites a customer's state with the new one.
pub fn state_upsert_clause() -> String {
    upsert_clause("customer_id", &STATE_COLUMNS[1..])
}

/// The clause that overwrites a customer's scores with the new ones, keeping the P(alive) they
/// replace (customer.at_risk compares the two).
pub fn score_upsert_clause() -> String {
    let columns: Vec<&str> = ["fit_id", "scored_at"].into_iter().chain(SCORE_COLUMNS).collect();
    format!(
        "{}, previous_p_alive = customer_scores.p_alive",
        upsert_clause("customer_id", &columns)
    )
}

/// Expected value lost, as `CustomerSort::Risk` orders by it; an index of migration 0003 holds it.
pub const RISK_SQL: &str =
    "(sc.clv_12m * (1.0 - sc.p_alive) / (CASE WHEN sc.p_alive < 0.01 THEN 0.01 ELSE sc.p_alive END))";

/// The at-risk list's condition (`CustomerQuery::at_risk`, `DashboardFigures::at_risk`): clients
/// and partners whose P(alive) is below `store::AT_RISK_P_ALIVE`.
/// `|| ''` and the unary `+` keep SQLite from answering it through the stage or P(alive) index and
/// sorting what it finds (hundreds of thousands of rows): walking the risk index is what is fast.
pub const AT_RISK_SQL: &str = "((s.stage || '') IN ('client', 'partner') AND +sc.p_alive < 0.5)";

/// A value to bind to a query built at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
}

/// Builds the customer-list query for `query`; `search` writes a backend's prefix-match predicate
/// for the search text starting at placeholder `$n`.
pub fn customer_query_sql(
    query: &crate::store::CustomerQuery,
    search: fn(&str, usize) -> (String, Vec<Bind>),
) -> (String, Vec<Bind>) {
    use crate::store::CustomerSort;
    let mut binds = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let placeholder = |binds: &mut Vec<Bind>, value: Bind| {
        binds.push(value);
        format!("${}", binds.len())
    };
    // Sorted by a score, the sort's index is walked and rows filtered as they come; `|| ''` keeps
    // the planner from collecting every row of the stage through its index and sorting them all
    // (300 ms with a million customers).
    let by_score = matches!(
        query.sort,
        CustomerSort::Clv | CustomerSort::Risk | CustomerSort::PAlive
    );
    let filtered = |column: &str| {
        if by_score {
            format!("({column} || '')")
        } else {
            column.to_owned()
        }
    };
    if let Some(stage) = query.stage {
        let p = placeholder(&mut binds, Bind::Text(stage.as_str().to_owned()));
        conditions.push(format!("{} = {p}", filtered("s.stage")));
    }
    if let Some(segment) = query.segment {
        let name = serde_json::to_value(segment).expect("segments serialize");
        let p = placeholder(&mut binds, Bind::Text(name.as_str().unwrap_or_default().to_owned()));
        // Migration 0005's indexes lead with the segment and hold the sort: the filter uses them.
        conditions.push(format!("sc.segment = {p}"));
    }
    if let Some(text) = query.search.as_deref().filter(|t| !t.trim().is_empty()) {
        let (sql, values) = search(text.trim(), binds.len() + 1);
        binds.extend(values);
        conditions.push(sql);
    }
    if query.at_risk {
        conditions.push(AT_RISK_SQL.to_owned());
    }
    let (key, direction) = match query.sort {
        CustomerSort::Id => ("c.id", ">"),
        CustomerSort::Clv => ("sc.clv_12m", "<"),
        CustomerSort::Risk => (RISK_SQL, "<"),
        CustomerSort::PAlive => ("sc.p_alive", ">"),
        CustomerSort::LastPurchase => ("s.last_purchase_at", "<"),
    };
    let id = match query.sort {
        CustomerSort::Id => "c.id",
        CustomerSort::LastPurchase => "s.customer_id",
        _ => "sc.customer_id",
    };
    if query.sort == CustomerSort::LastPurchase {
        conditions.push("s.last_purchase_at IS NOT NULL".into());
    }
    if let Some(after) = query.after {
        let p_id = placeholder(&mut binds, Bind::Int(after.id));
        if query.sort == CustomerSort::Id {
            conditions.push(format!("c.id > {p_id}"));
        } else {
            let value = match query.sort {
                CustomerSort::LastPurchase => Bind::Int(after.value as i64),
                _ => Bind::Float(after.value),
            };
            let p_value = placeholder(&mut binds, value);
            conditions.push(format!(
                "({key} {direction} {p_value} OR ({key} = {p_value} AND {id} > {p_id}))"
            ));
        }
    }
    let scored_only = query.segment.is_some()
        || query.at_risk
        || matches!(
            query.sort,
            CustomerSort::Clv | CustomerSort::Risk | CustomerSort::PAlive
        );
    let join = if scored_only { "JOIN" } else { "LEFT JOIN" };
    let order = match query.sort {
        CustomerSort::Id => "c.id".to_owned(),
        _ => format!("{key} {}, {id}", if direction == "<" { "DESC" } else { "ASC" }),
    };
    let limit = placeholder(&mut binds, Bind::Int(i64::from(query.limit)));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "{CUSTOMER_SELECT} {join} customer_scores sc ON sc.customer_id = c.id {filter} ORDER BY {order} LIMIT {limit}"
    )
    .replacen(" FROM customers c", &format!(", {SCORE_SELECT} FROM customers c"), 1);
    (sql, binds)
}

/// One customer by external id (`$1`) with the columns `list_item_from_row` reads.
pub fn customer_with_score_sql() -> String {
    format!("{CUSTOMER_SELECT} LEFT JOIN customer_scores sc ON sc.customer_id = c.id WHERE c.external_id = $1")
        .replacen(" FROM customers c", &format!(", {SCORE_SELECT} FROM customers c"), 1)
}

/// The score columns lists select, prefixed so they do not clash with the customer's.
const SCORE_SELECT: &str = "sc.frequency AS sc_frequency, sc.recency AS sc_recency, sc.age AS sc_age, \
     sc.monetary_value AS sc_monetary_value, sc.p_alive AS sc_p_alive, sc.expected_purchases_90d AS sc_expected_purchases_90d, \
     sc.expected_purchases_365d AS sc_expected_purchases_365d, sc.expected_spend AS sc_expected_spend, sc.clv_12m AS sc_clv_12m, \
     sc.rfm_recency AS sc_rfm_recency, sc.rfm_frequency AS sc_rfm_frequency, sc.rfm_monetary AS sc_rfm_monetary, \
     sc.segment AS sc_segment, sc.expected_days_to_next_purchase AS sc_expected_days_to_next_purchase, \
     sc.explanation AS sc_explanation, sc.previous_p_alive AS sc_previous_p_alive";

/// The columns of an API key row.
pub const API_KEY_SELECT: &str = "SELECT id, name, role, prefix, created_at, revoked_at FROM api_keys";

/// Generates, for one backend, the queries and row decoders both backends share.
macro_rules! shared_queries {
    ($db:ty, $row:ty) => {
        use sqlx::Row as _;

        use crate::domain::funnel::FunnelRow;
        use crate::domain::state::day_of;
        use crate::domain::{CustomerId, CustomerState, StoredEvent};
        use crate::store::codec::{self, EventRow};
        use crate::store::shared::{CUSTOMER_SELECT, EVENT_SELECT};
        use crate::store::{CustomerFilter, CustomerRecord, NewCustomer, StoreError, StoreResult};

        fn state_from_row(row: &$row) -> StoreResult<CustomerState> {
            let stage: Option<String> = row.try_get("stage")?;
            let max_stage: Option<String> = row.try_get("max_stage")?;
            Ok(CustomerState {
                stage: stage.as_deref().map(codec::stage).transpose()?,
                max_stage: max_stage.as_deref().map(codec::stage).transpose()?,
                stage_changes: row
                    .try_get::<Option<i64>, _>("stage_changes")?
                    .unwrap_or_default(),
                stage_changed_at: row.try_get("stage_changed_at")?,
                purchase_count: row
                    .try_get::<Option<i64>, _>("purchase_count")?
                    .unwrap_or_default(),
                first_purchase_at: row.try_get("first_purchase_at")?,
                second_purchase_at: row.try_get("second_purchase_at")?,
                last_purchase_at: row.try_get("last_purchase_at")?,
                total_spend_cents: row
                    .try_get::<Option<i64>, _>("total_spend_cents")?
                    .unwrap_or_default(),
                interaction_count: row
                    .try_get::<Option<i64>, _>("interaction_count")?
                    .unwrap_or_default(),
                first_interaction_at: row.try_get("first_interaction_at")?,
                referral_count: row
                    .try_get::<Option<i64>, _>("referral_count")?
                    .unwrap_or_default(),
                first_referral_at: row.try_get("first_referral_at")?,
                last_event_at: row.try_get("last_event_at")?,
            })
        }

        fn customer_from_row(row: &$row) -> StoreResult<CustomerRecord> {
            let attributes: String = row.try_get("attributes")?;
            let id: i64 = row.try_get("id")?;
            Ok(CustomerRecord {
                id: CustomerId(id),
                external_id: row.try_get("external_id")?,
                name: row.try_get("name")?,
                email: row.try_get("email")?,
                phone: row.try_get("phone")?,
                attributes: serde_json::from_str(&attributes)
                    .map_err(|e| StoreError::Corrupt(format!("customer {id}: attributes: {e}")))?,
                created_at: row.try_get("created_at")?,
                state: state_from_row(row)?,
            })
        }

        /// Columns by position (the order of `EVENT_SELECT`): name lookups cost more than the decoding.
        fn event_from_row(row: &$row) -> StoreResult<StoredEvent> {
            let kind: &str = row.try_get(2)?;
            EventRow {
                customer_id: row.try_get(1)?,
                kind: codec::kind_name(kind)?,
                occurred_at: row.try_get(3)?,
                recorded_at: row.try_get(4)?,
                key: row.try_get(5)?,
                amount_cents: row.try_get(6)?,
                currency: row.try_get(7)?,
                order_id: row.try_get(8)?,
                quantity: row.try_get(9)?,
                data: row.try_get(10)?,
            }
            .decode(row.try_get(0)?)
        }

        async fn customer_by_external_id<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            external_id: &str,
        ) -> StoreResult<Option<CustomerRecord>> {
            let sql = format!("{CUSTOMER_SELECT} WHERE c.external_id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(external_id)
                .fetch_optional(ex)
                .await?;
            row.as_ref().map(customer_from_row).transpose()
        }

        async fn list_customers<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            filter: &CustomerFilter,
        ) -> StoreResult<Vec<CustomerRecord>> {
            let sql =
                format!("{CUSTOMER_SELECT} WHERE ($1 IS NULL OR s.stage = $1) AND c.id > $2 ORDER BY c.id LIMIT $3");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(filter.stage.map(|s| s.as_str()))
                .bind(filter.after.map_or(0, |c| c.0))
                .bind(i64::from(filter.limit))
                .fetch_all(ex)
                .await?;
            rows.iter().map(customer_from_row).collect()
        }

        async fn events_of<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            customer: CustomerId,
        ) -> StoreResult<Vec<StoredEvent>> {
            let sql = format!("{EVENT_SELECT} WHERE customer_id = $1 ORDER BY id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(customer.0)
                .fetch_all(ex)
                .await?;
            rows.iter().map(event_from_row).collect()
        }

        async fn events_page<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            after: (i64, i64),
            limit: u32,
        ) -> StoreResult<Vec<StoredEvent>> {
            let sql = format!("{EVENT_SELECT} WHERE (customer_id, id) > ($1, $2) ORDER BY customer_id, id LIMIT $3");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after.0)
                .bind(after.1)
                .bind(i64::from(limit))
                .fetch_all(ex)
                .await?;
            rows.iter().map(event_from_row).collect()
        }

        async fn funnel_rows<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<Vec<FunnelRow>> {
            let sql = "SELECT s.stage, s.max_stage, s.first_purchase_at, s.second_purchase_at \
                       FROM customers c JOIN customer_state s ON s.customer_id = c.id";
            let rows = sqlx::query(sql).fetch_all(ex).await?;
            rows.iter()
                .map(|row| {
                    let stage: String = row.try_get(0)?;
                    let max_stage: String = row.try_get(1)?;
                    let first: Option<i64> = row.try_get(2)?;
                    let second: Option<i64> = row.try_get(3)?;
                    Ok(FunnelRow {
                        stage: codec::stage(&stage)?,
                        max_stage: codec::stage(&max_stage)?,
                        first_purchase_day: first.map(day_of),
                        second_purchase_day: second.map(day_of),
                    })
                })
                .collect()
        }

        async fn event_count<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<u64> {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(ex)
                .await?;
            Ok(n as u64)
        }

        async fn update_profiles(
            conn: &mut <$db as sqlx::Database>::Connection,
            updates: &[(CustomerId, NewCustomer)],
        ) -> StoreResult<()> {
            for (id, profile) in updates {
                sqlx::query("UPDATE customers SET name = $1, email = $2, phone = $3, attributes = $4 WHERE id = $5")
                    .bind(&profile.name)
                    .bind(&profile.email)
                    .bind(&profile.phone)
                    .bind(serde_json::Value::Object(profile.attributes.clone()).to_string())
                    .bind(id.0)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        async fn max_event_id(conn: &mut <$db as sqlx::Database>::Connection) -> StoreResult<i64> {
            let max: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
                .fetch_one(conn)
                .await?;
            Ok(max.unwrap_or(0))
        }

        async fn purchase_log<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<Vec<(String, i64, i64)>> {
            let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                "SELECT c.external_id, e.occurred_at, e.amount_cents FROM events e \
                 JOIN customers c ON c.id = e.customer_id WHERE e.kind = 'purchase'",
            )
            .fetch_all(ex)
            .await?;
            Ok(rows.into_iter().map(|(ext, at, cents)| (ext, at, cents.unwrap_or_default())).collect())
        }

        async fn save_fit<'e>(ex: impl sqlx::Executor<'e, Database = $db>, fit: &crate::store::FitRecord) -> StoreResult<i64> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO model_fits (created_at, model, time_unit, calibration_end, summary, log_likelihood, customers) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(fit.created_at)
            .bind(&fit.model)
            .bind(&fit.time_unit)
            .bind(&fit.calibration_end)
            .bind(fit.summary.to_string())
            .bind(fit.log_likelihood)
            .bind(fit.customers)
            .fetch_one(ex)
            .await?;
            Ok(id)
        }

        async fn latest_fit<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<Option<crate::store::FitRecord>> {
            let row = sqlx::query(
                "SELECT id, created_at, model, time_unit, calibration_end, summary, log_likelihood, customers \
                 FROM model_fits ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(ex)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let summary: String = row.try_get(5)?;
            Ok(Some(crate::store::FitRecord {
                id: row.try_get(0)?,
                created_at: row.try_get(1)?,
                model: row.try_get(2)?,
                time_unit: row.try_get(3)?,
                calibration_end: row.try_get(4)?,
                summary: serde_json::from_str(&summary).map_err(|e| StoreError::Corrupt(format!("model fit: {e}")))?,
                log_likelihood: row.try_get(6)?,
                customers: row.try_get(7)?,
            }))
        }

        async fn score_of<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            customer: CustomerId,
        ) -> StoreResult<Option<crate::analysis::ScoreRow>> {
            let row = sqlx::query(
                "SELECT c.external_id, s.frequency, s.recency, s.age, s.monetary_value, s.p_alive, s.expected_purchases_90d, s.expected_purchases_365d, s.expected_spend, \
                 s.clv_12m, s.rfm_recency, s.rfm_frequency, s.rfm_monetary, s.segment, \
                 s.expected_days_to_next_purchase, s.explanation \
                 FROM customer_scores s JOIN customers c ON c.id = s.customer_id WHERE s.customer_id = $1",
            )
            .bind(customer.0)
            .fetch_optional(ex)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let segment: String = row.try_get(13)?;
            let quintile = |i: usize| -> StoreResult<u8> { Ok(row.try_get::<i64, _>(i)?.clamp(0, 5) as u8) };
            Ok(Some(crate::analysis::ScoreRow {
                customer_id: row.try_get(0)?,
                frequency: row.try_get::<i64, _>(1)?.max(0) as u32,
                recency: row.try_get(2)?,
                age: row.try_get(3)?,
                monetary_value: row.try_get(4)?,
                p_alive: row.try_get(5)?,
                expected_purchases_90d: row.try_get(6)?,
                expected_purchases_365d: row.try_get(7)?,
                expected_spend: row.try_get(8)?,
                clv_12m: row.try_get(9)?,
                rfm_recency: quintile(10)?,
                rfm_frequency: quintile(11)?,
                rfm_monetary: quintile(12)?,
                segment: serde_json::from_value(serde_json::Value::String(segment.clone()))
                    .map_err(|_| StoreError::Corrupt(format!("unknown segment '{segment}'")))?,
                expected_days_to_next_purchase: row.try_get(14)?,
                explanation: row.try_get(15)?,
            }))
        }

        fn segment_of(name: &str) -> StoreResult<rapport_models::Segment> {
            serde_json::from_value(serde_json::Value::String(name.to_owned()))
                .map_err(|_| StoreError::Corrupt(format!("unknown segment '{name}'")))
        }

        fn list_item_from_row(row: &$row) -> StoreResult<crate::store::CustomerListItem> {
            let customer = customer_from_row(row)?;
            let p_alive: Option<f64> = row.try_get("sc_p_alive")?;
            let score = match p_alive {
                None => None,
                Some(p_alive) => {
                    let quintile = |name: &str| -> StoreResult<u8> { Ok(row.try_get::<i64, _>(name)?.clamp(0, 5) as u8) };
                    let segment: String = row.try_get("sc_segment")?;
                    Some(crate::analysis::ScoreRow {
                        customer_id: customer.external_id.clone(),
                        frequency: row.try_get::<i64, _>("sc_frequency")?.max(0) as u32,
                        recency: row.try_get("sc_recency")?,
                        age: row.try_get("sc_age")?,
                        monetary_value: row.try_get("sc_monetary_value")?,
                        p_alive,
                        expected_purchases_90d: row.try_get("sc_expected_purchases_90d")?,
                        expected_purchases_365d: row.try_get("sc_expected_purchases_365d")?,
                        expected_spend: row.try_get("sc_expected_spend")?,
                        clv_12m: row.try_get("sc_clv_12m")?,
                        rfm_recency: quintile("sc_rfm_recency")?,
                        rfm_frequency: quintile("sc_rfm_frequency")?,
                        rfm_monetary: quintile("sc_rfm_monetary")?,
                        segment: segment_of(&segment)?,
                        expected_days_to_next_purchase: row.try_get("sc_expected_days_to_next_purchase")?,
                        explanation: row.try_get("sc_explanation")?,
                    })
                }
            };
            let previous_p_alive = row.try_get("sc_previous_p_alive")?;
            Ok(crate::store::CustomerListItem {
                customer,
                score,
                previous_p_alive,
            })
        }

        async fn query_customers<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            query: &crate::store::CustomerQuery,
        ) -> StoreResult<Vec<crate::store::CustomerListItem>> {
            let (sql, binds) = crate::store::shared::customer_query_sql(query, search_predicate);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                q = match bind {
                    crate::store::shared::Bind::Int(v) => q.bind(v),
                    crate::store::shared::Bind::Float(v) => q.bind(v),
                    crate::store::shared::Bind::Text(v) => q.bind(v),
                };
            }
            let rows = q.fetch_all(ex).await?;
            rows.iter().map(list_item_from_row).collect()
        }

        /// The overview's aggregates; `month_of` is the backend's `YYYY-MM` of a Unix-seconds column.
        async fn dashboard_figures(pool: &sqlx::Pool<$db>) -> StoreResult<crate::store::DashboardFigures> {
            use crate::store::shared::AT_RISK_SQL;
            let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(pool).await?;
            let (buyers, repeat_buyers, last_purchase_at): (i64, i64, Option<i64>) = sqlx::query_as(
                "SELECT count(first_purchase_at), count(second_purchase_at), max(last_purchase_at) FROM customer_state",
            )
            .fetch_one(pool)
            .await?;
            let (scored, likely_active, predicted_revenue_12m, scored_at): (i64, i64, f64, Option<i64>) = sqlx::query_as(
                "SELECT count(*), coalesce(sum(CASE WHEN p_alive > 0.5 THEN 1 ELSE 0 END), 0), \
                 coalesce(sum(clv_12m), 0.0), max(scored_at) FROM customer_scores",
            )
            .fetch_one(pool)
            .await?;
            let at_risk: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM customer_scores sc JOIN customer_state s ON s.customer_id = sc.customer_id \
                 WHERE {AT_RISK_SQL}"
            )))
            .fetch_one(pool)
            .await?;
            let (revenue_30d_cents, revenue_365d_cents) = match last_purchase_at {
                None => (0, 0),
                Some(last) => {
                    let last_day = day_of(last);
                    sqlx::query_as(
                        "SELECT CAST(coalesce(sum(CASE WHEN occurred_at >= $1 THEN amount_cents ELSE 0 END), 0) AS BIGINT), \
                         CAST(coalesce(sum(amount_cents), 0) AS BIGINT) \
                         FROM events WHERE kind = 'purchase' AND occurred_at >= $2",
                    )
                    .bind((last_day - 29) * 86_400)
                    .bind((last_day - 364) * 86_400)
                    .fetch_one(pool)
                    .await?
                }
            };
            let sql = format!(
                "SELECT {} AS month, count(*), CAST(coalesce(sum(amount_cents), 0) AS BIGINT), count(DISTINCT customer_id) \
                 FROM events WHERE kind = 'purchase' GROUP BY 1 ORDER BY 1",
                month_of("occurred_at")
            );
            let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            let sql = format!(
                "SELECT {} AS month, count(*) FROM customer_state WHERE first_purchase_at IS NOT NULL GROUP BY 1",
                month_of("first_purchase_at")
            );
            let new: std::collections::HashMap<String, i64> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.into_iter().collect();
            let months = rows
                .into_iter()
                .map(|(month, purchases, revenue_cents, buyers)| crate::store::MonthFigures {
                    new_buyers: new.get(&month).copied().unwrap_or_default(),
                    month,
                    purchases,
                    revenue_cents,
                    buyers,
                })
                .collect();
            Ok(crate::store::DashboardFigures {
                customers,
                buyers,
                repeat_buyers,
                last_purchase_at,
                revenue_30d_cents,
                revenue_365d_cents,
                scored,
                likely_active,
                predicted_revenue_12m,
                at_risk,
                scored_at,
                months,
            })
        }

        fn api_key_from_row(row: &$row) -> StoreResult<crate::store::ApiKeyRecord> {
            let role: String = row.try_get(2)?;
            Ok(crate::store::ApiKeyRecord {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                role: role.parse().map_err(|e: crate::domain::ParseError| StoreError::Corrupt(e.0))?,
                prefix: row.try_get(3)?,
                created_at: row.try_get(4)?,
                revoked_at: row.try_get(5)?,
            })
        }

        fn user_from_row(row: &$row) -> StoreResult<crate::store::UserRecord> {
            let role: String = row.try_get("role")?;
            Ok(crate::store::UserRecord {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                role: role.parse().map_err(|e: crate::domain::ParseError| StoreError::Corrupt(e.0))?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
            })
        }

        /// A unique-constraint violation as `Conflict` with this message; other errors unchanged.
        fn conflict(error: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
            match &error {
                sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict(message()),
                _ => error.into(),
            }
        }

        async fn clear_states(conn: &mut <$db as sqlx::Database>::Connection) -> StoreResult<()> {
            sqlx::query("DELETE FROM customer_state").execute(conn).await?;
            Ok(())
        }
    };
}

/// Generates a backend's `Store` impl: reads run the shared queries on its pool; the backend
/// supplies `migrate_schema` and `begin_tx`.
macro_rules! store_impl {
    ($store:ty, $name:literal) => {
        #[async_trait::async_trait]
        impl crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> StoreResult<()> {
                self.migrate_schema().await
            }

            async fn begin(&self) -> StoreResult<Box<dyn crate::store::WriteTx>> {
                self.begin_tx().await
            }

            async fn customer(&self, external_id: &crate::domain::ExternalId) -> StoreResult<Option<CustomerRecord>> {
                customer_by_external_id(&self.pool, external_id.as_str()).await
            }

            async fn list_customers(&self, filter: &CustomerFilter) -> StoreResult<Vec<CustomerRecord>> {
                list_customers(&self.pool, filter).await
            }

            async fn events_of(&self, customer: CustomerId) -> StoreResult<Vec<StoredEvent>> {
                events_of(&self.pool, customer).await
            }

            async fn funnel_rows(&self) -> StoreResult<Vec<FunnelRow>> {
                funnel_rows(&self.pool).await
            }

            async fn event_count(&self) -> StoreResult<u64> {
                event_count(&self.pool).await
            }

            async fn purchase_log(&self) -> StoreResult<Vec<(String, i64, i64)>> {
                purchase_log(&self.pool).await
            }

            async fn save_fit(&self, fit: &crate::store::FitRecord) -> StoreResult<i64> {
                save_fit(&self.pool, fit).await
            }

            async fn latest_fit(&self) -> StoreResult<Option<crate::store::FitRecord>> {
                latest_fit(&self.pool).await
            }

            async fn score(&self, customer: CustomerId) -> StoreResult<Option<crate::analysis::ScoreRow>> {
                score_of(&self.pool, customer).await
            }

            async fn customer_with_score(
                &self,
                external_id: &crate::domain::ExternalId,
            ) -> StoreResult<Option<crate::store::CustomerListItem>> {
                let sql = crate::store::shared::customer_with_score_sql();
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(external_id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(list_item_from_row).transpose()
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn dashboard_figures(&self) -> StoreResult<crate::store::DashboardFigures> {
                dashboard_figures(&self.pool).await
            }

            async fn query_customers(
                &self,
                query: &crate::store::CustomerQuery,
            ) -> StoreResult<Vec<crate::store::CustomerListItem>> {
                query_customers(&self.pool, query).await
            }

            async fn create_api_key(
                &self,
                name: &str,
                role: crate::domain::Role,
                prefix: &str,
                key_hash: &str,
                now: i64,
            ) -> StoreResult<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO api_keys (name, role, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(name)
                .bind(role.as_str())
                .bind(prefix)
                .bind(key_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn api_key(&self, key_hash: &str) -> StoreResult<Option<crate::store::ApiKeyRecord>> {
                let sql = format!("{} WHERE key_hash = $1 AND revoked_at IS NULL", crate::store::shared::API_KEY_SELECT);
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key_hash).fetch_optional(&self.pool).await?;
                row.as_ref().map(api_key_from_row).transpose()
            }

            async fn api_keys(&self) -> StoreResult<Vec<crate::store::ApiKeyRecord>> {
                let sql = format!("{} ORDER BY id", crate::store::shared::API_KEY_SELECT);
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.iter().map(api_key_from_row).collect()
            }

            async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_user(
                &self,
                email: &str,
                role: crate::domain::Role,
                password_hash: &str,
                now: i64,
            ) -> StoreResult<i64> {
                sqlx::query_scalar(
                    "INSERT INTO users (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(email.trim().to_lowercase())
                .bind(role.as_str())
                .bind(password_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict(e, || format!("a user with e-mail '{email}' exists already")))
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<crate::store::UserRecord>> {
                let row = sqlx::query("SELECT id, email, role, password_hash, created_at FROM users WHERE email = $1")
                    .bind(email.trim().to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_from_row).transpose()
            }

            async fn create_session(
                &self,
                token_hash: &str,
                user_id: i64,
                csrf_token: &str,
                now: i64,
                expires_at: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(csrf_token)
                .bind(now)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<crate::store::SessionRecord>> {
                let row = sqlx::query(
                    "SELECT u.id, u.email, u.role, u.password_hash, u.created_at, s.csrf_token, s.expires_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(crate::store::SessionRecord {
                    user: user_from_row(&row)?,
                    csrf_token: row.try_get("csrf_token")?,
                    expires_at: row.try_get("expires_at")?,
                }))
            }

            async fn delete_session(&self, token_hash: &str, now: i64) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
                    .bind(token_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn stored_response(
                &self,
                api_key_id: i64,
                idem_key: &str,
            ) -> StoreResult<Option<crate::store::StoredResponse>> {
                let row: Option<(String, i64, String)> = sqlx::query_as(
                    "SELECT request_hash, status, body FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2",
                )
                .bind(api_key_id)
                .bind(idem_key)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(request_hash, status, body)| crate::store::StoredResponse {
                    request_hash,
                    status: status.clamp(100, 599) as u16,
                    body,
                }))
            }

            async fn save_response(
                &self,
                api_key_id: i64,
                idem_key: &str,
                response: &crate::store::StoredResponse,
                now: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (api_key_id, idem_key) DO NOTHING",
                )
                .bind(api_key_id)
                .bind(idem_key)
                .bind(&response.request_hash)
                .bind(i64::from(response.status))
                .bind(&response.body)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn create_webhook(&self, subscription: &crate::store::NewSubscription) -> StoreResult<i64> {
                outbox_sql::create(&self.pool, subscription).await
            }

            async fn webhooks(&self) -> StoreResult<Vec<crate::store::SubscriptionRecord>> {
                outbox_sql::list(&self.pool, None).await
            }

            async fn webhook(&self, id: i64) -> StoreResult<Option<crate::store::SubscriptionRecord>> {
                Ok(outbox_sql::list(&self.pool, Some(id)).await?.pop())
            }

            async fn delete_webhook(&self, id: i64, now: i64) -> StoreResult<bool> {
                outbox_sql::delete(&self.pool, id, now).await
            }

            async fn webhook_deliveries(
                &self,
                page: crate::store::DeliveryPage,
            ) -> StoreResult<Vec<crate::store::DeliveryRecord>> {
                outbox_sql::deliveries(&self.pool, page).await
            }

            async fn claim_webhook_deliveries(
                &self,
                claim: &crate::store::Claim,
            ) -> StoreResult<Vec<crate::store::ClaimedDelivery>> {
                outbox_sql::claim(&self.pool, claim).await
            }

            async fn record_webhook_attempt(&self, result: &crate::store::AttemptResult) -> StoreResult<()> {
                outbox_sql::record(&self.pool, result).await
            }

            async fn redeliver_webhook(&self, subscription: i64, delivery: i64, now_ms: i64) -> StoreResult<bool> {
                outbox_sql::redeliver(&self.pool, subscription, delivery, now_ms).await
            }

            fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
                self.outbox_signal.clone()
            }
        }
    };
}

pub(crate) use shared_queries;
pub(crate) use store_impl;
