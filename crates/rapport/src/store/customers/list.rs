//! The customer lists' queries: a filtered, sorted page of customers with their scores, and its count.

use sqlx::query::Query;
use sqlx::{Pool, Row as _};

use crate::domain::score::ScoreRow;
use crate::store::backend::Backend;
use crate::store::scores::segment_of;
use crate::store::sql::{self, Bind};
use crate::store::{CustomerListItem, CustomerQuery, StoreResult};

/// A customer with the `sc_` columns of `sql::customer_with_score_sql` and the list's query.
pub(super) fn list_item_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<CustomerListItem> {
    let customer = super::customer_from_row::<DB>(row)?;
    let p_alive: Option<f64> = row.try_get("sc_p_alive")?;
    let score = match p_alive {
        None => None,
        Some(p_alive) => {
            let quintile = |name: &str| -> StoreResult<u8> { Ok(row.try_get::<i64, _>(name)?.clamp(0, 5) as u8) };
            let segment: String = row.try_get("sc_segment")?;
            Some(ScoreRow {
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
    Ok(CustomerListItem {
        customer,
        score,
        previous_p_alive,
    })
}

/// The page `query` asks for.
pub(super) async fn query_customers<DB: Backend>(
    pool: &Pool<DB>,
    query: &CustomerQuery,
) -> StoreResult<Vec<CustomerListItem>> {
    // The backend picks how a search joins the list (`search_plan`): its own index
    // first, or the sort's index walked with the search as a filter.
    let predicate = DB::search_plan(pool, query).await?;
    let broad_stage = match query.stage {
        Some(stage) => {
            let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM (SELECT 1 FROM customer_state WHERE stage = $1 LIMIT {}) AS found",
                sql::BROAD_SEARCH
            )))
            .bind(stage.as_str())
            .fetch_one(pool)
            .await?;
            found >= sql::BROAD_SEARCH
        }
        None => false,
    };
    let (sql, binds) = sql::customer_query_sql(query, predicate, broad_stage);
    let rows = if DB::LIST_SETUP.is_empty() {
        with_binds::<DB>(sql, binds).fetch_all(pool).await?
    } else {
        let mut tx = pool.begin().await?;
        sqlx::query(DB::LIST_SETUP).execute(&mut *tx).await?;
        let rows = with_binds::<DB>(sql, binds).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows
    };
    rows.iter().map(list_item_from_row::<DB>).collect()
}

/// How many customers `query` matches, up to `at_most`.
pub(super) async fn count_customers<DB: Backend>(
    pool: &Pool<DB>,
    query: &CustomerQuery,
    at_most: u64,
) -> StoreResult<u64> {
    let (sql, binds) = sql::customer_count_sql(query, DB::search_predicate, at_most);
    let count: i64 = with_binds::<DB>(sql, binds).fetch_one(pool).await?.try_get(0)?;
    Ok(count.max(0) as u64)
}

/// A query built at run time, with its binds.
fn with_binds<'q, DB: Backend>(sql: String, binds: Vec<Bind>) -> Query<'q, DB, DB::Arguments> {
    binds
        .into_iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, bind| match bind {
            Bind::Int(v) => q.bind(v),
            Bind::Float(v) => q.bind(v),
            Bind::Text(v) => q.bind(v),
        })
}
