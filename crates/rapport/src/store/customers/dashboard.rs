//! The overview's figures: aggregates over every customer, score and purchase (full scans).

use sqlx::Pool;

use crate::store::StoreResult;
use crate::store::backend::Backend;

/// The overview's aggregates, in the business's local days and months; `month_of` is the
/// backend's `YYYY-MM` of a Unix-seconds expression.
pub(super) async fn dashboard_figures<DB: Backend>(
    pool: &Pool<DB>,
    calendar: &crate::domain::calendar::Calendar,
    at_risk_threshold: f64,
) -> StoreResult<crate::store::DashboardFigures> {
    let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM customers")
        .fetch_one(pool)
        .await?;
    let (buyers, repeat_buyers, first_purchase_at, last_purchase_at): (i64, i64, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT count(first_purchase_at), count(second_purchase_at), min(first_purchase_at), \
             max(last_purchase_at) FROM customer_state",
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
         WHERE {}",
        crate::store::sql::at_risk_sql("$1")
    )))
    .bind(at_risk_threshold)
    .fetch_one(pool)
    .await?;
    // Windows end now: old data show nothing recent rather than pretend to be current.
    let (revenue_30d_cents, revenue_365d_cents) = sqlx::query_as(
        "SELECT CAST(coalesce(sum(CASE WHEN occurred_at >= $1 THEN amount_cents ELSE 0 END), 0) AS BIGINT), \
         CAST(coalesce(sum(amount_cents), 0) AS BIGINT) \
         FROM events WHERE kind = 'purchase' AND occurred_at >= $2 AND occurred_at <= $3",
    )
    .bind(calendar.day_start(29))
    .bind(calendar.day_start(364))
    .bind(calendar.now)
    .fetch_one(pool)
    .await?;
    let spans = match (first_purchase_at, last_purchase_at) {
        (Some(first), Some(last)) => calendar.offsets(first, last),
        _ => Vec::new(),
    };
    let local = |column: &str| DB::month_of(&crate::store::sql::local_seconds(column, &spans));
    let sql = format!(
        "SELECT {} AS month, count(*), CAST(coalesce(sum(amount_cents), 0) AS BIGINT), count(DISTINCT customer_id) \
         FROM events WHERE kind = 'purchase' GROUP BY 1 ORDER BY 1",
        local("occurred_at")
    );
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    let sql = format!(
        "SELECT {} AS month, count(*) FROM customer_state WHERE first_purchase_at IS NOT NULL GROUP BY 1",
        local("first_purchase_at")
    );
    let new: std::collections::HashMap<String, i64> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
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
